//! The flow written on `ari-sdk`'s plain event stream: one task reads
//! [`EventStream`](ari_sdk::events::EventStream)'s typed events, keeps each flow's state in a
//! table keyed by channel id, and runs the SDK's REST calls that the events call for as futures
//! of its own. The same structure as the minimal client (`bench/minimal`), with the SDK in place
//! of reqwest, tokio-tungstenite and `serde_json::Value`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ari_sdk::events::StreamItem;
use ari_sdk::routing::new_id;
use ari_sdk::{Client, Event};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::{ChildReport, ENDPOINT, FlowConfig, FlowError, MEDIA};

enum Step {
    Originating,
    Started,
    Playing,
    HungUp,
}

struct Flow {
    started: Instant,
    since: Instant,
    playback: String,
    step: Step,
}

type Call = Pin<Box<dyn Future<Output = (String, ari_sdk::Result<()>)> + Send>>;

/// Runs the configured flows on the plain event stream.
pub async fn run(config: &FlowConfig) -> anyhow::Result<ChildReport> {
    let client = Client::builder()
        .base_url(&config.url)
        .credentials(&config.user, &config.password)
        .max_connections(super::max_connections())
        .build()?;
    let mut events = client.event_stream().app(&config.app).connect().await?;
    let rss_connected_kib = crate::procstat::rss_now_kib();
    let mut report = ChildReport {
        implementation: "stream".into(),
        flows: config.flows,
        rss_connected_kib,
        ..ChildReport::default()
    };
    let mut flows: HashMap<String, Flow> = HashMap::new();
    let mut playbacks: HashMap<String, String> = HashMap::new();
    let mut calls: FuturesUnordered<Call> = FuturesUnordered::new();
    let mut next = 0;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.deadline;
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    loop {
        while next < config.flows && flows.len() < config.in_flight.max(1) {
            next += 1;
            let (channel, other, playback) = (new_id(), new_id(), new_id());
            report.channel_ids.push(channel.clone());
            report.channel_ids.push(other.clone());
            let now = Instant::now();
            flows.insert(
                channel.clone(),
                Flow {
                    started: now,
                    since: now,
                    playback: playback.clone(),
                    step: Step::Originating,
                },
            );
            playbacks.insert(playback, channel.clone());
            let request = client
                .channels()
                .originate_with_id(channel.clone(), ENDPOINT)
                .app(&config.app)
                .other_channel_id(other)
                .variables([("BENCH_FLOW", "1"), ("BENCH_IMPL", "stream")]);
            calls.push(Box::pin(async move {
                (channel, request.send().await.map(|_| ()))
            }));
        }
        if flows.is_empty() && next >= config.flows {
            break;
        }
        tokio::select! {
            item = events.next() => {
                let event = match item {
                    Some(StreamItem::Event(event)) => event,
                    Some(StreamItem::Undecoded(u)) => {
                        anyhow::bail!("an event did not decode: {u}");
                    }
                    Some(StreamItem::Error(e)) => anyhow::bail!("events: {e}"),
                    Some(StreamItem::Reconnected { .. }) => continue,
                    None => anyhow::bail!("the events connection ended"),
                };
                match event {
                    Event::StasisStart(e) => {
                        let channel = e.channel.id;
                        let Some(flow) = flows.get_mut(&channel) else { continue };
                        if !matches!(flow.step, Step::Originating | Step::Started) {
                            continue;
                        }
                        flow.step = Step::Playing;
                        flow.since = Instant::now();
                        let ops = client.channels();
                        let answer = ops.answer(channel.clone());
                        let play = ops.play_with_id(channel.clone(), flow.playback.clone(), [MEDIA]);
                        calls.push(Box::pin(async move {
                            let r = async {
                                answer.send().await?;
                                play.send().await.map(|_| ())
                            }
                            .await;
                            (channel, r)
                        }));
                    }
                    Event::PlaybackFinished(e) => {
                        let Some(channel) = playbacks.remove(&e.playback.id) else { continue };
                        let Some(flow) = flows.get_mut(&channel) else { continue };
                        flow.step = Step::HungUp;
                        flow.since = Instant::now();
                        let hangup = client.channels().hangup(channel.clone());
                        calls.push(Box::pin(async move { (channel, hangup.send().await) }));
                    }
                    Event::StasisEnd(e) => {
                        let Some(flow) = flows.remove(&e.channel.id) else { continue };
                        playbacks.remove(&flow.playback);
                        if matches!(flow.step, Step::HungUp) {
                            report.completed += 1;
                            report.latencies_us.push(flow.started.elapsed().as_micros() as u64);
                        } else {
                            failed(&mut report, FlowError::Lost("PlaybackFinished"));
                        }
                    }
                    _ => {}
                }
            }
            Some((channel, result)) = calls.next(), if !calls.is_empty() => {
                match result {
                    Ok(()) => {
                        if let Some(flow) = flows.get_mut(&channel)
                            && matches!(flow.step, Step::Originating)
                        {
                            flow.step = Step::Started;
                        }
                    }
                    Err(e) => {
                        if let Some(flow) = flows.remove(&channel) {
                            playbacks.remove(&flow.playback);
                            failed(&mut report, FlowError::Call(e.to_string()));
                            let hangup = client.channels().hangup(channel);
                            tokio::spawn(async move { let _ = hangup.send().await; });
                        }
                    }
                }
            }
            _ = sweep.tick() => {
                let timeout = config.event_timeout;
                let late: Vec<String> = flows
                    .iter()
                    .filter(|(_, f)| f.since.elapsed() > timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                for channel in late {
                    if let Some(flow) = flows.remove(&channel) {
                        playbacks.remove(&flow.playback);
                        failed(&mut report, FlowError::Lost("an event"));
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                report.abandoned = flows.len() + (config.flows - next);
                break;
            }
        }
    }
    report.wall_s = started.elapsed().as_secs_f64();
    events.close();
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
