//! chan_websocket's control messages: the events Asterisk sends and the commands it accepts, in
//! both control formats (the legacy plain-text lines and JSON).
//!
//! Facts from `channels/chan_websocket.c` (22.10.1): a plain-text event is `NAME key:value ...`
//! (`MEDIA_MARK_PROCESSED` and `MEDIA_BUFFERING_COMPLETED` carry the bare correlation id after a
//! space, `ERROR`'s `error_text` runs to the end of the line); a JSON event is an object with
//! `"event"` and the same keys. A plain-text command is `NAME [argument]`, a JSON one
//! `{"command": NAME, ...}`. Asterisk ignores any text message longer than 128 bytes without a
//! word back, so [`MediaCommand::encode`] refuses those instead.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::meta::{Availability, Release, ReleaseRange};

/// Longest text message chan_websocket reads (`MAX_TEXT_MESSAGE_LEN`); longer ones are dropped
/// by Asterisk with only a log line.
pub const MAX_COMMAND_LEN: usize = 128;

/// How control messages are written on one media connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlFormat {
    /// The legacy single-line `NAME key:value` format (the default of every release).
    PlainText,
    /// JSON objects (`chan_websocket.conf` `control_message_format = json`, or the per-call
    /// dial-string option `f(json)`); 20.18 / 22.8 / 23.2 and later.
    Json,
}

impl ControlFormat {
    /// The releases that understand this format.
    pub fn availability(self) -> Availability {
        match self {
            ControlFormat::PlainText => WEBSOCKET_MEDIA,
            ControlFormat::Json => JSON_CONTROL,
        }
    }

    /// The format a message is written in, told by its first character: `{` or `[` (a JSON
    /// value that is not an object, refused as such rather than read as an event name).
    pub fn of_message(text: &str) -> ControlFormat {
        if text.trim_start().starts_with(['{', '[']) {
            ControlFormat::Json
        } else {
            ControlFormat::PlainText
        }
    }
}

const fn open(major: u16, minor: u16) -> ReleaseRange {
    ReleaseRange {
        first: Release::new(major, minor, 0),
        last: None,
    }
}

/// Releases with chan_websocket (`transport=websocket` on `POST /channels/externalMedia`):
/// 20.16, 21.11, 22.6, 23.0 and later.
pub const WEBSOCKET_MEDIA: Availability = Availability {
    ranges: &[open(20, 16), open(21, 11), open(22, 6), open(23, 0)],
};

/// Releases with JSON control messages and `MARK_MEDIA` (added together in 22.8, the 20.18 and
/// 23.2 releases of the same day; the same runs as `transport_data` in the ARI spec).
pub const JSON_CONTROL: Availability = Availability {
    ranges: &[open(20, 18), open(22, 8), open(23, 2)],
};

/// Releases with `SET_MEDIA_DIRECTION` (22.9 and the 20.19 / 23.3 releases made with it).
pub const MEDIA_DIRECTION: Availability = Availability {
    ranges: &[open(20, 19), open(22, 9), open(23, 3)],
};

/// What is wrong with a control message that came from the peer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad {format:?} control message `{excerpt}`: {why}")]
pub struct ControlParseError {
    /// The format the message looked like.
    pub format: ControlFormat,
    /// The start of the message (at most 80 characters).
    pub excerpt: String,
    /// What was wrong.
    pub why: String,
}

/// What [`MediaCommand::encode`] refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The command does not exist in this control format (`SET_MEDIA_DIRECTION` is JSON only).
    #[error("{command} cannot be sent in the {format:?} control format")]
    NotInFormat {
        /// The command.
        command: &'static str,
        /// The format asked for.
        format: ControlFormat,
    },
    /// The encoded command is longer than the 128 bytes Asterisk reads.
    #[error(
        "{command} is {len} bytes encoded; Asterisk ignores text messages over {MAX_COMMAND_LEN}"
    )]
    TooLong {
        /// The command.
        command: &'static str,
        /// Its encoded length.
        len: usize,
    },
    /// A correlation id with a line break or other control character, which the plain-text
    /// format cannot carry.
    #[error("{command}: the correlation id contains a control character")]
    BadCorrelationId {
        /// The command.
        command: &'static str,
    },
}

/// Which way media flows, seen from the application (`SET_MEDIA_DIRECTION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaDirection {
    /// Audio both ways.
    Both,
    /// Only the application's audio goes to Asterisk; Asterisk stops sending the call's audio.
    Out,
    /// Only the call's audio comes to the application; Asterisk drops what the app sends.
    In,
}

impl MediaDirection {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaDirection::Both => "both",
            MediaDirection::Out => "out",
            MediaDirection::In => "in",
        }
    }
}

/// A command to chan_websocket.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Answer the channel (when created with the `n` no-auto-answer option).
    Answer,
    /// Hang the channel up.
    Hangup,
    /// Start bulk mode: Asterisk keeps partial frames across messages until
    /// [`MediaCommand::StopMediaBuffering`].
    StartMediaBuffering,
    /// End bulk mode; Asterisk answers `MEDIA_BUFFERING_COMPLETED` with the id once the audio
    /// before it has been played.
    StopMediaBuffering {
        /// Echoed back in `MEDIA_BUFFERING_COMPLETED`.
        correlation_id: Option<String>,
    },
    /// Drop all audio queued in Asterisk.
    FlushMedia,
    /// Place a mark in the audio queue; Asterisk answers `MEDIA_MARK_PROCESSED` when playback
    /// reaches it.
    MarkMedia {
        /// Echoed back in `MEDIA_MARK_PROCESSED`.
        correlation_id: Option<String>,
    },
    /// Stop playing queued audio (silence is played; the queue is kept).
    PauseMedia,
    /// Resume after [`MediaCommand::PauseMedia`].
    ContinueMedia,
    /// Ask for a `STATUS` event.
    GetStatus,
    /// Change which way media flows (JSON control format only).
    SetMediaDirection(MediaDirection),
    /// Ask for one `QUEUE_DRAINED` event when the queue next runs empty.
    ReportQueueDrained,
}

impl MediaCommand {
    /// The command's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            MediaCommand::Answer => "ANSWER",
            MediaCommand::Hangup => "HANGUP",
            MediaCommand::StartMediaBuffering => "START_MEDIA_BUFFERING",
            MediaCommand::StopMediaBuffering { .. } => "STOP_MEDIA_BUFFERING",
            MediaCommand::FlushMedia => "FLUSH_MEDIA",
            MediaCommand::MarkMedia { .. } => "MARK_MEDIA",
            MediaCommand::PauseMedia => "PAUSE_MEDIA",
            MediaCommand::ContinueMedia => "CONTINUE_MEDIA",
            MediaCommand::GetStatus => "GET_STATUS",
            MediaCommand::SetMediaDirection(_) => "SET_MEDIA_DIRECTION",
            MediaCommand::ReportQueueDrained => "REPORT_QUEUE_DRAINED",
        }
    }

    /// The releases whose chan_websocket knows the command.
    pub fn availability(&self) -> Availability {
        match self {
            MediaCommand::MarkMedia { .. } => JSON_CONTROL,
            MediaCommand::SetMediaDirection(_) => MEDIA_DIRECTION,
            _ => WEBSOCKET_MEDIA,
        }
    }

    /// Whether Asterisk puts the command in its audio queue (its answer comes when playback
    /// reaches it), so it must stay in order with the audio sent before it.
    pub fn is_queued(&self) -> bool {
        matches!(
            self,
            MediaCommand::MarkMedia { .. }
                | MediaCommand::StopMediaBuffering { .. }
                | MediaCommand::StartMediaBuffering
        )
    }

    /// The text message for this command in `format`.
    pub fn encode(&self, format: ControlFormat) -> Result<String, EncodeError> {
        let command = self.name();
        let id = match self {
            MediaCommand::MarkMedia { correlation_id }
            | MediaCommand::StopMediaBuffering { correlation_id } => correlation_id.as_deref(),
            _ => None,
        };
        if id.is_some_and(|id| id.chars().any(char::is_control)) {
            return Err(EncodeError::BadCorrelationId { command });
        }
        let text = match format {
            ControlFormat::PlainText => {
                if let MediaCommand::SetMediaDirection(_) = self {
                    return Err(EncodeError::NotInFormat { command, format });
                }
                match id {
                    Some(id) if !id.is_empty() => format!("{command} {id}"),
                    _ => command.to_owned(),
                }
            }
            ControlFormat::Json => {
                let mut obj = serde_json::Map::new();
                obj.insert("command".into(), Value::from(command));
                if let Some(id) = id {
                    obj.insert("correlation_id".into(), Value::from(id));
                }
                if let MediaCommand::SetMediaDirection(d) = self {
                    obj.insert("direction".into(), Value::from(d.as_str()));
                }
                Value::Object(obj).to_string()
            }
        };
        if text.len() > MAX_COMMAND_LEN {
            return Err(EncodeError::TooLong {
                command,
                len: text.len(),
            });
        }
        Ok(text)
    }
}

/// `MEDIA_START`: the first message on every media connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaStart {
    /// The connection id (the `MEDIA_WEBSOCKET_CONNECTION_ID` channel variable).
    pub connection_id: String,
    /// The channel's name, e.g. `WebSocket/INCOMING/0x7f...`.
    pub channel: String,
    /// The channel's unique id (the ARI channel id).
    pub channel_id: String,
    /// The audio format's Asterisk name, e.g. `slin16`, `ulaw`, `opus`.
    pub format: String,
    /// Bytes in one frame of `ptime` ms; 0 for passthrough codecs (opus, speex, g729, ...).
    pub optimal_frame_size: usize,
    /// Milliseconds of audio in one frame.
    pub ptime: u32,
    /// The channel's variables (JSON format only; empty in plain text).
    pub channel_variables: BTreeMap<String, String>,
}

/// `STATUS`: the answer to `GET_STATUS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaStatus {
    /// Frames queued in Asterisk.
    pub queue_length: u32,
    /// Queue length under which Asterisk sends `MEDIA_XON`.
    pub xon_level: u32,
    /// Queue length at which Asterisk sends `MEDIA_XOFF`.
    pub xoff_level: u32,
    /// Whether the queue is over the XOFF level.
    pub queue_full: bool,
    /// Whether bulk mode (`START_MEDIA_BUFFERING`) is on.
    pub bulk_media: bool,
    /// Whether playback is paused (`PAUSE_MEDIA`).
    pub media_paused: bool,
}

/// An event from chan_websocket.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The connection is ready (always first).
    MediaStart(MediaStart),
    /// Asterisk's queue reached its XOFF level: stop sending audio.
    MediaXoff,
    /// The queue fell below its XON level: sending may resume.
    MediaXon,
    /// The answer to `STOP_MEDIA_BUFFERING`.
    MediaBufferingCompleted {
        /// The id given to the command (`None` when it had none).
        correlation_id: Option<String>,
    },
    /// Playback reached a `MARK_MEDIA`.
    MediaMarkProcessed {
        /// The id given to the command (`None` when it had none).
        correlation_id: Option<String>,
    },
    /// The queue ran empty after `REPORT_QUEUE_DRAINED`.
    QueueDrained,
    /// A DTMF digit ended on the channel.
    DtmfEnd {
        /// The digit (`0`-`9`, `*`, `#`, `A`-`D`).
        digit: char,
    },
    /// The answer to `GET_STATUS`.
    Status(MediaStatus),
    /// Asterisk refused a command.
    Error {
        /// Asterisk's text.
        error_text: String,
    },
    /// An event this SDK does not know, kept whole.
    Unknown {
        /// The event name.
        name: String,
        /// The whole message.
        raw: String,
    },
}

impl MediaEvent {
    /// Parses one text message, in whichever format it is written.
    pub fn parse(text: &str) -> Result<MediaEvent, ControlParseError> {
        match ControlFormat::of_message(text) {
            ControlFormat::Json => parse_json(text),
            ControlFormat::PlainText => parse_plain(text),
        }
    }
}

fn bad(format: ControlFormat, text: &str, why: impl Into<String>) -> ControlParseError {
    ControlParseError {
        format,
        excerpt: text.chars().take(80).collect(),
        why: why.into(),
    }
}

fn parse_plain(text: &str) -> Result<MediaEvent, ControlParseError> {
    let err = |why: String| bad(ControlFormat::PlainText, text, why);
    let line = text.trim();
    let (name, rest) = match line.split_once(' ') {
        Some((n, r)) => (n, r.trim()),
        None => (line, ""),
    };
    if name.is_empty() {
        return Err(err("empty message".into()));
    }
    let opt_id = || (!rest.is_empty()).then(|| rest.to_owned());
    // `key:value` pairs; values run to the next space.
    let fields = || -> BTreeMap<&str, &str> {
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once(':'))
            .collect()
    };
    let field = |f: &BTreeMap<&str, &str>, key: &str| -> Result<String, ControlParseError> {
        f.get(key)
            .map(|v| (*v).to_owned())
            .ok_or_else(|| err(format!("no `{key}:` field")))
    };
    let number = |f: &BTreeMap<&str, &str>, key: &str| -> Result<u32, ControlParseError> {
        let v = field(f, key)?;
        v.parse()
            .map_err(|_| err(format!("`{key}:{v}` is not a number")))
    };
    let flag = |f: &BTreeMap<&str, &str>, key: &str| -> Result<bool, ControlParseError> {
        match field(f, key)?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            v => Err(err(format!("`{key}:{v}` is not true or false"))),
        }
    };
    Ok(match name {
        "MEDIA_START" => {
            let f = fields();
            MediaEvent::MediaStart(MediaStart {
                connection_id: field(&f, "connection_id")?,
                channel: field(&f, "channel")?,
                channel_id: field(&f, "channel_id")?,
                format: field(&f, "format")?,
                optimal_frame_size: number(&f, "optimal_frame_size")? as usize,
                ptime: number(&f, "ptime")?,
                channel_variables: BTreeMap::new(),
            })
        }
        "MEDIA_XOFF" => MediaEvent::MediaXoff,
        "MEDIA_XON" => MediaEvent::MediaXon,
        "QUEUE_DRAINED" => MediaEvent::QueueDrained,
        "MEDIA_MARK_PROCESSED" => MediaEvent::MediaMarkProcessed {
            correlation_id: opt_id(),
        },
        "MEDIA_BUFFERING_COMPLETED" => MediaEvent::MediaBufferingCompleted {
            correlation_id: opt_id(),
        },
        "DTMF_END" => {
            let f = fields();
            MediaEvent::DtmfEnd {
                digit: one_digit(&field(&f, "digit")?).map_err(err)?,
            }
        }
        "STATUS" => {
            let f = fields();
            MediaEvent::Status(MediaStatus {
                queue_length: number(&f, "queue_length")?,
                xon_level: number(&f, "xon_level")?,
                xoff_level: number(&f, "xoff_level")?,
                queue_full: flag(&f, "queue_full")?,
                bulk_media: flag(&f, "bulk_media")?,
                media_paused: flag(&f, "media_paused")?,
            })
        }
        "ERROR" => {
            // error_text is free text to the end of the line.
            let error_text = rest
                .find("error_text:")
                .map(|i| rest[i + "error_text:".len()..].trim().to_owned())
                .unwrap_or_else(|| rest.to_owned());
            MediaEvent::Error { error_text }
        }
        _ => MediaEvent::Unknown {
            name: name.to_owned(),
            raw: text.to_owned(),
        },
    })
}

fn one_digit(s: &str) -> Result<char, String> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() || "*#ABCDabcd".contains(c) => Ok(c),
        _ => Err(format!("`{s}` is not one DTMF digit")),
    }
}

fn parse_json(text: &str) -> Result<MediaEvent, ControlParseError> {
    let err = |why: String| bad(ControlFormat::Json, text, why);
    let value: Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| err("not a JSON object".into()))?;
    let name = obj
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| err("no string `event`".into()))?;
    let string = |key: &str| -> Result<String, ControlParseError> {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| err(format!("no string `{key}`")))
    };
    let number = |key: &str| -> Result<u32, ControlParseError> {
        obj.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| err(format!("no unsigned integer `{key}`")))
    };
    let flag = |key: &str| -> Result<bool, ControlParseError> {
        obj.get(key)
            .and_then(Value::as_bool)
            .ok_or_else(|| err(format!("no boolean `{key}`")))
    };
    // Asterisk sends "" when the command had no id.
    let opt_id = || {
        obj.get("correlation_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(match name {
        "MEDIA_START" => {
            let mut channel_variables = BTreeMap::new();
            if let Some(vars) = obj.get("channel_variables").and_then(Value::as_object) {
                for (k, v) in vars {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    channel_variables.insert(k.clone(), v);
                }
            }
            MediaEvent::MediaStart(MediaStart {
                connection_id: string("connection_id")?,
                channel: string("channel")?,
                channel_id: string("channel_id")?,
                format: string("format")?,
                optimal_frame_size: number("optimal_frame_size")? as usize,
                ptime: number("ptime")?,
                channel_variables,
            })
        }
        "MEDIA_XOFF" => MediaEvent::MediaXoff,
        "MEDIA_XON" => MediaEvent::MediaXon,
        "QUEUE_DRAINED" => MediaEvent::QueueDrained,
        "MEDIA_MARK_PROCESSED" => MediaEvent::MediaMarkProcessed {
            correlation_id: opt_id(),
        },
        "MEDIA_BUFFERING_COMPLETED" => MediaEvent::MediaBufferingCompleted {
            correlation_id: opt_id(),
        },
        "DTMF_END" => MediaEvent::DtmfEnd {
            digit: one_digit(&string("digit")?).map_err(err)?,
        },
        "STATUS" => MediaEvent::Status(MediaStatus {
            queue_length: number("queue_length")?,
            xon_level: number("xon_level")?,
            xoff_level: number("xoff_level")?,
            queue_full: flag("queue_full")?,
            bulk_media: flag("bulk_media")?,
            media_paused: flag("media_paused")?,
        }),
        "ERROR" => MediaEvent::Error {
            error_text: string("error_text")?,
        },
        _ => MediaEvent::Unknown {
            name: name.to_owned(),
            raw: text.to_owned(),
        },
    })
}

impl fmt::Display for MediaCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The strings below are what 22.10.1's `_create_event_*` functions print.
    #[test]
    fn plain_media_start() {
        let e = MediaEvent::parse(
            "MEDIA_START connection_id:abc channel:WebSocket/INCOMING/0x1 channel_id:1.2 \
             format:slin16 optimal_frame_size:640 ptime:20",
        )
        .unwrap();
        let MediaEvent::MediaStart(s) = e else {
            panic!("{e:?}")
        };
        assert_eq!(s.connection_id, "abc");
        assert_eq!(s.channel, "WebSocket/INCOMING/0x1");
        assert_eq!(s.format, "slin16");
        assert_eq!(s.optimal_frame_size, 640);
        assert_eq!(s.ptime, 20);
    }

    #[test]
    fn json_media_start_with_variables() {
        let e = MediaEvent::parse(
            r#"{"event":"MEDIA_START","connection_id":"c","channel":"WebSocket/c/0x1","channel_id":"id","format":"ulaw","optimal_frame_size":160,"ptime":20,"channel_variables":{"A":"1"}}"#,
        )
        .unwrap();
        let MediaEvent::MediaStart(s) = e else {
            panic!("{e:?}")
        };
        assert_eq!(s.optimal_frame_size, 160);
        assert_eq!(s.channel_variables.get("A").map(String::as_str), Some("1"));
    }

    #[test]
    fn both_formats_of_each_event() {
        let pairs: &[(&str, &str, MediaEvent)] = &[
            (
                "MEDIA_XOFF",
                r#"{"event":"MEDIA_XOFF","channel_id":"x"}"#,
                MediaEvent::MediaXoff,
            ),
            (
                "MEDIA_XON",
                r#"{"event":"MEDIA_XON","channel_id":"x"}"#,
                MediaEvent::MediaXon,
            ),
            (
                "QUEUE_DRAINED",
                r#"{"event":"QUEUE_DRAINED","channel_id":"x"}"#,
                MediaEvent::QueueDrained,
            ),
            (
                "MEDIA_MARK_PROCESSED m 1",
                r#"{"event":"MEDIA_MARK_PROCESSED","channel_id":"x","correlation_id":"m 1"}"#,
                MediaEvent::MediaMarkProcessed {
                    correlation_id: Some("m 1".into()),
                },
            ),
            (
                "MEDIA_BUFFERING_COMPLETED",
                r#"{"event":"MEDIA_BUFFERING_COMPLETED","channel_id":"x","correlation_id":""}"#,
                MediaEvent::MediaBufferingCompleted {
                    correlation_id: None,
                },
            ),
            (
                "DTMF_END digit:5 channel_id:x",
                r#"{"event":"DTMF_END","channel_id":"x","digit":"5"}"#,
                MediaEvent::DtmfEnd { digit: '5' },
            ),
            (
                "STATUS channel_id:x queue_length:3 xon_level:800 xoff_level:900 queue_full:false bulk_media:true media_paused:false",
                r#"{"event":"STATUS","channel_id":"x","queue_length":3,"xon_level":800,"xoff_level":900,"queue_full":false,"bulk_media":true,"media_paused":false}"#,
                MediaEvent::Status(MediaStatus {
                    queue_length: 3,
                    xon_level: 800,
                    xoff_level: 900,
                    queue_full: false,
                    bulk_media: true,
                    media_paused: false,
                }),
            ),
            (
                "ERROR channel_id:x error_text:MARK_MEDIA not supported in passthrough mode",
                r#"{"event":"ERROR","channel_id":"x","error_text":"MARK_MEDIA not supported in passthrough mode"}"#,
                MediaEvent::Error {
                    error_text: "MARK_MEDIA not supported in passthrough mode".into(),
                },
            ),
        ];
        for (plain, json, want) in pairs {
            assert_eq!(&MediaEvent::parse(plain).unwrap(), want, "{plain}");
            assert_eq!(&MediaEvent::parse(json).unwrap(), want, "{json}");
        }
    }

    #[test]
    fn unknown_events_are_values() {
        assert_eq!(
            MediaEvent::parse("NEW_THING a:b").unwrap(),
            MediaEvent::Unknown {
                name: "NEW_THING".into(),
                raw: "NEW_THING a:b".into()
            }
        );
        assert!(matches!(
            MediaEvent::parse(r#"{"event":"NEW_THING"}"#).unwrap(),
            MediaEvent::Unknown { .. }
        ));
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        let cases = [
            ("{not json", "not JSON"),
            ("[1,2]", "not a JSON object"),
            (r#"{"channel_id":"x"}"#, "no string `event`"),
            ("MEDIA_START connection_id:a", "no `channel:` field"),
            (
                "MEDIA_START connection_id:a channel:b channel_id:c format:slin optimal_frame_size:x ptime:20",
                "`optimal_frame_size:x` is not a number",
            ),
            ("DTMF_END digit:55", "is not one DTMF digit"),
            ("   ", "empty message"),
        ];
        for (text, why) in cases {
            let e = MediaEvent::parse(text).unwrap_err();
            assert!(e.why.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn commands_in_both_formats() {
        let mark = MediaCommand::MarkMedia {
            correlation_id: Some("end".into()),
        };
        assert_eq!(
            mark.encode(ControlFormat::PlainText).unwrap(),
            "MARK_MEDIA end"
        );
        assert_eq!(
            mark.encode(ControlFormat::Json).unwrap(),
            r#"{"command":"MARK_MEDIA","correlation_id":"end"}"#
        );
        assert_eq!(
            MediaCommand::FlushMedia
                .encode(ControlFormat::PlainText)
                .unwrap(),
            "FLUSH_MEDIA"
        );
        let dir = MediaCommand::SetMediaDirection(MediaDirection::In);
        assert_eq!(
            dir.encode(ControlFormat::Json).unwrap(),
            r#"{"command":"SET_MEDIA_DIRECTION","direction":"in"}"#
        );
        assert!(matches!(
            dir.encode(ControlFormat::PlainText),
            Err(EncodeError::NotInFormat { .. })
        ));
        let long = MediaCommand::MarkMedia {
            correlation_id: Some("x".repeat(200)),
        };
        assert!(matches!(
            long.encode(ControlFormat::PlainText),
            Err(EncodeError::TooLong { len: 211, .. })
        ));
        let nl = MediaCommand::MarkMedia {
            correlation_id: Some("a\nb".into()),
        };
        assert!(matches!(
            nl.encode(ControlFormat::Json),
            Err(EncodeError::BadCorrelationId { .. })
        ));
    }

    #[test]
    fn release_gates() {
        let r16 = Release::new(16, 28, 0);
        let r22 = Release::new(22, 10, 1);
        let majors = [16, 18, 20, 21, 22, 23];
        use crate::meta::Support;
        assert_eq!(WEBSOCKET_MEDIA.support(r16, &majors), Support::No);
        assert_eq!(WEBSOCKET_MEDIA.support(r22, &majors), Support::Yes);
        assert_eq!(
            JSON_CONTROL.support(Release::new(22, 7, 0), &majors),
            Support::No
        );
        assert_eq!(JSON_CONTROL.support(r22, &majors), Support::Yes);
    }
}
