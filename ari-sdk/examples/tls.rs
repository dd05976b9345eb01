//! tls: ARI over TLS with a private CA: `https://` REST, `wss://` events, and REST over that
//! `wss://` events socket, all trusting the CA given with `--ca` (in addition to the system's).
//!
//! Every release serves HTTPS when `http.conf` has `tlsenable = yes` (16.28.0 and 22.10.1 in the
//! test suite); REST over the events WebSocket needs 20.14+, 21.9+, 22.4+ or 23, and is skipped
//! (reported as such) on older servers.
//!
//! ```text
//! cargo run -p ari-sdk --example tls -- --url https://127.0.0.1:8443/ari \
//!     --ca /var/cache/ari-rs/asterisk-sid/etc/asterisk/keys/ari-test-ca.pem
//! ```
//!
//! (`cargo xtask asterisk up` makes that CA and serves HTTPS on 8443 for 22.10.1 and 8444 for
//! 16.28.0; the certificate names `127.0.0.1`.)

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;

use anyhow::Context;
use ari_sdk::events::StreamItem;
use ari_sdk::{Client, ErrorKind, Event};
use futures::StreamExt;

const USAGE: &str = "\
usage: tls --url https://HOST:PORT/ari --ca CA.pem [--user USER --password PASSWORD]

  --ca FILE   PEM file of the CA that signed the server's certificate";

/// What the example saw.
#[derive(Debug)]
pub struct TlsReport {
    /// The server's version, learned over https.
    pub version: String,
    /// The channel placed over https whose `StasisStart` arrived over wss.
    pub channel_id: String,
    /// Channels listed with REST over the wss events socket; `None` when the release has no
    /// REST over WebSocket.
    pub listed_over_websocket: Option<usize>,
}

/// Connects over https, places a call to `endpoint` into a fresh application whose events come
/// over wss, lists channels with REST over that socket, and hangs the call up.
pub async fn run(
    url: &str,
    user: &str,
    password: &str,
    ca_pem: &[u8],
    endpoint: &str,
) -> anyhow::Result<TlsReport> {
    let client = Client::builder()
        .base_url(url)
        .credentials(user, password)
        .add_root_certificates_pem(ca_pem)
        .build()?;
    let version = client
        .connect()
        .await
        .context("https")?
        .map(|v| v.raw)
        .unwrap_or_default();
    println!("connected over https to Asterisk {version}");

    let app = common::unique_app("tls");
    let events = client
        .event_stream()
        .app(&app)
        .rest_over_websocket(true)
        .connect()
        .await
        .context("wss events")?;
    let mut events = events;
    println!("events over wss for application {app}");

    let channel_id = ari_sdk::routing::new_id();
    client
        .channels()
        .originate(endpoint)
        .app(&app)
        .channel_id(&channel_id)
        .send()
        .await
        .context("originate over https")?;
    while let Some(item) = events.next().await {
        match item {
            StreamItem::Event(Event::StasisStart(s)) if s.channel.id == channel_id => break,
            StreamItem::Error(e) => return Err(e).context("events over wss"),
            _ => {}
        }
    }
    println!("[{channel_id}] StasisStart over wss");

    let rest = events
        .rest_client()
        .context("REST over the events socket")?;
    let listed_over_websocket = match rest.channels().list().send().await {
        Ok(list) => Some(list.len()),
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            println!("REST over WebSocket: {e}");
            None
        }
        Err(e) => return Err(e).context("REST over wss"),
    };
    if let Some(n) = listed_over_websocket {
        println!("{n} channels listed with REST over wss");
    }
    client
        .channels()
        .hangup(&channel_id)
        .send()
        .await
        .context("hang up")?;
    events.close();
    Ok(TlsReport {
        version,
        channel_id,
        listed_over_websocket,
    })
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["ca"])?;
    let ca = cli.value("ca").context("--ca is required")?;
    let pem = std::fs::read(ca).with_context(|| format!("reading {ca}"))?;
    let report = run(
        &cli.url,
        &cli.user,
        &cli.password,
        &pem,
        "Local/wait@default",
    )
    .await?;
    println!("{report:#?}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
