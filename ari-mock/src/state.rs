//! The simulated Asterisk: channels, bridges, playbacks, recordings, applications, device
//! states, and the events each change sends to the applications subscribed to it.
//!
//! One [`World`] behind a mutex; handlers run synchronously under the lock, and what happens
//! later (a far end answering, a playback finishing) is a task that sleeps on tokio's clock,
//! so that a test with paused time advances through it at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::json::J;
use crate::routes::Release;

/// The world behind its lock.
pub(crate) type Shared = Arc<Mutex<World>>;

/// A frame for one events connection: a text frame, or the order to close.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Text(String),
    Close,
}

/// One events WebSocket, as the apps it serves see it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) tx: mpsc::UnboundedSender<Frame>,
}

/// A Stasis application.
#[derive(Debug, Default)]
pub(crate) struct App {
    /// The connection that receives its events (the newest one: Asterisk replaces).
    pub(crate) conn: Option<Conn>,
    /// Explicit subscriptions: `channel:ID`, `bridge:ID`, `endpoint:TECH/RES`, `deviceState:NAME`.
    pub(crate) subs: BTreeSet<String>,
    /// Bridges it follows because one of its channels entered them.
    pub(crate) bridges: BTreeSet<String>,
    /// `subscribeAll`.
    pub(crate) all: bool,
}

/// What the far end of a Local channel (or an outgoing call) does: the extensions of the
/// dialplan that `cargo xtask asterisk up` installs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FarEnd {
    /// Answer and stay up (`wait`, `echo`, `tone`, `moh`, any other extension).
    Answer,
    /// Ring and never answer (`ring`).
    Ring,
    /// Ring for 2 s, then answer (`answer-later`).
    AnswerLater,
    /// Answer, hang up 1 s later with cause 16 (`answer-hangup`).
    AnswerHangup,
    /// Refuse with a cause (`hangup`: 17, `hangup-N`).
    Refuse(u32),
    /// Answer, wait 1 s, send these digits (`dtmf`: 123, `dtmf-D`).
    Dtmf(String),
    /// Answer, play hello-world, hang up (`hello`).
    Hello,
    /// Enter a Stasis application unanswered (`stasis`: `ARI_APP`/`ARI_ARGS`, `stasis-APP`).
    Stasis(Option<String>),
}

impl FarEnd {
    pub(crate) fn of(exten: &str) -> FarEnd {
        match exten {
            "ring" => FarEnd::Ring,
            "answer-later" => FarEnd::AnswerLater,
            "answer-hangup" => FarEnd::AnswerHangup,
            "hangup" => FarEnd::Refuse(17),
            "dtmf" => FarEnd::Dtmf("123".into()),
            "hello" => FarEnd::Hello,
            "stasis" => FarEnd::Stasis(None),
            e => {
                if let Some(c) = e.strip_prefix("hangup-").and_then(|c| c.parse().ok()) {
                    FarEnd::Refuse(c)
                } else if let Some(d) = e.strip_prefix("dtmf-") {
                    FarEnd::Dtmf(d.to_owned())
                } else if let Some(a) = e.strip_prefix("stasis-") {
                    FarEnd::Stasis(Some(a.to_owned()))
                } else {
                    FarEnd::Answer
                }
            }
        }
    }

    /// The first dialplan application of the extension, for `ChannelDialplan`.
    fn first_app(&self) -> (&'static str, &'static str) {
        match self {
            FarEnd::Ring | FarEnd::AnswerLater => ("Ringing", ""),
            FarEnd::Refuse(_) => ("Hangup", ""),
            FarEnd::Stasis(_) => ("Stasis", ""),
            _ => ("Answer", ""),
        }
    }
}

/// A channel.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) caller: (String, String),
    pub(crate) connected: (String, String),
    pub(crate) accountcode: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: i64,
    pub(crate) app_name: String,
    pub(crate) app_data: String,
    pub(crate) creationtime: String,
    pub(crate) language: String,
    pub(crate) vars: BTreeMap<String, String>,
    /// The Stasis application it is in.
    pub(crate) stasis: Option<String>,
    /// Arguments it entered with.
    pub(crate) args: Vec<String>,
    /// The other half of a Local pair, or the dialed/dialing channel.
    pub(crate) peer: Option<String>,
    /// What this channel's far end does, once dialed (outgoing channels).
    pub(crate) far: Option<FarEnd>,
    /// The dial string (`exten@context`) for `Dial` events.
    pub(crate) dialstring: String,
    pub(crate) bridge: Option<String>,
    pub(crate) muted: BTreeSet<String>,
    pub(crate) held: bool,
    pub(crate) hanging_up: bool,
    /// Created (`channels.create`) and not dialed yet.
    pub(crate) created_undialed: bool,
    /// Set when the channel started a dial (to answer its Dial events' caller field).
    pub(crate) originated_into_app: bool,
    /// The app (and args) this outgoing half enters once its far half is answered.
    pub(crate) pending_app: Option<(String, Vec<String>)>,
    /// Where this outgoing half goes in the dialplan once answered (originate to an extension).
    pub(crate) dialplan_after: Option<(String, String, i64, Option<String>)>,
}

impl Channel {
    pub(crate) fn json(&self) -> J {
        J::obj()
            .with("id", &self.id)
            .with("name", &self.name)
            .with("state", &self.state)
            .with("protocol_id", "")
            .with(
                "caller",
                J::obj()
                    .with("name", &self.caller.0)
                    .with("number", &self.caller.1),
            )
            .with(
                "connected",
                J::obj()
                    .with("name", &self.connected.0)
                    .with("number", &self.connected.1),
            )
            .with("accountcode", &self.accountcode)
            .with(
                "dialplan",
                J::obj()
                    .with("context", &self.context)
                    .with("exten", &self.exten)
                    .with("priority", self.priority)
                    .with("app_name", &self.app_name)
                    .with("app_data", &self.app_data),
            )
            .with("creationtime", &self.creationtime)
            .with("language", &self.language)
    }
}

/// A bridge.
#[derive(Clone, Debug)]
pub(crate) struct Bridge {
    pub(crate) id: String,
    pub(crate) technology: String,
    pub(crate) bridge_type: String,
    pub(crate) name: String,
    pub(crate) channels: Vec<String>,
    pub(crate) creationtime: String,
    pub(crate) video_mode: String,
    pub(crate) video_source: Option<String>,
    pub(crate) vars: BTreeMap<String, String>,
}

impl Bridge {
    pub(crate) fn json(&self) -> J {
        let mut j = J::obj()
            .with("id", &self.id)
            .with("technology", &self.technology)
            .with("bridge_type", &self.bridge_type)
            .with("bridge_class", "stasis")
            .with("creator", "Stasis")
            .with("name", &self.name)
            .with("channels", self.channels.clone())
            .with("creationtime", &self.creationtime)
            .with("video_mode", &self.video_mode);
        if let Some(v) = &self.video_source {
            j.push("video_source_id", v);
        }
        j
    }
}

/// A playback.
#[derive(Clone, Debug)]
pub(crate) struct Playback {
    pub(crate) id: String,
    pub(crate) media: Vec<String>,
    pub(crate) index: usize,
    pub(crate) target: String,
    pub(crate) language: String,
    pub(crate) state: String,
    /// Bumped by every control operation, so that a timer set before it does nothing.
    pub(crate) epoch: u64,
    /// Time left of the current item when paused.
    pub(crate) left: Duration,
    /// When the current item ends (tokio clock), while playing.
    pub(crate) ends: Option<tokio::time::Instant>,
}

impl Playback {
    pub(crate) fn json(&self) -> J {
        let mut j = J::obj().with("id", &self.id).with(
            "media_uri",
            &self.media[self.index.min(self.media.len() - 1)],
        );
        if self.state == "playing" && self.index + 1 < self.media.len() && self.continuing() {
            j.push("next_media_uri", &self.media[self.index + 1]);
        }
        j.with("target_uri", &self.target)
            .with("language", &self.language)
            .with("state", &self.state)
    }

    fn continuing(&self) -> bool {
        false
    }
}

/// A live recording.
#[derive(Clone, Debug)]
pub(crate) struct LiveRec {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) state: String,
    pub(crate) target: String,
    pub(crate) started: tokio::time::Instant,
    pub(crate) max_duration: Option<Duration>,
    pub(crate) epoch: u64,
    paused_for: Duration,
    paused_at: Option<tokio::time::Instant>,
}

impl LiveRec {
    pub(crate) fn json(&self) -> J {
        J::obj()
            .with("name", &self.name)
            .with("format", &self.format)
            .with("state", &self.state)
            .with("target_uri", &self.target)
    }

    fn duration(&self) -> i64 {
        let now = tokio::time::Instant::now();
        let paused = self.paused_for + self.paused_at.map_or(Duration::ZERO, |p| now - p);
        ((now - self.started).saturating_sub(paused)).as_secs() as i64
    }
}

/// A stored recording.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) duration: Duration,
}

/// The whole simulated server.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) release: Release,
    pub(crate) asterisk_id: String,
    wall: SystemTime,
    epoch: tokio::time::Instant,
    pub(crate) startup: String,
    pub(crate) channels: BTreeMap<String, Channel>,
    pub(crate) bridges: BTreeMap<String, Bridge>,
    pub(crate) playbacks: BTreeMap<String, Playback>,
    pub(crate) live: BTreeMap<String, LiveRec>,
    pub(crate) stored: BTreeMap<String, Stored>,
    pub(crate) apps: BTreeMap<String, App>,
    pub(crate) device_states: BTreeMap<String, String>,
    pub(crate) globals: BTreeMap<String, String>,
    pub(crate) media: BTreeMap<String, Duration>,
    seq: u64,
    local_seq: u32,
    conn_seq: u64,
    /// Bumped on restart: timers of an older generation do nothing.
    pub(crate) generation: u64,
    pub(crate) me: Weak<Mutex<World>>,
}

/// Q.850 cause texts, as Asterisk writes them.
pub(crate) fn cause_txt(cause: u32) -> &'static str {
    match cause {
        1 => "Unallocated (unassigned) number",
        3 => "No route to destination",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        26 => "Answered elsewhere",
        27 => "Destination out of order",
        28 => "Invalid number format",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        58 => "Bearer capability not available",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

/// The cause of a `DELETE /channels/{id}?reason=...`.
pub(crate) fn reason_cause(reason: &str) -> Option<u32> {
    Some(match reason {
        "normal" => 16,
        "busy" => 17,
        "congestion" => 34,
        "no_answer" => 19,
        "timeout" => 18,
        "rejected" => 21,
        "unallocated" => 1,
        "normal_unspecified" => 31,
        "number_incomplete" => 28,
        "codec_mismatch" => 58,
        "interworking" => 127,
        "failure" => 38,
        "answered_elsewhere" => 26,
        _ => return None,
    })
}

/// Default media lengths: Asterisk's core sounds the examples play, roughly.
pub(crate) fn default_media() -> BTreeMap<String, Duration> {
    let ms = Duration::from_millis;
    [
        ("sound:hello-world", ms(1400)),
        ("sound:beep", ms(250)),
        ("sound:vm-press", ms(600)),
        ("sound:for", ms(400)),
        ("sound:vm-goodbye", ms(800)),
        ("sound:pm-invalid-option", ms(1500)),
        ("sound:tt-monkeys", ms(14000)),
        ("sound:demo-congrats", ms(20000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An event before it is addressed: its members, and which resources it concerns.
#[derive(Debug, Default)]
pub(crate) struct Ev {
    /// Members Asterisk writes before `type` (`ChannelVarset`'s `variable`, `value`).
    pub(crate) pre: Vec<(String, J)>,
    pub(crate) ty: &'static str,
    /// Members after `timestamp`.
    pub(crate) body: Vec<(String, J)>,
    pub(crate) channels: Vec<String>,
    pub(crate) bridges: Vec<String>,
    pub(crate) device: Option<String>,
    /// Also to these apps, subscribed or not.
    pub(crate) to_apps: Vec<String>,
    /// `application` right after `type` (DeviceStateChanged).
    pub(crate) app_first: bool,
}

impl Ev {
    pub(crate) fn new(ty: &'static str) -> Ev {
        Ev {
            ty,
            ..Ev::default()
        }
    }
    pub(crate) fn pre(mut self, k: &str, v: impl Into<J>) -> Ev {
        self.pre.push((k.to_owned(), v.into()));
        self
    }
    pub(crate) fn f(mut self, k: &str, v: impl Into<J>) -> Ev {
        self.body.push((k.to_owned(), v.into()));
        self
    }
}

impl World {
    pub(crate) fn new(release: Release) -> Shared {
        let wall = SystemTime::now();
        let epoch = tokio::time::Instant::now();
        Arc::new_cyclic(|me| {
            let mut w = World {
                release,
                asterisk_id: "02:42:ac:11:00:02".to_owned(),
                wall,
                epoch,
                startup: String::new(),
                channels: BTreeMap::new(),
                bridges: BTreeMap::new(),
                playbacks: BTreeMap::new(),
                live: BTreeMap::new(),
                stored: BTreeMap::new(),
                apps: BTreeMap::new(),
                device_states: BTreeMap::new(),
                globals: BTreeMap::new(),
                media: default_media(),
                seq: 0,
                local_seq: 0,
                conn_seq: 0,
                generation: 0,
                me: me.clone(),
            };
            w.startup = w.timestamp();
            Mutex::new(w)
        })
    }

    /// Whether the simulated release is at least `r`.
    pub(crate) fn at_least(&self, r: Release) -> bool {
        self.release >= r
    }

    /// Now, as Asterisk writes timestamps: wall time at start plus tokio's (maybe paused) clock.
    pub(crate) fn timestamp(&self) -> String {
        let now = self.wall + (tokio::time::Instant::now() - self.epoch);
        let t = time::OffsetDateTime::from(now);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    /// A fresh unique id, as Asterisk makes them (`<seconds>.<n>`).
    pub(crate) fn new_id(&mut self) -> String {
        self.seq += 1;
        let secs = (self.wall + (tokio::time::Instant::now() - self.epoch))
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("{secs}.{}", self.seq)
    }

    pub(crate) fn next_conn_id(&mut self) -> u64 {
        self.conn_seq += 1;
        self.conn_seq
    }

    /// Runs `f` on the world after `delay` (tokio's clock), unless the server restarted.
    pub(crate) fn after(&self, delay: Duration, f: impl FnOnce(&mut World) + Send + 'static) {
        let me = self.me.clone();
        let generation = self.generation;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(w) = me.upgrade() {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                if w.generation == generation {
                    f(&mut w);
                }
            }
        });
    }

    // --- events ---------------------------------------------------------------------------

    fn interested(&self, app: &str, a: &App, ev: &Ev) -> bool {
        if a.all || ev.to_apps.iter().any(|x| x == app) {
            return true;
        }
        let chan = ev.channels.iter().any(|c| {
            a.subs.contains(&format!("channel:{c}"))
                || self
                    .channels
                    .get(c)
                    .is_some_and(|ch| ch.stasis.as_deref() == Some(app))
        });
        let bridge = ev
            .bridges
            .iter()
            .any(|b| a.subs.contains(&format!("bridge:{b}")) || a.bridges.contains(b));
        let device = ev
            .device
            .as_ref()
            .is_some_and(|d| a.subs.contains(&format!("deviceState:{d}")));
        chan || bridge || device
    }

    /// Sends `ev` to every application interested in it.
    pub(crate) fn emit(&mut self, ev: Ev) {
        let ts = self.timestamp();
        for (name, app) in &self.apps {
            let Some(conn) = &app.conn else { continue };
            if !self.interested(name, app, &ev) {
                continue;
            }
            let mut members: Vec<(String, J)> = ev.pre.clone();
            members.push(("type".into(), ev.ty.into()));
            if ev.app_first {
                members.push(("application".into(), name.into()));
            }
            members.push(("timestamp".into(), ts.clone().into()));
            members.extend(ev.body.iter().cloned());
            members.push(("asterisk_id".into(), self.asterisk_id.clone().into()));
            if !ev.app_first {
                members.push(("application".into(), name.into()));
            }
            let _ = conn.tx.send(Frame::Text(J::Obj(members).text()));
        }
    }

    fn chan_ev(&self, ty: &'static str, id: &str) -> Ev {
        let mut ev = Ev::new(ty);
        if let Some(c) = self.channels.get(id) {
            ev = ev.f("channel", c.json());
        }
        ev.channels.push(id.to_owned());
        ev
    }

    /// Sends `ev` with the channel appended after its own members.
    pub(crate) fn emit_with_channel(&mut self, mut ev: Ev, id: &str) {
        if let Some(c) = self.channels.get(id) {
            ev = ev.f("channel", c.json());
        }
        ev.channels.push(id.to_owned());
        self.emit(ev);
    }

    pub(crate) fn emit_chan(&mut self, ty: &'static str, id: &str) {
        let ev = self.chan_ev(ty, id);
        self.emit(ev);
    }

    // --- channels ---------------------------------------------------------------------------

    /// A new channel, not yet stored.
    pub(crate) fn make_channel(&mut self, id: Option<String>, name: String) -> Channel {
        let id = id.unwrap_or_else(|| self.new_id());
        Channel {
            id,
            name,
            state: "Down".into(),
            caller: (String::new(), String::new()),
            connected: (String::new(), String::new()),
            accountcode: String::new(),
            context: "default".into(),
            exten: "s".into(),
            priority: 1,
            app_name: String::new(),
            app_data: String::new(),
            creationtime: self.timestamp(),
            language: "en".into(),
            vars: BTreeMap::new(),
            stasis: None,
            args: Vec::new(),
            peer: None,
            far: None,
            dialstring: String::new(),
            bridge: None,
            muted: BTreeSet::new(),
            held: false,
            hanging_up: false,
            created_undialed: false,
            originated_into_app: false,
            pending_app: None,
            dialplan_after: None,
        }
    }

    pub(crate) fn local_name(&mut self, resource: &str) -> String {
        self.local_seq += 1;
        format!("Local/{resource}-{:08x}", self.local_seq)
    }

    /// Sets a state and sends `ChannelStateChange`.
    pub(crate) fn set_state(&mut self, id: &str, state: &str) {
        let Some(c) = self.channels.get_mut(id) else {
            return;
        };
        if c.state == state {
            return;
        }
        c.state = state.to_owned();
        self.emit_chan("ChannelStateChange", id);
    }

    pub(crate) fn varset(&mut self, id: &str, name: &str, value: &str) {
        if let Some(c) = self.channels.get_mut(id) {
            c.vars.insert(name.to_owned(), value.to_owned());
        }
        let ev = self
            .chan_ev("ChannelVarset", id)
            .pre("variable", name)
            .pre("value", value);
        // ChannelVarset keeps `variable`, `value` first, `channel` after `timestamp`.
        self.emit(ev);
    }

    /// The channel enters Stasis application `app`: `ChannelVarset` STASISSTATUS, `StasisStart`.
    pub(crate) fn enter_stasis(&mut self, id: &str, app: &str, args: Vec<String>) {
        let Some(c) = self.channels.get_mut(id) else {
            return;
        };
        c.app_name = "Stasis".into();
        c.app_data = if args.is_empty() {
            app.to_owned()
        } else {
            format!("{app},{}", args.join(","))
        };
        c.args = args.clone();
        // Before the channel is in the app: only explicit subscribers see it.
        self.varset(id, "STASISSTATUS", "");
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis = Some(app.to_owned());
        }
        let ev = self.chan_ev("StasisStart", id);
        let mut ev = Ev {
            body: vec![("args".into(), args.into())],
            ..ev
        };
        // `args` comes before `channel`.
        ev.body.extend(
            self.channels
                .get(id)
                .map(|c| ("channel".to_owned(), c.json())),
        );
        self.emit(ev);
    }

    /// The channel leaves Stasis: `StasisEnd`, then it is no longer in the app.
    fn leave_stasis(&mut self, id: &str) {
        let Some(app) = self.channels.get(id).and_then(|c| c.stasis.clone()) else {
            return;
        };
        self.emit_chan("StasisEnd", id);
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis = None;
        }
        let _ = app;
        self.varset(id, "STASISSTATUS", "SUCCESS");
    }

    /// Hangs a channel up: `ChannelHangupRequest` (soft when asked over ARI), leaves its bridge,
    /// `StasisEnd`, then the Local pair's other half, then `ChannelDestroyed` with `cause`.
    pub(crate) fn hangup(&mut self, id: &str, cause: u32, by_ari: bool) {
        let Some(c) = self.channels.get_mut(id) else {
            return;
        };
        if c.hanging_up {
            return;
        }
        c.hanging_up = true;
        let peer = c.peer.clone();
        let ev = if by_ari {
            self.chan_ev("ChannelHangupRequest", id)
                .pre("cause", 32u32)
                .pre("soft", true)
        } else {
            self.chan_ev("ChannelHangupRequest", id).pre("cause", cause)
        };
        self.emit(ev);
        self.leave_bridge(id);
        self.stop_playbacks_of(&format!("channel:{id}"));
        self.leave_stasis(id);
        if let Some(p) = peer.filter(|p| self.channels.contains_key(p)) {
            if let Some(pc) = self.channels.get_mut(&p) {
                pc.hanging_up = true;
            }
            let ev = self.chan_ev("ChannelHangupRequest", &p).pre("cause", cause);
            self.emit(ev);
            self.leave_bridge(&p);
            self.leave_stasis(&p);
            let ev = self
                .chan_ev("ChannelHangupRequest", &p)
                .pre("cause", 16u32)
                .pre("soft", true);
            self.emit(ev);
            self.destroy(&p, cause);
        }
        self.destroy(id, cause);
    }

    fn destroy(&mut self, id: &str, cause: u32) {
        let ev = self.chan_ev("ChannelDestroyed", id);
        let mut body = vec![
            ("cause".to_owned(), J::from(cause)),
            ("cause_txt".to_owned(), J::from(cause_txt(cause))),
        ];
        body.extend(ev.body);
        self.emit(Ev { body, ..ev });
        self.channels.remove(id);
        for app in self.apps.values_mut() {
            app.subs.remove(&format!("channel:{id}"));
        }
    }

    /// DTMF that `from`'s far end sends arrives on `to`.
    pub(crate) fn dtmf_received(&mut self, to: &str, digit: &str, duration_ms: i64) {
        if !self.channels.contains_key(to) {
            return;
        }
        let ev = self.chan_ev("ChannelDtmfReceived", to);
        let mut body = vec![
            ("digit".to_owned(), J::from(digit)),
            ("duration_ms".to_owned(), J::Int(duration_ms)),
        ];
        body.extend(ev.body);
        self.emit(Ev { body, ..ev });
    }

    /// Sends digits to `id`'s far end (the other half of its pair, if any), one every
    /// `duration + between`.
    pub(crate) fn send_dtmf(&mut self, to: String, digits: &str, duration: i64, between: i64) {
        let mut at = Duration::ZERO;
        for d in digits.chars() {
            if !d.is_ascii_alphanumeric() && d != '*' && d != '#' {
                // `,` is a half-second pause, as in Asterisk.
                at += Duration::from_millis(500);
                continue;
            }
            at += Duration::from_millis(duration.max(0) as u64);
            let digit = d.to_string();
            let to = to.clone();
            self.after(at, move |w| w.dtmf_received(&to, &digit, duration));
            at += Duration::from_millis(between.max(0) as u64);
        }
    }

    /// Runs the far end `far` of the outgoing channel `out` (whose peer, if any, is the half
    /// that runs the extension). `into_app` is the app the outgoing channel enters once
    /// answered (originate), with its args.
    pub(crate) fn run_far_end(
        &mut self,
        out: &str,
        far: FarEnd,
        into_app: Option<(String, Vec<String>)>,
        dial_events: bool,
    ) {
        let other = self.channels.get(out).and_then(|c| c.peer.clone());
        let dialstring = self
            .channels
            .get(out)
            .map(|c| c.dialstring.clone())
            .unwrap_or_default();
        if dial_events && !matches!(far, FarEnd::Refuse(_)) {
            self.dial_event(out, "", &dialstring);
        }
        if let Some(o) = &other {
            let (app, data) = far.first_app();
            self.dialplan_event(o, app, data);
        }
        let out = out.to_owned();
        match far {
            FarEnd::Answer | FarEnd::Dtmf(_) | FarEnd::Hello | FarEnd::AnswerHangup => {
                self.answered(&out, other.as_deref(), into_app.clone(), &dialstring);
                let o = other.clone();
                match far {
                    FarEnd::Dtmf(digits) => {
                        if let Some(o) = &o {
                            self.dialplan_event(o, "Wait", "1");
                        }
                        let target = out.clone();
                        let o2 = o.clone();
                        self.after(Duration::from_secs(1), move |w| {
                            if let Some(o) = &o2 {
                                w.dialplan_event(o, "SendDTMF", &digits);
                            }
                            w.send_dtmf(target, &digits, 250, 100);
                            if let Some(o) = &o2 {
                                w.dialplan_event(o, "Wait", "3600");
                            }
                        });
                    }
                    FarEnd::AnswerHangup => {
                        self.after(Duration::from_secs(1), move |w| {
                            w.far_hangup(&out, 16);
                        });
                    }
                    FarEnd::Hello => {
                        self.after(Duration::from_millis(1400), move |w| {
                            w.far_hangup(&out, 16);
                        });
                    }
                    _ => {
                        if let Some(o) = &o {
                            self.dialplan_event(o, "Wait", "3600");
                        }
                    }
                }
            }
            FarEnd::Ring => self.ringing(&out, &dialstring),
            FarEnd::AnswerLater => {
                self.ringing(&out, &dialstring);
                self.after(Duration::from_secs(2), move |w| {
                    w.answered(&out, other.as_deref(), into_app, &dialstring);
                });
            }
            FarEnd::Refuse(cause) => {
                let status = match cause {
                    17 => "BUSY",
                    34 | 42 => "CONGESTION",
                    19 | 18 => "NOANSWER",
                    _ => "CHANUNAVAIL",
                };
                // Asterisk sends the outgoing half's hangup request before or after its first
                // `Dial`, varying from run to run; here it is after.
                if dial_events {
                    self.dial_event(&out, "", &dialstring);
                }
                let ev = self
                    .chan_ev("ChannelHangupRequest", &out)
                    .pre("cause", cause);
                self.emit(ev);
                if let Some(o) = &other {
                    let ev = self
                        .chan_ev("ChannelHangupRequest", o)
                        .pre("cause", 16u32)
                        .pre("soft", true);
                    self.emit(ev);
                }
                if dial_events {
                    self.dial_event(&out, status, &dialstring);
                }
                for id in other.iter().chain(std::iter::once(&out)) {
                    if let Some(c) = self.channels.get_mut(id) {
                        c.hanging_up = true;
                    }
                    self.leave_stasis(id);
                    self.destroy(id, cause);
                }
            }
            FarEnd::Stasis(app) => {
                // The half that runs the extension enters the app, unanswered; the outgoing
                // half waits for it to be answered.
                if let Some(c) = self.channels.get_mut(&out) {
                    c.pending_app = into_app;
                }
                if let Some(o) = other {
                    let vars = self
                        .channels
                        .get(&o)
                        .map(|c| c.vars.clone())
                        .unwrap_or_default();
                    let app = app.unwrap_or_else(|| {
                        vars.get("ARI_APP")
                            .filter(|a| !a.is_empty())
                            .cloned()
                            .unwrap_or_else(|| "test-app".into())
                    });
                    let args: Vec<String> = vars
                        .get("ARI_ARGS")
                        .filter(|a| !a.is_empty())
                        .map(|a| a.split(',').map(str::to_owned).collect())
                        .unwrap_or_default();
                    if let Some(c) = self.channels.get_mut(&o) {
                        c.state = "Ring".into();
                    }
                    self.enter_stasis(&o, &app, args);
                }
            }
        }
    }

    fn dialplan_event(&mut self, id: &str, app: &str, data: &str) {
        if let Some(c) = self.channels.get_mut(id) {
            if c.stasis.is_some() {
                return;
            }
            c.app_name = app.to_owned();
            c.app_data = data.to_owned();
        }
        let ev = self.chan_ev("ChannelDialplan", id);
        let mut body = vec![
            ("dialplan_app".to_owned(), J::from(app)),
            ("dialplan_app_data".to_owned(), J::from(data)),
        ];
        body.extend(ev.body);
        self.emit(Ev { body, ..ev });
    }

    pub(crate) fn dial_event(&mut self, peer: &str, status: &str, dialstring: &str) {
        let Some(p) = self.channels.get(peer) else {
            return;
        };
        let mut ev = Ev::new("Dial")
            .f("dialstatus", status)
            .f("forward", "")
            .f("dialstring", dialstring);
        let caller = p
            .vars
            .get("__ARI_MOCK_DIAL_CALLER")
            .and_then(|c| self.channels.get(c));
        if let Some(c) = caller {
            ev = ev.f("caller", c.json());
            ev.channels.push(c.id.clone());
        }
        ev = ev.f("peer", p.json());
        ev.channels.push(peer.to_owned());
        self.emit(ev);
    }

    fn ringing(&mut self, out: &str, dialstring: &str) {
        self.set_state(out, "Ringing");
        self.dial_event(out, "RINGING", dialstring);
    }

    /// The far end answered: both halves Up, `Dial` ANSWER, then into the app.
    fn answered(
        &mut self,
        out: &str,
        other: Option<&str>,
        into_app: Option<(String, Vec<String>)>,
        dialstring: &str,
    ) {
        if !self.channels.contains_key(out) {
            return;
        }
        if let Some(o) = other {
            self.set_state(o, "Up");
        }
        self.set_state(out, "Up");
        self.dial_event(out, "ANSWER", dialstring);
        if let Some((app, args)) = into_app {
            self.enter_stasis(out, &app, args);
        } else {
            self.go_to_dialplan(out);
        }
    }

    /// An answered outgoing half originated to an extension runs it.
    fn go_to_dialplan(&mut self, out: &str) {
        let Some(c) = self.channels.get_mut(out) else {
            return;
        };
        let Some((context, exten, priority, label)) = c.dialplan_after.take() else {
            return;
        };
        c.context = context;
        c.exten = exten;
        c.priority = priority;
        self.run_dialplan(out, label.as_deref());
    }

    /// The half running the extension of `out` was answered (over ARI, in Stasis): `out` comes
    /// up, and enters the app it was originated into, if any.
    pub(crate) fn far_end_answered(&mut self, out: &str) {
        let Some(c) = self.channels.get_mut(out) else {
            return;
        };
        let pending = c.pending_app.take();
        let dialstring = c.dialstring.clone();
        self.set_state(out, "Up");
        self.dial_event(out, "ANSWER", &dialstring);
        if let Some((app, args)) = pending {
            self.enter_stasis(out, &app, args);
        } else {
            self.go_to_dialplan(out);
        }
    }

    /// A channel that left Stasis runs the extension it is at (after `continue`).
    pub(crate) fn run_dialplan(&mut self, id: &str, label: Option<&str>) {
        let Some(c) = self.channels.get(id) else {
            return;
        };
        match FarEnd::of(&c.exten) {
            FarEnd::Stasis(app) => {
                let app = app.unwrap_or_else(|| {
                    c.vars
                        .get("ARI_APP")
                        .filter(|a| !a.is_empty())
                        .cloned()
                        .unwrap_or_else(|| "test-app".into())
                });
                let args: Vec<String> = match label {
                    Some("noargs") => Vec::new(),
                    _ => c
                        .vars
                        .get("ARI_ARGS")
                        .filter(|a| !a.is_empty())
                        .map(|a| a.split(',').map(str::to_owned).collect())
                        .unwrap_or_default(),
                };
                self.enter_stasis(id, &app, args);
            }
            FarEnd::Refuse(cause) => self.hangup_plain(id, cause),
            FarEnd::Ring => self.set_state(id, "Ringing"),
            _ => self.set_state(id, "Up"),
        }
    }

    /// The far end hung up with `cause`.
    pub(crate) fn far_hangup(&mut self, out: &str, cause: u32) {
        let Some(c) = self.channels.get(out) else {
            return;
        };
        match c.peer.clone() {
            Some(p) if self.channels.contains_key(&p) => {
                // The half running the extension goes first, then the outgoing one.
                if let Some(pc) = self.channels.get_mut(&p) {
                    pc.peer = None;
                }
                self.hangup_plain(&p, cause);
                self.hangup_plain(out, cause);
            }
            _ => self.hangup_plain(out, cause),
        }
    }

    /// A hangup from the network side (no ARI): request with the cause, leave, destroy.
    pub(crate) fn hangup_plain(&mut self, id: &str, cause: u32) {
        let Some(c) = self.channels.get_mut(id) else {
            return;
        };
        if c.hanging_up {
            return;
        }
        c.hanging_up = true;
        c.peer = None;
        let ev = self.chan_ev("ChannelHangupRequest", id).pre("cause", cause);
        self.emit(ev);
        self.leave_bridge(id);
        self.stop_playbacks_of(&format!("channel:{id}"));
        self.leave_stasis(id);
        self.destroy(id, cause);
    }

    // --- bridges ----------------------------------------------------------------------------

    fn bridge_chan_ev(&self, ty: &'static str, bridge: &str, chan: &str) -> Ev {
        let mut ev = Ev::new(ty);
        if let Some(b) = self.bridges.get(bridge) {
            ev = ev.f("bridge", b.json());
        }
        if let Some(c) = self.channels.get(chan) {
            ev = ev.f("channel", c.json());
        }
        ev.bridges.push(bridge.to_owned());
        ev.channels.push(chan.to_owned());
        ev
    }

    pub(crate) fn enter_bridge(&mut self, bridge: &str, chan: &str) {
        self.leave_bridge(chan);
        let Some(b) = self.bridges.get_mut(bridge) else {
            return;
        };
        if !b.channels.iter().any(|c| c == chan) {
            b.channels.push(chan.to_owned());
        }
        if let Some(c) = self.channels.get_mut(chan) {
            c.bridge = Some(bridge.to_owned());
            if let Some(app) = c.stasis.clone()
                && let Some(a) = self.apps.get_mut(&app)
            {
                a.bridges.insert(bridge.to_owned());
            }
        }
        let ev = self.bridge_chan_ev("ChannelEnteredBridge", bridge, chan);
        self.emit(ev);
    }

    pub(crate) fn leave_bridge(&mut self, chan: &str) {
        let Some(bridge) = self.channels.get_mut(chan).and_then(|c| c.bridge.take()) else {
            return;
        };
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.channels.retain(|c| c != chan);
            if b.video_source.as_deref() == Some(chan) {
                b.video_source = None;
            }
        }
        let ev = self.bridge_chan_ev("ChannelLeftBridge", &bridge, chan);
        self.emit(ev);
    }

    pub(crate) fn destroy_bridge(&mut self, id: &str) {
        let Some(b) = self.bridges.get(id) else {
            return;
        };
        let members = b.channels.clone();
        let had_members = !members.is_empty();
        for c in &members {
            // Apps whose channels are kicked out follow the bridge no more (as Asterisk does:
            // BridgeDestroyed then reaches only explicit subscribers).
            if let Some(app) = self.channels.get(c).and_then(|c| c.stasis.clone())
                && let Some(a) = self.apps.get_mut(&app)
            {
                a.bridges.remove(id);
            }
            self.leave_bridge(c);
        }
        let _ = had_members;
        self.stop_playbacks_of(&format!("bridge:{id}"));
        let mut ev = Ev::new("BridgeDestroyed");
        if let Some(b) = self.bridges.get(id) {
            ev = ev.f("bridge", b.json());
        }
        ev.bridges.push(id.to_owned());
        self.emit(ev);
        self.bridges.remove(id);
        for a in self.apps.values_mut() {
            a.bridges.remove(id);
            a.subs.remove(&format!("bridge:{id}"));
        }
    }

    // --- playbacks --------------------------------------------------------------------------

    fn playback_ev(&self, ty: &'static str, id: &str, next: bool) -> Ev {
        let mut ev = Ev::new(ty);
        if let Some(p) = self.playbacks.get(id) {
            let mut j = J::obj()
                .with("id", &p.id)
                .with("media_uri", &p.media[p.index]);
            if next && p.index + 1 < p.media.len() {
                j.push("next_media_uri", &p.media[p.index + 1]);
            }
            j = j
                .with("target_uri", &p.target)
                .with("language", &p.language)
                .with("state", &p.state);
            ev = ev.f("playback", j);
            if let Some(c) = p.target.strip_prefix("channel:") {
                ev.channels.push(c.to_owned());
            }
            if let Some(b) = p.target.strip_prefix("bridge:") {
                ev.bridges.push(b.to_owned());
            }
        }
        ev
    }

    /// The length of one media URI; `None` when it does not exist (the playback fails).
    pub(crate) fn media_length(&self, uri: &str) -> Option<Duration> {
        if let Some(d) = self.media.get(uri) {
            return Some(*d);
        }
        if let Some(rec) = uri.strip_prefix("recording:") {
            return self.stored.get(rec).map(|s| s.duration);
        }
        let (scheme, rest) = uri.split_once(':')?;
        match scheme {
            "sound" if rest.contains("no-such") => None,
            "sound" => Some(Duration::from_millis(1000)),
            "digits" => Some(Duration::from_millis(500 * rest.len() as u64)),
            "number" | "characters" => Some(Duration::from_millis(600 * rest.len() as u64)),
            "tone" => Some(Duration::from_secs(3600)),
            _ => None,
        }
    }

    /// Starts a playback (already stored with state `queued`).
    pub(crate) fn start_playback(&mut self, id: &str) {
        let Some(p) = self.playbacks.get_mut(id) else {
            return;
        };
        p.state = "playing".into();
        let ev = self.playback_ev("PlaybackStarted", id, false);
        self.emit(ev);
        self.schedule_item(id);
    }

    fn schedule_item(&mut self, id: &str) {
        let Some(p) = self.playbacks.get(id) else {
            return;
        };
        let uri = p.media[p.index].clone();
        let len = self.media_length(&uri);
        let Some(p) = self.playbacks.get_mut(id) else {
            return;
        };
        p.epoch += 1;
        let epoch = p.epoch;
        let id = id.to_owned();
        match len {
            None => {
                // Unknown media: the item fails at once.
                self.after(Duration::ZERO, move |w| w.item_done(&id, epoch, false));
            }
            Some(len) => {
                p.ends = Some(tokio::time::Instant::now() + len);
                p.left = len;
                self.after(len, move |w| w.item_done(&id, epoch, true));
            }
        }
    }

    fn item_done(&mut self, id: &str, epoch: u64, ok: bool) {
        let Some(p) = self.playbacks.get_mut(id) else {
            return;
        };
        if p.epoch != epoch || p.state != "playing" {
            return;
        }
        if p.index + 1 < p.media.len() {
            let ev = self.playback_ev("PlaybackContinuing", id, true);
            self.emit(ev);
            if let Some(p) = self.playbacks.get_mut(id) {
                p.index += 1;
            }
            self.schedule_item(id);
            return;
        }
        self.finish_playback(id, if ok { "done" } else { "failed" });
    }

    pub(crate) fn finish_playback(&mut self, id: &str, state: &str) {
        let Some(p) = self.playbacks.get_mut(id) else {
            return;
        };
        p.state = state.to_owned();
        p.epoch += 1;
        let ev = self.playback_ev("PlaybackFinished", id, false);
        self.emit(ev);
        self.playbacks.remove(id);
    }

    fn stop_playbacks_of(&mut self, target: &str) {
        let ids: Vec<String> = self
            .playbacks
            .values()
            .filter(|p| p.target == target)
            .map(|p| p.id.clone())
            .collect();
        for id in ids {
            let playing = self.playbacks.get(&id).is_some_and(|p| p.state != "queued");
            self.finish_playback(&id, if playing { "done" } else { "failed" });
        }
    }

    /// A control operation on a playback.
    pub(crate) fn control_playback(&mut self, id: &str, op: &str) -> Result<(), (u16, String)> {
        let now = tokio::time::Instant::now();
        let current_len = self
            .playbacks
            .get(id)
            .and_then(|p| self.media_length(&p.media[p.index]));
        let Some(p) = self.playbacks.get_mut(id) else {
            return Err((404, "Playback not found".into()));
        };
        match op {
            "pause" => {
                if p.state == "playing" {
                    p.left = p
                        .ends
                        .map_or(Duration::ZERO, |e| e.saturating_duration_since(now));
                    p.state = "paused".into();
                    p.epoch += 1;
                }
            }
            "unpause" => {
                if p.state == "paused" {
                    p.state = "playing".into();
                    p.epoch += 1;
                    let left = p.left;
                    let epoch = p.epoch;
                    p.ends = Some(now + left);
                    let id = id.to_owned();
                    self.after(left, move |w| w.item_done(&id, epoch, true));
                }
            }
            "restart" => {
                if p.state == "playing" {
                    self.schedule_item(id);
                } else if let Some(len) = current_len {
                    p.left = len;
                }
            }
            "forward" | "reverse" => {}
            _ => return Err((400, format!("Invalid operation {op}"))),
        }
        Ok(())
    }

    // --- recordings -------------------------------------------------------------------------

    fn recording_ev(&self, ty: &'static str, rec: &LiveRec, duration: bool) -> Ev {
        let mut j = rec.json();
        if duration {
            j.push("duration", rec.duration());
        }
        let mut ev = Ev::new(ty).f("recording", j);
        if let Some(c) = rec.target.strip_prefix("channel:") {
            ev.channels.push(c.to_owned());
        }
        if let Some(b) = rec.target.strip_prefix("bridge:") {
            ev.bridges.push(b.to_owned());
        }
        ev
    }

    pub(crate) fn start_recording(&mut self, rec: LiveRec) {
        let name = rec.name.clone();
        let max = rec.max_duration;
        self.live.insert(name.clone(), rec);
        self.after(Duration::ZERO, {
            let name = name.clone();
            move |w| {
                let Some(r) = w.live.get_mut(&name) else {
                    return;
                };
                r.state = "recording".into();
                r.started = tokio::time::Instant::now();
                let r = r.clone();
                let ev = w.recording_ev("RecordingStarted", &r, false);
                w.emit(ev);
                if let Some(max) = max {
                    let epoch = r.epoch;
                    w.after(max, move |w| {
                        if w.live.get(&name).is_some_and(|r| r.epoch == epoch) {
                            w.stop_recording(&name, true);
                        }
                    });
                }
            }
        });
    }

    pub(crate) fn new_live(
        name: String,
        format: String,
        target: String,
        max: Option<Duration>,
    ) -> LiveRec {
        LiveRec {
            name,
            format,
            state: "queued".into(),
            target,
            started: tokio::time::Instant::now(),
            max_duration: max,
            epoch: 0,
            paused_for: Duration::ZERO,
            paused_at: None,
        }
    }

    /// Stops a live recording: stored (`keep`) or discarded.
    pub(crate) fn stop_recording(&mut self, name: &str, keep: bool) {
        let Some(mut r) = self.live.remove(name) else {
            return;
        };
        let d = r.duration();
        r.state = "done".into();
        let ev = self.recording_ev("RecordingFinished", &r, true);
        self.emit(ev);
        if keep {
            self.stored.insert(
                name.to_owned(),
                Stored {
                    name: name.to_owned(),
                    format: r.format.clone(),
                    duration: Duration::from_secs(d.max(0) as u64),
                },
            );
        }
    }

    pub(crate) fn pause_recording(&mut self, name: &str, pause: bool) -> bool {
        let Some(r) = self.live.get_mut(name) else {
            return false;
        };
        let now = tokio::time::Instant::now();
        if pause && r.paused_at.is_none() {
            r.paused_at = Some(now);
            r.state = "paused".into();
        } else if !pause && let Some(at) = r.paused_at.take() {
            r.paused_for += now - at;
            r.state = "recording".into();
        }
        true
    }

    // --- device states ----------------------------------------------------------------------

    pub(crate) fn set_device_state(&mut self, name: &str, state: &str) {
        self.device_states.insert(name.to_owned(), state.to_owned());
        let mut ev = Ev::new("DeviceStateChanged").f(
            "device_state",
            J::obj().with("name", name).with("state", state),
        );
        ev.app_first = true;
        ev.device = Some(name.to_owned());
        self.emit(ev);
    }

    // --- applications -----------------------------------------------------------------------

    pub(crate) fn app_json(&self, name: &str) -> J {
        let a = self.apps.get(name);
        let mut channels = Vec::new();
        let mut bridges = Vec::new();
        let mut endpoints = Vec::new();
        let mut devices = Vec::new();
        for c in self.channels.values() {
            if c.stasis.as_deref() == Some(name) {
                channels.push(c.id.clone());
            }
        }
        if let Some(a) = a {
            for s in &a.subs {
                match s.split_once(':') {
                    Some(("channel", id)) if !channels.iter().any(|c| c == id) => {
                        channels.push(id.to_owned())
                    }
                    Some(("bridge", id)) => bridges.push(id.to_owned()),
                    Some(("endpoint", id)) => endpoints.push(id.to_owned()),
                    Some(("deviceState", id)) => devices.push(id.to_owned()),
                    _ => {}
                }
            }
            for b in &a.bridges {
                if !bridges.contains(b) {
                    bridges.push(b.clone());
                }
            }
        }
        let mut j = J::obj()
            .with("name", name)
            .with("channel_ids", channels)
            .with("bridge_ids", bridges)
            .with("endpoint_ids", endpoints)
            .with("device_names", devices);
        if self.at_least((13, 26, 0)) {
            j.push("events_allowed", J::Arr(vec![]));
            j.push("events_disallowed", J::Arr(vec![]));
        }
        j
    }

    /// Registers the apps of a new events connection; an app that had one gets
    /// `ApplicationReplaced` there first, and that connection is closed.
    pub(crate) fn connect_apps(
        &mut self,
        apps: &[String],
        subscribe_all: bool,
        tx: &mpsc::UnboundedSender<Frame>,
    ) -> u64 {
        let id = self.next_conn_id();
        let ts = self.timestamp();
        for name in apps {
            let a = self.apps.entry(name.clone()).or_default();
            if let Some(old) = a.conn.take() {
                let ev = J::obj()
                    .with("type", "ApplicationReplaced")
                    .with("timestamp", &ts)
                    .with("application", name)
                    .with("asterisk_id", &self.asterisk_id);
                let _ = old.tx.send(Frame::Text(ev.text()));
                let _ = old.tx.send(Frame::Close);
            }
            a.all = subscribe_all;
            a.conn = Some(Conn { id, tx: tx.clone() });
        }
        id
    }

    /// An events connection closed: its apps stay registered but receive nothing.
    pub(crate) fn disconnect(&mut self, conn: u64) {
        for a in self.apps.values_mut() {
            if a.conn.as_ref().is_some_and(|c| c.id == conn) {
                a.conn = None;
            }
        }
    }

    /// Closes every events connection (fault injection, restart).
    pub(crate) fn drop_connections(&mut self) {
        for a in self.apps.values_mut() {
            if let Some(c) = a.conn.take() {
                let _ = c.tx.send(Frame::Close);
            }
        }
    }

    /// As after an Asterisk restart: every call, bridge, playback and live recording is gone
    /// (without events: the connections are closed first); stored recordings, device states
    /// and global variables persist.
    pub(crate) fn restart(&mut self) {
        self.drop_connections();
        self.generation += 1;
        self.channels.clear();
        self.bridges.clear();
        self.playbacks.clear();
        self.live.clear();
        self.apps.clear();
        self.startup = self.timestamp();
    }
}
