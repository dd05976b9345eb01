//! Call audio over chan_websocket (feature `media`): a media API for voice bots.
//!
//! Since 20.16 / 21.11 / 22.6 / 23.0, `POST /channels/externalMedia` with `transport=websocket`
//! makes a channel whose audio travels as binary WebSocket frames, with text frames for control.
//!
//! # Design
//!
//! - [`protocol`]: the typed events ([`MediaEvent`]) and commands ([`MediaCommand`]) in both
//!   control formats, parsed and written exactly as `channels/chan_websocket.c` (22.10.1) does;
//!   each command and format carries the releases that have it.
//! - [`MediaSession`]: one connection. A reader task turns messages into [`MediaItem`]s
//!   (audio frames with their [`MediaFormat`], events, unparseable control text as a value, and
//!   one final [`MediaItem::Closed`]) into a bounded buffer, and acts on `MEDIA_XOFF`/`MEDIA_XON`
//!   at once, whether or not the app is reading. The [`MediaSender`] frames audio of any length
//!   (or takes app-framed frames for passthrough codecs) and paces it: it estimates Asterisk's
//!   queue (frames sent minus frames played at one per `ptime`), waits at
//!   [`SessionOptions::max_queued_frames`] (950, between Asterisk's XOFF level 900 and the 1000
//!   past which Asterisk silently drops messages) and waits while XOFF holds. Nothing is
//!   buffered without limit and nothing is dropped: a fast producer is slowed to real time.
//! - Connection type `server` (the app connects to Asterisk's HTTP server at
//!   `/media/<connection id>`): [`WebSocketMedia`] (from [`Client::websocket_media`]) creates the
//!   channel, connects, waits for `MEDIA_START` and only then returns the channel and the
//!   session. chan_websocket answers the channel only after `MEDIA_START`, and the channel
//!   enters the app only once answered, so [`WebSocketMedia::connect_routed`] also waits for
//!   its `StasisStart` (through a [`crate::routing::Router`]): then the app cannot bridge the
//!   channel before it is both connected and in the app.
//! - Connection type `client` (Asterisk connects to the app through a `websocket_client.conf`
//!   entry): a [`MediaListener`] on the `server` feature's listener (which checks Asterisk's
//!   credentials) runs the protocol on each accepted socket and hands each session to whoever
//!   announced its channel id ([`WebSocketMedia::connect_via`] does, before the channel exists),
//!   matched by [`MediaStart::channel_id`].
//! - [`helpers`]: bridge a caller with a media channel, play PCM or
//!   a WAV file with a mark at the end, record the caller to WAV (with `hound`).
//!
//! # Many sessions
//!
//! Each 20 ms frame costs a socket read, and each message a write; what an app controls is how
//! often its threads wake for them and how many messages it writes. With tens or hundreds of
//! sessions:
//!
//! - send every session's audio from one clock rather than a timer per session, in pieces of
//!   several frames ([`SessionOptions::frames_per_message`]: 5 writes a tenth of a second per
//!   message, and Asterisk re-frames it);
//! - run the sessions on a [`PacedRuntime`]: its workers wake once per tick and serve every
//!   session that became ready meanwhile, so the cost of a wake-up is shared by all of them.
//!   The tick is the latency the app accepts on what it hears: 20 ms for a live agent, 100 ms
//!   for a recogniser that takes 100 ms chunks anyway.
//!
//! Measured against a real 22.10.1 with 40 bridged `slin16` sessions (docs/BENCHMARKS.md,
//! section 4), the client's CPU per session is about a quarter of the multi-thread runtime's with
//! a timer per session at a 20 ms tick (0.2x of what Asterisk spends on the same sessions), and
//! under a tenth of Asterisk's at 100 ms.
//!
//! ```no_run
//! # async fn run(client: ari_sdk::Client, router: ari_sdk::routing::Router) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use ari_sdk::media::{MediaItem, PacedRuntime, SessionOptions};
//!
//! // Once per app: one worker per core the media work may use.
//! let pool = PacedRuntime::builder().threads(2).tick(Duration::from_millis(20)).build()?;
//!
//! // Per call: REST on this runtime, the session's socket and its tasks on one worker.
//! let worker = pool.handle();
//! let media = client
//!     .websocket_media("voicebot", "slin16")
//!     .session_options(SessionOptions { frames_per_message: 5, ..Default::default() })
//!     .runtime(worker.clone())
//!     .connect_routed(&router)
//!     .await?;
//! let (_sender, mut receiver) = media.session.split();
//! worker.spawn(async move {
//!     while let Some(item) = receiver.recv().await {
//!         if let MediaItem::Audio(frame) = item {
//!             // Hand `frame.data` to the recogniser.
//!             let _ = frame;
//!         }
//!     }
//! });
//! # Ok(()) }
//! ```

mod client_type;
mod error;
mod external;
pub mod helpers;
mod paced;
pub mod protocol;
mod session;

pub use client_type::{ExpectedSession, MediaListener};
pub use error::MediaError;
pub use external::{RoutedMedia, WebSocketMedia, media_url};
pub use paced::{PacedRuntime, PacedRuntimeBuilder};
pub use protocol::{
    ControlFormat, ControlParseError, EncodeError, MediaCommand, MediaDirection, MediaEvent,
    MediaStart, MediaStatus,
};
pub use session::{
    AudioFrame, MediaFormat, MediaItem, MediaReceiver, MediaSender, MediaSession, SenderStats,
    SessionClosed, SessionOptions,
};

#[allow(unused_imports)]
use crate::Client;
