//! Prints every event of an application and resyncs after a reconnect.
//!
//! ```text
//! ARI_URL=http://127.0.0.1:8088/ari ARI_USER=asterisk ARI_PASSWORD=secret \
//!     cargo run -p ari-sdk --example watch_events -- my-app
//! ```

use std::time::Duration;

use ari_sdk::Client;
use ari_sdk::events::{Backoff, StreamItem};
use futures::StreamExt;

#[tokio::main]
async fn main() -> ari_sdk::Result<()> {
    tracing_subscriber::fmt().init();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let app = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "watch".to_owned());
    let client = Client::new(
        env("ARI_URL", ari_sdk::DEFAULT_BASE_URL),
        env("ARI_USER", "asterisk"),
        env("ARI_PASSWORD", "asterisk"),
    )?;
    let mut events = client
        .event_stream()
        .app(app)
        .subscribe_all(true)
        .backoff(Backoff::default().max(Duration::from_secs(10)))
        .connect()
        .await?;

    // Optionally stop after WATCH_SECS seconds: the stream sends Close, then ends.
    if let Some(secs) = std::env::var("WATCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        let close = events.close_handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            close.close();
        });
    }

    while let Some(item) = events.next().await {
        match item {
            StreamItem::Event(event) => {
                tracing::info!(kind = %event.kind(), app = ?event.application(), "event");
            }
            StreamItem::Reconnected { attempt, downtime } => {
                // Events sent while the connection was down are lost: re-read the state.
                tracing::warn!(attempt, ?downtime, "reconnected; resyncing");
                match client.snapshot().await {
                    Ok(s) => tracing::info!(
                        channels = s.channels.len(),
                        bridges = s.bridges.len(),
                        "resynced"
                    ),
                    Err(e) => tracing::warn!(error = %e, "resync failed"),
                }
            }
            StreamItem::Error(e) => tracing::warn!(error = %e, "events"),
        }
    }
    Ok(())
}
