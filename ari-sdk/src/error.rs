//! The one error type of the crate.
//!
//! Every error carries, when it concerns an operation, the operation's [`OperationInfo`] and, once
//! the request's URL is known, the server and the concrete path it went to, so that the message
//! names the call that failed and where
//! ("channels.get (GET http://127.0.0.1:8088/ari/channels/1761.42): ...") and code can branch on
//! [`Error::kind`] without parsing text. The query string is never shown, and credentials are
//! never part of the URL.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::meta::{Availability, OperationInfo, Release};

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, for code that branches on the failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection could not be made or broke; see the sub-kind.
    Transport(TransportKind),
    /// The request or the connection attempt took longer than allowed.
    Timeout,
    /// The server answered with an error status other than 401.
    Http,
    /// The server rejected the credentials (HTTP 401). Retrying with the same credentials will
    /// not help, so reconnect logic stops on it.
    Unauthorized,
    /// The response body did not match the expected type.
    Decode,
    /// The connected server's release does not ship the operation or one of its parameters.
    Unsupported,
    /// An argument was rejected before sending (a value outside the documented list or range).
    InvalidArgument,
    /// The events WebSocket misbehaved (protocol error, malformed frame).
    WebSocket,
    /// The events connection was closed and will not reconnect.
    Closed,
    /// The client was configured with something unusable (a bad base URL, no tokio runtime).
    Config,
    /// The base URL does not lead to ARI: the server answered a request under it the way a
    /// server does for a path it has no ARI resource at (an HTML page, or ARI's own "Resource
    /// not found"). Usually the base URL lacks `/ari` or has it twice, or points at another HTTP
    /// server. Retrying cannot help.
    NotAriRoot,
    /// A channel was hung up before the flow that waited on it got what it waited for (an
    /// originated call that was not answered, say): [`Error::hangup_cause`] has Asterisk's
    /// hangup cause.
    Hangup,
}

/// Why a connection could not be made or broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// Nothing listens at the address (the server is down or the port is wrong).
    ConnectionRefused,
    /// The peer reset or closed the connection mid-exchange.
    ConnectionReset,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Any other I/O failure.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::ConnectionRefused => "connection refused",
            TransportKind::ConnectionReset => "connection reset",
            TransportKind::Dns => "name resolution failed",
            TransportKind::Tls => "TLS failure",
            TransportKind::Other => "transport failure",
        })
    }
}

/// What a server's release does not ship.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsupportedItem {
    /// The operation itself.
    Operation,
    /// A parameter of the operation, by wire name.
    Parameter(&'static str),
    /// The carrier the client sends calls over (`websocket`: REST over the events WebSocket).
    Carrier(&'static str),
}

/// An error from the ARI client.
///
/// Boxed inside so that `Result<T, Error>` stays one pointer wide.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    operation: Option<&'static OperationInfo>,
    /// Where the request went: `scheme://host:port` and the concrete path, without query.
    target: Option<Target>,
    repr: Repr,
    source: Option<BoxError>,
}

/// The server and the concrete path of a request.
#[derive(Debug)]
struct Target {
    /// `http://127.0.0.1:8088`: scheme, host and port (always explicit).
    origin: String,
    /// `host:port`, the part of `origin` after the scheme.
    server_at: usize,
    /// `/ari/channels/1761.42`, percent-encoded as sent.
    path: String,
}

/// Why a base URL was taken for something other than an ARI root.
#[derive(Debug)]
pub(crate) enum NotAri {
    /// The answer was not JSON (Asterisk's own HTTP server answers paths outside `/ari` with an
    /// HTML 404 page); the content type, as the server gave it.
    NotJson(Option<String>),
    /// ARI itself answered "Resource not found": nothing at this path under the base URL.
    NoResource,
}

#[derive(Debug)]
enum Repr {
    Transport(TransportKind),
    Timeout(Option<Duration>, Option<&'static str>),
    Http {
        status: u16,
        message: Option<String>,
        reason: Option<&'static str>,
    },
    Unauthorized {
        message: Option<String>,
    },
    Decode {
        path: String,
        message: String,
        excerpt: String,
    },
    Unsupported {
        item: UnsupportedItem,
        server: Release,
        availability: Availability,
    },
    InvalidArgument {
        param: String,
        message: String,
    },
    WebSocket(String),
    Closed(Option<String>),
    Config(String),
    NotAriRoot {
        status: u16,
        why: NotAri,
    },
    Hangup {
        channel_id: String,
        cause: Option<(i64, String)>,
        waiting_for: &'static str,
    },
}

impl Error {
    fn new(repr: Repr) -> Error {
        Error {
            inner: Box::new(Inner {
                operation: None,
                target: None,
                repr,
                source: None,
            }),
        }
    }

    pub(crate) fn with_operation(mut self, info: &'static OperationInfo) -> Error {
        self.inner.operation = Some(info);
        self
    }

    /// Records where the request went: scheme, host and port, and the path, never the query or
    /// any userinfo. Keeps a target already set (the first one is where the failure happened).
    pub(crate) fn with_target(mut self, url: &url::Url) -> Error {
        if self.inner.target.is_none() {
            let host = match url.host() {
                Some(url::Host::Ipv6(a)) => format!("[{a}]"),
                Some(h) => h.to_string(),
                None => String::new(),
            };
            let port = url
                .port_or_known_default()
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let scheme = url.scheme();
            self.inner.target = Some(Target {
                origin: format!("{scheme}://{host}{port}"),
                server_at: scheme.len() + 3,
                path: url.path().to_owned(),
            });
        }
        self
    }

    fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.inner.source = Some(source.into());
        self
    }

    /// An argument that the operation's spec does not allow, found before sending. Used by the
    /// generated builders for values outside a documented list or range.
    pub fn invalid_argument(
        info: &'static OperationInfo,
        param: &str,
        message: impl Into<String>,
    ) -> Error {
        Error::new(Repr::InvalidArgument {
            param: param.to_owned(),
            message: message.into(),
        })
        .with_operation(info)
    }

    pub(crate) fn transport(kind: TransportKind, source: impl Into<BoxError>) -> Error {
        Error::new(Repr::Transport(kind)).with_source(source)
    }

    pub(crate) fn timeout(after: Option<Duration>) -> Error {
        Error::new(Repr::Timeout(after, None))
    }

    /// A timeout with a note on what was awaited.
    pub(crate) fn timeout_because(after: Duration, note: &'static str) -> Error {
        Error::new(Repr::Timeout(Some(after), Some(note)))
    }

    pub(crate) fn http(
        status: u16,
        message: Option<String>,
        reason: Option<&'static str>,
    ) -> Error {
        Error::new(Repr::Http {
            status,
            message,
            reason,
        })
    }

    pub(crate) fn unauthorized(message: Option<String>) -> Error {
        Error::new(Repr::Unauthorized { message })
    }

    pub(crate) fn decode(path: String, message: String, excerpt: String) -> Error {
        Error::new(Repr::Decode {
            path,
            message,
            excerpt,
        })
    }

    pub(crate) fn new_unsupported(
        info: &'static OperationInfo,
        item: UnsupportedItem,
        server: Release,
        availability: Availability,
    ) -> Error {
        Error::new(Repr::Unsupported {
            item,
            server,
            availability,
        })
        .with_operation(info)
    }

    pub(crate) fn websocket(message: impl Into<String>) -> Error {
        Error::new(Repr::WebSocket(message.into()))
    }

    pub(crate) fn websocket_with(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::websocket(message).with_source(source)
    }

    pub(crate) fn closed(why: Option<String>) -> Error {
        Error::new(Repr::Closed(why))
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(Repr::Config(message.into()))
    }

    pub(crate) fn hangup(
        channel_id: impl Into<String>,
        cause: Option<(i64, String)>,
        waiting_for: &'static str,
    ) -> Error {
        Error::new(Repr::Hangup {
            channel_id: channel_id.into(),
            cause,
            waiting_for,
        })
    }

    pub(crate) fn not_ari_root(status: u16, why: NotAri) -> Error {
        Error::new(Repr::NotAriRoot { status, why })
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        match &self.inner.repr {
            Repr::Transport(k) => ErrorKind::Transport(*k),
            Repr::Timeout(..) => ErrorKind::Timeout,
            Repr::Http { .. } => ErrorKind::Http,
            Repr::Unauthorized { .. } => ErrorKind::Unauthorized,
            Repr::Decode { .. } => ErrorKind::Decode,
            Repr::Unsupported { .. } => ErrorKind::Unsupported,
            Repr::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Repr::WebSocket(_) => ErrorKind::WebSocket,
            Repr::Closed(_) => ErrorKind::Closed,
            Repr::Config(_) => ErrorKind::Config,
            Repr::NotAriRoot { .. } => ErrorKind::NotAriRoot,
            Repr::Hangup { .. } => ErrorKind::Hangup,
        }
    }

    /// The server the request went to, as `host:port` (`127.0.0.1:8088`), when the error
    /// concerns a request whose URL was made.
    pub fn server(&self) -> Option<&str> {
        self.inner.target.as_ref().map(|t| &t.origin[t.server_at..])
    }

    /// The concrete path the request went to (`/ari/channels/1761.42`, percent-encoded as
    /// sent), when the error concerns a request whose URL was made.
    pub fn url_path(&self) -> Option<&str> {
        self.inner.target.as_ref().map(|t| t.path.as_str())
    }

    /// The operation the error concerns, if any.
    pub fn operation(&self) -> Option<&'static OperationInfo> {
        self.inner.operation
    }

    /// The HTTP status the server answered with, for [`ErrorKind::Http`] and
    /// [`ErrorKind::Unauthorized`].
    pub fn status(&self) -> Option<u16> {
        match &self.inner.repr {
            Repr::Http { status, .. } => Some(*status),
            Repr::Unauthorized { .. } => Some(401),
            Repr::NotAriRoot { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `message` of Asterisk's JSON error body, when it sent one.
    pub fn asterisk_message(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::Http { message, .. } | Repr::Unauthorized { message } => message.as_deref(),
            _ => None,
        }
    }

    /// The reason the spec documents for this status on this operation, e.g. "Channel not found".
    pub fn documented_reason(&self) -> Option<&'static str> {
        match &self.inner.repr {
            Repr::Http { reason, .. } => *reason,
            _ => None,
        }
    }

    /// For a decode error, the JSON path where decoding failed, e.g. `channel.caller.name`.
    pub fn json_path(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::Decode { path, .. } => Some(path),
            _ => None,
        }
    }

    /// For a decode error, a short piece of the body around the failure.
    pub fn excerpt(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::Decode { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }

    /// For an unsupported-by-server error, the server's release.
    pub fn server_release(&self) -> Option<Release> {
        match &self.inner.repr {
            Repr::Unsupported { server, .. } => Some(*server),
            _ => None,
        }
    }

    /// For an unsupported-by-server error, what is unsupported and the releases that ship it.
    pub fn unsupported_item(&self) -> Option<(&UnsupportedItem, Availability)> {
        match &self.inner.repr {
            Repr::Unsupported {
                item, availability, ..
            } => Some((item, *availability)),
            _ => None,
        }
    }

    /// For an invalid-argument error, the parameter's wire name.
    pub fn invalid_param(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::InvalidArgument { param, .. } => Some(param),
            _ => None,
        }
    }

    /// Whether trying again later could succeed: transport failures, timeouts and 5xx answers.
    pub fn is_transient(&self) -> bool {
        self.is_transient_inner()
    }

    /// For [`ErrorKind::Hangup`]: the Q.850 hangup cause and Asterisk's text for it (from
    /// `ChannelDestroyed`), when known.
    pub fn hangup_cause(&self) -> Option<(i64, &str)> {
        match &self.inner.repr {
            Repr::Hangup {
                cause: Some((code, text)),
                ..
            } => Some((*code, text.as_str())),
            _ => None,
        }
    }

    /// Whether this is Asterisk's `404` (the resource is not there, or no longer).
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::Http && self.status() == Some(404)
    }

    fn is_transient_inner(&self) -> bool {
        match &self.inner.repr {
            Repr::Transport(k) => *k != TransportKind::Tls,
            Repr::Timeout(..) => true,
            Repr::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

fn canonical_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inner.operation, &self.inner.target) {
            (Some(op), Some(t)) => write!(
                f,
                "{}.{} ({} {}{}): ",
                op.resource, op.nickname, op.method, t.origin, t.path
            )?,
            (Some(op), None) => write!(
                f,
                "{}.{} ({} {}): ",
                op.resource, op.nickname, op.method, op.path
            )?,
            (None, Some(t)) => write!(f, "{}{}: ", t.origin, t.path)?,
            (None, None) => {}
        }
        match &self.inner.repr {
            // The underlying error is `source()`, not part of the message: printing both would
            // show it twice in any report that walks the chain (anyhow's `{:#}`).
            Repr::Transport(kind) => write!(f, "{kind}"),
            Repr::Timeout(after, note) => {
                f.write_str("timed out")?;
                if let Some(d) = after {
                    write!(f, " after {d:?}")?;
                }
                if let Some(note) = note {
                    write!(f, ": {note}")?;
                }
                Ok(())
            }
            Repr::Http {
                status,
                message,
                reason,
            } => {
                write!(f, "{status} {}", canonical_reason(*status))?;
                if let Some(reason) = reason {
                    write!(f, ": {reason}")?;
                }
                if let Some(message) = message {
                    write!(f, " (Asterisk: {message:?})")?;
                }
                Ok(())
            }
            Repr::Unauthorized { message } => {
                f.write_str("401 Unauthorized: the server rejected the ARI credentials")?;
                if let Some(message) = message {
                    write!(f, " (Asterisk: {message:?})")?;
                }
                Ok(())
            }
            Repr::Decode {
                path,
                message,
                excerpt,
            } => {
                write!(f, "could not decode the response at `{path}`: {message}")?;
                if !excerpt.is_empty() {
                    write!(f, " (near: {excerpt})")?;
                }
                Ok(())
            }
            Repr::Unsupported {
                item,
                server,
                availability,
            } => {
                match item {
                    UnsupportedItem::Operation => f.write_str("not supported")?,
                    UnsupportedItem::Parameter(p) => write!(f, "parameter `{p}` not supported")?,
                    UnsupportedItem::Carrier(c) => write!(f, "REST over {c} not supported")?,
                }
                write!(f, " by Asterisk {server}; ")?;
                if availability.ranges.is_empty() {
                    f.write_str("no known release ships it")
                } else {
                    write!(f, "shipped in {availability}")
                }
            }
            Repr::InvalidArgument { param, message } => {
                write!(f, "invalid argument `{param}`: {message}")
            }
            Repr::WebSocket(message) => write!(f, "events websocket: {message}"),
            Repr::Closed(None) => f.write_str("the events connection is closed"),
            Repr::Closed(Some(why)) => write!(f, "the events connection is closed: {why}"),
            Repr::Config(message) => write!(f, "invalid configuration: {message}"),
            Repr::NotAriRoot { status, why } => {
                write!(f, "{status} {}: ", canonical_reason(*status))?;
                let base = self.base_hint();
                match why {
                    NotAri::NotJson(ctype) => {
                        f.write_str("the server answered ")?;
                        match ctype {
                            Some(c) => write!(f, "with {c}")?,
                            None => f.write_str("without a content type")?,
                        }
                        write!(
                            f,
                            ", not with ARI's JSON: the base URL{base} is not an ARI root \
                             (Asterisk serves ARI under /ari, e.g. http://host:8088/ari)"
                        )
                    }
                    NotAri::NoResource => write!(
                        f,
                        "ARI has no resource at this path (Asterisk: \"Resource not found\"): \
                         the base URL{base} is not the ARI root (is /ari there twice?), or this \
                         server's release lacks the operation"
                    ),
                }
            }
            Repr::Hangup {
                channel_id,
                cause,
                waiting_for,
            } => {
                write!(f, "channel {channel_id} was hung up before {waiting_for}")?;
                match cause {
                    Some((code, text)) => write!(f, " (hangup cause {code}: {text})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Error {
    /// ` http://host:port/prefix`: the base URL the failed path was made from, told apart from
    /// the operation's own path by the template; empty when unknown.
    fn base_hint(&self) -> String {
        let (Some(t), Some(op)) = (&self.inner.target, self.inner.operation) else {
            return String::new();
        };
        // The template's number of segments, taken off the end of the concrete path.
        let n = op.path.split('/').filter(|s| !s.is_empty()).count();
        let mut prefix = t.path.as_str();
        for _ in 0..n {
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => break,
            }
        }
        format!(" {}{}", t.origin, prefix)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind());
        if let Some(op) = self.inner.operation {
            d.field(
                "operation",
                &format_args!("{}.{}", op.resource, op.nickname),
            );
        }
        if let Some(t) = &self.inner.target {
            d.field("at", &format_args!("{}{}", t.origin, t.path));
        }
        d.field("detail", &self.inner.repr);
        if let Some(src) = &self.inner.source {
            d.field("source", src);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Sorts a reqwest failure into timeout or transport with a sub-kind, looking through the chain
/// of causes because reqwest wraps hyper which wraps the socket error.
pub(crate) fn from_reqwest(err: reqwest::Error, timeout: Option<Duration>) -> Error {
    if err.is_timeout() {
        return Error::timeout(timeout).with_source(err);
    }
    let kind = classify_chain(&err);
    Error::transport(kind, err)
}

/// The transport sub-kind of an error, from the first recognisable cause in its chain.
pub(crate) fn classify_chain(err: &(dyn StdError + 'static)) -> TransportKind {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return TransportKind::ConnectionRefused,
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    return TransportKind::ConnectionReset;
                }
                _ => {}
            }
            // rustls reports handshake failures as an io::Error wrapping a rustls::Error, and
            // hyper-util wraps that io::Error in another one. An io::Error's `source()` skips the
            // error it wraps, so the wrapped ones are walked here.
            #[cfg(feature = "rustls")]
            {
                let mut inner = io.get_ref();
                while let Some(i) = inner {
                    if i.downcast_ref::<rustls::Error>().is_some() {
                        return TransportKind::Tls;
                    }
                    inner = i
                        .downcast_ref::<std::io::Error>()
                        .and_then(|io| io.get_ref());
                }
            }
        }
        #[cfg(feature = "rustls")]
        if e.downcast_ref::<rustls::Error>().is_some() {
            return TransportKind::Tls;
        }
        // hyper-util names resolver failures only in its message; the type is private.
        let text = e.to_string();
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return TransportKind::Dns;
        }
        if text.contains("connection closed before message completed") {
            return TransportKind::ConnectionReset;
        }
        cur = e.source();
    }
    TransportKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{ErrorInfo, ReleaseRange};

    static GET: OperationInfo = OperationInfo {
        resource: "channels",
        nickname: "get",
        method: "GET",
        path: "/channels/{channelId}",
        summary: "Channel details.",
        params: &[],
        errors: &[ErrorInfo {
            code: 404,
            reason: "Channel not found",
        }],
        availability: Availability { ranges: &[] },
    };

    #[test]
    fn http_display_names_operation_reason_and_message() {
        let e = Error::http(404, Some("Channel not found".into()), GET.error_reason(404))
            .with_operation(&GET);
        assert_eq!(
            e.to_string(),
            "channels.get (GET /channels/{channelId}): 404 Not Found: Channel not found (Asterisk: \"Channel not found\")"
        );
        assert_eq!(e.kind(), ErrorKind::Http);
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.documented_reason(), Some("Channel not found"));
        assert_eq!(e.asterisk_message(), Some("Channel not found"));
        assert!(!e.is_transient());
    }

    #[test]
    fn unsupported_display() {
        static R: &[ReleaseRange] = &[ReleaseRange {
            first: Release::new(18, 2, 0),
            last: None,
        }];
        let e = Error::new_unsupported(
            &GET,
            UnsupportedItem::Parameter("formats"),
            Release::new(16, 3, 0),
            Availability { ranges: R },
        );
        assert_eq!(
            e.to_string(),
            "channels.get (GET /channels/{channelId}): parameter `formats` not supported by Asterisk 16.3.0; shipped in 18.2.0+"
        );
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.server_release(), Some(Release::new(16, 3, 0)));
    }

    #[test]
    fn error_is_small() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
