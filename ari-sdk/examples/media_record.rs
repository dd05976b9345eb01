//! media-record: records the caller to a WAV file (16-bit mono, 16 kHz) from a media session.
//!
//! ```text
//! cargo run -p ari-sdk --features media --example media-record -- Local/tone@default out.wav --seconds 5
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ari_sdk::media::{MediaItem, helpers};
use ari_sdk::routing::Router;

const USAGE: &str = "\
usage: media-record ENDPOINT FILE.wav [--seconds N]

  ENDPOINT     the caller, e.g. PJSIP/alice or Local/tone@default
  FILE.wav     where to write the recording
  --seconds N  how long to record (default 10)";

/// Records `caller` (a channel in Stasis app `app`) to `wav` for `duration` of audio; returns
/// the samples written.
pub async fn record(
    router: &Router,
    app: &str,
    caller: &str,
    wav: &Path,
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
    let format = session.format().clone();
    let (_tx, mut rx) = session.split();
    // Counted in audio, not wall-clock time: stop after `duration` worth of frames.
    let frames = duration.as_millis() as u64 / u64::from(format.ptime);
    let mut seen = 0u64;
    let result = helpers::record_to_wav(&mut rx, &format, wav, |item| {
        if let MediaItem::Audio(_) = item {
            seen += 1;
        }
        seen >= frames
    })
    .await;
    common::hang_up_quietly(client, &media.id).await;
    common::destroy_bridge_quietly(client, &bridge).await;
    Ok(result?)
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["seconds"])?;
    let [endpoint, file] = &cli.positional[..] else {
        anyhow::bail!("give the caller's endpoint and a file\n\n{USAGE}");
    };
    let seconds: u64 = cli.value("seconds").unwrap_or("10").parse()?;
    let app = common::unique_app("media-record");
    let client = cli.connect().await?;
    let file = Path::new(file).to_owned();
    let timeout = Duration::from_secs(seconds + 30);
    let samples = common::place_call(&client, &app, endpoint, timeout, |call| {
        let (client, app, file) = (client.clone(), app.clone(), file.clone());
        async move {
            let caller = call.channel.id().to_owned();
            let r = record(
                &call.router,
                &app,
                &caller,
                &file,
                Duration::from_secs(seconds),
            )
            .await;
            common::hang_up_quietly(&client, &caller).await;
            r
        }
    })
    .await?;
    println!("wrote {samples} samples to {}", file.display());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
