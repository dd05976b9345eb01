//! Call flows against a real Asterisk, in two implementations: the SDK ([`sdk`]) and a minimal
//! hand-written baseline ([`baseline`]: `reqwest`, `tokio-tungstenite`, `serde_json::Value`).
//!
//! One flow: originate `Local/wait@default` into the Stasis application with a client-made UUID
//! channel id (and one for the `;2` half, so that leftovers of both halves can be found); on
//! `StasisStart` answer and play `sound:beep` with a client-made playback id; on
//! `PlaybackFinished` hang up; done on `StasisEnd`. Its latency runs from just before the
//! originate to the `StasisEnd`.
//!
//! [`drive`] runs N flows with at most K in flight, bounded by a deadline. The load tool runs
//! each implementation in a child process of its own, so that CPU time and peak memory
//! ([`crate::procstat`]) belong to one implementation.

pub mod app;
pub mod baseline;
pub mod capture;
pub mod child;
pub mod sdk;
pub mod sdk_ws;
pub mod stream;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::procstat::Usage;

/// What one child process runs.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// ARI base URL, `http://127.0.0.1:8088/ari`.
    pub url: String,
    /// ARI user.
    pub user: String,
    /// ARI password.
    pub password: String,
    /// The Stasis application, unique to this child.
    pub app: String,
    /// Flows to run.
    pub flows: usize,
    /// Flows in flight at once.
    pub in_flight: usize,
    /// How long to wait for each expected event before counting it lost.
    pub event_timeout: Duration,
    /// The whole run's limit; flows still running then are abandoned and counted.
    pub deadline: Duration,
}

/// The dialplan target every flow originates.
pub const ENDPOINT: &str = "Local/wait@default";
/// The media every flow plays.
pub const MEDIA: &str = "sound:beep";

/// The SDK clients' connection limit: the SDK's default, or `BENCH_MAX_CONNECTIONS` (`0` for
/// none), to measure what the limit does.
pub fn max_connections() -> Option<usize> {
    match std::env::var("BENCH_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(ari_sdk::DEFAULT_MAX_CONNECTIONS),
    }
}

/// How one flow ended.
#[derive(Debug)]
pub enum FlowError {
    /// A REST call or the events connection failed.
    Call(String),
    /// An expected event did not come in time (or its stream ended first).
    Lost(&'static str),
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowError::Call(e) => write!(f, "call failed: {e}"),
            FlowError::Lost(kind) => write!(f, "event lost: {kind}"),
        }
    }
}

impl<E: std::error::Error> From<E> for FlowError {
    fn from(e: E) -> Self {
        FlowError::Call(e.to_string())
    }
}

/// What a child process reports to the parent (as JSON on its standard output).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// `sdk` or `baseline`.
    pub implementation: String,
    /// Flows started.
    pub flows: usize,
    /// Flows that completed.
    pub completed: usize,
    /// Flows that failed on a REST call or the connection.
    pub errors: usize,
    /// Flows that waited in vain for an expected event.
    pub events_lost: usize,
    /// Flows abandoned at the deadline.
    pub abandoned: usize,
    /// Latency of each completed flow, microseconds.
    pub latencies_us: Vec<u64>,
    /// Seconds from the first originate to the last flow's end.
    pub wall_s: f64,
    /// This process's CPU and memory at the end, startup and connection included.
    pub usage: Usage,
    /// Resident set once connected, before the first flow, KiB: the fixed part of `usage`'s peak.
    #[serde(default)]
    pub rss_connected_kib: u64,
    /// Every channel id the flows used (both halves), for the leftover check.
    pub channel_ids: Vec<String>,
    /// The first few error messages.
    pub error_samples: Vec<String>,
}

/// Ids a flow uses, recorded before it creates anything.
#[derive(Clone, Default)]
pub struct IdLog(Arc<Mutex<Vec<String>>>);

impl IdLog {
    /// Records ids.
    pub fn add(&self, ids: &[&str]) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.extend(ids.iter().map(|s| (*s).to_owned()));
    }

    /// Everything recorded.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs `config.flows` flows, at most `config.in_flight` at once, until done or the deadline.
/// `flow(i)` runs flow `i` and returns its latency.
pub async fn drive<F, Fut>(config: &FlowConfig, mut flow: F) -> ChildReport
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Duration, FlowError>> + Send + 'static,
{
    let mut report = ChildReport {
        flows: config.flows,
        ..ChildReport::default()
    };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.deadline;
    let mut tasks = JoinSet::new();
    let mut next = 0usize;
    loop {
        while next < config.flows && tasks.len() < config.in_flight.max(1) {
            tasks.spawn(flow(next));
            next += 1;
        }
        let joined = match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(joined)) => joined,
            Ok(None) => break,
            Err(_) => {
                report.abandoned = tasks.len() + (config.flows - next);
                tasks.abort_all();
                break;
            }
        };
        match joined {
            Ok(Ok(latency)) => {
                report.completed += 1;
                report.latencies_us.push(latency.as_micros() as u64);
            }
            Ok(Err(e)) => {
                match e {
                    FlowError::Call(_) => report.errors += 1,
                    FlowError::Lost(_) => report.events_lost += 1,
                }
                if report.error_samples.len() < 5 {
                    report.error_samples.push(e.to_string());
                }
            }
            Err(join) => {
                report.errors += 1;
                if report.error_samples.len() < 5 {
                    report.error_samples.push(format!("flow task: {join}"));
                }
            }
        }
    }
    report.wall_s = started.elapsed().as_secs_f64();
    report
}

/// Waits on `events` until one that `is_wanted` comes, skipping others; the end of the stream or
/// the timeout counts the event lost.
pub async fn expect<S, T>(
    wanted: &'static str,
    timeout: Duration,
    events: &mut S,
    mut is_wanted: impl FnMut(&T) -> bool,
) -> Result<T, FlowError>
where
    S: Stream<Item = T> + Unpin,
{
    let until = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(until, events.next()).await {
            Ok(Some(item)) if is_wanted(&item) => return Ok(item),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return Err(FlowError::Lost(wanted)),
        }
    }
}

/// A receiver as a [`Stream`], for [`expect`].
pub fn receiver_stream<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl Stream<Item = T> + Unpin + '_ {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Summary of one implementation over all its child runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// `sdk` or `baseline`.
    pub implementation: String,
    /// Child processes run.
    pub runs: usize,
    /// Flows started.
    pub flows: usize,
    /// Flows completed.
    pub completed: usize,
    /// Completed flows per second of flow time.
    pub flows_per_s: f64,
    /// Median flow latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile flow latency, milliseconds.
    pub p99_ms: f64,
    /// User + system CPU seconds of the child processes, summed.
    pub cpu_s: f64,
    /// CPU milliseconds per started flow.
    pub cpu_ms_per_flow: f64,
    /// Largest peak RSS of its child processes, MiB.
    pub peak_rss_mib: f64,
    /// Flows failed on a call.
    pub errors: usize,
    /// Flows that lost an expected event.
    pub events_lost: usize,
    /// Flows abandoned at a deadline.
    pub abandoned: usize,
    /// Channels of its flows still present after the grace period.
    pub channels_left: usize,
}

impl Summary {
    /// Adds up one implementation's child reports; `left[i]` is the leftover count of
    /// `reports[i]`.
    pub fn of(implementation: &str, reports: &[(ChildReport, usize)]) -> Summary {
        let mut s = Summary {
            implementation: implementation.to_owned(),
            runs: reports.len(),
            ..Summary::default()
        };
        let mut latencies = Vec::new();
        let mut wall = 0.0;
        let mut peak = 0u64;
        for (r, left) in reports {
            s.flows += r.flows;
            s.completed += r.completed;
            s.errors += r.errors;
            s.events_lost += r.events_lost;
            s.abandoned += r.abandoned;
            s.channels_left += left;
            s.cpu_s += r.usage.cpu_s();
            peak = peak.max(r.usage.peak_rss_kib);
            wall += r.wall_s;
            latencies.extend_from_slice(&r.latencies_us);
        }
        latencies.sort_unstable();
        s.flows_per_s = if wall > 0.0 {
            s.completed as f64 / wall
        } else {
            0.0
        };
        s.p50_ms = percentile(&latencies, 50.0) as f64 / 1000.0;
        s.p99_ms = percentile(&latencies, 99.0) as f64 / 1000.0;
        s.cpu_ms_per_flow = if s.flows > 0 {
            s.cpu_s * 1000.0 / s.flows as f64
        } else {
            0.0
        };
        s.peak_rss_mib = peak as f64 / 1024.0;
        s
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn summary_adds_up_runs() {
        let a = ChildReport {
            flows: 2,
            completed: 2,
            latencies_us: vec![1000, 3000],
            wall_s: 1.0,
            usage: Usage {
                user_s: 0.5,
                sys_s: 0.25,
                peak_rss_kib: 2048,
                proc_stat_cpu_s: 0.0,
            },
            ..ChildReport::default()
        };
        let b = ChildReport {
            flows: 2,
            completed: 1,
            events_lost: 1,
            latencies_us: vec![2000],
            wall_s: 2.0,
            usage: Usage {
                user_s: 0.25,
                sys_s: 0.0,
                peak_rss_kib: 4096,
                proc_stat_cpu_s: 0.0,
            },
            ..ChildReport::default()
        };
        let s = Summary::of("sdk", &[(a, 0), (b, 1)]);
        assert_eq!(
            (s.flows, s.completed, s.events_lost, s.channels_left),
            (4, 3, 1, 1)
        );
        assert!((s.flows_per_s - 1.0).abs() < 1e-9);
        assert!((s.cpu_s - 1.0).abs() < 1e-9);
        assert!((s.cpu_ms_per_flow - 250.0).abs() < 1e-9);
        assert!((s.peak_rss_mib - 4.0).abs() < 1e-9);
        assert_eq!((s.p50_ms, s.p99_ms), (2.0, 3.0));
    }

    #[tokio::test]
    async fn drive_bounds_concurrency_and_counts_outcomes() {
        let config = FlowConfig {
            url: String::new(),
            user: String::new(),
            password: String::new(),
            app: String::new(),
            flows: 10,
            in_flight: 3,
            event_timeout: Duration::from_millis(10),
            deadline: Duration::from_secs(10),
        };
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let report = drive(&config, |i| {
            let (live, most) = (live.clone(), most.clone());
            async move {
                use std::sync::atomic::Ordering::SeqCst;
                let now = live.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                tokio::task::yield_now().await;
                live.fetch_sub(1, SeqCst);
                match i % 5 {
                    0 => Err(FlowError::Lost("StasisEnd")),
                    1 => Err(FlowError::Call("boom".into())),
                    _ => Ok(Duration::from_millis(1)),
                }
            }
        })
        .await;
        assert_eq!(
            (report.completed, report.errors, report.events_lost),
            (6, 2, 2)
        );
        assert!(most.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn expect_skips_other_events_and_times_out() {
        let mut items = futures::stream::iter([3, 2, 1]);
        let got = expect("two", Duration::from_secs(1), &mut items, |v| *v == 2).await;
        assert_eq!(got.ok(), Some(2));
        let lost = expect(
            "nine",
            Duration::from_millis(20),
            &mut futures::stream::pending::<u8>(),
            |_| true,
        )
        .await;
        assert!(matches!(lost, Err(FlowError::Lost("nine"))));
    }
}
