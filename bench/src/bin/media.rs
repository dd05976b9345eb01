//! Concurrent chan_websocket media sessions at real time against a real Asterisk (not a test).
//!
//! Sessions are made in pairs: two `slin16` media channels (connection type server) in one
//! mixing bridge, so each session's audio is the other's and Asterisk runs nothing but
//! chan_websocket and the bridge. Every session sends one 20 ms frame per tick of its own
//! interval and receives the peer's. Over a measuring window after all sessions are up, the tool
//! reports: this process's CPU per session-second, the frames each session should have
//! received and did (lost), receive gaps over 60 ms and send ticks over 10 ms late (late),
//! memory per session (RSS growth while the sessions were made), and Asterisk's own CPU over
//! the same window, from `/proc/<pid>/stat`.
//!
//! ```text
//! cargo run --release -p ari-bench --features media --bin media -- --sessions 40 --seconds 30
//! cargo run --release -p ari-bench --features media --bin media -- --tick-ms 20 --frames-per-message 5
//! ```
//!
//! `--tick-ms` runs the sessions on an `ari_sdk::media::PacedRuntime`, which trades up to one
//! tick of latency for fewer wake-ups.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use ari_bench::procstat;
use ari_sdk::Client;
use ari_sdk::media::{MediaItem, MediaSender, PacedRuntime};
use clap::Parser;
use futures::StreamExt;
use tokio::time::{Instant, MissedTickBehavior};

#[derive(Parser, Debug)]
struct Args {
    /// ARI base URL.
    #[arg(long, default_value = "http://127.0.0.1:8088/ari")]
    url: String,
    #[arg(long, default_value = "asterisk")]
    user: String,
    #[arg(long, default_value = "asterisk")]
    password: String,
    /// Media sessions (rounded up to an even number: they are bridged in pairs).
    #[arg(long, default_value_t = 40)]
    sessions: usize,
    /// Length of the measuring window, seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Asterisk's pid (default: the `asterisk` process whose root is the 22.10.1 chroot).
    #[arg(long)]
    asterisk_pid: Option<u32>,
    /// Tokio runtime: `current` (one thread, the sessions share its epoll wake-ups) or `multi`
    /// (the default multi-thread runtime, one worker per core).
    #[arg(long, default_value = "current")]
    runtime: String,
    /// Send clock: `shared` (one 20 ms tick sends a frame on every session, as a media
    /// gateway's mixer clock would) or `session` (one interval per session).
    #[arg(long, default_value = "shared")]
    clock: String,
    /// Run the sessions on an `ari_sdk::media::PacedRuntime` that wakes at most every this
    /// many milliseconds, serving all the sockets that became ready meanwhile in one go (0: no
    /// pool; the sessions run on `--runtime` and wake on every socket event). REST and events
    /// stay on the main runtime either way.
    #[arg(long, default_value_t = 0)]
    tick_ms: u64,
    /// With `--tick-ms`: the pool's worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// With the shared clock: frames per WebSocket message (`SessionOptions::frames_per_message`);
    /// the clock then ticks every N x 20 ms and hands each session N frames at once.
    #[arg(long, default_value_t = 1)]
    frames_per_message: u32,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    gaps: AtomicU64,
    late_ticks: AtomicU64,
    sent: AtomicU64,
}

fn asterisk_pid() -> anyhow::Result<u32> {
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default();
        if comm.trim() == "asterisk" && root.to_string_lossy().contains("asterisk-sid") {
            return Ok(pid);
        }
    }
    anyhow::bail!("no asterisk process in the sid chroot; give --asterisk-pid")
}

fn cpu_of(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (u, s) = procstat::parse_stat(&stat)?;
    Ok((u + s) as f64 / 100.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = match args.runtime.as_str() {
        "current" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        other => anyhow::bail!("--runtime {other}: expected current or multi"),
    };
    if !matches!(args.clock.as_str(), "shared" | "session") {
        anyhow::bail!("--clock {}: expected shared or session", args.clock);
    }
    if args.frames_per_message > 1 && args.clock != "shared" {
        anyhow::bail!("--frames-per-message needs --clock shared");
    }
    let pool = if args.tick_ms > 0 {
        Some(
            PacedRuntime::builder()
                .threads(args.threads)
                .tick(Duration::from_millis(args.tick_ms))
                .build()?,
        )
    } else {
        None
    };
    runtime.block_on(run(args, pool))
}

async fn run(args: Args, pool: Option<PacedRuntime>) -> anyhow::Result<()> {
    let pairs = args.sessions.div_ceil(2);
    let sessions = pairs * 2;
    let apid = match args.asterisk_pid {
        Some(p) => p,
        None => asterisk_pid()?,
    };
    let client = Client::new(&args.url, &args.user, &args.password)?;
    client.connect().await?;
    let app = format!("media-bench-{}", std::process::id());
    let events = client.event_stream().app(&app).connect().await?;
    // The router shows each media channel's StasisStart to `connect_routed`, so the bridge is
    // made only once both channels are in the app.
    let (router, mut unrouted) = ari_sdk::routing::Router::new(&client, events)?;
    tokio::spawn(async move { while unrouted.next().await.is_some() {} });

    let rss_before = procstat::rss_now_kib();
    let counters = Arc::new(Counters::default());
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut channels = Vec::new();
    let mut bridges = Vec::new();
    let mut tasks = Vec::new();
    // A 440 Hz frame, the same for everyone.
    let frame: bytes::Bytes = (0..320)
        .flat_map(|i| {
            let v = 6000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 16000.0).sin();
            (v as i16).to_le_bytes()
        })
        .collect::<Vec<u8>>()
        .into();
    // Where the sessions' I/O and tasks run: the pool's workers, or this runtime.
    let places: Vec<tokio::runtime::Handle> = match &pool {
        Some(p) => p.handles(),
        None => vec![tokio::runtime::Handle::current()],
    };
    // With the shared clock, one task per place owns its sessions' senders and sends a frame
    // on each per tick.
    let mut clock_tx = Vec::new();
    for place in places.iter().filter(|_| args.clock == "shared") {
        let (joins, mut joined) = tokio::sync::mpsc::unbounded_channel::<MediaSender>();
        let (c, m, s, frame, per_message) = (
            counters.clone(),
            measuring.clone(),
            stop.clone(),
            frame.clone(),
            args.frames_per_message.max(1),
        );
        tasks.push(place.spawn(async move {
            let mut senders: Vec<MediaSender> = Vec::new();
            let n = u64::from(per_message);
            let chunk: Vec<u8> = frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * n as usize)
                .collect();
            let mut tick = tokio::time::interval(Duration::from_millis(20 * n));
            tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
            loop {
                let due = tick.tick().await;
                if s.load(Ordering::Relaxed) {
                    break;
                }
                while let Ok(tx) = joined.try_recv() {
                    senders.push(tx);
                }
                let counting = m.load(Ordering::Relaxed);
                if counting && Instant::now() - due > Duration::from_millis(10) {
                    c.late_ticks.fetch_add(1, Ordering::Relaxed);
                }
                let mut i = 0;
                while i < senders.len() {
                    let sent = if n == 1 {
                        senders[i].send_frame(frame.clone()).await
                    } else {
                        senders[i].send_audio(&chunk).await
                    };
                    if sent.is_err() {
                        senders.swap_remove(i);
                        continue;
                    }
                    if counting {
                        c.sent.fetch_add(n, Ordering::Relaxed);
                    }
                    i += 1;
                }
            }
        }));
        clock_tx.push(joins);
    }
    for pair in 0..pairs {
        let mut ids = Vec::new();
        for side in 0..2 {
            let k = (pair * 2 + side) % places.len();
            let place = &places[k];
            let mut media = client.websocket_media(app.clone(), "slin16");
            if pool.is_some() {
                media = media.runtime(place.clone());
            }
            let media = media
                .session_options(ari_sdk::media::SessionOptions {
                    frames_per_message: args.frames_per_message.max(1),
                    ..Default::default()
                })
                .connect_routed(&router)
                .await
                .context("media session")?;
            let (ch, session) = (media.channel, media.session);
            ids.push(ch.id.clone());
            channels.push(ch.id);
            let (mut tx, mut rx) = session.split();
            let (c, m, s) = (counters.clone(), measuring.clone(), stop.clone());
            tasks.push(place.spawn(async move {
                let mut last: Option<Instant> = None;
                while let Some(item) = rx.recv().await {
                    match item {
                        MediaItem::Audio(_) => {
                            let now = Instant::now();
                            if m.load(Ordering::Relaxed) {
                                c.received.fetch_add(1, Ordering::Relaxed);
                                if last.is_some_and(|l| now - l > Duration::from_millis(60)) {
                                    c.gaps.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            last = Some(now);
                        }
                        MediaItem::Closed(_) => break,
                        _ => {}
                    }
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }));
            if let Some(joins) = clock_tx.get(k) {
                let _ = joins.send(tx);
                continue;
            }
            let (c, m, s, frame) = (
                counters.clone(),
                measuring.clone(),
                stop.clone(),
                frame.clone(),
            );
            tasks.push(place.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
                loop {
                    let due = tick.tick().await;
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                    if m.load(Ordering::Relaxed) {
                        if Instant::now() - due > Duration::from_millis(10) {
                            c.late_ticks.fetch_add(1, Ordering::Relaxed);
                        }
                        c.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.send_frame(frame.clone()).await.is_err() {
                        break;
                    }
                }
            }));
        }
        let bridge = client.bridges().create().r#type("mixing").send().await?;
        client
            .bridges()
            .add_channel(bridge.id.clone(), ids)
            .send()
            .await?;
        bridges.push(bridge.id);
    }
    let rss_after = procstat::rss_now_kib();
    // Let the bridges settle, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let missed0 = pool.as_ref().map_or(0, PacedRuntime::missed_ticks);
    let u0 = procstat::current()?;
    let a0 = cpu_of(apid)?;
    let t0 = std::time::Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let u1 = procstat::current()?;
    let missed = pool.as_ref().map_or(0, PacedRuntime::missed_ticks) - missed0;
    let a1 = cpu_of(apid)?;
    stop.store(true, Ordering::Relaxed);
    for ch in &channels {
        let _ = client.channels().hangup(ch.clone()).send().await;
    }
    for b in &bridges {
        let _ = client.bridges().destroy(b.clone()).send().await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let session_s = sessions as f64 * wall;
    let client_cpu = u1.cpu_s() - u0.cpu_s();
    let ast_cpu = a1 - a0;
    let expected = (session_s * 50.0).round() as u64;
    let received = counters.received.load(Ordering::Relaxed);
    let placing = match &pool {
        Some(p) => format!(
            "PacedRuntime of {} thread(s), {} ms tick",
            p.threads(),
            p.tick().as_millis()
        ),
        None => format!("{} runtime", args.runtime),
    };
    println!(
        "sessions                 {sessions} (slin16, 20 ms, {pairs} bridges; {placing}, {} clock, {} frame(s) per message)",
        args.clock,
        args.frames_per_message.max(1)
    );
    println!("window                   {wall:.1} s");
    println!(
        "client CPU               {client_cpu:.3} s = {:.3} ms per session-second ({:.1}% of one core)",
        client_cpu * 1000.0 / session_s,
        client_cpu * 100.0 / wall
    );
    println!(
        "Asterisk CPU             {ast_cpu:.2} s = {:.3} ms per session-second ({:.1}% of one core)",
        ast_cpu * 1000.0 / session_s,
        ast_cpu * 100.0 / wall
    );
    println!(
        "client user / system     {:.3} s / {:.3} s",
        u1.user_s - u0.user_s,
        u1.sys_s - u0.sys_s
    );
    println!(
        "client / Asterisk CPU    {:.3}",
        client_cpu / ast_cpu.max(1e-9)
    );
    // A worker that wakes every tick reads up to a tick's frames of each session late, so
    // the window's two edges can each move that many frames in or out of the count.
    let edge = sessions as u64 * args.tick_ms.div_ceil(20);
    println!(
        "frames received          {received} of {expected} expected ({} missing, {:.3}%; window edges +/- {edge})",
        expected.saturating_sub(received),
        expected.saturating_sub(received) as f64 * 100.0 / expected as f64
    );
    println!(
        "frames sent              {}",
        counters.sent.load(Ordering::Relaxed)
    );
    println!(
        "receive gaps > 60 ms     {}",
        counters.gaps.load(Ordering::Relaxed)
    );
    println!(
        "send ticks > 10 ms late  {}",
        counters.late_ticks.load(Ordering::Relaxed)
    );
    if pool.is_some() {
        println!("pool ticks missed        {missed} (boundaries passed while a worker was busy)");
    }
    println!(
        "memory per session       {:.1} KiB (RSS {} -> {} KiB while making them)",
        rss_after.saturating_sub(rss_before) as f64 / sessions as f64,
        rss_before,
        rss_after
    );
    Ok(())
}
