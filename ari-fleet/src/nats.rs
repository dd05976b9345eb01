//! Connecting to NATS the same way on both sides: quick reconnects, and the connection's
//! events (lost, back) handed to whoever must react to them.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::{FleetError, Result};

/// Connects to the NATS server at `url` (`nats://127.0.0.1:4222`, or `127.0.0.1:4222`). The
/// client reconnects by itself, forever, at most a second apart; the receiver gets the
/// connection's events (`Connected` again after a `Disconnected` means it is back).
pub(crate) async fn connect(
    url: &str,
    name: &str,
) -> Result<(
    async_nats::Client,
    mpsc::UnboundedReceiver<async_nats::Event>,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(1000))
        })
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(url)
        .await
        .map_err(|e| FleetError::nats(&format!("connect to {url}"), e))?;
    Ok((client, rx))
}
