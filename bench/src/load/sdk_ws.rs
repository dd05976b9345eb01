//! The [`super::sdk`] flow with every REST call carried over the events WebSocket
//! (`ClientBuilder::rest_over_websocket`) instead of one HTTP exchange per call: the same
//! router, subscriptions and typed events, one socket for everything.

use ari_sdk::Client;
use ari_sdk::routing::Router;

use super::{ChildReport, FlowConfig, IdLog, drive};

/// Runs the configured flows through the SDK, REST over the events WebSocket.
pub async fn run(config: &FlowConfig) -> anyhow::Result<ChildReport> {
    let client = Client::builder()
        .base_url(&config.url)
        .credentials(&config.user, &config.password)
        .rest_over_websocket(true)
        .build()?;
    // Learn the release (over HTTP, once) so that calls are gated as in the HTTP variant.
    client.connect().await?;
    let events = client.event_stream().app(&config.app).connect().await?;
    // The router's handles call over the stream's socket.
    let (router, all_events) = Router::new(&client, events)?;
    drop(all_events);
    anyhow::ensure!(
        router.client().carrier_name() == "websocket",
        "REST is not carried over the WebSocket"
    );
    let rss_connected_kib = crate::procstat::rss_now_kib();
    let ids = IdLog::default();
    let mut report = drive(config, |_| {
        let (router, ids, app) = (router.clone(), ids.clone(), config.app.clone());
        let timeout = config.event_timeout;
        async move { super::sdk::flow(&router, &ids, &app, timeout).await }
    })
    .await;
    router.close();
    report.implementation = "sdk-ws".into();
    report.channel_ids = ids.take();
    report.rss_connected_kib = rss_connected_kib;
    Ok(report)
}
