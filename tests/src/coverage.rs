//! Which ARI operations the suite really exercised, per server release.
//!
//! The SDK opens a `tracing` span named `ari.request` (field `operation = "resource.nickname"`)
//! around every request it sends. [`install`] sets a global subscriber whose only layer notes
//! those spans, attributing each to the server of the enclosing `ari.test` span that
//! [`crate::run`] opens around a scenario. Calls that the client refused before sending never
//! reach that span; [`crate::Harness::expect_unsupported`] notes them with [`note_refused`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::sync::{Mutex, Once};

use ari_sdk::Release;
use ari_sdk::meta::{OperationInfo, Support};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Default)]
struct State {
    releases: BTreeMap<u16, Release>,
    sent: BTreeMap<u16, BTreeMap<String, u32>>,
    refused: BTreeMap<u16, BTreeSet<String>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    releases: BTreeMap::new(),
    sent: BTreeMap::new(),
    refused: BTreeMap::new(),
});

/// Installs the recording subscriber as the process's global default (once).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Recorder);
        // Another global subscriber (a test's own) wins; coverage is then not recorded.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Notes the release that the server of this major line runs.
pub fn note_release(major: u16, release: Release) {
    STATE.lock().unwrap().releases.insert(major, release);
}

/// Notes a call that the client refused before sending.
pub fn note_refused(major: u16, op: &OperationInfo) {
    let key = format!("{}.{}", op.resource, op.nickname);
    STATE
        .lock()
        .unwrap()
        .refused
        .entry(major)
        .or_default()
        .insert(key);
}

/// Notes a request sent to the server of `major` (`resource.nickname`).
pub fn note_sent(major: u16, op: String) {
    *STATE
        .lock()
        .unwrap()
        .sent
        .entry(major)
        .or_default()
        .entry(op)
        .or_insert(0) += 1;
}

/// The major line of the scenario an `ari.test` span belongs to.
struct Major(u16);

struct Recorder;

fn wanted(meta: &Metadata<'_>) -> bool {
    meta.is_span() && matches!(meta.name(), "ari.request" | "ari.test")
}

#[derive(Default)]
struct Fields {
    operation: Option<String>,
    major: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "major" {
            self.major = Some(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "operation" {
            self.operation = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "operation" {
            self.operation = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        wanted(meta)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        match attrs.metadata().name() {
            "ari.test" => {
                if let Some(major) = fields.major {
                    span.extensions_mut().insert(Major(major as u16));
                }
            }
            "ari.request" => {
                let Some(op) = fields.operation else { return };
                let major = span
                    .scope()
                    .skip(1)
                    .find_map(|s| s.extensions().get::<Major>().map(|m| m.0));
                if let Some(major) = major {
                    note_sent(major, op);
                }
            }
            _ => {}
        }
    }
}

/// What the suite did with the operations of one release.
#[derive(Debug)]
pub struct Report {
    /// The server's major line.
    pub major: u16,
    /// The server's release.
    pub release: Release,
    /// Operations the release ships.
    pub shipped: Vec<&'static OperationInfo>,
    /// Shipped operations the suite sent to the server, with how many requests each.
    pub sent: BTreeMap<String, u32>,
    /// Operations the release does not ship.
    pub not_shipped: Vec<&'static OperationInfo>,
    /// Operations (or parameters of them) whose refusal by the client the suite asserted.
    pub refused: BTreeSet<String>,
}

fn key(op: &OperationInfo) -> String {
    format!("{}.{}", op.resource, op.nickname)
}

impl Report {
    /// Shipped operations the suite never sent.
    pub fn unexercised(&self) -> Vec<String> {
        self.shipped
            .iter()
            .map(|o| key(o))
            .filter(|k| !self.sent.contains_key(k))
            .collect()
    }

    /// Shipped operations sent at least once.
    pub fn exercised(&self) -> usize {
        self.shipped.len() - self.unexercised().len()
    }

    /// Operations the release does not ship whose refusal was asserted.
    pub fn refused_not_shipped(&self) -> Vec<String> {
        self.not_shipped
            .iter()
            .map(|o| key(o))
            .filter(|k| self.refused.contains(k))
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u32 = self.sent.values().sum();
        writeln!(
            f,
            "Asterisk {}: {}/{} shipped operations called against the server ({} requests); \
             refusal asserted for {}/{} operations it does not ship",
            self.release,
            self.exercised(),
            self.shipped.len(),
            total,
            self.refused_not_shipped().len(),
            self.not_shipped.len(),
        )?;
        let unexercised = self.unexercised();
        if !unexercised.is_empty() {
            writeln!(f, "  not called: {}", unexercised.join(", "))?;
        }
        let not_refused: Vec<String> = self
            .not_shipped
            .iter()
            .map(|o| key(o))
            .filter(|k| !self.refused.contains(k))
            .collect();
        if !not_refused.is_empty() {
            writeln!(
                f,
                "  not shipped, refusal not asserted: {}",
                not_refused.join(", ")
            )?;
        }
        let partial: Vec<&String> = self
            .refused
            .iter()
            .filter(|k| self.sent.contains_key(*k))
            .collect();
        if !partial.is_empty() {
            let list: Vec<&str> = partial.iter().map(|s| s.as_str()).collect();
            writeln!(
                f,
                "  shipped, with a parameter refused: {}",
                list.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The coverage of the server of `major` so far, if a scenario ran against it.
pub fn report(major: u16) -> Option<Report> {
    let state = STATE.lock().unwrap();
    let release = *state.releases.get(&major)?;
    let ships = |o: &&&OperationInfo| {
        o.availability
            .support(release, ari_sdk::releases::KNOWN_MAJORS)
            == Support::Yes
    };
    let shipped: Vec<_> = ari_sdk::ops::OPERATIONS
        .iter()
        .filter(ships)
        .copied()
        .collect();
    let not_shipped: Vec<_> = ari_sdk::ops::OPERATIONS
        .iter()
        .filter(|o| !ships(o))
        .copied()
        .collect();
    let mut sent = state.sent.get(&major).cloned().unwrap_or_default();
    sent.retain(|k, _| shipped.iter().any(|o| key(o) == *k));
    Ok::<_, ()>(Report {
        major,
        release,
        shipped,
        sent,
        not_shipped,
        refused: state.refused.get(&major).cloned().unwrap_or_default(),
    })
    .ok()
}

/// The coverage of every server that ran, as text.
pub fn summary() -> String {
    let mut out = String::new();
    for major in crate::MAJORS {
        if let Some(r) = report(major) {
            let _ = write!(out, "{r}");
        }
    }
    out
}
