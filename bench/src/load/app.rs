//! The flow written as `ari-sdk`'s documentation recommends for an application: a
//! [`StasisApp`] whose handler runs as a task of its own for each call, with the call's own event
//! stream and a playback subscribed before it is started. The calls are originated from one task
//! that keeps K in flight and hears from each handler when its call is done; the handler does
//! everything else.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ari_sdk::routing::{Call, StasisApp, new_id};
use ari_sdk::{Client, Event, EventKind};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::{ChildReport, ENDPOINT, FlowConfig, FlowError, MEDIA, expect};

/// Runs the configured flows through a [`StasisApp`].
pub async fn run(config: &FlowConfig) -> anyhow::Result<ChildReport> {
    let client = Client::builder()
        .base_url(&config.url)
        .credentials(&config.user, &config.password)
        .max_connections(super::max_connections())
        .build()?;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, Result<(), FlowError>)>();
    let timeout = config.event_timeout;
    // BENCH_NO_FOLLOW=1: calls end at StasisEnd, without the per-call subscription request
    // that carries ChannelDestroyed after it (to measure what that costs).
    let follow = std::env::var_os("BENCH_NO_FOLLOW").is_none();
    let app = StasisApp::new(&client, &config.app)
        .follow_calls(follow)
        .run(move |call: Call| {
            let done = done_tx.clone();
            async move {
                let id = call.channel.id().to_owned();
                let result = handle(call, timeout).await;
                let _ = done.send((id, result));
            }
        });
    let app = tokio::spawn(app);
    // The app has registered with Asterisk once its events connection is up; wait for that
    // through the server rather than by time.
    wait_registered(&client, &config.app).await?;
    let rss_connected_kib = crate::procstat::rss_now_kib();

    let mut report = ChildReport {
        implementation: "app".into(),
        flows: config.flows,
        rss_connected_kib,
        ..ChildReport::default()
    };
    let mut live: HashMap<String, Instant> = HashMap::new();
    let mut originates = FuturesUnordered::new();
    let mut next = 0;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.deadline;
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    loop {
        while next < config.flows && live.len() < config.in_flight.max(1) {
            next += 1;
            let id = new_id();
            let other = new_id();
            report.channel_ids.push(id.clone());
            report.channel_ids.push(other.clone());
            live.insert(id.clone(), Instant::now());
            let request = client
                .channels()
                .originate_with_id(id.clone(), ENDPOINT)
                .app(&config.app)
                .other_channel_id(other)
                .variables([("BENCH_FLOW", "1"), ("BENCH_IMPL", "app")]);
            originates.push(async move { (id, request.send().await) });
        }
        if live.is_empty() && next >= config.flows {
            break;
        }
        tokio::select! {
            Some((id, result)) = done_rx.recv() => {
                let Some(at) = live.remove(&id) else { continue };
                match result {
                    Ok(()) => {
                        report.completed += 1;
                        report.latencies_us.push(at.elapsed().as_micros() as u64);
                    }
                    Err(e) => failed(&mut report, e),
                }
            }
            Some((id, result)) = originates.next(), if !originates.is_empty() => {
                if let Err(e) = result
                    && live.remove(&id).is_some()
                {
                    failed(&mut report, FlowError::Call(e.to_string()));
                }
            }
            _ = sweep.tick() => {
                // A call whose StasisStart never came has no handler to report it.
                let limit = config.event_timeout * 4;
                let late: Vec<String> = live
                    .iter()
                    .filter(|(_, at)| at.elapsed() > limit)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in late {
                    live.remove(&id);
                    failed(&mut report, FlowError::Lost("StasisStart"));
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                report.abandoned = live.len() + (config.flows - next);
                break;
            }
        }
    }
    report.wall_s = started.elapsed().as_secs_f64();
    app.abort();
    Ok(report)
}

fn failed(report: &mut ChildReport, e: FlowError) {
    match e {
        FlowError::Call(_) => report.errors += 1,
        FlowError::Lost(_) => report.events_lost += 1,
    }
    if report.error_samples.len() < 5 {
        report.error_samples.push(e.to_string());
    }
}

/// The handler of one call: answer, play, hang up when the playback has finished, done on
/// `StasisEnd`.
async fn handle(mut call: Call, timeout: Duration) -> Result<(), FlowError> {
    let result = async {
        call.channel.answer().send().await?;
        let mut playback = call.router.new_playback();
        call.channel
            .play_with_id(playback.handle.id(), [MEDIA])
            .send()
            .await?;
        wait(&mut playback.events, EventKind::PlaybackFinished, timeout).await?;
        call.channel.hangup().send().await?;
        wait(&mut call.events, EventKind::StasisEnd, timeout).await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = call.channel.hangup().send().await;
    }
    result
}

async fn wait(
    events: &mut ari_sdk::routing::ResourceEvents,
    kind: EventKind,
    timeout: Duration,
) -> Result<Event, FlowError> {
    expect(kind.as_str(), timeout, events, |e: &Event| e.kind() == kind).await
}

/// Waits until Asterisk lists the application (its events connection is up).
pub(crate) async fn wait_registered(client: &Client, app: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if client.applications().get(app).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("the application {app} did not register within 5 s")
}
