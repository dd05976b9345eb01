//! Scenario 7: playbacks.

use ari_tests::{Harness, unique_id, wait_event};

/// Control (pause, unpause, restart, forward, reverse), get, stop; a list of several media
/// (PlaybackContinuing); the documented errors.
pub async fn playback_control(mut h: Harness) {
    let p = h.client.playbacks();
    let (id, _) = h.local_in_app("wait").await;
    let pid = unique_id("arit-play");
    h.client
        .channels()
        .play_with_id(&id, &pid, ["sound:tt-monkeys"])
        .lang("en")
        .offsetms(0)
        .skipms(500)
        .send()
        .await
        .expect("play");
    wait_event!(h, PlaybackStarted(e) if e.playback.id == pid);
    for op in ["pause", "unpause", "restart", "forward", "reverse"] {
        p.control(&pid, op)
            .send()
            .await
            .unwrap_or_else(|e| panic!("control {op}: {e}"));
        if op == "pause" {
            let got = p.get(&pid).send().await.expect("get");
            assert_eq!(got.state.as_str(), "paused", "after pause");
            // 409: a playback that is paused cannot be paused... Asterisk accepts it; restart
            // is refused instead, checked below.
        }
    }
    let r = p.control(&pid, "sideways").send().await;
    assert_eq!(
        r.expect_err("an operation outside the list").kind(),
        ari_sdk::ErrorKind::InvalidArgument
    );
    let got = p.get(&pid).send().await.expect("get");
    assert_eq!(got.state.as_str(), "playing");
    assert_eq!(got.media_uri, "sound:tt-monkeys");
    p.stop(&pid).send().await.expect("stop");
    let done = wait_event!(h, PlaybackFinished(e) if e.playback.id == pid);
    assert!(
        matches!(done.playback.state.as_str(), "done" | "stopped"),
        "{:?}",
        done.playback.state
    );
    // Asterisk 16 may still list a playback for a moment after PlaybackFinished; when it does,
    // it is done. One that never existed is the documented 404 everywhere.
    match p.get(&pid).send().await {
        Ok(still) => assert_eq!(still.state.as_str(), "done", "{still:?}"),
        Err(e) => assert_eq!(e.status(), Some(404), "{e}"),
    }
    let none = unique_id("arit-play");
    h.expect_http(p.get(&none).send().await, 404, "get a missing playback");
    h.expect_http(p.stop(&none).send().await, 404, "stop a missing playback");
    h.expect_http(
        p.control(&none, "pause").send().await,
        404,
        "control a missing playback",
    );

    // Several media in one playback: PlaybackContinuing between them.
    let media = ["sound:digits/1", "sound:digits/2", "sound:digits/3"];
    let playback = h
        .client
        .channels()
        .play(&id, media)
        .send()
        .await
        .expect("play a list");
    let pid = playback.id.clone();
    assert_eq!(playback.media_uri, "sound:digits/1");
    wait_event!(h, PlaybackStarted(e) if e.playback.id == pid);
    let next = wait_event!(h, PlaybackContinuing(e) if e.playback.id == pid);
    assert_eq!(next.playback.media_uri, "sound:digits/1");
    assert_eq!(
        next.playback.next_media_uri.as_deref(),
        Some("sound:digits/2")
    );
    wait_event!(h, PlaybackContinuing(e) if e.playback.id == pid && e.playback.media_uri == "sound:digits/2");
    let done = wait_event!(h, PlaybackFinished(e) if e.playback.id == pid);
    assert_eq!(done.playback.media_uri, "sound:digits/3");
    assert_eq!(done.playback.state.as_str(), "done");

    // Media that does not exist: the playback fails.
    let bad = unique_id("arit-play");
    h.client
        .channels()
        .play_with_id(&id, &bad, ["sound:arit-no-such-sound"])
        .send()
        .await
        .expect("play missing media");
    let failed = wait_event!(h, PlaybackFinished(e) if e.playback.id == bad);
    assert_eq!(failed.playback.state.as_str(), "failed");
}
