//! TLS end to end against the real servers: `https://` REST, `wss://` events and REST over the
//! events WebSocket, all trusting the test CA that `cargo xtask asterisk up` made; a wrong CA
//! and a wrong host name are clear TLS errors. (The outbound listener's TLS, where Asterisk is
//! the client, is in `tests/outbound.rs`.)
//!
//! Servers: HTTPS at `ARI_TLS_URL_22` (default `https://127.0.0.1:8443/ari` when `ARI_URL_22`
//! is set or `ARI_REQUIRE_SERVERS=1`) and `ARI_TLS_URL_16` (default `https://127.0.0.1:8444/ari`);
//! the CA is `ari-test-ca.pem` in `$ARI_TLS_DIR_22` / `$ARI_TLS_DIR_16` (default: the chroot's
//! `etc/asterisk/keys`). The certificate names `127.0.0.1` only, so `localhost` is the wrong
//! host name.

// The example includes examples/common/mod.rs as its own module, here as when it is built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/tls.rs"]
mod tls_example;

use std::io::Write as _;
use std::time::Duration;

use ari_sdk::events::StreamItem;
use ari_sdk::{Client, ErrorKind, Event, TransportKind};
use futures::StreamExt;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTPS URL and CA of Asterisk `major`, or `None` after a `SKIP` line.
fn tls_server(major: u16, test: &str) -> Option<(String, Vec<u8>)> {
    let env = ari_test_env::Env::from_process();
    let configured = env.configured(major);
    let url = match std::env::var(format!("ARI_TLS_URL_{major}")) {
        Ok(u) if !u.is_empty() => u,
        _ if configured || env.require_servers() => match major {
            22 => "https://127.0.0.1:8443/ari".to_owned(),
            _ => "https://127.0.0.1:8444/ari".to_owned(),
        },
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test} on Asterisk {major}: neither ARI_TLS_URL_{major} nor ARI_URL_{major} is set"
            );
            return None;
        }
    };
    let dir = match std::env::var(format!("ARI_TLS_DIR_{major}")) {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => {
            let cache = std::env::var("ARI_ASTERISK_CACHE")
                .unwrap_or_else(|_| "/var/cache/ari-rs".to_owned());
            let suite = if major == 22 { "sid" } else { "bullseye" };
            std::path::Path::new(&cache).join(format!("asterisk-{suite}/etc/asterisk/keys"))
        }
    };
    let ca = std::fs::read(dir.join("ari-test-ca.pem")).unwrap_or_else(|e| {
        panic!(
            "{}/ari-test-ca.pem: {e} (made by cargo xtask asterisk up)",
            dir.display()
        )
    });
    Some((url, ca))
}

fn user() -> (String, String) {
    let ari_test_env::Credentials { user, password } = ari_test_env::credentials();
    (user, password)
}

fn client(url: &str, ca: &[u8]) -> Client {
    let (u, p) = user();
    Client::builder()
        .base_url(url)
        .credentials(u, p)
        .add_root_certificates_pem(ca)
        .build()
        .expect("https client")
}

/// A CA nobody signed the server's certificate with.
fn other_ca() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ari-rs test CA");
    params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

/// The error and its causes, as a report that walks `source()` shows them.
fn chain(e: &ari_sdk::Error) -> String {
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

fn unique(tag: &str) -> String {
    ari_test_env::unique_name(tag)
}

async fn bounded<F: std::future::Future<Output = ()>>(test: &str, f: F) {
    if tokio::time::timeout(TEST_TIMEOUT, f).await.is_err() {
        panic!("{test}: not done within {TEST_TIMEOUT:?}");
    }
}

/// HTTPS REST and a whole call whose events arrive over wss, on one release.
async fn https_and_wss_call(major: u16) {
    let test = "https_and_wss";
    let Some((url, ca)) = tls_server(major, test) else {
        return;
    };
    bounded(test, async {
        let c = client(&url, &ca);
        let version = c.connect().await.expect("https connect");
        assert_eq!(
            version.and_then(|v| v.release).map(|r| r.major),
            Some(major)
        );
        let app = unique("tls-app");
        let mut events = c
            .event_stream()
            .app(&app)
            .connect()
            .await
            .expect("wss events");
        let id = unique("tls-ch");
        c.channels()
            .originate("Local/wait@default")
            .app(&app)
            .channel_id(&id)
            .send()
            .await
            .expect("originate over https");
        loop {
            match events.next().await.expect("stream open") {
                StreamItem::Event(Event::StasisStart(s)) if s.channel.id == id => break,
                StreamItem::Error(e) => panic!("events over wss: {e}"),
                _ => {}
            }
        }
        c.channels()
            .hangup(&id)
            .send()
            .await
            .expect("hangup over https");
        events.close();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_rest_and_wss_events_on_22() {
    let _lock = ari_test_env::restart_lock(false);
    https_and_wss_call(22).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_rest_and_wss_events_on_16() {
    https_and_wss_call(16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_over_the_wss_events_socket_on_22() {
    let test = "rest_over_wss";
    let _lock = ari_test_env::restart_lock(false);
    let Some((url, ca)) = tls_server(22, test) else {
        return;
    };
    bounded(test, async {
        let c = client(&url, &ca);
        let events = c
            .event_stream()
            .app(unique("tls-rest"))
            .rest_over_websocket(true)
            .connect()
            .await
            .expect("wss events with REST");
        let rest = events.rest_client().expect("REST client of the socket");
        assert_eq!(rest.carrier_name(), "websocket");
        let info = rest
            .asterisk()
            .get_info()
            .send()
            .await
            .expect("REST over wss");
        assert!(info.system.is_some());
        let e = rest
            .channels()
            .get("no-such-channel")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404), "{e}");
        events.close();
    })
    .await;
}

#[tokio::test]
async fn a_wrong_ca_is_a_clear_tls_error_for_https_and_wss() {
    let test = "wrong_ca";
    let Some((url, _)) = tls_server(22, test) else {
        return;
    };
    let c = client(&url, other_ca().as_bytes());
    let e = c.connect().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport(TransportKind::Tls), "{e}");
    let text = chain(&e);
    assert!(text.contains("invalid peer certificate"), "{text}");
    let e = c
        .event_stream()
        .app(unique("wrong-ca"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport(TransportKind::Tls), "{e}");
}

#[tokio::test]
async fn a_wrong_host_name_is_a_clear_tls_error_for_https_and_wss() {
    let test = "wrong_host";
    let Some((url, ca)) = tls_server(22, test) else {
        return;
    };
    // Same server, reached by a name its certificate does not carry.
    let wrong = url.replace("127.0.0.1", "localhost");
    assert_ne!(wrong, url, "the TLS URL must name 127.0.0.1 for this test");
    let c = client(&wrong, &ca);
    let e = c.connect().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport(TransportKind::Tls), "{e}");
    let text = format!("{e} {:?}", std::error::Error::source(&e));
    assert!(
        text.contains("localhost") || text.contains("name"),
        "{text}"
    );
    let e = c
        .event_stream()
        .app(unique("wrong-host"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport(TransportKind::Tls), "{e}");
}

/// The `tls` example against both releases: https and wss everywhere; REST over wss where the
/// release has it (22.10.1), refused before sending on 16.28.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_example_runs_on_22_and_16() {
    let _lock = ari_test_env::restart_lock(false);
    for major in [22, 16] {
        let Some((url, ca)) = tls_server(major, "tls_example") else {
            continue;
        };
        let (u, p) = user();
        let report = tokio::time::timeout(
            TEST_TIMEOUT,
            tls_example::run(&url, &u, &p, &ca, "Local/wait@default"),
        )
        .await
        .expect("in time")
        .unwrap_or_else(|e| panic!("tls example on {major}: {e:#}"));
        assert!(report.version.starts_with(&major.to_string()), "{report:?}");
        assert!(!report.channel_id.is_empty());
        assert_eq!(
            report.listed_over_websocket.is_some(),
            major == 22,
            "{report:?}"
        );
    }
}
