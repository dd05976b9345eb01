//! A Stasis application: answers each call, plays a sound, waits for the playback to finish,
//! hangs up.
//!
//! ```text
//! ARI_URL=http://127.0.0.1:8088/ari ARI_USER=asterisk ARI_PASSWORD=secret \
//!     cargo run -p ari-sdk --example hello_app
//! ```
//! with `exten => 100,1,Stasis(hello)` in the dialplan.

use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::{Client, Event};
use futures::StreamExt;

async fn handle(mut call: Call) -> ari_sdk::Result<()> {
    tracing::info!(channel = call.channel.id(), args = ?call.args(), "call");
    call.channel.answer().send().await?;

    // Subscribe to the playback before starting it, so its PlaybackFinished cannot be missed.
    let mut playback = call.router.new_playback();
    call.channel
        .play_with_id(playback.handle.id(), ["sound:hello-world"])
        .send()
        .await?;
    loop {
        tokio::select! {
            // The playback's stream ends after PlaybackFinished.
            ev = playback.events.next() => if ev.is_none() { break },
            // The caller hung up first: the channel's stream ends after StasisEnd.
            ev = call.events.next() => match ev {
                Some(Event::ChannelDtmfReceived(d)) => tracing::info!(digit = %d.digit, "DTMF"),
                Some(_) => {}
                None => return Ok(()),
            },
        }
    }
    call.channel.hangup().send().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ari_sdk::Result<()> {
    tracing_subscriber::fmt().init();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let client = Client::new(
        env("ARI_URL", ari_sdk::DEFAULT_BASE_URL),
        env("ARI_USER", "asterisk"),
        env("ARI_PASSWORD", "asterisk"),
    )?;
    if let Some(v) = client.connect().await? {
        tracing::info!(server = %v, "connected");
    }
    StasisApp::new(&client, "hello").run(handle).await
}
