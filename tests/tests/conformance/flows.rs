//! Everyday flows of the SDK against the real servers: `StasisApp` (registered when `start`
//! returns, handler failures handed to the app), a call's stream through `StasisEnd` to
//! `ChannelDestroyed`, the library's originate/play/hang-up helpers, builders awaited directly,
//! and media lists refused before sending.

use std::time::Duration;

use ari_sdk::routing::{AppError, Call, Router, StasisApp};
use ari_sdk::{ErrorKind, Event, EventKind};
use ari_tests::{Harness, unique_id};
use futures::StreamExt;
use tokio::sync::mpsc;

/// How long one flow's step may take.
const STEP: Duration = Duration::from_secs(20);

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(STEP, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within {STEP:?}"))
        .unwrap_or_else(|| panic!("{what}: sender gone"))
}

/// What a call's handler reports.
#[derive(Debug)]
struct Seen {
    channel: String,
    played: Option<String>,
    kinds: Vec<EventKind>,
    cause: Option<(i64, String)>,
}

/// Reads a call's stream to its end: the kinds of its events and the cause of its
/// `ChannelDestroyed`.
async fn drain(call: &mut Call, seen: &mut Seen) {
    while let Some(event) = tokio::time::timeout(STEP, call.events.next())
        .await
        .unwrap_or_else(|_| panic!("the stream of {} did not end", seen.channel))
    {
        if let Event::ChannelDestroyed(gone) = &event {
            seen.cause = Some((gone.cause, gone.cause_txt.clone()));
        }
        seen.kinds.push(event.kind());
    }
}

/// Places a call from the dialplan into `app` (`Stasis(app,args)` on the `;2` half of a Local
/// pair whose `;1` half waits), as a phone's call would arrive; returns the `;2` id.
async fn dial_in(h: &Harness, app: &str, args: &str) -> String {
    let outer = h.channel_id();
    let inner = h.channel_id();
    h.client
        .channels()
        .originate("Local/stasis@default")
        .extension("wait")
        .context("default")
        .variables([("ARI_APP", app), ("ARI_ARGS", args)])
        .channel_id(&outer)
        .other_channel_id(&inner)
        .await
        .expect("originate into the dialplan");
    inner
}

/// A `StasisApp` registered when `start` returns (a call placed at once is delivered); each
/// call from the dialplan carries `StasisEnd` then `ChannelDestroyed` with its cause, also when
/// it left the application alive first; handler errors (the client's refusal of an empty media
/// list and of an unknown scheme, both before sending) and panics reach `on_error` with the
/// channel.
pub async fn stasis_app(h: Harness) {
    let app_name = unique_id("arit-flow");
    let (reg_tx, mut registered) = mpsc::unbounded_channel();
    let (err_tx, mut errors) = mpsc::unbounded_channel();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = StasisApp::new(&h.client, &app_name)
        .on_registered(move |r| {
            let _ = reg_tx.send(r);
        })
        .on_error(move |e| {
            let _ = err_tx.send(e);
        })
        .start(move |mut call: Call| {
            let seen_tx = seen_tx.clone();
            async move {
                let mut seen = Seen {
                    channel: call.channel.id().to_owned(),
                    played: None,
                    kinds: Vec::new(),
                    cause: None,
                };
                let what = call.args().first().cloned().unwrap_or_default();
                call.channel.answer().await?;
                match what.as_str() {
                    "play" => {
                        let played = call.play_to_end(["sound:beep"]).await?;
                        seen.played = Some(played.state.to_string());
                        assert!(call.channel.hangup_if_present().await?);
                    }
                    "continue" => {
                        call.channel
                            .continue_in_dialplan()
                            .context("default")
                            .extension("answer-hangup")
                            .priority(1)
                            .await?;
                    }
                    "empty-media" => {
                        call.channel.play(Vec::<String>::new()).await?;
                    }
                    "bad-scheme" => {
                        call.channel.play(["file:/tmp/hello.wav"]).await?;
                    }
                    "panic" => {
                        panic!("a handler bug (expected: the test checks that on_error gets it)")
                    }
                    other => panic!("unexpected call {other:?}"),
                }
                drain(&mut call, &mut seen).await;
                let _ = seen_tx.send(seen);
                Ok::<(), ari_sdk::Error>(())
            }
        })
        .await
        .expect("start");
    let r = registered
        .try_recv()
        .expect("registered before start returned");
    assert_eq!(r.apps, std::slice::from_ref(&app_name));
    assert!(!r.reconnected);

    // Placed right after start: delivered, because the app is registered.
    for (args, what) in [("play", "done"), ("continue", "")] {
        let id = dial_in(&h, &app_name, args).await;
        let s = recv(&mut seen, "a call's report").await;
        assert_eq!(s.channel, id);
        if args == "play" {
            assert_eq!(s.played.as_deref(), Some(what), "played to the end");
        }
        let end = s.kinds.iter().position(|k| *k == EventKind::StasisEnd);
        assert!(
            end.is_some(),
            "{args}: StasisEnd on the stream: {:?}",
            s.kinds
        );
        assert_eq!(
            s.kinds.last(),
            Some(&EventKind::ChannelDestroyed),
            "{args}: the stream ends with ChannelDestroyed: {:?}",
            s.kinds
        );
        assert_eq!(s.cause, Some((16, "Normal Clearing".to_owned())), "{args}");
        if args == "continue" {
            // Left alive: its dialplan events came between StasisEnd and ChannelDestroyed.
            assert!(
                s.kinds[end.unwrap()..].contains(&EventKind::ChannelDialplan),
                "{:?}",
                s.kinds
            );
        }
    }

    for (args, needle) in [
        ("empty-media", "empty"),
        ("bad-scheme", "\"file:/tmp/hello.wav\""),
    ] {
        let id = dial_in(&h, &app_name, args).await;
        let failed = match recv(&mut errors, "a handler error").await {
            AppError::Handler(f) => f,
            other => panic!("{args}: expected a handler error, got {other}"),
        };
        assert_eq!(failed.channel_id(), id);
        assert!(!failed.is_panic());
        let e = failed
            .downcast_ref::<ari_sdk::Error>()
            .expect("the handler's ari_sdk::Error");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{args}: {e}");
        assert_eq!(e.invalid_param(), Some("media"));
        assert!(e.to_string().contains(needle), "{args}: {e}");
        // Refused before sending: the channel never got a playback, and is still up.
        let channel = h
            .client
            .channels()
            .get(&id)
            .await
            .expect("channel still up");
        assert_eq!(channel.state.as_str(), "Up");
        h.client.channels().hangup(&id).await.expect("hang up");
    }

    let id = dial_in(&h, &app_name, "panic").await;
    match recv(&mut errors, "a handler panic").await {
        AppError::Handler(f) => {
            assert_eq!(f.channel_id(), id);
            assert!(f.is_panic());
            assert!(f.to_string().contains("a handler bug"), "{f}");
        }
        other => panic!("expected a handler panic, got {other}"),
    }
    h.client.channels().hangup(&id).await.expect("hang up");

    app.stop();
    tokio::time::timeout(STEP, app.join())
        .await
        .expect("the app ends after stop")
        .expect("a stopped app ends with Ok");
}

/// `Router::originate_call` (answered: a Call; refused: `ErrorKind::Hangup` with the cause),
/// `hangup_if_present` and `destroy_if_present` (true, then false on the 404), and the call's
/// stream to `ChannelDestroyed`.
pub async fn originate_and_helpers(h: Harness) {
    let app = unique_id("arit-flow");
    let events = h
        .client
        .event_stream()
        .app(&app)
        .connect()
        .await
        .expect("events");
    let (router, _rest) = Router::with_unrouted_stream(&h.client, events).expect("router");

    let mut call = tokio::time::timeout(STEP, router.originate_call("Local/wait@default", &app))
        .await
        .expect("answered in time")
        .expect("originate_call");
    h.track_channel(call.channel.id());
    assert_eq!(call.application(), app);
    let played = call.play_to_end(["sound:beep"]).await.expect("play");
    assert_eq!(played.state.as_str(), "done");
    assert!(call.channel.hangup_if_present().await.expect("hang up"));
    let mut kinds = Vec::new();
    let mut cause = None;
    while let Some(e) = tokio::time::timeout(STEP, call.events.next())
        .await
        .expect("the call's stream ends")
    {
        if let Event::ChannelDestroyed(gone) = &e {
            cause = Some(gone.cause);
        }
        kinds.push(e.kind());
    }
    assert_eq!(
        kinds.last(),
        Some(&EventKind::ChannelDestroyed),
        "{kinds:?}"
    );
    assert!(kinds.contains(&EventKind::StasisEnd), "{kinds:?}");
    assert_eq!(cause, Some(16));
    assert!(
        !call
            .channel
            .hangup_if_present()
            .await
            .expect("second hang up"),
        "gone: false, not an error"
    );

    // Busy: the channel is destroyed before it could enter.
    let e = tokio::time::timeout(STEP, router.originate_call("Local/hangup-17@default", &app))
        .await
        .expect("refused in time")
        .expect_err("a busy far end");
    assert_eq!(e.kind(), ErrorKind::Hangup, "{e}");
    assert_eq!(e.hangup_cause().map(|(c, _)| c), Some(17), "{e}");

    // With more parameters.
    let call = router
        .originate_call_with("Local/wait@default", &app, |o| o.caller_id("Flow <321>"))
        .await
        .expect("originate_call_with");
    h.track_channel(call.channel.id());
    assert_eq!(call.start.channel.caller.number, "321");
    assert!(call.channel.hangup_if_present().await.expect("hang up"));

    let bridge = router.new_bridge();
    h.track_bridge(bridge.handle.id());
    bridge.handle.create_with_id().await.expect("bridge");
    assert!(bridge.handle.destroy_if_present().await.expect("destroy"));
    // Gone once Asterisk no longer lists it (until then Asterisk 22 may answer 409 "Bridge not
    // in Stasis application" while it tears the bridge down; no BridgeDestroyed reaches an app
    // that only created the bridge).
    let gone = async {
        while bridge.handle.get().await.is_ok() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(STEP, gone)
        .await
        .expect("the destroyed bridge disappears");
    assert!(!bridge.handle.destroy_if_present().await.expect("again"));
    router.close();
}
