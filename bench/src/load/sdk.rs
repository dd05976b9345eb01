//! The flow written with `ari-sdk` as its documentation suggests: a [`Router`] over the events
//! stream, a channel and a playback subscribed before they are created, typed events.

use std::time::{Duration, Instant};

use ari_sdk::routing::{Router, new_id};
use ari_sdk::{Client, Event, EventKind};

use super::{ChildReport, ENDPOINT, FlowConfig, FlowError, IdLog, MEDIA, drive, expect};

/// Runs the configured flows through the SDK.
pub async fn run(config: &FlowConfig) -> anyhow::Result<ChildReport> {
    let client = Client::builder()
        .base_url(&config.url)
        .credentials(&config.user, &config.password)
        .build()?;
    let events = client.event_stream().app(&config.app).connect().await?;
    let (router, _all_events) = Router::new(&client, events)?;
    // Only the per-resource streams are used.
    drop(_all_events);
    let rss_connected_kib = crate::procstat::rss_now_kib();
    let ids = IdLog::default();
    let mut report = drive(config, |_| {
        let (router, ids, app) = (router.clone(), ids.clone(), config.app.clone());
        let timeout = config.event_timeout;
        async move { flow(&router, &ids, &app, timeout).await }
    })
    .await;
    router.close();
    report.implementation = "sdk".into();
    report.channel_ids = ids.take();
    report.rss_connected_kib = rss_connected_kib;
    Ok(report)
}

/// One call: originate, answer and play on `StasisStart`, hang up on `PlaybackFinished`, done on
/// `StasisEnd`.
pub(super) async fn flow(
    router: &Router,
    ids: &IdLog,
    app: &str,
    timeout: Duration,
) -> Result<Duration, FlowError> {
    let mut channel = router.new_channel();
    let mut playback = router.new_playback();
    let other_half = new_id();
    ids.add(&[channel.handle.id(), &other_half]);
    let started = Instant::now();
    let result = async {
        channel
            .handle
            .originate_with_id(ENDPOINT)
            .app(app)
            .other_channel_id(&other_half)
            .variables([("BENCH_FLOW", "1"), ("BENCH_IMPL", "sdk")])
            .send()
            .await?;
        wait(&mut channel.events, EventKind::StasisStart, timeout).await?;
        channel.handle.answer().send().await?;
        channel
            .handle
            .play_with_id(playback.handle.id(), [MEDIA])
            .send()
            .await?;
        wait(&mut playback.events, EventKind::PlaybackFinished, timeout).await?;
        channel.handle.hangup().send().await?;
        wait(&mut channel.events, EventKind::StasisEnd, timeout).await?;
        Ok(started.elapsed())
    }
    .await;
    if result.is_err() {
        // Leave nothing behind; the channel may already be gone.
        let _ = channel.handle.hangup().send().await;
    }
    result
}

/// The next event of `kind` on a resource's stream.
async fn wait(
    events: &mut ari_sdk::routing::ResourceEvents,
    kind: EventKind,
    timeout: Duration,
) -> Result<Event, FlowError> {
    expect(kind.as_str(), timeout, events, |e: &Event| e.kind() == kind).await
}
