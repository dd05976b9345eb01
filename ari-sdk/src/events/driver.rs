//! The task that owns the events WebSocket: an explicit state machine with backoff, pings and
//! dead-connection detection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

// tokio's clock, so that backoff and downtime follow paused time in tests.
use tokio::time::Instant;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::Instrument;
use url::Url;

use super::{Backoff, Outlet, RawItem, lock_outlet};
use crate::client::Client;
use crate::error::{self, Error, Result, TransportKind};
use crate::meta::{Availability, OperationInfo};
use crate::transport::TlsConfig;

/// Names the events WebSocket in error messages, like a REST operation.
pub(crate) static EVENTS_OP: OperationInfo = OperationInfo {
    resource: "events",
    nickname: "eventWebsocket",
    method: "GET",
    path: "/events",
    summary: "WebSocket connection for events.",
    params: &[],
    errors: &[],
    availability: Availability { ranges: &[] },
};

/// Where the connection task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening the WebSocket.
    Connecting,
    /// The WebSocket is open and events flow.
    Connected,
    /// Waiting before the next attempt.
    Backoff,
    /// Closed for good; the stream ends once its queued items are taken.
    Closed,
}

/// Everything needed to open the WebSocket, prepared once.
pub(crate) struct WsTarget {
    url: Url,
    authorization: Option<http::HeaderValue>,
    user_agent: String,
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    tls: TlsConfig,
}

impl WsTarget {
    pub(crate) fn new(client: &Client, apps: &[String], subscribe_all: bool) -> Result<WsTarget> {
        let inner = &client.inner;
        let mut url = inner.base.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| Error::config("cannot derive the events URL from the base URL"))?;
        url.path_segments_mut()
            .map_err(|()| Error::config("the base URL cannot take a path"))?
            .pop_if_empty()
            .push("events");
        // Commas separate apps and stay literal; each name is form-encoded on its own.
        let apps: Vec<String> = apps
            .iter()
            .map(|a| url::form_urlencoded::byte_serialize(a.as_bytes()).collect())
            .collect();
        let mut query = format!("app={}", apps.join(","));
        if subscribe_all {
            query.push_str("&subscribeAll=true");
        }
        url.set_query(Some(&query));
        // The credentials travel in a header, never as `api_key` in the URL, which servers and
        // proxies log.
        let authorization = if inner.username.is_empty() {
            None
        } else {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                inner.username,
                inner.password.expose()
            ));
            let mut value = http::HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| Error::config("credentials do not fit an HTTP header"))?;
            value.set_sensitive(true);
            Some(value)
        };
        Ok(WsTarget {
            url,
            authorization,
            user_agent: inner.user_agent.clone(),
            tls: inner.tls.clone(),
        })
    }

    /// Names the events WebSocket and where it is (server and path, no query) in an error.
    pub(crate) fn locate(&self, e: Error) -> Error {
        e.with_operation(&EVENTS_OP).with_target(&self.url)
    }

    fn request(&self) -> Result<http::Request<()>> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::config(format!("events URL: {e}")))?;
        let headers = request.headers_mut();
        if let Some(auth) = &self.authorization {
            headers.insert(http::header::AUTHORIZATION, auth.clone());
        }
        if let Ok(ua) = http::HeaderValue::from_str(&self.user_agent) {
            headers.insert(http::header::USER_AGENT, ua);
        }
        Ok(request)
    }

    #[cfg(feature = "rustls")]
    fn connector(&self) -> tokio_tungstenite::Connector {
        if self.url.scheme() == "wss" {
            tokio_tungstenite::Connector::Rustls(self.tls.clone())
        } else {
            tokio_tungstenite::Connector::Plain
        }
    }
}

pub(crate) struct Config {
    pub(crate) request: WsTarget,
    pub(crate) backoff: Backoff,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    /// REST over this socket, when enabled.
    pub(crate) rest: Option<super::rest::WsLink>,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one open socket needs, whoever opened it (we, or Asterisk towards our listener).
pub(crate) struct SocketConfig<'a> {
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) rest: Option<&'a super::rest::WsLink>,
}

impl Config {
    fn socket(&self) -> SocketConfig<'_> {
        SocketConfig {
            ping_interval: self.ping_interval,
            idle_timeout: self.idle_timeout,
            rest: self.rest.as_ref(),
        }
    }
}

/// The states of the machine, with the data each one needs.
enum State {
    Connecting,
    /// With the socket's place among the REST carriers, when it carries REST.
    Connected(Box<Ws>, Option<super::rest::Opened>),
    Backoff(Instant),
    Closed,
}

/// How a connected period ended.
enum Ended {
    /// `close()` was called or the stream was dropped.
    Shutdown,
    /// The socket was lost; the error says how.
    Lost(Error),
}

/// Why an attempt failed: can a retry help? `reconnecting`: a connection to this URL was up
/// before, so a server that does not serve ARI there now is most likely an Asterisk starting
/// again (its HTTP server answers 404 before res_ari has registered `/ari`).
fn is_terminal(e: &Error, reconnecting: bool) -> bool {
    use crate::error::ErrorKind as K;
    match e.kind() {
        K::NotAriRoot => !reconnecting,
        K::Unauthorized | K::Config => true,
        // A 400 means a bad app name or parameter, a 403 a forbidden user: retrying cannot help.
        K::Http => matches!(e.status(), Some(400 | 403)),
        _ => false,
    }
}

/// Where the task puts what it receives: the stream's queue, or a direct consumer once one has
/// been installed in the outlet.
pub(crate) struct Out {
    pub(crate) queue: mpsc::Sender<RawItem>,
    pub(crate) outlet: Arc<Mutex<Outlet>>,
}

impl Out {
    /// Resolves when the stream has been dropped.
    async fn closed(&self) {
        self.queue.closed().await
    }
}

impl Drop for Out {
    /// Drops a direct consumer as the task ends, so that it sees the end; outside the lock,
    /// since what it ends may take locks of its own.
    fn drop(&mut self) {
        let ended = std::mem::replace(&mut *lock_outlet(&self.outlet), Outlet::Finished);
        drop(ended);
    }
}

pub(crate) async fn run(
    config: Config,
    items: Out,
    mut close: watch::Receiver<bool>,
    state_tx: watch::Sender<ConnectionState>,
    mut first: Option<oneshot::Sender<Result<()>>>,
) {
    let span = tracing::debug_span!("ari.events", url = %redacted(&config.request.url));
    async move {
        let mut state = State::Connecting;
        // Consecutive failed attempts (and connections that dropped before `stable_after`).
        let mut failures: u32 = 0;
        // When the last connection was lost; `None` until one was up.
        let mut lost_at: Option<Instant> = None;
        // Attempts since the connection was lost.
        let mut attempts_since_loss: u32 = 0;
        loop {
            state = match state {
                State::Connecting => {
                    state_tx.send_replace(ConnectionState::Connecting);
                    attempts_since_loss += 1;
                    let attempt = tokio::select! {
                        biased;
                        () = close_requested(&mut close) => None,
                        () = items.closed() => None,
                        r = connect(&config) => Some(r),
                    };
                    match attempt {
                        None => State::Closed,
                        Some(Ok(ws)) => {
                            tracing::debug!("events connected");
                            // Before anyone hears of the connection (`connect()` returning, the
                            // Reconnected item), so that REST calls made then go over it.
                            let opened = config.rest.as_ref().map(|r| r.open());
                            if let Some(first) = first.take() {
                                let _ = first.send(Ok(()));
                            }
                            let mut next = State::Connected(Box::new(ws), opened);
                            if let Some(at) = lost_at.take() {
                                let item = RawItem::Reconnected {
                                    attempt: attempts_since_loss,
                                    downtime: at.elapsed(),
                                };
                                if !deliver(&items, &mut close, item).await {
                                    next = State::Closed;
                                }
                            }
                            attempts_since_loss = 0;
                            next
                        }
                        Some(Err(e)) => {
                            let e = config.request.locate(e);
                            tracing::debug!(error = %e, "events connection attempt failed");
                            failures = failures.saturating_add(1);
                            let gave_up = config
                                .backoff
                                .max_attempts
                                .is_some_and(|max| failures >= max);
                            if let Some(first) = first.take() {
                                // `connect()` reports the first failure to its caller and stops.
                                let _ = first.send(Err(e));
                                State::Closed
                            } else if is_terminal(&e, lost_at.is_some()) {
                                let _ = deliver(&items, &mut close, RawItem::Error(e)).await;
                                State::Closed
                            } else if !deliver(&items, &mut close, RawItem::Error(e)).await {
                                State::Closed
                            } else if gave_up {
                                let why = format!("gave up after {failures} failed attempts");
                                let e = config.request.locate(Error::closed(Some(why)));
                                let _ = deliver(&items, &mut close, RawItem::Error(e)).await;
                                State::Closed
                            } else {
                                State::Backoff(Instant::now() + config.backoff.delay(failures))
                            }
                        }
                    }
                }
                State::Connected(ws, opened) => {
                    state_tx.send_replace(ConnectionState::Connected);
                    let since = Instant::now();
                    match connected(&config.socket(), *ws, opened, &items, &mut close).await {
                        Ended::Shutdown => State::Closed,
                        Ended::Lost(e) => {
                            let e = config.request.locate(e);
                            tracing::debug!(error = %e, "events connection lost");
                            lost_at = Some(Instant::now());
                            if since.elapsed() >= config.backoff.stable_after {
                                failures = 0;
                            } else {
                                failures = failures.saturating_add(1);
                            }
                            if deliver(&items, &mut close, RawItem::Error(e)).await {
                                State::Backoff(Instant::now() + config.backoff.delay(failures))
                            } else {
                                State::Closed
                            }
                        }
                    }
                }
                State::Backoff(until) => {
                    state_tx.send_replace(ConnectionState::Backoff);
                    tokio::select! {
                        biased;
                        () = close_requested(&mut close) => State::Closed,
                        () = items.closed() => State::Closed,
                        () = tokio::time::sleep_until(until) => State::Connecting,
                    }
                }
                State::Closed => break,
            };
        }
        state_tx.send_replace(ConnectionState::Closed);
        tracing::debug!("events connection closed");
    }
    .instrument(span)
    .await
}

/// The URL for logs: no credentials are in it, but keep only scheme, host and path anyway.
fn redacted(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

/// Resolves when `close()` was called; never when every handle is gone (then the dropped
/// receiver of items stops the task instead).
async fn close_requested(close: &mut watch::Receiver<bool>) {
    if close.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Passes an item to the consumer, waiting for room in the queue; `false` when the task should
/// stop.
async fn deliver(out: &Out, close: &mut watch::Receiver<bool>, item: RawItem) -> bool {
    use mpsc::error::TrySendError;
    // The common case, without a wait: a direct consumer, or room in the queue. The queue is
    // only written under the outlet's lock, which is what lets `divert` switch without a gap.
    let item = {
        let mut outlet = lock_outlet(&out.outlet);
        if let Outlet::Direct(consumer) = &mut *outlet {
            consumer(item);
            return true;
        }
        match out.queue.try_send(item) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(item)) => item,
        }
    };
    let permit = tokio::select! {
        biased;
        () = close_requested(close) => return false,
        permit = out.queue.reserve() => match permit {
            Ok(permit) => permit,
            Err(_) => return false,
        },
    };
    let mut outlet = lock_outlet(&out.outlet);
    if let Outlet::Direct(consumer) = &mut *outlet {
        // Switched while waiting: the queue was drained into the consumer first.
        drop(permit);
        consumer(item);
    } else {
        permit.send(item);
    }
    true
}

async fn connect(config: &Config) -> Result<Ws> {
    let request = config.request.request()?;
    // tungstenite zeroes up to `read_buffer_size` bytes of its buffer before every socket read
    // (128 KiB by default, a tenth of the whole client's instructions under load, and the
    // cache that goes with it). ARI events are ~0.6 KB, so 16 KiB still takes a burst of
    // ~25 in one read; a larger frame still arrives whole, the buffer grows for it.
    let ws_config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(16 * 1024);
    #[cfg(feature = "rustls")]
    let attempt = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config),
        true,
        Some(config.request.connector()),
    );
    #[cfg(not(feature = "rustls"))]
    let attempt = tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
    match tokio::time::timeout(config.handshake_timeout, attempt).await {
        Err(_) => Err(Error::timeout_because(
            config.handshake_timeout,
            "opening the events WebSocket",
        )),
        Ok(Err(e)) => Err(from_tungstenite(e)),
        Ok(Ok((ws, _response))) => Ok(ws),
    }
}

/// Runs a socket that Asterisk opened towards us (an outbound ARI WebSocket) once, until it is
/// lost or shut down; there is no reconnecting (Asterisk reconnects, as a new connection). A
/// loss is the stream's last item.
#[cfg(feature = "server")]
pub(crate) async fn run_accepted<S>(
    socket: WebSocketStream<S>,
    config: SocketConfig<'_>,
    opened: Option<super::rest::Opened>,
    items: Out,
    mut close: watch::Receiver<bool>,
    state_tx: watch::Sender<ConnectionState>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    state_tx.send_replace(ConnectionState::Connected);
    if let Ended::Lost(e) = connected(&config, socket, opened, &items, &mut close).await {
        let e = e.with_operation(&EVENTS_OP);
        tracing::debug!(error = %e, "outbound connection lost");
        let _ = deliver(&items, &mut close, RawItem::Error(e)).await;
    }
    state_tx.send_replace(ConnectionState::Closed);
}

/// Runs one open connection until it is lost or shut down.
async fn connected<S>(
    config: &SocketConfig<'_>,
    ws: WebSocketStream<S>,
    // Dropped however this function returns, which fails the REST calls still queued or
    // unanswered on this socket.
    mut opened: Option<super::rest::Opened>,
    items: &Out,
    close: &mut watch::Receiver<bool>,
) -> Ended
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + config.ping_interval,
        config.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The idle timer is not re-armed per frame (a timer-wheel removal and insertion each): each
    // frame only records its time, and when the timer fires early it is re-armed from there.
    let mut last_frame = tokio::time::Instant::now();
    let idle = tokio::time::sleep_until(last_frame + config.idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            biased;
            () = close_requested(close) => {
                unlink(&mut opened);
                shutdown(&mut sink, &mut stream).await;
                return Ended::Shutdown;
            }
            () = items.closed() => {
                unlink(&mut opened);
                shutdown(&mut sink, &mut stream).await;
                return Ended::Shutdown;
            }
            Some(out) = next_request(&mut opened) => {
                let Some(o) = opened.as_mut() else { continue };
                o.pending.insert(out.id, out.reply);
                if let Err(e) = sink.send(Message::text(out.frame)).await {
                    return Ended::Lost(from_tungstenite(e));
                }
            }
            frame = stream.next() => {
                let item = match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(o) = opened.as_mut()
                            && o.pending.answer(text.as_str())
                            && !config.rest.is_some_and(|r| r.deliver_to_stream)
                        {
                            last_frame = tokio::time::Instant::now();
                            continue;
                        }
                        RawItem::Text(text)
                    }
                    Some(Ok(Message::Binary(b))) => RawItem::Error(Error::websocket(format!(
                        "unexpected binary frame of {} bytes",
                        b.len()
                    ))),
                    // tungstenite answers pings itself; any frame proves the peer alive.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                        last_frame = tokio::time::Instant::now();
                        continue;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let why = match frame {
                            Some(f) => format!("server closed the connection ({} {})", f.code, f.reason),
                            None => "server closed the connection".to_owned(),
                        };
                        return Ended::Lost(Error::transport(TransportKind::ConnectionReset, why));
                    }
                    Some(Err(e)) => return Ended::Lost(from_tungstenite(e)),
                    None => {
                        return Ended::Lost(Error::transport(
                            TransportKind::ConnectionReset,
                            "connection ended without a Close frame",
                        ));
                    }
                };
                if !deliver(items, close, item).await {
                    unlink(&mut opened);
                    shutdown(&mut sink, &mut stream).await;
                    return Ended::Shutdown;
                }
                // Taken after the hand-over: waiting for the consumer is not the peer's silence.
                last_frame = tokio::time::Instant::now();
            }
            _ = ping.tick() => {
                if let Err(e) = sink.send(Message::Ping(Default::default())).await {
                    return Ended::Lost(from_tungstenite(e));
                }
            }
            () = &mut idle => {
                let deadline = last_frame + config.idle_timeout;
                if deadline > tokio::time::Instant::now() {
                    idle.as_mut().reset(deadline);
                    continue;
                }
                return Ended::Lost(
                    Error::timeout_because(
                        config.idle_timeout,
                        "no frame from the server; connection presumed dead",
                    ),
                );
            }
        }
    }
}

/// The next request to write, when REST goes over this socket; never otherwise.
async fn next_request(opened: &mut Option<super::rest::Opened>) -> Option<super::rest::Outgoing> {
    match opened {
        Some(o) => o.pending.queue.recv().await,
        None => std::future::pending().await,
    }
}

/// A closing socket takes no new REST calls: they go over another socket of the client, or fail
/// at once, rather than wait for a socket that will not write them.
fn unlink(opened: &mut Option<super::rest::Opened>) {
    if let Some(o) = opened {
        o.unlink();
    }
}

/// Sends Close and waits briefly for the server's Close, so the server sees a clean goodbye.
async fn shutdown<S>(
    sink: &mut futures::stream::SplitSink<WebSocketStream<S>, Message>,
    stream: &mut futures::stream::SplitStream<WebSocketStream<S>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let goodbye = async {
        if sink.send(Message::Close(None)).await.is_ok() {
            while let Some(Ok(msg)) = stream.next().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
}

/// Maps a tungstenite failure to our kinds; an HTTP answer to the upgrade keeps its status and
/// Asterisk's message.
pub(crate) fn from_tungstenite(e: tungstenite::Error) -> Error {
    use tungstenite::Error as W;
    match e {
        W::Http(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let body = response.body().as_deref().unwrap_or_default();
            if let Some(e) = crate::client::not_ari(status, content_type, body, false) {
                return e;
            }
            let message = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
            if status == 401 {
                Error::unauthorized(message)
            } else {
                Error::http(status, message, None)
            }
        }
        W::Io(io) => {
            let kind = error::classify_chain(&io);
            Error::transport(kind, io)
        }
        W::Tls(tls) => Error::transport(TransportKind::Tls, tls),
        W::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            Error::transport(TransportKind::ConnectionReset, e)
        }
        W::ConnectionClosed | W::AlreadyClosed => {
            Error::transport(TransportKind::ConnectionReset, e)
        }
        W::Url(u) => Error::config(format!("events URL: {u}")),
        other => Error::websocket_with("protocol failure", other),
    }
}

#[cfg(test)]
mod tests {
    use super::is_terminal;
    use crate::error::{Error, NotAri};

    /// A URL that is not an ARI root ends the stream at once, unless a connection to it was up
    /// before: then it is an Asterisk starting again, and the stream keeps retrying.
    #[test]
    fn not_an_ari_root_is_final_only_before_the_first_connection() {
        let e = Error::not_ari_root(404, NotAri::NotJson(Some("text/html".into())));
        assert!(is_terminal(&e, false));
        assert!(!is_terminal(&e, true));
    }
}
