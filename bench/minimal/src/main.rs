//! The least a hand-written ARI client does for the load tool's call flows, as a child of the
//! load tool (`load --impl minimal,...` starts it; it prints one JSON report as its last line).
//!
//! reqwest without default features, tokio-tungstenite, `serde_json::Value`, and ONE task that
//! does everything: it reads the events WebSocket, keeps the state of every flow in a table keyed
//! by channel id, and runs the REST calls the events call for as futures of its own
//! (`FuturesUnordered`), starting a new flow whenever one ends. No task or queue per flow, no
//! typed events, no reconnects, no release gating, no TLS.
//!
//! One flow, as in `ari-bench`'s `load` module: originate `Local/wait@default` into the app with
//! a client-made channel id (and one for the `;2` half); on `StasisStart` answer and play
//! `sound:beep` with a client-made playback id; on `PlaybackFinished` hang up; done on
//! `StasisEnd`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ENDPOINT: &str = "Local/wait@default";
const MEDIA: &str = "sound:beep";

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Config {
    url: String,
    user: String,
    password: String,
    app: String,
    flows: usize,
    in_flight: usize,
    event_timeout: Duration,
    deadline: Duration,
}

fn config() -> Result<Config, Error> {
    let mut c = Config {
        url: "http://127.0.0.1:8088/ari".into(),
        user: "asterisk".into(),
        password: "asterisk".into(),
        app: format!("ari-bench-minimal-{}", std::process::id()),
        flows: 500,
        in_flight: 20,
        event_timeout: Duration::from_secs(15),
        deadline: Duration::from_secs(240),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            return Err(format!("{pair:?}: an option without a value").into());
        };
        match key.as_str() {
            "--url" => c.url = value.trim_end_matches('/').to_owned(),
            "--user" => c.user = value.clone(),
            "--password" => c.password = value.clone(),
            "--app" => c.app = value.clone(),
            "--flows" => c.flows = value.parse()?,
            "--in-flight" => c.in_flight = value.parse::<usize>()?.max(1),
            "--event-timeout-secs" => c.event_timeout = Duration::from_secs(value.parse()?),
            "--deadline-secs" => c.deadline = Duration::from_secs(value.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(c)
}

#[tokio::main]
async fn main() {
    match run().await {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("minimal: {e}");
            std::process::exit(1);
        }
    }
}

/// Where a flow is.
enum Step {
    Originating,
    /// Waiting for `StasisStart`.
    Started,
    /// Answered and playing; waiting for `PlaybackFinished`.
    Playing,
    /// Hung up; waiting for `StasisEnd`.
    HungUp,
}

struct Flow {
    started: Instant,
    /// When the flow last moved on; a flow that waits longer than the event timeout is lost.
    since: Instant,
    playback: String,
    step: Step,
}

type Call = Pin<Box<dyn Future<Output = (String, Result<(), String>)> + Send>>;

#[derive(Default)]
struct Counts {
    completed: usize,
    errors: usize,
    lost: usize,
    latencies_us: Vec<u64>,
    channel_ids: Vec<String>,
    error_samples: Vec<String>,
}

impl Counts {
    fn failed(&mut self, lost: bool, why: String) {
        if lost {
            self.lost += 1;
        } else {
            self.errors += 1;
        }
        if self.error_samples.len() < 5 {
            self.error_samples.push(why);
        }
    }
}

async fn run() -> Result<Value, Error> {
    let c = config()?;
    let http = reqwest::Client::new();
    let ws_url = format!(
        "{}/events?app={}",
        c.url.replacen("http://", "ws://", 1),
        c.app
    );
    let mut request = ws_url.into_client_request()?;
    let auth = format!(
        "Basic {}",
        base64(format!("{}:{}", c.user, c.password).as_bytes())
    );
    request.headers_mut().insert("authorization", auth.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    let (mut ws_tx, mut ws_rx) = ws.split();
    let rss_connected_kib = rss_now_kib();

    let rest = Rest {
        http,
        base: c.url.clone(),
        user: c.user.clone(),
        password: c.password.clone(),
    };
    let mut flows: HashMap<String, Flow> = HashMap::new();
    let mut playbacks: HashMap<String, String> = HashMap::new();
    let mut calls: FuturesUnordered<Call> = FuturesUnordered::new();
    let mut counts = Counts::default();
    let mut next = 0usize;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + c.deadline;
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    let mut abandoned = 0;

    loop {
        while next < c.flows && flows.len() < c.in_flight {
            next += 1;
            let channel = uuid::Uuid::new_v4().to_string();
            let other = uuid::Uuid::new_v4().to_string();
            let playback = uuid::Uuid::new_v4().to_string();
            counts.channel_ids.push(channel.clone());
            counts.channel_ids.push(other.clone());
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
            let rest = rest.clone();
            let app = c.app.clone();
            calls.push(Box::pin(async move {
                let path = format!("/channels/{channel}");
                let body = json!({"variables": {"BENCH_FLOW": "1", "BENCH_IMPL": "minimal"}});
                let query = [
                    ("endpoint", ENDPOINT),
                    ("app", app.as_str()),
                    ("otherChannelId", other.as_str()),
                ];
                let r = rest
                    .call(reqwest::Method::POST, &path, &query, Some(body))
                    .await;
                (channel, r)
            }));
        }
        if flows.is_empty() && next >= c.flows {
            break;
        }
        tokio::select! {
            frame = ws_rx.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        return Err("the events connection ended".into());
                    }
                    Some(Ok(_)) => continue,
                };
                let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
                let id = |p: &str| event.pointer(p).and_then(Value::as_str).map(str::to_owned);
                match kind {
                    "StasisStart" => {
                        let Some(channel) = id("/channel/id") else { continue };
                        let Some(flow) = flows.get_mut(&channel) else { continue };
                        if !matches!(flow.step, Step::Originating | Step::Started) {
                            continue;
                        }
                        flow.step = Step::Playing;
                        flow.since = Instant::now();
                        let rest = rest.clone();
                        let playback = flow.playback.clone();
                        calls.push(Box::pin(async move {
                            let r = async {
                                rest.call(reqwest::Method::POST, &format!("/channels/{channel}/answer"), &[], None).await?;
                                rest.call(
                                    reqwest::Method::POST,
                                    &format!("/channels/{channel}/play/{playback}"),
                                    &[("media", MEDIA)],
                                    None,
                                )
                                .await
                            }
                            .await;
                            (channel, r)
                        }));
                    }
                    "PlaybackFinished" => {
                        let Some(playback) = id("/playback/id") else { continue };
                        let Some(channel) = playbacks.remove(&playback) else { continue };
                        let Some(flow) = flows.get_mut(&channel) else { continue };
                        flow.step = Step::HungUp;
                        flow.since = Instant::now();
                        let rest = rest.clone();
                        calls.push(Box::pin(async move {
                            let r = rest.call(reqwest::Method::DELETE, &format!("/channels/{channel}"), &[], None).await;
                            (channel, r)
                        }));
                    }
                    "StasisEnd" => {
                        let Some(channel) = id("/channel/id") else { continue };
                        let Some(flow) = flows.remove(&channel) else { continue };
                        playbacks.remove(&flow.playback);
                        if matches!(flow.step, Step::HungUp) {
                            counts.completed += 1;
                            counts.latencies_us.push(flow.started.elapsed().as_micros() as u64);
                        } else {
                            counts.failed(true, "event lost: StasisEnd before PlaybackFinished".into());
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
                            counts.failed(false, format!("call failed: {e}"));
                            let rest = rest.clone();
                            tokio::spawn(async move {
                                let _ = rest.call(reqwest::Method::DELETE, &format!("/channels/{channel}"), &[], None).await;
                            });
                        }
                    }
                }
            }
            _ = sweep.tick() => {
                let timeout = c.event_timeout;
                let late: Vec<String> = flows
                    .iter()
                    .filter(|(_, f)| f.since.elapsed() > timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                for channel in late {
                    if let Some(flow) = flows.remove(&channel) {
                        playbacks.remove(&flow.playback);
                        counts.failed(true, "event lost".into());
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                abandoned = flows.len() + (c.flows - next);
                break;
            }
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let _ = ws_tx.send(Message::Close(None)).await;
    let usage = usage()?;
    Ok(json!({
        "implementation": "minimal",
        "flows": c.flows,
        "completed": counts.completed,
        "errors": counts.errors,
        "events_lost": counts.lost,
        "abandoned": abandoned,
        "latencies_us": counts.latencies_us,
        "wall_s": wall_s,
        "usage": usage,
        "rss_connected_kib": rss_connected_kib,
        "channel_ids": counts.channel_ids,
        "error_samples": counts.error_samples,
    }))
}

#[derive(Clone)]
struct Rest {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Rest {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(), String> {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the body so that the connection goes back to the pool.
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(())
    }
}

/// Percent-encodes a query value (the few characters these flows' values hold).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn rss_now_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's CPU (getrusage) and peak RSS, as `ari_bench::procstat::Usage` serializes.
fn usage() -> Result<Value, Error> {
    let r = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(json!({
        "user_s": s(r.user_time()),
        "sys_s": s(r.system_time()),
        "peak_rss_kib": status_kib("VmHWM:"),
        "proc_stat_cpu_s": 0.0,
    }))
}
