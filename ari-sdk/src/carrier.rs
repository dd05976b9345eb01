//! The carrier seam: what takes one REST call to Asterisk and brings back its answer.
//!
//! Every generated operation ends in [`Client::send_json`](crate::Client::send_json),
//! [`send_unit`](crate::Client::send_unit) or [`send_binary`](crate::Client::send_binary), which
//! gate the call by release and then hand a [`Call`] to the client's [`Carrier`]. The carrier only
//! moves bytes: it returns the status and body as Asterisk sent them ([`Reply`]), and the client
//! turns a non-2xx reply into an `Error` the same way whatever carried it, so the
//! typed results and error kinds (status, Asterisk's message, the spec's documented reason) do not
//! depend on the carrier.
//!
//! Carriers in this crate:
//!
//! | carrier | made by | Asterisk releases |
//! |---|---|---|
//! | HTTP (the default) | [`ClientBuilder::build`](crate::ClientBuilder::build) | all |
//! | REST over the events WebSocket | [`EventsBuilder::rest_over_websocket`](crate::events::EventsBuilder::rest_over_websocket), then [`EventStream::rest_client`](crate::events::EventStream::rest_client) | 20.14+, 21.9+, 22.4+, 23+ |
//!
//! A carrier that cannot carry a binary response body (the WebSocket ones: Asterisk refuses them
//! with 406) says so with [`Carrier::carries_binary`]; the client then sends such calls over HTTP.
//! Other crates may implement [`Carrier`] (a message bus between a fleet of servers, say) and
//! install it with [`Client::with_carrier`](crate::Client::with_carrier).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;

use std::time::Duration;

use url::Url;

use crate::client::Secret;
use crate::error::{self, Error, Result};
use crate::meta::{Availability, OperationInfo};

/// One REST call, ready for a carrier: everything is already encoded.
#[derive(Clone)]
pub struct Call {
    pub(crate) info: &'static OperationInfo,
    /// The full HTTP URL (base, path, query): HTTP uses it as is, others take its parts.
    pub(crate) url: Url,
    /// Length of the base URL's path, to find the path below it.
    pub(crate) base_path_len: usize,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) binary: bool,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.info.method)
            .field("path", &self.path())
            .field("query", &self.query_string())
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

impl Call {
    /// The operation called.
    pub fn operation(&self) -> &'static OperationInfo {
        self.info
    }

    /// The HTTP method (`GET`, `POST`, ...).
    pub fn method(&self) -> &'static str {
        self.info.method
    }

    /// The path below the ARI base, path parameters substituted and percent-encoded, without a
    /// leading slash: `channels/1234.5/answer`.
    pub fn path(&self) -> &str {
        self.url
            .path()
            .get(self.base_path_len..)
            .unwrap_or("")
            .trim_start_matches('/')
    }

    /// The query string, `application/x-www-form-urlencoded`, empty when there is none.
    pub fn query_string(&self) -> &str {
        self.url.query().unwrap_or("")
    }

    /// The JSON body, serialized, if the call has one.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// Whether the caller wants the body as bytes (a stored recording file) rather than JSON.
    pub fn wants_binary(&self) -> bool {
        self.binary
    }
}

/// A carrier's answer to one call: the status and body as the server sent them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status (REST over WebSocket carries the same codes).
    pub status: u16,
    /// The response body; for JSON operations the JSON text.
    pub body: Bytes,
    /// The body's media type, when the carrier knows it (HTTP's `Content-Type`), to tell an
    /// answer of some other web server from ARI's.
    pub content_type: Option<String>,
}

/// Something that carries REST calls to Asterisk: HTTP, the events WebSocket, a connection
/// Asterisk opened to us, a message bus.
///
/// A carrier returns every answer as a [`Reply`], errors included (the client reads statuses);
/// its own `Err`s are for calls that got no answer: use transport kinds for a lost connection
/// (transient: the call may be retried) and timeouts for a deadline passed.
pub trait Carrier: Send + Sync + 'static {
    /// A short name for logs: `http`, `websocket`.
    fn name(&self) -> &'static str;

    /// Sends one call and waits for its answer.
    fn send(&self, call: Call) -> BoxFuture<'_, Result<Reply>>;

    /// Whether this carrier can bring back a binary body. When not, the client sends calls that
    /// want one over its HTTP carrier instead.
    fn carries_binary(&self) -> bool {
        true
    }

    /// The releases that have this carrier, `None` for all. On a release without it, the client
    /// refuses calls before sending them (when it gates by release), and learns the release over
    /// HTTP rather than over this carrier.
    fn availability(&self) -> Option<Availability> {
        None
    }
}

/// The default carrier: one HTTP exchange per call, through reqwest's connection pool.
pub(crate) struct Http {
    pub(crate) http: reqwest::Client,
    pub(crate) username: String,
    pub(crate) password: Secret,
    pub(crate) request_timeout: Option<Duration>,
    /// One per call on the wire ([`ClientBuilder::max_connections`](crate::ClientBuilder::max_connections)).
    pub(crate) permits: Option<Arc<tokio::sync::Semaphore>>,
}

impl Http {
    /// A place on the wire for one call when calls are bounded, and what waiting for it left
    /// of the call's time (`None` when it did not wait).
    async fn wire_permit(
        &self,
    ) -> Result<(Option<tokio::sync::SemaphorePermit<'_>>, Option<Duration>)> {
        let Some(permits) = &self.permits else {
            return Ok((None, None));
        };
        if let Ok(permit) = permits.try_acquire() {
            return Ok((Some(permit), None));
        }
        let started = tokio::time::Instant::now();
        let wait = permits.acquire();
        let permit = match self.request_timeout {
            None => wait.await,
            Some(t) => tokio::time::timeout(t, wait).await.map_err(|_| {
                Error::timeout_because(
                    t,
                    "waiting for a free HTTP connection (ClientBuilder::max_connections)",
                )
            })?,
        };
        // The semaphore is never closed.
        let permit = permit.map_err(|_| Error::closed(None))?;
        let left = self
            .request_timeout
            .map(|t| t.saturating_sub(started.elapsed()));
        Ok((Some(permit), left))
    }

    async fn exchange(&self, call: Call) -> Result<Reply> {
        // The permit is held until the body has been read, when the connection goes back to
        // the pool.
        let (_permit, left) = self.wire_permit().await?;
        let timeout = self.request_timeout;
        let method = reqwest::Method::from_bytes(call.info.method.as_bytes())
            .map_err(|_| Error::config(format!("bad HTTP method {}", call.info.method)))?;
        let mut builder = self.http.request(method, call.url);
        if !self.username.is_empty() {
            builder = builder.basic_auth(&self.username, Some(self.password.expose()));
        }
        if let Some(bytes) = call.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        if let Some(left) = left {
            builder = builder.timeout(left);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| error::from_reqwest(e, timeout))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| error::from_reqwest(e, timeout))?;
        Ok(Reply {
            status,
            body,
            content_type,
        })
    }
}

impl Carrier for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    fn send(&self, call: Call) -> BoxFuture<'_, Result<Reply>> {
        Box::pin(self.exchange(call))
    }
}

/// The error a carrier of another crate returns for a call that got no answer because the
/// connection is lost or refused: transient, of transport kind `kind`, with `message` as its
/// cause (never put credentials in it).
pub fn transport_error(kind: crate::TransportKind, message: impl Into<String>) -> Error {
    Error::transport(kind, message.into())
}

/// The error a carrier of another crate returns for a call whose answer did not come within
/// `after`.
pub fn timeout_error(after: Duration) -> Error {
    Error::timeout(Some(after))
}
