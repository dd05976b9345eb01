//! An ARI application in Python (standard library only: urllib and a raw-socket WebSocket,
//! tests/python/ivr.py) against the `ari-mock` binary, proving the mock is not tied to ari-sdk;
//! and the same script against the real 22.10.1 when it is configured, printing both runs'
//! event types.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run_script(python: &str, url: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ivr.py");
    let out = Command::new(python)
        .args([script, url, "asterisk", "asterisk"])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("OK"),
        "ivr.py against {url} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_app_against_the_binary() {
    let Some(python) = python() else {
        // A machine without Python cannot run this proof; say so rather than fail.
        eprintln!("SKIP python_app_against_the_binary: no python3 on PATH");
        return;
    };
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("ari-mock"))
        .args(["--release", "22.10.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ari-mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("ari-mock prints its URL");
    let url = line
        .trim()
        .strip_prefix("ARI_URL=")
        .expect("ARI_URL=...")
        .to_owned();
    let mock_run = run_script(python, &url);
    // Closing its standard input stops the binary.
    drop(child.stdin.take());
    let status = child.wait().expect("ari-mock exits");
    assert!(status.success(), "{status}");
    println!("mock:    {mock_run}");

    if let Some(real) = ari_test_env::server(22) {
        let real_run = run_script(python, &real.url);
        println!("real 22: {real_run}");
    }
}
