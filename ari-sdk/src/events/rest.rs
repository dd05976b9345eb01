//! REST over the events WebSocket (Asterisk 20.14+, 21.9+, 22.4+): each call is a `RESTRequest`
//! text frame and its answer a `RESTResponse` event on the same socket.
//!
//! Facts from Asterisk (`res/ari/ari_websocket_requests.c`): a request names `method`, `uri`
//! (below `/ari`, query allowed), and a client-chosen `request_id` (and `transaction_id`) that
//! the response echoes; `message_body` is a JSON *string* holding the JSON text, both ways; a
//! binary response body is refused with 406; a frame Asterisk cannot parse is answered with a
//! 400 whose `request_id` is empty.
//!
//! Correlation lives in the connection task, one table per socket: a request is entered in the
//! table of the socket it is written to, so when that socket is lost every request in the table
//! (and every request queued for it) fails at once, and a request made after a reconnect goes out
//! on the new socket. A caller's oneshot is answered at most once, so no request is answered
//! twice; a late or unknown answer is logged and dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::carrier::{Call, Carrier, Reply};
use crate::error::{Error, Result, TransportKind};
use crate::meta::Availability;

/// Which releases carry REST over the events WebSocket: those whose spec has the `RESTResponse`
/// model.
pub(crate) fn availability() -> Availability {
    crate::generated::releases::model("RESTResponse").unwrap_or(Availability { ranges: &[] })
}

/// One request handed to the connection task.
pub(crate) struct Outgoing {
    pub(crate) id: String,
    pub(crate) frame: String,
    pub(crate) reply: oneshot::Sender<Result<Reply>>,
    /// The carrier's hub, to hand the request to another of its sockets if this one closes
    /// before writing it.
    origin: Hub,
}

/// The sockets a carrier may send over, each by a unique number; the latest is used.
pub(crate) type Hub = Arc<Mutex<Vec<(u64, mpsc::UnboundedSender<Outgoing>)>>>;

fn lock(hub: &Hub) -> std::sync::MutexGuard<'_, Vec<(u64, mpsc::UnboundedSender<Outgoing>)>> {
    // The list is only pushed to and removed from whole, so a poisoned lock still holds one.
    hub.lock().unwrap_or_else(|p| p.into_inner())
}

/// Numbers sockets across all connections of the process.
static SOCKETS: AtomicU64 = AtomicU64::new(1);

/// The carrier half, held by clients.
pub(crate) struct WsCarrier {
    hub: Hub,
    next_id: AtomicU64,
    /// Prefix that keeps ids of different carriers apart in Asterisk's logs.
    prefix: String,
    timeout: Option<Duration>,
}

impl WsCarrier {
    pub(crate) fn new(hub: Hub, timeout: Option<Duration>) -> WsCarrier {
        WsCarrier {
            hub,
            next_id: AtomicU64::new(1),
            prefix: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            timeout,
        }
    }
}

/// The connection task's half: publishes each socket's queue in the hubs of the carriers that
/// use this connection (the stream's own, and the client's when the client sends everything
/// over WebSockets).
pub(crate) struct WsLink {
    pub(crate) hubs: Vec<Hub>,
    /// Whether `RESTResponse` frames are also delivered to the event stream.
    pub(crate) deliver_to_stream: bool,
}

impl WsLink {
    /// A socket is up: requests from now on may be queued for it, until the returned value is
    /// unlinked or dropped.
    pub(crate) fn open(&self) -> Opened {
        let n = SOCKETS.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        for hub in &self.hubs {
            lock(hub).push((n, tx.clone()));
        }
        Opened {
            n,
            hubs: self.hubs.clone(),
            pending: Pending {
                queue: rx,
                waiting: HashMap::new(),
                sweep_at: SWEEP_START,
            },
        }
    }
}

/// One socket's place in the hubs and its requests. Dropping it withdraws the socket and fails
/// every request still queued or unanswered.
pub(crate) struct Opened {
    n: u64,
    hubs: Vec<Hub>,
    pub(crate) pending: Pending,
}

impl Opened {
    /// The socket takes no more requests (it is closing or lost). Requests queued for it and
    /// not written go to another socket of their carrier if it has one (nothing of them reached
    /// the server, so none is sent twice); otherwise they fail.
    pub(crate) fn unlink(&mut self) {
        for hub in self.hubs.drain(..) {
            lock(&hub).retain(|(m, _)| *m != self.n);
        }
        self.pending.queue.close();
        while let Ok(out) = self.pending.queue.try_recv() {
            let origin = out.origin.clone();
            let next = lock(&origin).last().map(|(_, q)| q.clone());
            if let Some(q) = next {
                // A failed send drops the request, which fails it.
                let _ = q.send(out);
            }
        }
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.unlink();
    }
}

const SWEEP_START: usize = 256;

/// The requests of one socket: those queued for writing and those written and unanswered.
/// Dropping it fails them all (their callers see the oneshot closed).
pub(crate) struct Pending {
    pub(crate) queue: mpsc::UnboundedReceiver<Outgoing>,
    waiting: HashMap<String, oneshot::Sender<Result<Reply>>>,
    sweep_at: usize,
}

impl Pending {
    /// Records a request about to be written.
    pub(crate) fn insert(&mut self, id: String, reply: oneshot::Sender<Result<Reply>>) {
        if self.waiting.len() >= self.sweep_at {
            // Callers that timed out left their entries; forget them (amortised over inserts).
            self.waiting.retain(|_, s| !s.is_closed());
            self.sweep_at = (self.waiting.len() * 2).max(SWEEP_START);
        }
        self.waiting.insert(id, reply);
    }

    /// Number of requests written and not answered (callers that gave up included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Hands an answer to its request. Returns `false` when the frame is not a `RESTResponse`.
    pub(crate) fn answer(&mut self, text: &str) -> bool {
        // Cheap test first: most frames are events.
        if !text.contains("\"RESTResponse\"") {
            return false;
        }
        let head: Head = match serde_json::from_str(text) {
            Ok(h) => h,
            Err(_) => return false,
        };
        if head.kind != "RESTResponse" {
            return false;
        }
        let id = head.request_id.unwrap_or_default();
        if id.is_empty() {
            // Asterisk could not read one of our frames at all, so cannot say which; the
            // request it was waits for its timeout (or the socket's loss).
            tracing::warn!(
                status = head.status_code,
                body = head.message_body.as_deref().unwrap_or(""),
                "RESTResponse without request_id: Asterisk could not parse a request"
            );
            return true;
        }
        let Some(reply) = self.waiting.remove(&id) else {
            tracing::warn!(request_id = %id, "RESTResponse for no request in flight; dropped");
            return true;
        };
        let result = match head.status_code {
            Some(status) => Ok(Reply {
                status,
                body: head.message_body.map(Bytes::from).unwrap_or_default(),
                content_type: None,
            }),
            None => Err(Error::decode(
                "status_code".to_owned(),
                "RESTResponse without status_code".to_owned(),
                text.chars().take(120).collect(),
            )),
        };
        if reply.send(result).is_err() {
            tracing::debug!(request_id = %id, "RESTResponse after its caller gave up");
        }
        true
    }
}

/// The parts of a `RESTResponse` the carrier reads. The whole frame is tried as this only when
/// it mentions `RESTResponse`.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    message_body: Option<String>,
}

/// A `RESTRequest` frame.
#[derive(Serialize)]
struct RequestFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    request_id: &'a str,
    transaction_id: &'a str,
    method: &'static str,
    uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_body: Option<&'a str>,
}

/// Builds the frame for a call. The query travels inside `uri`, encoded exactly as for HTTP, so
/// Asterisk parses it the same way.
pub(crate) fn encode(call: &Call, id: &str) -> Result<String> {
    let path = call.path();
    let query = call.query_string();
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let body = match call.body() {
        Some(b) => Some(
            std::str::from_utf8(b).map_err(|_| Error::config("request body is not UTF-8 JSON"))?,
        ),
        None => None,
    };
    let guarded = if is_event_filter(call) {
        match body {
            Some(b) => keep_answers_allowed(b),
            // Over HTTP a filter call without a body resets the filter. On the socket Asterisk
            // reads a missing `message_body` as JSON `null` and refuses it ("Invalid format
            // definition"); an empty object resets both lists the same way.
            None => Some("{}".to_owned()),
        }
    } else {
        None
    };
    let body = guarded.as_deref().or(body);
    let frame = RequestFrame {
        kind: "RESTRequest",
        request_id: id,
        transaction_id: id,
        method: call.method(),
        uri: &uri,
        content_type: body.map(|_| "application/json"),
        message_body: body,
    };
    serde_json::to_string(&frame).map_err(|e| Error::config(format!("RESTRequest frame: {e}")))
}

/// Whether the call sets an application's event filter (`PUT /applications/{name}/eventFilter`).
fn is_event_filter(call: &Call) -> bool {
    let info = call.operation();
    info.method == "PUT" && info.resource == "applications" && info.path.ends_with("/eventFilter")
}

/// Asterisk sends each `RESTResponse` through the event filter of the socket's (first)
/// application (`ari_websocket_send_event` checks `stasis_app_event_allowed`), so a filter that
/// does not allow `RESTResponse` would silently stop every answer on the socket, the answer to
/// the filter call included. Over the WebSocket the filter therefore always lets `RESTResponse`
/// through: it is added to a non-empty `allowed` list and taken out of `disallowed`. Returns the
/// body to send instead, or `None` to send it as given (it already allows the answers, or it is
/// not a JSON object, which Asterisk refuses itself).
fn keep_answers_allowed(body: &str) -> Option<String> {
    use serde_json::Value;
    let is_answer = |v: &Value| v.get("type").and_then(Value::as_str) == Some("RESTResponse");
    let mut filter: Value = serde_json::from_str(body).ok()?;
    let obj = filter.as_object_mut()?;
    let mut changed = false;
    if let Some(Value::Array(allowed)) = obj.get_mut("allowed")
        && !allowed.is_empty()
        && !allowed.iter().any(is_answer)
    {
        allowed.push(serde_json::json!({ "type": "RESTResponse" }));
        changed = true;
    }
    if let Some(Value::Array(disallowed)) = obj.get_mut("disallowed") {
        let before = disallowed.len();
        disallowed.retain(|v| !is_answer(v));
        changed |= disallowed.len() != before;
    }
    if changed {
        tracing::debug!("event filter sent over the WebSocket keeps RESTResponse allowed");
    }
    changed.then(|| filter.to_string())
}

fn not_connected() -> Error {
    Error::transport(
        TransportKind::ConnectionReset,
        "the events WebSocket is not connected",
    )
}

impl WsCarrier {
    async fn call(&self, call: Call) -> Result<Reply> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", self.prefix);
        let frame = encode(&call, &id)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        let queued = match lock(&self.hub).last() {
            Some((_, queue)) => queue
                .send(Outgoing {
                    id,
                    frame,
                    reply: reply_tx,
                    origin: self.hub.clone(),
                })
                .is_ok(),
            None => false,
        };
        if !queued {
            return Err(not_connected());
        }
        let answer = async {
            match reply_rx.await {
                Ok(result) => result,
                // The socket the request was queued or written to is gone.
                Err(_) => Err(Error::transport(
                    TransportKind::ConnectionReset,
                    "the events WebSocket was lost before the answer",
                )),
            }
        };
        match self.timeout {
            Some(t) => tokio::time::timeout(t, answer)
                .await
                .unwrap_or_else(|_| Err(Error::timeout_because(t, "no RESTResponse in time"))),
            None => answer.await,
        }
    }
}

impl Carrier for WsCarrier {
    fn name(&self) -> &'static str {
        "websocket"
    }

    fn send(&self, call: Call) -> BoxFuture<'_, Result<Reply>> {
        Box::pin(self.call(call))
    }

    fn carries_binary(&self) -> bool {
        false
    }

    fn availability(&self) -> Option<Availability> {
        Some(availability())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_filters_keep_the_answers_allowed() {
        let sent = |b: &str| {
            keep_answers_allowed(b).map(|s| serde_json::from_str::<serde_json::Value>(&s).unwrap())
        };
        assert_eq!(
            sent(r#"{"allowed":[{"type":"DeviceStateChanged"}]}"#),
            Some(
                serde_json::json!({"allowed":[{"type":"DeviceStateChanged"},{"type":"RESTResponse"}]})
            )
        );
        assert_eq!(
            sent(r#"{"disallowed":[{"type":"RESTResponse"},{"type":"ChannelVarset"}]}"#),
            Some(serde_json::json!({"disallowed":[{"type":"ChannelVarset"}]}))
        );
        // Already allowing the answers, allowing everything, or not an object: sent as given.
        assert_eq!(sent(r#"{"allowed":[{"type":"RESTResponse"}]}"#), None);
        assert_eq!(
            sent(r#"{"allowed":[],"disallowed":[{"type":"Dial"}]}"#),
            None
        );
        assert_eq!(sent("[1]"), None);
        assert_eq!(sent("{not json"), None);
    }

    #[test]
    fn answers_match_ids_once_and_ignore_the_rest() {
        let mut p = Pending {
            queue: mpsc::unbounded_channel().1,
            waiting: HashMap::new(),
            sweep_at: SWEEP_START,
        };
        let (tx, mut rx) = oneshot::channel();
        p.insert("a-1".into(), tx);
        assert!(!p.answer(r#"{"type":"StasisStart","channel":{}}"#));
        // An event mentioning the word elsewhere is still an event.
        assert!(!p.answer(r#"{"type":"ChannelVarset","value":"RESTResponse"}"#));
        assert!(p.answer(r#"{"type":"RESTResponse","request_id":"zz","status_code":200}"#));
        assert!(rx.try_recv().is_err());
        assert!(p.answer(
            r#"{"type":"RESTResponse","request_id":"a-1","status_code":200,"message_body":"{\"x\":1}"}"#
        ));
        let reply = rx.try_recv().unwrap().unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(&reply.body[..], br#"{"x":1}"#);
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn abandoned_entries_are_swept() {
        let mut p = Pending {
            queue: mpsc::unbounded_channel().1,
            waiting: HashMap::new(),
            sweep_at: SWEEP_START,
        };
        for i in 0..10 * SWEEP_START {
            let (tx, rx) = oneshot::channel();
            drop(rx);
            p.insert(i.to_string(), tx);
        }
        assert!(p.len() <= SWEEP_START, "{}", p.len());
    }
}
