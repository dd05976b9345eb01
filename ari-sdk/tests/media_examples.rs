//! The media examples, run against the real Asterisk 22.10.1: each example's logic is a
//! function, called here with a caller from the test dialplan. What the caller hears is taken
//! by Asterisk itself (a snoop channel on the caller, `spy=out`, recorded by ARI) and checked
//! as audio. Servers as in tests/media.rs.

#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/media_dtmf.rs"]
mod media_dtmf;
#[allow(dead_code)]
#[path = "../examples/media_echo.rs"]
mod media_echo;
#[allow(dead_code)]
#[path = "../examples/media_play.rs"]
mod media_play;
#[allow(dead_code)]
#[path = "../examples/media_record.rs"]
mod media_record;

use std::time::Duration;

use ari_sdk::routing::Router;
use ari_sdk::{Client, Event};
use futures::StreamExt;
use tokio::sync::mpsc;

const TEST_TIMEOUT: Duration = Duration::from_secs(90);

async fn server(test: &str) -> Option<Client> {
    let server = ari_test_env::server_or_skip(22, test)?;
    let client = Client::new(server.url, server.user, server.password).expect("client");
    client.connect().await.expect("the server answers");
    Some(client)
}

struct App {
    client: Client,
    /// Routes the app's events, for the examples' `connect_routed`; every event is also
    /// passed on to `events`.
    router: Router,
    name: String,
    events: mpsc::Receiver<Event>,
}

impl App {
    async fn start(client: &Client, test: &str) -> App {
        let name = format!("media-ex-{test}-{}", std::process::id());
        let stream = client
            .event_stream()
            .app(&name)
            .connect()
            .await
            .expect("events");
        let (router, mut stream) = Router::new(client, stream).expect("router");
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
            router,
            name,
            events: rx,
        }
    }

    async fn wait_event(&mut self, what: &str, mut pred: impl FnMut(&Event) -> bool) {
        while let Some(e) = self.events.recv().await {
            if pred(&e) {
                return;
            }
        }
        panic!("events ended before {what}");
    }

    async fn call(&mut self, endpoint: &str, tag: &str) -> String {
        let id = format!("{}-{tag}", self.name);
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

    /// Starts recording what `caller` hears: a snoop channel (spy=out) recorded by ARI.
    async fn listen_to(&mut self, caller: &str) -> (String, String) {
        let snoop_id = format!("{caller}-snoop");
        self.client
            .channels()
            .snoop_channel_with_id(caller, snoop_id.clone(), self.name.clone())
            .spy("out")
            .send()
            .await
            .expect("snoop");
        let want = snoop_id.clone();
        self.wait_event(
            "snoop StasisStart",
            |e| matches!(e, Event::StasisStart(s) if s.channel.id == want),
        )
        .await;
        let rec = format!("{snoop_id}-rec");
        self.client
            .channels()
            .record(snoop_id.clone(), rec.clone(), "wav")
            .if_exists("overwrite")
            .send()
            .await
            .expect("record");
        (snoop_id, rec)
    }

    /// Stops the recording and returns its samples and rate.
    async fn heard(&mut self, snoop: &str, rec: &str) -> (Vec<f64>, f64) {
        self.client
            .recordings()
            .stop(rec)
            .send()
            .await
            .expect("stop");
        let want = rec.to_owned();
        self.wait_event(
            "RecordingFinished",
            |e| matches!(e, Event::RecordingFinished(r) if r.recording.name == want),
        )
        .await;
        let wav = self
            .client
            .recordings()
            .get_stored_file(rec)
            .send()
            .await
            .expect("file");
        let _ = self.client.recordings().delete_stored(rec).send().await;
        let _ = self.client.channels().hangup(snoop).send().await;
        let reader = hound::WavReader::new(std::io::Cursor::new(wav.to_vec())).expect("wav");
        let rate = f64::from(reader.spec().sample_rate);
        (
            reader
                .into_samples::<i16>()
                .map(|s| f64::from(s.expect("sample")))
                .collect(),
            rate,
        )
    }
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

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

/// The loudest stretch of `x`, one second long (what was heard once the audio got going).
fn loudest_second(x: &[f64], rate: f64) -> &[f64] {
    let n = rate as usize;
    if x.len() <= n {
        return x;
    }
    let step = n / 4;
    let best = (0..=(x.len() - n) / step)
        .map(|i| i * step)
        .max_by(|a, b| rms(&x[*a..*a + n]).total_cmp(&rms(&x[*b..*b + n])))
        .unwrap_or(0);
    &x[best..best + n]
}

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out");
}

/// The echo bot: the caller (playing 440 Hz) hears 440 Hz back.
#[tokio::test]
async fn echo_bot_echoes_the_caller() {
    let Some(client) = server("echo").await else {
        return;
    };
    bounded(async {
        let mut app = App::start(&client, "echo").await;
        let caller = app.call("Local/tone@default", "caller").await;
        let (snoop, rec) = app.listen_to(&caller).await;
        let frames = media_echo::echo(&app.router, &app.name, &caller, Duration::from_secs(3))
            .await
            .expect("echo");
        assert!(frames >= 100, "echoed {frames} frames in 3 s");
        let (heard, rate) = app.heard(&snoop, &rec).await;
        let loud = loudest_second(&heard, rate);
        assert!(
            rms(loud) > 300.0,
            "the caller heard silence (rms {})",
            rms(loud)
        );
        assert!(
            tone_share(loud, rate, 440.0) > 0.5,
            "440 Hz share {}",
            tone_share(loud, rate, 440.0)
        );
        let _ = client.channels().hangup(&caller).send().await;
    })
    .await;
}

/// Play a file and wait for its mark: the silent caller hears the file's 900 Hz.
#[tokio::test]
async fn play_file_then_mark() {
    let Some(client) = server("play").await else {
        return;
    };
    bounded(async {
        let dir = std::env::temp_dir().join(format!("ari-media-play-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let wav = dir.join("tone.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).expect("create");
        for i in 0..32000 {
            let v = 8000.0 * (2.0 * std::f64::consts::PI * 900.0 * f64::from(i) / 16000.0).sin();
            w.write_sample(v as i16).expect("sample");
        }
        w.finalize().expect("finalize");

        let mut app = App::start(&client, "play").await;
        let caller = app.call("Local/wait@default", "caller").await;
        let (snoop, rec) = app.listen_to(&caller).await;
        let frames = media_play::play(&app.router, &app.name, &caller, &wav)
            .await
            .expect("play");
        assert_eq!(frames, 100, "2 s of 20 ms frames");
        let (heard, rate) = app.heard(&snoop, &rec).await;
        let loud = loudest_second(&heard, rate);
        assert!(
            rms(loud) > 1000.0,
            "the caller heard silence (rms {})",
            rms(loud)
        );
        assert!(
            tone_share(loud, rate, 900.0) > 0.5,
            "900 Hz share {}",
            tone_share(loud, rate, 900.0)
        );
        let _ = client.channels().hangup(&caller).send().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// Record the caller: the WAV holds 2 s of the caller's 440 Hz.
#[tokio::test]
async fn record_the_caller() {
    let Some(client) = server("record").await else {
        return;
    };
    bounded(async {
        let dir = std::env::temp_dir().join(format!("ari-media-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let wav = dir.join("caller.wav");
        let mut app = App::start(&client, "record").await;
        let caller = app.call("Local/tone@default", "caller").await;
        let samples = media_record::record(
            &app.router,
            &app.name,
            &caller,
            &wav,
            Duration::from_secs(2),
        )
        .await
        .expect("record");
        assert_eq!(samples, 32000);
        let reader = hound::WavReader::open(&wav).expect("wav");
        assert_eq!(reader.spec().sample_rate, 16000);
        let x: Vec<f64> = reader
            .into_samples::<i16>()
            .map(|s| f64::from(s.expect("s")))
            .collect();
        assert_eq!(x.len(), 32000);
        let loud = loudest_second(&x, 16000.0);
        assert!(rms(loud) > 300.0 && tone_share(loud, 16000.0, 440.0) > 0.5);
        let _ = client.channels().hangup(&caller).send().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// DTMF from the media socket: Local/dtmf@default presses 1 2 3.
#[tokio::test]
async fn dtmf_from_the_media_socket() {
    let Some(client) = server("dtmf").await else {
        return;
    };
    bounded(async {
        let mut app = App::start(&client, "dtmf").await;
        let caller = app.call("Local/dtmf@default", "caller").await;
        let digits = media_dtmf::collect(&app.router, &app.name, &caller, 3)
            .await
            .expect("collect");
        assert_eq!(digits, "123");
        let _ = client.channels().hangup(&caller).send().await;
    })
    .await;
}
