//! What the `ari` tests share: the binary, the real servers' settings, unique app names.
//!
//! The servers are Asterisk 22.10.1 at `ARI_URL_22` and 16.28.0 at `ARI_URL_16`, with
//! `ARI_USER` / `ARI_PASSWORD` (default `asterisk` / `asterisk`), read by [`ari_test_env`] as
//! in every real-server test of the workspace. Without the URL a test prints a `SKIP` line and
//! passes; with `ARI_REQUIRE_SERVERS=1` an unset URL means the default servers
//! (`http://127.0.0.1:8088/ari`, `:8089`).

#![allow(dead_code)]

use assert_cmd::Command;

/// A server to test against ([`ari_test_env::Server`]: major, URL, credentials, the password
/// never in `Debug`), with the `ari` binary aimed at it.
#[derive(Clone, Debug)]
pub struct Server(pub ari_test_env::Server);

impl std::ops::Deref for Server {
    type Target = ari_test_env::Server;

    fn deref(&self) -> &ari_test_env::Server {
        &self.0
    }
}

/// The server of `major`, or `None` after a `SKIP` line when it is not configured.
pub fn server(major: u16, test: &str) -> Option<Server> {
    ari_test_env::server_or_skip(major, test).map(Server)
}

/// The `ari` binary with no connection settings from the test's environment or a config file.
pub fn bare() -> Command {
    let mut cmd = Command::cargo_bin("ari").expect("the ari binary is built");
    for v in [
        "ARI_URL",
        "ARI_USER",
        "ARI_PASSWORD",
        "ARI_SERVER",
        "ARI_CONFIG",
    ] {
        cmd.env_remove(v);
    }
    // No config file from the developer's home.
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("ari-cli-tests-no-config"),
    );
    cmd
}

impl Server {
    /// The `ari` binary aimed at this server through the environment.
    pub fn ari(&self) -> Command {
        let mut cmd = bare();
        cmd.env("ARI_URL", &self.url)
            .env("ARI_USER", &self.user)
            .env("ARI_PASSWORD", &self.password);
        cmd
    }

    /// Runs `ari args...`, expects success, and returns stdout parsed as JSON (piped: compact).
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ari().args(args).output().expect("ari runs");
        assert!(
            out.status.success(),
            "ari {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "ari {args:?}: stdout is not one JSON document ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs `ari args...` and expects success with nothing on stdout.
    pub fn ok(&self, args: &[&str]) {
        let out = self.ari().args(args).output().expect("ari runs");
        assert!(
            out.status.success(),
            "ari {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `ari args...`, expects failure with `code`, and returns the one stderr line.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.ari().args(args).output().expect("ari runs");
        failure(&out, args, code)
    }
}

/// Checks a failed run: exit `code`, exactly one line on stderr starting `ari: `, no panic.
pub fn failure(out: &std::process::Output, args: &[&str], code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "ari {args:?}: exit code; stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "ari {args:?}: one line: {stderr:?}"
    );
    assert!(stderr.starts_with("ari: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    stderr.trim_end().to_owned()
}

/// A Stasis application name no other test (or helper) uses.
pub fn unique_app(what: &str) -> String {
    ari_test_env::unique_name(&format!("ari-cli-{what}"))
}

/// The first line `child` prints on stdout, waiting at most `wait`; the child is killed when
/// none comes, so that a test never hangs on it.
pub fn first_line(child: &mut std::process::Child, wait: std::time::Duration) -> Option<String> {
    use std::io::BufRead as _;
    let out = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        if std::io::BufReader::new(out).read_line(&mut line).is_ok() && !line.is_empty() {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(wait).ok();
    if line.is_none() {
        let _ = child.kill();
    }
    line
}
