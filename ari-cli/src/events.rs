//! `ari events --app NAME`: registers Stasis applications and tails their events through the
//! SDK's events stream, which reconnects with backoff. A terminal gets one readable line per
//! event; a pipe (or `--json`) gets JSON lines, each event exactly as Asterisk sent it.
//!
//! Notes go to stderr: "listening" once the applications are registered (a script can wait for
//! it before placing calls into the app), a line per reconnect (events meanwhile are lost).

use std::io::{IsTerminal, Write};

use ari_sdk::events::StreamItem;
use clap::ArgMatches;
use futures::StreamExt;
use serde_json::Value;

use crate::call::runtime;
use crate::conn;
use crate::exit::{self, Failure};
use crate::output::write_result;

/// What to tail and how to show it.
struct Tail {
    apps: Vec<String>,
    subscribe_all: bool,
    types: Vec<String>,
    channels: Vec<String>,
    count: Option<u64>,
    json: bool,
}

/// `ari events --app NAME ...`.
pub fn run(m: &ArgMatches) -> Result<(), Failure> {
    let strings = |id: &str| -> Vec<String> {
        m.get_many::<String>(id)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let apps = strings("app");
    if apps.is_empty() {
        return Err(Failure::usage(
            "ari events: give --app NAME to tail an application's events, or name an operation",
        ));
    }
    let types = strings("type");
    // Kept (a newer server may send a type no known release has), but a typo is worth a note.
    for t in &types {
        if ari_sdk::EventKind::from_type(t).is_none() {
            eprintln!(
                "ari: note: `{t}` is not an event type of any known release; shown if a server sends it"
            );
        }
    }
    let tail = Tail {
        apps,
        subscribe_all: m.get_flag("subscribe-all"),
        types,
        channels: strings("channel"),
        count: m.get_one::<u64>("count").copied(),
        json: m.get_flag("json") || (!m.get_flag("text") && !std::io::stdout().is_terminal()),
    };
    tail.run(m)
}

/// `ari events event-websocket APP... [--subscribe-all]`: the operation behind the tail.
pub fn run_op(m: &ArgMatches) -> Result<(), Failure> {
    let tail = Tail {
        apps: m
            .get_many::<String>("app")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
        subscribe_all: m
            .get_one::<String>("subscribeAll")
            .is_some_and(|v| v == "true"),
        types: Vec::new(),
        channels: Vec::new(),
        count: None,
        json: !std::io::stdout().is_terminal(),
    };
    tail.run(m)
}

impl Tail {
    fn run(self, m: &ArgMatches) -> Result<(), Failure> {
        let settings = conn::settings(m)?;
        let client = conn::client(&settings)?;
        let rt = runtime()?;
        rt.block_on(async {
            let mut stream = client
                .event_stream()
                .apps(self.apps.iter().cloned())
                .subscribe_all(self.subscribe_all)
                .connect_as::<Value>()
                .await?;
            eprintln!(
                "ari: listening for events of {} at {}",
                self.apps.join(","),
                client.base_url()
            );
            let mut shown = 0u64;
            while let Some(item) = stream.next().await {
                match item {
                    StreamItem::Event(ev) => {
                        if !self.wanted(&ev) {
                            continue;
                        }
                        let line = if self.json {
                            serde_json::to_string(&ev).unwrap_or_default()
                        } else {
                            one_line(&ev)
                        };
                        let mut out = std::io::stdout().lock();
                        match writeln!(out, "{line}").and_then(|()| out.flush()) {
                            // The reader went away (`| head -3`): the tail is done.
                            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                            r => write_result(r)?,
                        }
                        shown += 1;
                        if self.count.is_some_and(|n| shown >= n) {
                            return Ok(());
                        }
                    }
                    StreamItem::Reconnected { attempt, downtime } => eprintln!(
                        "ari: reconnected after {downtime:.1?} ({attempt} attempts); events meanwhile were lost"
                    ),
                    StreamItem::Undecoded(u) => {
                        eprintln!("ari: undecodable event {}: {}", u.kind(), u.error())
                    }
                    StreamItem::Error(e) if e.kind() == ari_sdk::ErrorKind::Unauthorized => {
                        return Err(Failure::from(e));
                    }
                    StreamItem::Error(e) => eprintln!("ari: {}", exit::one_line(&e.to_string())),
                }
            }
            Err(Failure::new(
                exit::BAD_ANSWER,
                "the events connection closed for good",
            ))
        })
    }

    fn wanted(&self, ev: &Value) -> bool {
        let kind = ev.get("type").and_then(Value::as_str).unwrap_or("");
        if !self.types.is_empty() && !self.types.iter().any(|t| t == kind) {
            return false;
        }
        self.channels.is_empty() || self.channels.iter().any(|id| about_channel(ev, id))
    }
}

/// Whether an event concerns channel `id`: one of its objects (`channel`, `peer`,
/// `replace_channel`, ...) is that channel, a bridge lists it, or a playback targets it.
fn about_channel(ev: &Value, id: &str) -> bool {
    let Some(obj) = ev.as_object() else {
        return false;
    };
    obj.values().any(|v| {
        v.get("id").and_then(Value::as_str) == Some(id)
            || v.get("channels")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c.as_str() == Some(id)))
            || v.get("target_uri").and_then(Value::as_str) == Some(&format!("channel:{id}"))
    })
}

/// A readable line: time, type, application, and the event's salient objects and values.
fn one_line(ev: &Value) -> String {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let time = s(ev.get("timestamp"));
    // `2026-12-03T08:56:24.197+0000`: the time of day is what a tail reader scans.
    let time = time.get(11..23).unwrap_or(&time).to_owned();
    let mut parts = vec![time, s(ev.get("type"))];
    if let Some(app) = ev.get("application").and_then(Value::as_str) {
        parts.push(format!("[{app}]"));
    }
    for key in [
        "channel",
        "peer",
        "bridge",
        "playback",
        "recording",
        "endpoint",
    ] {
        let Some(o) = ev.get(key) else { continue };
        let id = s(o.get("id"));
        let name = s(o.get("name"));
        let state = s(o.get("state"));
        let mut text = format!("{key}=");
        text.push_str(if name.is_empty() { &id } else { &name });
        if !name.is_empty() && !id.is_empty() {
            text.push_str(&format!("({id})"));
        }
        if !state.is_empty() {
            text.push_str(&format!(" {state}"));
        }
        parts.push(text);
    }
    for key in [
        "digit",
        "cause",
        "cause_txt",
        "dialstatus",
        "variable",
        "value",
        "args",
    ] {
        if let Some(v) = ev.get(key) {
            let v = match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{key}={v}"));
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_shows_the_salient_parts() {
        let ev = serde_json::json!({
            "type": "StasisStart", "application": "hello", "timestamp": "2026-12-03T08:56:24.197+0000",
            "args": ["a"], "channel": {"id": "1.2", "name": "PJSIP/x-1", "state": "Up"}
        });
        assert_eq!(
            one_line(&ev),
            r#"08:56:24.197 StasisStart [hello] channel=PJSIP/x-1(1.2) Up args=["a"]"#
        );
        assert!(about_channel(&ev, "1.2"));
        assert!(!about_channel(&ev, "1.3"));
        let pb = serde_json::json!({"type": "PlaybackStarted", "playback": {"id": "p", "target_uri": "channel:9"}});
        assert!(about_channel(&pb, "9"));
    }
}
