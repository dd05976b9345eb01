//! REST over the events WebSocket against an in-process fake Asterisk: correlation of concurrent
//! requests, a socket dropped with 50 requests in flight, an unknown `request_id`, a 400 with an
//! empty `request_id`, a body that is not JSON, a server past the timeout, requests after a
//! reconnect, binary calls over HTTP, `RESTResponse` events kept out of the stream, refusal on a
//! release without the carrier.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ari_sdk::events::{Backoff, EventStream, StreamItem};
use ari_sdk::{Client, ErrorKind, Release, TransportKind, UnsupportedItem};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A request frame as the fake server got it, with the means to answer on its socket.
struct Got {
    conn: usize,
    frame: Value,
    answer: mpsc::UnboundedSender<Cmd>,
}

enum Cmd {
    Text(String),
    Drop,
}

impl Got {
    fn id(&self) -> &str {
        self.frame["request_id"].as_str().unwrap_or("")
    }

    fn send(&self, text: String) {
        let _ = self.answer.send(Cmd::Text(text));
    }

    /// Answers with `status` and a JSON body, double-encoded as Asterisk does.
    fn reply(&self, status: u16, body: Option<Value>) {
        let mut r = json!({
            "type": "RESTResponse",
            "transaction_id": self.frame["transaction_id"],
            "request_id": self.id(),
            "status_code": status,
            "reason_phrase": "X",
            "uri": self.frame["uri"],
        });
        if let Some(b) = body {
            r["content_type"] = json!("application/json");
            r["message_body"] = json!(b.to_string());
        }
        self.send(r.to_string());
    }
}

/// The fake: WebSocket upgrades become sockets whose frames reach the test; plain HTTP requests
/// get a small binary body (a stored recording) and are counted.
struct Fake {
    addr: SocketAddr,
    frames: mpsc::UnboundedReceiver<Got>,
    connections: Arc<AtomicUsize>,
    http_paths: Arc<Mutex<Vec<String>>>,
    /// The latest socket's command queue, to push events or drop it.
    latest: Arc<Mutex<Option<mpsc::UnboundedSender<Cmd>>>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, frames) = mpsc::unbounded_channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let http_paths = Arc::new(Mutex::new(Vec::new()));
        let latest = Arc::new(Mutex::new(None));
        let (c, h, l) = (connections.clone(), http_paths.clone(), latest.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (tx, c, h, l) = (tx.clone(), c.clone(), h.clone(), l.clone());
                tokio::spawn(async move {
                    if is_upgrade(&sock).await {
                        let n = c.fetch_add(1, Ordering::SeqCst);
                        serve_ws(sock, n, tx, l).await;
                    } else {
                        serve_binary(sock, h).await;
                    }
                });
            }
        });
        Fake {
            addr,
            frames,
            connections,
            http_paths,
            latest,
        }
    }

    fn client(&self) -> Client {
        Client::builder()
            .base_url(format!("http://{}/ari", self.addr))
            .credentials("ari-user", "ari-secret")
            .server_release(Release::new(22, 10, 1))
            .request_timeout(Some(Duration::from_secs(10)))
            .build()
            .unwrap()
    }

    async fn next(&mut self) -> Got {
        tokio::time::timeout(Duration::from_secs(10), self.frames.recv())
            .await
            .expect("no request frame within 10 s")
            .expect("server gone")
    }

    fn push(&self, text: String) {
        if let Some(q) = &*self.latest.lock().unwrap() {
            let _ = q.send(Cmd::Text(text));
        }
    }

    fn drop_socket(&self) {
        if let Some(q) = &*self.latest.lock().unwrap() {
            let _ = q.send(Cmd::Drop);
        }
    }
}

async fn is_upgrade(sock: &TcpStream) -> bool {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match sock.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        if head.contains("\r\n\r\n") || n == buf.len() {
            return head.contains("upgrade: websocket");
        }
        tokio::task::yield_now().await;
    }
}

async fn serve_ws(
    sock: TcpStream,
    n: usize,
    frames: mpsc::UnboundedSender<Got>,
    latest: Arc<Mutex<Option<mpsc::UnboundedSender<Cmd>>>>,
) {
    let Ok(ws) = tokio_tungstenite::accept_async(sock).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    *latest.lock().unwrap() = Some(cmd_tx.clone());
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let frame: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    let _ = frames.send(Got { conn: n, frame, answer: cmd_tx.clone() });
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(Cmd::Text(t)) => {
                    if sink.send(Message::text(t)).await.is_err() {
                        return;
                    }
                }
                // Drop the TCP connection without a Close frame.
                Some(Cmd::Drop) | None => return,
            },
        }
    }
}

/// Answers any HTTP request with a few bytes of audio-like data, as Asterisk serves a stored
/// recording's file.
async fn serve_binary(mut sock: TcpStream, paths: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
    paths.lock().unwrap().push(target);
    let body = b"RIFF\x00\x01\x02";
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(reply.as_bytes()).await;
    let _ = sock.write_all(body).await;
}

fn fast() -> Backoff {
    Backoff::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(100))
        .jitter(0.0)
}

async fn stream_with_rest(client: &Client) -> (EventStream, Client) {
    let s = client
        .event_stream()
        .app("test")
        .backoff(fast())
        .rest_over_websocket(true)
        .connect()
        .await
        .unwrap();
    let rest = s.rest_client().expect("REST over WebSocket was enabled");
    (s, rest)
}

fn bridge(id: &str) -> Value {
    json!({"id": id, "technology": "simple_bridge", "bridge_type": "mixing",
           "bridge_class": "stasis", "creator": "test", "name": "", "channels": [],
           "creationtime": "2026-01-01T00:00:00.000+0000", "video_mode": "none"})
}

#[tokio::test]
async fn requests_carry_method_uri_query_and_a_double_encoded_body() {
    let mut fake = Fake::start().await;
    let (_s, rest) = stream_with_rest(&fake.client()).await;
    assert_eq!(rest.carrier_name(), "websocket");
    let call = tokio::spawn({
        let rest = rest.clone();
        async move {
            rest.channels()
                .set_channel_var("chan 1/x", "MY VAR")
                .value("a&b")
                .send()
                .await
        }
    });
    let got = fake.next().await;
    assert_eq!(got.frame["type"], "RESTRequest");
    assert_eq!(got.frame["method"], "POST");
    assert_eq!(
        got.frame["uri"], "channels/chan%201%2Fx/variable?variable=MY+VAR&value=a%26b",
        "{}",
        got.frame
    );
    assert!(!got.id().is_empty());
    assert_eq!(got.frame["transaction_id"], got.frame["request_id"]);
    assert!(got.frame.get("message_body").is_none());
    got.reply(204, None);
    call.await.unwrap().unwrap();

    // A JSON body travels as a string holding the JSON text, with its content type.
    let call = tokio::spawn({
        let rest = rest.clone();
        async move {
            rest.channels()
                .originate("PJSIP/x")
                .app("test")
                .variables([("A", "1")])
                .send()
                .await
        }
    });
    let got = fake.next().await;
    assert_eq!(got.frame["content_type"], "application/json");
    let body = got.frame["message_body"]
        .as_str()
        .expect("body is a string");
    let inner: Value = serde_json::from_str(body).unwrap();
    assert_eq!(inner, json!({"variables": {"A": "1"}}));
    got.reply(400, Some(json!({"message": "Endpoint must be specified"})));
    let e = call.await.unwrap().unwrap_err();
    // The same error kinds as over HTTP: status, Asterisk's message, the documented reason.
    assert_eq!(e.kind(), ErrorKind::Http);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.asterisk_message(), Some("Endpoint must be specified"));
    assert!(e.documented_reason().is_some(), "{e}");
}

#[tokio::test]
async fn concurrent_requests_are_matched_to_their_answers_in_any_order() {
    let mut fake = Fake::start().await;
    let (_s, rest) = stream_with_rest(&fake.client()).await;
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let rest = rest.clone();
            tokio::spawn(async move { rest.bridges().get(format!("b{i}")).send().await })
        })
        .collect();
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(fake.next().await);
    }
    // Answer in reverse order; each answer names the bridge its request asked for.
    for g in got.iter().rev() {
        let uri = g.frame["uri"].as_str().unwrap().to_owned();
        let id = uri.trim_start_matches("bridges/");
        g.reply(200, Some(bridge(id)));
    }
    for (i, c) in calls.into_iter().enumerate() {
        let b = c.await.unwrap().unwrap();
        assert_eq!(b.id, format!("b{i}"));
    }
}

#[tokio::test]
async fn dropped_socket_fails_fifty_in_flight_at_once_and_later_calls_use_the_new_socket() {
    let mut fake = Fake::start().await;
    let (mut s, rest) = stream_with_rest(&fake.client()).await;
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let rest = rest.clone();
            tokio::spawn(async move { rest.bridges().get(format!("b{i}")).send().await })
        })
        .collect();
    let mut got = Vec::new();
    for _ in 0..50 {
        got.push(fake.next().await);
    }
    fake.drop_socket();
    // Every call fails with a transient transport error, without waiting for its timeout (10 s;
    // the 10 s limit of the `timeout` below would be hit first if one waited for it).
    let all = futures::future::join_all(calls);
    let results = tokio::time::timeout(Duration::from_secs(5), all)
        .await
        .expect("calls in flight must fail when the socket drops");
    for r in results {
        let e = r.unwrap().unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Transport(TransportKind::ConnectionReset),
            "{e}"
        );
        assert!(e.is_transient());
    }
    // Answers for the old socket's requests, were they to come, go nowhere: the socket is gone.
    drop(got);
    // Wait for the reconnect, then a call goes over the new socket and is answered there.
    loop {
        if let StreamItem::Reconnected { .. } = s.next().await.unwrap() {
            break;
        }
    }
    let call = tokio::spawn(async move { rest.bridges().get("after").send().await });
    let g = fake.next().await;
    assert_eq!(g.conn, 1, "the request went over the new socket");
    g.reply(200, Some(bridge("after")));
    assert_eq!(call.await.unwrap().unwrap().id, "after");
    assert_eq!(fake.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn calls_while_disconnected_fail_at_once() {
    let fake = Fake::start().await;
    let (s, rest) = stream_with_rest(&fake.client()).await;
    s.close();
    let mut s = s;
    while s.next().await.is_some() {}
    let e = rest.asterisk().ping().send().await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Transport(TransportKind::ConnectionReset),
        "{e}"
    );
    let why = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(
        why.as_deref(),
        Some("the events WebSocket is not connected"),
        "{e:?}"
    );
}

#[tokio::test]
async fn unknown_request_id_and_empty_request_id_are_dropped_and_others_still_answered() {
    let mut fake = Fake::start().await;
    let (mut s, rest) = stream_with_rest(&fake.client()).await;
    let call = tokio::spawn({
        let rest = rest.clone();
        async move { rest.bridges().get("b1").send().await }
    });
    let g = fake.next().await;
    // An answer to no request, then Asterisk's answer to a frame it could not parse.
    g.send(
        json!({"type": "RESTResponse", "request_id": "nobody", "transaction_id": "nobody",
               "status_code": 200, "reason_phrase": "OK", "uri": "x"})
        .to_string(),
    );
    g.send(
        json!({"type": "RESTResponse", "request_id": "", "transaction_id": "",
               "status_code": 400, "reason_phrase": "Bad request", "uri": "",
               "content_type": "application/json",
               "message_body": "{\"message\":\"Unknown request type.\"}"})
        .to_string(),
    );
    // An event after them: the stream sees it, and neither answer.
    fake.push(
        json!({"type": "BridgeCreated", "application": "test", "bridge": bridge("b9")}).to_string(),
    );
    g.reply(200, Some(bridge("b1")));
    assert_eq!(call.await.unwrap().unwrap().id, "b1");
    match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        Ok(Some(StreamItem::Event(ev))) => {
            assert!(matches!(ev, ari_sdk::Event::BridgeCreated(_)), "{ev:?}")
        }
        other => panic!("expected the BridgeCreated event first, got {other:?}"),
    }
}

#[tokio::test]
async fn rest_responses_reach_the_stream_only_when_asked() {
    let mut fake = Fake::start().await;
    let mut s = fake
        .client()
        .event_stream()
        .app("test")
        .rest_over_websocket(true)
        .rest_responses_in_stream(true)
        .connect_as::<Value>()
        .await
        .unwrap();
    let rest = s.rest_client().unwrap();
    let call = tokio::spawn(async move { rest.bridges().get("b1").send().await });
    let g = fake.next().await;
    g.reply(200, Some(bridge("b1")));
    assert_eq!(call.await.unwrap().unwrap().id, "b1");
    match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        Ok(Some(StreamItem::Event(v))) => assert_eq!(v["type"], "RESTResponse"),
        other => panic!("expected the RESTResponse in the stream, got {other:?}"),
    }
}

#[tokio::test]
async fn body_that_is_not_json_is_a_decode_error_with_an_excerpt() {
    let mut fake = Fake::start().await;
    let (_s, rest) = stream_with_rest(&fake.client()).await;
    let call = tokio::spawn(async move { rest.bridges().get("b1").send().await });
    let g = fake.next().await;
    g.send(
        json!({"type": "RESTResponse", "request_id": g.id(), "transaction_id": g.id(),
               "status_code": 200, "reason_phrase": "OK", "uri": "bridges/b1",
               "content_type": "application/json", "message_body": "{\"id\": \"b1\", oops"})
        .to_string(),
    );
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert!(e.excerpt().unwrap().contains("oops"), "{e}");
    assert_eq!(e.operation().map(|o| o.nickname), Some("get"));
}

#[tokio::test]
async fn slow_server_past_the_timeout_is_a_timeout_and_its_late_answer_is_dropped() {
    let mut fake = Fake::start().await;
    let client = Client::builder()
        .base_url(format!("http://{}/ari", fake.addr))
        .server_release(Release::new(22, 10, 1))
        .request_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let (_s, rest) = stream_with_rest(&client).await;
    let call = tokio::spawn({
        let rest = rest.clone();
        async move { rest.bridges().get("slow").send().await }
    });
    let slow = fake.next().await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // The late answer finds no caller; the next call is answered normally.
    slow.reply(200, Some(bridge("slow")));
    let call = tokio::spawn(async move { rest.bridges().get("next").send().await });
    let g = fake.next().await;
    g.reply(200, Some(bridge("next")));
    assert_eq!(call.await.unwrap().unwrap().id, "next");
}

#[tokio::test]
async fn binary_calls_go_over_http() {
    let mut fake = Fake::start().await;
    let (_s, rest) = stream_with_rest(&fake.client()).await;
    let bytes = rest
        .recordings()
        .get_stored_file("greeting")
        .send()
        .await
        .unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        fake.http_paths.lock().unwrap().as_slice(),
        ["/ari/recordings/stored/greeting/file"]
    );
    // Nothing went over the socket.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), fake.frames.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_release_without_rest_over_websocket_is_refused_before_sending() {
    let mut fake = Fake::start().await;
    let client = Client::builder()
        .base_url(format!("http://{}/ari", fake.addr))
        .server_release(Release::new(16, 28, 0))
        .build()
        .unwrap();
    let (_s, rest) = stream_with_rest(&client).await;
    let e = rest.bridges().list().send().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(
        e.unsupported_item().map(|(i, _)| i.clone()),
        Some(UnsupportedItem::Carrier("websocket"))
    );
    assert_eq!(
        e.to_string(),
        format!(
            "bridges.list (GET http://{}/ari/bridges): REST over websocket not supported by Asterisk 16.28.0; shipped in 20.14.0+, 21.9.0+, 22.4.0+, 23.0.0+",
            fake.addr
        )
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), fake.frames.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn credentials_never_in_frames_debug_or_errors() {
    let mut fake = Fake::start().await;
    let (s, rest) = stream_with_rest(&fake.client()).await;
    let call = tokio::spawn({
        let rest = rest.clone();
        async move { rest.bridges().get("b1").send().await }
    });
    let g = fake.next().await;
    let frame = g.frame.to_string();
    g.reply(403, Some(json!({"message": "Forbidden"})));
    let e = call.await.unwrap().unwrap_err();
    for text in [
        frame,
        format!("{rest:?}"),
        format!("{s:?}"),
        format!("{e}"),
        format!("{e:?}"),
    ] {
        assert!(!text.contains("ari-secret"), "{text}");
        assert!(!text.contains("YXJpLXVzZXI6YXJpLXNlY3JldA"), "{text}");
    }
}

/// Asterisk passes every `RESTResponse` through the socket's application event filter, and reads
/// a missing body on the socket as JSON `null`: filters sent over the socket keep the answers
/// allowed, and a reset goes out as `{}`.
#[tokio::test]
async fn event_filters_over_the_socket_keep_answers_allowed_and_reset_as_an_empty_object() {
    let mut fake = Fake::start().await;
    let (_s, rest) = stream_with_rest(&fake.client()).await;
    let app = json!({"name": "app", "channel_ids": [], "bridge_ids": [], "endpoint_ids": [], "device_names": []});
    let cases = [
        (
            Some(json!({"allowed": [{"type": "DeviceStateChanged"}]})),
            json!({"allowed": [{"type": "DeviceStateChanged"}, {"type": "RESTResponse"}]}),
        ),
        (
            Some(json!({"disallowed": [{"type": "RESTResponse"}, {"type": "Dial"}]})),
            json!({"disallowed": [{"type": "Dial"}]}),
        ),
        (
            Some(json!({"allowed": [], "disallowed": [{"type": "Dial"}]})),
            json!({"allowed": [], "disallowed": [{"type": "Dial"}]}),
        ),
        (None, json!({})),
    ];
    for (asked, sent) in cases {
        let call = {
            let rest = rest.clone();
            tokio::spawn(async move {
                let b = rest.applications().filter("app");
                match asked {
                    Some(f) => b.filter(f).send().await,
                    None => b.send().await,
                }
            })
        };
        let got = fake.next().await;
        assert_eq!(got.frame["method"], "PUT");
        assert_eq!(got.frame["uri"], "applications/app/eventFilter");
        let body: Value =
            serde_json::from_str(got.frame["message_body"].as_str().expect("a body")).unwrap();
        assert_eq!(body, sent);
        got.reply(200, Some(app.clone()));
        call.await.unwrap().expect("answered");
    }
}
