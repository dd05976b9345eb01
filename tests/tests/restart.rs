//! Asterisk 22 restarts while an event stream is open: the stream reconnects by itself
//! (a `Reconnected` item) and the app receives typed events again.
//!
//! Runs only when the 22 server is configured (`ARI_URL_22`, or `ARI_REQUIRE_SERVERS=1` for the
//! default one) and it runs on this machine: it restarts it with
//! `cargo xtask asterisk restart --release 22`, which needs root. Every other scenario against
//! 22 holds the restart lock shared (`ari_tests::restart_lock`); this one holds it exclusively,
//! so no scenario of any concurrent run is against 22 while it restarts. (Cargo runs test
//! binaries one after another, so within one `cargo test` nothing else runs meanwhile anyway.)

use std::process::Command;
use std::time::{Duration, Instant};

use ari_tests::{Harness, Note, wait_event};

/// Runs `cargo xtask asterisk ARGS…` from the workspace root; its output on failure.
fn xtask(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(cargo)
        .arg("xtask")
        .arg("asterisk")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("running cargo xtask asterisk {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo xtask asterisk {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Restarts the server of `release` (`22`) with the xtask.
///
/// WORKAROUND for an xtask race (xtask/src/asterisk/server.rs `stop`): it takes the server for
/// gone once no process with comm `asterisk` has the chroot as root, but a multi-threaded
/// Asterisk whose main thread has exited is a zombie leader whose `/proc/PID/root` cannot be
/// read while its other threads still hold the ARI port, so `start` sometimes fails with "port
/// 8088 is already in use by another program". Then: wait (bounded) until the port can be
/// bound, and start it with `up`.
fn restart(release: &str, port: u16) -> Result<(), String> {
    let first = match xtask(&["restart", "--release", release]) {
        Ok(()) => return Ok(()),
        Err(e) if e.contains("already in use") => {
            eprintln!(
                "note: xtask restart raced with the old server's port (xtask bug); waiting for the port, then `up`"
            );
            e
        }
        Err(e) => return Err(e),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{first}\nport {port} still busy 30 s later"));
        }
        // No event tells when a dying process lets go of a port.
        std::thread::sleep(Duration::from_millis(100));
    }
    xtask(&["up", "--release", release]).map_err(|e| format!("{first}\nthen: {e}"))
}

async fn reconnects_after_restart(mut h: Harness) {
    let started = Instant::now();
    // The xtask returns once ARI answers again (it stops the server with `core stop now`).
    let port = h
        .client
        .base_url()
        .port_or_known_default()
        .expect("the ARI URL has a port");
    let restarting = tokio::task::spawn_blocking(move || restart("22", port));
    tokio::time::timeout(Duration::from_secs(150), restarting)
        .await
        .expect("the restart did not finish within 150 s")
        .expect("restart task")
        .unwrap_or_else(|e| panic!("{e}"));
    // Meanwhile the stream noticed the loss and reconnects on its own; nothing here touches it.
    let mut errors = Vec::new();
    let reconnected = loop {
        match h.next_note(Duration::from_secs(60)).await {
            Some(Note::Reconnected { attempt, downtime }) => break (attempt, downtime),
            Some(Note::Error(e)) => errors.push(e),
            Some(Note::Event(_)) => {}
            None => panic!(
                "no Reconnected item within 60 s of the restart; stream errors: {errors:?}\n{}",
                h.history()
            ),
        }
    };
    assert!(
        !errors.is_empty(),
        "the stream reconnected without reporting the lost connection"
    );
    let (attempt, downtime) = reconnected;
    assert!(attempt >= 1 && downtime > Duration::ZERO, "{reconnected:?}");
    eprintln!(
        "Asterisk 22 restarted: reconnected after {attempt} attempt(s), {downtime:?} down, {:.1?} in all; errors seen: {}",
        started.elapsed(),
        errors.len()
    );
    // The app is registered again: a call into it arrives as a typed StasisStart.
    let (id, _) = h.local_in_app("wait").await;
    let again = h.client.channels().get(&id).send().await.expect("channel");
    assert_eq!(again.dialplan.app_name.as_deref(), Some("Stasis"));
    h.client
        .channels()
        .hangup(&id)
        .send()
        .await
        .expect("hangup");
    wait_event!(h, StasisEnd(e) if e.channel.id == id);
}

#[test]
fn event_stream_survives_asterisk_22_restart() {
    if ari_test_env::server_or_skip(22, "event_stream_survives_asterisk_22_restart").is_none() {
        return;
    }
    ari_tests::run_locked(22, "restart", true, reconnects_after_restart);
}
