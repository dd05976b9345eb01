//! Bad input from a media peer, each a defined outcome: an in-process fake peer that speaks (or
//! breaks) chan_websocket's protocol. The real server's behaviour is covered in tests/media.rs.

use std::time::Duration;

use ari_sdk::media::{
    MediaCommand, MediaError, MediaEvent, MediaItem, MediaSession, SessionOptions,
};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const START_SLIN16: &str = "MEDIA_START connection_id:c1 channel:WebSocket/INCOMING/0x1 \
                            channel_id:ch1 format:slin16 optimal_frame_size:640 ptime:20";
const START_OPUS: &str = r#"{"event":"MEDIA_START","connection_id":"c2","channel":"WebSocket/INCOMING/0x2","channel_id":"ch2","format":"opus","optimal_frame_size":0,"ptime":20,"channel_variables":{}}"#;

/// A fake peer: accepts one WebSocket, sends `first` messages, then hands the socket to the test.
async fn peer(
    first: Vec<Message>,
) -> (
    WebSocketStream<MaybeTlsStream<TcpStream>>,
    tokio::task::JoinHandle<WebSocketStream<TcpStream>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        for m in first {
            ws.send(m).await.expect("send");
        }
        ws
    });
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/media/c1"))
        .await
        .expect("connect");
    (ws, server)
}

fn opts() -> SessionOptions {
    SessionOptions {
        start_timeout: Duration::from_secs(5),
        ..SessionOptions::default()
    }
}

#[tokio::test]
async fn binary_before_media_start_is_a_protocol_error() {
    let (ws, _server) = peer(vec![Message::Binary(Bytes::from_static(&[0; 640]))]).await;
    let err = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect_err("must refuse");
    assert!(
        matches!(&err, MediaError::Protocol(m) if m.contains("640-byte binary frame before MEDIA_START")),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_media_start_says_what_is_wrong() {
    let (ws, _server) = peer(vec![Message::text(
        "MEDIA_START connection_id:c1 channel:x channel_id:y format:slin16 optimal_frame_size:big ptime:20",
    )])
    .await;
    let err = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect_err("must refuse");
    assert!(
        err.to_string()
            .contains("`optimal_frame_size:big` is not a number"),
        "{err}"
    );
}

#[tokio::test]
async fn another_event_first_is_refused() {
    let (ws, _server) = peer(vec![Message::text("MEDIA_XON")]).await;
    let err = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect_err("must refuse");
    assert!(
        err.to_string().contains("expected MEDIA_START first"),
        "{err}"
    );
}

/// A malformed control frame and an unknown event, mid-session: each an item, and the session
/// goes on (audio after them still arrives), then the close is one `Closed` item.
#[tokio::test]
async fn malformed_and_unknown_control_frames_are_items() {
    let (ws, server) = peer(vec![
        Message::text(START_SLIN16),
        Message::text("{\"event\": oops"),
        Message::text("BRAND_NEW_EVENT x:1"),
        Message::text("{\"event\":\"DTMF_END\",\"digit\":\"12\"}"),
        Message::Binary(Bytes::from_static(&[1; 640])),
    ])
    .await;
    let mut session = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect("session");
    assert_eq!(session.format().frame_size, 640);
    assert_eq!(session.format().sample_rate, Some(16000));
    match session.recv().await {
        Some(MediaItem::BadControl(e)) => assert!(e.why.contains("not JSON"), "{e}"),
        other => panic!("{other:?}"),
    }
    match session.recv().await {
        Some(MediaItem::Event(MediaEvent::Unknown { name, raw })) => {
            assert_eq!(name, "BRAND_NEW_EVENT");
            assert_eq!(raw, "BRAND_NEW_EVENT x:1");
        }
        other => panic!("{other:?}"),
    }
    match session.recv().await {
        Some(MediaItem::BadControl(e)) => assert!(e.why.contains("not one DTMF digit"), "{e}"),
        other => panic!("{other:?}"),
    }
    match session.recv().await {
        Some(MediaItem::Audio(f)) => {
            assert_eq!(f.data.len(), 640);
            assert_eq!(&*f.format.name, "slin16");
        }
        other => panic!("{other:?}"),
    }
    let mut ws = server.await.expect("peer");
    ws.close(None).await.expect("close");
    match session.recv().await {
        Some(MediaItem::Closed(c)) => assert_eq!(c.error, None, "{c:?}"),
        other => panic!("{other:?}"),
    }
    assert!(session.recv().await.is_none());
}

/// A passthrough codec takes app-framed frames: an empty frame and audio of any length are
/// refused before sending; a proper frame goes out whole. For slin16, `send_frame` takes exactly
/// the frame size.
#[tokio::test]
async fn wrong_size_frames_are_refused() {
    let (ws, server) = peer(vec![Message::text(START_OPUS)]).await;
    let session = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect("session");
    let (mut tx, _rx) = session.split();
    assert!(tx.format().is_passthrough());
    let err = tx.send_frame(Bytes::new()).await.expect_err("empty");
    assert!(
        matches!(
            err,
            MediaError::FrameSize {
                got: 0,
                expected: None,
                ..
            }
        ),
        "{err}"
    );
    let err = tx.send_audio(&[0; 100]).await.expect_err("unframed");
    assert!(matches!(err, MediaError::NeedsFraming { .. }), "{err}");
    tx.send_frame(Bytes::from_static(&[7; 37]))
        .await
        .expect("frame");
    let mut ws = server.await.expect("peer");
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(b.len(), 37),
        other => panic!("{other:?}"),
    }

    let (ws, _server) = peer(vec![Message::text(START_SLIN16)]).await;
    let session = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect("session");
    let (mut tx, _rx) = session.split();
    let err = tx
        .send_frame(Bytes::from_static(&[0; 641]))
        .await
        .expect_err("641");
    assert!(
        matches!(
            err,
            MediaError::FrameSize {
                got: 641,
                expected: Some(640),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("exactly 640 bytes"), "{err}");
}

/// Commands the control format cannot carry, or too long for Asterisk, are refused before
/// sending; with a release given, commands that release lacks are refused too.
#[tokio::test]
async fn commands_checked_before_sending() {
    let (ws, _server) = peer(vec![Message::text(START_SLIN16)]).await;
    let release = ari_sdk::Release::new(22, 7, 0);
    let session = MediaSession::from_websocket(ws, Some(release), opts())
        .await
        .expect("session");
    let (mut tx, _rx) = session.split();
    let err = tx.mark("m").await.expect_err("22.7 has no MARK_MEDIA");
    assert!(matches!(err, MediaError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("22.8.0+"), "{err}");
    let err = tx
        .command(MediaCommand::SetMediaDirection(
            ari_sdk::media::MediaDirection::In,
        ))
        .await
        .expect_err("not on 22.7");
    assert!(matches!(err, MediaError::Unsupported { .. }), "{err}");

    let (ws, _server) = peer(vec![Message::text(START_SLIN16)]).await;
    let session = MediaSession::from_websocket(ws, None, opts())
        .await
        .expect("session");
    let (mut tx, _rx) = session.split();
    let err = tx
        .command(MediaCommand::SetMediaDirection(
            ari_sdk::media::MediaDirection::In,
        ))
        .await
        .expect_err("plain text");
    assert!(
        err.to_string().contains("cannot be sent in the PlainText"),
        "{err}"
    );
    let err = tx.mark("x".repeat(300)).await.expect_err("too long");
    assert!(err.to_string().contains("over 128"), "{err}");
}

/// Pacing, in tokio's paused time: with nobody draining but the clock, the sender keeps at most
/// `max_queued_frames` ahead of real time; on MEDIA_XOFF it stops until MEDIA_XON.
#[tokio::test(start_paused = true)]
async fn sender_paces_and_obeys_xoff() {
    let (ws, server) = peer(vec![Message::text(START_SLIN16)]).await;
    let options = SessionOptions {
        max_queued_frames: 10,
        ..opts()
    };
    let session = MediaSession::from_websocket(ws, None, options)
        .await
        .expect("session");
    let (mut tx, _rx) = session.split();
    let mut ws = server.await.expect("peer");
    let t0 = tokio::time::Instant::now();
    // 30 frames: the first 10 at once, then one per 20 ms.
    tx.send_audio(&vec![0u8; 640 * 30]).await.expect("send");
    let elapsed = t0.elapsed();
    assert_eq!(elapsed.as_millis() / 20, 20, "{elapsed:?}");
    assert!(tx.queued_estimate() <= 10);
    for _ in 0..30 {
        assert!(matches!(ws.next().await, Some(Ok(Message::Binary(_)))));
    }
    // XOFF: the next frame waits, however long, until XON.
    ws.send(Message::text("MEDIA_XOFF")).await.expect("xoff");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sending = tokio::spawn(async move {
        tx.send_audio(&[0u8; 640]).await.expect("send");
        tx
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!sending.is_finished(), "sent during XOFF");
    ws.send(Message::text("MEDIA_XON")).await.expect("xon");
    let tx = sending.await.expect("sender");
    assert!(matches!(ws.next().await, Some(Ok(Message::Binary(_)))));
    assert_eq!(tx.stats().xoffs, 1);
    assert_eq!(tx.stats().frames_sent, 31);
}
