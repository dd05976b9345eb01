//! media-dtmf: reads the caller's DTMF from the media socket (`DTMF_END` events), with no ARI
//! event subscription for it, and hangs up with the `HANGUP` command once enough digits came.
//!
//! ```text
//! cargo run -p ari-sdk --features media --example media-dtmf -- Local/dtmf@default --digits 3
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use ari_sdk::media::{MediaEvent, MediaItem, helpers};
use ari_sdk::routing::Router;

const USAGE: &str = "\
usage: media-dtmf ENDPOINT [--digits N]

  ENDPOINT    the caller, e.g. PJSIP/alice or Local/dtmf@default
  --digits N  how many digits to collect (default 4)";

/// Collects `count` digits that `caller` (a channel in Stasis app `app`) presses, from the
/// media session; hangs the media channel up with `HANGUP` after them.
pub async fn collect(
    router: &Router,
    app: &str,
    caller: &str,
    count: usize,
) -> anyhow::Result<String> {
    let client = router.client();
    // `connect_routed` returns once the media channel is in the app (its StasisStart): a
    // bridge made before that would be refused ("Channel not in Stasis application").
    let media = client
        .websocket_media(app, "ulaw")
        .connect_routed(router)
        .await?;
    let (media, session) = (media.channel, media.session);
    let bridge = helpers::bridge_with_media(client, caller, &media.id).await?;
    let (mut tx, mut rx) = session.split();
    let mut digits = String::new();
    while digits.len() < count {
        match rx.recv().await {
            Some(MediaItem::Event(MediaEvent::DtmfEnd { digit })) => digits.push(digit),
            Some(MediaItem::Closed(c)) => anyhow::bail!("the call ended after {digits:?}: {c:?}"),
            Some(_) => {}
            None => anyhow::bail!("the session ended after {digits:?}"),
        }
    }
    tx.hangup().await?;
    // The close that follows HANGUP is the session's last item.
    while let Some(item) = rx.recv().await {
        if let MediaItem::Closed(_) = item {
            break;
        }
    }
    common::destroy_bridge_quietly(client, &bridge).await;
    Ok(digits)
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["digits"])?;
    let [endpoint] = &cli.positional[..] else {
        anyhow::bail!("give the caller's endpoint\n\n{USAGE}");
    };
    let count: usize = cli.value("digits").unwrap_or("4").parse()?;
    let app = common::unique_app("media-dtmf");
    let client = cli.connect().await?;
    let digits = common::place_call(&client, &app, endpoint, Duration::from_secs(120), |call| {
        let (client, app) = (client.clone(), app.clone());
        async move {
            let caller = call.channel.id().to_owned();
            let r = collect(&call.router, &app, &caller, count).await;
            common::hang_up_quietly(&client, &caller).await;
            r
        }
    })
    .await?;
    println!("the caller pressed {digits}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
