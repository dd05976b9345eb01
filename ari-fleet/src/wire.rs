//! The subjects and message formats of the fleet, as `docs/FLEET.md` describes them: the one
//! place both sides (and the tests) take them from.

use serde::{Deserialize, Serialize};

use crate::error::{FleetError, Result};

/// The subject prefix used unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "ari";

/// Header names of the REST request/reply and of events. NATS headers are case-sensitive as
/// written here.
pub mod header {
    /// REST request: the HTTP method.
    pub const METHOD: &str = "Ari-Method";
    /// REST request: the path below the ARI base, no leading slash, percent-encoded.
    pub const PATH: &str = "Ari-Path";
    /// REST request: the query string, `application/x-www-form-urlencoded`.
    pub const QUERY: &str = "Ari-Query";
    /// REST request: the instance that sends it, which owns what it creates.
    pub const INSTANCE: &str = "Ari-Instance";
    /// REST reply: the HTTP status Asterisk answered with.
    pub const STATUS: &str = "Ari-Status";
    /// REST reply: the proxy got no answer from Asterisk; the value is why (see
    /// [`ProxyFailure`](super::ProxyFailure)), the payload a message.
    pub const ERROR: &str = "Ari-Error";
    /// REST request and reply: the body's media type.
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// Events and call offers: the server id.
    pub const SERVER: &str = "Ari-Server";
    /// Events and call offers: the event's `type`.
    pub const EVENT_TYPE: &str = "Ari-Event-Type";
    /// Events: the resources whose life in the application this event ends (space-separated
    /// resource keys); the proxy forgets their owner after sending it.
    pub const ENDS: &str = "Ari-Ends";
    /// Call offers: the server's Asterisk release, e.g. `22.10.1`.
    pub const RELEASE: &str = "Ari-Release";
    /// Call offers: the proxy's boot id.
    pub const BOOT: &str = "Ari-Boot";
}

/// Checks one token of a subject (server id, app name, instance id): NATS tokens cannot hold
/// `.`, `*`, `>` or white space; we allow `A-Z a-z 0-9 _ -`, which is also a valid host label.
pub fn check_token(what: &str, token: &str) -> Result<()> {
    let ok = !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FleetError::Config(format!(
            "{what} {token:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )))
    }
}

/// Checks a subject prefix: one or more tokens joined by dots.
pub fn check_prefix(prefix: &str) -> Result<()> {
    prefix
        .split('.')
        .try_for_each(|t| check_token("subject prefix part", t))
}

/// The subjects of one fleet, under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix` (checked: tokens of `A-Z a-z 0-9 _ -` joined by dots).
    pub fn new(prefix: &str) -> Result<Subjects> {
        check_prefix(prefix)?;
        Ok(Subjects {
            prefix: prefix.to_owned(),
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P.announce.{server}`: a proxy's [`Announce`].
    pub fn announce(&self, server: &str) -> String {
        format!("{}.announce.{server}", self.prefix)
    }

    /// `P.announce.*`: every proxy's announcements.
    pub fn announce_all(&self) -> String {
        format!("{}.announce.*", self.prefix)
    }

    /// `P.discover`: asks every proxy to announce itself now.
    pub fn discover(&self) -> String {
        format!("{}.discover", self.prefix)
    }

    /// `P.rest.{server}`: REST calls to one server, request/reply.
    pub fn rest(&self, server: &str) -> String {
        format!("{}.rest.{server}", self.prefix)
    }

    /// `P.calls.{app}.{server}`: new calls of an app on a server, offered to one instance.
    pub fn calls(&self, app: &str, server: &str) -> String {
        format!("{}.calls.{app}.{server}", self.prefix)
    }

    /// `P.calls.{app}.*`: new calls of an app on every server.
    pub fn calls_all(&self, app: &str) -> String {
        format!("{}.calls.{app}.*", self.prefix)
    }

    /// `P.inst.{instance}.{server}`: events of the resources an instance owns on a server.
    pub fn owned(&self, instance: &str, server: &str) -> String {
        format!("{}.inst.{instance}.{server}", self.prefix)
    }

    /// `P.inst.{instance}.*`: events of the resources an instance owns, every server.
    pub fn owned_all(&self, instance: &str) -> String {
        format!("{}.inst.{instance}.*", self.prefix)
    }

    /// `P.events.{app}.{server}`: an app's events that no instance owns (and, when the proxy
    /// mirrors, every event).
    pub fn events(&self, app: &str, server: &str) -> String {
        format!("{}.events.{app}.{server}", self.prefix)
    }

    /// `P.claim.{server}`: ownership claims, request/reply.
    pub fn claim(&self, server: &str) -> String {
        format!("{}.claim.{server}", self.prefix)
    }

    /// `P.alive.{instance}`: an instance's heartbeat.
    pub fn alive(&self, instance: &str) -> String {
        format!("{}.alive.{instance}", self.prefix)
    }

    /// `P.alive.*`: every instance's heartbeat.
    pub fn alive_all(&self) -> String {
        format!("{}.alive.*", self.prefix)
    }

    /// `P.notice.{server}`: a proxy's [`Notice`]s.
    pub fn notice(&self, server: &str) -> String {
        format!("{}.notice.{server}", self.prefix)
    }

    /// `P.notice.*`: every proxy's notices.
    pub fn notice_all(&self) -> String {
        format!("{}.notice.*", self.prefix)
    }

    /// The last token of a subject (the server id of `P.inst.{instance}.{server}`, ...).
    pub fn last_token(subject: &str) -> &str {
        subject.rsplit('.').next().unwrap_or("")
    }
}

/// A proxy announcing itself on `P.announce.{server}`: at start, every `interval_ms`, and when
/// asked on `P.discover`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    /// The server's id in the fleet.
    pub server: String,
    /// Changes each time the proxy starts: a new boot means its ownership table is new.
    pub boot: String,
    /// Asterisk's version string as it reports it (`system.version` of `GET /asterisk/info`),
    /// e.g. `22.10.1 (22.10.1+dfsg-1)`.
    pub asterisk_version: Option<String>,
    /// The release number read from it, `22.10.1`: what clients gate calls by.
    pub release: Option<String>,
    /// The applications the proxy holds the events connection for.
    pub apps: Vec<String>,
    /// Whether the events connection to Asterisk is up now.
    pub connected: bool,
    /// How often the proxy announces itself, in milliseconds.
    pub interval_ms: u64,
}

/// A notice from a proxy on `P.notice.{server}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Notice {
    /// The events connection to Asterisk was lost and is back (Asterisk restarted, say):
    /// events in between are lost; resync.
    Reconnected {
        /// The server.
        server: String,
        /// The proxy's boot id.
        boot: String,
        /// How long the connection was down, in milliseconds.
        downtime_ms: u64,
    },
}

/// The answer of an instance that takes an offered call (payload of the reply on
/// `P.calls.{app}.{server}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The instance that took the call and now owns its channel.
    pub instance: String,
}

/// An ownership claim on `P.claim.{server}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claiming instance.
    pub instance: String,
    /// Resource keys: `channel:ID`, `bridge:ID`, `playback:ID`, `recording:NAME`.
    pub resources: Vec<String>,
}

/// The proxy's answer to a [`Claim`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReply {
    /// The keys now owned by the claimant (including those it owned already).
    pub claimed: Vec<String>,
    /// The keys another live instance owns, with that owner.
    pub refused: Vec<Refused>,
}

/// A claim refused because another instance owns the resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The resource key.
    pub resource: String,
    /// Its owner.
    pub owner: String,
}

/// An instance's heartbeat on `P.alive.{instance}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alive {
    /// The instance.
    pub instance: String,
    /// Its application.
    pub app: Option<String>,
    /// How often it beats, in milliseconds.
    pub interval_ms: u64,
}

/// Why the proxy could not get an answer from Asterisk (the `Ari-Error` header of a REST reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyFailure {
    /// Nothing listens at Asterisk's address.
    ConnectionRefused,
    /// The connection broke mid-exchange.
    ConnectionReset,
    /// Asterisk did not answer in time.
    Timeout,
    /// The request itself was malformed (missing header, bad method).
    BadRequest,
    /// Anything else.
    Other,
}

impl ProxyFailure {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyFailure::ConnectionRefused => "connection-refused",
            ProxyFailure::ConnectionReset => "connection-reset",
            ProxyFailure::Timeout => "timeout",
            ProxyFailure::BadRequest => "bad-request",
            ProxyFailure::Other => "other",
        }
    }

    /// Reads a header value; unknown values are `Other`.
    pub fn parse(s: &str) -> ProxyFailure {
        match s {
            "connection-refused" => ProxyFailure::ConnectionRefused,
            "connection-reset" => ProxyFailure::ConnectionReset,
            "timeout" => ProxyFailure::Timeout,
            "bad-request" => ProxyFailure::BadRequest,
            _ => ProxyFailure::Other,
        }
    }
}

/// The resources a REST call creates under ids it names itself, as resource keys, so that they
/// are owned by the caller before Asterisk sends their first event. `path` is below the ARI
/// base without a leading slash, percent-encoded; `query` is form-encoded.
pub fn created_by_request(method: &str, path: &str, query: &str) -> Vec<String> {
    if !method.eq_ignore_ascii_case("POST") {
        return Vec::new();
    }
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let param = |name: &str| -> Option<String> {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let mut out = Vec::new();
    let mut push = |kind: &str, id: Option<String>| {
        if let Some(id) = id {
            out.push(format!("{kind}:{id}"));
        }
    };
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["channels"] | ["channels", "create"] => {
            push("channel", param("channelId"));
            push("channel", param("otherChannelId"));
        }
        ["channels", "externalMedia"] => push("channel", param("channelId")),
        ["channels", id] => {
            push("channel", Some((*id).to_owned()));
            push("channel", param("otherChannelId"));
        }
        ["channels", _, "snoop"] => push("channel", param("snoopId")),
        ["channels", _, "snoop", id] => push("channel", Some((*id).to_owned())),
        ["channels" | "bridges", _, "play"] => push("playback", param("playbackId")),
        ["channels" | "bridges", _, "play", id] => push("playback", Some((*id).to_owned())),
        ["channels" | "bridges", _, "record"] => push("recording", param("name")),
        ["bridges"] => push("bridge", param("bridgeId")),
        ["bridges", id] => push("bridge", Some((*id).to_owned())),
        _ => {}
    }
    out
}

/// For a REST call that creates a resource, the kind of resource key its answer's `id` names
/// (`channel`, `bridge`, `playback`), so that an id Asterisk chose is owned too.
pub fn created_kind(method: &str, path: &str) -> Option<&'static str> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    match s.as_slice() {
        ["channels"] | ["channels", "create"] | ["channels", "externalMedia"] => Some("channel"),
        ["channels", _, "snoop"] => Some("channel"),
        ["channels" | "bridges", _, "play"] => Some("playback"),
        ["bridges"] => Some("bridge"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_with_a_clear_error() {
        assert!(check_token("server id", "ast-22_a").is_ok());
        for bad in ["", "a.b", "a*", "a b", ">", "é"] {
            let e = check_token("server id", bad).unwrap_err();
            assert!(e.to_string().contains("server id"), "{e}");
        }
        assert!(Subjects::new("ari.prod").is_ok());
        assert!(Subjects::new("ari..x").is_err());
    }

    #[test]
    fn subjects_follow_the_documented_layout() {
        let s = Subjects::new("ari").unwrap();
        assert_eq!(s.rest("s1"), "ari.rest.s1");
        assert_eq!(s.calls("app", "s1"), "ari.calls.app.s1");
        assert_eq!(s.owned("i1", "s1"), "ari.inst.i1.s1");
        assert_eq!(s.events("app", "s1"), "ari.events.app.s1");
        assert_eq!(Subjects::last_token("ari.inst.i1.s1"), "s1");
    }

    #[test]
    fn requests_that_create_name_what_they_create() {
        let c = |m, p, q| created_by_request(m, p, q);
        assert_eq!(
            c(
                "POST",
                "channels",
                "endpoint=Local%2Fx&channelId=a1&otherChannelId=a2"
            ),
            ["channel:a1", "channel:a2"]
        );
        assert_eq!(c("POST", "channels/a%2F1", "endpoint=x"), ["channel:a/1"]);
        assert_eq!(
            c("POST", "channels/c/play/p1", "media=sound:x"),
            ["playback:p1"]
        );
        assert_eq!(
            c("POST", "bridges/c/play", "playbackId=p2"),
            ["playback:p2"]
        );
        assert_eq!(
            c("POST", "bridges", "type=mixing&bridgeId=b1"),
            ["bridge:b1"]
        );
        assert_eq!(c("POST", "bridges/b2", ""), ["bridge:b2"]);
        assert_eq!(
            c("POST", "channels/c/record", "name=r1&format=wav"),
            ["recording:r1"]
        );
        assert!(c("POST", "channels/c/answer", "").is_empty());
        assert!(c("DELETE", "channels/c", "").is_empty());
        assert!(c("POST", "bridges/b/addChannel", "channel=c").is_empty());
        assert_eq!(created_kind("POST", "channels"), Some("channel"));
        assert_eq!(created_kind("POST", "channels/c/answer"), None);
    }

    #[test]
    fn messages_round_trip_as_documented() {
        let n = Notice::Reconnected {
            server: "s".into(),
            boot: "b".into(),
            downtime_ms: 5,
        };
        let text = serde_json::to_string(&n).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"reconnected","server":"s","boot":"b","downtime_ms":5}"#
        );
        assert_eq!(serde_json::from_str::<Notice>(&text).unwrap(), n);
        for f in [
            ProxyFailure::ConnectionRefused,
            ProxyFailure::ConnectionReset,
            ProxyFailure::Timeout,
            ProxyFailure::BadRequest,
        ] {
            assert_eq!(ProxyFailure::parse(f.as_str()), f);
        }
    }
}
