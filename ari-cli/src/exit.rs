//! Exit codes by kind of failure, and the one-line message each failure prints.
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success |
//! | 1 | any other failure (a local file, the spec tools, the generator) |
//! | 2 | bad command line or settings: a missing argument, a value outside the spec's LIST or RANGE, an unusable URL or config file |
//! | 3 | the server could not be reached (refused, DNS, TLS, timeout) |
//! | 4 | the server rejected the credentials (HTTP 401) |
//! | 5 | the server answered with an error status (the spec's documented reason is shown) |
//! | 6 | the server's release does not ship the operation or a parameter given (refused before sending) |
//! | 7 | an argument refused before sending by the SDK's own checks |
//! | 8 | the answer was not what ARI sends (not an ARI root, undecodable, WebSocket failure) |

use std::fmt;

use ari_sdk::ErrorKind;

/// Every exit code: (code, short name for `--help`, meaning for the man page). One table, so
/// that `ari --help`, `ari man` and the docs above cannot disagree.
pub const TABLE: &[(u8, &str, &str)] = &[
    (0, "ok", "success"),
    (
        1,
        "other",
        "any other failure (a local file, the spec tools, the generator)",
    ),
    (
        2,
        "usage",
        "bad command line or settings: a missing argument, a value outside the spec's LIST or RANGE, an unusable URL or config file",
    ),
    (
        3,
        "unreachable",
        "the server could not be reached (refused, DNS, TLS, timeout)",
    ),
    (
        4,
        "unauthorized",
        "the server rejected the credentials (HTTP 401)",
    ),
    (
        5,
        "error status",
        "the server answered with an error status (the spec's documented reason is shown)",
    ),
    (
        6,
        "not in the server's release",
        "the server's release does not ship the operation or a parameter given (refused before sending)",
    ),
    (
        7,
        "argument refused",
        "an argument refused before sending by the SDK's own checks",
    ),
    (
        8,
        "not an ARI answer",
        "the answer was not what ARI sends (not an ARI root, undecodable, WebSocket failure)",
    ),
];

/// Any other failure.
pub const OTHER: u8 = 1;
/// Bad command line or settings.
pub const USAGE: u8 = 2;
/// The server could not be reached.
pub const UNREACHABLE: u8 = 3;
/// The credentials were rejected.
pub const UNAUTHORIZED: u8 = 4;
/// The server answered with an error status.
pub const HTTP: u8 = 5;
/// The server's release lacks the operation or a parameter.
pub const UNSUPPORTED: u8 = 6;
/// An argument refused before sending.
pub const INVALID_ARGUMENT: u8 = 7;
/// An answer that ARI does not send.
pub const BAD_ANSWER: u8 = 8;

/// A failure: its exit code and its one-line message.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (see the module docs).
    pub code: u8,
    /// What went wrong, one line.
    pub message: String,
}

impl Failure {
    /// A failure with this code.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: one_line(&message.into()),
        }
    }

    /// A bad command line or setting.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Failure {
        Failure::new(OTHER, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code for an SDK error's kind.
pub fn code_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Transport(_) | ErrorKind::Timeout => UNREACHABLE,
        ErrorKind::Unauthorized => UNAUTHORIZED,
        ErrorKind::Http => HTTP,
        ErrorKind::Unsupported => UNSUPPORTED,
        ErrorKind::InvalidArgument => INVALID_ARGUMENT,
        ErrorKind::Config => USAGE,
        ErrorKind::Decode | ErrorKind::NotAriRoot | ErrorKind::WebSocket | ErrorKind::Closed => {
            BAD_ANSWER
        }
        _ => OTHER,
    }
}

impl From<ari_sdk::Error> for Failure {
    fn from(e: ari_sdk::Error) -> Failure {
        let mut message = e.to_string();
        if e.kind() == ErrorKind::Unauthorized {
            message.push_str(" (set --user/--password, ARI_USER/ARI_PASSWORD or --server)");
        }
        Failure::new(code_of(e.kind()), message)
    }
}

/// Collapses a message onto one line: a failure is reported as one line on stderr.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A clap error as one line: what is wrong, without the usage block, and where to read more.
pub fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let t = line.trim();
        if t.starts_with("Usage:") || t.starts_with("For more information") {
            break;
        }
        if !t.is_empty() {
            parts.push(t);
        }
    }
    let text = parts.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    // "tip: ..." lines are clap's suggestions: keep them on the line, after the problem.
    text.replace(" tip: ", "; tip: ")
}
