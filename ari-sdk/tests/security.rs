//! Security against the real Asterisk 22.10.1: the read-only ARI user (`reader`, `read_only = yes`
//! in the `ari.conf` of `cargo xtask asterisk up`) is refused every non-GET operation, over HTTP
//! and over REST on the events WebSocket, and the SDK reports Asterisk's 403 and message; and the
//! credentials never appear in logs, `Debug` output, URLs or error texts of either transport.
//!
//! Servers: `ARI_URL_22` (or `ARI_REQUIRE_SERVERS=1` for `http://127.0.0.1:8088/ari`); without
//! it the tests print `SKIP` and pass. The read-only user is `ARI_READONLY_USER` /
//! `ARI_READONLY_PASSWORD` (default `auditor` / `ro-audit-s3cret-7f3c`, a password unlike the
//! user name, so that it can be looked for in what the SDK shows).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ari_sdk::meta::{ParamLocation, Support};
use ari_sdk::{Client, ErrorKind, Request};

fn url_22(test: &str) -> Option<String> {
    ari_test_env::server_or_skip(22, test).map(|s| s.url)
}

/// The tests of this file run one at a time: the credentials test's log capture must not miss
/// the SDK's callsites to the other test's threads (tracing caches whether a callsite is on).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn reader() -> (String, String) {
    (
        std::env::var("ARI_READONLY_USER").unwrap_or_else(|_| "auditor".to_owned()),
        std::env::var("ARI_READONLY_PASSWORD")
            .unwrap_or_else(|_| "ro-audit-s3cret-7f3c".to_owned()),
    )
}

fn app(tag: &str) -> String {
    ari_test_env::unique_name(&format!("security-{tag}"))
}

/// Sends every non-GET operation that 22.10.1 ships through `client` (path parameters set to
/// names of nothing, so that even a server that did not refuse would change nothing real) and
/// checks that each is refused with Asterisk's 403 "Write access denied".
async fn every_write_is_refused(client: &Client) -> usize {
    let release = client.known_release().expect("release learned");
    let mut refused = 0;
    for info in ari_sdk::ops::OPERATIONS {
        if info.method == "GET"
            || info
                .availability
                .support(release, ari_sdk::releases::KNOWN_MAJORS)
                != Support::Yes
        {
            continue;
        }
        let mut req = Request::new(info);
        for p in info.params {
            if p.location == ParamLocation::Path {
                req.path_param(p.name, "ari-rs-readonly-nothing");
            }
        }
        let e = tokio::time::timeout(Duration::from_secs(10), client.send_unit(req))
            .await
            .unwrap_or_else(|_| panic!("{}.{}: no answer", info.resource, info.nickname))
            .expect_err(&format!(
                "{}.{} {} {} was not refused to the read-only user",
                info.resource, info.nickname, info.method, info.path
            ));
        assert_eq!(e.kind(), ErrorKind::Http, "{e}");
        assert_eq!(e.status(), Some(403), "{e}");
        assert_eq!(e.asterisk_message(), Some("Write access denied"), "{e}");
        assert!(e.to_string().contains("Write access denied"), "{e}");
        refused += 1;
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_user_is_refused_every_write_over_http_and_websocket() {
    let Some(url) = url_22("read_only_user") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let _lock = ari_test_env::restart_lock(false);
    let (user, password) = reader();

    let http = Client::new(&url, &user, &password).unwrap();
    http.connect().await.expect("the read-only user may GET");
    let n = every_write_is_refused(&http).await;
    assert!(n > 60, "only {n} write operations tried");

    let ws = Client::builder()
        .base_url(&url)
        .credentials(&user, &password)
        .rest_over_websocket(true)
        .build()
        .unwrap();
    ws.connect().await.unwrap();
    let _events = ws
        .event_stream()
        .app(app("reader"))
        .connect()
        .await
        .expect("the read-only user may open the events WebSocket");
    assert_eq!(ws.carrier_name(), "websocket");
    // Reads work over the socket.
    ws.asterisk()
        .ping()
        .send()
        .await
        .expect("GET over the socket");
    assert_eq!(every_write_is_refused(&ws).await, n);
}

/// Captures everything the SDK logs, at every level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test]
async fn credentials_never_in_logs_debug_urls_or_errors_of_any_transport() {
    let Some(url) = url_22("credentials_never_shown") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let _lock = ari_test_env::restart_lock(false);
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    // This test's runtime is single-threaded: the guard covers the connection tasks too.
    let _guard = tracing::subscriber::set_default(subscriber);
    // Another test of this binary may have run the SDK's callsites with no subscriber, which
    // caches them as disabled: have them asked again.
    tracing::callsite::rebuild_interest_cache();

    let (user, password) = reader();
    let wrong = "ari-rs-wrong-s3cret";
    let mut shown = Vec::new();
    for ws in [false, true] {
        // The right password, with a 403 over each transport; a wrong one, with a 401.
        for pass in [password.as_str(), wrong] {
            let c = Client::builder()
                .base_url(&url)
                .credentials(&user, pass)
                .rest_over_websocket(ws)
                .build()
                .unwrap();
            shown.push(format!("{c:?}"));
            shown.push(c.base_url().to_string());
            match c.connect().await {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
                    shown.push(format!("{e} {e:?}"));
                    continue;
                }
            }
            let stream = c.event_stream().app(app("creds")).connect().await.unwrap();
            shown.push(format!("{stream:?}"));
            let e = c.bridges().create().send().await.unwrap_err();
            assert_eq!(e.status(), Some(403), "{e}");
            shown.push(format!("{e} {e:?}"));
            let rest = stream.rest_client();
            shown.push(format!("{rest:?}"));
        }
        // A wrong password on the events WebSocket itself.
        let c = Client::builder()
            .base_url(&url)
            .credentials(&user, wrong)
            .rest_over_websocket(ws)
            .build()
            .unwrap();
        let e = c
            .event_stream()
            .app(app("creds"))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        shown.push(format!("{e} {e:?}"));
    }
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("ari.request"), "nothing was logged: {logs}");
    use base64::Engine as _;
    let secrets = [
        password.clone(),
        wrong.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{wrong}")),
        "api_key".to_owned(),
    ];
    for text in shown.iter().chain([&logs]) {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{s:?} shown in: {text}");
        }
    }
}
