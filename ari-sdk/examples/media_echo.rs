//! media-echo: an echo bot over chan_websocket. The caller's audio arrives on a media session
//! and goes straight back, so the caller hears themself.
//!
//! ```text
//! cargo run -p ari-sdk --features media --example media-echo -- Local/tone@default --seconds 5
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use ari_sdk::media::{MediaItem, helpers};
use ari_sdk::routing::Router;

const USAGE: &str = "\
usage: media-echo ENDPOINT [--seconds N]

  ENDPOINT     the caller, e.g. PJSIP/alice or Local/tone@default
  --seconds N  how long to echo (default 10)";

/// Echoes `caller` (a channel in Stasis app `app`) for `duration`; returns the frames echoed.
pub async fn echo(
    router: &Router,
    app: &str,
    caller: &str,
    duration: Duration,
) -> anyhow::Result<u64> {
    let client = router.client();
    // `connect_routed` returns once the media channel is in the app (its StasisStart): a
    // bridge made before that would be refused ("Channel not in Stasis application").
    let media = client
        .websocket_media(app, "slin16")
        .connect_routed(router)
        .await?;
    let (media, session) = (media.channel, media.session);
    let bridge = helpers::bridge_with_media(client, caller, &media.id).await?;
    let (mut tx, mut rx) = session.split();
    let echoed = tokio::time::timeout(duration, async {
        let mut n = 0u64;
        while let Some(item) = rx.recv().await {
            match item {
                MediaItem::Audio(frame) => {
                    tx.send_audio(&frame.data).await?;
                    n += 1;
                }
                MediaItem::Closed(_) => break,
                _ => {}
            }
        }
        anyhow::Ok(n)
    })
    .await;
    let n = tx.stats().frames_sent;
    common::hang_up_quietly(client, &media.id).await;
    common::destroy_bridge_quietly(client, &bridge).await;
    match echoed {
        Ok(r) => r,
        Err(_) => Ok(n),
    }
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["seconds"])?;
    let [endpoint] = &cli.positional[..] else {
        anyhow::bail!("give the caller's endpoint\n\n{USAGE}");
    };
    let seconds: u64 = cli.value("seconds").unwrap_or("10").parse()?;
    let app = common::unique_app("media-echo");
    let client = cli.connect().await?;
    let timeout = Duration::from_secs(seconds + 30);
    let frames = common::place_call(&client, &app, endpoint, timeout, |call| {
        let (client, app) = (client.clone(), app.clone());
        async move {
            let caller = call.channel.id().to_owned();
            let frames = echo(&call.router, &app, &caller, Duration::from_secs(seconds)).await;
            common::hang_up_quietly(&client, &caller).await;
            frames
        }
    })
    .await?;
    println!("echoed {frames} frames");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
