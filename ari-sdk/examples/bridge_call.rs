//! Calls two endpoints and bridges them once both have answered, creating every resource with
//! a client-made id after subscribing to it, so no event is missed.
//!
//! ```text
//! ARI_URL=http://127.0.0.1:8088/ari ARI_USER=asterisk ARI_PASSWORD=secret \
//!     cargo run -p ari-sdk --example bridge_call -- PJSIP/alice PJSIP/bob
//! ```

use ari_sdk::events::StreamItem;
use ari_sdk::routing::Router;
use ari_sdk::{Client, Event};
use futures::StreamExt;

#[tokio::main]
async fn main() -> ari_sdk::Result<()> {
    tracing_subscriber::fmt().init();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let mut args = std::env::args().skip(1);
    let a = args.next().unwrap_or_else(|| "PJSIP/alice".to_owned());
    let b = args.next().unwrap_or_else(|| "PJSIP/bob".to_owned());
    let client = Client::new(
        env("ARI_URL", ari_sdk::DEFAULT_BASE_URL),
        env("ARI_USER", "asterisk"),
        env("ARI_PASSWORD", "asterisk"),
    )?;
    // The app must be registered (connected) before channels are originated into it.
    let events = client.event_stream().app("bridge-call").connect().await?;
    let (router, mut rest) = Router::new(&client, events)?;
    // Errors and reconnects of the connection as a whole.
    tokio::spawn(async move {
        while let Some(item) = rest.next().await {
            if let StreamItem::Error(e) = item {
                tracing::warn!(error = %e, "events");
            }
        }
    });

    let bridge = router.new_bridge();
    bridge
        .handle
        .create_with_id()
        .r#type("mixing")
        .send()
        .await?;

    let mut legs = Vec::new();
    for endpoint in [a, b] {
        let leg = router.new_channel();
        leg.handle
            .originate_with_id(endpoint)
            .app("bridge-call")
            .send()
            .await?;
        legs.push(leg);
    }
    // Wait for each leg to answer and enter the application, then bridge it.
    for leg in &mut legs {
        while let Some(event) = leg.events.next().await {
            if let Event::StasisStart(_) = event {
                bridge.handle.add_channel([leg.handle.id()]).send().await?;
                break;
            }
        }
    }
    tracing::info!(bridge = bridge.handle.id(), "bridged; waiting for a hangup");
    // Either leg's stream ends when it leaves the application.
    let (first, second) = legs.split_at_mut(1);
    let (first, second) = (&mut first[0], &mut second[0]);
    tokio::select! {
        _ = first.events.by_ref().for_each(|_| async {}) => {}
        _ = second.events.by_ref().for_each(|_| async {}) => {}
    }
    let _ = first.handle.hangup().send().await;
    let _ = second.handle.hangup().send().await;
    bridge.handle.destroy().send().await?;
    Ok(())
}
