//! Scenario 6: live and stored recordings.

use ari_tests::{Harness, unique_id, wait_event};

/// Record a channel (a far end that plays a tone); pause, unpause, mute, unmute, stop; the
/// stored recording listed, fetched, copied, downloaded and deleted; the documented 404, 409
/// and 422.
pub async fn record_channel(mut h: Harness) {
    let c = h.client.channels();
    let r = h.client.recordings();
    let (id, _) = h.local_in_app("tone").await;
    let name = unique_id("arit-rec");
    h.track_live_recording(&name);
    // Talk detection on the channel: ChannelTalkingStarted tells when the tone's audio flows.
    c.set_channel_var(&id, "TALK_DETECT(set)")
        .value("")
        .send()
        .await
        .expect("TALK_DETECT");

    // 422: a format Asterisk does not know.
    let bad = c
        .record(&id, unique_id("arit-rec"), "nosuchformat")
        .send()
        .await;
    h.expect_http(bad, 422, "record in an unknown format");
    // 404: a channel that does not exist.
    let bad = c
        .record(unique_id("arit-none"), unique_id("arit-rec"), "wav")
        .send()
        .await;
    h.expect_http(bad, 404, "record a missing channel");

    let live = c
        .record(&id, &name, "wav")
        .max_duration_seconds(30)
        .max_silence_seconds(0)
        .if_exists("fail")
        .beep(false)
        .terminate_on("none")
        .send()
        .await
        .expect("record");
    assert_eq!(live.name, name);
    assert_eq!(live.format, "wav");
    assert_eq!(
        live.target_uri.as_deref(),
        Some(format!("channel:{id}").as_str())
    );
    wait_event!(h, RecordingStarted(e) if e.recording.name == name);
    // 409: the same name while it records.
    let dup = c.record(&id, &name, "wav").send().await;
    h.expect_http(dup, 409, "record under a name in use");

    r.pause(&name).send().await.expect("pause");
    let got = r.get_live(&name).send().await.expect("get live");
    assert_eq!(got.state.as_str(), "paused");
    r.unpause(&name).send().await.expect("unpause");
    assert_eq!(
        r.get_live(&name)
            .send()
            .await
            .expect("get live")
            .state
            .as_str(),
        "recording"
    );
    r.mute(&name).send().await.expect("mute");
    r.unmute(&name).send().await.expect("unmute");
    // Audio flows into the recording: the far end's tone is detected as talking.
    wait_event!(h, ChannelTalkingStarted(e) if e.channel.id == id);
    r.stop(&name).send().await.expect("stop");
    let finished = wait_event!(h, RecordingFinished(e) if e.recording.name == name);
    assert_eq!(finished.recording.state.as_str(), "done");
    // The finished recording may still be listed for a moment after RecordingFinished (then
    // done); one that never existed is the documented 404.
    match r.get_live(&name).send().await {
        Ok(still) => assert_eq!(still.state.as_str(), "done", "{still:?}"),
        Err(e) => assert_eq!(e.status(), Some(404), "{e}"),
    }
    let none = unique_id("arit-rec");
    h.expect_http(
        r.get_live(&none).send().await,
        404,
        "get a missing live recording",
    );
    h.expect_http(
        r.pause(&none).send().await,
        404,
        "pause a missing recording",
    );
    h.expect_http(r.stop(&none).send().await, 404, "stop a missing recording");

    // Stored: list, get, copy, download, delete.
    let stored = r.list_stored().send().await.expect("list stored");
    assert!(stored.iter().any(|s| s.name == name), "{stored:?}");
    let one = r.get_stored(&name).send().await.expect("get stored");
    assert_eq!(one.format, "wav");
    let copy = unique_id("arit-rec");
    h.track_stored_recording(&copy);
    let copied = r.copy_stored(&name, &copy).send().await.expect("copy");
    assert_eq!(copied.name, copy);
    // 409: copying onto an existing recording.
    let again = r.copy_stored(&name, &copy).send().await;
    h.expect_http(again, 409, "copy onto an existing recording");
    let bytes = r.get_stored_file(&copy).send().await.expect("download");
    assert!(
        bytes.len() > 44,
        "a WAV file with audio, got {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..4], b"RIFF", "a WAV file");
    r.delete_stored(&copy).send().await.expect("delete copy");
    r.delete_stored(&name).send().await.expect("delete");
    h.expect_http(
        r.get_stored(&name).send().await,
        404,
        "get a deleted recording",
    );
    h.expect_http(r.delete_stored(&name).send().await, 404, "delete twice");
    h.expect_http(
        r.get_stored_file(&name).send().await,
        404,
        "download a deleted recording",
    );
    let missing = r.copy_stored(&name, unique_id("arit-rec")).send().await;
    h.expect_http(missing, 404, "copy a missing recording");

    // Cancel: a second recording that is thrown away.
    let name2 = unique_id("arit-rec");
    h.track_live_recording(&name2);
    c.record(&id, &name2, "wav")
        .send()
        .await
        .expect("record again");
    wait_event!(h, RecordingStarted(e) if e.recording.name == name2);
    r.cancel(&name2).send().await.expect("cancel");
    h.expect_http(
        r.get_stored(&name2).send().await,
        404,
        "a canceled recording is not stored",
    );
}
