//! The ARI client: configuration, the HTTP exchange, and release gating.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use tracing::Instrument;
use url::Url;

use crate::carrier::{self, Call, Carrier, Reply};
use crate::error::{self, Error, Result, UnsupportedItem};
use crate::meta::{Availability, OperationInfo, Release, Support};
use crate::request::Request;
use crate::transport::{self, TlsConfig, TlsOptions};
use crate::version::ServerVersion;

/// Default base URL: Asterisk's HTTP server on the local host.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8088/ari";

/// How many REST calls a [`Client`] has on the wire at once over HTTP unless told otherwise
/// ([`ClientBuilder::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// A string that must never reach logs or `Debug` output.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn new(s: String) -> Secret {
        Secret(s)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the client learns the server's release, which it uses to refuse calls the server does not
/// ship before sending them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// Ask the server (`GET /asterisk/info`) on the first call.
    Detect,
    /// Use this release without asking.
    Fixed(Release),
    /// Never refuse a call.
    Off,
}

/// Configures and builds a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    username: String,
    password: Secret,
    request_timeout: Option<Duration>,
    connect_timeout: Duration,
    user_agent: String,
    gate: Gate,
    known_majors: Option<Vec<u16>>,
    tls: TlsOptions,
    config_error: Option<String>,
    rest_over_websocket: bool,
    max_connections: Option<usize>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &redact_url(&self.base_url))
            .field("username", &self.username)
            .field("password", &self.password)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// The URL without any `user:password@` part, for display.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            username: String::new(),
            password: Secret(String::new()),
            request_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(5),
            user_agent: concat!("ari-sdk/", env!("CARGO_PKG_VERSION")).to_owned(),
            gate: Gate::Detect,
            known_majors: None,
            tls: TlsOptions::default(),
            config_error: None,
            rest_over_websocket: false,
            max_connections: Some(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

impl ClientBuilder {
    /// The ARI base URL, `http(s)://host:port/ari` (default [`DEFAULT_BASE_URL`]). Credentials
    /// written into the URL (`http://user:pass@host/ari`) are taken as the basic-auth
    /// credentials and removed from it.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The ARI user and password (`ari.conf`), sent as HTTP basic authentication.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = username.into();
        self.password = Secret(password.into());
        self
    }

    /// Time allowed for one whole REST call, body included (default 30 s); `None` for no limit.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Time allowed to open a TCP (and TLS) connection (default 5 s). Also bounds the events
    /// WebSocket's opening handshake.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `ari-sdk/VERSION`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Take the server's release as given instead of asking the server. Calls and parameters
    /// that this release does not ship are refused before sending.
    pub fn server_release(mut self, release: Release) -> Self {
        self.gate = Gate::Fixed(release);
        self
    }

    /// Whether to refuse calls that the server's release does not ship (default `true`). With
    /// `false` every call is sent and the server decides.
    pub fn release_gating(mut self, enabled: bool) -> Self {
        self.gate = match (enabled, self.gate) {
            (false, _) => Gate::Off,
            (true, Gate::Off) => Gate::Detect,
            (true, g) => g,
        };
        self
    }

    /// Overrides the major release lines the bindings know about. Only for tests of the gating
    /// logic; normal code never needs it.
    #[doc(hidden)]
    pub fn known_majors(mut self, majors: Vec<u16>) -> Self {
        self.known_majors = Some(majors);
        self
    }

    /// Trusts the certificates in this PEM text in addition to the system's roots, for servers
    /// with a private CA.
    #[cfg(feature = "rustls")]
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match transport::pem_to_der(pem) {
            Ok(ders) => self.tls.extra_roots_der.extend(ders),
            Err(e) => self.config_error = Some(e.to_string()),
        }
        self
    }

    /// Send every REST call over an events WebSocket instead of HTTP (default `false`): the
    /// event streams of this client carry REST too
    /// ([`EventsBuilder::rest_over_websocket`](crate::events::EventsBuilder::rest_over_websocket)
    /// is on by default), and the client's calls go over the most recently connected of them.
    ///
    /// Asterisk has REST over WebSocket since 20.14.0, 21.9.0 and 22.4.0 (and in every 23): on
    /// older releases the calls are refused before sending. While no event stream of the client
    /// is connected, calls fail at once with a transient
    /// [`ConnectionReset`](crate::TransportKind::ConnectionReset). Learning the server's release
    /// ([`Client::connect`]) and calls that want a binary body (a stored recording's file) use
    /// HTTP, because Asterisk refuses binary bodies on the socket.
    ///
    /// Asterisk sends each answer (`RESTResponse`) through the application's event filter: an
    /// application whose filter (`applications.filter`) does not allow `RESTResponse` gets no
    /// answers on its socket, and its calls time out. Asterisk also runs the calls of one socket
    /// one after another, in the thread that reads it (see `docs/BENCHMARKS.md`, section 2b).
    pub fn rest_over_websocket(mut self, enabled: bool) -> Self {
        self.rest_over_websocket = enabled;
        self
    }

    /// The most REST calls the client has on the wire at once over HTTP, and so the most HTTP
    /// connections it keeps to the server (default [`DEFAULT_MAX_CONNECTIONS`]; `None`: no
    /// limit). Further calls wait, first come first served, for a call to finish; the wait
    /// counts against [`request_timeout`](Self::request_timeout).
    ///
    /// HTTP/1.1 carries one call per connection at a time, so without a limit a burst of calls
    /// (fifty calls answered at once, each handler sending its first request) opens as many
    /// connections, and each costs Asterisk a thread and this process its buffers for as long
    /// as the pool keeps it. Asterisk also refuses HTTP sessions past `http.conf`'s
    /// `sessionlimit` (100 by default), events WebSockets included. ARI calls take Asterisk
    /// about a millisecond each, so a few connections carry hundreds of calls a second;
    /// raise the limit for calls that take long (`GET` of a large stored recording).
    pub fn max_connections(mut self, limit: Option<usize>) -> Self {
        self.max_connections = limit;
        self
    }

    /// Builds the client. Fails on an unusable base URL or TLS setup; makes no request.
    pub fn build(self) -> Result<Client> {
        if let Some(e) = self.config_error {
            return Err(Error::config(e));
        }
        let mut base = Url::parse(self.base_url.trim())
            .map_err(|e| Error::config(format!("base URL: {e}")))?;
        let https = match base.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(Error::config(format!(
                    "base URL scheme must be http or https, not {other}"
                )));
            }
        };
        if base.cannot_be_a_base() || base.host_str().is_none() {
            return Err(Error::config("base URL needs a host"));
        }
        let (mut username, mut password) = (self.username, self.password);
        if !base.username().is_empty() || base.password().is_some() {
            if username.is_empty() {
                username = percent_decode(base.username());
                password = Secret(percent_decode(base.password().unwrap_or("")));
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        base.set_query(None);
        base.set_fragment(None);
        if base.path().ends_with('/') {
            let trimmed = base.path().trim_end_matches('/').to_owned();
            base.set_path(&trimmed);
        }

        let tls = transport::tls_config(https, &self.tls)?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(limit) = self.max_connections {
            if limit == 0 {
                return Err(Error::config("max_connections must be at least 1"));
            }
            http = http.pool_max_idle_per_host(limit);
        }
        if let Some(t) = self.request_timeout {
            http = http.timeout(t);
        }
        #[cfg(feature = "rustls")]
        {
            http = http.tls_backend_preconfigured((*tls).clone());
        }
        let http = http
            .build()
            .map_err(|e| Error::config(format!("HTTP client: {e}")))?;

        let known_majors: Cow<'static, [u16]> = match self.known_majors {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(crate::default_known_majors()),
        };
        let http = Arc::new(carrier::Http {
            http,
            username: username.clone(),
            password: password.clone(),
            request_timeout: self.request_timeout,
            permits: self
                .max_connections
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
        });
        let ws_hub: Option<crate::events::rest::Hub> = self.rest_over_websocket.then(Arc::default);
        let carrier: Arc<dyn Carrier> = match &ws_hub {
            Some(hub) => Arc::new(crate::events::rest::WsCarrier::new(
                hub.clone(),
                self.request_timeout,
            )),
            None => http.clone(),
        };
        Ok(Client {
            carrier,
            inner: Arc::new(Inner {
                ws_hub,
                http,
                base,
                username,
                password,
                request_timeout: self.request_timeout,
                connect_timeout: self.connect_timeout,
                user_agent: self.user_agent,
                gate: self.gate,
                known_majors,
                version: OnceCell::new(),
                warned_unknown: AtomicBool::new(false),
                tls,
            }),
        })
    }
}

/// Url keeps userinfo percent-encoded; the credentials are the decoded text.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A connection to one Asterisk server's ARI. Cheap to clone: clones share the connection pool,
/// the configuration and the learned server release.
///
/// REST calls go through the client's [`Carrier`]: HTTP unless the client was made for another
/// (see [`carrier`](crate::carrier) for which carriers exist and which releases have them).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// What carries the calls; the HTTP one unless replaced by [`Client::with_carrier`].
    carrier: Arc<dyn Carrier>,
}

pub(crate) struct Inner {
    /// The sockets of this client's event streams, when it sends everything over them.
    pub(crate) ws_hub: Option<crate::events::rest::Hub>,
    /// The HTTP carrier, kept for calls another carrier cannot take (binary bodies).
    http: Arc<carrier::Http>,
    pub(crate) base: Url,
    pub(crate) username: String,
    pub(crate) password: Secret,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: String,
    gate: Gate,
    known_majors: Cow<'static, [u16]>,
    /// The server's version once learned; `None` inside when the server's answer did not tell.
    version: OnceCell<Option<ServerVersion>>,
    warned_unknown: AtomicBool,
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) tls: TlsConfig,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("username", &self.inner.username)
            .field("password", &self.inner.password)
            .field("request_timeout", &self.inner.request_timeout)
            .field("carrier", &self.carrier.name())
            .field("server_release", &self.known_release())
            .finish_non_exhaustive()
    }
}

/// Operation used to learn the server's release. Not generated, so the runtime does not depend
/// on the generated models; never gated.
static ASTERISK_INFO: OperationInfo = OperationInfo {
    resource: "asterisk",
    nickname: "getInfo",
    method: "GET",
    path: "/asterisk/info",
    summary: "Gets Asterisk system information.",
    params: &[],
    errors: &[],
    availability: Availability { ranges: &[] },
};

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for `base_url` with these credentials and default settings.
    pub fn new(
        base_url: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Client> {
        Client::builder()
            .base_url(base_url)
            .credentials(username, password)
            .build()
    }

    /// This client with its REST calls carried by `carrier` instead. The result shares this
    /// client's configuration and learned release; calls that want a binary body still go over
    /// HTTP when `carrier` cannot bring one back ([`Carrier::carries_binary`]).
    pub fn with_carrier(&self, carrier: Arc<dyn Carrier>) -> Client {
        Client {
            inner: self.inner.clone(),
            carrier,
        }
    }

    /// The name of the carrier this client's calls go over (`http`, `websocket`).
    pub fn carrier_name(&self) -> &'static str {
        self.carrier.name()
    }

    /// The ARI base URL, without credentials or trailing slash.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The ARI user name.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// Checks that the server answers and accepts the credentials, and learns its release for
    /// gating. Optional: without it the release is learned on the first call.
    pub async fn connect(&self) -> Result<Option<ServerVersion>> {
        let version = self.fetch_version().await?;
        if self.inner.gate == Gate::Detect {
            // A concurrent first call may have set it already; the answer is the same server's.
            let _ = self.inner.version.set(version.clone());
        }
        Ok(version)
    }

    /// The release used for gating, if it is known now (set by the builder or learned).
    pub fn known_release(&self) -> Option<Release> {
        match self.inner.gate {
            Gate::Fixed(r) => Some(r),
            Gate::Off => None,
            Gate::Detect => self
                .inner
                .version
                .get()
                .and_then(|v| v.as_ref())
                .and_then(|v| v.release),
        }
    }

    /// The server's version as learned for gating, asking the server if not done yet.
    /// `Ok(None)` when gating is off or fixed, or the server's answer did not tell.
    pub async fn server_version(&self) -> Result<Option<ServerVersion>> {
        if self.inner.gate != Gate::Detect {
            return Ok(None);
        }
        self.inner
            .version
            .get_or_try_init(|| self.fetch_version_lenient())
            .await
            .cloned()
    }

    async fn fetch_version(&self) -> Result<Option<ServerVersion>> {
        let mut req = Request::new(&ASTERISK_INFO);
        req.query("only", "system");
        // A carrier that some releases lack cannot be trusted to answer before the release is
        // known (an old server ignores REST frames), so the release is asked over HTTP.
        let client = match self.carrier.availability() {
            Some(_) => &self.with_carrier(self.inner.http.clone()),
            None => self,
        };
        let (_, body) = client.execute_ungated(&req, false).await?;
        let value: serde_json::Value = crate::decode::decode_json(&body)?;
        Ok(value
            .pointer("/system/version")
            .and_then(|v| v.as_str())
            .map(ServerVersion::parse))
    }

    /// Like `fetch_version`, but a definite non-answer (an HTTP error, an odd body) is cached as
    /// "unknown" so that it is not asked again on every call; transport failures are not cached.
    async fn fetch_version_lenient(&self) -> Result<Option<ServerVersion>> {
        match self.fetch_version().await {
            Ok(v) => {
                match &v {
                    Some(v) => tracing::debug!(server_version = %v, "learned Asterisk release"),
                    None => tracing::warn!("Asterisk did not report system.version; not gating"),
                }
                Ok(v)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    error::ErrorKind::Transport(_) | error::ErrorKind::Timeout
                ) =>
            {
                Err(e)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not learn the Asterisk release; not gating");
                Ok(None)
            }
        }
    }

    /// The release to gate against, learning it if needed. Failure to learn it never fails the
    /// call: the call itself will report a transport problem if there is one.
    async fn gate_release(&self) -> Option<Release> {
        match self.inner.gate {
            Gate::Off => None,
            Gate::Fixed(r) => Some(r),
            Gate::Detect => match self.server_version().await {
                Ok(v) => v.and_then(|v| v.release),
                Err(e) => {
                    tracing::debug!(error = %e, "release not learned yet; sending ungated");
                    None
                }
            },
        }
    }

    /// Refuses the request if the release does not ship the operation or a parameter it sets.
    fn check_support(&self, req: &Request, release: Release) -> Result<()> {
        let info = req.info;
        let majors = &self.inner.known_majors[..];
        let check = |item: UnsupportedItem, availability: Availability| -> Result<()> {
            match availability.support(release, majors) {
                Support::Yes => Ok(()),
                Support::No => Err(Error::new_unsupported(info, item, release, availability)),
                Support::Unknown => {
                    if !self.inner.warned_unknown.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            %release,
                            "the bindings do not know this Asterisk major line; calls are not gated"
                        );
                    }
                    Ok(())
                }
            }
        };
        if let Some(availability) = self.carrier.availability() {
            check(UnsupportedItem::Carrier(self.carrier.name()), availability)?;
        }
        check(UnsupportedItem::Operation, info.availability)?;
        for name in req.present_params() {
            if let Some(p) = info.param(name) {
                check(UnsupportedItem::Parameter(p.name), p.availability)?;
            }
        }
        Ok(())
    }

    /// Sends a request and decodes a JSON response into `T`.
    pub async fn send_json<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        let (_, body) = self.execute(&req, false).await?;
        crate::decode::decode_json(&body).map_err(|e| self.at(e.with_operation(req.info), &req))
    }

    /// Sends a request whose response has no body worth reading.
    pub async fn send_unit(&self, req: Request) -> Result<()> {
        self.execute(&req, false).await.map(|_| ())
    }

    /// Sends a request and returns the raw response body (recordings, sound files). Over a
    /// carrier that cannot bring back binary bodies, the call goes over HTTP.
    pub async fn send_binary(&self, req: Request) -> Result<Bytes> {
        self.execute(&req, true).await.map(|(_, body)| body)
    }

    /// Gates, sends, and turns a non-2xx answer into an error. The one non-generic path every
    /// generated call goes through.
    pub(crate) async fn execute(&self, req: &Request, binary: bool) -> Result<(u16, Bytes)> {
        crate::validate::check(req)?;
        if let Some(release) = self.gate_release().await {
            self.check_support(req, release)
                .map_err(|e| self.at(e, req))?;
        }
        self.execute_ungated(req, binary).await
    }

    /// Adds where the request goes to an error about it, when its URL can be made. The URL is
    /// made again here, on the failure path only, so that a call that succeeds keeps none.
    fn at(&self, e: Error, req: &Request) -> Error {
        match req.url(&self.inner.base) {
            Ok(url) => e.with_target(&url),
            Err(_) => e,
        }
    }

    async fn execute_ungated(&self, req: &Request, binary: bool) -> Result<(u16, Bytes)> {
        let info = req.info;
        let url = req.url(&self.inner.base)?;
        let span = tracing::debug_span!(
            "ari.request",
            operation = %format_args!("{}.{}", info.resource, info.nickname),
            method = info.method,
            path = info.path,
        );
        async move {
            let started = Instant::now();
            let result = self.exchange(req, url, binary).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok((status, body)) => {
                    tracing::debug!(status, elapsed_ms, bytes = body.len(), "ARI response")
                }
                Err(e) => {
                    tracing::debug!(status = e.status(), elapsed_ms, error = %e, "ARI call failed")
                }
            }
            result.map_err(|e| self.at(e.with_operation(info), req))
        }
        .instrument(span)
        .await
    }

    /// Hands the call to the carrier and reads the status of its reply, the same way for every
    /// carrier.
    async fn exchange(&self, req: &Request, url: Url, binary: bool) -> Result<(u16, Bytes)> {
        let info = req.info;
        let body = match req.body_value() {
            Some(body) => Some(
                serde_json::to_vec(&body)
                    .map_err(|e| Error::config(format!("request body: {e}")))?,
            ),
            None => None,
        };
        let call = Call {
            info,
            url,
            base_path_len: self.inner.base.path().len(),
            body,
            binary,
        };
        let carrier: &dyn Carrier = if binary && !self.carrier.carries_binary() {
            &*self.inner.http
        } else {
            &*self.carrier
        };
        let Reply {
            status,
            body,
            content_type,
        } = carrier.send(call).await?;
        // The base answered `/asterisk/info` already (the version learned for gating), so it is
        // the ARI root: ARI's "Resource not found" then means this server lacks the resource
        // (a module not loaded), an ordinary 404.
        let root_known = matches!(self.inner.version.get(), Some(Some(_)));
        if let Some(e) = not_ari(status, content_type.as_deref(), &body, root_known) {
            return Err(e);
        }
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        let message = asterisk_message(&body);
        if status == 401 {
            return Err(Error::unauthorized(message));
        }
        Err(Error::http(status, message, info.error_reason(status)))
    }
}

/// An answer that ARI never gives, which means the request did not reach ARI: a 404 that is not
/// JSON (Asterisk's HTTP server, like most, answers a path outside `/ari` with an HTML page), a
/// success that is an HTML page (a web server that serves one for every path), or ARI's own 404
/// for a path it has no resource at, unless `root_known` (the base is known to be ARI's root,
/// so the server lacks that resource). Other error statuses with an HTML body (a proxy's 502) are
/// left as they are: they may pass.
pub(crate) fn not_ari(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    root_known: bool,
) -> Option<Error> {
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let html = media
        .as_deref()
        .is_some_and(|m| m == "text/html" || m == "application/xhtml+xml");
    let json = media.as_deref().is_some_and(|m| m.ends_with("json"))
        || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    if (html && (200..300).contains(&status)) || (status == 404 && !json) {
        let shown = content_type.map(|c| c.chars().take(80).collect());
        return Some(Error::not_ari_root(status, error::NotAri::NotJson(shown)));
    }
    if status == 404
        && !root_known
        && asterisk_message(body).as_deref() == Some("Resource not found")
    {
        return Some(Error::not_ari_root(status, error::NotAri::NoResource));
    }
    None
}

/// Asterisk's error bodies are `{"message": "..."}`; anything else yields no message.
fn asterisk_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    serde_json::from_slice::<Body>(body)
        .ok()
        .map(|b| b.message)
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_json, decode_json_str};
    use crate::meta::{ParamInfo, ParamLocation, ReleaseRange};

    #[test]
    fn debug_never_shows_the_password() {
        let c = Client::builder()
            .base_url("http://127.0.0.1:8088/ari/")
            .credentials("asterisk", "s3cr3t-pass")
            .build()
            .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t-pass"), "{d}");
        assert!(d.contains("asterisk") && d.contains("<redacted>"), "{d}");
        let b = Client::builder().credentials("u", "s3cr3t-pass");
        assert!(!format!("{b:?}").contains("s3cr3t-pass"));
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:8088/ari");
    }

    #[test]
    fn credentials_in_url_are_moved_out_of_it() {
        let b = Client::builder().base_url("http://bob:p%40ss@10.0.0.1:8088/ari");
        assert!(!format!("{b:?}").contains("p%40ss"));
        let c = b.build().unwrap();
        assert_eq!(c.base_url().as_str(), "http://10.0.0.1:8088/ari");
        assert_eq!(c.username(), "bob");
        assert_eq!(c.inner.password.expose(), "p@ss");
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["ftp://h/ari", "not a url", "mailto:x@y"] {
            let e = Client::builder().base_url(bad).build().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}");
        }
    }

    static RANGES_18: &[ReleaseRange] = &[ReleaseRange {
        first: Release::new(18, 2, 0),
        last: None,
    }];
    static RANGES_ALL: &[ReleaseRange] = &[
        ReleaseRange {
            first: Release::new(16, 0, 0),
            last: None,
        },
        ReleaseRange {
            first: Release::new(18, 0, 0),
            last: None,
        },
    ];
    static OP: OperationInfo = OperationInfo {
        resource: "channels",
        nickname: "originate",
        method: "POST",
        path: "/channels",
        summary: "",
        params: &[
            ParamInfo {
                name: "endpoint",
                location: ParamLocation::Query,
                required: true,
                availability: Availability { ranges: RANGES_ALL },
            },
            ParamInfo {
                name: "formats",
                location: ParamLocation::Query,
                required: false,
                availability: Availability { ranges: RANGES_18 },
            },
        ],
        errors: &[],
        availability: Availability { ranges: RANGES_ALL },
    };
    static NEW_OP: OperationInfo = OperationInfo {
        availability: Availability { ranges: RANGES_18 },
        nickname: "externalMedia",
        ..OP
    };

    fn gated(release: Release) -> Client {
        Client::builder()
            .server_release(release)
            .known_majors(vec![16, 18, 20])
            .build()
            .unwrap()
    }

    #[test]
    fn gating_refuses_operations_and_parameters() {
        let c = gated(Release::new(16, 5, 0));
        let mut ok = Request::new(&OP);
        ok.query("endpoint", "PJSIP/1");
        assert!(c.check_support(&ok, Release::new(16, 5, 0)).is_ok());

        let mut with_formats = ok.clone();
        with_formats.query("formats", "ulaw");
        let e = c
            .check_support(&with_formats, Release::new(16, 5, 0))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            "channels.originate (POST /channels): parameter `formats` not supported by Asterisk 16.5.0; shipped in 18.2.0+"
        );
        assert!(
            c.check_support(&with_formats, Release::new(18, 2, 0))
                .is_ok()
        );

        let e = c
            .check_support(&Request::new(&NEW_OP), Release::new(18, 1, 0))
            .unwrap_err();
        assert_eq!(
            e.unsupported_item().map(|(i, _)| i.clone()),
            Some(UnsupportedItem::Operation)
        );
        // A major line the bindings do not know is never refused.
        assert!(
            c.check_support(&Request::new(&NEW_OP), Release::new(24, 0, 0))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn gated_call_fails_before_any_network() {
        // Port 9 on loopback: nothing listens, so only an early refusal can give `Unsupported`.
        let c = Client::builder()
            .base_url("http://127.0.0.1:9/ari")
            .server_release(Release::new(16, 5, 0))
            .known_majors(vec![16, 18])
            .build()
            .unwrap();
        let e = c.send_unit(Request::new(&NEW_OP)).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        let e = Client::builder()
            .base_url("http://127.0.0.1:9/ari")
            .release_gating(false)
            .known_majors(vec![16, 18])
            .build()
            .unwrap()
            .send_unit(Request::new(&NEW_OP))
            .await
            .unwrap_err();
        assert_eq!(
            e.kind(),
            crate::ErrorKind::Transport(crate::TransportKind::ConnectionRefused)
        );
    }

    #[test]
    fn decode_json_reports_path_and_excerpt() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Caller {
            name: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Chan {
            id: String,
            caller: Caller,
        }
        let body = br#"{"id":"1.2","caller":{"name":42}}"#;
        let e = decode_json::<Chan>(body).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Decode);
        assert_eq!(e.json_path(), Some("caller.name"));
        assert!(e.excerpt().unwrap().contains("\"name\":42"), "{e}");
        assert!(decode_json::<Chan>(b"{\"id\":\"1\",\"caller\":{\"name\":\"a\"}} x").is_err());
        // The text form reports alike.
        let s = std::str::from_utf8(body).unwrap();
        let e = decode_json_str::<Chan>(s).unwrap_err();
        assert_eq!(e.json_path(), Some("caller.name"));
        assert!(e.excerpt().unwrap().contains("\"name\":42"), "{e}");
        assert!(decode_json_str::<Chan>("{\"id\":\"1\",\"caller\":{\"name\":\"a\"}} x").is_err());
    }

    #[test]
    fn a_body_that_is_not_utf8_is_a_decode_error() {
        let e = decode_json::<serde_json::Value>(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Decode);
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn asterisk_message_is_read_from_error_bodies() {
        assert_eq!(
            asterisk_message(br#"{"message":"Channel not found"}"#).as_deref(),
            Some("Channel not found")
        );
        assert_eq!(asterisk_message(b"<html>"), None);
        assert_eq!(asterisk_message(br#"{"message":""}"#), None);
    }
}
