//! Per-resource routing, creation that subscribes first, resync after reconnect and the Stasis
//! application helper, against a fake server serving REST and events on one port.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ari_sdk::Event;
use ari_sdk::events::{Backoff, StreamItem};
use ari_sdk::routing::{Call, Router, RouterStream, StasisApp};
use ari_sdk::{Client, EventKind};
use futures::{Stream, StreamExt};
use support::{FakeAri, Push, Reply, Seen};

/// Answers what every test needs: the server's version (so gating runs on the real release
/// tables), and 204 for anything else unless `extra` answers.
fn server_with(
    extra: impl Fn(&Seen) -> Option<Reply> + Send + Sync + 'static,
) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |req| {
        if req.path() == "/ari/asterisk/info" {
            return Reply::Json(200, r#"{"system":{"version":"20.5.0"}}"#.into());
        }
        extra(req).unwrap_or(Reply::Bytes(204, "text/plain", Vec::new()))
    }
}

fn client(server: &FakeAri) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .credentials("ari-user", "ari-secret")
        .build()
        .unwrap()
}

async fn router(server: &FakeAri) -> (Client, Router, RouterStream) {
    let c = client(server);
    let stream = c
        .event_stream()
        .app("test")
        .backoff(
            Backoff::default()
                .initial(Duration::from_millis(50))
                .jitter(0.0),
        )
        .connect()
        .await
        .unwrap();
    let (router, main) = Router::new(&c, stream).unwrap();
    (c, router, main)
}

/// Answers `POST /applications/test/subscription` as Asterisk does.
fn subscription_ok(req: &Seen) -> Option<Reply> {
    (req.path() == "/ari/applications/test/subscription").then(|| {
        Reply::Json(
            200,
            r#"{"name":"test","channel_ids":["c1"],"bridge_ids":[],"endpoint_ids":[],"device_names":[]}"#
                .into(),
        )
    })
}

async fn next_of<T>(rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("nothing within 5 s")
        .expect("sender dropped")
}

async fn next<S: Stream + Unpin>(s: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("no item within 5 s")
        .expect("stream ended")
}

async fn ends<S: Stream + Unpin>(s: &mut S) -> bool
where
    S::Item: std::fmt::Debug,
{
    match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        Ok(None) => true,
        Ok(Some(item)) => panic!("expected the end, got {item:?}"),
        Err(_) => false,
    }
}

async fn quiet<S: Stream + Unpin>(s: &mut S) -> bool {
    tokio::time::timeout(Duration::from_millis(300), s.next())
        .await
        .is_err()
}

#[tokio::test]
async fn a_call_gets_its_own_events_through_stasis_end_to_channel_destroyed() {
    support::init_tracing();
    let (seen_tx, mut seen_subscription) = tokio::sync::mpsc::unbounded_channel();
    let server = FakeAri::start(server_with(move |req| {
        let reply = subscription_ok(req);
        if reply.is_some() {
            let _ = seen_tx.send(req.target.clone());
        }
        reply
    }))
    .await;
    let (_c, router, mut main) = router(&server).await;
    let mut incoming = router.incoming();

    server.send(support::channel_event("StasisStart", "c1"));
    let mut call = next(&mut incoming).await;
    assert_eq!(call.channel.id(), "c1");
    assert_eq!(call.args(), ["a1", "a2"]);
    assert_eq!(call.application(), "test");

    server.send(support::channel_event("ChannelDtmfReceived", "c1"));
    server.send(support::channel_event("ChannelDtmfReceived", "other"));
    server.send(support::channel_event("StasisEnd", "c1"));
    server.send(support::channel_event("ChannelDestroyed", "c1"));

    let e = next(&mut call.events).await;
    assert_eq!(e.kind(), EventKind::ChannelDtmfReceived);
    match &e {
        Event::ChannelDtmfReceived(d) => assert_eq!(d.digit, "5"),
        other => panic!("{other:?}"),
    }
    assert_eq!(next(&mut call.events).await.kind(), EventKind::StasisEnd);
    match next(&mut call.events).await {
        Event::ChannelDestroyed(gone) => {
            assert_eq!(
                (gone.cause, gone.cause_txt.as_str()),
                (16, "Normal Clearing")
            )
        }
        other => panic!("expected ChannelDestroyed after StasisEnd, got {other:?}"),
    }
    assert!(
        ends(&mut call.events).await,
        "the call's stream ends after ChannelDestroyed"
    );
    // The router subscribed the application to the call's channel, which is what makes
    // Asterisk send a dialplan channel's ChannelDestroyed after StasisEnd.
    let target = next_of(&mut seen_subscription).await;
    assert!(target.contains("eventSource=channel%3Ac1"), "{target}");
    assert_eq!(server.rest.count("/ari/applications/test/subscription"), 1);

    // The main stream saw every event, in order.
    let mut kinds = Vec::new();
    for _ in 0..5 {
        match next(&mut main).await {
            StreamItem::Event(e) => kinds.push(e.kind()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        kinds,
        [
            EventKind::StasisStart,
            EventKind::ChannelDtmfReceived,
            EventKind::ChannelDtmfReceived,
            EventKind::StasisEnd,
            EventKind::ChannelDestroyed
        ]
    );
    assert_eq!(router.subscribed_resources(), 0);
}

#[tokio::test]
async fn creation_subscribes_before_the_rest_call() {
    // Asterisk may send a new channel's first events before answering the originate: the fake
    // server pushes them from inside the REST handler, before its reply.
    let pushed: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Push>>>> = Default::default();
    let pushed2 = pushed.clone();
    let server = FakeAri::start(server_with(move |req| {
        let id = req.path().strip_prefix("/ari/channels/")?.to_owned();
        if req.method != "POST" || id.contains('/') {
            return None;
        }
        let push = pushed2.lock().unwrap().clone()?;
        push.send(Push::Text(support::channel_event("StasisStart", &id)))
            .unwrap();
        push.send(Push::Text(support::channel_event(
            "ChannelDtmfReceived",
            &id,
        )))
        .unwrap();
        // Give the events time to arrive before the REST answer.
        std::thread::sleep(Duration::from_millis(100));
        Some(Reply::Json(200, support::channel(&id)))
    }))
    .await;
    *pushed.lock().unwrap() = Some(server.push.clone());
    let (_c, router, _main) = router(&server).await;

    let mut prepared = router.new_channel();
    let id = prepared.handle.id().to_owned();
    assert_eq!(id.len(), 36, "a UUID");
    let channel = prepared
        .handle
        .originate_with_id("PJSIP/alice")
        .app("test")
        .send()
        .await
        .unwrap();
    assert_eq!(channel.id, id);
    assert_eq!(
        next(&mut prepared.events).await.kind(),
        EventKind::StasisStart
    );
    assert_eq!(
        next(&mut prepared.events).await.kind(),
        EventKind::ChannelDtmfReceived
    );
    let posted = server
        .rest
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert!(posted.target.starts_with(&format!("/ari/channels/{id}?")));
}

#[tokio::test]
async fn bridges_and_playbacks_end_with_their_last_event() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let (_c, router, _main) = router(&server).await;
    let mut bridge = router.new_bridge();
    let mut playback = router.new_playback();
    let (b, p) = (
        bridge.handle.id().to_owned(),
        playback.handle.id().to_owned(),
    );
    assert_ne!(b, p);
    assert_eq!(router.subscribed_resources(), 2);

    server.send(support::bridge_event("BridgeCreated", &b));
    server.send(support::entered_bridge("c9", &b));
    server.send(support::playback_event("PlaybackStarted", &p, "c9"));
    server.send(support::playback_event("PlaybackFinished", &p, "c9"));
    server.send(support::bridge_event("BridgeDestroyed", &b));

    assert_eq!(
        next(&mut playback.events).await.kind(),
        EventKind::PlaybackStarted
    );
    assert_eq!(
        next(&mut playback.events).await.kind(),
        EventKind::PlaybackFinished
    );
    assert!(ends(&mut playback.events).await);
    let kinds: Vec<_> = bridge.events.by_ref().map(|e| e.kind()).collect().await;
    assert_eq!(
        kinds,
        [
            EventKind::BridgeCreated,
            EventKind::ChannelEnteredBridge,
            EventKind::BridgeDestroyed
        ]
    );
    assert_eq!(router.subscribed_resources(), 0);
}

#[tokio::test]
async fn dropped_subscriptions_and_unclaimed_calls_leak_nothing() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let (_c, router, mut main) = router(&server).await;
    let subs: Vec<_> = (0..100).map(|_| router.new_channel()).collect();
    let also = router.channel(subs[0].handle.id());
    assert_eq!(router.subscribed_resources(), 100);
    drop(subs);
    assert_eq!(router.subscribed_resources(), 1);
    drop(also);
    assert_eq!(router.subscribed_resources(), 0);

    // A call nobody takes: the Incoming stream is dropped, so no subscription is made.
    let incoming = router.incoming();
    drop(incoming);
    server.send(support::channel_event("StasisStart", "c1"));
    assert!(matches!(next(&mut main).await, StreamItem::Event(_)));
    assert_eq!(router.subscribed_resources(), 0);

    // A call taken and dropped by its handler unsubscribes too.
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "c2"));
    let call = next(&mut incoming).await;
    assert_eq!(router.subscribed_resources(), 1);
    drop(call);
    assert_eq!(router.subscribed_resources(), 0);
}

#[tokio::test]
async fn resync_after_reconnect_ends_streams_of_vanished_resources() {
    // After the reconnect only channel `alive` exists.
    let server = FakeAri::start(server_with(|req| match req.path() {
        "/ari/channels" => Some(Reply::Json(200, format!("[{}]", support::channel("alive")))),
        "/ari/bridges" => Some(Reply::Json(200, "[]".into())),
        p if p.starts_with("/ari/playbacks/") => Some(Reply::Json(
            404,
            r#"{"message":"Playback not found"}"#.into(),
        )),
        _ => None,
    }))
    .await;
    let (_c, router, mut main) = router(&server).await;
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "alive"));
    server.send(support::channel_event("StasisStart", "vanished"));
    let mut alive = next(&mut incoming).await;
    let mut vanished = next(&mut incoming).await;
    let mut playback = router.new_playback();
    assert_eq!(router.subscribed_resources(), 3);

    server.push.send(Push::Drop).unwrap();
    loop {
        if let StreamItem::Reconnected { attempt, .. } = next(&mut main).await {
            assert_eq!(attempt, 1);
            break;
        }
    }
    assert!(
        ends(&mut vanished.events).await,
        "vanished channel's stream ends"
    );
    assert!(
        ends(&mut playback.events).await,
        "finished playback's stream ends"
    );
    assert!(
        quiet(&mut alive.events).await,
        "live channel's stream stays open"
    );
    assert_eq!(router.subscribed_resources(), 1);
    server.send(support::channel_event("StasisEnd", "alive"));
    assert_eq!(next(&mut alive.events).await.kind(), EventKind::StasisEnd);
}

#[tokio::test]
async fn snapshot_lists_channels_and_bridges() {
    let server = FakeAri::start(server_with(|req| match req.path() {
        "/ari/channels" => Some(Reply::Json(
            200,
            format!("[{},{}]", support::channel("a"), support::channel("b")),
        )),
        "/ari/bridges" => Some(Reply::Json(200, format!("[{}]", support::bridge("x")))),
        _ => None,
    }))
    .await;
    let snap = client(&server).snapshot().await.unwrap();
    let ids: Vec<_> = snap.channels.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(snap.bridges[0].id, "x");
}

#[tokio::test]
async fn stasis_app_runs_one_handler_task_per_call() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let c = client(&server);
    let seen: Arc<Mutex<HashMap<String, Vec<EventKind>>>> = Default::default();
    let seen2 = seen.clone();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // Registered when start returns: calls sent from now on are delivered.
    let app = StasisApp::new(&c, "test")
        .start(move |mut call: Call| {
            let seen = seen2.clone();
            let done = done_tx.clone();
            async move {
                call.channel.answer().send().await?;
                let id = call.channel.id().to_owned();
                while let Some(e) = call.events.next().await {
                    seen.lock()
                        .unwrap()
                        .entry(id.clone())
                        .or_default()
                        .push(e.kind());
                }
                let _ = done.send(id);
                Ok::<(), ari_sdk::Error>(())
            }
        })
        .await
        .unwrap();
    server.send(support::channel_event("StasisStart", "c1"));
    server.send(support::channel_event("StasisStart", "c2"));
    server.send(support::channel_event("ChannelDtmfReceived", "c1"));
    server.send(support::channel_event("StasisEnd", "c1"));
    server.send(support::channel_event("ChannelDestroyed", "c1"));
    server.send(support::channel_event("StasisEnd", "c2"));
    server.send(support::channel_event("ChannelDestroyed", "c2"));

    let mut done = Vec::new();
    for _ in 0..2 {
        let id = tokio::time::timeout(Duration::from_secs(5), done_rx.recv()).await;
        done.push(id.expect("handler finished").expect("sender alive"));
    }
    done.sort();
    assert_eq!(done, ["c1", "c2"]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen["c1"],
        [
            EventKind::ChannelDtmfReceived,
            EventKind::StasisEnd,
            EventKind::ChannelDestroyed
        ]
    );
    assert_eq!(
        seen["c2"],
        [EventKind::StasisEnd, EventKind::ChannelDestroyed]
    );
    let answers: Vec<_> = server
        .rest
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path().ends_with("/answer"))
        .map(|r| r.target)
        .collect();
    assert_eq!(answers.len(), 2);
    assert!(answers.contains(&"/ari/channels/c1/answer".to_owned()));
    app.stop();
}

#[tokio::test]
async fn stasis_app_fails_fast_when_it_cannot_connect() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = Client::new(format!("http://{addr}/ari"), "u", "p").unwrap();
    let e = StasisApp::new(&c, "test")
        .run(|_call: Call| async {})
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ari_sdk::ErrorKind::Transport(ari_sdk::TransportKind::ConnectionRefused)
    );
}

#[tokio::test]
async fn events_received_before_the_router_are_routed_first_and_in_order() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let c = client(&server);
    let mut stream = c.event_stream().app("test").connect().await.unwrap();
    // Three events arrive while nobody routes yet; the first is read, two wait in the queue.
    for n in 1..=3 {
        server.send(support::channel_event(
            "ChannelDtmfReceived",
            &format!("q{n}"),
        ));
    }
    assert_eq!(channel_of(next(&mut stream).await).as_deref(), Some("q1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (router, mut main) = Router::new(&c, stream).unwrap();
    let mut q3 = router.channel("q3");
    server.send(support::channel_event("ChannelDtmfReceived", "q3"));
    server.send(support::channel_event("StasisEnd", "q3"));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(channel_of(next(&mut main).await).unwrap());
    }
    assert_eq!(seen, ["q2", "q3", "q3", "q3"]);
    // The subscription made after q3's queued event was routed sees only what came later.
    assert_eq!(
        next(&mut q3.events).await.kind(),
        EventKind::ChannelDtmfReceived
    );
    assert_eq!(next(&mut q3.events).await.kind(), EventKind::StasisEnd);
    assert!(ends(&mut q3.events).await);
}

#[tokio::test]
async fn without_the_main_stream_every_subscriber_still_gets_each_event() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let (_c, router, main) = router(&server).await;
    drop(main);
    let mut first = router.channel("c1");
    let mut second = router.channel("c1");
    let mut bridge = router.bridge("b1");
    server.send(support::entered_bridge("c1", "b1"));
    server.send(support::channel_event("ChannelDtmfReceived", "c1"));
    server.send(support::channel_event("StasisEnd", "c1"));
    for events in [&mut first.events, &mut second.events] {
        let kinds: Vec<_> = events.by_ref().map(|e| e.kind()).collect().await;
        assert_eq!(
            kinds,
            [
                EventKind::ChannelEnteredBridge,
                EventKind::ChannelDtmfReceived,
                EventKind::StasisEnd
            ]
        );
    }
    assert_eq!(
        next(&mut bridge.events).await.kind(),
        EventKind::ChannelEnteredBridge
    );
    assert!(quiet(&mut bridge.events).await);
    assert_eq!(router.subscribed_resources(), 1);
}

#[tokio::test]
async fn closing_the_router_ends_every_stream() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let (_c, router, mut main) = router(&server).await;
    let mut channel = router.channel("c1");
    let mut incoming = router.incoming();
    router.close();
    assert!(ends(&mut main).await, "main stream ends");
    assert!(ends(&mut channel.events).await, "subscription ends");
    assert!(ends(&mut incoming).await, "incoming calls end");
    assert_eq!(router.subscribed_resources(), 0);
}

/// The channel id of an event item.
fn channel_of(item: StreamItem) -> Option<String> {
    match item {
        StreamItem::Event(e) => {
            let mut id = None;
            e.visit_resources(|r| {
                if let ari_sdk::meta::ResourceRef::Channel(c) = r {
                    id.get_or_insert_with(|| c.to_owned());
                }
            });
            id
        }
        _ => None,
    }
}

#[tokio::test]
async fn the_unrouted_stream_carries_only_what_nobody_took() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let c = client(&server);
    let stream = c
        .event_stream()
        .app("test")
        .backoff(Backoff::default().initial(Duration::from_millis(50)))
        .connect()
        .await
        .unwrap();
    let (router, mut rest) = Router::with_unrouted_stream(&c, stream).unwrap();
    let mut incoming = router.incoming();
    let mut owned = router.channel("owned");

    server.send(support::channel_event("StasisStart", "call"));
    server.send(support::channel_event("ChannelDtmfReceived", "owned"));
    server.send(support::channel_event("ChannelDtmfReceived", "call"));
    server.send(support::channel_event("ChannelDtmfReceived", "nobody"));

    let mut call = next(&mut incoming).await;
    assert_eq!(call.channel.id(), "call");
    assert_eq!(call.start.channel.id, "call");
    assert_eq!(
        next(&mut call.events).await.kind(),
        EventKind::ChannelDtmfReceived
    );
    assert_eq!(
        next(&mut owned.events).await.kind(),
        EventKind::ChannelDtmfReceived
    );
    // Only the event of the channel nobody owns falls through.
    assert_eq!(channel_of(next(&mut rest).await).as_deref(), Some("nobody"));
    assert!(quiet(&mut rest).await);

    // Connection items still come through.
    server.push.send(Push::Drop).unwrap();
    loop {
        match next(&mut rest).await {
            StreamItem::Reconnected { .. } => break,
            StreamItem::Error(_) => {}
            other => panic!("expected connection items, got {other:?}"),
        }
    }
}

/// `StasisEnd` for `id` with a `timestamp` of the wrong type: it cannot decode, but it is one.
fn undecodable_end(id: &str) -> String {
    support::channel_event("StasisEnd", id).replace(
        r#""timestamp":"2024-05-01T10:00:00.000+0000""#,
        r#""timestamp":17"#,
    )
}

#[tokio::test]
async fn undecoded_events_reach_the_main_stream_and_still_end_what_they_end() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let c = client(&server);
    let stream = c.event_stream().app("test").connect().await.unwrap();
    // The unrouted mode, as StasisApp uses it: nothing a call takes is on the main stream, but
    // an undecoded event is, whatever it concerns.
    let (router, mut main) = Router::with_unrouted_stream(&c, stream).unwrap();
    // Calls that end at StasisEnd, the event made undecodable here.
    router.follow_calls(false);
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "c1"));
    let mut call = next(&mut incoming).await;
    server.send(undecodable_end("c1"));
    match next(&mut main).await {
        StreamItem::Undecoded(u) => {
            assert_eq!(u.kind(), "StasisEnd");
            assert_eq!(u.json()["channel"]["id"], "c1");
            assert_eq!(u.error().json_path(), Some("timestamp"), "{u}");
        }
        other => panic!("expected the undecoded StasisEnd, got {other:?}"),
    }
    // The call's stream ends as it would have after a typed StasisEnd.
    assert!(ends(&mut call.events).await, "the call's stream ends");
    assert_eq!(router.subscribed_resources(), 0);
    // An undecoded StasisStart makes no call, and is on the main stream.
    server.send(
        support::channel_event("StasisStart", "c2").replace(r#""args":["a1","a2"]"#, r#""args":7"#),
    );
    match next(&mut main).await {
        StreamItem::Undecoded(u) => assert_eq!(u.kind(), "StasisStart"),
        other => panic!("expected the undecoded StasisStart, got {other:?}"),
    }
    assert!(
        quiet(&mut incoming).await,
        "no call for an undecoded StasisStart"
    );
    // And the stream goes on.
    server.send(support::channel_event("StasisStart", "c3"));
    assert_eq!(next(&mut incoming).await.channel.id(), "c3");
}

#[tokio::test]
async fn stasis_app_hands_undecoded_events_to_its_callback() {
    let server = FakeAri::start(server_with(|_| None)).await;
    let c = client(&server);
    let (undecoded_tx, mut undecoded_rx) =
        tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(String, usize)>();
    let app = StasisApp::new(&c, "test")
        .follow_calls(false)
        .on_undecoded(move |u| {
            let id = u.json()["channel"]["id"].as_str().unwrap_or("").to_owned();
            let _ = undecoded_tx.send((u.kind().to_owned(), id));
        })
        .start(move |mut call: Call| {
            let done = done_tx.clone();
            async move {
                let mut n = 0;
                while call.events.next().await.is_some() {
                    n += 1;
                }
                let _ = done.send((call.channel.id().to_owned(), n));
            }
        })
        .await
        .unwrap();
    server.send(
        support::channel_event("StasisStart", "bad")
            .replace(r#""args":["a1","a2"]"#, r#""args":{}"#),
    );
    server.send(support::channel_event("StasisStart", "good"));
    server.send(support::channel_event("ChannelDtmfReceived", "good"));
    server.send(undecodable_end("good"));
    let got = tokio::time::timeout(Duration::from_secs(5), undecoded_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("StasisStart".to_owned(), "bad".to_owned()));
    let got = tokio::time::timeout(Duration::from_secs(5), undecoded_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("StasisEnd".to_owned(), "good".to_owned()));
    // The good call's handler saw its DTMF, and its stream ended with the undecoded StasisEnd.
    let done = tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done, ("good".to_owned(), 1));
    app.stop();
}

#[tokio::test]
async fn calls_not_followed_end_at_stasis_end_and_send_no_subscription() {
    let server = FakeAri::start(server_with(subscription_ok)).await;
    let (_c, router, _main) = router(&server).await;
    router.follow_calls(false);
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "c1"));
    let mut call = next(&mut incoming).await;
    server.send(support::channel_event("StasisEnd", "c1"));
    server.send(support::channel_event("ChannelDestroyed", "c1"));
    assert_eq!(next(&mut call.events).await.kind(), EventKind::StasisEnd);
    assert!(ends(&mut call.events).await);
    assert_eq!(server.rest.count("/ari/applications/test/subscription"), 0);
}

#[tokio::test]
async fn a_call_whose_channel_cannot_be_subscribed_ends_at_stasis_end() {
    // Asterisk answers 404 when the channel is gone before the subscription (or 403 for a
    // read-only user): no ChannelDestroyed will come, so the stream must not wait for one.
    let server = FakeAri::start(server_with(|req| {
        (req.path() == "/ari/applications/test/subscription")
            .then(|| Reply::Json(404, r#"{"message":"Channel not found"}"#.into()))
    }))
    .await;
    let (_c, router, _main) = router(&server).await;
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "c1"));
    let mut call = next(&mut incoming).await;
    server.send(support::channel_event("StasisEnd", "c1"));
    assert_eq!(next(&mut call.events).await.kind(), EventKind::StasisEnd);
    assert!(
        ends(&mut call.events).await,
        "without the subscription the stream ends after StasisEnd"
    );
    assert_eq!(server.rest.count("/ari/applications/test/subscription"), 1);
    assert_eq!(router.subscribed_resources(), 0);
}

#[tokio::test]
async fn a_channel_that_enters_again_is_a_new_call() {
    let server = FakeAri::start(server_with(subscription_ok)).await;
    let (_c, router, _main) = router(&server).await;
    let mut incoming = router.incoming();
    server.send(support::channel_event("StasisStart", "c1"));
    let mut first = next(&mut incoming).await;
    server.send(support::channel_event("StasisEnd", "c1"));
    assert_eq!(next(&mut first.events).await.kind(), EventKind::StasisEnd);
    // Left alive (continue, move): its dialplan events still reach the first call's stream.
    server.send(support::channel_event("ChannelStateChange", "c1"));
    assert_eq!(
        next(&mut first.events).await.kind(),
        EventKind::ChannelStateChange
    );
    // Back in the application: the first stream ends, and a new call starts.
    server.send(support::channel_event("StasisStart", "c1"));
    let mut second = next(&mut incoming).await;
    assert!(ends(&mut first.events).await);
    server.send(support::channel_event("ChannelDtmfReceived", "c1"));
    assert_eq!(
        next(&mut second.events).await.kind(),
        EventKind::ChannelDtmfReceived
    );
}

#[tokio::test]
async fn stasis_app_start_returns_registered_and_hands_failures_to_the_app() {
    let server = FakeAri::start(server_with(|req| {
        (req.path() == "/ari/channels/fails/answer")
            .then(|| Reply::Json(404, r#"{"message":"Channel not found"}"#.into()))
    }))
    .await;
    let c = client(&server);
    let (registered_tx, mut registered) = tokio::sync::mpsc::unbounded_channel();
    let (errors_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    let app = StasisApp::new(&c, "test")
        .on_registered(move |r| {
            let _ = registered_tx.send(r);
        })
        .on_error(move |e| {
            let _ = errors_tx.send(e);
        })
        .start(|call: Call| async move {
            if call.channel.id() == "panics" {
                panic!("handler bug");
            }
            call.channel.answer().await
        })
        .await
        .unwrap();
    // Registered when start returns: the events connection is open, the hook has run.
    assert_eq!(
        server
            .ws_connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let r = registered
        .try_recv()
        .expect("on_registered ran before start returned");
    assert_eq!(r.apps, ["test"]);
    assert!(!r.reconnected);

    server.send(support::channel_event("StasisStart", "fails"));
    let failed = match tokio::time::timeout(Duration::from_secs(5), errors.recv()).await {
        Ok(Some(ari_sdk::routing::AppError::Handler(h))) => h,
        other => panic!("expected a handler error, got {other:?}"),
    };
    assert_eq!(failed.channel_id(), "fails");
    assert!(!failed.is_panic());
    let e = failed
        .downcast_ref::<ari_sdk::Error>()
        .expect("the handler's own error");
    assert_eq!(e.status(), Some(404));
    assert!(failed.to_string().contains("channel fails"), "{failed}");

    server.send(support::channel_event("StasisStart", "panics"));
    let panicked = match tokio::time::timeout(Duration::from_secs(5), errors.recv()).await {
        Ok(Some(ari_sdk::routing::AppError::Handler(h))) => h,
        other => panic!("expected a handler panic, got {other:?}"),
    };
    assert_eq!(panicked.channel_id(), "panics");
    assert!(panicked.is_panic());
    assert!(panicked.to_string().contains("handler bug"), "{panicked}");

    app.stop();
    tokio::time::timeout(Duration::from_secs(5), app.join())
        .await
        .expect("the app ends after stop")
        .expect("a stopped app ends with Ok");
}
