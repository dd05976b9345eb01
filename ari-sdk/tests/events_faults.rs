//! Events connection fault tests against an in-process tokio-tungstenite server: the server
//! closing the socket, a 5 s outage, 401 on upgrade, malformed frames, a silent (dead) peer,
//! clean shutdown.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ari_sdk::events::{Backoff, ConnectionState, EventStream, StreamItem};
use ari_sdk::meta::ResourceRef;
use ari_sdk::{Client, ErrorKind, TransportKind};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

type Script =
    Arc<dyn Fn(usize, WebSocketStream<TcpStream>) -> BoxFuture<'static, ()> + Send + Sync>;

/// What the fake events server saw of each upgrade request.
#[derive(Clone, Debug)]
struct Upgrade {
    uri: String,
    authorization: Option<String>,
}

#[derive(Clone, Default)]
struct Seen {
    attempts: Arc<AtomicUsize>,
    upgrades: Arc<Mutex<Vec<Upgrade>>>,
}

impl Seen {
    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

/// Serves WebSocket upgrades on `listener`: answers `reject` instead when set, otherwise runs
/// `script` with the connection's index (0 for the first accepted upgrade).
fn serve(listener: TcpListener, seen: Seen, reject: Option<u16>, script: Script) {
    tokio::spawn(async move {
        let accepted = Arc::new(AtomicUsize::new(0));
        while let Ok((sock, _)) = listener.accept().await {
            let seen = seen.clone();
            let script = script.clone();
            let accepted = accepted.clone();
            tokio::spawn(async move {
                seen.attempts.fetch_add(1, Ordering::SeqCst);
                let upgrades = seen.upgrades.clone();
                // The callback's signature is tungstenite's; its large error type is not ours.
                #[allow(clippy::result_large_err)]
                let callback = move |req: &Request, resp: Response| {
                    upgrades.lock().unwrap().push(Upgrade {
                        uri: req.uri().to_string(),
                        authorization: req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    });
                    match reject {
                        None => Ok(resp),
                        Some(status) => {
                            let mut e = ErrorResponse::new(Some(
                                r#"{"message":"Authentication required"}"#.to_owned(),
                            ));
                            *e.status_mut() = status.try_into().unwrap();
                            Err(e)
                        }
                    }
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async(sock, callback).await {
                    let n = accepted.fetch_add(1, Ordering::SeqCst);
                    script(n, ws).await;
                }
            });
        }
    });
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn client(addr: SocketAddr) -> Client {
    Client::builder()
        .base_url(format!("http://{addr}/ari"))
        .credentials("ari-user", "ari-secret")
        .release_gating(false)
        .build()
        .unwrap()
}

/// The events stream of app `test`, connected.
async fn connected(addr: SocketAddr) -> EventStream {
    client(addr)
        .event_stream()
        .app("test")
        .connect()
        .await
        .unwrap()
}

fn fast() -> Backoff {
    Backoff::default()
        .initial(Duration::from_millis(50))
        .max(Duration::from_millis(500))
        .jitter(0.0)
}

async fn next(stream: &mut EventStream) -> StreamItem {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no item within 10 s")
        .expect("stream ended")
}

fn channel_id(item: &StreamItem) -> Option<String> {
    let StreamItem::Event(event) = item else {
        return None;
    };
    let mut id = None;
    event.visit_resources(|r| {
        if let ResourceRef::Channel(c) = r {
            id = Some(c.to_owned());
        }
    });
    id
}

async fn hold() {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[tokio::test]
async fn server_closing_the_socket_gives_an_error_then_reconnected() {
    support::init_tracing();
    let (l, addr) = listener().await;
    let seen = Seen::default();
    serve(
        l,
        seen.clone(),
        None,
        Arc::new(|n, mut ws| {
            Box::pin(async move {
                let _ = ws
                    .send(Message::text(support::event("StasisStart", n as u32)))
                    .await;
                if n == 0 {
                    // Drop the TCP connection without a Close frame, as a crash would.
                    drop(ws);
                } else {
                    hold().await;
                }
            })
        }),
    );
    let mut s = client(addr)
        .event_stream()
        .app("test")
        .app("other")
        .subscribe_all(true)
        .backoff(fast())
        .connect()
        .await
        .unwrap();

    let first = next(&mut s).await;
    assert_eq!(channel_id(&first).as_deref(), Some("chan-0"));
    match next(&mut s).await {
        StreamItem::Error(e) => assert_eq!(
            e.kind(),
            ErrorKind::Transport(TransportKind::ConnectionReset),
            "{e}"
        ),
        other => panic!("expected the loss as an error item, got {other:?}"),
    }
    match next(&mut s).await {
        StreamItem::Reconnected { attempt, downtime } => {
            assert_eq!(attempt, 1);
            assert!(downtime < Duration::from_secs(2), "{downtime:?}");
        }
        other => panic!("expected Reconnected, got {other:?}"),
    }
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-1"));

    let ups = seen.upgrades.lock().unwrap().clone();
    assert_eq!(ups.len(), 2);
    for u in &ups {
        assert_eq!(u.uri, "/ari/events?app=test,other&subscribeAll=true");
        assert_eq!(
            u.authorization.as_deref(),
            Some("Basic YXJpLXVzZXI6YXJpLXNlY3JldA==")
        );
        assert!(!u.uri.contains("api_key"));
    }
}

// Paused time: the outage, the backoff and the downtime are on tokio's clock, which moves only
// when every task waits, so no assertion races the machine's clock.
#[tokio::test(start_paused = true)]
async fn five_second_outage_backs_off_then_reconnects() {
    let (l, addr) = listener().await;
    let seen = Seen::default();
    let script: Script = Arc::new(|n, mut ws| {
        Box::pin(async move {
            let _ = ws
                .send(Message::text(support::event("StasisStart", n as u32)))
                .await;
            hold().await;
        })
    });
    // First life of the server: one upgrade and one event; aborting the task later drops the
    // listener and the connection together, as a crash or restart would.
    let server = tokio::spawn({
        let seen = seen.clone();
        async move {
            let (sock, _) = l.accept().await.unwrap();
            seen.attempts.fetch_add(1, Ordering::SeqCst);
            let mut ws = tokio_tungstenite::accept_async(sock).await.unwrap();
            ws.send(Message::text(support::event("StasisStart", 0)))
                .await
                .unwrap();
            hold().await;
        }
    });
    let backoff = Backoff::default()
        .initial(Duration::from_millis(100))
        .max(Duration::from_secs(1))
        .jitter(0.0);
    let mut s = client(addr)
        .event_stream()
        .app("test")
        .backoff(backoff)
        .connect()
        .await
        .unwrap();
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-0"));

    // Take the server down for 5 s.
    server.abort();
    let outage_started = tokio::time::Instant::now();
    let restart = tokio::spawn({
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let l = TcpListener::bind(addr).await.unwrap();
            serve(l, seen, None, script);
        }
    });

    let mut refused = 0;
    let reconnected = loop {
        match next(&mut s).await {
            StreamItem::Error(e) => {
                if e.kind() == ErrorKind::Transport(TransportKind::ConnectionRefused) {
                    refused += 1;
                }
            }
            StreamItem::Reconnected { attempt, downtime } => break (attempt, downtime),
            other => panic!("no event expected during the outage: {other:?}"),
        }
    };
    restart.await.unwrap();
    let (attempt, downtime) = reconnected;
    assert!(downtime >= Duration::from_secs(5), "{downtime:?}");
    assert!(outage_started.elapsed() >= Duration::from_secs(5));
    // 0.1 + 0.2 + 0.4 + 0.8 + 1 + 1 + ... s: about 8 attempts in 5 s, never a storm.
    assert!((4..=12).contains(&refused), "refused {refused} times");
    assert_eq!(attempt as usize, refused + 1);
    // The new server's first connection is index 0 of its own script.
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-0"));
}

#[tokio::test]
async fn unauthorized_upgrade_ends_the_stream_without_retrying() {
    let (l, addr) = listener().await;
    let seen = Seen::default();
    serve(
        l,
        seen.clone(),
        Some(401),
        Arc::new(|_, _| Box::pin(async {})),
    );

    let e = client(addr)
        .event_stream()
        .app("test")
        .backoff(fast())
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.asterisk_message(), Some("Authentication required"));
    assert!(
        e.to_string().starts_with(&format!(
            "events.eventWebsocket (GET ws://{addr}/ari/events): 401"
        )),
        "{e}"
    );
    assert_eq!(seen.attempts(), 1);

    // The same through `start()`: one error item, then the end of the stream.
    let mut s = client(addr)
        .event_stream()
        .app("test")
        .backoff(fast())
        .start()
        .unwrap();
    match next(&mut s).await {
        StreamItem::Error(e) => assert_eq!(e.kind(), ErrorKind::Unauthorized),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
    assert!(matches!(end, Ok(None)), "stream should end");
    assert_eq!(s.state(), ConnectionState::Closed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.attempts(), 2, "no retry after 401");
}

#[tokio::test]
async fn malformed_frames_are_error_items_and_the_stream_goes_on() {
    let (l, addr) = listener().await;
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(|_, mut ws| {
            Box::pin(async move {
                let _ = ws.send(Message::text("{\"type\": \"StasisStart\", ")).await;
                let _ = ws.send(Message::binary(vec![1u8, 2, 3])).await;
                let _ = ws.send(Message::text(support::event("StasisEnd", 7))).await;
                hold().await;
            })
        }),
    );
    let mut s = connected(addr).await;
    match next(&mut s).await {
        StreamItem::Error(e) => {
            assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
            assert!(e.excerpt().unwrap().contains("StasisStart"), "{e}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    match next(&mut s).await {
        StreamItem::Error(e) => assert_eq!(e.kind(), ErrorKind::WebSocket, "{e}"),
        other => panic!("expected a websocket error, got {other:?}"),
    }
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-7"));
    assert_eq!(s.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn silent_server_is_taken_for_dead_and_replaced() {
    let (l, addr) = listener().await;
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(|n, mut ws| {
            Box::pin(async move {
                if n == 0 {
                    // Hold the socket but never read it: no pong, no frame.
                    hold().await;
                    drop(ws);
                } else {
                    let _ = ws
                        .send(Message::text(support::event("StasisStart", 1)))
                        .await;
                    // Keep reading so that pings get their pongs.
                    while let Some(Ok(_)) = ws.next().await {}
                }
            })
        }),
    );
    let mut s = client(addr)
        .event_stream()
        .app("test")
        .backoff(fast())
        .ping_interval(Duration::from_millis(100))
        .idle_timeout(Duration::from_millis(400))
        .connect()
        .await
        .unwrap();
    // Real time here (the healthy connection below needs its pongs to arrive in time); the
    // error says which timeout fired, rather than the test timing it.
    match next(&mut s).await {
        StreamItem::Error(e) => {
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
            assert!(e.to_string().contains("after 400ms"), "{e}");
            assert!(e.to_string().contains("no frame from the server"), "{e}");
        }
        other => panic!("expected a dead-connection timeout, got {other:?}"),
    }
    assert!(matches!(
        next(&mut s).await,
        StreamItem::Reconnected { attempt: 1, .. }
    ));
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-1"));
    // The live server answers pings, so the connection stays up well past the idle timeout.
    let quiet = tokio::time::timeout(Duration::from_millis(1000), s.next()).await;
    assert!(
        quiet.is_err(),
        "no item expected from a healthy connection: {quiet:?}"
    );
    assert_eq!(s.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn close_sends_a_close_frame_and_ends_the_stream() {
    let (l, addr) = listener().await;
    let got_close = Arc::new(AtomicUsize::new(0));
    let got_close2 = got_close.clone();
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(move |_, mut ws| {
            let got_close = got_close2.clone();
            Box::pin(async move {
                let _ = ws
                    .send(Message::text(support::event("StasisStart", 1)))
                    .await;
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_close() {
                        got_close.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        }),
    );
    let mut s = connected(addr).await;
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-1"));
    s.close_handle().close();
    let end = tokio::time::timeout(Duration::from_secs(3), s.next()).await;
    assert!(matches!(end, Ok(None)), "stream should end after close");
    assert_eq!(s.state(), ConnectionState::Closed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(got_close.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dropping_the_stream_disconnects() {
    let (l, addr) = listener().await;
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let ended_tx = Arc::new(Mutex::new(Some(ended_tx)));
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(move |_, mut ws| {
            let ended_tx = ended_tx.clone();
            Box::pin(async move {
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_close() {
                        break;
                    }
                }
                if let Some(tx) = ended_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            })
        }),
    );
    let s = connected(addr).await;
    drop(s);
    tokio::time::timeout(Duration::from_secs(3), ended_rx)
        .await
        .expect("server should see the connection end")
        .unwrap();
}

#[tokio::test]
async fn failed_attempts_are_items_and_max_attempts_ends_the_stream() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = client(addr)
        .event_stream()
        .app("test")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Transport(TransportKind::ConnectionRefused)
    );

    let mut s = client(addr)
        .event_stream()
        .app("test")
        .backoff(fast().max_attempts(Some(3)))
        .start()
        .unwrap();
    let mut items = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        items.push(item);
    }
    let kinds: Vec<_> = items
        .iter()
        .map(|i| match i {
            StreamItem::Error(e) => e.kind(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let refused = ErrorKind::Transport(TransportKind::ConnectionRefused);
    assert_eq!(kinds, [refused, refused, refused, ErrorKind::Closed]);
    assert_eq!(s.state(), ConnectionState::Closed);
}

#[tokio::test]
async fn accept_then_drop_server_gets_backoff_not_a_storm() {
    let (l, addr) = listener().await;
    let seen = Seen::default();
    serve(
        l,
        seen.clone(),
        None,
        Arc::new(|_, ws| Box::pin(async move { drop(ws) })),
    );
    let backoff = Backoff::default()
        .initial(Duration::from_millis(100))
        .max(Duration::from_secs(1))
        .jitter(0.0);
    let s = client(addr)
        .event_stream()
        .app("test")
        .backoff(backoff)
        .start()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // 0 + 0.1 + 0.2 + 0.4 s of delays fit in 1 s: about 4 connections, not hundreds.
    let n = seen.attempts();
    assert!((2..=6).contains(&n), "{n} connections in 1 s");
    drop(s);
}

#[tokio::test]
async fn start_needs_an_app_and_a_runtime() {
    let c = client("127.0.0.1:9".parse().unwrap());
    assert_eq!(
        c.event_stream().start().unwrap_err().kind(),
        ErrorKind::Config
    );
    let e = std::thread::spawn(move || c.event_stream().app("x").start().map(|_| ()))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn unknown_event_types_are_values_not_errors() {
    let (l, addr) = listener().await;
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(|_, mut ws| {
            Box::pin(async move {
                let future = r#"{"type":"SomethingNew","application":"test","widget":{"id":"w1"}}"#;
                let _ = ws.send(Message::text(future)).await;
                let _ = ws
                    .send(Message::text(support::event("StasisStart", 3)))
                    .await;
                hold().await;
            })
        }),
    );
    let mut s = connected(addr).await;
    match next(&mut s).await {
        StreamItem::Event(ari_sdk::Event::Unknown { kind, raw }) => {
            assert_eq!(kind, "SomethingNew");
            assert_eq!(raw["widget"]["id"], "w1");
        }
        other => panic!("expected Event::Unknown, got {other:?}"),
    }
    match next(&mut s).await {
        StreamItem::Event(ari_sdk::Event::StasisStart(e)) => {
            assert_eq!(e.channel.id, "chan-3");
            assert_eq!(e.args, ["a1", "a2"]);
        }
        other => panic!("expected StasisStart, got {other:?}"),
    }

    // The same frames, as raw JSON values.
    let mut raw = client(addr)
        .event_stream()
        .app("test")
        .connect_as::<serde_json::Value>()
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), raw.next())
        .await
        .unwrap();
    match first {
        Some(StreamItem::Event(v)) => assert_eq!(v["type"], "SomethingNew"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn frames_larger_than_the_read_buffer_and_bursts_arrive_whole_and_in_order() {
    // The reader takes 16 KiB per socket read: a 200 KB event spans many reads, and a burst of
    // small events shares reads.
    let big_value = "x".repeat(200_000);
    let big = format!(
        r#"{{"type":"ChannelVarset","variable":"BIG","value":"{big_value}","timestamp":"2026-11-22T06:00:00.000+0000","application":"test"}}"#
    );
    let (l, addr) = listener().await;
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(move |_, mut ws| {
            let big = big.clone();
            Box::pin(async move {
                let _ = ws
                    .send(Message::text(support::event("StasisStart", 1)))
                    .await;
                let _ = ws.send(Message::text(big)).await;
                for n in 2..=200 {
                    let _ = ws
                        .feed(Message::text(support::event("StasisStart", n)))
                        .await;
                }
                let _ = ws.flush().await;
                hold().await;
            })
        }),
    );
    let mut s = connected(addr).await;
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-1"));
    match next(&mut s).await {
        StreamItem::Event(ari_sdk::Event::ChannelVarset(v)) => {
            assert_eq!(v.variable, "BIG");
            assert_eq!(v.value.len(), 200_000);
        }
        other => panic!("expected the large ChannelVarset, got {other:?}"),
    }
    for n in 2..=200 {
        let expected = format!("chan-{n}");
        assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some(&*expected));
    }
}

#[tokio::test]
async fn an_event_that_fails_typed_decoding_is_an_item_with_its_type_json_and_error() {
    let (l, addr) = listener().await;
    // A StasisStart without the `channel` every revision requires, and a ChannelDtmfReceived
    // whose `digit` changed type; both between good events, and a frame that is no event.
    let missing = support::event("StasisStart", 1)
        .replace(&format!(r#","channel":{}"#, support::channel("chan-1")), "");
    let changed =
        support::event("ChannelDtmfReceived", 2).replace(r#""digit":"5""#, r#""digit":5"#);
    let frames = vec![
        support::event("StasisStart", 0),
        missing.clone(),
        changed.clone(),
        "[1,2]".to_owned(),
        support::event("StasisEnd", 3),
    ];
    serve(
        l,
        Seen::default(),
        None,
        Arc::new(move |_, mut ws| {
            let frames = frames.clone();
            Box::pin(async move {
                for f in frames {
                    let _ = ws.send(Message::text(f)).await;
                }
                hold().await;
            })
        }),
    );
    let mut s = connected(addr).await;
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-0"));
    match next(&mut s).await {
        StreamItem::Undecoded(u) => {
            assert_eq!(u.kind(), "StasisStart");
            assert_eq!(u.application(), Some("test"));
            assert_eq!(u.raw(), missing);
            assert_eq!(u.json()["args"][1], "a2");
            assert_eq!(u.error().kind(), ErrorKind::Decode);
            assert!(
                u.error().to_string().contains("missing field `channel`"),
                "{u}"
            );
            // The app can still read it its own way.
            let args: serde_json::Value = u.decode_as().unwrap();
            assert_eq!(args["type"], "StasisStart");
        }
        other => panic!("expected an undecoded StasisStart, got {other:?}"),
    }
    match next(&mut s).await {
        StreamItem::Undecoded(u) => {
            assert_eq!(u.kind(), "ChannelDtmfReceived");
            assert_eq!(u.error().json_path(), Some("digit"), "{u}");
            assert!(u.error().excerpt().unwrap().contains(r#""digit":5"#), "{u}");
            assert!(u.raw().contains(r#""digit":5"#));
        }
        other => panic!("expected an undecoded ChannelDtmfReceived, got {other:?}"),
    }
    match next(&mut s).await {
        StreamItem::Error(e) => assert_eq!(e.kind(), ErrorKind::Decode, "{e}"),
        other => panic!("a frame that is no event is an error, got {other:?}"),
    }
    assert_eq!(channel_id(&next(&mut s).await).as_deref(), Some("chan-3"));
    assert_eq!(s.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn an_events_url_that_is_not_an_ari_root_fails_at_once_and_says_so() {
    // A plain HTTP server (no WebSocket) that answers every path with an HTML 404 page.
    let web = support::RestServer::start(|_| {
        support::Reply::Bytes(404, "text/html", b"<html>Not Found</html>".to_vec())
    })
    .await;
    let at = web.addr;
    let c = Client::builder()
        .base_url(format!("http://{at}"))
        .credentials("ari-user", "ari-secret")
        .release_gating(false)
        .build()
        .unwrap();
    let e = c.event_stream().app("test").connect().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}");
    assert_eq!(e.server(), Some(at.to_string().as_str()));
    assert_eq!(e.url_path(), Some("/events"));
    assert!(
        e.to_string().starts_with(&format!(
            "events.eventWebsocket (GET ws://{at}/events): 404 Not Found: the server answered with text/html"
        )),
        "{e}"
    );
    assert!(!e.to_string().contains("ari-secret"));
    // Through `start()`: one error item and the end, no retries.
    let mut s = c
        .event_stream()
        .app("test")
        .backoff(fast())
        .start()
        .unwrap();
    match next(&mut s).await {
        StreamItem::Error(e) => assert_eq!(e.kind(), ErrorKind::NotAriRoot, "{e}"),
        other => panic!("expected NotAriRoot, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
    assert!(matches!(end, Ok(None)), "stream should end");
    assert_eq!(web.requests().len(), 2);
}

/// Against the real servers: a stream decoded as a type the server's events do not fit gives
/// each of them as an `Undecoded` item, in order, with its type and JSON, and goes on.
#[tokio::test]
async fn real_servers_events_that_do_not_fit_arrive_undecoded_and_in_order() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Strict {
        #[serde(rename = "type")]
        kind: String,
        a_field_no_server_sends: String,
    }
    for major in ari_test_env::MAJORS {
        let Some(server) = ari_test_env::server_or_skip(major, "real undecoded") else {
            continue;
        };
        let c = Client::new(&server.url, server.user, server.password).unwrap();
        let app = ari_test_env::unique_name("runtime-undecoded");
        let mut s = c
            .event_stream()
            .app(&app)
            .connect_as::<Strict>()
            .await
            .unwrap();
        for n in 0..3 {
            c.events()
                .user_event(format!("probe{n}"), app.clone())
                .send()
                .await
                .unwrap();
        }
        for n in 0..3 {
            let item = tokio::time::timeout(Duration::from_secs(10), s.next())
                .await
                .expect("an item within 10 s")
                .expect("the stream goes on");
            match item {
                StreamItem::Undecoded(u) => {
                    assert_eq!(u.kind(), "ChannelUserevent", "{major}: {u}");
                    assert_eq!(u.application(), Some(app.as_str()));
                    assert_eq!(u.json()["eventname"], format!("probe{n}"), "{major}");
                    assert!(
                        u.error().to_string().contains("a_field_no_server_sends"),
                        "{major}: {u}"
                    );
                }
                other => panic!("{major}: expected an undecoded event, got {other:?}"),
            }
        }
        s.close();
    }
}
