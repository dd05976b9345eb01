//! The test API: incoming calls, the caller's keys and hangup, virtual time, faults, restarts,
//! the request log; with the SDK as the application's client.

use std::time::Duration;

use ari_mock::Mock;
use ari_sdk::events::StreamItem;
use ari_sdk::{Client, Event};
use futures::StreamExt;

async fn next_event(events: &mut ari_sdk::events::EventStream) -> Event {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
            Ok(Some(StreamItem::Event(e))) => return e,
            Ok(Some(_)) => continue,
            other => panic!("no event: {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn incoming_call_keys_hangup_and_the_request_log() {
    let mock = Mock::start().await.unwrap();
    let client = Client::new(mock.url(), "asterisk", "asterisk").unwrap();
    let mut events = client.event_stream().app("ivr").connect().await.unwrap();
    let call = mock
        .incoming_call("ivr")
        .caller("Alice", "100")
        .args(["a", "b"])
        .send();
    let Event::StasisStart(start) = next_event(&mut events).await else {
        panic!("not StasisStart");
    };
    assert_eq!(start.channel.id, call.id());
    assert_eq!(start.args, ["a", "b"]);
    assert_eq!(start.channel.state.as_str(), "Ring");
    assert_eq!(start.channel.caller.name, "Alice");
    client.channels().answer(call.id()).send().await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        Event::ChannelStateChange(_)
    ));
    call.press("12");
    for digit in ["1", "2"] {
        let Event::ChannelDtmfReceived(d) = next_event(&mut events).await else {
            panic!("not DTMF");
        };
        assert_eq!(d.digit, digit);
    }
    // A 10 s wait of the application costs no real time.
    tokio::time::sleep(Duration::from_secs(10)).await;
    call.hang_up();
    let Event::ChannelHangupRequest(h) = next_event(&mut events).await else {
        panic!("not a hangup request");
    };
    assert_eq!(h.cause, Some(16));
    assert!(matches!(next_event(&mut events).await, Event::StasisEnd(_)));
    assert!(!call.is_up());
    let answers = mock.requests_to("channels.answer");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status, 204);
    assert_eq!(answers[0].path, format!("/channels/{}/answer", call.id()));
}

#[tokio::test(start_paused = true)]
async fn injected_statuses_delays_and_dropped_websockets() {
    let mock = Mock::start().await.unwrap();
    let client = Client::new(mock.url(), "asterisk", "asterisk").unwrap();
    // Learn the release first: a fault on that call would be a different test.
    client.connect().await.unwrap();
    mock.fail_next(2, 500);
    for _ in 0..2 {
        let e = client.asterisk().ping().send().await.unwrap_err();
        assert_eq!(e.status(), Some(500), "{e}");
    }
    client
        .asterisk()
        .ping()
        .send()
        .await
        .expect("the faults are used up");
    mock.fail_next_on("channels.list", 1, 503);
    client
        .asterisk()
        .ping()
        .send()
        .await
        .expect("another operation is not affected");
    assert_eq!(
        client.channels().list().send().await.unwrap_err().status(),
        Some(503)
    );
    // A delay on tokio's clock: the call completes once the test's clock moved on.
    mock.delay_next(1, Duration::from_secs(10));
    let before = tokio::time::Instant::now();
    client.channels().list().send().await.unwrap();
    assert!(before.elapsed() >= Duration::from_secs(10));
    // Longer than the SDK's 30 s request timeout: the client gives up.
    mock.delay_next_on("channels.list", 1, Duration::from_secs(40));
    let e = client.channels().list().send().await.unwrap_err();
    assert_eq!(e.kind(), ari_sdk::ErrorKind::Timeout, "{e}");

    let mut events = client.event_stream().app("faults").connect().await.unwrap();
    mock.drop_websockets();
    // The SDK's stream reconnects by itself and says so.
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.next()).await {
            Ok(Some(StreamItem::Reconnected { .. })) => break,
            Ok(Some(_)) => continue,
            other => panic!("no reconnect: {other:?}"),
        }
    }
    let call = mock.incoming_call("faults").send();
    let Event::StasisStart(s) = next_event(&mut events).await else {
        panic!("not StasisStart");
    };
    assert_eq!(s.channel.id, call.id());
}

#[tokio::test(start_paused = true)]
async fn restart_loses_calls_keeps_the_port() {
    let mock = Mock::start().await.unwrap();
    let client = Client::new(mock.url(), "asterisk", "asterisk").unwrap();
    let call = mock.incoming_call("r").send();
    assert!(call.is_up());
    mock.restart(Duration::from_secs(2)).await.unwrap();
    assert!(!call.is_up());
    assert!(client.channels().list().send().await.unwrap().is_empty());
    let info = client.asterisk().get_info().send().await.unwrap();
    assert!(format!("{info:?}").contains("22.10.1"));
}

#[tokio::test(start_paused = true)]
async fn events_survive_the_clients_pings() {
    // The SDK pings every 20 s: a frame after a ping must not wait for a delayed ACK.
    let mock = Mock::start().await.unwrap();
    let client = Client::new(mock.url(), "asterisk", "asterisk").unwrap();
    let mut events = client.event_stream().app("p").connect().await.unwrap();
    tokio::time::sleep(Duration::from_secs(65)).await;
    let call = mock.incoming_call("p").send();
    let Event::StasisStart(s) = next_event(&mut events).await else {
        panic!("not StasisStart");
    };
    assert_eq!(s.channel.id, call.id());
}

#[tokio::test(start_paused = true)]
async fn model_constructors_decode_as_the_sdk_reads_them() {
    let chan = ari_mock::models::channel("c1")
        .state("Ring")
        .caller("Bob", "200")
        .build();
    assert_eq!(chan.state.as_str(), "Ring");
    let ev = ari_mock::models::dtmf_received("app", &chan, "5", 100);
    assert!(matches!(&ev, Event::ChannelDtmfReceived(d) if d.digit == "5" && d.channel.id == "c1"));
    let gone = ari_mock::models::channel_destroyed("app", &chan, 17);
    assert!(matches!(&gone, Event::ChannelDestroyed(d) if d.cause_txt == "User busy"));
    let b = ari_mock::models::bridge("b1", &["c1"]);
    assert_eq!(b.channels, ["c1"]);
    let p = ari_mock::models::playback("p1", "sound:beep", "channel:c1", "playing");
    let fin = ari_mock::models::playback_event("app", &p, true);
    assert!(matches!(&fin, Event::PlaybackFinished(f) if f.playback.state.as_str() == "done"));
}
