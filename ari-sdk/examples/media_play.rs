//! media-play: plays a WAV file (16-bit mono at 16 kHz) to the caller through a media session
//! and waits for the mark placed after it, i.e. until the caller has heard all of it.
//!
//! ```text
//! cargo run -p ari-sdk --features media --example media-play -- Local/wait@default prompt.wav
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ari_sdk::media::helpers;
use ari_sdk::routing::Router;

const USAGE: &str = "\
usage: media-play ENDPOINT FILE.wav

  ENDPOINT  the caller, e.g. PJSIP/alice or Local/wait@default
  FILE.wav  16-bit mono PCM at 16000 Hz";

/// Plays `wav` to `caller` (a channel in Stasis app `app`) and waits until playback has reached
/// the end mark; returns the frames sent.
pub async fn play(router: &Router, app: &str, caller: &str, wav: &Path) -> anyhow::Result<u64> {
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
    let result = async {
        helpers::play_wav(&mut tx, wav, "end-of-file").await?;
        helpers::wait_for_mark(&mut rx, "end-of-file", |_| {}).await?;
        anyhow::Ok(tx.stats().frames_sent)
    }
    .await;
    common::hang_up_quietly(client, &media.id).await;
    common::destroy_bridge_quietly(client, &bridge).await;
    result
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &[])?;
    let [endpoint, file] = &cli.positional[..] else {
        anyhow::bail!("give the caller's endpoint and a WAV file\n\n{USAGE}");
    };
    let app = common::unique_app("media-play");
    let client = cli.connect().await?;
    let file = Path::new(file).to_owned();
    let frames = common::place_call(&client, &app, endpoint, Duration::from_secs(600), |call| {
        let (client, app) = (client.clone(), app.clone());
        async move {
            let caller = call.channel.id().to_owned();
            let r = play(&call.router, &app, &caller, &file).await;
            common::hang_up_quietly(&client, &caller).await;
            r
        }
    })
    .await?;
    println!("played {frames} frames; the caller heard the end");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
