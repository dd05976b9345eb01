//! chan_websocket media sessions against the real Asterisk 22.10.1 (and 16.28.0, which must
//! refuse them), with the call's audio checked as audio: energy and a tone's frequency.
//!
//! Servers as in tests/examples.rs: `ARI_URL_22`, `ARI_URL_16`, `ARI_USER`, `ARI_PASSWORD`,
//! `ARI_REQUIRE_SERVERS=1`. The far ends are the dialplan of `cargo xtask asterisk up`:
//! `Local/tone@default` (Playtones(440)), `Local/dtmf-5@default`, `Local/wait@default`.

use std::time::Duration;

use ari_sdk::media::{
    ControlFormat, MediaError, MediaEvent, MediaItem, MediaReceiver, MediaSession, PacedRuntime,
    SessionOptions,
};
use ari_sdk::{Client, ErrorKind, Event};
use futures::StreamExt;
use tokio::sync::mpsc;

const TEST_TIMEOUT: Duration = Duration::from_secs(120);

async fn server(major: u16, test: &str) -> Option<Client> {
    let ari_test_env::Server {
        url,
        user,
        password,
        ..
    } = ari_test_env::server_or_skip(major, test)?;
    let client = Client::new(url, user, password).expect("client");
    client.connect().await.expect("the server answers");
    Some(client)
}

/// A Stasis application of the test's own, with its events in a channel.
struct App {
    client: Client,
    name: String,
    events: mpsc::Receiver<Event>,
}

impl App {
    async fn start(client: &Client, test: &str) -> App {
        let name = format!("media-{test}-{}", std::process::id());
        let mut stream = client
            .event_stream()
            .app(&name)
            .connect()
            .await
            .expect("events connect");
        let (tx, rx) = mpsc::channel(10_000);
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if let ari_sdk::events::StreamItem::Event(e) = item
                    && tx.send(e).await.is_err()
                {
                    break;
                }
            }
        });
        App {
            client: client.clone(),
            name,
            events: rx,
        }
    }

    async fn wait_event(&mut self, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
        while let Some(e) = self.events.recv().await {
            if pred(&e) {
                return e;
            }
        }
        panic!("events ended before {what}");
    }

    /// Originates `endpoint` into the app and waits for its StasisStart.
    async fn call(&mut self, endpoint: &str) -> String {
        let id = format!("{}-{}", self.name, uuid_like());
        self.client
            .channels()
            .originate_with_id(id.clone(), endpoint)
            .app(self.name.clone())
            .send()
            .await
            .expect("originate");
        let want = id.clone();
        self.wait_event(
            "StasisStart",
            |e| matches!(e, Event::StasisStart(s) if s.channel.id == want),
        )
        .await;
        id
    }

    /// Opens a media session and waits for its channel's StasisStart: `connect` returns once the
    /// socket is up, which can be before Asterisk puts the channel into the app, and a bridge
    /// refuses a channel that is not yet in Stasis.
    async fn media(
        &mut self,
        format: &str,
        control: Option<ControlFormat>,
    ) -> (String, MediaSession) {
        let mut b = self.client.websocket_media(self.name.clone(), format);
        if let Some(c) = control {
            b = b.control_format(c);
        }
        let (channel, session) = b.connect().await.expect("media session");
        let want = channel.id.clone();
        self.wait_event(
            "the media channel's StasisStart",
            |e| matches!(e, Event::StasisStart(s) if s.channel.id == want),
        )
        .await;
        (channel.id, session)
    }

    async fn bridge(&self, channels: &[&str]) -> String {
        let bridge = self
            .client
            .bridges()
            .create()
            .r#type("mixing")
            .send()
            .await
            .expect("bridge");
        self.client
            .bridges()
            .add_channel(bridge.id.clone(), channels.iter().copied())
            .send()
            .await
            .expect("add channels");
        bridge.id
    }

    async fn hangup(&self, id: &str) {
        let _ = self.client.channels().hangup(id).send().await;
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}", N.fetch_add(1, Ordering::Relaxed))
}

fn samples(pcm: &[u8]) -> Vec<f64> {
    pcm.chunks_exact(2)
        .map(|p| f64::from(i16::from_le_bytes([p[0], p[1]])))
        .collect()
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Goertzel power of `freq` in `x`, normalised by the signal's energy (1.0 for a pure tone at
/// `freq`, near 0 for a tone elsewhere).
fn tone_share(x: &[f64], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = x.iter().map(|v| v * v).sum();
    2.0 * power / (x.len() as f64 * energy.max(1e-9))
}

fn tone(rate: u32, freq: f64, secs: f64, amplitude: f64) -> Vec<u8> {
    let n = (f64::from(rate) * secs) as usize;
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        let v = amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin();
        out.extend_from_slice(&(v as i16).to_le_bytes());
    }
    out
}

/// Collects `n` audio frames, passing events to `events`.
async fn collect_audio(
    rx: &mut MediaReceiver,
    n: usize,
    events: &mut Vec<MediaEvent>,
) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while frames.len() < n {
        match rx.recv().await {
            Some(MediaItem::Audio(f)) => frames.push(f.data.to_vec()),
            Some(MediaItem::Event(e)) => events.push(e),
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("session ended"),
        }
    }
    frames
}

/// Stops recording `rec`, waits until Asterisk has finished it, and returns its sample rate
/// and samples.
async fn stop_and_fetch_recording(app: &mut App, rec: &str) -> (f64, Vec<f64>) {
    let client = app.client.clone();
    client.recordings().stop(rec).send().await.expect("stop");
    app.wait_event(
        "RecordingFinished",
        |e| matches!(e, Event::RecordingFinished(r) if r.recording.name == rec),
    )
    .await;
    let wav = client
        .recordings()
        .get_stored_file(rec)
        .send()
        .await
        .expect("file");
    let reader = hound::WavReader::new(std::io::Cursor::new(wav.to_vec())).expect("wav");
    let rate = f64::from(reader.spec().sample_rate);
    let x = reader
        .into_samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .collect();
    (rate, x)
}

/// Checks a recording of `freqs.len()` tone segments of `seg` seconds each: long enough, and
/// each segment's middle second holds its tone (energy, share of its frequency) and none of
/// the others.
fn assert_tone_segments(x: &[f64], rate: f64, freqs: &[f64], seg: f64) {
    let secs = x.len() as f64 / rate;
    let total = freqs.len() as f64 * seg;
    assert!(secs >= total - 0.5, "recording {secs} s for {total} s sent");
    // Find where the first tone starts, then check each segment's middle second.
    let onset = x
        .iter()
        .position(|v| v.abs() > 2000.0)
        .expect("no audio recorded");
    for (i, f) in freqs.iter().enumerate() {
        let mid = onset + ((i as f64 * seg + seg / 2.0 - 0.5) * rate) as usize;
        let win = &x[mid..mid + rate as usize];
        let share = tone_share(win, rate, *f);
        assert!(
            rms(win) > 1000.0 && share > 0.5,
            "segment {i} ({f} Hz): rms {}, share {share}",
            rms(win)
        );
        for (j, g) in freqs.iter().enumerate() {
            if j != i {
                assert!(tone_share(win, rate, *g) < 0.05, "segment {i} holds {g} Hz");
            }
        }
    }
}

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out");
}

/// A Local channel plays 440 Hz into a bridge with the media channel: the session gets frames of
/// the announced size and format, and they hold the tone. Both control formats.
#[tokio::test]
async fn receives_a_tone_in_both_control_formats() {
    let Some(client) = server(22, "receives_a_tone").await else {
        return;
    };
    for control in [ControlFormat::PlainText, ControlFormat::Json] {
        with_timeout(async {
            let mut app = App::start(&client, &format!("tone-{control:?}")).await;
            let (media_id, session) = app.media("slin16", Some(control)).await;
            assert_eq!(session.control_format(), control);
            let start = session.start().clone();
            assert_eq!(start.format, "slin16");
            assert_eq!(start.optimal_frame_size, 640);
            assert_eq!(start.ptime, 20);
            assert_eq!(start.channel_id, media_id);
            let caller = app.call("Local/tone@default").await;
            let bridge = app.bridge(&[&caller, &media_id]).await;
            let (_, mut rx) = session.split();
            let mut events = Vec::new();
            // Skip the first half second (bridge set-up), then analyse one second.
            let _ = collect_audio(&mut rx, 25, &mut events).await;
            let frames = collect_audio(&mut rx, 50, &mut events).await;
            assert!(frames.iter().all(|f| f.len() == 640), "frame sizes");
            let pcm: Vec<u8> = frames.concat();
            let x = samples(&pcm);
            let level = rms(&x);
            assert!(
                level > 300.0,
                "{control:?}: the tone is silence (rms {level})"
            );
            let at_440 = tone_share(&x, 16000.0, 440.0);
            let at_1000 = tone_share(&x, 16000.0, 1000.0);
            assert!(
                at_440 > 0.5 && at_1000 < 0.05,
                "{control:?}: 440 Hz share {at_440}, 1000 Hz share {at_1000}"
            );
            app.hangup(&caller).await;
            app.hangup(&media_id).await;
            let _ = client.bridges().destroy(bridge).send().await;
        })
        .await;
    }
}

/// The app sends 22 s of audio (four tones in a row) as fast as it can: Asterisk says
/// MEDIA_XOFF, the sender waits, MEDIA_XON lets it go on; a mark after the audio comes back
/// after all of it, and a bridge recording made by Asterisk holds all four tones, in order, for
/// the whole length.
#[tokio::test]
async fn flow_control_marks_and_recorded_audio() {
    let Some(client) = server(22, "flow_control").await else {
        return;
    };
    with_timeout(async {
        let mut app = App::start(&client, "flow").await;
        let (media_id, session) = app.media("slin16", Some(ControlFormat::Json)).await;
        let bridge = app.bridge(&[&media_id]).await;
        let rec = format!("{}-rec", app.name);
        client
            .bridges()
            .record(bridge.clone(), rec.clone(), "wav")
            .if_exists("overwrite")
            .send()
            .await
            .expect("record");
        let (mut tx, mut rx) = session.split();
        let freqs = [400.0, 700.0, 1000.0, 1300.0];
        let seg = 5.5;
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(item) = rx.recv().await {
                if let MediaItem::Event(e) = item {
                    let done = matches!(&e, MediaEvent::MediaMarkProcessed { correlation_id } if correlation_id.as_deref() == Some("end"));
                    seen.push(e);
                    if done {
                        break;
                    }
                }
            }
            (seen, rx)
        });
        for f in freqs {
            tx.send_audio(&tone(16000, f, seg, 8000.0)).await.expect("send");
        }
        tx.finish_audio().await.expect("finish");
        tx.mark("end").await.expect("mark");
        let (seen, _rx) = reader.await.expect("reader");
        let xoff = seen.iter().position(|e| *e == MediaEvent::MediaXoff);
        let xon = seen.iter().position(|e| *e == MediaEvent::MediaXon);
        assert!(xoff.is_some(), "no MEDIA_XOFF in {seen:?}");
        assert!(xon > xoff, "no MEDIA_XON after XOFF in {seen:?}");
        assert!(tx.stats().xoffs >= 1 && tx.stats().waits >= 1, "{:?}", tx.stats());
        assert_eq!(tx.stats().frames_sent, (freqs.len() as f64 * seg * 50.0) as u64);
        let (rate, x) = stop_and_fetch_recording(&mut app, &rec).await;
        assert_tone_segments(&x, rate, &freqs, seg);
        let _ = client.recordings().delete_stored(rec).send().await;
        app.hangup(&media_id).await;
        let _ = client.bridges().destroy(bridge).send().await;
    })
    .await;
}

/// Five frames per WebSocket message (`SessionOptions::frames_per_message`): Asterisk splits
/// them into frames itself, and what it records is all of the audio, in order.
#[tokio::test]
async fn several_frames_per_message_are_recorded_whole() {
    let Some(client) = server(22, "frames_per_message").await else {
        return;
    };
    with_timeout(async {
        let mut app = App::start(&client, "fpm").await;
        let (channel, session) = client
            .websocket_media(app.name.clone(), "slin16")
            .session_options(SessionOptions {
                frames_per_message: 5,
                ..Default::default()
            })
            .connect()
            .await
            .expect("media session");
        let media_id = channel.id;
        let want = media_id.clone();
        app.wait_event(
            "the media channel's StasisStart",
            |e| matches!(e, Event::StasisStart(s) if s.channel.id == want),
        )
        .await;
        let bridge = app.bridge(&[&media_id]).await;
        let rec = format!("{}-rec", app.name);
        client
            .bridges()
            .record(bridge.clone(), rec.clone(), "wav")
            .if_exists("overwrite")
            .send()
            .await
            .expect("record");
        let (mut tx, mut rx) = session.split();
        let reader = tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                if let MediaItem::Event(MediaEvent::MediaMarkProcessed { correlation_id }) = &item
                    && correlation_id.as_deref() == Some("end")
                {
                    break;
                }
            }
            rx
        });
        let freqs = [500.0, 1200.0];
        let seg = 2.0;
        for f in freqs {
            tx.send_audio(&tone(16000, f, seg, 8000.0))
                .await
                .expect("send");
        }
        tx.finish_audio().await.expect("finish");
        tx.mark("end").await.expect("mark");
        let _rx = reader.await.expect("reader");
        assert_eq!(
            tx.stats().frames_sent,
            (freqs.len() as f64 * seg * 50.0) as u64
        );
        let (rate, x) = stop_and_fetch_recording(&mut app, &rec).await;
        assert_tone_segments(&x, rate, &freqs, seg);
        let _ = client.recordings().delete_stored(rec).send().await;
        app.hangup(&media_id).await;
        let _ = client.bridges().destroy(bridge).send().await;
    })
    .await;
}

/// DTMF on the call arrives as DTMF_END; the far end hanging up the media channel closes the
/// session with one `Closed` item, then `None`.
#[tokio::test]
async fn dtmf_and_far_end_hangup() {
    let Some(client) = server(22, "dtmf").await else {
        return;
    };
    for control in [ControlFormat::PlainText, ControlFormat::Json] {
        with_timeout(async {
            let mut app = App::start(&client, &format!("dtmf-{control:?}")).await;
            let (media_id, session) = app.media("ulaw", Some(control)).await;
            assert_eq!(session.start().optimal_frame_size, 160);
            let caller = app.call("Local/dtmf-5@default").await;
            let bridge = app.bridge(&[&caller, &media_id]).await;
            let (_tx, mut rx) = session.split();
            loop {
                match rx.recv().await {
                    Some(MediaItem::Event(MediaEvent::DtmfEnd { digit })) => {
                        assert_eq!(digit, '5');
                        break;
                    }
                    Some(MediaItem::Closed(c)) => panic!("closed before DTMF: {c:?}"),
                    Some(_) => {}
                    None => panic!("ended"),
                }
            }
            app.hangup(&media_id).await;
            let closed = loop {
                match rx.recv().await {
                    Some(MediaItem::Closed(c)) => break c,
                    Some(_) => {}
                    None => panic!("no Closed item"),
                }
            };
            assert_eq!(closed.error, None, "{closed:?}");
            assert!(closed.code.is_some(), "{closed:?}");
            assert!(rx.recv().await.is_none());
            app.hangup(&caller).await;
            let _ = client.bridges().destroy(bridge).send().await;
        })
        .await;
    }
}

/// `HANGUP` from the app ends the channel; commands after the close are refused.
#[tokio::test]
async fn hangup_command_ends_the_call() {
    let Some(client) = server(22, "hangup").await else {
        return;
    };
    with_timeout(async {
        let mut app = App::start(&client, "hangup").await;
        // No per-call format: the server's chan_websocket.conf decides (json in the test
        // servers' config); the session learns it from MEDIA_START.
        let (media_id, session) = app.media("slin16", None).await;
        let (mut tx, mut rx) = session.split();
        tx.hangup().await.expect("hangup");
        let want = media_id.clone();
        app.wait_event(
            "ChannelDestroyed",
            |e| matches!(e, Event::ChannelDestroyed(d) if d.channel.id == want),
        )
        .await;
        loop {
            match rx.recv().await {
                Some(MediaItem::Closed(_)) => break,
                Some(_) => {}
                None => panic!("no Closed item"),
            }
        }
        assert!(matches!(
            tx.send_audio(&[0; 640]).await,
            Err(MediaError::Closed)
        ));
    })
    .await;
}

/// 16.28.0 has no chan_websocket: refused before the externalMedia request.
#[tokio::test]
async fn refused_on_16() {
    let Some(client) = server(16, "refused_on_16").await else {
        return;
    };
    let err = client
        .websocket_media("media-refused", "slin16")
        .connect()
        .await
        .expect_err("16.28 must refuse");
    match &err {
        MediaError::Unsupported { server, .. } => assert_eq!(server.major, 16),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("22.6.0+"), "{err}");
    // And the REST layer was not asked: no channel exists.
    let channels = client.channels().list().send().await.expect("list");
    assert!(channels.iter().all(|c| !c.name.starts_with("WebSocket/")));
    let _ = ErrorKind::Unsupported;
}

/// Marks come back in order after the audio before them; `STOP_MEDIA_BUFFERING` answers with its
/// correlation id; `FLUSH_MEDIA` empties Asterisk's queue (seen in `STATUS`). Both formats.
#[tokio::test]
async fn marks_buffering_and_flush() {
    let Some(client) = server(22, "marks").await else {
        return;
    };
    for control in [ControlFormat::PlainText, ControlFormat::Json] {
        with_timeout(async {
            let mut app = App::start(&client, &format!("marks-{control:?}")).await;
            let (media_id, session) = app.media("slin16", Some(control)).await;
            let (mut tx, mut rx) = session.split();
            let quiet = tone(16000, 500.0, 0.2, 1000.0);
            tx.send_audio(&quiet).await.expect("audio");
            tx.mark("first").await.expect("mark");
            tx.send_audio(&quiet).await.expect("audio");
            tx.mark("second").await.expect("mark");
            let mut marks = Vec::new();
            while marks.len() < 2 {
                if let MediaEvent::MediaMarkProcessed { correlation_id } = next_event(&mut rx).await
                {
                    marks.push(correlation_id.expect("id"));
                }
            }
            assert_eq!(marks, ["first", "second"]);

            // Bulk mode: a partial frame is kept across messages until STOP.
            tx.command(ari_sdk::media::MediaCommand::StartMediaBuffering)
                .await
                .expect("start");
            tx.send_audio(&quiet).await.expect("audio");
            tx.command(ari_sdk::media::MediaCommand::StopMediaBuffering {
                correlation_id: Some("bulk-1".into()),
            })
            .await
            .expect("stop");
            loop {
                if let MediaEvent::MediaBufferingCompleted { correlation_id } =
                    next_event(&mut rx).await
                {
                    assert_eq!(correlation_id.as_deref(), Some("bulk-1"));
                    break;
                }
            }

            // Ten seconds queued, then flushed.
            tx.send_audio(&tone(16000, 500.0, 10.0, 1000.0))
                .await
                .expect("audio");
            tx.command(ari_sdk::media::MediaCommand::GetStatus)
                .await
                .expect("status");
            let before = loop {
                if let MediaEvent::Status(s) = next_event(&mut rx).await {
                    break s;
                }
            };
            assert!(before.queue_length > 300, "{before:?}");
            tx.command(ari_sdk::media::MediaCommand::FlushMedia)
                .await
                .expect("flush");
            assert_eq!(tx.queued_estimate(), 0);
            tx.command(ari_sdk::media::MediaCommand::GetStatus)
                .await
                .expect("status");
            let after = loop {
                if let MediaEvent::Status(s) = next_event(&mut rx).await {
                    break s;
                }
            };
            assert_eq!(after.queue_length, 0, "{after:?}");
            app.hangup(&media_id).await;
        })
        .await;
    }
}

/// The next control event, skipping audio.
async fn next_event(rx: &mut MediaReceiver) -> MediaEvent {
    loop {
        match rx.recv().await {
            Some(MediaItem::Event(e)) => return e,
            Some(MediaItem::Audio(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Connection type `client`: Asterisk connects to the app's listener (websocket_client.conf
/// entry `media-client`, ws://127.0.0.1:8770/media, user media / media-secret), which checks its
/// credentials; the session is matched to its channel by MEDIA_START and carries the call's tone.
/// Asterisk also records what the app sends back, checked as a tone.
#[tokio::test]
async fn connection_type_client_both_ways() {
    let Some(client) = server(22, "client_type").await else {
        return;
    };
    with_timeout(async {
        let listener = ari_sdk::server::Listener::builder()
            .credentials("media", "media-secret")
            .protocol("media")
            .bind("127.0.0.1:8770")
            .await
            .expect("bind 8770");
        let media = ari_sdk::media::MediaListener::new(listener, Default::default());
        let mut app = App::start(&client, "client-type").await;
        let (channel, session) = client
            .websocket_media(app.name.clone(), "slin16")
            .control_format(ControlFormat::PlainText)
            .connect_via("media-client", &media)
            .await
            .expect("client-type session");
        assert_eq!(session.start().channel_id, channel.id);
        assert_eq!(session.control_format(), ControlFormat::PlainText);
        assert!(
            channel.name.starts_with("WebSocket/media-client/"),
            "{}",
            channel.name
        );
        let caller = app.call("Local/tone@default").await;
        let bridge = app.bridge(&[&caller, &channel.id]).await;
        let (mut tx, mut rx) = session.split();
        let mut events = Vec::new();
        let _ = collect_audio(&mut rx, 25, &mut events).await;
        let frames = collect_audio(&mut rx, 50, &mut events).await;
        let x = samples(&frames.concat());
        assert!(rms(&x) > 300.0 && tone_share(&x, 16000.0, 440.0) > 0.5);

        // The app's audio, recorded by Asterisk on the caller's side of the bridge.
        let rec = format!("{}-rec", app.name);
        client
            .bridges()
            .record(bridge.clone(), rec.clone(), "wav")
            .if_exists("overwrite")
            .send()
            .await
            .expect("record");
        tx.send_audio(&tone(16000, 1200.0, 2.0, 8000.0))
            .await
            .expect("send");
        tx.mark("sent").await.expect("mark");
        loop {
            if let MediaEvent::MediaMarkProcessed { .. } = next_event(&mut rx).await {
                break;
            }
        }
        let (rate, y) = stop_and_fetch_recording(&mut app, &rec).await;
        // The mix holds the caller's 440 Hz and the app's 1200 Hz.
        assert!(
            tone_share(&y, rate, 1200.0) > 0.1,
            "1200 Hz share {}",
            tone_share(&y, rate, 1200.0)
        );
        let _ = client.recordings().delete_stored(rec).send().await;
        app.hangup(&caller).await;
        app.hangup(&channel.id).await;
        let _ = client.bridges().destroy(bridge).send().await;
    })
    .await;
}

/// `connect_routed` returns only once the media channel is in the app: two media channels
/// bridged right after it returns are accepted every time (after a plain `connect`, the same
/// bridge can be refused with "Channel not in Stasis application"), and the returned events
/// show the channel entering the bridge.
#[tokio::test]
async fn connect_routed_channels_can_be_bridged_at_once() {
    let Some(client) = server(22, "connect_routed").await else {
        return;
    };
    with_timeout(async {
        let name = format!("media-routed-{}", std::process::id());
        let events = client
            .event_stream()
            .app(&name)
            .connect()
            .await
            .expect("events connect");
        let (router, mut unrouted) =
            ari_sdk::routing::Router::new(&client, events).expect("router");
        tokio::spawn(async move { while unrouted.next().await.is_some() {} });
        for round in 0..5 {
            let mut a = client
                .websocket_media(name.clone(), "slin16")
                .connect_routed(&router)
                .await
                .expect("media a");
            let b = client
                .websocket_media(name.clone(), "slin16")
                .connect_routed(&router)
                .await
                .expect("media b");
            let bridge =
                ari_sdk::media::helpers::bridge_with_media(&client, &a.channel.id, &b.channel.id)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: bridging at once: {e}"));
            loop {
                match a.events.next().await {
                    Some(Event::ChannelEnteredBridge(e)) => {
                        assert_eq!(e.bridge.id, bridge);
                        break;
                    }
                    Some(_) => {}
                    None => panic!("round {round}: events ended before ChannelEnteredBridge"),
                }
            }
            for id in [&a.channel.id, &b.channel.id] {
                let _ = client.channels().hangup(id.clone()).send().await;
            }
            let _ = client.bridges().destroy(bridge).send().await;
        }
    })
    .await;
}

/// A pool of two workers with a 40 ms tick, threads named `<name>-0` and `<name>-1`.
fn two_workers(name: &str) -> PacedRuntime {
    PacedRuntime::builder()
        .threads(2)
        .tick(Duration::from_millis(40))
        .thread_name(name)
        .build()
        .expect("pool")
}

/// Skips half a second (the bridge settling), then returns one second of audio and the name
/// of the thread that received it.
async fn one_second_heard(rx: &mut MediaReceiver) -> (Vec<u8>, Option<String>) {
    let mut events = Vec::new();
    let _ = collect_audio(rx, 25, &mut events).await;
    let frames = collect_audio(rx, 50, &mut events).await;
    let thread = std::thread::current().name().map(str::to_owned);
    (frames.concat(), thread)
}

/// Two media sessions on a [`PacedRuntime`] (two workers, a 40 ms tick), bridged with each
/// other: each sends its own tone and receives the other's, with the socket I/O and the tasks
/// on the pool's threads and the REST calls on the test's runtime.
#[tokio::test]
async fn paced_runtime_sessions_carry_audio_both_ways() {
    let Some(client) = server(22, "paced_runtime").await else {
        return;
    };
    with_timeout(async {
        let pool = two_workers("paced-media");
        let mut app = App::start(&client, "paced").await;
        let mut sides = Vec::new();
        for freq in [440.0, 1000.0] {
            let place = pool.handle();
            let (channel, session) = client
                .websocket_media(app.name.clone(), "slin16")
                .session_options(SessionOptions {
                    frames_per_message: 5,
                    ..Default::default()
                })
                .runtime(place.clone())
                .connect()
                .await
                .expect("media session");
            let want = channel.id.clone();
            app.wait_event(
                "the media channel's StasisStart",
                |e| matches!(e, Event::StasisStart(s) if s.channel.id == want),
            )
            .await;
            sides.push((channel.id, session, place, freq));
        }
        let bridge = app.bridge(&[&sides[0].0, &sides[1].0]).await;
        let mut receivers = Vec::new();
        let mut ids = Vec::new();
        for (id, session, place, freq) in sides {
            ids.push(id);
            let (mut tx, mut rx) = session.split();
            place.spawn(async move {
                tx.send_audio(&tone(16000, freq, 3.0, 8000.0))
                    .await
                    .expect("send");
                tx.finish_audio().await.expect("finish");
                // Keep the session open until the test ends it.
                std::future::pending::<()>().await;
            });
            receivers.push(place.spawn(async move { one_second_heard(&mut rx).await }));
        }
        // Each side hears the other's tone.
        let heard = [1000.0, 440.0];
        for (receiver, want) in receivers.into_iter().zip(heard) {
            let (pcm, thread) = receiver.await.expect("receiver");
            assert!(
                thread
                    .as_deref()
                    .is_some_and(|t| t.starts_with("paced-media-")),
                "received on {thread:?}, not on the pool"
            );
            let x = samples(&pcm);
            let other = if want == 440.0 { 1000.0 } else { 440.0 };
            let (share, leak) = (
                tone_share(&x, 16000.0, want),
                tone_share(&x, 16000.0, other),
            );
            assert!(
                rms(&x) > 1000.0 && share > 0.5 && leak < 0.05,
                "hearing {want} Hz: rms {}, share {share}, {other} Hz share {leak}",
                rms(&x)
            );
        }
        for id in &ids {
            app.hangup(id).await;
        }
        let _ = client.bridges().destroy(bridge).send().await;
        tokio::task::spawn_blocking(move || pool.shutdown())
            .await
            .expect("shutdown");
    })
    .await;
}

/// Connection type `client` on a [`PacedRuntime`]: the listener hands each connection that
/// Asterisk opens (websocket_client.conf entry `media-client-paced`, port 8771) to a worker,
/// the session's reader runs there ([`MediaSession::runtime`]), and a consumer spawned there
/// hears the caller's tone.
#[tokio::test]
async fn connection_type_client_on_a_paced_runtime() {
    let Some(client) = server(22, "client_type_paced").await else {
        return;
    };
    with_timeout(async {
        let pool = two_workers("paced-client");
        let listener = ari_sdk::server::Listener::builder()
            .credentials("media", "media-secret")
            .protocol("media")
            .connection_runtimes(pool.handles())
            .bind("127.0.0.1:8771")
            .await
            .expect("bind 8771");
        let media = ari_sdk::media::MediaListener::new(listener, Default::default());
        let mut app = App::start(&client, "client-paced").await;
        let (channel, session) = client
            .websocket_media(app.name.clone(), "slin16")
            .connect_via("media-client-paced", &media)
            .await
            .expect("client-type session");
        assert_eq!(session.start().channel_id, channel.id);
        let caller = app.call("Local/tone@default").await;
        let bridge = app.bridge(&[&caller, &channel.id]).await;
        let worker = session.runtime().clone();
        let (_tx, mut rx) = session.split();
        let (pcm, thread) = worker
            .spawn(async move { one_second_heard(&mut rx).await })
            .await
            .expect("consumer");
        assert!(
            thread
                .as_deref()
                .is_some_and(|t| t.starts_with("paced-client-")),
            "the session's runtime is {thread:?}, not a worker"
        );
        let x = samples(&pcm);
        assert!(
            rms(&x) > 300.0 && tone_share(&x, 16000.0, 440.0) > 0.5,
            "rms {}, 440 Hz share {}",
            rms(&x),
            tone_share(&x, 16000.0, 440.0)
        );
        app.hangup(&caller).await;
        app.hangup(&channel.id).await;
        let _ = client.bridges().destroy(bridge).send().await;
        tokio::task::spawn_blocking(move || pool.shutdown())
            .await
            .expect("shutdown");
    })
    .await;
}
