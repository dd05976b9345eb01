//! Load tool: N call flows with K in flight against a real Asterisk, through several
//! implementations (the SDK's ways and hand-written clients), alternating in one invocation,
//! each run in a child process of its own.
//!
//! ```text
//! cargo build --release -p ari-bench --bin load --bin sdk_app --bin sdk_stream && cargo build --release -p ari-bench-minimal
//! target/release/load --flows 500 --in-flight 50 --impl app,stream,minimal
//! ```
//!
//! With `--impl A,B,C` and `--rounds R`, each implementation runs `flows / R` flows per child,
//! in the order A, B, C, C, B, A, A, ... (ABBA, so that a drift of the server's speed during
//! the run weighs on all alike), after an unmeasured warm-up run
//! (`--warmup-flows`). After each child the parent lists the server's
//! channels and counts those the child created that are still there after a grace period
//! (then hangs them up).
//!
//! `--capture FILE` instead runs a richer scenario through the baseline client and writes every
//! event frame received to FILE, one per line: the decode benchmark's corpus.
//!
//! Traffic goes to loopback addresses only; every run is bounded by `--deadline-secs`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use ari_bench::load::{self, ChildReport, FlowConfig, Summary};
use clap::{Parser, ValueEnum};
use tokio::io::AsyncReadExt;

/// What a child process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ChildKind {
    /// The SDK with a `Router` and subscriptions made before creation, one task per flow
    /// (`load::sdk`).
    Sdk,
    /// The hand-written reqwest + tokio-tungstenite + `Value` flow with a per-flow queue
    /// (`load::baseline`).
    Baseline,
    /// The minimal hand-written client: one dispatcher task, no per-flow queues, a binary of
    /// its own without the SDK (`bench/minimal`, the `minimal` binary next to this one).
    Minimal,
    /// The SDK as its docs recommend for an application: `StasisApp`, a task per call
    /// (`load::app`).
    App,
    /// The SDK's plain event stream, one dispatcher task (`load::stream`).
    Stream,
    /// The SDK flows, REST over the events WebSocket.
    SdkWs,
}

impl ChildKind {
    fn name(self) -> &'static str {
        match self {
            ChildKind::Sdk => "sdk",
            ChildKind::Baseline => "baseline",
            ChildKind::Minimal => "minimal",
            ChildKind::App => "app",
            ChildKind::Stream => "stream",
            ChildKind::SdkWs => "sdk-ws",
        }
    }
}

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "ARI call-flow load: ari-sdk against a hand-written baseline")]
struct Args {
    /// Flows per implementation.
    #[arg(long, default_value_t = 500)]
    flows: usize,
    /// Flows in flight at once.
    #[arg(long, default_value_t = 20)]
    in_flight: usize,
    /// ARI base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8088/ari")]
    url: String,
    /// ARI user.
    #[arg(long, default_value = "asterisk")]
    user: String,
    /// ARI password.
    #[arg(long, default_value = "asterisk")]
    password: String,
    /// Implementations to run, comma-separated; each round runs them in this order, the next
    /// round in the reverse order (ABBA). Ratios are against the last one listed.
    #[arg(long = "impl", value_enum, value_delimiter = ',', default_values_t = [ChildKind::App, ChildKind::Stream, ChildKind::Minimal])]
    which: Vec<ChildKind>,
    /// Child runs per implementation; each runs flows / rounds flows.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Seconds to wait for each expected event before counting it lost.
    #[arg(long, default_value_t = 15)]
    event_timeout_secs: u64,
    /// Limit of one child run, seconds.
    #[arg(long, default_value_t = 240)]
    deadline_secs: u64,
    /// Seconds to wait between child runs, for the server to settle.
    #[arg(long, default_value_t = 2)]
    settle_secs: u64,
    /// Flows of an unmeasured baseline run first, so that the first measured run does not meet
    /// a server that has been idle (thread pools, caches); 0 for none.
    #[arg(long, default_value_t = 100)]
    warmup_flows: usize,
    /// Write the summaries and every child report to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Record a corpus of real events into this file instead of measuring.
    #[arg(long)]
    capture: Option<PathBuf>,
    /// Asterisk's process id, to report its CPU time per flow (read from /proc/PID/stat before
    /// and after each child run); without it, Asterisk's CPU is not reported.
    #[arg(long)]
    asterisk_pid: Option<u32>,
    /// Internal: run as a child.
    #[arg(long, value_enum, hide = true)]
    child: Option<ChildKind>,
    /// Internal: the child's Stasis application.
    #[arg(long, hide = true)]
    app: Option<String>,
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    check_loopback(&args.url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(kind) = args.child {
        let report = runtime.block_on(child(&args, kind))?;
        drop(runtime);
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Some(path) = &args.capture {
        return runtime.block_on(capture(&args, path));
    }
    runtime.block_on(parent(&args))
}

/// Refuses anything but a loopback host.
fn check_loopback(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("--url {url}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        bail!("--url must point at a loopback address (127.0.0.0/8, ::1, localhost)");
    }
    Ok(())
}

fn flow_config(args: &Args, app: String, flows: usize) -> FlowConfig {
    FlowConfig {
        url: args.url.clone(),
        user: args.user.clone(),
        password: args.password.clone(),
        app,
        flows,
        in_flight: args.in_flight,
        event_timeout: Duration::from_secs(args.event_timeout_secs),
        deadline: Duration::from_secs(args.deadline_secs),
    }
}

/// A child: runs one implementation's flows and reports, usage read last.
async fn child(args: &Args, kind: ChildKind) -> anyhow::Result<ChildReport> {
    let app = args
        .app
        .clone()
        .unwrap_or_else(|| format!("ari-bench-{}-{}", kind.name(), std::process::id()));
    let config = flow_config(args, app, args.flows);
    let mut report = match kind {
        ChildKind::Sdk => load::sdk::run(&config).await?,
        ChildKind::Baseline => load::baseline::run(&config).await?,
        ChildKind::App => load::app::run(&config).await?,
        ChildKind::Stream => load::stream::run(&config).await?,
        ChildKind::Minimal => bail!("the minimal client is a binary of its own"),
        ChildKind::SdkWs => load::sdk_ws::run(&config).await?,
    };
    report.usage = ari_bench::procstat::current()?;
    Ok(report)
}

/// The parent: plans the runs, starts the children, checks for leftovers, sums up.
async fn parent(args: &Args) -> anyhow::Result<()> {
    let rounds = args.rounds.max(1);
    let per_child = args.flows.div_ceil(rounds);
    if args.which.is_empty() {
        bail!("--impl names no implementation");
    }
    let plan: Vec<ChildKind> = (0..rounds)
        .flat_map(|r| {
            let mut order = args.which.clone();
            if r % 2 == 1 {
                order.reverse();
            }
            order
        })
        .collect();
    // Asterisk's CPU seconds and flows per implementation, when its pid is known.
    let mut asterisk_cpu: std::collections::HashMap<&'static str, (f64, usize)> =
        Default::default();
    let exe = std::env::current_exe().context("locating this program")?;
    let http = ari_bench::plain_reqwest();
    if args.warmup_flows > 0 {
        let app = format!("ari-bench-warmup-{}", std::process::id());
        eprintln!(
            "warm-up: baseline ({} flows, not counted)",
            args.warmup_flows
        );
        let report = run_child(args, &exe, ChildKind::Baseline, &app, args.warmup_flows).await?;
        leftovers(args, &http, &report.channel_ids).await?;
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    }
    let mut results: Vec<(ChildKind, ChildReport, usize)> = Vec::new();
    for (i, kind) in plan.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        }
        let app = format!("ari-bench-{}-{}-{i}", kind.name(), std::process::id());
        eprintln!(
            "run {}/{}: {} ({per_child} flows, {} in flight)",
            i + 1,
            plan.len(),
            kind.name(),
            args.in_flight
        );
        let before = args.asterisk_pid.map(process_cpu_s).transpose()?;
        let report = run_child(args, &exe, *kind, &app, per_child).await?;
        if let (Some(pid), Some(before)) = (args.asterisk_pid, before) {
            let used = process_cpu_s(pid)? - before;
            let entry = asterisk_cpu.entry(kind.name()).or_default();
            entry.0 += used;
            entry.1 += report.flows;
            eprintln!(
                "  Asterisk CPU {used:.2} s ({:.2} ms/flow)",
                used * 1000.0 / report.flows.max(1) as f64
            );
        }
        let left = leftovers(args, &http, &report.channel_ids).await?;
        eprintln!(
            "  {} completed, {} errors, {} lost, {} abandoned, {left} channels left; {:.2} s, cpu {:.3} s (/proc/self/stat: {:.2} s), RSS {:.1} MiB connected, {:.1} MiB peak",
            report.completed,
            report.errors,
            report.events_lost,
            report.abandoned,
            report.wall_s,
            report.usage.cpu_s(),
            report.usage.proc_stat_cpu_s,
            report.rss_connected_kib as f64 / 1024.0,
            report.usage.peak_rss_kib as f64 / 1024.0
        );
        for e in &report.error_samples {
            eprintln!("  e.g. {e}");
        }
        results.push((*kind, report, left));
    }

    let summary = |kind: ChildKind| {
        let mine: Vec<(ChildReport, usize)> = results
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, r, l)| (r.clone(), *l))
            .collect();
        (!mine.is_empty()).then(|| Summary::of(kind.name(), &mine))
    };
    let mut kinds = args.which.clone();
    kinds.dedup();
    let summaries: Vec<Summary> = kinds.into_iter().filter_map(summary).collect();
    print_table(args, &summaries);
    print_transports(&summaries, &asterisk_cpu);
    if let Some(path) = &args.json {
        let reports: Vec<&ChildReport> = results.iter().map(|(_, r, _)| r).collect();
        let doc = serde_json::json!({
            "flows": args.flows,
            "in_flight": args.in_flight,
            "rounds": rounds,
            "summaries": summaries,
            "runs": reports.iter().map(|r| serde_json::json!({
                "implementation": r.implementation,
                "flows": r.flows,
                "completed": r.completed,
                "errors": r.errors,
                "events_lost": r.events_lost,
                "wall_s": r.wall_s,
                "usage": r.usage,
                "rss_connected_kib": r.rss_connected_kib,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Starts one child and reads its report; kills it past its deadline.
async fn run_child(
    args: &Args,
    exe: &std::path::Path,
    kind: ChildKind,
    app: &str,
    flows: usize,
) -> anyhow::Result<ChildReport> {
    // The minimal client and the SDK applications run as binaries of their own, so that
    // their memory holds none of this tool's code.
    let sibling = |name: &str, build: &str| -> anyhow::Result<tokio::process::Command> {
        let path = exe.with_file_name(name);
        if !path.exists() {
            bail!("{} is missing: build it with `{build}`", path.display());
        }
        Ok(tokio::process::Command::new(path))
    };
    let mut command = if kind == ChildKind::Minimal {
        sibling("minimal", "cargo build --release -p ari-bench-minimal")?
    } else if kind == ChildKind::App {
        sibling(
            "sdk_app",
            "cargo build --release -p ari-bench --bin sdk_app",
        )?
    } else if kind == ChildKind::Stream {
        sibling(
            "sdk_stream",
            "cargo build --release -p ari-bench --bin sdk_stream",
        )?
    } else {
        let mut c = tokio::process::Command::new(exe);
        c.args(["--child", kind.name()]);
        c
    };
    let mut child = command
        .args(["--app", app])
        .args(["--flows", &flows.to_string()])
        .args(["--in-flight", &args.in_flight.to_string()])
        .args(["--url", &args.url, "--user", &args.user])
        .args(["--password", &args.password])
        .args(["--event-timeout-secs", &args.event_timeout_secs.to_string()])
        .args(["--deadline-secs", &args.deadline_secs.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting a child run")?;
    let mut stdout = child.stdout.take().context("child stdout")?;
    let limit = Duration::from_secs(args.deadline_secs + 60);
    let mut out = Vec::new();
    let waited = tokio::time::timeout(limit, async {
        stdout.read_to_end(&mut out).await?;
        child.wait().await
    })
    .await;
    let status = match waited {
        Ok(status) => status?,
        Err(_) => {
            child.kill().await.ok();
            bail!("{} child run exceeded {limit:?}", kind.name());
        }
    };
    if !status.success() {
        bail!("{} child run failed: {status}", kind.name());
    }
    let line = String::from_utf8_lossy(&out);
    let last = line.lines().last().context("the child printed no report")?;
    serde_json::from_str(last).context("reading the child's report")
}

/// Counts the listed channels still on the server after a grace period, then hangs them up.
async fn leftovers(args: &Args, http: &reqwest::Client, ids: &[String]) -> anyhow::Result<usize> {
    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let base = args.url.trim_end_matches('/');
    let mut present = Vec::new();
    for attempt in 0..20 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let response = http
            .get(format!("{base}/channels"))
            .basic_auth(&args.user, Some(&args.password))
            .send()
            .await?
            .error_for_status()?;
        let channels: Vec<serde_json::Value> = serde_json::from_slice(&response.bytes().await?)?;
        present = channels
            .iter()
            .filter_map(|c| c.get("id").and_then(|v| v.as_str()))
            .filter(|id| ids.contains(id))
            .map(str::to_owned)
            .collect();
        if present.is_empty() {
            break;
        }
    }
    for id in &present {
        let _ = http
            .delete(format!("{base}/channels/{id}"))
            .basic_auth(&args.user, Some(&args.password))
            .send()
            .await;
    }
    Ok(present.len())
}

/// Prints the summaries, the ratios sdk / baseline and the targets.
fn print_table(args: &Args, summaries: &[Summary]) {
    println!(
        "\nflows={} in_flight={} rounds={}",
        args.flows, args.in_flight, args.rounds
    );
    println!(
        "{:<9} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>6} {:>5} {:>5}",
        "impl",
        "done",
        "flows/s",
        "p50 ms",
        "p99 ms",
        "cpu s",
        "ms/flow",
        "peak MiB",
        "errors",
        "lost",
        "left"
    );
    for s in summaries {
        println!(
            "{:<9} {:>6} {:>9.2} {:>9.1} {:>9.1} {:>8.3} {:>8.3} {:>9.1} {:>6} {:>5} {:>5}",
            s.implementation,
            s.completed,
            s.flows_per_s,
            s.p50_ms,
            s.p99_ms,
            s.cpu_s,
            s.cpu_ms_per_flow,
            s.peak_rss_mib,
            s.errors + s.abandoned,
            s.events_lost,
            s.channels_left
        );
    }
    // Every implementation against the last one listed (the minimal client by default).
    let Some(base) = summaries.last() else {
        return;
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    for sdk in &summaries[..summaries.len() - 1] {
        let cpu = ratio(sdk.cpu_s, base.cpu_s);
        let rss = ratio(sdk.peak_rss_mib, base.peak_rss_mib);
        let fps = ratio(sdk.flows_per_s, base.flows_per_s);
        println!("ratios {}/{}:", sdk.implementation, base.implementation);
        println!(
            "  client CPU  {cpu:.3}x  (target <= 1.05: {})",
            verdict(cpu <= 1.05)
        );
        println!(
            "  peak RSS    {rss:.3}x  (target <= 1.30: {})",
            verdict(rss <= 1.30)
        );
        println!(
            "  flows/s     {fps:.3}x  (target >= 0.97: {})",
            verdict(fps >= 0.97)
        );
        println!(
            "  p50 {:.3}x, p99 {:.3}x",
            ratio(sdk.p50_ms, base.p50_ms),
            ratio(sdk.p99_ms, base.p99_ms)
        );
        let clean =
            sdk.events_lost + base.events_lost == 0 && sdk.channels_left + base.channels_left == 0;
        println!(
            "  events lost {} / {}, channels left {} / {} (target 0: {})",
            sdk.events_lost,
            base.events_lost,
            sdk.channels_left,
            base.channels_left,
            verdict(clean)
        );
    }
}

/// User + system CPU seconds of process `pid` so far (its `/proc/PID/stat`, 10 ms ticks).
fn process_cpu_s(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (--asterisk-pid)"))?;
    // Fields after the parenthesised command name, which may contain spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("odd /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// For `--impl sdk,sdk-ws`: REST over WebSocket against HTTP, both through the SDK, and
/// Asterisk's CPU per flow for each when `--asterisk-pid` was given.
fn print_transports(
    summaries: &[Summary],
    asterisk_cpu: &std::collections::HashMap<&'static str, (f64, usize)>,
) {
    for (name, (cpu, flows)) in asterisk_cpu {
        println!(
            "Asterisk CPU for {name}: {cpu:.2} s, {:.2} ms/flow",
            cpu * 1000.0 / (*flows).max(1) as f64
        );
    }
    let (Some(http), Some(ws)) = (
        summaries.iter().find(|s| s.implementation == "sdk"),
        summaries.iter().find(|s| s.implementation == "sdk-ws"),
    ) else {
        return;
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    let cpu = ratio(ws.cpu_s, http.cpu_s);
    let fps = ratio(ws.flows_per_s, http.flows_per_s);
    println!("ratios sdk-ws/sdk (REST over WebSocket / HTTP):");
    println!(
        "  client CPU  {cpu:.3}x  (target < 1: {})",
        verdict(cpu < 1.0)
    );
    println!(
        "  flows/s     {fps:.3}x  (target >= 1: {})",
        verdict(fps >= 1.0)
    );
    println!(
        "  p50 {:.3}x, p99 {:.3}x",
        ratio(ws.p50_ms, http.p50_ms),
        ratio(ws.p99_ms, http.p99_ms)
    );
    if let (Some((a, na)), Some((b, nb))) = (asterisk_cpu.get("sdk-ws"), asterisk_cpu.get("sdk")) {
        let per = |c: f64, n: usize| c / n.max(1) as f64;
        println!(
            "  Asterisk CPU per flow {:.3}x",
            ratio(per(*a, *na), per(*b, *nb))
        );
    }
}

/// Records the capture scenario's events into `path`.
async fn capture(args: &Args, path: &std::path::Path) -> anyhow::Result<()> {
    let app = format!("ari-bench-capture-{}", std::process::id());
    let config = flow_config(args, app, args.flows);
    let frames = load::capture::run(&config).await?;
    let mut text = String::new();
    for f in &frames {
        // One frame per line: Asterisk pretty-prints nothing, but be safe.
        if f.contains('\n') {
            let v: serde_json::Value = serde_json::from_str(f)?;
            text.push_str(&serde_json::to_string(&v)?);
        } else {
            text.push_str(f);
        }
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    let raw: Vec<Vec<u8>> = frames.into_iter().map(String::into_bytes).collect();
    println!("{} events written to {}", raw.len(), path.display());
    for (kind, n) in ari_bench::corpus::type_histogram(&raw) {
        println!("  {n:>6}  {kind}");
    }
    Ok(())
}
