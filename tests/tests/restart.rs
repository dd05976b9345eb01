//! Asterisk 22 restarts while an event stream is open: the stream reconnects by itself
//! (a `Reconnected` item) and the app receives typed events again.
//!
//! Runs only when the 22 server is configured (`ARI_URL_22`, or `ARI_REQUIRE_SERVERS=1` for the
//! default one) and it runs on this machine: it restarts it with
//! `cargo xtask asterisk restart --release 22`, which needs root. Every other scenario against
//! 22 holds the restart lock shared (`ari_tests::restart_lock`); this one holds it exclusively,
//! so no scenario of any concurrent run is against 22 while it restarts. (Cargo runs test
//! binaries one after another, so within one `cargo test` nothing else runs meanwhile anyway.)

use std::time::{Duration, Instant};

use ari_tests::{Harness, Note, wait_event};

async fn reconnects_after_restart(mut h: Harness) {
    let started = Instant::now();
    // The xtask returns once ARI answers again (it stops the server with `core stop now`).
    let restarting = tokio::task::spawn_blocking(move || ari_tests::restart_asterisk("22"));
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
