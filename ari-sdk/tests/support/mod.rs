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

/// An event as Asterisk would send it.
pub fn event(kind: &str, n: u32) -> String {
    format!(
        r#"{{"type":"{kind}","application":"test","timestamp":"2024-01-01T00:00:00.000+0000","channel":{{"id":"chan-{n}","name":"PJSIP/alice-{n}","state":"Up"}}}}"#
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
