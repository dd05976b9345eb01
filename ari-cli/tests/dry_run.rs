//! `--dry-run`: the request as the curl command that sends it, without sending anything; the
//! password only as `$ARI_PASSWORD`. Run through a shell against the real 22.10.1, the curl line
//! gets the same answer as `ari` itself.

mod support;

use support::bare;

fn dry(args: &[&str]) -> String {
    let out = bare()
        .env("ARI_USER", "asterisk")
        .env("ARI_PASSWORD", "not-shown-4e1c")
        .args(args)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("not-shown-4e1c"), "{text}");
    text.trim_end().to_owned()
}

#[test]
fn requests_as_curl_lines() {
    // Path segments encoded, several values comma-joined.
    assert_eq!(
        dry(&["channels", "play", "a/b c", "sound:hello-world", "sound:x"]),
        r#"curl -u "asterisk:$ARI_PASSWORD" -X POST 'http://127.0.0.1:8088/ari/channels/a%2Fb%20c/play?media=sound%3Ahello-world%2Csound%3Ax'"#
    );
    // `--var` in the JSON body, quoted for the shell.
    assert_eq!(
        dry(&[
            "channels",
            "originate",
            "PJSIP/alice",
            "--app",
            "demo",
            "--var",
            "CALLERID(name)=Al'ice"
        ]),
        r#"curl -u "asterisk:$ARI_PASSWORD" -X POST 'http://127.0.0.1:8088/ari/channels?endpoint=PJSIP%2Falice&app=demo' -H 'Content-Type: application/json' -d '{"variables":{"CALLERID(name)":"Al'\''ice"}}'"#
    );
    // An `object` body parameter is the whole body.
    assert_eq!(
        dry(&[
            "applications",
            "filter",
            "app",
            "--filter",
            r#"{"allowed":[]}"#
        ]),
        r#"curl -u "asterisk:$ARI_PASSWORD" -X PUT 'http://127.0.0.1:8088/ari/applications/app/eventFilter' -H 'Content-Type: application/json' -d '{"allowed":[]}'"#
    );
    // A binary answer to a file; optional booleans as a bare flag.
    assert_eq!(
        dry(&["recordings", "get-stored-file", "rec", "--file", "out.wav"]),
        r#"curl -u "asterisk:$ARI_PASSWORD" -X GET 'http://127.0.0.1:8088/ari/recordings/stored/rec/file' -o 'out.wav'"#
    );
    assert!(
        dry(&[
            "bridges",
            "add-channel",
            "b",
            "c1,c2",
            "--inhibit-connected-line-updates"
        ])
        .ends_with("?channel=c1%2Cc2&inhibitConnectedLineUpdates=true'")
    );
}

#[test]
fn dry_run_of_the_events_websocket_is_refused() {
    let out = bare()
        .args(["events", "event-websocket", "app", "--dry-run"])
        .output()
        .unwrap();
    let msg = support::failure(&out, &["event-websocket --dry-run"], 2);
    assert!(msg.contains("ari events --app"), "{msg}");
}

/// The printed curl line, run by a shell, gets what `ari` gets.
#[test]
fn the_curl_line_gets_the_same_answer() {
    let Some(s) = support::server(22, "the_curl_line_gets_the_same_answer") else {
        return;
    };
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP the_curl_line_gets_the_same_answer: no curl");
        return;
    }
    let args = ["asterisk", "get-info", "--only", "system"];
    let line = s.ari().args(args).arg("--dry-run").output().unwrap();
    let line = String::from_utf8(line.stdout).unwrap();
    let curl = std::process::Command::new("sh")
        .args(["-c", &format!("{} --silent --show-error", line.trim_end())])
        .env("ARI_PASSWORD", &s.password)
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let by_curl: serde_json::Value = serde_json::from_slice(&curl.stdout).unwrap();
    assert_eq!(by_curl, s.json(&args));
}
