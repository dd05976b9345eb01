//! In-process fake ARI servers for fault tests: a minimal HTTP/1.1 responder for REST and a
//! tokio-tungstenite server for events. Everything listens on 127.0.0.1 only.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the fake REST server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What the fake REST server answers.
pub enum Reply {
    Json(u16, String),
    Bytes(u16, &'static str, Vec<u8>),
    /// Accept the request and never answer.
    Stall,
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A fake REST server; records every request.
pub struct RestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl RestServer {
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> RestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve_http(sock, handler.clone(), seen2.clone()));
            }
        });
        RestServer { addr, seen }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/ari", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|s| s.path() == path).count()
    }
}

/// Commands for the events side of a [`FakeAri`].
#[derive(Debug)]
pub enum Push {
    /// Send this text frame.
    Text(String),
    /// Drop the WebSocket connection (TCP close, no Close frame).
    Drop,
}

/// REST and events on one port, as Asterisk serves them: an upgrade request goes to the
/// WebSocket side, which sends what the test pushes.
pub struct FakeAri {
    pub rest: RestServer,
    pub push: tokio::sync::mpsc::UnboundedSender<Push>,
    pub ws_connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeAri {
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> FakeAri {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let (push, pushed) = tokio::sync::mpsc::unbounded_channel();
        let pushed = Arc::new(tokio::sync::Mutex::new(pushed));
        let ws_connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen2 = seen.clone();
        let conns = ws_connections.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let handler = handler.clone();
                let seen = seen2.clone();
                let pushed = pushed.clone();
                let conns = conns.clone();
                tokio::spawn(async move {
                    if is_upgrade(&sock).await {
                        conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        serve_ws(sock, pushed).await;
                    } else {
                        serve_http(sock, handler, seen).await;
                    }
                });
            }
        });
        FakeAri {
            rest: RestServer { addr, seen },
            push,
            ws_connections,
        }
    }

    pub fn base_url(&self) -> String {
        self.rest.base_url()
    }

    pub fn send(&self, text: String) {
        self.push.send(Push::Text(text)).unwrap();
    }
}

/// Whether the request waiting on `sock` is a WebSocket upgrade; reads nothing.
async fn is_upgrade(sock: &TcpStream) -> bool {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match sock.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if find(&buf[..n], b"\r\n\r\n").is_some() || n == buf.len() {
            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            return head.contains("upgrade: websocket");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn serve_ws(
    sock: TcpStream,
    pushed: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Push>>>,
) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Ok(ws) = tokio_tungstenite::accept_async(sock).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    // Keep reading so that pings are answered and a client Close is seen.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    let mut pushed = pushed.lock().await;
    while let Some(cmd) = pushed.recv().await {
        match cmd {
            Push::Text(t) => {
                if tx.send(Message::text(t)).await.is_err() {
                    break;
                }
            }
            Push::Drop => break,
        }
    }
    reader.abort();
}

async fn serve_http(mut sock: TcpStream, handler: Handler, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    loop {
        // Read one request head, then its body by Content-Length (keep-alive loop).
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_owned();
        let target = first.next().unwrap_or("").to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        let req = Seen {
            method,
            target,
            headers,
            body,
        };
        seen.lock().unwrap().push(req.clone());
        let (status, ctype, body) = match handler(&req) {
            Reply::Json(status, body) => (status, "application/json", body.into_bytes()),
            Reply::Bytes(status, ctype, body) => (status, ctype, body),
            Reply::Stall => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if sock.write_all(head.as_bytes()).await.is_err() || sock.write_all(&body).await.is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A channel snapshot as Asterisk 20 sends it.
pub fn channel(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"PJSIP/alice-00000001","state":"Up","protocol_id":"","caller":{{"name":"Alice","number":"100"}},"connected":{{"name":"","number":""}},"accountcode":"","dialplan":{{"context":"default","exten":"100","priority":3,"app_name":"Stasis","app_data":"test"}},"creationtime":"2024-05-01T10:00:00.000+0000","language":"en"}}"#
    )
}

/// A bridge snapshot.
pub fn bridge(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"","channels":[],"creationtime":"2024-05-01T10:00:00.000+0000","video_mode":"none"}}"#
    )
}

/// A playback snapshot.
pub fn playback(id: &str, target: &str) -> String {
    format!(
        r#"{{"id":"{id}","media_uri":"sound:hello-world","target_uri":"channel:{target}","language":"en","state":"playing"}}"#
    )
}

const HEAD: &str = r#""application":"test","timestamp":"2024-05-01T10:00:00.000+0000","asterisk_id":"00:11:22:33:44:55""#;

/// An event of `kind` about channel `id`, with the fields that kind needs.
pub fn channel_event(kind: &str, id: &str) -> String {
    let extra = match kind {
        "StasisStart" => r#","args":["a1","a2"]"#,
        "ChannelDtmfReceived" => r#","digit":"5","duration_ms":120"#,
        "ChannelDestroyed" => r#","cause":16,"cause_txt":"Normal Clearing""#,
        "ChannelStateChange" | "StasisEnd" => "",
        _ => "",
    };
    format!(
        r#"{{"type":"{kind}",{HEAD}{extra},"channel":{}}}"#,
        channel(id)
    )
}

/// An event as Asterisk would send it: `StasisStart` for channel `chan-N`.
pub fn event(kind: &str, n: u32) -> String {
    channel_event(kind, &format!("chan-{n}"))
}

/// `BridgeCreated` / `BridgeDestroyed` for bridge `id`.
pub fn bridge_event(kind: &str, id: &str) -> String {
    format!(r#"{{"type":"{kind}",{HEAD},"bridge":{}}}"#, bridge(id))
}

/// `ChannelEnteredBridge` for a channel and a bridge.
pub fn entered_bridge(channel_id: &str, bridge_id: &str) -> String {
    format!(
        r#"{{"type":"ChannelEnteredBridge",{HEAD},"bridge":{},"channel":{}}}"#,
        bridge(bridge_id),
        channel(channel_id)
    )
}

/// `PlaybackStarted` / `PlaybackFinished` for playback `id` on channel `target`.
pub fn playback_event(kind: &str, id: &str, target: &str) -> String {
    format!(
        r#"{{"type":"{kind}",{HEAD},"playback":{}}}"#,
        playback(id, target)
    )
}

/// Sets up a tracing subscriber once, so failing tests show the runtime's logs with
/// `RUST_LOG`-free defaults (warnings only).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_test_writer()
        .try_init();
}
