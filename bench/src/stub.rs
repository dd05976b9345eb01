//! A minimal HTTP/1.1 server on 127.0.0.1 that answers every request with a canned ARI
//! response, for benchmarking the client side of a REST call without Asterisk.
//!
//! It runs on a thread and a single-threaded runtime of its own, so that its work is the same
//! whatever client calls it. It understands just enough HTTP for `reqwest` over keep-alive
//! connections: a request line, headers, a `Content-Length` body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// `GET /asterisk/info` as Asterisk 22 answers it (trimmed to what the SDK reads).
pub const INFO_BODY: &str = r#"{"system":{"version":"22.10.1","entity_id":"52:54:00:00:00:01"},"build":{"os":"Linux","kernel":"6.1.0","machine":"x86_64","options":"","date":"2026-01-01 00:00:00 UTC","user":"root"},"config":{"name":"","default_language":"en","setid":{"user":"","group":""}},"status":{"startup_time":"2026-11-22T06:00:00.000+0000","last_reload_time":"2026-11-22T06:00:00.000+0000"}}"#;

/// The channel Asterisk 22 returns for an originate of `Local/wait@default`.
pub const CHANNEL_BODY: &str = r#"{"id":"0b5f3c0e-4a53-4f6e-9d0e-6f5c1e2d7a10","name":"Local/wait@default-00000001;1","state":"Down","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-22T06:00:00.000+0000","language":"en","channelvars":{"BENCH_A":"1","BENCH_B":"2"}}"#;

/// A running stub; it stops with the process.
#[derive(Debug, Clone)]
pub struct Stub {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl Stub {
    /// Starts the stub on an ephemeral loopback port.
    pub fn start() -> anyhow::Result<Stub> {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the stub")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        std::thread::Builder::new()
            .name("http-stub".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("stub runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("stub listener: {e}");
                            return;
                        }
                    };
                    while let Ok((socket, _)) = listener.accept().await {
                        let _ = socket.set_nodelay(true);
                        tokio::spawn(serve(socket, counter.clone()));
                    }
                });
            })
            .context("starting the stub thread")?;
        Ok(Stub { addr, requests })
    }

    /// The ARI base URL of the stub, `http://127.0.0.1:PORT/ari`.
    pub fn base_url(&self) -> String {
        format!("http://{}/ari", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Serves one keep-alive connection until the client closes it or sends something odd.
async fn serve(socket: TcpStream, requests: Arc<AtomicU64>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    let mut body = Vec::new();
    let mut response = Vec::with_capacity(1024);
    loop {
        line.clear();
        match read.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let is_info = line.contains("/asterisk/info");
        let mut content_length = 0usize;
        loop {
            line.clear();
            match read.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(content_length, 0);
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let payload = if is_info { INFO_BODY } else { CHANNEL_BODY };
        response.clear();
        response.extend_from_slice(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                payload.len()
            )
            .as_bytes(),
        );
        response.extend_from_slice(payload.as_bytes());
        if write.write_all(&response).await.is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
    }
}
