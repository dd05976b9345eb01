//! How answers are printed: `--output auto|pretty|json|lines`.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::exit::Failure;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Indented JSON.
    Pretty,
    /// One compact JSON document.
    Json,
    /// One compact line per element of a list (a non-list is one line).
    Lines,
}

impl Format {
    /// The format `--output` names; `auto` is pretty on a terminal, compact otherwise (so that
    /// `| jq` gets one document).
    pub fn from_flag(flag: Option<&str>) -> Format {
        match flag {
            Some("pretty") => Format::Pretty,
            Some("json") => Format::Json,
            Some("lines") => Format::Lines,
            _ if std::io::stdout().is_terminal() => Format::Pretty,
            _ => Format::Json,
        }
    }
}

/// Prints a JSON answer to stdout.
pub fn print(value: &Value, format: Format) -> Result<(), Failure> {
    let text = match (format, value) {
        (Format::Pretty, v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (Format::Lines, Value::Array(items)) => items
            .iter()
            .map(|i| serde_json::to_string(i).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n"),
        (_, v) => serde_json::to_string(v).unwrap_or_default(),
    };
    let mut out = std::io::stdout().lock();
    let r = if text.is_empty() {
        Ok(())
    } else {
        writeln!(out, "{text}")
    };
    write_result(r.and_then(|()| out.flush()))
}

/// A write to stdout that failed: a closed pipe (`| head`) is not an error worth a message.
pub fn write_result(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::other(format!("writing to standard output: {e}")))
        }
        _ => Ok(()),
    }
}
