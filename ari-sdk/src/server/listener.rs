//! The listener: TCP/TLS accept, WebSocket upgrade, credential check, bounds and shutdown.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{self, HeaderMap, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, warn};

use crate::client::Secret;
use crate::error::{Error, Result, TransportKind};

/// Refusals of busy plain-TCP connections that may be writing their `503` at once; beyond this
/// a connection over the bound is simply closed.
const MAX_BUSY_REPLIES: usize = 32;

/// Configures and binds a [`Listener`]; made by [`Listener::builder`].
#[derive(Clone)]
pub struct ListenerBuilder {
    credentials: Option<(String, Secret)>,
    anonymous: bool,
    path: Option<String>,
    protocols: Vec<String>,
    max_connections: usize,
    handshake_timeout: Duration,
    ws_config: WebSocketConfig,
    #[cfg(feature = "rustls")]
    tls: Option<Arc<rustls::ServerConfig>>,
    config_error: Option<String>,
    runtimes: Vec<tokio::runtime::Handle>,
}

impl fmt::Debug for ListenerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ListenerBuilder");
        d.field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("password", &self.credentials.as_ref().map(|(_, p)| p))
            .field("anonymous", &self.anonymous)
            .field("path", &self.path)
            .field("protocols", &self.protocols)
            .field("max_connections", &self.max_connections)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("connection_runtimes", &self.runtimes.len());
        #[cfg(feature = "rustls")]
        d.field("tls", &self.tls.is_some());
        d.finish_non_exhaustive()
    }
}

impl Default for ListenerBuilder {
    fn default() -> Self {
        ListenerBuilder {
            credentials: None,
            anonymous: false,
            path: None,
            protocols: Vec::new(),
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            // Bounded frames and messages: tungstenite's defaults (16 MiB / 64 MiB) are far above
            // any ARI event or 20 ms of audio, and a peer must not make us buffer that much.
            ws_config: WebSocketConfig::default()
                .max_message_size(Some(4 << 20))
                .max_frame_size(Some(4 << 20)),
            #[cfg(feature = "rustls")]
            tls: None,
            config_error: None,
            runtimes: Vec::new(),
        }
    }
}

impl ListenerBuilder {
    /// The user name and password that Asterisk must present (`websocket_client.conf`
    /// `username` / `password`). Any other upgrade request is refused with `401`.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((username.into(), Secret::new(password.into())));
        self
    }

    /// Accepts connections without credentials. Without this or
    /// [`credentials`](Self::credentials), [`bind`](Self::bind) refuses to start: a listener
    /// checks who connects unless told otherwise.
    pub fn allow_anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Accepts upgrades on this request path only (for example `/ari`); others get `404`.
    /// Default: any path, which [`RequestInfo::path`] then tells.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A WebSocket subprotocol this listener speaks (for example `ari`, `media`). When any is
    /// set, a client must offer one of them (`Sec-WebSocket-Protocol`), and the first of the
    /// client's that matches is selected; otherwise the upgrade is refused with `400`.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// At most this many connections at once, handshakes included (default 1024; at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Runs each accepted connection (its socket, the TLS and WebSocket handshakes) on one of
    /// these runtimes, taken in turn; by default, on the runtime the listener was bound on.
    /// [`Incoming::runtime`] says which, so that the connection's own work can be spawned
    /// there too (`media::MediaListener` does). For many media sessions: the workers of a
    /// `media::PacedRuntime` (feature `media`).
    pub fn connection_runtimes(
        mut self,
        runtimes: impl IntoIterator<Item = tokio::runtime::Handle>,
    ) -> Self {
        self.runtimes = runtimes.into_iter().collect();
        self
    }

    /// Time allowed from TCP accept to completed upgrade, TLS included (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Largest WebSocket message accepted, in bytes (default 4 MiB); a larger one fails the
    /// connection instead of being buffered.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.ws_config = self
            .ws_config
            .max_message_size(Some(bytes))
            .max_frame_size(Some(bytes));
        self
    }

    /// Serves TLS (`wss://`) with this rustls configuration.
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Serves TLS (`wss://`) with a certificate chain and private key in PEM, using rustls with
    /// the `ring` provider.
    #[cfg(feature = "rustls")]
    pub fn tls_pem(mut self, cert_chain_pem: &[u8], private_key_pem: &[u8]) -> Self {
        match server_tls_config(cert_chain_pem, private_key_pem) {
            Ok(c) => self.tls = Some(c),
            Err(e) => self.config_error = Some(e),
        }
        self
    }

    /// Binds to `addr` and starts accepting in the background. Needs a tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> Result<Listener> {
        self.check()?;
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::config(format!("listener: cannot bind: {e}")))?;
        self.start(tcp)
    }

    /// Starts accepting on a TCP listener bound already.
    pub fn listen_on(self, tcp: TcpListener) -> Result<Listener> {
        self.check()?;
        self.start(tcp)
    }

    fn check(&self) -> Result<()> {
        if let Some(e) = &self.config_error {
            return Err(Error::config(e.clone()));
        }
        if self.credentials.is_none() && !self.anonymous {
            return Err(Error::config(
                "listener: set the credentials Asterisk presents (or allow_anonymous() explicitly)",
            ));
        }
        if let Some((user, _)) = &self.credentials
            && (user.is_empty() || user.contains(':'))
        {
            return Err(Error::config(
                "listener: the user name must be non-empty and contain no ':'",
            ));
        }
        if let Some(p) = &self.path
            && !p.starts_with('/')
        {
            return Err(Error::config(format!(
                "listener: path {p:?} must start with '/'"
            )));
        }
        tokio::runtime::Handle::try_current()
            .map_err(|_| Error::config("the listener needs a tokio runtime"))?;
        Ok(())
    }

    fn start(self, tcp: TcpListener) -> Result<Listener> {
        let local_addr = tcp
            .local_addr()
            .map_err(|e| Error::transport(TransportKind::Other, e))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let max = self.max_connections;
        let (incoming_tx, incoming_rx) = mpsc::channel(max);
        let shared = Arc::new(Shared {
            permits: Arc::new(Semaphore::new(max)),
            busy_replies: Arc::new(Semaphore::new(MAX_BUSY_REPLIES)),
            max,
            shutdown: shutdown_tx,
            stats: Stats::default(),
        });
        let auth = Arc::new(AuthConfig {
            expected: self.credentials.map(|(u, p)| {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{}", p.expose()));
                (u, Secret::new(token))
            }),
            path: self.path,
            protocols: self.protocols,
        });
        let accept = AcceptLoop {
            tcp,
            shared: shared.clone(),
            auth,
            incoming: incoming_tx,
            handshake_timeout: self.handshake_timeout,
            ws_config: self.ws_config,
            #[cfg(feature = "rustls")]
            tls: self.tls.map(tokio_rustls::TlsAcceptor::from),
            runtimes: self.runtimes,
        };
        tokio::spawn(accept.run(shutdown_rx));
        debug!(%local_addr, "listener started");
        Ok(Listener {
            local_addr,
            incoming: incoming_rx,
            shared,
        })
    }
}

/// Builds a rustls server configuration (ring provider) from PEM text.
#[cfg(feature = "rustls")]
fn server_tls_config(
    cert_chain_pem: &[u8],
    private_key_pem: &[u8],
) -> std::result::Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("listener TLS: certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("listener TLS: the certificate PEM holds no certificate".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(private_key_pem)
        .map_err(|e| format!("listener TLS: private key PEM: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("listener TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("listener TLS: certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// State shared by the listener, its accept task and every connection guard.
struct Shared {
    permits: Arc<Semaphore>,
    busy_replies: Arc<Semaphore>,
    max: usize,
    shutdown: watch::Sender<bool>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    refused_auth: AtomicU64,
    refused_busy: AtomicU64,
    failed_handshakes: AtomicU64,
}

/// Counters of what a [`Listener`] did, for tests and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerStats {
    /// Upgrades completed and handed over.
    pub accepted: u64,
    /// Upgrade requests refused for missing or wrong credentials (`401`).
    pub refused_auth: u64,
    /// Connections refused because [`ListenerBuilder::max_connections`] were open.
    pub refused_busy: u64,
    /// Other failed handshakes: TLS failures, timeouts, bad requests, wrong path or protocol.
    pub failed_handshakes: u64,
}

/// What the upgrade callback checks.
struct AuthConfig {
    /// The user name and the base64 token `Basic` must carry.
    expected: Option<(String, Secret)>,
    path: Option<String>,
    protocols: Vec<String>,
}

/// Accepts WebSocket connections that Asterisk opens towards the application.
///
/// ```no_run
/// # async fn demo() -> ari_sdk::Result<()> {
/// use ari_sdk::server::Listener;
///
/// let mut listener = Listener::builder()
///     .credentials("asterisk-out", "secret")
///     .bind("127.0.0.1:8765")
///     .await?;
/// while let Some(incoming) = listener.accept().await {
///     let (request, socket, guard) = incoming.into_parts();
///     tracing::info!(path = request.path(), "Asterisk connected");
///     tokio::spawn(async move {
///         // ... run a protocol on `socket`; drop `guard` with it ...
///         drop((socket, guard));
///     });
/// }
/// # Ok(()) }
/// ```
///
/// Also a [`Stream`] of [`Incoming`]. Dropping the listener stops accepting, like
/// [`shutdown`](Self::shutdown).
pub struct Listener {
    local_addr: SocketAddr,
    incoming: mpsc::Receiver<Incoming>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Starts configuring a listener.
    pub fn builder() -> ListenerBuilder {
        ListenerBuilder::default()
    }

    /// The address the listener is bound to (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next accepted connection; `None` once the listener is shut down and every connection
    /// accepted before has been taken.
    pub async fn accept(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// Stops accepting (the port is released), aborts handshakes in progress and signals every
    /// live connection's [`ConnectionGuard`]. Idempotent.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
    }

    /// A handle that shuts the listener down from elsewhere (for a listener moved into a
    /// task).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Whether [`shutdown`](Self::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        *self.shared.shutdown.borrow()
    }

    /// Connections open now, handshakes included.
    pub fn connections(&self) -> usize {
        self.shared.max - self.shared.permits.available_permits()
    }

    /// Waits until no connection is open (every [`ConnectionGuard`] dropped). Returns at once
    /// when there is none; usually called after [`shutdown`](Self::shutdown).
    pub async fn wait_idle(&self) {
        let all = u32::try_from(self.shared.max).unwrap_or(u32::MAX);
        // The semaphore is never closed, so this only waits; the permits go back at once.
        if let Ok(permits) = self.shared.permits.acquire_many(all).await {
            drop(permits);
        }
    }

    /// What the listener has done so far.
    pub fn stats(&self) -> ListenerStats {
        let s = &self.shared.stats;
        ListenerStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            refused_auth: s.refused_auth.load(Ordering::Relaxed),
            refused_busy: s.refused_busy.load(Ordering::Relaxed),
            failed_handshakes: s.failed_handshakes.load(Ordering::Relaxed),
        }
    }
}

/// Shuts a [`Listener`] down from anywhere; cheap to clone.
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("shut_down", &*self.shared.shutdown.borrow())
            .finish()
    }
}

impl ShutdownHandle {
    /// Like [`Listener::shutdown`]. Idempotent.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
    }

    /// Waits until no connection is open, like [`Listener::wait_idle`].
    pub async fn wait_idle(&self) {
        let all = u32::try_from(self.shared.max).unwrap_or(u32::MAX);
        if let Ok(permits) = self.shared.permits.acquire_many(all).await {
            drop(permits);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Stream for Listener {
    type Item = Incoming;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Incoming>> {
        self.incoming.poll_recv(cx)
    }
}

/// The request that opened an accepted WebSocket. The `Authorization` header is not kept.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    peer: SocketAddr,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    username: Option<String>,
    protocol: Option<String>,
    tls: bool,
}

impl RequestInfo {
    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The request path (for example `/ari`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The value of query parameter `name`, percent-decoded (the first if repeated).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The request headers, `Authorization` removed.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The user name that authenticated, if credentials were required.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The WebSocket subprotocol selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether the connection came over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

/// Keeps an accepted connection counted against [`ListenerBuilder::max_connections`] until it
/// is dropped, and tells its holder when the listener shuts down.
pub struct ConnectionGuard {
    _permit: OwnedSemaphorePermit,
    shutdown: watch::Receiver<bool>,
}

impl fmt::Debug for ConnectionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionGuard")
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

impl ConnectionGuard {
    /// Whether the listener has been shut down.
    pub fn is_shutdown(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves once the listener is shut down (or dropped); the holder should then close its
    /// socket (WebSocket close code 1001, going away).
    pub async fn shutdown_requested(&mut self) {
        // An error means the listener's state is gone: that is a shutdown too.
        let _ = self.shutdown.wait_for(|s| *s).await;
    }

    /// A receiver of the shutdown flag, for code that keeps the guard elsewhere.
    pub fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }
}

/// An accepted, authenticated WebSocket with the request that opened it.
pub struct Incoming {
    request: RequestInfo,
    socket: WebSocketStream<ServerStream>,
    guard: ConnectionGuard,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Incoming {
    /// The request that opened the connection.
    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// The runtime the connection's socket is registered with (see
    /// [`ListenerBuilder::connection_runtimes`]): work on the connection is cheapest there.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The request, the WebSocket, and the guard that keeps the connection counted.
    pub fn into_parts(self) -> (RequestInfo, WebSocketStream<ServerStream>, ConnectionGuard) {
        (self.request, self.socket, self.guard)
    }
}

/// The byte stream under an accepted WebSocket: plain TCP or TLS.
pub struct ServerStream {
    inner: StreamInner,
}

enum StreamInner {
    Plain(TcpStream),
    #[cfg(feature = "rustls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl fmt::Debug for ServerStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerStream")
            .field("tls", &self.is_tls())
            .finish()
    }
}

impl ServerStream {
    /// Whether this stream is TLS.
    pub fn is_tls(&self) -> bool {
        match &self.inner {
            StreamInner::Plain(_) => false,
            #[cfg(feature = "rustls")]
            StreamInner::Tls(_) => true,
        }
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            StreamInner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            StreamInner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            StreamInner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            StreamInner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            StreamInner::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            StreamInner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            StreamInner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            StreamInner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The background task that accepts TCP connections and spawns their handshakes.
struct AcceptLoop {
    tcp: TcpListener,
    shared: Arc<Shared>,
    auth: Arc<AuthConfig>,
    incoming: mpsc::Sender<Incoming>,
    handshake_timeout: Duration,
    ws_config: WebSocketConfig,
    #[cfg(feature = "rustls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    runtimes: Vec<tokio::runtime::Handle>,
}

impl AcceptLoop {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut turn = 0usize;
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => break,
                r = self.tcp.accept() => r,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning,
                    // then go on; one failed accept does not end the listener.
                    warn!(error = %e, "listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match self.shared.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    let runtime = (!self.runtimes.is_empty()).then(|| {
                        let runtime = &self.runtimes[turn % self.runtimes.len()];
                        turn = turn.wrapping_add(1);
                        runtime
                    });
                    let hs = Handshake {
                        stream,
                        reregister: runtime.is_some(),
                        peer,
                        permit,
                        shared: self.shared.clone(),
                        auth: self.auth.clone(),
                        incoming: self.incoming.clone(),
                        timeout: self.handshake_timeout,
                        ws_config: self.ws_config,
                        #[cfg(feature = "rustls")]
                        tls: self.tls.clone(),
                    };
                    let task = hs.run(shutdown.clone());
                    match runtime {
                        Some(runtime) => runtime.spawn(task),
                        None => tokio::spawn(task),
                    };
                }
                Err(_) => self.refuse_busy(stream, peer),
            }
        }
        debug!("listener stopped accepting");
    }

    fn refuse_busy(&self, mut stream: TcpStream, peer: SocketAddr) {
        self.shared
            .stats
            .refused_busy
            .fetch_add(1, Ordering::Relaxed);
        warn!(%peer, max = self.shared.max, "listener: connection limit reached, refusing");
        #[cfg(feature = "rustls")]
        if self.tls.is_some() {
            // No HTTP answer without a TLS handshake first; closing is the clearest refusal.
            return;
        }
        let Ok(slot) = self.shared.busy_replies.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let reply = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n";
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = stream.write_all(reply).await;
                let _ = stream.shutdown().await;
            })
            .await;
            drop(slot);
        });
    }
}

/// One connection from TCP accept to handed-over WebSocket.
struct Handshake {
    stream: TcpStream,
    /// Served on another runtime than the accepting one (`connection_runtimes`).
    reregister: bool,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    auth: Arc<AuthConfig>,
    incoming: mpsc::Sender<Incoming>,
    timeout: Duration,
    ws_config: WebSocketConfig,
    #[cfg(feature = "rustls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Why an upgrade was refused, for the counters and the log.
enum Refusal {
    Auth,
    Other(&'static str),
}

impl Handshake {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let peer = self.peer;
        let shared = self.shared.clone();
        let timeout = self.timeout;
        let incoming = self.incoming.clone();
        let permit = self.permit;
        let auth = self.auth;
        let ws_config = self.ws_config;
        #[cfg(feature = "rustls")]
        let tls = self.tls;
        let (stream, reregister) = (self.stream, self.reregister);
        let work = async move {
            // A socket belongs to the reactor it was registered with: one accepted on another
            // runtime is handed over as a std socket and registered again on this one.
            let stream = if reregister {
                match stream.into_std().and_then(TcpStream::from_std) {
                    Ok(s) => s,
                    Err(e) => {
                        debug!(%peer, error = %e, "listener: moving the socket failed");
                        return Err(Refusal::Other("moving the socket to its runtime failed"));
                    }
                }
            } else {
                stream
            };
            #[cfg(feature = "rustls")]
            let stream = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => ServerStream {
                        inner: StreamInner::Tls(Box::new(s)),
                    },
                    Err(e) => {
                        debug!(%peer, error = %e, "listener: TLS handshake failed");
                        return Err(Refusal::Other("TLS handshake failed"));
                    }
                },
                None => ServerStream {
                    inner: StreamInner::Plain(stream),
                },
            };
            #[cfg(not(feature = "rustls"))]
            let stream = ServerStream {
                inner: StreamInner::Plain(stream),
            };
            let tls_used = stream.is_tls();
            let mut outcome: Option<std::result::Result<RequestInfo, Refusal>> = None;
            // The error type is tungstenite's, so its size is not ours to choose.
            #[allow(clippy::result_large_err)]
            let callback = |req: &Request, resp: Response| {
                let checked = check_request(&auth, req, peer, tls_used);
                let result = match &checked {
                    Ok(info) => {
                        let mut resp = resp;
                        if let Some(p) = &info.protocol
                            && let Ok(v) = HeaderValue::from_str(p)
                        {
                            resp.headers_mut()
                                .insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
                        }
                        Ok(resp)
                    }
                    Err((status, _)) => Err(refusal_response(*status)),
                };
                outcome = Some(checked.map_err(|(_, r)| r));
                result
            };
            let ws =
                tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config))
                    .await;
            match (ws, outcome) {
                (Ok(ws), Some(Ok(info))) => Ok((ws, info)),
                (_, Some(Err(r))) => Err(r),
                (Err(e), _) => {
                    debug!(%peer, error = %e, "listener: upgrade failed");
                    Err(Refusal::Other("not a valid WebSocket upgrade"))
                }
                (Ok(_), None) => Err(Refusal::Other("upgrade without request")),
            }
        };
        let result = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            r = tokio::time::timeout(timeout, work) => r,
        };
        let stats = &shared.stats;
        match result {
            Ok(Ok((socket, request))) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, path = %request.path, "listener: connection accepted");
                let guard = ConnectionGuard {
                    _permit: permit,
                    shutdown,
                };
                // The listener may be gone meanwhile; the connection is then dropped here.
                let _ = incoming
                    .send(Incoming {
                        request,
                        socket,
                        guard,
                        runtime: tokio::runtime::Handle::current(),
                    })
                    .await;
            }
            Ok(Err(Refusal::Auth)) => {
                stats.refused_auth.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, "listener: refused a connection with missing or wrong credentials");
            }
            Ok(Err(Refusal::Other(why))) => {
                stats.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, why, "listener: handshake failed");
            }
            Err(_) => {
                stats.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, ?timeout, "listener: handshake timed out");
            }
        }
    }
}

/// Checks an upgrade request: path, credentials, subprotocol. On refusal, the status to answer.
fn check_request(
    auth: &AuthConfig,
    req: &Request,
    peer: SocketAddr,
    tls: bool,
) -> std::result::Result<RequestInfo, (StatusCode, Refusal)> {
    let path = req.uri().path().to_owned();
    // Credentials first: an unauthenticated peer learns nothing about paths or protocols.
    let username = match &auth.expected {
        None => None,
        Some((user, token)) => {
            let presented = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(basic_token);
            match presented {
                Some(t) if constant_time_eq(t.as_bytes(), token.expose().as_bytes()) => {
                    Some(user.clone())
                }
                _ => return Err((StatusCode::UNAUTHORIZED, Refusal::Auth)),
            }
        }
    };
    if let Some(want) = &auth.path
        && &path != want
    {
        return Err((StatusCode::NOT_FOUND, Refusal::Other("wrong path")));
    }
    let protocol = if auth.protocols.is_empty() {
        None
    } else {
        let offered = req
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .find(|p| auth.protocols.iter().any(|w| w == p))
            .map(str::to_owned);
        match offered {
            Some(p) => Some(p),
            None => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    Refusal::Other("no acceptable subprotocol offered"),
                ));
            }
        }
    };
    let mut headers = req.headers().clone();
    headers.remove(http::header::AUTHORIZATION);
    Ok(RequestInfo {
        peer,
        path,
        query: req.uri().query().map(str::to_owned),
        headers,
        username,
        protocol,
        tls,
    })
}

/// The base64 part of `Basic <token>` (scheme case-insensitive).
fn basic_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(token.trim())
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refusal_response(status: StatusCode) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(
        status.canonical_reason().unwrap_or("refused").to_owned(),
    ));
    *resp.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ari-sdk\""),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_token_parsing() {
        assert_eq!(basic_token("Basic YTpi"), Some("YTpi"));
        assert_eq!(basic_token("basic  YTpi "), Some("YTpi"));
        assert_eq!(basic_token("Bearer YTpi"), None);
        assert_eq!(basic_token("Basic"), None);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn builder_debug_hides_the_password() {
        let b = Listener::builder().credentials("u", "s3cr3t-pw");
        let d = format!("{b:?}");
        assert!(!d.contains("s3cr3t-pw"), "{d}");
    }

    #[tokio::test]
    async fn a_listener_without_credentials_must_be_explicit() {
        let e = Listener::builder().bind("127.0.0.1:0").await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("credentials"), "{e}");
        assert!(
            Listener::builder()
                .allow_anonymous()
                .bind("127.0.0.1:0")
                .await
                .is_ok()
        );
    }
}
