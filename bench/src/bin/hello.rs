//! The smallest useful ari-sdk application, for the binary-size figure of `docs/BENCHMARKS.md`:
//! answers every call that enters the Stasis application `hello`, plays `sound:hello-world`,
//! hangs up. Stops by itself after `--seconds` (default 60).
//!
//! `cargo run --release -p ari-bench --bin hello -- [URL] [--seconds N]`

use std::time::Duration;

use ari_sdk::Client;
use ari_sdk::routing::{Call, StasisApp};
use futures::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut url = ari_sdk::DEFAULT_BASE_URL.to_owned();
    let mut seconds = 60u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or_else(|| anyhow::anyhow!("--seconds N"))?;
                seconds = value.parse()?;
            }
            _ => url = arg,
        }
    }
    let client = Client::new(url, "asterisk", "asterisk")?;
    let app = StasisApp::new(&client, "hello").run(|call: Call| async move {
        call.channel.answer().send().await?;
        let mut playback = call.router.new_playback();
        call.channel
            .play_with_id(playback.handle.id(), ["sound:hello-world"])
            .send()
            .await?;
        // The playback's stream ends after its PlaybackFinished; at most 10 s.
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while playback.events.next().await.is_some() {}
        })
        .await;
        call.channel.hangup().send().await
    });
    match tokio::time::timeout(Duration::from_secs(seconds), app).await {
        Ok(result) => Ok(result?),
        Err(_) => Ok(()),
    }
}
