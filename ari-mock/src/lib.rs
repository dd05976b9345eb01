//! A simulated Asterisk for the tests of ARI applications: the REST API and the events WebSocket
//! of a chosen release, on 127.0.0.1, with a state model of what ARI applications touch and a
//! test API to drive it (a call comes in, the caller presses keys or hangs up, time passes,
//! faults happen).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! let mock = ari_mock::Mock::start().await.unwrap(); // 22.10.1, asterisk/asterisk
//! let client = ari_sdk::Client::new(mock.url(), "asterisk", "asterisk").unwrap();
//! // ... start the application under test with `client`, then:
//! let call = mock.incoming_call("my-app").caller("Alice", "100").send();
//! call.press("1");
//! tokio::time::sleep(Duration::from_secs(10)).await; // free with paused time
//! call.hang_up();
//! assert!(mock.requests().iter().any(|r| r.operation.as_deref() == Some("channels.answer")));
//! # }
//! ```
//!
//! # Routes
//!
//! The route table ([`generated::routes`]) is generated from the ARI spec corpus by
//! `cargo xtask codegen` (checked by `cargo xtask codegen --check`): the mock answers exactly the
//! operations the chosen release ships. An unknown path is 404 `Resource not found`, a known
//! path with another method 405 with `Allow`, wrong credentials 401 with `WWW-Authenticate`, a
//! read-only user's write 403, a body that is not JSON 400 `Error parsing request body`; a
//! parameter the release does not accept is ignored, as Asterisk does. Handlers check what
//! Asterisk checks, in its order (mostly the resource first: 404 `Channel not found`, then the
//! arguments: 400), with its messages.
//!
//! # Time
//!
//! Everything that takes time (a far end that answers after 2 s, a playback that lasts as long
//! as its media, `maxDurationSeconds`) is a task sleeping on tokio's clock. In a test with
//! `#[tokio::test(start_paused = true)]` the runtime skips through those sleeps whenever every
//! task waits, so a 10 s IVR timeout takes no real time. Timestamps in events follow the same
//! clock. [`Mock::advance`] is `tokio::time::advance` for tests that step time by hand.
//!
//! # Far ends
//!
//! `Local/<exten>@<context>` channels behave like the dialplan of `cargo xtask asterisk up`
//! (xtask/assets/asterisk/extensions.conf): `wait`, `echo`, `tone`, `moh` answer and stay up;
//! `ring` rings; `answer-later` rings 2 s then answers; `answer-hangup` answers and hangs up 1 s
//! later (cause 16); `hangup` refuses with cause 17, `hangup-N` with cause N; `dtmf`/`dtmf-D`
//! answer and send the digits after 1 s; `hello` answers, plays 1.4 s and hangs up; `stasis`
//! enters `${ARI_APP}` with `${ARI_ARGS}`, unanswered, and `stasis-APP` enters APP.
//!
//! # Deliberate differences from Asterisk
//!
//! Each is a simplification that no scenario of the differential suite (tests/differential.rs)
//! depends on, or a detail a mock cannot have:
//!
//! * No media: no audio, RTP, codecs, snoop, external media, chan_websocket; recordings have no
//!   file (`getStoredFile` is not simulated) and last as long as virtual time ran.
//!   Media lengths are a table ([`Mock::set_media_length`]); an unknown `sound:` lasts 1 s, a
//!   `sound:` whose name contains `no-such` fails.
//! * Operations outside the state model answer 501 naming the operation: dynamic config,
//!   modules, logging, mailboxes, endpoints other than the empty lists, text messages, refer,
//!   `externalMedia`, `snoopChannel`, `redirect`, `applications.filter`,
//!   `events.claimChannel`, `sounds.get`. `rtpstatistics` is refused with 403 `Unsupported
//!   channel type`, as Asterisk refuses it for Local channels (the mock has no RTP).
//! * REST over the events WebSocket (22.4+) and outbound WebSockets are not simulated.
//! * Events that only tell dialplan progress are approximated: `ChannelDialplan` of the far
//!   half of a Local pair names the first application of its extension; `ChannelConnectedLine`,
//!   `ChannelCallerId`, `ChannelTalkingStarted`, `BRIDGEPEER` `ChannelVarset` and the
//!   `Announcer` channel of a bridge playback are not sent. The differential suite ignores
//!   `ChannelVarset` and `ChannelDialplan`.
//! * Any channel technology other than `Local` is one channel (no pair) whose far end answers.
//! * Asterisk's interleaving of two channels' events in a Local pair varies between runs and
//!   releases; the mock's is fixed (the per-channel order is Asterisk's).
//! * 405 and 404 reason phrases are hyper's (`Not Found`; Asterisk writes `Not found` for some
//!   bridge operations); the `Server` header is `Asterisk/ari-mock`.
//! * An events connection without `app` is refused with 400 before the upgrade, like
//!   Asterisk; an app whose connection closed stays known (as Asterisk keeps it inactive).
//! * Playback `stop` finishes with state `done`; `forward` and `reverse` change nothing.
//! * Variables and caller id set on a channel take effect before the answer (Asterisk 16 applies
//!   them later, from the channel's own thread: a `GET` right after the `POST` may still miss
//!   them there, and `ChannelCallerId` may come after later events).
//! * Asterisk sends a dial's first `Dial` and the `Ringing` state change (or, refused, the
//!   hangup request) in either order from run to run; the mock always sends `Dial` first. Asterisk may also send `Dial(RINGING)` before that
//!   first `Dial`.
//! * A channel hung up while in the app is gone at once: a `GET` after its `StasisEnd` answers
//!   404, where Asterisk may list it for a moment longer. To a subscriber of a hung-up half of a
//!   Local pair, Asterisk sends a second `ChannelHangupRequest` (cause 16, soft) after
//!   `StasisEnd`; the mock does not.
//! * `channels.dial` and `originate` honour `timeout` on the mock's clock; a `Local/ring`
//!   that runs out is hung up with cause 19 (`NOANSWER`).
//! * A bridge destroyed with channels in it sends `ChannelLeftBridge` for each and
//!   `BridgeDestroyed` only to explicit subscribers (as Asterisk 22 and 16 did in the captured
//!   runs); an empty one sends `BridgeDestroyed` to the apps whose channels had been in it.
//! * Device states accept any `Stasis:` name (others: 409); faults ([`Mock::fail_next`]) apply to every REST
//!   request, including the one a client makes to learn the release.
//!
//! # Differential proof
//!
//! `tests/differential.rs` runs these scenarios against the real 22.10.1 and 16.28.0 (from the
//! conformance suite's `hello`, `originate`, `channel_ops`, `dial`, `bridges`, `recordings` and
//! the error cases of every module) and against the mock of the same release, comparing every
//! answer's status, body shape and error message, each resource's sequence of event types
//! (leaving out `ChannelVarset` and `ChannelDialplan`), and the key order of each event:
//! `hello` (Local `stasis` with args, answer, play, hangup), `originate_dtmf` (far-end key,
//! DTMF to the far end, hold, mute, variables, `CALLERID(num)`, hangup with a reason),
//! `create_dial` (create, dial with ringing then answer, dial again 409), `bridge`
//! (add/remove/play/re-add/hangup inside/destroy, 422 and 400), `record` (live -> stored,
//! delete, 404s), `refused` (busy far end), `device_states` (subscribe, update, get, an
//! invalid state: 500, delete twice: 204, the `DeviceStateChanged` events: 16 announces a
//! delete, 22 does not), `bad_input` (unknown paths and ids, wrong methods
//! with `Allow`, missing arguments, a body that is not JSON, wrong credentials).
//!
//! The conformance suite itself also runs against the binary, unchanged, for the scenarios the
//! state model covers. With `ari-mock --release 22.10.1` and `ari-mock --release 16.28.0`
//! running (each prints its `ARI_URL=`):
//!
//! ```text
//! ARI_URL_22=<url of the 22.10.1 mock> ARI_URL_16=<url of the 16.28.0 mock> \
//!   cargo test -p ari-tests --test conformance -- --skip _ws \
//!   hello:: dial:: channel_ops::dtmf channel_ops::ring playbacks:: bridges:: originate::originate_forms
//! ```
//!
//! (libtest takes one filter per run: run it once per scenario.) These pass on both releases:
//! `hello_world`, `create_and_dial`, `dtmf`, `ring_hold_mute`, `playback_control`,
//! `bridge_lifecycle`, `originate_forms`. Not yet: `continue_move_redirect` (no
//! `ApplicationMoveFailed`, no `redirect`), `record_channel` (no talk detection),
//! `variables_and_snoop` (no snoop), `subscriptions` (no event filter), and the scenarios of
//! resources outside the model (asterisk, endpoints, mailboxes, sounds, external media).

#[allow(missing_docs)]
#[rustfmt::skip]
pub mod generated;
pub mod json;
pub mod models;
mod ops;
pub mod routes;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

pub use server::LoggedRequest;
use server::{Config, Fault, FaultAction};
use state::{Shared, World};

/// Why the mock did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The release is not in the spec corpus the route table was generated from.
    #[error(
        "release {0} is not known to ari-mock (the corpus has 12.0.0 to 23.4.1; see ari_mock::generated::routes::RELEASES)"
    )]
    UnknownRelease(String),
    /// The release text is not `MAJOR.MINOR.PATCH`.
    #[error("release {0:?} is not MAJOR.MINOR.PATCH")]
    BadRelease(String),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Settings of a mock before it starts.
#[derive(Clone, Debug)]
pub struct MockBuilder {
    release: String,
    users: Vec<(String, String, bool)>,
    addr: SocketAddr,
}

impl Default for MockBuilder {
    fn default() -> Self {
        MockBuilder {
            release: "22.10.1".into(),
            users: vec![("asterisk".into(), "asterisk".into(), false)],
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl MockBuilder {
    /// The release to simulate (`22.10.1` by default): its routes, parameters and behaviours.
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = release.into();
        self
    }

    /// Replaces the default user (`asterisk` / `asterisk`) with this one.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.retain(|(u, _, _)| u != "asterisk");
        self.users.push((user.into(), password.into(), false));
        self
    }

    /// Adds a read-only user (its writes are refused with 403, as Asterisk does).
    pub fn read_only_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((user.into(), password.into(), true));
        self
    }

    /// The address to listen on (default 127.0.0.1 and a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Starts listening. Needs a tokio runtime (the mock's tasks run on it).
    pub async fn start(self) -> Result<Mock, StartError> {
        let release = parse_release(&self.release)?;
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.addr,
            source,
        })?;
        let world = World::new(release);
        let config = Arc::new(Config {
            users: self.users,
            table: routes::Table::for_release(release),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(server::serve(listener, world.clone(), config.clone()));
        Ok(Mock {
            inner: Arc::new(Inner {
                addr,
                release,
                world,
                config,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

fn parse_release(text: &str) -> Result<routes::Release, StartError> {
    let parts: Vec<u16> = text
        .split('.')
        .map(|p| p.parse::<u16>())
        .collect::<Result<_, _>>()
        .map_err(|_| StartError::BadRelease(text.to_owned()))?;
    let [a, b, c] = parts[..] else {
        return Err(StartError::BadRelease(text.to_owned()));
    };
    let r = (a, b, c);
    if !generated::routes::RELEASES.contains(&r) {
        return Err(StartError::UnknownRelease(text.to_owned()));
    }
    Ok(r)
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    release: routes::Release,
    world: Shared,
    config: Arc<Config>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
        self.world
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drop_connections();
    }
}

/// A running simulated Asterisk. Cheap to clone; it stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Mock {
    inner: Arc<Inner>,
}

impl Mock {
    /// Starts a mock of 22.10.1 with user `asterisk` / `asterisk`.
    pub async fn start() -> Result<Mock, StartError> {
        MockBuilder::default().start().await
    }

    /// Settings for a mock.
    pub fn builder() -> MockBuilder {
        MockBuilder::default()
    }

    /// The ARI base URL, e.g. `http://127.0.0.1:40123/ari`.
    pub fn url(&self) -> String {
        format!("http://{}/ari", self.inner.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The simulated release.
    pub fn release(&self) -> String {
        let (a, b, c) = self.inner.release;
        format!("{a}.{b}.{c}")
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.inner.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.inner
            .config
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The requests received for one operation (`channels.answer`).
    pub fn requests_to(&self, operation: &str) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some(operation))
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.inner
            .config
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn add_fault(&self, operation: Option<&str>, times: u32, action: FaultAction) {
        self.inner
            .config
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Fault {
                operation: operation.map(str::to_owned),
                remaining: times,
                action,
            });
    }

    /// The next `times` REST requests are answered with `status` (`{"message":"Injected
    /// fault"}`) without being handled.
    pub fn fail_next(&self, times: u32, status: u16) {
        self.add_fault(None, times, FaultAction::Status(status));
    }

    /// Like [`fail_next`](Self::fail_next), for one operation only (`channels.answer`).
    pub fn fail_next_on(&self, operation: &str, times: u32, status: u16) {
        self.add_fault(Some(operation), times, FaultAction::Status(status));
    }

    /// The next `times` REST requests wait `delay` (tokio's clock) before they are handled.
    pub fn delay_next(&self, times: u32, delay: Duration) {
        self.add_fault(None, times, FaultAction::Delay(delay));
    }

    /// Like [`delay_next`](Self::delay_next), for one operation only.
    pub fn delay_next_on(&self, operation: &str, times: u32, delay: Duration) {
        self.add_fault(Some(operation), times, FaultAction::Delay(delay));
    }

    /// Closes every events WebSocket (a network failure); clients may connect again.
    pub fn drop_websockets(&self) {
        self.world().drop_connections();
    }

    /// Restarts the simulated Asterisk: every connection closes, every call, bridge, playback
    /// and live recording is gone; nothing answers for `downtime`; then it listens again on the
    /// same port. Stored recordings, device states and global variables persist.
    pub async fn restart(&self, downtime: Duration) -> Result<(), StartError> {
        if let Some(t) = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
        self.world().restart();
        tokio::time::sleep(downtime).await;
        let listener =
            TcpListener::bind(self.inner.addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: self.inner.addr,
                    source,
                })?;
        let task = tokio::spawn(server::serve(
            listener,
            self.inner.world.clone(),
            self.inner.config.clone(),
        ));
        *self.inner.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(())
    }

    /// Moves tokio's paused clock forward (`tokio::time::advance`); the mock's timers fire.
    pub async fn advance(&self, by: Duration) {
        tokio::time::advance(by).await;
    }

    /// Sets how long a media URI plays (`sound:hello-world`: 1.4 s by default).
    pub fn set_media_length(&self, media: &str, length: Duration) {
        self.world().media.insert(media.to_owned(), length);
    }

    /// A call that arrives in application `app` as if dialled in (`exten => 100,1,Stasis(app)`).
    pub fn incoming_call(&self, app: &str) -> IncomingCallBuilder {
        IncomingCallBuilder {
            mock: self.clone(),
            app: app.to_owned(),
            caller: (String::new(), String::new()),
            exten: "100".into(),
            args: Vec::new(),
            endpoint: "PJSIP/caller".into(),
            id: None,
        }
    }

    /// The ids of the channels that exist now.
    pub fn channel_ids(&self) -> Vec<String> {
        self.world().channels.keys().cloned().collect()
    }

    /// The ids of the bridges that exist now.
    pub fn bridge_ids(&self) -> Vec<String> {
        self.world().bridges.keys().cloned().collect()
    }

    /// The state of a channel (`Ring`, `Up`, ...), if it exists.
    pub fn channel_state(&self, id: &str) -> Option<String> {
        self.world().channels.get(id).map(|c| c.state.clone())
    }

    /// A channel variable as the application set it, if the channel exists and has it.
    pub fn channel_var(&self, id: &str, name: &str) -> Option<String> {
        self.world()
            .channels
            .get(id)
            .and_then(|c| c.vars.get(name).cloned())
    }

    /// The names of the stored recordings.
    pub fn stored_recordings(&self) -> Vec<String> {
        self.world().stored.keys().cloned().collect()
    }

    /// Sets a device state, as the network would (`DeviceStateChanged` to subscribers).
    pub fn set_device_state(&self, name: &str, state: &str) {
        self.world().set_device_state(name, state);
    }
}

/// A call about to arrive; [`send`](Self::send) makes it arrive.
#[derive(Debug)]
pub struct IncomingCallBuilder {
    mock: Mock,
    app: String,
    caller: (String, String),
    exten: String,
    args: Vec<String>,
    endpoint: String,
    id: Option<String>,
}

impl IncomingCallBuilder {
    /// The caller's name and number.
    pub fn caller(mut self, name: &str, number: &str) -> Self {
        self.caller = (name.to_owned(), number.to_owned());
        self
    }

    /// The extension dialled (default `100`).
    pub fn exten(mut self, exten: &str) -> Self {
        self.exten = exten.to_owned();
        self
    }

    /// The arguments of `Stasis(app,args...)`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The calling endpoint, naming the channel (default `PJSIP/caller`).
    pub fn endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.to_owned();
        self
    }

    /// The channel's id (default: one made like Asterisk's).
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// The call arrives: a channel in state `Ring` enters the app (`StasisStart`).
    pub fn send(self) -> IncomingCall {
        let mut w = self.mock.world();
        let seq = w.channels.len() + 1;
        let mut c = w.make_channel(self.id, format!("{}-{seq:08x}", self.endpoint));
        c.state = "Ring".into();
        c.caller = self.caller;
        c.exten = self.exten;
        c.context = "default".into();
        let id = c.id.clone();
        w.channels.insert(id.clone(), c);
        w.apps.entry(self.app.clone()).or_default();
        w.enter_stasis(&id, &self.app, self.args);
        drop(w);
        IncomingCall {
            mock: self.mock,
            id,
        }
    }
}

/// A call that came in from the network: the test plays its caller.
#[derive(Clone, Debug)]
pub struct IncomingCall {
    mock: Mock,
    id: String,
}

impl IncomingCall {
    /// The channel's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The caller presses keys: `ChannelDtmfReceived` for each (250 ms each, 100 ms apart, on
    /// tokio's clock).
    pub fn press(&self, digits: &str) {
        self.mock
            .world()
            .send_dtmf(self.id.clone(), digits, 250, 100);
    }

    /// The caller hangs up (cause 16): `ChannelHangupRequest`, `StasisEnd` (and
    /// `ChannelDestroyed` to applications subscribed to the channel explicitly).
    pub fn hang_up(&self) {
        self.hang_up_with(16);
    }

    /// The caller's side hangs up with a Q.850 cause.
    pub fn hang_up_with(&self, cause: u32) {
        self.mock.world().hangup_plain(&self.id, cause);
    }

    /// The channel's state now (`None` once it is gone).
    pub fn state(&self) -> Option<String> {
        self.mock.channel_state(&self.id)
    }

    /// Whether the channel still exists.
    pub fn is_up(&self) -> bool {
        self.state().is_some()
    }
}
