//! Outbound ARI WebSockets: Asterisk connects to the application, and each connection carries
//! both the events and the application's REST calls.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;
use tokio::net::ToSocketAddrs;

use super::{Listener, ListenerBuilder, ListenerStats, RequestInfo};
use crate::carrier::{Call, Carrier, Reply};
use crate::client::Client;
use crate::error::{Error, Result, UnsupportedItem};
use crate::events::rest::WsCarrier;
use crate::events::{AcceptedOptions, EventStream};
use crate::meta::{Availability, OperationInfo, Release, ReleaseRange, Support};

/// The releases whose Asterisk can open outbound ARI WebSockets (`res_websocket_client`, `ari.conf`
/// `type=outbound_websocket`): 20.15.0+, 21.10.0+, 22.5.0+ and every 23. Older releases (16.x,
/// 18.x, and the lines above before those versions) never connect.
pub static OUTBOUND_WEBSOCKETS: Availability = Availability {
    ranges: &[
        ReleaseRange {
            first: Release::new(20, 15, 0),
            last: None,
        },
        ReleaseRange {
            first: Release::new(21, 10, 0),
            last: None,
        },
        ReleaseRange {
            first: Release::new(22, 5, 0),
            last: None,
        },
        ReleaseRange {
            first: Release::new(23, 0, 0),
            last: None,
        },
    ],
};

/// Names outbound WebSockets in errors, like a REST operation.
static OUTBOUND_OP: OperationInfo = OperationInfo {
    resource: "outbound_websocket",
    nickname: "connect",
    method: "GET",
    path: "(Asterisk connects to the application)",
    summary: "Outbound ARI WebSocket: Asterisk dials the application.",
    params: &[],
    errors: &[],
    availability: OUTBOUND_WEBSOCKETS,
};

/// Checks that `release` can open outbound ARI WebSockets; the error names the releases that
/// can.
pub fn check_release(release: Release) -> Result<()> {
    match OUTBOUND_WEBSOCKETS.support(release, crate::default_known_majors()) {
        Support::No => Err(Error::new_unsupported(
            &OUTBOUND_OP,
            UnsupportedItem::Operation,
            release,
            OUTBOUND_WEBSOCKETS,
        )),
        // A line the bindings do not know (newer than the corpus) is presumed to have them.
        Support::Yes | Support::Unknown => Ok(()),
    }
}

/// Asks the server behind `client` (over HTTP) for its release and checks that it can open
/// outbound ARI WebSockets, so that an application fails at start with a clear error rather
/// than waiting for a connection that never comes. `Ok(None)` when the server did not tell its
/// version.
pub async fn check_server(client: &Client) -> Result<Option<Release>> {
    let release = client.server_version().await?.and_then(|v| v.release);
    if let Some(r) = release {
        check_release(r)?;
    }
    Ok(release)
}

/// The carrier of an outbound connection: REST over the socket Asterisk opened. Unlike REST
/// over an events socket that we open, the socket's existence proves the release has it, so
/// the release is learned over the socket too (an application behind NAT may have no HTTP path
/// to Asterisk at all).
struct OutboundCarrier(WsCarrier);

impl Carrier for OutboundCarrier {
    fn name(&self) -> &'static str {
        "outbound-websocket"
    }

    fn send(&self, call: Call) -> BoxFuture<'_, Result<Reply>> {
        self.0.send(call)
    }

    fn carries_binary(&self) -> bool {
        false
    }
}

/// Configures an [`AriListener`]; made by [`AriListener::builder`].
#[derive(Clone, Debug)]
pub struct AriListenerBuilder {
    listener: ListenerBuilder,
    client: Option<Client>,
    ping_interval: Duration,
    idle_timeout: Option<Duration>,
    buffer: usize,
    rest_to_stream: bool,
}

impl AriListenerBuilder {
    /// The user name and password Asterisk presents (`websocket_client.conf` `username` and
    /// `password`); other connections are refused with `401`.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.listener = self.listener.credentials(username, password);
        self
    }

    /// Adjusts the underlying [`ListenerBuilder`]: path, connection bound, handshake timeout,
    /// TLS, anonymous access.
    pub fn listener(mut self, f: impl FnOnce(ListenerBuilder) -> ListenerBuilder) -> Self {
        self.listener = f(self.listener);
        self
    }

    /// Serves TLS (`wss://`, `websocket_client.conf` `tls_enabled = yes`) with this PEM
    /// certificate chain and key.
    #[cfg(feature = "rustls")]
    pub fn tls_pem(mut self, cert_chain_pem: &[u8], private_key_pem: &[u8]) -> Self {
        self.listener = self.listener.tls_pem(cert_chain_pem, private_key_pem);
        self
    }

    /// The client whose settings each connection's [`Client`] takes: request timeout, release
    /// gating, and the HTTP base URL and credentials used for the few calls a WebSocket cannot
    /// carry (a stored recording's file). Default: [`Client::builder`]'s defaults.
    pub fn client(mut self, client: &Client) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// How often to ping Asterisk on each connection (default 20 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// A connection silent (no frame, no pong) for this long is taken for dead and closed
    /// (default: twice the ping interval plus 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Events that may wait for the consumer per connection before reading pauses (default 1024).
    pub fn buffer(mut self, items: usize) -> Self {
        self.buffer = items.max(1);
        self
    }

    /// Also deliver `RESTResponse` events to the event streams (default `false`).
    pub fn rest_responses_in_stream(mut self, enabled: bool) -> Self {
        self.rest_to_stream = enabled;
        self
    }

    /// Binds and starts accepting. Needs a tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> Result<AriListener> {
        let client = match self.client {
            Some(c) => c,
            None => Client::builder().build()?,
        };
        let listener = self.listener.bind(addr).await?;
        Ok(AriListener {
            listener,
            client,
            options: AcceptedOptions {
                request_timeout: None,
                ping_interval: self.ping_interval,
                idle_timeout: self
                    .idle_timeout
                    .unwrap_or(self.ping_interval * 2 + Duration::from_secs(5)),
                buffer: self.buffer,
                rest_to_stream: self.rest_to_stream,
            },
        })
    }
}

/// Accepts outbound ARI WebSockets: the connections that Asterisk opens to the application when
/// `ari.conf` has `type=outbound_websocket` entries (Asterisk 20.15+, 21.10+, 22.5+, 23; see
/// [`OUTBOUND_WEBSOCKETS`]).
///
/// Each accepted connection is an [`OutboundConnection`]: a typed [`EventStream`] of the
/// connection's events and a [`Client`] whose REST calls go over that same socket. Both kinds of
/// `websocket_client.conf` entry work: `connection_type = persistent` (one connection that
/// Asterisk keeps up, reconnecting after a restart, for the apps in `apps`) and
/// `per_call_config` (one connection per channel that enters `Stasis(app)`, for the app
/// `app:<channel name>`, closed a few seconds after the channel's `StasisEnd`). On a persistent
/// connection Asterisk sends `ApplicationRegistered` when it reconnects and
/// `ApplicationUnregistered` when the app goes away; both are typed events.
///
/// ```no_run
/// # async fn demo() -> ari_sdk::Result<()> {
/// use ari_sdk::server::AriListener;
/// use futures::StreamExt;
///
/// let mut listener = AriListener::builder()
///     .credentials("ari-out", "ari-out-secret")
///     .bind("127.0.0.1:8765")
///     .await?;
/// while let Some(conn) = listener.accept().await {
///     tokio::spawn(async move {
///         let (client, mut events) = conn.into_parts();
///         while let Some(item) = events.next().await {
///             tracing::info!(?item, "event");
///         }
///         drop(client);
///     });
/// }
/// # Ok(()) }
/// ```
///
/// With [`StasisApp::outbound`](crate::routing::StasisApp::outbound) the per-call handler of an
/// inbound application runs unchanged on outbound connections.
pub struct AriListener {
    listener: Listener,
    client: Client,
    options: AcceptedOptions,
}

impl fmt::Debug for AriListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AriListener")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl AriListener {
    /// Starts configuring an outbound ARI listener.
    pub fn builder() -> AriListenerBuilder {
        AriListenerBuilder {
            listener: Listener::builder(),
            client: None,
            ping_interval: Duration::from_secs(20),
            idle_timeout: None,
            buffer: 1024,
            rest_to_stream: false,
        }
    }

    /// The next connection from Asterisk; `None` after [`shutdown`](Self::shutdown).
    pub async fn accept(&mut self) -> Option<OutboundConnection> {
        let incoming = self.listener.accept().await?;
        Some(self.wrap(incoming))
    }

    fn wrap(&self, incoming: super::Incoming) -> OutboundConnection {
        let (request, socket, guard) = incoming.into_parts();
        let mut options = self.options;
        options.request_timeout = self.client.inner.request_timeout;
        let template = self.client.clone();
        let events = crate::events::spawn_accepted(socket, guard, options, move |carrier| {
            template.with_carrier(Arc::new(OutboundCarrier(carrier)))
        });
        let client = events.rest_client().unwrap_or_else(|| self.client.clone());
        tracing::debug!(peer = %request.peer_addr(), path = request.path(), "outbound ARI connection");
        OutboundConnection {
            request,
            client,
            events,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr()
    }

    /// Stops accepting and closes every connection (WebSocket Close), so Asterisk sees the
    /// application go. A persistent connection is then retried by Asterisk until the
    /// application listens again.
    pub fn shutdown(&self) {
        self.listener.shutdown();
    }

    /// A handle that shuts this listener down from elsewhere (after it was moved into
    /// [`StasisApp::outbound`](crate::routing::StasisApp::outbound), say).
    pub fn shutdown_handle(&self) -> super::ShutdownHandle {
        self.listener.shutdown_handle()
    }

    /// Waits until every connection has ended.
    pub async fn wait_idle(&self) {
        self.listener.wait_idle().await;
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// What the listener has done so far (accepted, refused).
    pub fn stats(&self) -> ListenerStats {
        self.listener.stats()
    }
}

impl Stream for AriListener {
    type Item = OutboundConnection;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.listener).poll_next(cx) {
            Poll::Ready(Some(incoming)) => Poll::Ready(Some(self.wrap(incoming))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One WebSocket that Asterisk opened: its events and a client whose REST goes over it.
pub struct OutboundConnection {
    request: RequestInfo,
    client: Client,
    events: EventStream,
}

impl fmt::Debug for OutboundConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundConnection")
            .field("request", &self.request)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl OutboundConnection {
    /// The upgrade request Asterisk sent (path, headers, peer).
    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// A client whose REST calls go over this connection (cheap to clone). Its calls fail once
    /// the connection has ended.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection's events. The stream ends when the connection does: an error item says
    /// why (Asterisk closed it, it was lost), unless it was closed from this side.
    pub fn events(&mut self) -> &mut EventStream {
        &mut self.events
    }

    /// The client and the event stream, for code that uses them apart (a [`Router`]).
    ///
    /// [`Router`]: crate::routing::Router
    pub fn into_parts(self) -> (Client, EventStream) {
        (self.client, self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_without_outbound_websockets_are_refused_with_the_ones_that_have_them() {
        let e = check_release(Release::new(16, 28, 0)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        let text = e.to_string();
        assert!(text.contains("16.28.0"), "{text}");
        assert!(text.contains("22.5.0+"), "{text}");
        assert!(check_release(Release::new(22, 4, 0)).is_err());
        assert!(check_release(Release::new(22, 10, 1)).is_ok());
        assert!(check_release(Release::new(20, 15, 0)).is_ok());
    }
}
