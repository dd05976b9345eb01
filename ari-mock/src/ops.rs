//! The handlers: one per simulated operation, with Asterisk's checks in Asterisk's order (the
//! resource first, then the arguments, for most operations) and its messages.

use std::time::Duration;

use crate::json::J;
use crate::routes::Route;
use crate::server::{Args, Reply};
use crate::state::{Bridge, FarEnd, Playback, World, reason_cause};

type R = Result<Reply, Reply>;

/// Runs the handler of `route`.
pub(crate) fn dispatch(w: &mut World, route: &Route, a: &Args) -> Reply {
    handle(w, route, a).unwrap_or_else(|e| e)
}

fn handle(w: &mut World, route: &Route, a: &Args) -> R {
    let name = route.name();
    match name.as_str() {
        "asterisk.getInfo" => info(w, a),
        "asterisk.ping" => Ok(Reply::ok(
            J::obj()
                .with("ping", "pong")
                .with("timestamp", w.timestamp())
                .with("asterisk_id", &w.asterisk_id),
        )),
        "asterisk.getGlobalVar" => {
            let v = a.need("variable", "Variable name is required")?;
            Ok(Reply::ok(J::obj().with(
                "value",
                w.globals.get(&v).cloned().unwrap_or_default(),
            )))
        }
        "asterisk.setGlobalVar" => {
            let v = a.need("variable", "Variable name is required")?;
            w.globals.insert(v, a.get("value").unwrap_or_default());
            Ok(Reply::no_content())
        }
        "channels.list" => Ok(Reply::ok(J::Arr(
            w.channels.values().map(|c| c.json()).collect(),
        ))),
        "channels.originate" | "channels.originateWithId" => originate(w, a),
        "channels.create" => create(w, a),
        "channels.get" => Ok(Reply::ok(chan(w, a)?.json())),
        "channels.hangup" => hangup(w, a),
        "channels.answer" => {
            let id = stasis_chan(w, a)?;
            answer(w, &id);
            Ok(Reply::no_content())
        }
        "channels.ring" => {
            let id = stasis_chan(w, a)?;
            // Ringing is indicated to the caller: the other half of a Local pair rings.
            let peer = w.channels.get(&id).and_then(|c| c.peer.clone());
            match peer {
                Some(p) if w.channels.get(&p).is_some_and(|c| c.state != "Up") => {
                    w.set_state(&p, "Ringing")
                }
                _ => {}
            }
            Ok(Reply::no_content())
        }
        "channels.ringStop" | "channels.progress" => {
            stasis_chan(w, a)?;
            Ok(Reply::no_content())
        }
        "channels.sendDTMF" => {
            let id = stasis_chan(w, a)?;
            let dtmf = a.need("dtmf", "DTMF is required")?;
            let duration = a.int("duration").filter(|d| *d > 0).unwrap_or(100);
            let between = a.int("between").filter(|d| *d > 0).unwrap_or(100);
            let before = a.int("before").unwrap_or(0).max(0) as u64;
            let to = w.channels.get(&id).and_then(|c| c.peer.clone());
            if let Some(to) = to {
                let digits = dtmf.clone();
                w.after(Duration::from_millis(before), move |w| {
                    w.send_dtmf(to, &digits, duration, between);
                });
            }
            Ok(Reply::no_content())
        }
        "channels.mute" | "channels.unmute" => {
            let id = stasis_chan(w, a)?;
            // Asterisk requires the direction of an unmute (not of a mute).
            if name == "channels.unmute" && a.get("direction").is_none() {
                return Err(Reply::error(400, "Direction is required"));
            }
            let dir = a.get("direction").unwrap_or_else(|| "both".into());
            if !["both", "in", "out"].contains(&dir.as_str()) {
                return Err(Reply::error(400, "Invalid direction specified"));
            }
            if let Some(c) = w.channels.get_mut(&id) {
                let dirs: &[&str] = if dir == "both" {
                    &["in", "out"]
                } else {
                    &[&dir]
                };
                for d in dirs {
                    if name == "channels.mute" {
                        c.muted.insert((*d).to_owned());
                    } else {
                        c.muted.remove(*d);
                    }
                }
            }
            Ok(Reply::no_content())
        }
        "channels.hold" | "channels.unhold" => {
            let id = stasis_chan(w, a)?;
            // No event: ChannelHold/ChannelUnhold tell of a hold from the far end, not ARI's.
            if let Some(c) = w.channels.get_mut(&id) {
                c.held = name == "channels.hold";
            }
            Ok(Reply::no_content())
        }
        "channels.startMoh"
        | "channels.stopMoh"
        | "channels.startSilence"
        | "channels.stopSilence" => {
            stasis_chan(w, a)?;
            Ok(Reply::no_content())
        }
        "channels.play" | "channels.playWithId" => {
            let id = stasis_chan(w, a)?;
            play(w, a, format!("channel:{id}"), true)
        }
        "channels.record" => {
            let id = stasis_chan(w, a)?;
            record(w, a, format!("channel:{id}"))
        }
        "channels.getChannelVar" => {
            let v = a.need("variable", "Variable name is required")?;
            let c = chan(w, a)?;
            match get_var(c, &v) {
                Some(val) => Ok(Reply::ok(J::obj().with("value", val))),
                None => Err(Reply::error(404, "Provided variable was not found")),
            }
        }
        "channels.setChannelVar" => {
            let v = a.need("variable", "Variable name is required")?;
            let id = chan(w, a)?.id.clone();
            set_var(w, &id, &v, &a.get("value").unwrap_or_default());
            Ok(Reply::no_content())
        }
        "channels.continueInDialplan" => {
            let id = stasis_chan(w, a)?;
            let ctx = a.get("context");
            let exten = a.get("extension");
            if let Some(c) = w.channels.get_mut(&id) {
                if let Some(ctx) = ctx {
                    c.context = ctx;
                }
                if let Some(e) = exten {
                    c.exten = e;
                }
                c.priority = a.int("priority").unwrap_or(1);
            }
            // Back to the dialplan: it leaves the app, then runs the extension (the dialplan
            // of `cargo xtask asterisk up`: `stasis`, `stasis-APP`, `hangup-N`, ...).
            let label = a.get("label");
            leave_app(w, &id);
            w.after(Duration::ZERO, move |w| {
                w.run_dialplan(&id, label.as_deref())
            });
            Ok(Reply::no_content())
        }
        "channels.move" => {
            let id = stasis_chan(w, a)?;
            let app = a.need("app", "Application name is required")?;
            let args = a.list("appArgs");
            leave_app(w, &id);
            w.enter_stasis(&id, &app, args);
            Ok(Reply::no_content())
        }
        "channels.dial" => dial(w, a),
        "bridges.list" => Ok(Reply::ok(J::Arr(
            w.bridges.values().map(Bridge::json).collect(),
        ))),
        "bridges.create" | "bridges.createWithId" => create_bridge(w, a),
        "bridges.get" => Ok(Reply::ok(bridge(w, a)?.json())),
        "bridges.destroy" => {
            let id = bridge(w, a)?.id.clone();
            w.destroy_bridge(&id);
            Ok(Reply::no_content())
        }
        "bridges.addChannel" => {
            let b = bridge(w, a)?.id.clone();
            let chans = a.list("channel");
            if chans.is_empty() {
                return Err(Reply::error(400, "Missing parameter channel"));
            }
            for c in &chans {
                if !w.channels.contains_key(c) {
                    return Err(Reply::error(400, "Channel not found"));
                }
            }
            for c in &chans {
                if w.channels.get(c).is_some_and(|c| c.stasis.is_none()) {
                    return Err(Reply::error(422, "Channel not in Stasis application"));
                }
            }
            for c in &chans {
                w.enter_bridge(&b, c);
            }
            Ok(Reply::no_content())
        }
        "bridges.removeChannel" => {
            let b = bridge(w, a)?.id.clone();
            let chans = a.list("channel");
            if chans.is_empty() {
                return Err(Reply::error(400, "Missing parameter channel"));
            }
            for c in &chans {
                if !w.channels.contains_key(c) {
                    return Err(Reply::error(400, "Channel not found"));
                }
                if w.channels.get(c).and_then(|c| c.bridge.as_deref()) != Some(b.as_str()) {
                    return Err(Reply::error(422, "Channel not in this bridge"));
                }
            }
            for c in &chans {
                w.leave_bridge(c);
            }
            Ok(Reply::no_content())
        }
        "bridges.setVideoSource" => {
            let b = bridge(w, a)?.id.clone();
            let c = a.get("channelId").unwrap_or_default();
            if !w.channels.contains_key(&c) {
                return Err(Reply::error(404, "Channel not found"));
            }
            if let Some(br) = w.bridges.get_mut(&b) {
                br.video_mode = "single".into();
                br.video_source = Some(c);
            }
            let mut ev = crate::state::Ev::new("BridgeVideoSourceChanged");
            if let Some(br) = w.bridges.get(&b) {
                ev = ev.f("bridge", br.json());
            }
            ev.bridges.push(b);
            w.emit(ev);
            Ok(Reply::no_content())
        }
        "bridges.clearVideoSource" | "bridges.startMoh" | "bridges.stopMoh" => {
            bridge(w, a)?;
            Ok(Reply::no_content())
        }
        "bridges.play" | "bridges.playWithId" => {
            let b = bridge(w, a)?.id.clone();
            play(w, a, format!("bridge:{b}"), false)
        }
        "bridges.record" => {
            let b = bridge(w, a)?.id.clone();
            record(w, a, format!("bridge:{b}"))
        }
        "bridges.getBridgeVar" => {
            let v = a.need("variable", "Variable name is required")?;
            let b = bridge(w, a)?;
            match b.vars.get(&v) {
                Some(val) => Ok(Reply::ok(J::obj().with("value", val))),
                None => Err(Reply::error(404, "Provided variable was not found")),
            }
        }
        "bridges.setBridgeVar" => {
            let v = a.need("variable", "Variable name is required")?;
            let id = bridge(w, a)?.id.clone();
            if let Some(b) = w.bridges.get_mut(&id) {
                b.vars.insert(v, a.get("value").unwrap_or_default());
            }
            Ok(Reply::no_content())
        }
        "bridges.getBridgeVars" => {
            let names = a.list("variables");
            let b = bridge(w, a)?;
            let mut vars = J::obj();
            for n in names {
                if let Some(v) = b.vars.get(&n) {
                    vars.push(&n, v);
                }
            }
            Ok(Reply::ok(J::obj().with("variables", vars)))
        }
        "bridges.setBridgeVars" => {
            let id = bridge(w, a)?.id.clone();
            let vars = a.object("variables");
            if let Some(b) = w.bridges.get_mut(&id) {
                b.vars.extend(vars);
            }
            Ok(Reply::no_content())
        }
        "channels.getChannelVars" => {
            let names = a.list("variables");
            let c = w
                .channels
                .get(&a.get("channelId").unwrap_or_default())
                .ok_or_else(|| Reply::error(404, "Provided channel was not found"))?;
            let mut vars = J::obj();
            for n in names {
                if let Some(v) = get_var(c, &n) {
                    vars.push(&n, v);
                }
            }
            Ok(Reply::ok(J::obj().with("variables", vars)))
        }
        "channels.setChannelVars" => {
            let id = chan(w, a)?.id.clone();
            for (k, v) in a.object("variables") {
                set_var(w, &id, &k, &v);
            }
            Ok(Reply::no_content())
        }
        "channels.rtpstatistics" => {
            // No channel of the mock carries RTP (Asterisk answers this for Local channels).
            chan(w, a)?;
            Err(Reply::error(403, "Unsupported channel type"))
        }
        "playbacks.get" => {
            let id = a.get("playbackId").unwrap_or_default();
            match w.playbacks.get(&id) {
                Some(p) => Ok(Reply::ok(p.json())),
                None => Err(Reply::error(404, "Playback not found")),
            }
        }
        "playbacks.stop" => {
            let id = a.get("playbackId").unwrap_or_default();
            if !w.playbacks.contains_key(&id) {
                return Err(Reply::error(404, "Playback not found"));
            }
            w.finish_playback(&id, "done");
            Ok(Reply::no_content())
        }
        "playbacks.control" => {
            let id = a.get("playbackId").unwrap_or_default();
            if !w.playbacks.contains_key(&id) {
                return Err(Reply::error(404, "Playback not found"));
            }
            let op = a.get("operation").unwrap_or_default();
            w.control_playback(&id, &op)
                .map(|()| Reply::no_content())
                .map_err(|(s, m)| Reply::error(s, &m))
        }
        "recordings.listStored" => Ok(Reply::ok(J::Arr(
            w.stored
                .values()
                .map(|s| J::obj().with("name", &s.name).with("format", &s.format))
                .collect(),
        ))),
        "recordings.getStored" => {
            let n = a.get("recordingName").unwrap_or_default();
            match w.stored.get(&n) {
                Some(s) => Ok(Reply::ok(
                    J::obj().with("name", &s.name).with("format", &s.format),
                )),
                None => Err(Reply::error(404, "Recording not found")),
            }
        }
        "recordings.deleteStored" => {
            let n = a.get("recordingName").unwrap_or_default();
            match w.stored.remove(&n) {
                Some(_) => Ok(Reply::no_content()),
                None => Err(Reply::error(404, "Recording not found")),
            }
        }
        "recordings.copyStored" => {
            let n = a.get("recordingName").unwrap_or_default();
            let dest = a.need(
                "destinationRecordingName",
                "Destination recording name required",
            )?;
            let Some(s) = w.stored.get(&n).cloned() else {
                return Err(Reply::error(404, "Recording not found"));
            };
            if w.stored.contains_key(&dest) {
                return Err(Reply::error(
                    409,
                    "A recording with the same name already exists on the system",
                ));
            }
            let copy = crate::state::Stored {
                name: dest.clone(),
                ..s
            };
            let j = J::obj()
                .with("name", &copy.name)
                .with("format", &copy.format);
            w.stored.insert(dest, copy);
            Ok(Reply::ok(j))
        }
        "recordings.getLive" => {
            let n = a.get("recordingName").unwrap_or_default();
            match w.live.get(&n) {
                Some(r) => Ok(Reply::ok(r.json())),
                None => Err(Reply::error(404, "Recording not found")),
            }
        }
        "recordings.stop" | "recordings.cancel" => {
            let n = a.get("recordingName").unwrap_or_default();
            if !w.live.contains_key(&n) {
                return Err(Reply::error(404, "Recording not found"));
            }
            w.stop_recording(&n, name == "recordings.stop");
            Ok(Reply::no_content())
        }
        "recordings.pause" | "recordings.unpause" => {
            let n = a.get("recordingName").unwrap_or_default();
            if !w.pause_recording(&n, name == "recordings.pause") {
                return Err(Reply::error(404, "Recording not found"));
            }
            Ok(Reply::no_content())
        }
        "recordings.mute" | "recordings.unmute" => {
            let n = a.get("recordingName").unwrap_or_default();
            if !w.live.contains_key(&n) {
                return Err(Reply::error(404, "Recording not found"));
            }
            Ok(Reply::no_content())
        }
        "applications.list" => {
            let names: Vec<String> = w.apps.keys().cloned().collect();
            Ok(Reply::ok(J::Arr(
                names.iter().map(|n| w.app_json(n)).collect(),
            )))
        }
        "applications.get" => {
            let n = a.get("applicationName").unwrap_or_default();
            if !w.apps.contains_key(&n) {
                return Err(Reply::error(404, "Application not found"));
            }
            Ok(Reply::ok(w.app_json(&n)))
        }
        "applications.subscribe" | "applications.unsubscribe" => subscription(w, a, &name),
        "deviceStates.list" => Ok(Reply::ok(J::Arr(
            w.device_states
                .iter()
                .map(|(n, s)| J::obj().with("name", n).with("state", s))
                .collect(),
        ))),
        "deviceStates.get" => {
            let n = a.get("deviceName").unwrap_or_default();
            let s = w
                .device_states
                .get(&n)
                .cloned()
                .unwrap_or_else(|| "UNKNOWN".into());
            Ok(Reply::ok(J::obj().with("name", &n).with("state", s)))
        }
        "deviceStates.update" => {
            let n = a.get("deviceName").unwrap_or_default();
            if !n.starts_with("Stasis:") {
                return Err(Reply::error(409, "Uncontrolled device specified"));
            }
            let s = a.need("deviceState", "Device state is required")?;
            const STATES: &[&str] = &[
                "UNKNOWN",
                "NOT_INUSE",
                "INUSE",
                "BUSY",
                "INVALID",
                "UNAVAILABLE",
                "RINGING",
                "RINGINUSE",
                "ONHOLD",
            ];
            // Asterisk answers a state outside the list with 500 "Unknown device".
            if !STATES.contains(&s.as_str()) {
                return Err(Reply::error(500, "Unknown device"));
            }
            w.set_device_state(&n, &s);
            Ok(Reply::no_content())
        }
        "deviceStates.delete" => {
            let n = a.get("deviceName").unwrap_or_default();
            if !n.starts_with("Stasis:") {
                return Err(Reply::error(409, "Uncontrolled device specified"));
            }
            // Deleting a state that is not set succeeds, as in Asterisk; 16 announces each
            // delete as a change to UNKNOWN, 22 announces none.
            w.device_states.remove(&n);
            if !w.at_least((17, 0, 0)) {
                w.set_device_state(&n, "UNKNOWN");
                w.device_states.remove(&n);
            }
            Ok(Reply::no_content())
        }
        "endpoints.list" | "sounds.list" | "mailboxes.list" => Ok(Reply::ok(J::Arr(vec![]))),
        "events.userEvent" => {
            let app = a.need("application", "Missing parameter application")?;
            if !w.apps.contains_key(&app) {
                return Err(Reply::error(404, "Application not found"));
            }
            let ev = crate::state::Ev::new("ChannelUserevent")
                .f("eventname", a.get("eventName").unwrap_or_default())
                .f("userevent", J::obj());
            let mut ev = ev;
            ev.to_apps.push(app);
            w.emit(ev);
            Ok(Reply::no_content())
        }
        _ => Err(Reply::error(
            501,
            &format!("{name} is not simulated by ari-mock"),
        )),
    }
}

fn info(w: &World, a: &Args) -> R {
    let version = format!("{}.{}.{}", w.release.0, w.release.1, w.release.2);
    let only = a.list("only");
    let want = |s: &str| only.is_empty() || only.iter().any(|o| o == s);
    let mut j = J::obj();
    if want("build") {
        j.push(
            "build",
            J::obj()
                .with("os", "Linux")
                .with("kernel", "unknown")
                .with("machine", "unknown")
                .with("options", "")
                .with("date", "")
                .with("user", "ari-mock"),
        );
    }
    if want("system") {
        j.push(
            "system",
            J::obj()
                .with("version", version)
                .with("entity_id", &w.asterisk_id),
        );
    }
    if want("config") {
        j.push(
            "config",
            J::obj()
                .with("name", "")
                .with("default_language", "en")
                .with("setid", J::obj().with("user", "").with("group", "")),
        );
    }
    if want("status") {
        j.push(
            "status",
            J::obj()
                .with("startup_time", &w.startup)
                .with("last_reload_time", &w.startup),
        );
    }
    Ok(Reply::ok(j))
}

fn chan<'w>(w: &'w World, a: &Args) -> Result<&'w crate::state::Channel, Reply> {
    let id = a.get("channelId").unwrap_or_default();
    w.channels
        .get(&id)
        .ok_or_else(|| Reply::error(404, "Channel not found"))
}

/// A channel that must be in a Stasis application: 404 when missing, 409 when not in one.
fn stasis_chan(w: &World, a: &Args) -> Result<String, Reply> {
    let c = chan(w, a)?;
    if c.stasis.is_none() {
        return Err(Reply::error(409, "Channel not in Stasis application"));
    }
    Ok(c.id.clone())
}

fn bridge<'w>(w: &'w World, a: &Args) -> Result<&'w Bridge, Reply> {
    let id = a.get("bridgeId").unwrap_or_default();
    w.bridges
        .get(&id)
        .ok_or_else(|| Reply::error(404, "Bridge not found"))
}

fn answer(w: &mut World, id: &str) {
    w.set_state(id, "Up");
    // A Local ;2 answered: the ;1 half that waits for it comes up too.
    let peer = w.channels.get(id).and_then(|c| c.peer.clone());
    if let Some(p) = peer
        && w.channels.get(&p).is_some_and(|c| c.state != "Up")
    {
        w.far_end_answered(&p);
    }
}

/// The channel leaves its application without hanging up (continue, move): `StasisEnd`.
fn leave_app(w: &mut World, id: &str) {
    w.leave_bridge(id);
    if w.channels.get(id).is_some_and(|c| c.stasis.is_some()) {
        w.emit_chan("StasisEnd", id);
        if let Some(c) = w.channels.get_mut(id) {
            c.stasis = None;
        }
    }
}

fn get_var(c: &crate::state::Channel, name: &str) -> Option<String> {
    let caller = || match (c.caller.0.as_str(), c.caller.1.as_str()) {
        ("", n) => n.to_owned(),
        (name, "") => format!("\"{name}\""),
        (name, n) => format!("\"{name}\" <{n}>"),
    };
    match name {
        "CALLERID(all)" => Some(caller()),
        "CALLERID(num)" => Some(c.caller.1.clone()),
        "CALLERID(name)" => Some(c.caller.0.clone()),
        "CONNECTEDLINE(num)" => Some(c.connected.1.clone()),
        "CONNECTEDLINE(name)" => Some(c.connected.0.clone()),
        "CHANNEL(name)" => Some(c.name.clone()),
        "CHANNEL(state)" => Some(c.state.clone()),
        "CHANNEL(language)" => Some(c.language.clone()),
        "CHANNEL(uniqueid)" | "UNIQUEID" => Some(c.id.clone()),
        "CHANNEL(accountcode)" => Some(c.accountcode.clone()),
        "EXTEN" => Some(c.exten.clone()),
        "CONTEXT" => Some(c.context.clone()),
        _ => c.vars.get(name).cloned(),
    }
}

/// Sets a variable or a writable dialplan function, with `ChannelVarset` for a variable.
fn set_var(w: &mut World, id: &str, name: &str, value: &str) {
    if !matches!(name, "CALLERID(all)" | "CALLERID(num)" | "CALLERID(name)") {
        return set_var_other(w, id, name, value);
    }
    let Some(c) = w.channels.get_mut(id) else {
        return;
    };
    set_caller(c, name, value);
    let ev = crate::state::Ev::new("ChannelCallerId")
        .f("caller_presentation", 0u32)
        .f(
            "caller_presentation_txt",
            "Presentation Allowed, Not Screened",
        );
    w.emit_with_channel(ev, id);
}

fn set_caller(c: &mut crate::state::Channel, name: &str, value: &str) {
    match name {
        "CALLERID(all)" => {
            // `"Name" <num>` or just a number.
            let v = value.trim();
            if let Some((n, rest)) = v.rsplit_once('<') {
                c.caller = (
                    n.trim().trim_matches('"').to_owned(),
                    rest.trim_end_matches('>').trim().to_owned(),
                );
            } else {
                c.caller = (String::new(), v.to_owned());
            }
        }
        "CALLERID(num)" => c.caller.1 = value.to_owned(),
        _ => c.caller.0 = value.to_owned(),
    }
}

fn set_var_other(w: &mut World, id: &str, name: &str, value: &str) {
    let Some(c) = w.channels.get_mut(id) else {
        return;
    };
    match name {
        "CONNECTEDLINE(num)" => c.connected.1 = value.to_owned(),
        "CONNECTEDLINE(name)" => c.connected.0 = value.to_owned(),
        "CHANNEL(language)" => c.language = value.to_owned(),
        "CHANNEL(accountcode)" => c.accountcode = value.to_owned(),
        _ => w.varset(id, name, value),
    }
}

/// `Tech/resource` -> (far end behaviour, dialstring, channel name resource, is Local).
fn parse_endpoint(endpoint: &str) -> Option<(FarEnd, String, String, bool)> {
    let (tech, resource) = endpoint.split_once('/')?;
    if tech.is_empty() || resource.is_empty() {
        return None;
    }
    if tech.eq_ignore_ascii_case("Local") {
        let (exten, ctx) = resource.split_once('@').unwrap_or((resource, "default"));
        let ctx = ctx.split('/').next().unwrap_or(ctx);
        Some((
            FarEnd::of(exten),
            format!("{exten}@{ctx}"),
            format!("{exten}@{ctx}"),
            true,
        ))
    } else {
        // Any other technology: a far end that answers (see the crate docs).
        Some((
            FarEnd::Answer,
            resource.to_owned(),
            resource.to_owned(),
            false,
        ))
    }
}

fn check_new_ids(w: &World, a: &Args) -> Result<(), Reply> {
    for k in ["channelId", "otherChannelId"] {
        if let Some(id) = a.get(k)
            && w.channels.contains_key(&id)
        {
            return Err(Reply::error(
                409,
                "Channel with given unique ID already exists",
            ));
        }
    }
    Ok(())
}

/// Makes the outgoing channel (and for Local, its ;2 half) of an originate or create.
fn make_outgoing(
    w: &mut World,
    a: &Args,
    endpoint: &str,
) -> Result<(String, Option<String>, FarEnd), Reply> {
    if !endpoint.contains('/') {
        return Err(Reply::error(400, "Invalid endpoint specified"));
    }
    let Some((far, dialstring, res, local)) = parse_endpoint(endpoint) else {
        return Err(Reply::json(
            500,
            J::obj().with("error", "Allocation failed"),
        ));
    };
    check_new_ids(w, a)?;
    let vars = a.object("variables");
    let base = if local {
        w.local_name(&res)
    } else {
        let tech = endpoint.split('/').next().unwrap_or("PJSIP");
        format!("{tech}/{res}-{:08x}", w.channels.len() + 1)
    };
    let one_name = if local { format!("{base};1") } else { base };
    let mut one = w.make_channel(a.get("channelId"), one_name);
    let (exten, ctx) = dialstring
        .split_once('@')
        .map_or((dialstring.clone(), "default".to_owned()), |(e, c)| {
            (e.to_owned(), c.to_owned())
        });
    one.exten = exten.clone();
    one.context = ctx.clone();
    one.dialstring = dialstring;
    one.far = Some(far.clone());
    let mut two_id = None;
    if local {
        let mut two = w.make_channel(
            a.get("otherChannelId"),
            format!("{};2", &one.name[..one.name.len() - 2]),
        );
        two.exten = exten;
        two.context = ctx;
        two.state = "Ring".into();
        two.peer = Some(one.id.clone());
        one.peer = Some(two.id.clone());
        for (k, v) in &vars {
            two.vars.insert(k.clone(), v.clone());
        }
        two_id = Some(two.id.clone());
        w.channels.insert(two.id.clone(), two);
    }
    if let Some(cid) = a.get("callerId") {
        let v = cid.trim().to_owned();
        if let Some((n, rest)) = v.rsplit_once('<') {
            one.caller = (
                n.trim().trim_matches('"').to_owned(),
                rest.trim_end_matches('>').to_owned(),
            );
        } else {
            one.caller = (String::new(), v);
        }
    }
    let id = one.id.clone();
    w.channels.insert(id.clone(), one);
    for (k, v) in &vars {
        let Some(c) = w.channels.get(&id).cloned() else {
            break;
        };
        let _ = c;
        set_var_quiet(w, &id, k, v);
    }
    Ok((id, two_id, far))
}

/// A variable given at creation: set without an event (nobody is subscribed yet).
fn set_var_quiet(w: &mut World, id: &str, k: &str, v: &str) {
    let is_fn = k.contains('(');
    if is_fn {
        set_var(w, id, k, v);
    } else if let Some(c) = w.channels.get_mut(id) {
        c.vars.insert(k.to_owned(), v.to_owned());
    }
}

fn originate(w: &mut World, a: &Args) -> R {
    let endpoint = a.need("endpoint", "Endpoint must be specified")?;
    let app = a.get("app").filter(|s| !s.is_empty());
    if app.is_none() && a.get("extension").is_none() && a.get("label").is_none() {
        return Err(Reply::error(
            400,
            "Application or extension must be specified",
        ));
    }
    let (id, two, far) = make_outgoing(w, a, &endpoint)?;
    if let Some(c) = w.channels.get_mut(&id) {
        c.app_name = "AppDial2".into();
        c.app_data = "(Outgoing Line)".into();
        c.originated_into_app = app.is_some();
        if app.is_none()
            && let Some(exten) = a.get("extension")
        {
            c.dialplan_after = Some((
                a.get("context").unwrap_or_else(|| "default".into()),
                exten,
                a.int("priority").unwrap_or(1),
                a.get("label"),
            ));
        }
    }
    let body = w.channels.get(&id).map(|c| c.json()).unwrap_or(J::Null);
    if let Some(app) = &app {
        let a_ = w.apps.entry(app.clone()).or_default();
        a_.subs.insert(format!("channel:{id}"));
        if let Some(t) = &two {
            a_.subs.insert(format!("channel:{t}"));
        }
    }
    let into_app = app.map(|app| (app, a.list("appArgs")));
    // Originate answers at once; the call proceeds after.
    let id2 = id.clone();
    w.after(Duration::ZERO, move |w| {
        w.run_far_end(&id2, far, into_app, true)
    });
    if let Some(timeout) = a.int("timeout").filter(|t| *t > 0) {
        let id3 = id.clone();
        w.after(Duration::from_secs(timeout as u64), move |w| {
            if w.channels
                .get(&id3)
                .is_some_and(|c| c.state != "Up" && c.stasis.is_none())
            {
                w.far_hangup(&id3, 19);
            }
        });
    }
    Ok(Reply::ok(body))
}

fn create(w: &mut World, a: &Args) -> R {
    let endpoint = a.need("endpoint", "Endpoint must be specified")?;
    let app = a.get("app").unwrap_or_default();
    let (id, two, _far) = make_outgoing(w, a, &endpoint)?;
    if let Some(c) = w.channels.get_mut(&id) {
        c.created_undialed = true;
    }
    if let Some(t) = &two
        && let Some(c) = w.channels.get_mut(t)
    {
        // The ;2 half waits for the dial.
        c.state = "Down".into();
    }
    let body = w.channels.get(&id).map(|c| c.json()).unwrap_or(J::Null);
    let args = a.list("appArgs");
    let id2 = id.clone();
    if !app.is_empty() {
        w.apps
            .entry(app.clone())
            .or_default()
            .subs
            .insert(format!("channel:{id}"));
        w.after(Duration::ZERO, move |w| {
            if let Some(c) = w.channels.get_mut(&id2) {
                c.app_name = "Stasis".into();
            }
            let ev = {
                let mut ev = crate::state::Ev::new("ChannelDialplan")
                    .f("dialplan_app", "Stasis")
                    .f("dialplan_app_data", "");
                if let Some(c) = w.channels.get(&id2) {
                    ev = ev.f("channel", c.json());
                }
                ev.channels.push(id2.clone());
                ev
            };
            w.emit(ev);
            w.enter_stasis(&id2, &app, args);
        });
    }
    Ok(Reply::ok(body))
}

fn dial(w: &mut World, a: &Args) -> R {
    let id = a.get("channelId").unwrap_or_default();
    let Some(c) = w.channels.get(&id) else {
        return Err(Reply::error(404, "Channel not found"));
    };
    if c.stasis.is_none() {
        return Err(Reply::error(409, "Channel not in Stasis application"));
    }
    if !c.created_undialed {
        return Err(Reply::error(409, "Channel is not in the 'Down' state"));
    }
    let Some(far) = c.far.clone() else {
        return Err(Reply::error(409, "Channel is not dialable"));
    };
    if let Some(caller) = a.get("caller") {
        if !w.channels.contains_key(&caller) {
            return Err(Reply::error(404, "Caller channel not found"));
        }
        if let Some(c) = w.channels.get_mut(&id) {
            c.vars.insert("__ARI_MOCK_DIAL_CALLER".into(), caller);
        }
    }
    if let Some(c) = w.channels.get_mut(&id) {
        c.created_undialed = false;
    }
    let two = w.channels.get(&id).and_then(|c| c.peer.clone());
    if let Some(t) = &two
        && let Some(c) = w.channels.get_mut(t)
    {
        c.state = "Ring".into();
    }
    let timeout = a.int("timeout").filter(|t| *t > 0);
    let id2 = id.clone();
    w.after(Duration::ZERO, move |w| {
        w.run_far_end(&id2, far, None, true)
    });
    if let Some(t) = timeout {
        w.after(Duration::from_secs(t as u64), move |w| {
            if w.channels.get(&id).is_some_and(|c| c.state != "Up") {
                let ds = w
                    .channels
                    .get(&id)
                    .map(|c| c.dialstring.clone())
                    .unwrap_or_default();
                w.dial_event(&id, "NOANSWER", &ds);
                w.far_hangup(&id, 19);
            }
        });
    }
    Ok(Reply::no_content())
}

fn hangup(w: &mut World, a: &Args) -> R {
    let id = chan(w, a)?.id.clone();
    let cause = match (a.get("reason_code"), a.get("reason")) {
        (Some(code), _) => code.parse::<u32>().unwrap_or(16),
        (None, Some(reason)) => match reason_cause(&reason) {
            Some(c) => c,
            None => return Err(Reply::error(400, "Invalid reason for hangup provided")),
        },
        (None, None) => 16,
    };
    w.hangup(&id, cause, true);
    Ok(Reply::no_content())
}

fn create_bridge(w: &mut World, a: &Args) -> R {
    let id = a.get("bridgeId").filter(|s| !s.is_empty());
    if let Some(id) = &id
        && w.bridges.contains_key(id)
    {
        // createWithId on an existing bridge: Asterisk answers it as it is.
        return Ok(Reply::ok(w.bridges[id].json()));
    }
    let types = a.list("type");
    let mut bridge_type = "mixing";
    for t in &types {
        match t.as_str() {
            "holding" => bridge_type = "holding",
            "mixing" | "dtmf_events" | "proxy_media" | "video_sfu" | "video_single"
            | "sdp_label" => {}
            _ => {
                return Err(Reply::error(
                    500,
                    &format!(
                        "Unable to create bridge. Possible duplicate bridge id '{}'",
                        id.as_deref().unwrap_or("(null)")
                    ),
                ));
            }
        }
    }
    let technology = if bridge_type == "holding" {
        "holding_bridge"
    } else {
        "simple_bridge"
    };
    let id =
        id.unwrap_or_else(|| format!("{:08x}-mock-bridge-{}", w.bridges.len() + 1, w.new_id()));
    let video_mode = if types.iter().any(|t| t == "video_sfu") {
        "sfu"
    } else {
        "talker"
    };
    let b = Bridge {
        id: id.clone(),
        technology: technology.into(),
        bridge_type: bridge_type.into(),
        name: a.get("name").unwrap_or_default(),
        channels: Vec::new(),
        creationtime: w.timestamp(),
        video_mode: video_mode.into(),
        video_source: None,
        vars: Default::default(),
    };
    let j = b.json();
    w.bridges.insert(id, b);
    Ok(Reply::ok(j))
}

fn play(w: &mut World, a: &Args, target: String, channel: bool) -> R {
    let media = a.list("media");
    if media.is_empty() {
        return Err(Reply::error(400, "media is required"));
    }
    let id = a
        .get("playbackId")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{}-mock-playback", w.new_id()));
    if w.playbacks.contains_key(&id) {
        return Err(Reply::error(409, "A playback with this id already exists"));
    }
    let p = Playback {
        id: id.clone(),
        media,
        index: 0,
        target,
        language: a.get("lang").unwrap_or_else(|| "en".into()),
        state: "queued".into(),
        epoch: 0,
        left: Duration::ZERO,
        ends: None,
    };
    w.playbacks.insert(id.clone(), p);
    // A channel's playback starts before the answer on 22 (its state says "playing"); a
    // bridge's, and every one on 16, is still queued when the answer leaves.
    let now = channel && w.at_least((17, 0, 0));
    if now {
        w.start_playback(&id);
    } else {
        let id2 = id.clone();
        w.after(Duration::ZERO, move |w| w.start_playback(&id2));
    }
    let j = w.playbacks.get(&id).map(Playback::json).unwrap_or(J::Null);
    Ok(Reply::json(201, j))
}

fn record(w: &mut World, a: &Args, target: String) -> R {
    let name = a.need("name", "Recording name is required")?;
    let format = a.need("format", "Format is required")?;
    const FORMATS: &[&str] = &[
        "wav", "wav16", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "g726",
        "ilbc", "ogg", "h263", "h264", "siren7", "siren14", "speex", "g719",
    ];
    if !FORMATS.contains(&format.as_str()) {
        return Err(Reply::error(422, &format!("Unknown format {format}")));
    }
    let if_exists = a.get("ifExists").unwrap_or_else(|| "fail".into());
    if w.live.contains_key(&name) {
        return Err(Reply::error(
            409,
            "Recording with the same name already in progress",
        ));
    }
    if w.stored.contains_key(&name) && if_exists == "fail" {
        return Err(Reply::error(422, "Recording already exists"));
    }
    let max = a
        .int("maxDurationSeconds")
        .filter(|d| *d > 0)
        .map(|d| Duration::from_secs(d as u64));
    let rec = World::new_live(name, format, target, max);
    let j = rec.json();
    w.start_recording(rec);
    Ok(Reply::json(201, j))
}

fn subscription(w: &mut World, a: &Args, name: &str) -> R {
    let app = a.get("applicationName").unwrap_or_default();
    let sources = a.list("eventSource");
    if sources.is_empty() {
        return Err(Reply::error(400, "Missing parameter eventSource"));
    }
    if !w.apps.contains_key(&app) {
        return Err(Reply::error(404, "Application not found"));
    }
    for s in &sources {
        let Some((kind, id)) = s.split_once(':') else {
            return Err(Reply::error(400, "Invalid event source URI scheme"));
        };
        let exists = match kind {
            "channel" => id.is_empty() || w.channels.contains_key(id),
            "bridge" => id.is_empty() || w.bridges.contains_key(id),
            // The mock has no channel driver with endpoints (like the suite's servers).
            "endpoint" => !id.contains('/'),
            "deviceState" => true,
            _ => return Err(Reply::error(400, "Invalid event source URI scheme")),
        };
        if !exists {
            return Err(Reply::error(422, "Unable to find eventSource"));
        }
    }
    let Some(entry) = w.apps.get_mut(&app) else {
        return Err(Reply::error(404, "Application not found"));
    };
    for s in sources {
        if name == "applications.subscribe" {
            entry.subs.insert(s);
        } else if !entry.subs.remove(&s) {
            return Err(Reply::error(422, "Unable to find eventSource"));
        }
    }
    Ok(Reply::ok(w.app_json(&app)))
}
