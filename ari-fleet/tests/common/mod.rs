//! The fleet tests' harness: a nats-server process of the test's own on a free port, proxies
//! for the real servers (found as the conformance suite finds them: `ARI_URL_22`, `ARI_URL_16`,
//! `ARI_USER`, `ARI_PASSWORD`, `ARI_REQUIRE_SERVERS`), and direct clients to watch Asterisk.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ari_fleet::{Proxy, ProxyConfig, RunningProxy};
use ari_sdk::Client;
use ari_test_env::Server;

/// A nats-server process; killed when dropped.
pub struct Nats {
    bin: PathBuf,
    /// Extra arguments of the server (`--user`, `--pass`, ...).
    args: Vec<String>,
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
}

/// `nats-server` on PATH (or in the sbin folders, where Debian puts it).
fn find_nats() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

impl Nats {
    /// Starts nats-server on a free port; `None` (after a SKIP line) when the binary is missing
    /// and servers are not required. Panics, naming the fix, when they are.
    pub fn start(test: &str) -> Option<Nats> {
        Nats::start_with(test, &[])
    }

    /// Like [`Nats::start`], with extra server arguments (`--user U --pass P`, say).
    pub fn start_with(test: &str, args: &[&str]) -> Option<Nats> {
        let Some(bin) = find_nats() else {
            let msg = "nats-server not found on PATH or in /usr/sbin: install it with `apt-get install -y nats-server`";
            if ari_test_env::require_servers() {
                panic!("{msg}");
            }
            eprintln!("SKIP {test}: {msg}");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut nats = Nats {
            bin,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
        };
        nats.spawn();
        Some(nats)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        self.child = Some(child);
        // Ready when it accepts connections (well under a second on these machines).
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Both real servers, or `None` after a SKIP line when they are not configured (and not
/// required: then the harness's defaults apply and a server that does not answer fails).
pub fn both_servers(test: &str) -> Option<(Server, Server)> {
    match (ari_test_env::server(22), ari_test_env::server(16)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            eprintln!("SKIP {test}: set ARI_URL_22 and ARI_URL_16 (or ARI_REQUIRE_SERVERS=1)");
            None
        }
    }
}

/// A direct HTTP client to a server, to place calls and watch what the fleet did.
pub fn direct(server: &Server) -> Client {
    Client::new(&server.url, &server.user, &server.password).expect("client")
}

/// A proxy for `server` carrying `apps`, with test timings.
pub async fn proxy(nats: &Nats, id: &str, server: &Server, apps: &[&str]) -> RunningProxy {
    let mut config = ProxyConfig::new(id, &server.url, apps.iter().copied())
        .credentials(&server.user, &server.password);
    config.announce_interval = Duration::from_secs(1);
    config.owner_timeout = Duration::from_secs(2);
    config.claim_grace = Duration::from_secs(2);
    Proxy::start(&nats.url, config)
        .await
        .unwrap_or_else(|e| panic!("proxy for {}: {e}", server.url))
}

/// A fleet id for a test: short, unique in the run.
pub fn id(tag: &str) -> String {
    format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Polls until `f` is true or `within` passes (a bound for a failure message, not a timing
/// assertion).
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the channel still exists on the server.
pub async fn channel_exists(client: &Client, id: &str) -> bool {
    match client.channels().get(id).send().await {
        Ok(_) => true,
        Err(e) if e.status() == Some(404) => false,
        Err(e) => panic!("channels.get {id}: {e}"),
    }
}

/// Logs for a test run (`RUST_LOG=ari_fleet=debug`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A TCP forwarder in front of a server, whose connections can be cut (as an Asterisk restart
/// or a network break cuts them) and then accepted again on the same port.
pub struct Cuttable {
    /// `127.0.0.1:PORT` the forwarder listens on.
    pub addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Cuttable {
    /// Forwards a new port to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = Cuttable {
            addr,
            target,
            task: None,
        };
        c.serve(listener);
        c
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Accepts connections again on the same port.
    pub async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut();
    }
}
