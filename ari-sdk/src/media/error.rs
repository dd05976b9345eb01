use crate::meta::{Availability, Release};

use super::protocol::{ControlParseError, EncodeError};

/// What can go wrong with a media session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The server's release lacks chan_websocket, the control format, or a command.
    #[error("{what} is not supported by Asterisk {server}; shipped in {availability}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// The server's release.
        server: Release,
        /// The releases that have it.
        availability: Availability,
    },
    /// An ARI call failed (creating the channel, reading its variables).
    #[error(transparent)]
    Api(#[from] crate::Error),
    /// The media WebSocket could not be opened.
    #[error("opening the media WebSocket at {url}: {message}")]
    Connect {
        /// Where (no credentials).
        url: String,
        /// Why.
        message: String,
    },
    /// The peer broke the media protocol.
    #[error("media protocol: {0}")]
    Protocol(String),
    /// The first message was not a valid `MEDIA_START`.
    #[error("media protocol: MEDIA_START: {0}")]
    BadStart(ControlParseError),
    /// Something took too long.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// A command cannot be written in the session's control format.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An app-framed frame has the wrong size.
    #[error("a {got}-byte frame for {format}{}", match expected { Some(e) => format!(", which takes exactly {e} bytes per frame"), None => ", which takes non-empty frames".to_owned() })]
    FrameSize {
        /// The session's format.
        format: String,
        /// The size given.
        got: usize,
        /// The size the format takes, when fixed.
        expected: Option<usize>,
    },
    /// Audio of any length was given for a passthrough codec, whose frames the app must size.
    #[error("{format} is passed through as framed by the app: use send_frame, not send_audio")]
    NeedsFraming {
        /// The session's format.
        format: String,
    },
    /// The session has ended.
    #[error("the media session is closed")]
    Closed,
    /// The WebSocket failed.
    #[error("media WebSocket: {0}")]
    WebSocket(String),
    /// Reading or writing a WAV file failed.
    #[error("WAV: {0}")]
    Wav(String),
}
