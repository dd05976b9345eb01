//! The Asterisk ARI tutorials, step by step, with `ari` in place of `wscat` and `curl`, against
//! the real Asterisk 22.10.1 and 16.28.0: hello world with the events tail, originate and report
//! the cause, create/bridge/dial, recordings, sounds, modules, variables, subscriptions.
//!
//! Every scenario uses a Stasis application of its own, waits for events through `ari events`
//! (bounded, never by sleeping), and hangs up what it made, even when it fails.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::{Server, unique_app};

/// Longest wait for one event; a bound on a hang, not a timing assertion.
const EVENT_WAIT: Duration = Duration::from_secs(30);

/// `ari events --app APP --json` running in the background, its lines parsed.
struct Tail {
    child: Child,
    events: mpsc::Receiver<Value>,
}

impl Tail {
    /// Starts the tail and waits until it says the app is registered.
    fn start(s: &Server, app: &str, extra: &[&str]) -> Tail {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
            .env("ARI_URL", &s.url)
            .env("ARI_USER", &s.user)
            .env("ARI_PASSWORD", &s.password)
            .args(["events", "--app", app, "--json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ari events starts");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("ari: listening for events of "),
            "ari events: {line:?}"
        );
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Tail { child, events }
    }

    /// The next event of `kind` (others are skipped).
    fn next(&self, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let ev = self
                .events
                .recv_timeout(EVENT_WAIT)
                .unwrap_or_else(|_| panic!("no {kind} event"));
            if ev["type"] == kind && pred(&ev) {
                return ev;
            }
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hangs up channels and destroys bridges at the end of a scenario, whatever happened.
struct Cleanup<'a> {
    s: &'a Server,
    channels: Vec<String>,
    bridges: Vec<String>,
}

impl<'a> Cleanup<'a> {
    fn new(s: &'a Server) -> Self {
        Cleanup {
            s,
            channels: Vec::new(),
            bridges: Vec::new(),
        }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for c in &self.channels {
            let _ = self.s.ari().args(["channels", "hangup", c]).output();
        }
        for b in &self.bridges {
            let _ = self.s.ari().args(["bridges", "destroy", b]).output();
        }
    }
}

fn servers(test: &str) -> Vec<Server> {
    [22, 16]
        .into_iter()
        .filter_map(|m| support::server(m, test))
        .collect()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// Hello world: the tail shows the call entering the app, `ari channels play` plays
/// hello-world to it, and hanging it up ends it (StasisEnd).
#[test]
fn hello_world_with_the_events_tail() {
    for s in servers("hello_world_with_the_events_tail") {
        let app = unique_app("hello");
        let tail = Tail::start(&s, &app, &[]);
        let mut clean = Cleanup::new(&s);
        // A phone dialling into the app: the Local channel's far half runs Stasis(app).
        let caller = s.json(&[
            "channels",
            "originate",
            &format!("Local/stasis-{app}@default"),
            "--extension",
            "wait",
            "--context",
            "default",
        ]);
        clean.channels.push(id_of(&caller));
        let start = tail.next("StasisStart", |_| true);
        assert_eq!(start["application"], app.as_str());
        let chan = start["channel"]["id"].as_str().unwrap().to_owned();
        clean.channels.push(chan.clone());
        s.ok(&["channels", "answer", &chan]);
        let playback = s.json(&["channels", "play", &chan, "sound:hello-world"]);
        assert_eq!(playback["media_uri"], "sound:hello-world", "{playback}");
        let pid = id_of(&playback);
        tail.next("PlaybackFinished", |e| e["playback"]["id"] == pid.as_str());
        s.ok(&["channels", "hangup", &chan]);
        tail.next("StasisEnd", |e| e["channel"]["id"] == chan.as_str());
    }
}

/// The readable view (`--text`, the default on a terminal): one line per event with its time,
/// type, application and channel.
#[test]
fn events_tail_readable_lines() {
    let Some(s) = support::server(22, "events_tail_readable_lines") else {
        return;
    };
    let app = unique_app("text");
    let id = format!("{app}-c");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .env("ARI_URL", &s.url)
        .env("ARI_USER", &s.user)
        .env("ARI_PASSWORD", &s.password)
        .args([
            "events",
            "--app",
            &app,
            "--text",
            "--type",
            "StasisStart",
            "--count",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening"), "{line}");
    let mut clean = Cleanup::new(&s);
    clean.channels.push(id.clone());
    s.json(&[
        "channels",
        "originate",
        "Local/wait@default",
        "--app",
        &app,
        "--channel-id",
        &id,
    ]);
    let line = support::first_line(&mut child, EVENT_WAIT).expect("one line");
    assert!(child.wait().unwrap().success());
    let line = line.trim_end();
    assert!(
        line.contains(&format!(" StasisStart [{app}] channel=Local/wait@default-")),
        "{line}"
    );
    assert!(line.contains(&format!("({id})")), "{line}");
    // Starts with the time of day, HH:MM:SS.mmm.
    assert_eq!(line.as_bytes()[2], b':', "{line}");
}

/// Originate and report the cause: the callee is busy (Hangup(17)); the tail's
/// ChannelDestroyed says cause 17. `--type` and `--channel` keep only that event of that
/// channel (not the Local channel's other half), and `--count 1` ends the tail after it.
#[test]
fn originate_and_report_the_cause() {
    for s in servers("originate_and_report_the_cause") {
        let app = unique_app("cause");
        let id = format!("{app}-chan");
        let mut tail = Tail::start(
            &s,
            &app,
            &[
                "--type",
                "ChannelDestroyed",
                "--channel",
                &id,
                "--count",
                "1",
            ],
        );
        let mut clean = Cleanup::new(&s);
        clean.channels.push(id.clone());
        let chan = s.json(&[
            "channels",
            "originate",
            "Local/hangup-17@default",
            "--app",
            &app,
            "--channel-id",
            &id,
        ]);
        assert_eq!(chan["id"], id.as_str());
        let ev = tail
            .events
            .recv_timeout(EVENT_WAIT)
            .expect("ChannelDestroyed");
        assert_eq!(ev["type"], "ChannelDestroyed", "{ev}");
        assert_eq!(ev["channel"]["id"], id.as_str(), "{ev}");
        assert_eq!(ev["cause"], 17, "{ev}");
        assert!(ev["cause_txt"].as_str().is_some_and(|t| !t.is_empty()));
        // One event shown: the tail is done, successfully, and printed nothing else.
        assert!(tail.child.wait().unwrap().success());
        assert!(tail.events.recv_timeout(EVENT_WAIT).is_err());
    }
}

/// Create, bridge, dial: a mixing bridge, a created (not yet dialled) channel added to it,
/// dialled; both show up in `ari bridges get`.
#[test]
fn create_bridge_dial() {
    for s in servers("create_bridge_dial") {
        let app = unique_app("bridge");
        let tail = Tail::start(&s, &app, &[]);
        let mut clean = Cleanup::new(&s);
        let bridge = s.json(&["bridges", "create", "--type", "mixing", "--name", &app]);
        let bid = id_of(&bridge);
        clean.bridges.push(bid.clone());
        assert_eq!(bridge["bridge_type"], "mixing");
        let chan = s.json(&["channels", "create", "Local/answer-later@default", &app]);
        let cid = id_of(&chan);
        clean.channels.push(cid.clone());
        // `channels create` answers before the channel has entered the app; adding it to a
        // bridge before its StasisStart is refused (422).
        tail.next("StasisStart", |e| e["channel"]["id"] == cid.as_str());
        s.ok(&["bridges", "add-channel", &bid, &cid]);
        tail.next("ChannelEnteredBridge", |e| {
            e["channel"]["id"] == cid.as_str()
        });
        s.ok(&["channels", "dial", &cid, "--timeout", "10"]);
        tail.next("Dial", |e| {
            e["peer"]["id"] == cid.as_str() && e["dialstatus"] == "ANSWER"
        });
        let got = s.json(&["bridges", "get", &bid]);
        assert!(
            got["channels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cid.as_str()),
            "{got}"
        );
        s.ok(&["channels", "hangup", &cid]);
        s.ok(&["bridges", "destroy", &bid]);
    }
}

/// Recordings: record one second of an answered channel, find it among the stored ones, fetch
/// its file (a WAV) to a file and to a pipe, delete it.
#[test]
fn recordings() {
    for s in servers("recordings") {
        let app = unique_app("rec");
        let tail = Tail::start(&s, &app, &[]);
        let mut clean = Cleanup::new(&s);
        let chan = s.json(&["channels", "originate", "Local/wait@default", "--app", &app]);
        let cid = id_of(&chan);
        clean.channels.push(cid.clone());
        tail.next("StasisStart", |e| e["channel"]["id"] == cid.as_str());
        let name = app.clone();
        let live = s.json(&[
            "channels",
            "record",
            &cid,
            &name,
            "wav",
            "--max-duration-seconds",
            "1",
            "--if-exists",
            "overwrite",
        ]);
        assert_eq!(live["name"], name.as_str());
        tail.next("RecordingFinished", |e| {
            e["recording"]["name"] == name.as_str()
        });
        let stored = s.json(&["recordings", "list-stored"]);
        assert!(
            stored
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == name.as_str()),
            "{stored}"
        );
        let file = std::env::temp_dir().join(format!("{name}.wav"));
        s.ari()
            .args(["recordings", "get-stored-file", &name, "--file"])
            .arg(&file)
            .assert()
            .success();
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(&bytes[..4], b"RIFF", "a WAV file");
        // Piped, the bytes go to stdout as they are.
        let out = s
            .ari()
            .args(["recordings", "get-stored-file", &name])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, bytes);
        std::fs::remove_file(&file).unwrap();
        s.ok(&["recordings", "delete-stored", &name]);
        s.fails(&["recordings", "get-stored", &name], 5);
        s.ok(&["channels", "hangup", &cid]);
    }
}

/// Sounds: list them (filtered by language), get one.
#[test]
fn sounds() {
    for s in servers("sounds") {
        let list = s.json(&["sounds", "list", "--lang", "en"]);
        let list = list.as_array().unwrap();
        assert!(
            list.iter().any(|x| x["id"] == "hello-world"),
            "{}",
            list.len()
        );
        let one = s.json(&["sounds", "get", "hello-world"]);
        assert_eq!(one["id"], "hello-world");
        assert!(!one["formats"].as_array().unwrap().is_empty());
        // `--output lines`: one compact line per sound.
        let out = s
            .ari()
            .args(["sounds", "list", "--lang", "en", "--output", "lines"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            list.len()
        );
    }
}

/// Modules: list them, get res_ari's details (read-only: the servers are shared).
#[test]
fn modules() {
    for s in servers("modules") {
        let list = s.json(&["asterisk", "list-modules"]);
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "res_ari.so"),
            "res_ari.so is loaded"
        );
        let m = s.json(&["asterisk", "get-module", "res_ari.so"]);
        assert_eq!(m["name"], "res_ari.so");
        assert_eq!(m["status"], "Running");
        s.fails(&["asterisk", "get-module", "no_such_module.so"], 5);
    }
}

/// Variables: a global variable set and read back; a channel variable given at originate with
/// `--var key=value`, read back, then set and read again.
#[test]
fn variables() {
    for s in servers("variables") {
        let app = unique_app("vars");
        let tail = Tail::start(&s, &app, &[]);
        let mut clean = Cleanup::new(&s);
        let global = format!("ARI_CLI_{}", std::process::id());
        s.ok(&["asterisk", "set-global-var", &global, "--value", "hello"]);
        assert_eq!(
            s.json(&["asterisk", "get-global-var", &global])["value"],
            "hello"
        );
        let chan = s.json(&[
            "channels",
            "originate",
            "Local/wait@default",
            "--app",
            &app,
            "--var",
            "CLI_A=one",
            "--var",
            "CLI_B=two=2",
        ]);
        let cid = id_of(&chan);
        clean.channels.push(cid.clone());
        tail.next("StasisStart", |e| e["channel"]["id"] == cid.as_str());
        let get = |var: &str| s.json(&["channels", "get-channel-var", &cid, var])["value"].clone();
        assert_eq!(get("CLI_A"), "one");
        assert_eq!(get("CLI_B"), "two=2", "only the first = splits");
        s.ok(&[
            "channels",
            "set-channel-var",
            &cid,
            "CLI_A",
            "--value",
            "changed",
        ]);
        // 16.28 sets it from the channel's own thread after answering: its ChannelVarset says
        // when it is done.
        tail.next("ChannelVarset", |e| {
            e["channel"]["id"] == cid.as_str()
                && e["variable"] == "CLI_A"
                && e["value"] == "changed"
        });
        assert_eq!(get("CLI_A"), "changed");
        // Several at once: operations only 22.10 (of the two) ships; 16.28 refuses before sending.
        let set_many = [
            "channels",
            "set-channel-vars",
            &cid,
            "--var",
            "CLI_C=3",
            "--var",
            "CLI_D=4",
        ];
        if s.major == 22 {
            s.ok(&set_many);
            // Both set (ChannelVarset for each, in either order) before reading them back.
            let mut seen = std::collections::BTreeSet::new();
            while seen.len() < 2 {
                let ev = tail.next("ChannelVarset", |e| e["channel"]["id"] == cid.as_str());
                if let Some(v @ ("CLI_C" | "CLI_D")) = ev["variable"].as_str() {
                    seen.insert(v.to_owned());
                }
            }
            let got = s.json(&["channels", "get-channel-vars", &cid, "CLI_C", "CLI_D"]);
            assert_eq!(got.to_string().matches("\"3\"").count(), 1, "{got}");
            assert_eq!(got.to_string().matches("\"4\"").count(), 1, "{got}");
        } else {
            let msg = s.fails(&set_many, 6);
            assert!(msg.contains("22.10.0+"), "{msg}");
        }
        s.ok(&["asterisk", "set-global-var", &global, "--value", ""]);
        s.ok(&["channels", "hangup", &cid]);
    }
}

/// Subscriptions: the app subscribes to a channel it did not create and sees its events;
/// `ari applications get` lists it; unsubscribing removes it.
#[test]
fn subscriptions() {
    for s in servers("subscriptions") {
        let app = unique_app("subs");
        let other = unique_app("subs-other");
        let tail = Tail::start(&s, &app, &[]);
        let _other_tail = Tail::start(&s, &other, &[]);
        let mut clean = Cleanup::new(&s);
        let chan = s.json(&[
            "channels",
            "originate",
            "Local/wait@default",
            "--app",
            &other,
        ]);
        let cid = id_of(&chan);
        clean.channels.push(cid.clone());
        let source = format!("channel:{cid}");
        let got = s.json(&["applications", "subscribe", &app, &source]);
        assert!(
            got["channel_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cid.as_str()),
            "{got}"
        );
        let listed = s.json(&["applications", "get", &app]);
        assert!(
            listed["channel_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cid.as_str()),
            "{listed}"
        );
        // The subscribed app sees the channel's events though it is not its Stasis app.
        s.ok(&[
            "channels",
            "set-channel-var",
            &cid,
            "CLI_SUB",
            "--value",
            "x",
        ]);
        tail.next("ChannelVarset", |e| {
            e["channel"]["id"] == cid.as_str() && e["variable"] == "CLI_SUB"
        });
        let after = s.json(&["applications", "unsubscribe", &app, &source]);
        assert!(
            !after["channel_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cid.as_str()),
            "{after}"
        );
        s.ok(&["channels", "hangup", &cid]);
    }
}

/// The commands a server's release has (`ari spec commands --release`) number exactly the
/// operations of the spec that server serves (`ari spec import` counts them from the server).
#[test]
fn commands_per_release_match_the_servers_spec() {
    for s in servers("commands_per_release_match_the_servers_spec") {
        let info = s.json(&["spec", "import", "--from", &s.url, "--json"]);
        let ops = info["operations"].as_u64().unwrap();
        let release = info["release"].as_str().unwrap().to_owned();
        assert_eq!(info["changes_from_known"], 0, "{info}");
        let cmds = s.json(&["spec", "commands", "--release", &release, "--json"]);
        assert_eq!(
            cmds["count"], ops,
            "{release}: commands vs the server's operations"
        );
        assert_eq!(ops, if s.major == 22 { 109 } else { 98 });
    }
}
