//! bridge-call: calls two endpoints and bridges them once both have answered; when either hangs
//! up, hangs up the other and destroys the bridge.
//!
//! It shows a [`Router`] used directly, without [`StasisApp`](ari_sdk::routing::StasisApp):
//! the bridge and both channels are subscribed with client-made ids before they are created,
//! so none of their events can be missed. (To bridge *before* the callee answers, see
//! `create-bridge-dial`.)
//!
//! ```text
//! cargo run -p ari-sdk --example bridge-call -- PJSIP/alice PJSIP/bob
//! cargo run -p ari-sdk --example bridge-call -- Local/wait@default Local/answer-hangup@default
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;

use anyhow::Context;
use ari_sdk::Event;
use futures::StreamExt;

const USAGE: &str = "\
usage: bridge-call ENDPOINT_A ENDPOINT_B [--app NAME]

  ENDPOINT_A, ENDPOINT_B  the two parties, e.g. PJSIP/alice PJSIP/bob
  --app NAME              Stasis application the calls are placed into (default: a unique name)";

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["app"])?;
    let [a, b] = &cli.positional[..] else {
        anyhow::bail!("give two endpoints\n\n{USAGE}");
    };
    let app = match cli.value("app") {
        Some(app) => app.to_owned(),
        None => common::unique_app("bridge-call"),
    };
    let client = cli.connect().await?;
    // The application must be registered before channels are originated into it.
    let router = common::router(&client, &app).await?;

    let bridge = router.new_bridge();
    bridge
        .handle
        .create_with_id()
        .r#type("mixing")
        .send()
        .await
        .context("create the bridge")?;
    println!("created bridge {}", bridge.handle.id());

    let mut legs = Vec::new();
    for endpoint in [a, b] {
        let leg = router.new_channel();
        println!("calling {endpoint} as channel {}", leg.handle.id());
        let placed = leg
            .handle
            .originate_with_id(endpoint)
            .app(&app)
            .send()
            .await
            .with_context(|| format!("originate {endpoint}"));
        legs.push(leg);
        if let Err(e) = placed {
            cleanup(&client, &legs, bridge.handle.id()).await;
            return Err(e);
        }
    }

    // Bridge each leg once it has answered and entered the application.
    let mut failure = None;
    for (leg, endpoint) in legs.iter_mut().zip([a, b]) {
        let mut entered = false;
        while let Some(event) = leg.events.next().await {
            match event {
                Event::StasisStart(_) => {
                    entered = true;
                    break;
                }
                Event::ChannelDestroyed(gone) => {
                    failure = Some(format!(
                        "{endpoint} did not answer: {} ({})",
                        gone.cause, gone.cause_txt
                    ));
                    break;
                }
                _ => {}
            }
        }
        if !entered {
            break;
        }
        let added = bridge.handle.add_channel([leg.handle.id()]).send().await;
        if let Err(e) = added {
            failure = Some(format!("add {endpoint} to the bridge: {e}"));
            break;
        }
        println!("{endpoint} answered and is in the bridge");
    }

    if failure.is_none() {
        println!("bridged; waiting for a hangup");
        // Either leg's stream ends when it leaves the application.
        let (first, second) = legs.split_at_mut(1);
        tokio::select! {
            _ = first[0].events.by_ref().for_each(|_| async {}) => println!("{a} hung up"),
            _ = second[0].events.by_ref().for_each(|_| async {}) => println!("{b} hung up"),
        }
    }
    cleanup(&client, &legs, bridge.handle.id()).await;
    match failure {
        Some(f) => anyhow::bail!(f),
        None => Ok(()),
    }
}

/// Hangs up both legs and destroys the bridge, whatever state they are in.
async fn cleanup(
    client: &ari_sdk::Client,
    legs: &[ari_sdk::routing::Prepared<ari_sdk::ChannelHandle>],
    bridge_id: &str,
) {
    for leg in legs {
        common::hang_up_quietly(client, leg.handle.id()).await;
    }
    common::destroy_bridge_quietly(client, bridge_id).await;
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
