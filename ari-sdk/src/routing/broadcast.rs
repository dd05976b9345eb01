//! The claim race of `StasisBroadcast()` (Asterisk 20.20+, 22.10+, 23.4+, with
//! `res_stasis_broadcast` and `app_stasis_broadcast` loaded).
//!
//! The dialplan application offers a channel to every Stasis application (or those whose names
//! match its filter) with a [`CallBroadcast`] event; each may answer with `POST /events/claim`.
//! The first claim wins (`204`) and the channel enters Stasis in the winner's application, exactly
//! as after `Stasis(winner)`, so the winner then gets a `StasisStart`; every later claim gets
//! `409` ("Channel has already been claimed by another application"), and a claim after the
//! broadcast's timeout, when the channel went back to the dialplan, `404` or `409`. With
//! `notify_claimed` on, every application offered the call also gets a [`CallClaimed`] event
//! naming the winner.
//!
//! [`claim`] makes one claim and sorts the answer into a [`Claim`].
//!
//! [`CallClaimed`]: crate::generated::events::CallClaimed

use crate::client::Client;
use crate::error::{ErrorKind, Result};
use crate::generated::events::CallBroadcast;

/// How a claim of a broadcast call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// This application took the call (`204`); its `StasisStart` follows.
    Won,
    /// Another application claimed it first (`409`), with Asterisk's message.
    Lost {
        /// Asterisk's message, normally "Channel has already been claimed by another
        /// application".
        message: Option<String>,
    },
    /// The channel is not (or no longer) being broadcast (`404`): the offer timed out, or the
    /// caller hung up.
    Gone {
        /// Asterisk's message.
        message: Option<String>,
    },
}

impl Claim {
    /// Whether this application took the call.
    pub fn won(&self) -> bool {
        matches!(self, Claim::Won)
    }
}

/// Claims the call offered by `offer` for application `app` (one of the applications the
/// event was sent to, normally `offer.application`).
///
/// Losing is an answer, not an error: `Ok(Claim::Lost)`. Errors are the other failures (a
/// transport failure, a `400`), and on a release without broadcast
/// ([`ErrorKind::Unsupported`], before sending, when the client gates by release).
pub async fn claim(client: &Client, offer: &CallBroadcast, app: &str) -> Result<Claim> {
    claim_channel(client, &offer.channel.id, app).await
}

/// [`claim`] by channel id.
pub async fn claim_channel(client: &Client, channel_id: &str, app: &str) -> Result<Claim> {
    match client.events().claim_channel(channel_id, app).send().await {
        Ok(()) => Ok(Claim::Won),
        Err(e) if e.kind() == ErrorKind::Http && e.status() == Some(409) => Ok(Claim::Lost {
            message: e.asterisk_message().map(str::to_owned),
        }),
        Err(e) if e.kind() == ErrorKind::Http && e.status() == Some(404) => Ok(Claim::Gone {
            message: e.asterisk_message().map(str::to_owned),
        }),
        Err(e) => Err(e),
    }
}
