//! Outbound ARI WebSockets against the real Asterisk 22.10.1: Asterisk connects to our
//! [`AriListener`] as `cargo xtask asterisk up` configured it (`websocket_client.conf`, `ari.conf`
//! `type=outbound_websocket`):
//!
//! | port | entry                  | connection type | app                    |
//! |------|------------------------|-----------------|------------------------|
//! | 8765 | `ari-out-persistent`   | persistent      | `outbound-persistent`  |
//! | 8766 | `ari-out-percall`      | per_call_config | `outbound-percall`     |
//! | 8767 | `ari-out-tls`          | persistent, wss | `outbound-tls`         |
//! | 8768 | `ari-out-readonly`     | persistent      | `outbound-readonly`    |
//!
//! Asterisk presents `ari-out` / `ari-out-secret`. The TLS listener serves the test PKI that `up`
//! made in the chroot (`$ARI_TLS_DIR`, default
//! `/var/cache/ari-rs/asterisk-sid/etc/asterisk/keys`). Like the other suites, a test prints
//! `SKIP` and passes when `ARI_URL_22` is not set (unless `ARI_REQUIRE_SERVERS=1`). Tests that
//! need the same port take turns.

// The example includes examples/common/mod.rs as its own module, here as when it is built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/outbound_listener.rs"]
mod outbound_listener;

use std::collections::HashSet;
use std::time::Duration;

use ari_sdk::events::StreamItem;
use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::server::{AriListener, OutboundConnection};
use ari_sdk::{Client, ErrorKind, Event};
use futures::StreamExt;
use tokio::sync::Mutex;

const OUT_USER: &str = "ari-out";
const OUT_PASSWORD: &str = "ari-out-secret";
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Asterisk retries a persistent connection every second; this is ample.
const CONNECT_WITHIN: Duration = Duration::from_secs(20);

static PERSISTENT_PORT: Mutex<()> = Mutex::const_new(());
static PER_CALL_PORT: Mutex<()> = Mutex::const_new(());
static TLS_PORT: Mutex<()> = Mutex::const_new(());
static READONLY_PORT: Mutex<()> = Mutex::const_new(());

/// The HTTP client for Asterisk `major`, or `None` after a `SKIP` line.
async fn server(major: u16, test: &str) -> Option<Client> {
    let ari_test_env::Server {
        url,
        user,
        password,
        ..
    } = ari_test_env::server_or_skip(major, test)?;
    let client = Client::new(&url, user, password).expect("client");
    let version = tokio::time::timeout(Duration::from_secs(15), client.connect())
        .await
        .unwrap_or_else(|_| panic!("Asterisk {major} at {url} did not answer within 15 s"))
        .unwrap_or_else(|e| panic!("Asterisk {major} at {url} does not answer: {e}"));
    assert_eq!(
        version.and_then(|v| v.release).map(|r| r.major),
        Some(major)
    );
    Some(client)
}

/// The folder of the test PKI that `cargo xtask asterisk up` made.
fn tls_dir() -> std::path::PathBuf {
    if let Ok(d) = std::env::var("ARI_TLS_DIR")
        && !d.is_empty()
    {
        return d.into();
    }
    let cache = std::env::var("ARI_ASTERISK_CACHE").unwrap_or_else(|_| "/var/cache/ari-rs".into());
    std::path::Path::new(&cache).join("asterisk-sid/etc/asterisk/keys")
}

fn unique(tag: &str) -> String {
    ari_test_env::unique_name(tag)
}

async fn listen(port: u16) -> AriListener {
    AriListener::builder()
        .credentials(OUT_USER, OUT_PASSWORD)
        .bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"))
}

async fn next_connection(listener: &mut AriListener) -> OutboundConnection {
    tokio::time::timeout(CONNECT_WITHIN, listener.accept())
        .await
        .unwrap_or_else(|_| panic!("Asterisk did not connect within {CONNECT_WITHIN:?}"))
        .expect("listener open")
}

/// The next event on `conn` that `pick` accepts; other items are skipped.
async fn wait_event<T>(
    conn: &mut OutboundConnection,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = Duration::from_secs(20);
    tokio::time::timeout(deadline, async {
        loop {
            match conn.events().next().await {
                Some(StreamItem::Event(e)) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Some(other) => eprintln!("note: {other:?}"),
                None => panic!("the connection ended while waiting for an event"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no matching event within {deadline:?}"))
}

async fn bounded<F: std::future::Future<Output = ()>>(test: &str, f: F) {
    if tokio::time::timeout(TEST_TIMEOUT, f).await.is_err() {
        panic!("{test}: not done within {TEST_TIMEOUT:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_connection_carries_events_and_rest_and_is_reestablished() {
    let test = "persistent_connection";
    let _lock = ari_test_env::restart_lock(false);
    let Some(_http) = server(22, test).await else {
        return;
    };
    let _port = PERSISTENT_PORT.lock().await;
    bounded(test, async {
        let mut listener = listen(8765).await;
        let mut conn = next_connection(&mut listener).await;
        assert_eq!(conn.request().path(), "/ari");
        assert_eq!(conn.request().username(), Some(OUT_USER));
        assert_eq!(conn.request().protocol(), None);
        let client = conn.client().clone();
        assert_eq!(client.carrier_name(), "outbound-websocket");
        // The release is learned over the socket Asterisk opened, not over HTTP.
        let version = client
            .server_version()
            .await
            .expect("version over the socket");
        assert_eq!(version.and_then(|v| v.release).map(|r| r.major), Some(22));

        // A whole call, every REST call over the same socket.
        let id = unique("out-p");
        client
            .channels()
            .originate("Local/wait@default")
            .app("outbound-persistent")
            .channel_id(&id)
            .send()
            .await
            .expect("originate over the outbound socket");
        let app = wait_event(&mut conn, |e| match e {
            Event::StasisStart(s) if s.channel.id == id => Some(s.application.clone()),
            _ => None,
        })
        .await;
        assert_eq!(app, "outbound-persistent");
        client.channels().answer(&id).send().await.expect("answer");
        let got = client.channels().get(&id).send().await.expect("get");
        assert_eq!(got.state, ari_sdk::models::ChannelState::Up);
        client.channels().hangup(&id).send().await.expect("hangup");
        wait_event(&mut conn, |e| match e {
            Event::StasisEnd(s) if s.channel.id == id => Some(()),
            _ => None,
        })
        .await;
        // An error over the socket is the same typed error as over HTTP.
        let e = client
            .channels()
            .get("no-such-channel")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404), "{e}");

        // We close; Asterisk reconnects to us and says the app is registered (typed).
        conn.events().close();
        while conn.events().next().await.is_some() {}
        assert!(
            client.channels().list().send().await.is_err(),
            "old socket must be gone"
        );
        let mut again = next_connection(&mut listener).await;
        let registered = wait_event(&mut again, |e| match e {
            Event::ApplicationRegistered(r) => Some(r.application.clone()),
            _ => None,
        })
        .await;
        assert_eq!(registered, "outbound-persistent");
        again
            .client()
            .asterisk()
            .get_info()
            .send()
            .await
            .expect("REST over the new socket");

        listener.shutdown();
        listener.wait_idle().await;
        assert_eq!(listener.connections(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_connections_serve_concurrent_calls_through_stasis_app() {
    let test = "per_call_connections";
    let _lock = ari_test_env::restart_lock(false);
    let Some(http) = server(22, test).await else {
        return;
    };
    let _port = PER_CALL_PORT.lock().await;
    bounded(test, async {
        const CALLS: usize = 8;
        let listener = listen(8766).await;
        let stop = listener.shutdown_handle();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // The same handler as an inbound app; only the constructor differs.
        let app = tokio::spawn(StasisApp::outbound(listener).run(move |call: Call| {
            let tx = tx.clone();
            async move {
                call.channel.answer().send().await?;
                let name = call.channel.get().send().await?.name;
                tx.send((
                    call.application().to_owned(),
                    call.channel.id().to_owned(),
                    name,
                ))
                .ok();
                call.channel.hangup().send().await?;
                Ok::<(), ari_sdk::Error>(())
            }
        }));
        // Each call enters Stasis(outbound-percall) in the dialplan: one connection per call.
        for _ in 0..CALLS {
            http.channels()
                .originate("Local/stasis-outbound-percall@default")
                .extension("wait")
                .context("default")
                .priority(1)
                .send()
                .await
                .expect("originate");
        }
        let mut channels = HashSet::new();
        for _ in 0..CALLS {
            let (application, channel, name) =
                tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await
                    .expect("every call is handled within 30 s")
                    .expect("app running");
            // A per-call connection's app is "<app>:<channel name>".
            assert_eq!(application, format!("outbound-percall:{name}"));
            assert!(channels.insert(channel), "each call handled once");
        }
        assert_eq!(channels.len(), CALLS);
        stop.shutdown();
        app.await
            .expect("app task")
            .expect("app ends cleanly after shutdown");
        stop.wait_idle().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_is_dialled_over_wss_with_the_test_ca() {
    let test = "tls_listener";
    let _lock = ari_test_env::restart_lock(false);
    let Some(_http) = server(22, test).await else {
        return;
    };
    let _port = TLS_PORT.lock().await;
    let dir = tls_dir();
    let cert = std::fs::read(dir.join("ari-test-cert.pem"))
        .unwrap_or_else(|e| panic!("{}: {e} (made by cargo xtask asterisk up)", dir.display()));
    let key = std::fs::read(dir.join("ari-test-key.pem")).expect("test key");
    bounded(test, async {
        let mut listener = AriListener::builder()
            .credentials(OUT_USER, OUT_PASSWORD)
            .tls_pem(&cert, &key)
            .bind("127.0.0.1:8767")
            .await
            .expect("bind TLS listener");
        let conn = next_connection(&mut listener).await;
        assert!(conn.request().is_tls());
        let info = conn
            .client()
            .asterisk()
            .get_info()
            .send()
            .await
            .expect("REST over wss");
        assert!(info.system.is_some());
        listener.shutdown();
        drop(conn);
        listener.wait_idle().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_connection_of_a_read_only_user_is_refused_writes() {
    let test = "read_only_outbound";
    let _lock = ari_test_env::restart_lock(false);
    let Some(_http) = server(22, test).await else {
        return;
    };
    let _port = READONLY_PORT.lock().await;
    bounded(test, async {
        let mut listener = listen(8768).await;
        let conn = next_connection(&mut listener).await;
        let client = conn.client();
        client
            .channels()
            .list()
            .send()
            .await
            .expect("GET is allowed");
        let e = client
            .channels()
            .originate("Local/wait@default")
            .app("outbound-readonly")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Http, "{e}");
        assert_eq!(e.status(), Some(403), "{e}");
        listener.shutdown();
        drop(conn);
        listener.wait_idle().await;
    })
    .await;
}

#[tokio::test]
async fn releases_without_outbound_websockets_are_refused_at_start() {
    if let Some(http16) = server(16, "outbound_gating").await {
        let e = ari_sdk::server::check_server(&http16).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let text = e.to_string();
        assert!(
            text.contains("16.28.0") && text.contains("22.5.0+"),
            "{text}"
        );
    }
    if let Some(http22) = server(22, "outbound_gating").await {
        let r = ari_sdk::server::check_server(&http22)
            .await
            .expect("22 has them");
        assert_eq!(r.map(|r| r.major), Some(22));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbound_listener_example_serves_per_call_connections() {
    let test = "outbound_listener_example";
    let _lock = ari_test_env::restart_lock(false);
    let Some(http) = server(22, test).await else {
        return;
    };
    let _port = PER_CALL_PORT.lock().await;
    bounded(test, async {
        let listener = listen(8766).await;
        let served = tokio::spawn(outbound_listener::serve(listener, Some(2)));
        for _ in 0..2 {
            http.channels()
                .originate("Local/stasis-outbound-percall@default")
                .extension("wait")
                .context("default")
                .priority(1)
                .send()
                .await
                .expect("originate");
        }
        let reports = served.await.expect("task").expect("example");
        assert_eq!(reports.len(), 2);
        for r in &reports {
            assert_eq!(r.playback_state, "done", "{r:?}");
            assert!(r.hung_up && r.stasis_end, "{r:?}");
        }
    })
    .await;
}

/// Asterisk restarts: it dials the listener again by itself, and both connection types serve
/// calls afterwards, on the same listeners. Only against the local server of
/// `cargo xtask asterisk up`, which this test restarts; every other test against 22 holds the
/// restart lock shared, this one exclusively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_connections_come_back_after_asterisk_restarts() {
    let test = "outbound_after_restart";
    if ari_test_env::server(22).is_some_and(|s| !s.is_local_default()) {
        eprintln!("SKIP {test}: ARI_URL_22 is not the local server this test may restart");
        return;
    }
    let _lock = ari_test_env::restart_lock(true);
    let Some(http) = server(22, test).await else {
        return;
    };
    let _persistent = PERSISTENT_PORT.lock().await;
    let _per_call = PER_CALL_PORT.lock().await;
    let mut persistent = listen(8765).await;
    let mut per_call = listen(8766).await;
    let before = next_connection(&mut persistent).await;

    tokio::task::spawn_blocking(|| ari_test_env::restart_asterisk("22"))
        .await
        .expect("restart task")
        .expect("Asterisk 22 restarted");
    drop(before);

    // Asterisk dials the persistent listener again; a whole call goes over the new socket.
    let mut conn = tokio::time::timeout(Duration::from_secs(60), persistent.accept())
        .await
        .expect("Asterisk reconnected within 60 s of its restart")
        .expect("listener open");
    let client = conn.client().clone();
    let id = unique("out-restart");
    client
        .channels()
        .originate("Local/wait@default")
        .app("outbound-persistent")
        .channel_id(&id)
        .send()
        .await
        .expect("originate over the new outbound socket");
    wait_event(&mut conn, |e| match e {
        Event::StasisStart(s) if s.channel.id == id => Some(()),
        _ => None,
    })
    .await;
    client.channels().hangup(&id).send().await.expect("hangup");

    // A per-call connection is opened for a new call after the restart too.
    http.channels()
        .originate("Local/stasis-outbound-percall@default")
        .extension("wait")
        .context("default")
        .priority(1)
        .send()
        .await
        .expect("originate a per-call call");
    let mut call_conn = next_connection(&mut per_call).await;
    let channel = wait_event(&mut call_conn, |e| match e {
        Event::StasisStart(s) => Some(s.channel.id.clone()),
        _ => None,
    })
    .await;
    call_conn
        .client()
        .channels()
        .hangup(&channel)
        .send()
        .await
        .expect("hangup over the per-call socket");
    persistent.shutdown();
    per_call.shutdown();
}
