//! Constructors for the SDK's models and events, for unit tests that need a value without a
//! server (the generated types are `#[non_exhaustive]`, so they cannot be built with a struct
//! literal outside `ari-sdk`).
//!
//! Each builder writes the JSON that Asterisk (and the mock) sends and decodes it with the SDK's
//! own decoder, so the value is exactly what an application receives.
//!
//! ```
//! use ari_mock::models;
//! let chan = models::channel("1700000000.1").state("Up").caller("Alice", "100").build();
//! assert_eq!(chan.caller.number, "100");
//! let ev = models::stasis_start("my-app", &chan, ["a"]);
//! assert!(matches!(ev, ari_sdk::Event::StasisStart(s) if s.args == ["a"]));
//! ```

use ari_sdk::Event;
use ari_sdk::models::{Bridge, Channel, Playback};

use crate::json::J;

const TS: &str = "2026-01-01T00:00:00.000+0000";
const ASTERISK_ID: &str = "02:42:ac:11:00:02";

fn decode<T: serde::de::DeserializeOwned>(j: &J, what: &str) -> T {
    // The JSON is ours and the SDK reads every shape Asterisk sends: a failure is a bug here.
    serde_json::from_str(&j.text())
        .unwrap_or_else(|e| panic!("ari-mock built a {what} the SDK cannot decode: {e}"))
}

/// A channel, as `GET /channels/{id}` answers it.
#[derive(Clone, Debug)]
pub struct ChannelBuilder(crate::state::Channel);

/// A channel with this id: `PJSIP/caller-00000001`, `Up`, context `default`, exten `100`.
pub fn channel(id: &str) -> ChannelBuilder {
    ChannelBuilder(crate::state::Channel {
        id: id.to_owned(),
        name: "PJSIP/caller-00000001".into(),
        state: "Up".into(),
        caller: (String::new(), String::new()),
        connected: (String::new(), String::new()),
        accountcode: String::new(),
        context: "default".into(),
        exten: "100".into(),
        priority: 1,
        app_name: String::new(),
        app_data: String::new(),
        creationtime: TS.into(),
        language: "en".into(),
        vars: Default::default(),
        stasis: None,
        args: Vec::new(),
        peer: None,
        far: None,
        dialstring: String::new(),
        bridge: None,
        muted: Default::default(),
        held: false,
        hanging_up: false,
        created_undialed: false,
        originated_into_app: false,
        pending_app: None,
        dialplan_after: None,
    })
}

impl ChannelBuilder {
    /// The name (`PJSIP/alice-00000002`).
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.to_owned();
        self
    }
    /// The state (`Down`, `Ring`, `Ringing`, `Up`, ...).
    pub fn state(mut self, state: &str) -> Self {
        self.0.state = state.to_owned();
        self
    }
    /// Caller id name and number.
    pub fn caller(mut self, name: &str, number: &str) -> Self {
        self.0.caller = (name.to_owned(), number.to_owned());
        self
    }
    /// Connected line name and number.
    pub fn connected(mut self, name: &str, number: &str) -> Self {
        self.0.connected = (name.to_owned(), number.to_owned());
        self
    }
    /// Dialplan location.
    pub fn dialplan(mut self, context: &str, exten: &str, priority: i64) -> Self {
        self.0.context = context.to_owned();
        self.0.exten = exten.to_owned();
        self.0.priority = priority;
        self
    }
    /// The dialplan application it runs (`Stasis`, with `app_data` its arguments).
    pub fn app(mut self, app_name: &str, app_data: &str) -> Self {
        self.0.app_name = app_name.to_owned();
        self.0.app_data = app_data.to_owned();
        self
    }
    /// The SDK's model.
    pub fn build(&self) -> Channel {
        decode(&self.0.json(), "Channel")
    }
}

/// A bridge, as `GET /bridges/{id}` answers it: a mixing bridge with these channels.
pub fn bridge(id: &str, channels: &[&str]) -> Bridge {
    let b = crate::state::Bridge {
        id: id.to_owned(),
        technology: "simple_bridge".into(),
        bridge_type: "mixing".into(),
        name: String::new(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        creationtime: TS.into(),
        video_mode: "talker".into(),
        video_source: None,
        vars: Default::default(),
    };
    decode(&b.json(), "Bridge")
}

fn playback_json(id: &str, media: &str, target: &str, state: &str) -> J {
    J::obj()
        .with("id", id)
        .with("media_uri", media)
        .with("target_uri", target)
        .with("language", "en")
        .with("state", state)
}

/// A playback (`state`: `queued`, `playing`, `paused`, `done`, `failed`, ...).
pub fn playback(id: &str, media: &str, target_uri: &str, state: &str) -> Playback {
    decode(&playback_json(id, media, target_uri, state), "Playback")
}

fn event(ty: &str, app: &str, pre: Vec<(&str, J)>, body: Vec<(&str, J)>) -> Event {
    let mut j = J::obj();
    for (k, v) in pre {
        j.push(k, v);
    }
    j.push("type", ty);
    j.push("timestamp", TS);
    for (k, v) in body {
        j.push(k, v);
    }
    j.push("asterisk_id", ASTERISK_ID);
    j.push("application", app);
    decode(&j, ty)
}

fn chan_json(c: &Channel) -> J {
    J::Value(serde_json::to_value(c).unwrap_or_default())
}

/// `StasisStart` of `channel` in `app` with `args`.
pub fn stasis_start<I, S>(app: &str, channel: &Channel, args: I) -> Event
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    event(
        "StasisStart",
        app,
        vec![],
        vec![("args", args.into()), ("channel", chan_json(channel))],
    )
}

/// `StasisEnd` of `channel`.
pub fn stasis_end(app: &str, channel: &Channel) -> Event {
    event(
        "StasisEnd",
        app,
        vec![],
        vec![("channel", chan_json(channel))],
    )
}

/// `ChannelDtmfReceived`: `digit` pressed for `duration_ms` on `channel`.
pub fn dtmf_received(app: &str, channel: &Channel, digit: &str, duration_ms: i64) -> Event {
    event(
        "ChannelDtmfReceived",
        app,
        vec![],
        vec![
            ("digit", digit.into()),
            ("duration_ms", J::Int(duration_ms)),
            ("channel", chan_json(channel)),
        ],
    )
}

/// `ChannelHangupRequest` of `channel` with a cause.
pub fn hangup_request(app: &str, channel: &Channel, cause: u32) -> Event {
    event(
        "ChannelHangupRequest",
        app,
        vec![("cause", cause.into())],
        vec![("channel", chan_json(channel))],
    )
}

/// `ChannelDestroyed` of `channel` with a cause (and Asterisk's text for it).
pub fn channel_destroyed(app: &str, channel: &Channel, cause: u32) -> Event {
    event(
        "ChannelDestroyed",
        app,
        vec![],
        vec![
            ("cause", cause.into()),
            ("cause_txt", crate::state::cause_txt(cause).into()),
            ("channel", chan_json(channel)),
        ],
    )
}

/// `PlaybackStarted` (`finished: false`, state `playing`) or `PlaybackFinished` (state `done`).
pub fn playback_event(app: &str, playback: &Playback, finished: bool) -> Event {
    let mut p = J::Value(serde_json::to_value(playback).unwrap_or_default());
    if let J::Value(serde_json::Value::Object(m)) = &mut p {
        m.insert(
            "state".into(),
            (if finished { "done" } else { "playing" }).into(),
        );
    }
    let ty = if finished {
        "PlaybackFinished"
    } else {
        "PlaybackStarted"
    };
    event(ty, app, vec![], vec![("playback", p)])
}
