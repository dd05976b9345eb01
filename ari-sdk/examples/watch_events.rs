//! watch-events: prints every event of a Stasis application (subscribed to all event sources),
//! and after a lost connection comes back, re-reads the channels and bridges that exist, since
//! events sent meanwhile are lost.
//!
//! It shows the raw [`EventStream`](ari_sdk::events::EventStream): its items (`Event`,
//! `Reconnected`, `Error`), reconnect backoff, and closing it from another task.
//!
//! ```text
//! cargo run -p ari-sdk --example watch-events -- my-app
//! cargo run -p ari-sdk --example watch-events -- my-app --seconds 30   # stop after 30 s
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ari_sdk::events::{Backoff, StreamItem};
use futures::StreamExt;

const USAGE: &str = "\
usage: watch-events [APP] [--seconds SECS]

  APP             the Stasis application to register and watch (default: watch)
  --seconds SECS  stop after SECS seconds (default: run until interrupted)";

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["seconds"])?;
    let app = match &cli.positional[..] {
        [] => "watch",
        [app] => app.as_str(),
        _ => anyhow::bail!("give at most one application\n\n{USAGE}"),
    };
    let client = cli.connect().await?;
    let mut events = client
        .event_stream()
        .app(app)
        .subscribe_all(true)
        .backoff(Backoff::default().max(Duration::from_secs(10)))
        .connect()
        .await
        .with_context(|| format!("cannot connect the events of application {app}"))?;
    println!("watching application {app}");

    if let Some(limit) = cli
        .value("seconds")
        .map(|_| cli.seconds("seconds", Duration::ZERO))
    {
        let limit = limit?;
        // Closing sends a WebSocket Close; the stream then ends by itself.
        let close = events.close_handle();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            close.close();
        });
    }

    // The stream ends when closed, or for good after an error (e.g. rejected credentials).
    let mut last_error = None;
    while let Some(item) = events.next().await {
        if !matches!(item, StreamItem::Error(_)) {
            last_error = None;
        }
        match item {
            StreamItem::Event(event) => {
                let mut about = Vec::new();
                event.visit_resources(|r| about.push(format!("{r:?}")));
                println!(
                    "{} {} {}",
                    event.timestamp().unwrap_or("-"),
                    event.kind(),
                    about.join(" ")
                );
            }
            StreamItem::Reconnected { attempt, downtime } => {
                println!("reconnected after {downtime:?} ({attempt} attempts); resyncing");
                match client.snapshot().await {
                    Ok(s) => println!(
                        "now {} channels and {} bridges exist",
                        s.channels.len(),
                        s.bridges.len()
                    ),
                    Err(e) => eprintln!("warning: resync failed: {e}"),
                }
            }
            StreamItem::Undecoded(u) => {
                eprintln!("warning: {u}; as sent: {}", u.raw());
            }
            StreamItem::Error(e) => {
                eprintln!("warning: events: {e}");
                last_error = Some(e);
            }
        }
    }
    if let Some(e) = last_error {
        return Err(e).context("the events connection ended");
    }
    println!("events connection closed");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
