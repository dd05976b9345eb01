//! Records a corpus of real events for the decode benchmark: a richer scenario than the load
//! flow (two channels, a bridge, playlists, a recording, a snoop, a user event, variables, hold,
//! a dial, a device state), run through the baseline client with every WebSocket text frame kept
//! exactly as received.
//!
//! Steps whose REST call fails are skipped (an older server may lack one); each scenario cleans up
//! after itself whatever happened.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::baseline::{Ari, FrameLog};
use super::{ENDPOINT, FlowConfig, FlowError, expect, receiver_stream};

/// Runs `config.flows` scenarios, `config.in_flight` at once, and returns every frame received.
pub async fn run(config: &FlowConfig) -> anyhow::Result<Vec<String>> {
    let frames = FrameLog::default();
    let ari = Ari::connect(config, Some(frames.clone())).await?;
    let report = super::drive(config, |i| {
        let (ari, app) = (ari.clone(), config.app.clone());
        let timeout = config.event_timeout;
        async move {
            scenario(&ari, &app, i, timeout).await;
            Ok(Duration::ZERO)
        }
    })
    .await;
    // Let the last events (ChannelDestroyed, BridgeDestroyed) arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if report.abandoned > 0 {
        eprintln!(
            "capture: {} scenarios abandoned at the deadline",
            report.abandoned
        );
    }
    let frames = std::mem::take(&mut *frames.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(frames)
}

/// One scenario; failures of single steps are reported on standard error and skipped.
async fn scenario(ari: &Ari, app: &str, index: usize, timeout: Duration) {
    let id = || uuid::Uuid::new_v4().to_string();
    let (a, a2, b, b2, bridge, snoop, dialed, pb_bridge, pb_chan) =
        (id(), id(), id(), id(), id(), id(), id(), id(), id());
    let recording = format!("ari-bench-{}", id());
    let device = format!("Stasis:ari-bench-{index}");
    let mut events = ari.subscribe(&[&a, &b, &snoop, &dialed, &pb_bridge, &pb_chan]);
    let step = |what: &'static str, r: anyhow::Result<Value>| {
        if let Err(e) = r {
            eprintln!("capture: {what}: {e:#}");
        }
    };
    let pause = || tokio::time::sleep(Duration::from_millis(200));

    for (chan, other, caller) in [(&a, &a2, "Alice <100>"), (&b, &b2, "Bob <200>")] {
        step(
            "originate",
            ari.call(
                Method::POST,
                &format!("/channels/{chan}"),
                &[
                    ("endpoint", ENDPOINT),
                    ("app", app),
                    ("appArgs", "capture,rich"),
                    ("otherChannelId", other),
                    ("callerId", caller),
                ],
                Some(json!({"variables": {"CAPTURE": "1", "CALLERID(name)": "Capture"}})),
            )
            .await,
        );
    }
    for _ in 0..2 {
        let _: Result<Value, FlowError> = expect(
            "StasisStart",
            timeout,
            &mut receiver_stream(&mut events),
            |e: &Value| e["type"] == "StasisStart",
        )
        .await;
    }
    step(
        "answer",
        ari.call(Method::POST, &format!("/channels/{a}/answer"), &[], None)
            .await,
    );
    step(
        "set var",
        ari.call(
            Method::POST,
            &format!("/channels/{a}/variable"),
            &[("variable", "BENCH_VAR"), ("value", "some value")],
            None,
        )
        .await,
    );
    step(
        "set connected line",
        ari.call(
            Method::POST,
            &format!("/channels/{a}/variable"),
            &[("variable", "CONNECTEDLINE(name)"), ("value", "Connected")],
            None,
        )
        .await,
    );
    step(
        "ring",
        ari.call(Method::POST, &format!("/channels/{b}/ring"), &[], None)
            .await,
    );
    step(
        "create bridge",
        ari.call(
            Method::POST,
            &format!("/bridges/{bridge}"),
            &[("type", "mixing"), ("name", "capture")],
            None,
        )
        .await,
    );
    step(
        "add channels",
        ari.call(
            Method::POST,
            &format!("/bridges/{bridge}/addChannel"),
            &[("channel", &format!("{a},{b}"))],
            None,
        )
        .await,
    );
    pause().await;
    step(
        "bridge playlist",
        ari.call(
            Method::POST,
            &format!("/bridges/{bridge}/play/{pb_bridge}"),
            &[("media", "sound:beep,digits:12,sound:beep")],
            None,
        )
        .await,
    );
    let _ = expect(
        "PlaybackFinished",
        timeout,
        &mut receiver_stream(&mut events),
        |e: &Value| e["type"] == "PlaybackFinished",
    )
    .await;
    step(
        "record bridge",
        ari.call(
            Method::POST,
            &format!("/bridges/{bridge}/record"),
            &[
                ("name", &recording),
                ("format", "wav"),
                ("maxDurationSeconds", "1"),
                ("ifExists", "overwrite"),
            ],
            None,
        )
        .await,
    );
    step(
        "user event",
        ari.call(
            Method::POST,
            "/events/user/BenchCapture",
            &[("application", app), ("source", &format!("channel:{a}"))],
            Some(json!({"variables": {"step": "user event", "index": index.to_string()}})),
        )
        .await,
    );
    step(
        "hold",
        ari.call(Method::POST, &format!("/channels/{a}/hold"), &[], None)
            .await,
    );
    step(
        "dtmf",
        ari.call(
            Method::POST,
            &format!("/channels/{b}/dtmf"),
            &[("dtmf", "12#")],
            None,
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    step(
        "unhold",
        ari.call(Method::DELETE, &format!("/channels/{a}/hold"), &[], None)
            .await,
    );
    step(
        "remove from bridge",
        ari.call(
            Method::POST,
            &format!("/bridges/{bridge}/removeChannel"),
            &[("channel", &b)],
            None,
        )
        .await,
    );
    step(
        "channel playback",
        ari.call(
            Method::POST,
            &format!("/channels/{b}/play/{pb_chan}"),
            &[("media", "sound:beep")],
            None,
        )
        .await,
    );
    step(
        "snoop",
        ari.call(
            Method::POST,
            &format!("/channels/{b}/snoop/{snoop}"),
            &[("app", app), ("spy", "both"), ("appArgs", "snoop")],
            None,
        )
        .await,
    );
    step(
        "subscribe device",
        ari.call(
            Method::POST,
            &format!("/applications/{app}/subscription"),
            &[("eventSource", &format!("deviceState:{device}"))],
            None,
        )
        .await,
    );
    step(
        "device busy",
        ari.call(
            Method::PUT,
            &format!("/deviceStates/{device}"),
            &[("deviceState", "BUSY")],
            None,
        )
        .await,
    );
    step(
        "create for dial",
        ari.call(
            Method::POST,
            "/channels/create",
            &[("endpoint", ENDPOINT), ("app", app), ("channelId", &dialed)],
            None,
        )
        .await,
    );
    pause().await;
    step(
        "dial",
        ari.call(
            Method::POST,
            &format!("/channels/{dialed}/dial"),
            &[("timeout", "5")],
            None,
        )
        .await,
    );
    pause().await;
    pause().await;
    step(
        "destroy bridge",
        ari.call(Method::DELETE, &format!("/bridges/{bridge}"), &[], None)
            .await,
    );
    for chan in [&snoop, &dialed, &a, &b] {
        step(
            "hang up",
            ari.call(
                Method::DELETE,
                &format!("/channels/{chan}"),
                &[("reason", "normal")],
                None,
            )
            .await,
        );
    }
    step(
        "device gone",
        ari.call(
            Method::DELETE,
            &format!("/deviceStates/{device}"),
            &[],
            None,
        )
        .await,
    );
    step(
        "unsubscribe device",
        ari.call(
            Method::DELETE,
            &format!("/applications/{app}/subscription"),
            &[("eventSource", &format!("deviceState:{device}"))],
            None,
        )
        .await,
    );
    pause().await;
    step(
        "delete recording",
        ari.call(
            Method::DELETE,
            &format!("/recordings/stored/{recording}"),
            &[],
            None,
        )
        .await,
    );
    ari.unsubscribe(&[&a, &b, &snoop, &dialed, &pb_bridge, &pb_chan]);
}
