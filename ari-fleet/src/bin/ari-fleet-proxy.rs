//! `ari-fleet-proxy`: bridges one Asterisk server to NATS for the fleet (see `docs/FLEET.md`).

use std::time::Duration;

use clap::Parser;

/// Bridges one Asterisk server's ARI to NATS: events of many apps, REST as request/reply, the
/// server announced with its release.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The server's id in the fleet (A-Z a-z 0-9 _ -).
    #[arg(long, env = "ARI_FLEET_SERVER")]
    server: String,
    /// Asterisk's ARI base URL.
    #[arg(long, env = "ARI_URL", default_value = "http://127.0.0.1:8088/ari")]
    url: String,
    /// ARI user.
    #[arg(long, env = "ARI_USER", default_value = "asterisk")]
    user: String,
    /// ARI password.
    #[arg(
        long,
        env = "ARI_PASSWORD",
        hide_env_values = true,
        default_value = "asterisk"
    )]
    password: String,
    /// A Stasis application to carry; repeat for more.
    #[arg(long = "app", required = true)]
    apps: Vec<String>,
    /// The NATS server.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The subject prefix.
    #[arg(long, default_value = ari_fleet::wire::DEFAULT_PREFIX)]
    prefix: String,
    /// Seconds between announcements.
    #[arg(long, default_value_t = 5.0)]
    announce_secs: f64,
    /// Seconds of silence after which an instance's calls are hung up.
    #[arg(long, default_value_t = 3.0)]
    owner_timeout_secs: f64,
    /// Also publish every event on P.events.APP.SERVER.
    #[arg(long)]
    mirror: bool,
}

fn secs(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("--{name} must be a positive number of seconds, not {s}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = ari_fleet::ProxyConfig::new(&args.server, &args.url, &args.apps)
        .credentials(&args.user, &args.password);
    config.prefix = args.prefix;
    config.announce_interval = secs("announce-secs", args.announce_secs)?;
    config.owner_timeout = secs("owner-timeout-secs", args.owner_timeout_secs)?;
    config.mirror = args.mirror;
    let proxy = ari_fleet::Proxy::start(&args.nats, config).await?;
    tracing::info!(server = %args.server, boot = proxy.boot(), "proxy running");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => proxy.stop(),
    }
    proxy.join().await;
    Ok(())
}
