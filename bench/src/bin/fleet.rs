//! `fleet`: the same call flows served over direct connections and through the fleet (NATS and
//! one `ari-fleet-proxy` per server), in one invocation, spread over both real servers.
//!
//! Each flow: the bench originates a call into the app over HTTP (as a call arriving from the
//! dialplan would), the app's handler answers, hangs up and follows the call's stream to
//! its end (`ChannelDestroyed`, or `StasisEnd` when the hangup beat the router's subscription
//! to the channel). At most K flows are in progress. Reported per mode: this process's CPU
//! per flow (the app side: the proxies and nats-server are child processes and do not count;
//! the bench's own originates count alike in both modes), the latency from the originate to the
//! handler's start and to the stream's end (p50/p99; the fleet's minus direct's is the added
//! latency), flows per second, and the flows whose events did not all arrive (lost).
//!
//! ```sh
//! cargo build --release -p ari-fleet --bin ari-fleet-proxy -p ari-bench --features ari-bench/fleet --bin fleet
//! target/release/fleet --flows 500 --in-flight 50
//! ```

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ari_sdk::Event;
use ari_sdk::routing::{Call, StasisApp};
use clap::Parser;
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};

#[derive(Parser)]
struct Args {
    /// Call flows per mode, spread evenly over both servers.
    #[arg(long, default_value_t = 500)]
    flows: usize,
    /// Flows in progress at once.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    /// Asterisk 22 ARI base URL.
    #[arg(long, env = "ARI_URL_22", default_value = "http://127.0.0.1:8088/ari")]
    url22: String,
    /// Asterisk 16 ARI base URL.
    #[arg(long, env = "ARI_URL_16", default_value = "http://127.0.0.1:8089/ari")]
    url16: String,
    #[arg(long, env = "ARI_USER", default_value = "asterisk")]
    user: String,
    #[arg(
        long,
        env = "ARI_PASSWORD",
        default_value = "asterisk",
        hide_env_values = true
    )]
    password: String,
    /// Rounds of direct then fleet.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
}

/// A child process killed when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(name: &str, extra: &[std::path::PathBuf]) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .chain(["/usr/sbin", "/usr/local/sbin"].map(std::path::PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not found (PATH, next to this binary, /usr/sbin)"))
}

/// What one mode measured.
struct Summary {
    mode: &'static str,
    flows: usize,
    lost: usize,
    cpu_ms_per_flow: f64,
    flows_per_s: f64,
    start_ms: (f64, f64),
    end_ms: (f64, f64),
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.99))
}

/// Handler progress, by channel id.
enum Note {
    Started(String, Instant),
    Ended(String, Instant),
}

fn handler(
    tx: mpsc::UnboundedSender<Note>,
) -> impl Fn(Call) -> futures::future::BoxFuture<'static, Result<(), ari_sdk::Error>> + Send + Sync
{
    move |mut call: Call| {
        let tx = tx.clone();
        Box::pin(async move {
            let id = call.channel.id().to_owned();
            let _ = tx.send(Note::Started(id.clone(), Instant::now()));
            call.channel.answer().await?;
            call.channel.hangup().await?;
            // The stream ends at ChannelDestroyed, or at StasisEnd when the hangup came before
            // the router's subscription to the channel (Asterisk then sends nothing after it).
            while let Some(e) = call.events.next().await {
                if matches!(e, Event::ChannelDestroyed(_)) {
                    break;
                }
            }
            let _ = tx.send(Note::Ended(id, Instant::now()));
            Ok(())
        })
    }
}

/// Runs the flows with the app already serving; `rx` carries the handler's notes.
async fn drive(
    args: &Args,
    mode: &'static str,
    app: &str,
    direct: &[ari_sdk::Client],
    mut rx: mpsc::UnboundedReceiver<Note>,
) -> anyhow::Result<Summary> {
    let permits = Arc::new(Semaphore::new(args.in_flight));
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let cpu0 = ari_bench::procstat::current()?.cpu_s();
    let t0 = Instant::now();
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let originator = {
        let permits = permits.clone();
        let sent = sent.clone();
        let direct = direct.to_vec();
        let app = app.to_owned();
        let flows = args.flows;
        tokio::spawn(async move {
            for i in 0..flows {
                let permit = permits.clone().acquire_owned().await.expect("semaphore");
                permit.forget();
                let id = format!("fb-{}", uuid::Uuid::new_v4().simple());
                sent.lock().unwrap().insert(id.clone(), Instant::now());
                let client = direct[i % direct.len()].clone();
                let app = app.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    if let Err(e) = client
                        .channels()
                        .originate("Local/wait@default")
                        .app(&app)
                        .channel_id(&id)
                        .send()
                        .await
                    {
                        eprintln!("originate failed: {e}");
                        let _ = done.send(());
                    }
                });
            }
        })
    };
    let mut finished = 0;
    let mut failed = 0;
    while finished + failed < args.flows {
        tokio::select! {
            note = tokio::time::timeout(Duration::from_secs(30), rx.recv()) => match note {
                Ok(Some(Note::Started(id, at))) => {
                    if let Some(t) = sent.lock().unwrap().get(&id) {
                        starts.push(at.duration_since(*t).as_secs_f64() * 1e3);
                    }
                }
                Ok(Some(Note::Ended(id, at))) => {
                    if let Some(t) = sent.lock().unwrap().remove(&id) {
                        ends.push(at.duration_since(t).as_secs_f64() * 1e3);
                    }
                    finished += 1;
                    permits.add_permits(1);
                }
                _ => break,
            },
            Some(()) = done_rx.recv() => {
                failed += 1;
                permits.add_permits(1);
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = ari_bench::procstat::current()?.cpu_s() - cpu0;
    originator.abort();
    Ok(Summary {
        mode,
        flows: finished,
        lost: args.flows - finished,
        cpu_ms_per_flow: cpu * 1e3 / finished.max(1) as f64,
        flows_per_s: finished as f64 / elapsed,
        start_ms: quantiles(starts),
        end_ms: quantiles(ends),
    })
}

async fn run_direct(args: &Args, direct: &[ari_sdk::Client]) -> anyhow::Result<Summary> {
    let app = format!("fbd-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut running = Vec::new();
    for c in direct {
        running.push(StasisApp::new(c, &app).start(handler(tx.clone())).await?);
    }
    let s = drive(args, "direct", &app, direct, rx).await;
    for r in &running {
        r.stop();
    }
    s
}

async fn run_fleet(
    args: &Args,
    direct: &[ari_sdk::Client],
    nats_url: &str,
    proxy_bin: &std::path::Path,
) -> anyhow::Result<Summary> {
    let app = format!("fbf-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut kids = Vec::new();
    for (sid, url) in [("bench22", &args.url22), ("bench16", &args.url16)] {
        let child = Command::new(proxy_bin)
            .args([
                "--server", sid, "--url", url, "--user", &args.user, "--app", &app,
            ])
            .args(["--nats", nats_url])
            .env("ARI_PASSWORD", &args.password)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", proxy_bin.display()))?;
        kids.push(Kid(child));
    }
    let fleet = ari_fleet::Fleet::builder(nats_url)
        .app(&app)
        .connect()
        .await?;
    fleet.wait_for_servers(2, Duration::from_secs(20)).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let serving = fleet.serve(handler(tx)).await?;
    let s = drive(args, "fleet", &app, direct, rx).await;
    drop(serving);
    drop(kids);
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for url in [&args.url22, &args.url16] {
        let u = url::Url::parse(url)?;
        if !matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
            bail!("the bench only loads servers on this machine, not {url}");
        }
    }
    let here = std::env::current_exe()?
        .parent()
        .map(|p| p.to_path_buf())
        .into_iter()
        .collect::<Vec<_>>();
    let nats_bin = find("nats-server", &[])?;
    let proxy_bin = find("ari-fleet-proxy", &here)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _nats = Kid(Command::new(&nats_bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?);
    let nats_url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nats-server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let direct: Vec<ari_sdk::Client> = [&args.url22, &args.url16]
        .iter()
        .map(|u| ari_sdk::Client::new(u.as_str(), &args.user, &args.password))
        .collect::<Result<_, _>>()?;
    let mut summaries = Vec::new();
    for _ in 0..args.rounds {
        summaries.push(run_direct(&args, &direct).await?);
        summaries.push(run_fleet(&args, &direct, &nats_url, &proxy_bin).await?);
    }
    println!(
        "N={} K={} over Asterisk 22.10.1 and 16.28.0\n",
        args.flows, args.in_flight
    );
    println!(
        "| mode | flows done | lost | app ms CPU/flow | flows/s | start p50 ms | start p99 ms | end p50 ms | end p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for s in &summaries {
        println!(
            "| {} | {} | {} | {:.3} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
            s.mode,
            s.flows,
            s.lost,
            s.cpu_ms_per_flow,
            s.flows_per_s,
            s.start_ms.0,
            s.start_ms.1,
            s.end_ms.0,
            s.end_ms.1
        );
    }
    for pair in summaries.chunks(2) {
        if let [d, f] = pair {
            println!(
                "\nfleet vs direct: CPU x{:.2}; added latency to start p50 {:+.2} ms, p99 {:+.2} ms; to end p50 {:+.2} ms, p99 {:+.2} ms",
                f.cpu_ms_per_flow / d.cpu_ms_per_flow,
                f.start_ms.0 - d.start_ms.0,
                f.start_ms.1 - d.start_ms.1,
                f.end_ms.0 - d.end_ms.0,
                f.end_ms.1 - d.end_ms.1
            );
        }
    }
    Ok(())
}
