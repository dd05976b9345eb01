//! The `ari-fleet-proxy` binary: its help, and clear errors for bad input before connecting.

use assert_cmd::Command;

fn proxy() -> Command {
    Command::cargo_bin("ari-fleet-proxy").expect("the binary is built")
}

#[test]
fn help_names_the_options() {
    let out = proxy()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for option in [
        "--server", "--url", "--app", "--nats", "--prefix", "--mirror",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    // The password's value (from the environment or the default) is never shown.
    assert!(!text.contains("ARI_PASSWORD=asterisk"), "{text}");
}

#[test]
fn a_bad_server_id_is_refused_by_name() {
    let out = proxy()
        .args([
            "--server",
            "a.b",
            "--app",
            "x",
            "--nats",
            "nats://127.0.0.1:9",
        ])
        .env_remove("ARI_FLEET_SERVER")
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("server id") && text.contains("a.b"), "{text}");
}

#[test]
fn an_app_is_required() {
    proxy().args(["--server", "s1"]).assert().failure();
}

#[test]
fn a_bad_interval_is_refused_by_name() {
    let out = proxy()
        .args(["--server", "s1", "--app", "x", "--announce-secs=0"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("--announce-secs"), "{text}");
}
