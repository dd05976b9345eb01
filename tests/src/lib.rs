//! Shared harness of the conformance suite: real Asterisk servers, one Stasis application per
//! test, the events it receives, the resources it creates, and what it proves.
//!
//! # Servers
//!
//! [`server`] reads `ARI_URL_22` / `ARI_URL_16` (ARI base URLs), `ARI_USER` and `ARI_PASSWORD`
//! (default `asterisk` / `asterisk`) through [`ari_test_env`], the workspace's one reader of
//! them. With `ARI_REQUIRE_SERVERS` set, an unset URL defaults to the servers of
//! `cargo xtask asterisk up` (`http://127.0.0.1:8088/ari` for 22.10.1,
//! `http://127.0.0.1:8089/ari` for 16.28.0) and a server that does not answer fails the test.
//! Without it, a test whose server is not configured prints a `SKIP` line and passes.
//!
//! # One test
//!
//! [`run`] runs one scenario against one server: it builds a [`Harness`] (a client, a unique
//! Stasis application, its event stream), runs the scenario, then always cleans up what the
//! scenario created ([`Harness::track_channel`] and friends), even when it panicked, and checks
//! that every event frame decoded to its typed [`Event`] variant (never `Unknown`, never an
//! error). Events are awaited with [`Harness::wait_for`] or the [`wait_event!`] macro, with a
//! bounded timeout and a failure message that lists the events seen.
//!
//! # What it records
//!
//! * Every ARI request the SDK sends, per server release, through a `tracing` layer on the SDK's
//!   `ari.request` span, plus the calls that the client refused before sending
//!   ([`Harness::expect_unsupported`]): [`coverage::report`] compares them with the operations the
//!   release ships.
//! * With `ARI_CAPTURE_EVENTS=1`, a bounded representative set of the raw event frames, appended
//!   to `tests/fixtures/events-<release>.jsonl` (see [`fixtures`]).

pub mod coverage;
pub mod fixtures;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ari_sdk::events::StreamItem;
use ari_sdk::meta::{OperationInfo, Support};
use ari_sdk::{Client, ErrorKind, Event, Release};
use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::Instrument;

/// How long [`wait_event!`] waits for an event by default.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest time one scenario may take before it is failed.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

/// The releases the suite runs against, by major line.
pub const MAJORS: [u16; 2] = ari_test_env::MAJORS;

/// One configured Asterisk server ([`ari_test_env::Server`]: major, URL, credentials, the
/// password never in `Debug`), and how the harness's client reaches it.
#[derive(Clone, Debug)]
pub struct Server {
    /// The server as the environment configures it.
    pub env: ari_test_env::Server,
    /// Whether the client sends every REST call over its events WebSocket instead of HTTP
    /// ([`ari_sdk::ClientBuilder::rest_over_websocket`]).
    pub rest_over_websocket: bool,
}

impl std::ops::Deref for Server {
    type Target = ari_test_env::Server;

    fn deref(&self) -> &ari_test_env::Server {
        &self.env
    }
}

/// Whether `ARI_REQUIRE_SERVERS` is set (to anything but empty or `0`): servers must answer.
pub fn require_servers() -> bool {
    ari_test_env::require_servers()
}

/// The server of this major line, or `None` when it is not configured and not required.
pub fn server(major: u16) -> Option<Server> {
    ari_test_env::server(major).map(|env| Server {
        env,
        rest_over_websocket: false,
    })
}

/// A fresh id that no other id of the run can be a prefix of (Asterisk 22 refuses a channel id
/// that is a prefix of a live one): a tag and a UUID, always the same length for a tag.
pub fn unique_id(tag: &str) -> String {
    ari_test_env::unique_name(tag)
}

/// An item of the harness's event stream.
#[derive(Debug)]
pub enum Note {
    /// An event, decoded to its typed variant.
    Event(Box<Event>),
    /// The stream reconnected by itself.
    Reconnected {
        /// Connection attempts it took.
        attempt: u32,
        /// Time without a connection.
        downtime: Duration,
    },
    /// The stream reported an error (a lost connection, a failed attempt).
    Error(String),
}

/// What a scenario created on the server, for cleanup.
#[derive(Debug, Default)]
struct Created {
    channels: Vec<String>,
    bridges: Vec<String>,
    stored_recordings: Vec<String>,
    live_recordings: Vec<String>,
    device_states: Vec<String>,
    mailboxes: Vec<String>,
    log_channels: Vec<String>,
    global_vars: Vec<String>,
}

/// State shared between the harness, its event reader and its cleanup.
#[derive(Debug, Default)]
struct Shared {
    created: Created,
    /// Event frames that did not decode to a typed variant: `type` and why.
    decode_failures: Vec<String>,
}

/// One scenario's connection to one server: a client, a unique Stasis application, its events.
pub struct Harness {
    /// The SDK client for the server.
    pub client: Client,
    /// The server's release, as the client learned it.
    pub release: Release,
    /// The unique Stasis application of this scenario; its event stream is open.
    pub app: String,
    /// The server this harness talks to.
    pub server: Server,
    notes: mpsc::UnboundedReceiver<Note>,
    pending: VecDeque<Event>,
    seen: Vec<(Duration, String)>,
    other_notes: Vec<Note>,
    started: Instant,
    shared: Arc<Mutex<Shared>>,
    close: ari_sdk::events::CloseHandle,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("release", &self.release)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

/// Runs `scenario` against the server of `major`: skips (with a `SKIP` line on stderr) when the
/// server is not configured, fails when it is required and does not answer, and always cleans up
/// and checks event decoding afterwards. Panics (fails the test) on any failure.
pub fn run<F, Fut>(major: u16, name: &str, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_locked(major, name, false, scenario)
}

/// Like [`run`], with every REST call of the harness's client carried over its events
/// WebSocket (calls that want a binary body still go over HTTP).
pub fn run_over_websocket<F, Fut>(major: u16, name: &str, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_inner(major, name, false, true, scenario)
}

/// Like [`run`], holding the restart lock of Asterisk 22 exclusively (`exclusive`) or shared
/// (every other scenario): for the test that restarts the server.
pub fn run_locked<F, Fut>(major: u16, name: &str, exclusive: bool, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_inner(major, name, exclusive, false, scenario)
}

fn run_inner<F, Fut>(major: u16, name: &str, exclusive: bool, ws: bool, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(mut server) = server(major) else {
        ari_test_env::server_or_skip(major, name);
        return;
    };
    server.rest_over_websocket = ws;
    coverage::install();
    let _lock = if major == 22 {
        Some(restart_lock(exclusive))
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let span = tracing::info_span!("ari.test", major = major as u64, scenario = name);
        // Cleanup runs after the scenario's events connection is gone: over HTTP, always.
        let cleanup_client = Client::builder()
            .base_url(&server.url)
            .credentials(&server.user, &server.password)
            .build()
            .expect("cleanup client");
        let harness = Harness::connect(server)
            .instrument(span.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let shared = harness.shared.clone();
        let close = harness.close.clone();
        let release = harness.release;
        let outcome = tokio::time::timeout(
            SCENARIO_TIMEOUT,
            tokio::spawn(scenario(harness).instrument(span.clone())),
        )
        .await;
        // Outside the test's span: cleanup calls do not count as coverage.
        drop(span);
        let leftovers = cleanup(&cleanup_client, &shared, major).await;
        close.close();
        fixtures::flush();
        match outcome {
            Err(_) => panic!("{name} on Asterisk {release}: timed out after {SCENARIO_TIMEOUT:?}"),
            Ok(Err(join)) => match join.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("{name} on Asterisk {release}: {e}"),
            },
            Ok(Ok(())) => {}
        }
        let failures = std::mem::take(&mut shared.lock().unwrap().decode_failures);
        assert!(
            failures.is_empty(),
            "{name} on Asterisk {release}: event frames that did not decode to their typed variant:\n  {}",
            failures.join("\n  ")
        );
        assert!(
            leftovers.is_empty(),
            "{name} on Asterisk {release}: cleanup left resources behind:\n  {}",
            leftovers.join("\n  ")
        );
    });
}

pub use ari_test_env::{restart_asterisk, restart_lock};

/// Builds a client for `server` and learns its release; a clear message when it fails.
pub async fn client_for(server: &Server) -> Result<(Client, Release), String> {
    let client = Client::builder()
        .base_url(&server.url)
        .credentials(&server.user, &server.password)
        .rest_over_websocket(server.rest_over_websocket)
        .build()
        .map_err(|e| format!("client for {}: {e}", server.url))?;
    let version = client.connect().await.map_err(|e| {
        format!(
            "Asterisk {} at {} does not answer: {e} (start it with `cargo xtask asterisk up`)",
            server.major, server.url
        )
    })?;
    let release = version.as_ref().and_then(|v| v.release).ok_or_else(|| {
        format!(
            "{}: server did not tell its release: {version:?}",
            server.url
        )
    })?;
    if release.major != server.major {
        return Err(format!(
            "{} runs Asterisk {release}, not {}",
            server.url, server.major
        ));
    }
    coverage::note_release(server.major, release);
    Ok((client, release))
}

impl Harness {
    /// Connects to `server`: client, release, a unique app and its event stream.
    pub async fn connect(server: Server) -> Result<Harness, String> {
        let (client, release) = client_for(&server).await?;
        let app = unique_id("arit-app");
        let stream = client
            .event_stream()
            .app(&app)
            .connect_as::<Frame>()
            .await
            .map_err(|e| format!("event stream of {app} on {}: {e}", server.url))?;
        let close = stream.close_handle();
        // Opening the events WebSocket is the `events.eventWebsocket` operation.
        coverage::note_sent(server.major, "events.eventWebsocket".to_owned());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, notes) = mpsc::unbounded_channel();
        tokio::spawn(read_events(
            stream,
            tx,
            shared.clone(),
            server.major,
            release,
        ));
        Ok(Harness {
            client,
            release,
            app,
            server,
            notes,
            pending: VecDeque::new(),
            seen: Vec::new(),
            other_notes: Vec::new(),
            started: Instant::now(),
            shared,
            close,
        })
    }

    /// Whether the server's release ships this operation.
    pub fn ships(&self, info: &OperationInfo) -> bool {
        self.support(info.availability) == Support::Yes
    }

    /// Whether the server's release ships this parameter of this operation.
    pub fn ships_param(&self, info: &OperationInfo, param: &str) -> bool {
        let p = info.param(param).unwrap_or_else(|| {
            panic!(
                "{}.{} has no parameter {param}",
                info.resource, info.nickname
            )
        });
        self.ships(info) && self.support(p.availability) == Support::Yes
    }

    fn support(&self, availability: ari_sdk::meta::Availability) -> Support {
        availability.support(self.release, ari_sdk::releases::KNOWN_MAJORS)
    }

    /// A fresh channel id (tracked for cleanup).
    pub fn channel_id(&self) -> String {
        let id = unique_id("arit-chan");
        self.track_channel(&id);
        id
    }

    /// Remembers a channel to hang up at cleanup.
    pub fn track_channel(&self, id: &str) {
        self.shared
            .lock()
            .unwrap()
            .created
            .channels
            .push(id.to_owned());
    }

    /// Remembers a bridge to destroy at cleanup.
    pub fn track_bridge(&self, id: &str) {
        self.shared
            .lock()
            .unwrap()
            .created
            .bridges
            .push(id.to_owned());
    }

    /// Remembers a stored recording to delete at cleanup.
    pub fn track_stored_recording(&self, name: &str) {
        let mut s = self.shared.lock().unwrap();
        s.created.stored_recordings.push(name.to_owned());
    }

    /// Remembers a live recording to stop (and its stored file to delete) at cleanup.
    pub fn track_live_recording(&self, name: &str) {
        let mut s = self.shared.lock().unwrap();
        s.created.live_recordings.push(name.to_owned());
        s.created.stored_recordings.push(name.to_owned());
    }

    /// Remembers a device state to delete at cleanup.
    pub fn track_device_state(&self, name: &str) {
        let mut s = self.shared.lock().unwrap();
        s.created.device_states.push(name.to_owned());
    }

    /// Remembers a mailbox to delete at cleanup.
    pub fn track_mailbox(&self, name: &str) {
        self.shared
            .lock()
            .unwrap()
            .created
            .mailboxes
            .push(name.to_owned());
    }

    /// Remembers a log channel to delete at cleanup.
    pub fn track_log_channel(&self, name: &str) {
        let mut s = self.shared.lock().unwrap();
        s.created.log_channels.push(name.to_owned());
    }

    /// Remembers a global variable to clear at cleanup.
    pub fn track_global_var(&self, name: &str) {
        let mut s = self.shared.lock().unwrap();
        s.created.global_vars.push(name.to_owned());
    }

    /// Originates `Local/<extension>@default` into this app with fresh ids for both halves and
    /// waits for its StasisStart; returns the `;1` half's id (in the app) and the `;2` half's.
    pub async fn local_in_app(&mut self, extension: &str) -> (String, String) {
        let id = self.channel_id();
        let other = self.channel_id();
        self.client
            .channels()
            .originate(format!("Local/{extension}@default"))
            .app(&self.app)
            .channel_id(&id)
            .other_channel_id(&other)
            .send()
            .await
            .unwrap_or_else(|e| panic!("originate Local/{extension}@default: {e}"));
        let cid = id.clone();
        wait_event!(self, StasisStart(s) if s.channel.id == cid);
        (id, other)
    }

    /// Originates `Local/stasis@default` so that its `;2` half enters this app from the dialplan,
    /// unanswered (state `Ring`), while the `;1` half goes on to extension `far` once `;2`
    /// answers. Waits for the StasisStart; returns `(in_app, outer)`: the `;2` id, the `;1` id.
    pub async fn inbound(&mut self, far: &str) -> (String, String) {
        let outer = self.channel_id();
        let inner = self.channel_id();
        self.client
            .channels()
            .originate("Local/stasis@default")
            .extension(far)
            .context("default")
            .variables([("ARI_APP", self.app.as_str())])
            .channel_id(&outer)
            .other_channel_id(&inner)
            .send()
            .await
            .unwrap_or_else(|e| panic!("originate Local/stasis@default: {e}"));
        let cid = inner.clone();
        wait_event!(self, StasisStart(s) if s.channel.id == cid);
        (inner, outer)
    }

    /// A Local pair with both halves in this app: `;2` enters from the dialplan and is answered,
    /// which puts `;1` (originated into the app) in too. Returns `(half1, half2)`.
    pub async fn pair_in_app(&mut self) -> (String, String) {
        let one = self.channel_id();
        let two = self.channel_id();
        self.client
            .channels()
            .originate("Local/stasis@default")
            .app(&self.app)
            .variables([("ARI_APP", self.app.as_str())])
            .channel_id(&one)
            .other_channel_id(&two)
            .send()
            .await
            .unwrap_or_else(|e| panic!("originate Local/stasis@default: {e}"));
        let id2 = two.clone();
        wait_event!(self, StasisStart(s) if s.channel.id == id2);
        self.client
            .channels()
            .answer(&two)
            .send()
            .await
            .unwrap_or_else(|e| panic!("answer {two}: {e}"));
        let id1 = one.clone();
        wait_event!(self, StasisStart(s) if s.channel.id == id1);
        (one, two)
    }

    /// Waits up to `timeout` for an event for which `pick` returns `Some`, and returns that.
    /// Events that arrived earlier and were not taken by a previous wait count too; the event
    /// taken is removed from the pending ones. Panics with the list of events seen on timeout.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut index = 0;
        loop {
            while index < self.pending.len() {
                if let Some(found) = pick(&self.pending[index]) {
                    self.pending.remove(index);
                    return found;
                }
                index += 1;
            }
            match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Ok(Some(Note::Event(event))) => {
                    self.seen.push((self.started.elapsed(), describe(&event)));
                    self.pending.push_back(*event);
                }
                Ok(Some(other)) => self.other_notes.push(other),
                Ok(None) => panic!(
                    "waiting for {what} on Asterisk {}: the event stream ended\n{}",
                    self.release,
                    self.history()
                ),
                Err(_) => panic!(
                    "waiting for {what} on Asterisk {} (app {}): not seen within {timeout:?}\n{}",
                    self.release,
                    self.app,
                    self.history()
                ),
            }
        }
    }

    /// Waits for the next non-event item of the stream (a reconnect or an error), keeping events
    /// that arrive meanwhile for later waits.
    pub async fn next_note(&mut self, timeout: Duration) -> Option<Note> {
        if !self.other_notes.is_empty() {
            return Some(self.other_notes.remove(0));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Ok(Some(Note::Event(event))) => {
                    self.seen.push((self.started.elapsed(), describe(&event)));
                    self.pending.push_back(*event);
                }
                Ok(Some(other)) => return Some(other),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The events seen so far, one per line, for failure messages.
    pub fn history(&self) -> String {
        let mut out = format!("events seen by app {} ({}):", self.app, self.seen.len());
        for (at, what) in &self.seen {
            let _ = write!(out, "\n  +{:>6.3}s {what}", at.as_secs_f64());
        }
        for note in &self.other_notes {
            let _ = write!(out, "\n  (stream) {note:?}");
        }
        let failures = &self.shared.lock().unwrap().decode_failures;
        for f in failures {
            let _ = write!(out, "\n  (did not decode) {f}");
        }
        out
    }

    /// Asserts that `result` is the client's refusal to send an operation or parameter that the
    /// server's release does not ship, and counts the refusal in the coverage.
    pub fn expect_unsupported<T: std::fmt::Debug>(&self, result: ari_sdk::Result<T>, what: &str) {
        let e = match result {
            Ok(v) => panic!(
                "{what} on Asterisk {}: expected the client to refuse it (Unsupported), got Ok({v:?})",
                self.release
            ),
            Err(e) => e,
        };
        assert_eq!(
            e.kind(),
            ErrorKind::Unsupported,
            "{what} on Asterisk {}: expected Unsupported, got {e}",
            self.release
        );
        assert_eq!(e.server_release(), Some(self.release), "{e}");
        let op = e
            .operation()
            .expect("an Unsupported error names its operation");
        coverage::note_refused(self.server.major, op);
    }

    /// Asserts that `result` is an HTTP error with this status, that it carries Asterisk's message
    /// and the reason the spec documents for the status (when it documents one); returns the error.
    pub fn expect_http<T: std::fmt::Debug>(
        &self,
        result: ari_sdk::Result<T>,
        status: u16,
        what: &str,
    ) -> ari_sdk::Error {
        let e = match result {
            Ok(v) => panic!(
                "{what} on Asterisk {}: expected HTTP {status}, got Ok({v:?})",
                self.release
            ),
            Err(e) => e,
        };
        assert_eq!(
            (e.kind(), e.status()),
            (ErrorKind::Http, Some(status)),
            "{what} on Asterisk {}: expected HTTP {status}, got {e}",
            self.release
        );
        let op = e.operation().expect("an HTTP error names its operation");
        assert!(
            e.asterisk_message().is_some_and(|m| !m.is_empty()),
            "{what} on Asterisk {}: the error carries no message from Asterisk: {e}",
            self.release
        );
        assert_eq!(
            e.documented_reason(),
            op.error_reason(status),
            "{what}: the error's documented reason is not the spec's: {e}"
        );
        e
    }
}

/// A further events connection that a scenario opens (for a second app), whose frames are
/// checked and recorded like the harness's own.
pub struct ExtraStream {
    /// The app it is registered for.
    pub app: String,
    stream: ari_sdk::events::EventStream<Frame>,
    major: u16,
    release: Release,
    seen: Vec<String>,
}

impl std::fmt::Debug for ExtraStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraStream")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl ExtraStream {
    /// Waits up to `timeout` for an event for which `pick` returns `Some`; panics with the
    /// events seen on timeout, and at once on a frame that does not decode to its variant.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let item = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(item)) => item,
                Ok(None) => panic!("waiting for {what} in app {}: the stream ended", self.app),
                Err(_) => panic!(
                    "waiting for {what} in app {} on Asterisk {}: not seen within {timeout:?}; seen: {:?}",
                    self.app, self.release, self.seen
                ),
            };
            match item {
                StreamItem::Event(raw) => {
                    fixtures::record(self.major, self.release, raw.get());
                    let event = check_frame(raw.get()).unwrap_or_else(|why| panic!("{why}"));
                    self.seen.push(describe(&event));
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                other => self.seen.push(format!("{other:?}")),
            }
        }
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.stream.close();
    }
}

impl Harness {
    /// Opens another events connection, for app `app` (a fresh one when `None`).
    pub async fn extra_stream(&self, app: Option<&str>) -> ExtraStream {
        let app = app.map_or_else(|| unique_id("arit-app"), str::to_owned);
        let stream = self
            .client
            .event_stream()
            .app(&app)
            .connect_as::<Frame>()
            .await
            .unwrap_or_else(|e| panic!("events of {app}: {e}"));
        ExtraStream {
            app,
            stream,
            major: self.server.major,
            release: self.release,
            seen: Vec::new(),
        }
    }
}

/// Waits (with [`EVENT_TIMEOUT`] or a given timeout) for an event matching a variant pattern and
/// an optional guard, and evaluates to a clone of the variant's payload.
///
/// ```ignore
/// let started = wait_event!(h, PlaybackStarted(p) if p.playback.id == id);
/// let ended = wait_event!(h, StasisEnd(e) if e.channel.id == chan; Duration::from_secs(5));
/// ```
#[macro_export]
macro_rules! wait_event {
    ($h:expr, $variant:ident ( $b:ident ) $(if $guard:expr)? $(; $timeout:expr)?) => {{
        #[allow(unused_variables)]
        let timeout = $crate::EVENT_TIMEOUT;
        $(let timeout = $timeout;)?
        $h.wait_for(
            concat!(stringify!($variant), $(" where ", stringify!($guard))?),
            timeout,
            |e| match e {
                ari_sdk::Event::$variant($b) $(if $guard)? => Some($b.clone()),
                _ => None,
            },
        )
        .await
    }};
}

/// A one-line description of an event for failure messages: its type and the ids it concerns.
pub fn describe(event: &Event) -> String {
    let mut out = event.type_name().to_owned();
    event.visit_resources(|r| {
        let _ = write!(out, " {r:?}");
    });
    // The channel's state and dialplan location, when the event carries a channel.
    if let Ok(v) = serde_json::to_value(event)
        && let Some(c) = v.get("channel")
    {
        let s = |p: &str| {
            c.pointer(p)
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let _ = write!(
            out,
            " [{} {}@{} {}]",
            s("/state"),
            s("/dialplan/exten"),
            s("/dialplan/context"),
            s("/dialplan/app_name")
        );
    }
    out
}

/// Reads the event stream: records and checks every frame, forwards it to the harness.
async fn read_events(
    mut stream: ari_sdk::events::EventStream<Frame>,
    tx: mpsc::UnboundedSender<Note>,
    shared: Arc<Mutex<Shared>>,
    major: u16,
    release: Release,
) {
    while let Some(item) = stream.next().await {
        let note = match item {
            StreamItem::Event(raw) => {
                fixtures::record(major, release, raw.get());
                match check_frame(raw.get()) {
                    Ok(event) => Note::Event(Box::new(event)),
                    Err(why) => {
                        shared.lock().unwrap().decode_failures.push(why);
                        continue;
                    }
                }
            }
            StreamItem::Reconnected { attempt, downtime } => {
                Note::Reconnected { attempt, downtime }
            }
            StreamItem::Undecoded(u) => Note::Error(u.to_string()),
            StreamItem::Error(e) => Note::Error(e.to_string()),
        };
        if tx.send(note).is_err() {
            break;
        }
    }
}

/// An event frame exactly as the server sent it (key order and all), so that recorded fixtures
/// are the wire bytes and decoding takes the same path as in production.
pub type Frame = Box<serde_json::value::RawValue>;

/// Decodes one raw event frame to the typed [`Event`]; an error or `Unknown` is a failure,
/// described with the frame's type and the decoder's message.
pub fn check_frame(raw: &str) -> Result<Event, String> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}: {raw}"))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("<no type>");
    match serde_json::from_str::<Event>(raw) {
        Ok(Event::Unknown { kind, .. }) => Err(format!("{kind}: decoded to Event::Unknown")),
        Ok(event) => Ok(event),
        Err(e) => Err(format!("{kind}: {e}: {}", excerpt(&value))),
    }
}

fn excerpt(raw: &serde_json::Value) -> String {
    let text = raw.to_string();
    match text.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Deletes what a scenario created; returns what could not be removed.
async fn cleanup(client: &Client, shared: &Arc<Mutex<Shared>>, major: u16) -> Vec<String> {
    let created = std::mem::take(&mut shared.lock().unwrap().created);
    remember_created(major, &created);
    let mut left = Vec::new();
    let gone = |r: &ari_sdk::Result<()>| match r {
        Ok(()) => true,
        Err(e) => e.status() == Some(404),
    };
    for name in &created.live_recordings {
        // A recording still running: stop it so that its file can be deleted.
        let _ = client.recordings().stop(name).send().await;
    }
    for id in &created.channels {
        let r = client.channels().hangup(id).send().await;
        if !gone(&r) {
            left.push(format!("channel {id}: {r:?}"));
        }
    }
    for id in &created.bridges {
        let r = client.bridges().destroy(id).send().await;
        if !gone(&r) {
            left.push(format!("bridge {id}: {r:?}"));
        }
    }
    for name in &created.stored_recordings {
        let r = client.recordings().delete_stored(name).send().await;
        if !gone(&r) {
            left.push(format!("stored recording {name}: {r:?}"));
        }
    }
    for name in &created.device_states {
        let r = client.device_states().delete(name).send().await;
        if !gone(&r) {
            left.push(format!("device state {name}: {r:?}"));
        }
    }
    for name in &created.mailboxes {
        let r = client.mailboxes().delete(name).send().await;
        if !gone(&r) {
            left.push(format!("mailbox {name}: {r:?}"));
        }
    }
    for name in &created.log_channels {
        let r = client.asterisk().delete_log(name).send().await;
        if !gone(&r) {
            left.push(format!("log channel {name}: {r:?}"));
        }
    }
    for name in &created.global_vars {
        let r = client
            .asterisk()
            .set_global_var(name)
            .value("")
            .send()
            .await;
        if r.is_err() {
            left.push(format!("global variable {name}: {r:?}"));
        }
    }
    left
}

/// Every resource a scenario of this process created, by server major line: what
/// [`leftovers`] checks at the end of a run.
static ALL_CREATED: Mutex<Vec<(u16, &'static str, String)>> = Mutex::new(Vec::new());

fn remember_created(major: u16, created: &Created) {
    let mut all = ALL_CREATED.lock().unwrap();
    let kinds: [(&'static str, &Vec<String>); 5] = [
        ("channel", &created.channels),
        ("bridge", &created.bridges),
        ("stored recording", &created.stored_recordings),
        ("device state", &created.device_states),
        ("mailbox", &created.mailboxes),
    ];
    for (kind, ids) in kinds {
        all.extend(ids.iter().map(|id| (major, kind, id.clone())));
    }
}

/// After a whole run: the channels, bridges, stored recordings, device states and mailboxes
/// that scenarios of this process created and that the servers still list. Channels are given
/// a few seconds to finish hanging up.
pub fn leftovers() -> Vec<String> {
    let all = std::mem::take(&mut *ALL_CREATED.lock().unwrap());
    if all.is_empty() {
        return Vec::new();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let mut left = Vec::new();
        for major in MAJORS {
            let ours: Vec<_> = all.iter().filter(|(m, ..)| *m == major).collect();
            let Some(server) = server(major).filter(|_| !ours.is_empty()) else {
                continue;
            };
            let client = match client_for(&server).await {
                Ok((c, _)) => c,
                Err(e) => {
                    left.push(e);
                    continue;
                }
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            let listed = loop {
                let listed = list_names(&client).await;
                let still: Vec<_> = ours
                    .iter()
                    .filter(|(_, kind, id)| listed.contains(&(*kind, id.clone())))
                    .map(|(_, kind, id)| format!("Asterisk {major}: {kind} {id}"))
                    .collect();
                if still.is_empty() || Instant::now() > deadline {
                    break still;
                }
                // Hangups complete asynchronously and no event stream is open any more.
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            left.extend(listed);
        }
        left
    })
}

async fn list_names(client: &Client) -> std::collections::BTreeSet<(&'static str, String)> {
    let mut names = std::collections::BTreeSet::new();
    if let Ok(list) = client.channels().list().send().await {
        names.extend(list.into_iter().map(|c| ("channel", c.id)));
    }
    if let Ok(list) = client.bridges().list().send().await {
        names.extend(list.into_iter().map(|b| ("bridge", b.id)));
    }
    if let Ok(list) = client.recordings().list_stored().send().await {
        names.extend(list.into_iter().map(|r| ("stored recording", r.name)));
    }
    if let Ok(list) = client.device_states().list().send().await {
        names.extend(list.into_iter().map(|d| ("device state", d.name)));
    }
    if let Ok(list) = client.mailboxes().list().send().await {
        names.extend(list.into_iter().map(|m| ("mailbox", m.name)));
    }
    names
}

/// Milliseconds since the Unix epoch of a timestamp as Asterisk writes it
/// (`2026-01-01T10:00:00.123+0100`), or `None` when it is not one. For durations on the
/// server's own clock (an event's `timestamp` against a channel's `creationtime`), which tests
/// can assert without racing the test machine's clock.
pub fn asterisk_time_ms(ts: &str) -> Option<i64> {
    let (date, rest) = ts.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let sign_at = rest.rfind(['+', '-'])?;
    let (clock, offset) = rest.split_at(sign_at);
    let mut c = clock.splitn(3, ':');
    let (h, min) = (
        c.next()?.parse::<i64>().ok()?,
        c.next()?.parse::<i64>().ok()?,
    );
    let secs: f64 = c.next()?.parse().ok()?;
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let off = offset.get(1..)?;
    let (oh, om) = (
        off.get(..2)?.parse::<i64>().ok()?,
        off.get(2..)?.parse::<i64>().ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let local = ((days * 24 + h) * 60 + min) * 60_000 + (secs * 1000.0).round() as i64;
    Some(local - sign * (oh * 60 + om) * 60_000)
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn asterisk_timestamps_parse() {
        assert_eq!(
            super::asterisk_time_ms("1970-01-01T00:00:01.500+0000"),
            Some(1500)
        );
        assert_eq!(
            super::asterisk_time_ms("2024-05-01T10:00:00.000+0200"),
            Some(1_714_550_400_000)
        );
        assert_eq!(super::asterisk_time_ms("not a time"), None);
    }
}
