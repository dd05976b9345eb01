//! What `--help` says (from the spec), the output formats, the spec tools, completions and the
//! man page. Everything here but the output formats needs no server.

mod support;

use support::bare;

fn stdout(args: &[&str]) -> String {
    let out = bare().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ari {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn top_level_help_lists_resources_and_tools() {
    let help = stdout(&["--help"]);
    for cmd in [
        "applications",
        "asterisk",
        "bridges",
        "channels",
        "device-states",
        "endpoints",
        "events",
        "mailboxes",
        "playbacks",
        "recordings",
        "sounds",
        "spec",
        "codegen",
        "completions",
        "man",
    ] {
        assert!(help.contains(&format!("\n  {cmd} ")), "{cmd} in:\n{help}");
    }
    assert!(help.contains("Exit codes:"));
}

/// `--help` of an operation: summary, method and path, notes, the spec's errors, releases,
/// positional and optional parameters, LIST values, `--var`.
#[test]
fn operation_help_comes_from_the_spec() {
    let help = stdout(&["channels", "originate", "--help"]);
    for want in [
        "Create a new channel (originate).",
        "POST /channels",
        "automatically subscribed to the originated channel",
        "Errors the spec documents:",
        "409: Channel with given unique ID already exists.",
        "Releases: every release since 12.0.0.",
        "<ENDPOINT>",
        "--var <KEY=VALUE>",
        "--channel-id <CHANNEL_ID>",
        "(Releases: every release since 13.2.0)",
    ] {
        assert!(help.contains(want), "{want:?} in:\n{help}");
    }
    let mute = stdout(&["channels", "mute", "--help"]);
    assert!(mute.contains("[possible values: both, in, out]"), "{mute}");
    let play = stdout(&["bridges", "play", "--help"]);
    assert!(play.contains("[range: 0..]"), "{play}");
    let progress = stdout(&["channels", "progress", "--help"]);
    assert!(
        progress.contains("Releases: 20.16.0+, 21.11.0+, and every release since 22.6.0."),
        "{progress}"
    );
}

#[test]
fn spec_releases() {
    let out = stdout(&["spec", "releases", "channels.progress"]);
    assert!(
        out.starts_with("operation channels.progress: 20.16.0+, 21.11.0+, 22.6.0+, 23.0.0+ ("),
        "{out}"
    );
    // By command name too, and parameters, fields and events.
    let out = stdout(&["spec", "releases", "channels.originate-with-id"]);
    assert!(out.contains("channels.originateWithId: 12.2.0+"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&[
        "spec",
        "releases",
        "Channel.protocol_id",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["kind"], "field");
    assert_eq!(v["ranges"][0], "16.27.0+");
    let releases = v["releases"].as_array().unwrap();
    assert!(releases.iter().any(|r| r == "16.28.0") && !releases.iter().any(|r| r == "16.26.0"));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&["spec", "releases", "CallBroadcast", "--json"])).unwrap();
    assert_eq!(v["kind"], "event");
    assert_eq!(v["releases"].as_array().unwrap().len(), 6);
}

/// `ari spec diff` prints what `cargo xtask diff` prints: one implementation in ari-spec.
#[test]
fn spec_diff_shares_ari_spec() {
    let text = stdout(&["spec", "diff", "22.0.0", "22.10.1"]);
    let corpus = ari_spec::Corpus::vendored_dir();
    let expected = ari_spec::diff::diff_releases(&corpus, "22.0.0", "22.10.1").unwrap();
    assert_eq!(text, expected.to_text());
    assert!(text.contains("+ operation channels.progress"), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&["spec", "diff", "22.0.0", "22.10.1", "--json"])).unwrap();
    assert_eq!(v["operations"]["added"].as_array().unwrap().len(), 9);
}

#[test]
fn spec_commands_count_per_release() {
    let all: serde_json::Value =
        serde_json::from_str(&stdout(&["spec", "commands", "--json"])).unwrap();
    assert_eq!(all["count"], ari_sdk::ops::OPERATIONS.len());
    let v: serde_json::Value = serde_json::from_str(&stdout(&[
        "spec",
        "commands",
        "--release",
        "16.28.0",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["count"], 98);
    let cmds = v["commands"].as_array().unwrap();
    assert!(cmds.iter().any(|c| c == "channels originate"));
    assert!(!cmds.iter().any(|c| c == "channels progress"));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&["completions", shell]);
        assert!(script.contains("originate"), "{shell}");
    }
    // LIST values complete.
    let fish = stdout(&["completions", "fish"]);
    assert!(
        fish.contains("-l direction") && fish.contains("both"),
        "fish"
    );
    let man = stdout(&["man"]);
    assert!(man.starts_with(".ie") && man.contains(".SH NAME"), "{man}");
    for section in [
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"EXIT STATUS\"",
        "\\fBARI_PASSWORD\\fR",
    ] {
        assert!(man.contains(section), "{section} in the man page");
    }
    assert!(
        man.contains(".TP\n6\nthe server\\(aqs release")
            || man.contains(".TP\n6\nthe server's release"),
        "{man}"
    );
    let dir = std::env::temp_dir().join(format!("ari-cli-man-{}", std::process::id()));
    stdout(&["man", "--out", dir.to_str().unwrap()]);
    let page = std::fs::read_to_string(dir.join("ari-channels-originate.1")).unwrap();
    assert!(page.contains("Create a new channel"), "{page}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Piped, an answer is one compact JSON document (so `| jq` works); `--output pretty` indents.
#[test]
fn output_formats() {
    let Some(s) = support::server(22, "output_formats") else {
        return;
    };
    let out = s.ari().args(["asterisk", "get-info"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["system"]["version"]
            .as_str()
            .unwrap()
            .starts_with("22.10.1")
    );
    let out = s
        .ari()
        .args(["asterisk", "get-info", "--output", "pretty"])
        .output()
        .unwrap();
    let pretty = String::from_utf8(out.stdout).unwrap();
    assert!(pretty.lines().count() > 5, "{pretty}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
        v
    );
}
