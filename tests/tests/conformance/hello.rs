//! Scenario 1: hello world.

use ari_sdk::ChannelHandle;
use ari_tests::{Harness, wait_event};

/// StasisStart, answer, play sound:hello-world, PlaybackStarted and PlaybackFinished, hang up,
/// StasisEnd.
pub async fn hello_world(mut h: Harness) {
    // The `;2` half of the Local pair runs extension `stasis`, which enters our app unanswered
    // with ARI_ARGS; the `;1` half goes on to `wait` once `;2` answers.
    let outer = h.channel_id();
    let id = h.channel_id();
    let chan = h
        .client
        .channels()
        .originate("Local/stasis@default")
        .extension("wait")
        .context("default")
        .priority(1)
        .variables([("ARI_APP", h.app.as_str()), ("ARI_ARGS", "one,two")])
        .channel_id(&outer)
        .other_channel_id(&id)
        .send()
        .await
        .expect("originate");
    assert_eq!(chan.id, outer);
    let start = wait_event!(h, StasisStart(s) if s.channel.id == id);
    assert_eq!(start.args, ["one", "two"]);
    assert_eq!(
        start.channel.state.as_str(),
        "Ring",
        "the far end has not answered yet"
    );
    assert_eq!(start.application, h.app);
    let handle = ChannelHandle::new(h.client.clone(), &id);
    handle.answer().send().await.expect("answer");
    wait_event!(h, ChannelStateChange(c) if c.channel.id == id && c.channel.state.as_str() == "Up");
    let playback_id = ari_tests::unique_id("arit-play");
    let playback = handle
        .play_with_id(&playback_id, ["sound:hello-world"])
        .send()
        .await
        .expect("play");
    assert_eq!(playback.id, playback_id);
    assert_eq!(playback.media_uri, "sound:hello-world");
    let started = wait_event!(h, PlaybackStarted(p) if p.playback.id == playback_id);
    assert_eq!(started.playback.state.as_str(), "playing");
    assert_eq!(started.playback.target_uri, format!("channel:{id}"));
    let finished = wait_event!(h, PlaybackFinished(p) if p.playback.id == playback_id);
    assert_eq!(finished.playback.state.as_str(), "done");
    handle.hangup().send().await.expect("hangup");
    wait_event!(h, ChannelHangupRequest(r) if r.channel.id == id);
    let end = wait_event!(h, StasisEnd(e) if e.channel.id == id);
    assert_eq!(end.application, h.app);
}
