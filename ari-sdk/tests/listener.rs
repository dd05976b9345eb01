//! The `server` listener against plain tokio-tungstenite clients: credentials, path and
//! subprotocol checks, the connection bound, handshake timeout, graceful shutdown, TLS.

use std::sync::Arc;
use std::time::Duration;

use ari_sdk::server::{Incoming, Listener};
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message, http};

fn basic(user: &str, pass: &str) -> String {
    let t = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {t}")
}

fn request(url: &str, auth: Option<&str>, protocol: Option<&str>) -> http::Request<()> {
    let mut req = url.into_client_request().unwrap();
    if let Some(a) = auth {
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, a.parse().unwrap());
    }
    if let Some(p) = protocol {
        req.headers_mut()
            .insert(http::header::SEC_WEBSOCKET_PROTOCOL, p.parse().unwrap());
    }
    req
}

async fn listener() -> Listener {
    Listener::builder()
        .credentials("ast", "pa:ss")
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn status_of(e: tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(r) => r.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn accepts_the_configured_credentials_and_hands_over_the_request() {
    let mut l = listener().await;
    let url = format!("ws://{}/ari/events?app=a1&x=%20y", l.local_addr());
    let req = request(&url, Some(&basic("ast", "pa:ss")), None);
    let client = tokio::spawn(async move {
        let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(resp.status().as_u16(), 101);
        ws.send(Message::text("ping?")).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), "pong!");
    });
    let incoming: Incoming = l.accept().await.unwrap();
    let (info, mut socket, _guard) = incoming.into_parts();
    assert_eq!(info.path(), "/ari/events");
    assert_eq!(info.query_param("app").as_deref(), Some("a1"));
    assert_eq!(info.query_param("x").as_deref(), Some(" y"));
    assert_eq!(info.username(), Some("ast"));
    assert!(!info.is_tls());
    assert!(info.headers().get("authorization").is_none());
    assert!(!format!("{info:?}").contains(&basic("ast", "pa:ss")[6..]));
    let msg = socket.next().await.unwrap().unwrap();
    assert_eq!(msg.into_text().unwrap().as_str(), "ping?");
    socket.send(Message::text("pong!")).await.unwrap();
    client.await.unwrap();
    assert_eq!(l.stats().accepted, 1);
}

#[tokio::test]
async fn refuses_wrong_or_missing_credentials_with_401() {
    let l = listener().await;
    let url = format!("ws://{}/ari", l.local_addr());
    for auth in [
        None,
        Some(basic("ast", "wrong")),
        Some(basic("other", "pa:ss")),
        Some("Bearer abc".to_owned()),
        Some("Basic !!!not-base64".to_owned()),
    ] {
        let e = tokio_tungstenite::connect_async(request(&url, auth.as_deref(), None))
            .await
            .unwrap_err();
        let tungstenite::Error::Http(resp) = e else {
            panic!("expected 401 for {auth:?}, got {e}")
        };
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
    }
    assert_eq!(l.stats().refused_auth, 5);
    assert_eq!(l.stats().accepted, 0);
}

#[tokio::test]
async fn checks_path_and_subprotocol() {
    let mut l = Listener::builder()
        .credentials("ast", "pw")
        .path("/ari")
        .protocol("ari")
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let auth = basic("ast", "pw");
    let base = format!("ws://{}", l.local_addr());
    let e = tokio_tungstenite::connect_async(request(
        &format!("{base}/other"),
        Some(&auth),
        Some("ari"),
    ))
    .await
    .unwrap_err();
    assert_eq!(status_of(e), 404);
    let e = tokio_tungstenite::connect_async(request(
        &format!("{base}/ari"),
        Some(&auth),
        Some("media"),
    ))
    .await
    .unwrap_err();
    assert_eq!(status_of(e), 400);
    // A wrong password on a wrong path still says 401: nothing leaks before authentication.
    let e = tokio_tungstenite::connect_async(request(&format!("{base}/other"), None, None))
        .await
        .unwrap_err();
    assert_eq!(status_of(e), 401);

    let req = request(&format!("{base}/ari"), Some(&auth), Some("media, ari"));
    let (client, accepted) = tokio::join!(tokio_tungstenite::connect_async(req), l.accept());
    let (_ws, resp) = client.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "ari");
    assert_eq!(accepted.unwrap().request().protocol(), Some("ari"));
    assert_eq!(l.stats().failed_handshakes, 2);
}

#[tokio::test]
async fn bounds_concurrent_connections() {
    let mut l = Listener::builder()
        .credentials("ast", "pw")
        .max_connections(2)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("ws://{}/", l.local_addr());
    let auth = basic("ast", "pw");
    let mut held = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (c, a) = tokio::join!(
            tokio_tungstenite::connect_async(request(&url, Some(&auth), None)),
            l.accept()
        );
        clients.push(c.unwrap().0);
        held.push(a.unwrap());
    }
    assert_eq!(l.connections(), 2);
    let e = tokio_tungstenite::connect_async(request(&url, Some(&auth), None))
        .await
        .unwrap_err();
    assert_eq!(status_of(e), 503);
    assert_eq!(l.stats().refused_busy, 1);
    // Dropping one accepted connection frees its place at once.
    drop(held.pop());
    assert_eq!(l.connections(), 1);
    let (c, a) = tokio::join!(
        tokio_tungstenite::connect_async(request(&url, Some(&auth), None)),
        l.accept()
    );
    assert!(c.is_ok() && a.is_some());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_silent_peer_is_dropped_after_the_handshake_timeout() {
    let l = Listener::builder()
        .credentials("ast", "pw")
        .handshake_timeout(Duration::from_secs(3))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut raw = TcpStream::connect(l.local_addr()).await.unwrap();
    let mut buf = [0u8; 64];
    // With time paused, the runtime jumps to the timeout as soon as everything waits.
    let n = raw.read(&mut buf).await.unwrap_or(0);
    assert_eq!(
        n, 0,
        "the listener closes a peer that never sends a request"
    );
    assert_eq!(l.stats().failed_handshakes, 1);
    assert_eq!(l.connections(), 0);
}

#[tokio::test]
async fn garbage_instead_of_an_upgrade_is_refused() {
    let l = listener().await;
    let mut raw = TcpStream::connect(l.local_addr()).await.unwrap();
    raw.write_all(b"\x16\x03\x01 this is not http\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = raw.read_to_end(&mut out).await;
    assert!(!String::from_utf8_lossy(&out).contains("101"));
    assert_eq!(l.stats().accepted, 0);
}

#[tokio::test]
async fn shutdown_stops_accepting_signals_connections_and_waits_for_them() {
    let mut l = listener().await;
    let addr = l.local_addr();
    let url = format!("ws://{addr}/");
    let auth = basic("ast", "pa:ss");
    let (c, a) = tokio::join!(
        tokio_tungstenite::connect_async(request(&url, Some(&auth), None)),
        l.accept()
    );
    let mut client = c.unwrap().0;
    let (_info, mut socket, mut guard) = a.unwrap().into_parts();
    assert!(!guard.is_shutdown());
    // A connection's task: serve until shutdown, then close with 1001 (going away).
    let server = tokio::spawn(async move {
        guard.shutdown_requested().await;
        socket
            .close(Some(tungstenite::protocol::CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Away,
                reason: "shutting down".into(),
            }))
            .await
            .unwrap();
        drop(guard);
    });
    l.shutdown();
    assert!(l.accept().await.is_none());
    match client.next().await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    server.await.unwrap();
    l.wait_idle().await;
    assert_eq!(l.connections(), 0);
    // The port is released: nobody accepts there any more.
    let e = tokio_tungstenite::connect_async(request(&url, Some(&auth), None))
        .await
        .unwrap_err();
    assert!(matches!(e, tungstenite::Error::Io(_)), "{e}");
}

/// A CA and a server certificate for `localhost` / 127.0.0.1, made now.
fn test_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ari-sdk listener test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn client_tls(ca_pem: &str) -> tokio_tungstenite::Connector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_tungstenite::Connector::Rustls(Arc::new(config))
}

#[tokio::test]
async fn serves_tls_and_refuses_clients_that_do_not_trust_it() {
    let (ca, cert, key) = test_pki();
    let mut l = Listener::builder()
        .credentials("ast", "pw")
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("wss://localhost:{}/ari", l.local_addr().port());
    let auth = basic("ast", "pw");
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request(&url, Some(&auth), None),
        None,
        false,
        Some(client_tls(&ca)),
    );
    let (c, a) = tokio::join!(connect, l.accept());
    let (mut ws, _) = c.unwrap();
    let (info, mut socket, _g) = a.unwrap().into_parts();
    assert!(info.is_tls());
    socket.send(Message::text("over tls")).await.unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(got.into_text().unwrap().as_str(), "over tls");

    // A client with another CA fails the TLS handshake; the listener counts it.
    let (other_ca, _, _) = test_pki();
    let e = tokio_tungstenite::connect_async_tls_with_config(
        request(&url, Some(&auth), None),
        None,
        false,
        Some(client_tls(&other_ca)),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
    // A plain ws:// client to a TLS port gets no WebSocket.
    let plain = format!("ws://127.0.0.1:{}/ari", l.local_addr().port());
    assert!(
        tokio_tungstenite::connect_async(request(&plain, Some(&auth), None))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn bad_tls_material_is_a_config_error() {
    let e = Listener::builder()
        .credentials("ast", "pw")
        .tls_pem(b"not pem", b"nor this")
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ari_sdk::ErrorKind::Config);
    assert!(e.to_string().contains("listener TLS"), "{e}");
}

/// With `connection_runtimes`, each connection's handshake runs on those runtimes in turn, and
/// `Incoming::runtime` names the one that serves it: work spawned there runs on its thread and
/// can use the socket.
#[tokio::test]
async fn connections_are_served_on_the_given_runtimes_in_turn() {
    // Two runtimes on threads of their own, kept running until the test ends.
    let mut handles = Vec::new();
    let mut stops = Vec::new();
    for i in 0..2 {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("conn-rt-{i}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                handle_tx.send(rt.handle().clone()).unwrap();
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })
            .unwrap();
        handles.push(handle_rx.recv().unwrap());
        stops.push(stop_tx);
    }
    let mut l = Listener::builder()
        .credentials("ast", "pa:ss")
        .connection_runtimes(handles)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("ws://{}/media", l.local_addr());
    let mut threads = Vec::new();
    for round in 0..3 {
        let req = request(&url, Some(&basic("ast", "pa:ss")), None);
        let client = tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            ws.send(Message::text(format!("hello {round}")))
                .await
                .unwrap();
            ws.next().await.unwrap().unwrap().into_text().unwrap()
        });
        let incoming = l.accept().await.unwrap();
        let runtime = incoming.runtime().clone();
        let (_, mut socket, guard) = incoming.into_parts();
        let thread = runtime
            .spawn(async move {
                let got = socket.next().await.unwrap().unwrap().into_text().unwrap();
                socket.send(Message::text(format!("{got}!"))).await.unwrap();
                drop(guard);
                std::thread::current().name().map(str::to_owned)
            })
            .await
            .unwrap();
        assert_eq!(client.await.unwrap().as_str(), format!("hello {round}!"));
        threads.push(thread.unwrap_or_default());
    }
    assert_eq!(threads, ["conn-rt-0", "conn-rt-1", "conn-rt-0"]);
    assert_eq!(l.stats().accepted, 3);
    drop(stops);
}
