//! Bad input, each a one-line message naming the problem and an exit code by its kind, never a
//! panic: a missing argument, a value outside a LIST or RANGE, an operation or parameter the
//! server's release lacks, a wrong password, an unreachable server, a bad config file. And the
//! password never shows.

mod support;

use support::{bare, failure};

/// Nothing listens on port 9 of the loopback.
const NOWHERE: &str = "http://127.0.0.1:9/ari";

fn run(args: &[&str], code: i32) -> String {
    let out = bare().args(args).output().unwrap();
    failure(&out, args, code)
}

#[test]
fn missing_required_argument() {
    let msg = run(&["channels", "originate"], 2);
    assert!(msg.contains("<ENDPOINT>"), "{msg}");
    let msg = run(&["channels", "create", "Local/x@default"], 2);
    assert!(msg.contains("<APP>"), "{msg}");
    // A required body parameter is a flag, and required.
    let msg = run(&["channels", "set-channel-vars", "c1"], 2);
    assert!(msg.contains("--var <KEY=VALUE>"), "{msg}");
}

#[test]
fn value_outside_the_list() {
    let msg = run(
        &[
            "--url",
            NOWHERE,
            "channels",
            "mute",
            "x",
            "--direction",
            "sideways",
        ],
        2,
    );
    assert!(msg.contains("sideways") && msg.contains("both"), "{msg}");
    let msg = run(
        &["--url", NOWHERE, "asterisk", "get-info", "--only", "bogus"],
        2,
    );
    assert!(
        msg.contains("possible values: build, system, config, status"),
        "{msg}"
    );
}

#[test]
fn value_outside_the_range_or_not_a_number() {
    let msg = run(
        &[
            "--url",
            NOWHERE,
            "bridges",
            "play",
            "b",
            "sound:x",
            "--skipms=-5",
        ],
        2,
    );
    assert!(msg.contains("-5 is below the minimum 0"), "{msg}");
    let msg = run(
        &[
            "--url",
            NOWHERE,
            "channels",
            "originate",
            "Local/x@default",
            "--timeout",
            "soon",
        ],
        2,
    );
    assert!(msg.contains("`soon` is not an integer"), "{msg}");
    let msg = run(
        &[
            "--url",
            NOWHERE,
            "channels",
            "originate",
            "L/x",
            "--var",
            "novalue",
        ],
        2,
    );
    assert!(msg.contains("`novalue` is not KEY=VALUE"), "{msg}");
}

#[test]
fn unreachable_server() {
    let msg = run(&["--url", NOWHERE, "channels", "list"], 3);
    assert!(
        msg.contains("127.0.0.1:9") && msg.contains("connection refused"),
        "{msg}"
    );
    let msg = run(&["--url", NOWHERE, "events", "--app", "x"], 3);
    assert!(msg.contains("connection refused"), "{msg}");
}

#[test]
fn spec_tools_on_an_unreachable_server() {
    for args in [
        ["spec", "import", "--from", NOWHERE, "--json"],
        [
            "codegen",
            "--from",
            NOWHERE,
            "--out",
            "/tmp/ari-cli-never-written",
        ],
    ] {
        let msg = run(&args, 3);
        assert!(msg.contains("connection refused"), "{msg}");
    }
    assert!(!std::path::Path::new("/tmp/ari-cli-never-written").exists());
}

#[test]
fn unusable_url() {
    let msg = run(&["--url", "ftp://h/ari", "channels", "list"], 2);
    assert!(msg.contains("scheme"), "{msg}");
}

#[test]
fn wrong_password_never_shown() {
    let Some(s) = support::server(22, "wrong_password_never_shown") else {
        return;
    };
    let secret = "not-the-password-7f3a";
    let args = ["--password", secret, "channels", "list"];
    let out = s.ari().args(args).output().unwrap();
    let msg = failure(&out, &args, 4);
    assert!(msg.contains("401"), "{msg}");
    assert!(!msg.contains(secret), "{msg}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    // Also on the events connection, and through the environment.
    let out = s
        .ari()
        .env("ARI_PASSWORD", secret)
        .args(["events", "--app", "x"])
        .output()
        .unwrap();
    let msg = failure(&out, &["events"], 4);
    assert!(!msg.contains(secret), "{msg}");
    // Nor in the diagnostics of `-v` (ari-sdk's) and `-vv` (the HTTP libraries' too), in clear
    // or as the basic-auth token.
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", s.user));
    for v in ["-v", "-vv"] {
        let out = s
            .ari()
            .args([v, "--password", secret, "channels", "list"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("operation=channels.list"), "{v}: {err}");
        assert!(!err.contains(secret) && !err.contains(&token), "{v}: {err}");
    }
    // Help shows that the variable exists, never its value.
    let help = s
        .ari()
        .env("ARI_PASSWORD", secret)
        .arg("--help")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains(secret));
}

/// An operation 16.28 does not ship is refused before sending, naming the release and where
/// the operation is; a parameter it does not ship, too.
#[test]
fn operation_or_parameter_the_release_lacks() {
    let Some(s) = support::server(16, "operation_or_parameter_the_release_lacks") else {
        return;
    };
    let msg = s.fails(&["channels", "progress", "some-channel"], 6);
    assert!(msg.contains("16.28.0") && msg.contains("22.6.0+"), "{msg}");
    let msg = s.fails(
        &[
            "bridges",
            "add-channel",
            "b",
            "c",
            "--inhibit-connected-line-updates",
        ],
        6,
    );
    assert!(msg.contains("inhibitConnectedLineUpdates"), "{msg}");
    // The same call is sent to 22.10.1, which answers that the channel does not exist.
    if let Some(s22) = support::server(22, "operation_or_parameter_the_release_lacks") {
        let msg = s22.fails(&["channels", "progress", "no-such-channel"], 5);
        assert!(msg.contains("404"), "{msg}");
    }
}

#[test]
fn config_file_named_servers() {
    let Some(s) = support::server(22, "config_file_named_servers") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("ari-cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "default = \"pbx1\"\n[servers.pbx1]\nurl = \"{}\"\nuser = \"{}\"\npassword = \"{}\"\n\
             [servers.down]\nurl = \"{NOWHERE}\"\n",
            s.url, s.user, s.password
        ),
    )
    .unwrap();
    let cfg = file.to_str().unwrap();
    // The default server, then a named one, then a flag over it.
    let out = bare()
        .args(["--config", cfg, "asterisk", "get-info", "--only", "system"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    failure(
        &bare()
            .args(["--config", cfg, "--server", "down", "channels", "list"])
            .output()
            .unwrap(),
        &["--server", "down"],
        3,
    );
    let msg = failure(
        &bare()
            .args(["--config", cfg, "--server", "nope", "channels", "list"])
            .output()
            .unwrap(),
        &["--server", "nope"],
        2,
    );
    assert!(msg.contains("down, pbx1"), "{msg}");
    // `ari config` says where each setting comes from, and never the password.
    let out = bare()
        .env("ARI_USER", "from-env")
        .args(["--config", cfg, "--server", "pbx1", "config"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        format!(
            "url: {} (config server pbx1)\nuser: {} (config server pbx1)\npassword: set, not shown (config server pbx1)\n",
            s.url, s.user
        )
    );
    let out = bare()
        .env("ARI_USER", "from-env")
        .args(["--config", cfg, "--server", "down", "config"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("user: from-env (ARI_USER)\npassword: not set\n"),
        "{text}"
    );
    assert!(
        !text.contains(&s.password) || s.password == s.user,
        "{text}"
    );
    // A flag wins over the named server.
    let out = bare()
        .args([
            "--config", cfg, "--server", "down", "--url", &s.url, "channels", "list",
        ])
        .output()
        .unwrap();
    failure(&out, &["--url over --server"], 4);
    std::fs::write(&file, "servers = 3\n").unwrap();
    let msg = failure(
        &bare()
            .args(["--config", cfg, "channels", "list"])
            .output()
            .unwrap(),
        &["bad config"],
        2,
    );
    assert!(msg.contains("config file"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_answer_on_a_terminal_is_not_assumed() {
    // Not a terminal here, so the bytes would go to stdout; a bad --file path is an I/O error
    // after the call, and an unreachable server comes first.
    let msg = run(
        &[
            "--url",
            NOWHERE,
            "recordings",
            "get-stored-file",
            "x",
            "--file",
            "/nonexistent/dir/f",
        ],
        3,
    );
    assert!(msg.contains("connection refused"), "{msg}");
}

#[test]
fn unknown_command_or_flag() {
    let msg = run(&["channel", "list"], 2);
    assert!(msg.contains("channel"), "{msg}");
    let msg = run(&["channels", "list", "--bogus"], 2);
    assert!(msg.contains("--bogus"), "{msg}");
    let msg = run(&["spec", "releases", "nothing.here"], 2);
    assert!(msg.contains("nothing.here"), "{msg}");
    let msg = run(&["spec", "diff", "16.28.0", "99.0.0"], 2);
    assert!(msg.contains("99.0.0"), "{msg}");
}
