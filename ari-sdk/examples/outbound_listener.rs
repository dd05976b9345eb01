//! outbound-listener: the hello-world application served over connections that **Asterisk opens
//! to the application** (outbound ARI WebSockets), instead of the events WebSocket that the
//! application opens to Asterisk. The call logic is hello-world's own [`hello_world::handle_call`];
//! the one line that changes is `StasisApp::outbound(listener)` for
//! `StasisApp::new(&client, app)`. Each call's REST goes over the connection that brought it.
//!
//! Asterisk 20.15+, 21.10+, 22.5+ and 23 have outbound WebSockets (16.x, 18.x never connect).
//! Asterisk's side, as `cargo xtask asterisk up` configures the 22.10.1 test server:
//!
//! ```text
//! ; websocket_client.conf                     ; ari.conf
//! [ari-out-percall]                           [ari-out-percall]
//! type = websocket_client                     type = outbound_websocket
//! connection_type = per_call_config           websocket_client_id = ari-out-percall
//! uri = ws://127.0.0.1:8766/ari               apps = outbound-percall
//! username = ari-out                          local_ari_user = asterisk
//! password = ari-out-secret
//! ```
//!
//! Listen, and serve calls that the dialplan sends to `Stasis(outbound-percall)` (with the test
//! servers: originate `Local/stasis-outbound-percall@default`):
//!
//! ```text
//! cargo run -p ari-sdk --features server --example outbound-listener -- \
//!     --listen 127.0.0.1:8766 --out-user ari-out --out-password ari-out-secret
//! ```
//!
//! `--calls N` exits after N calls; `--tls-cert PEM --tls-key PEM` serves `wss://`
//! (`tls_enabled = yes` in `websocket_client.conf`).

// hello-world includes examples/common/mod.rs as its own module, and so does this example.
#![allow(clippy::duplicate_mod)]

#[path = "common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "hello_world.rs"]
mod hello_world;

use std::process::ExitCode;

use anyhow::Context;
use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::server::AriListener;
use hello_world::CallReport;

const USAGE: &str = "\
usage: outbound-listener --out-user USER --out-password PASSWORD [--listen ADDR] [--calls N]
                         [--tls-cert PEM --tls-key PEM]

  --listen ADDR         where Asterisk connects (default 127.0.0.1:8765)
  --out-user USER       the user name Asterisk presents (websocket_client.conf username)
  --out-password PASS   its password; other connections are refused with 401
  --calls N             exit after N calls (default: serve until interrupted)
  --tls-cert, --tls-key serve TLS with this PEM certificate chain and key";

/// Serves hello-world's call logic on every connection Asterisk opens to `listener`; with
/// `calls`, shuts the listener down after that many calls and returns their reports.
pub async fn serve(listener: AriListener, calls: Option<usize>) -> anyhow::Result<Vec<CallReport>> {
    println!("listening on {} for Asterisk", listener.local_addr());
    let stop = listener.shutdown_handle();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let app = tokio::spawn(StasisApp::outbound(listener).run(move |call: Call| {
        let tx = tx.clone();
        async move {
            let id = call.channel.id().to_owned();
            let outcome = hello_world::handle_call(call).await;
            match &outcome {
                Ok(report) => println!("[{id}] done: {report:?}"),
                Err(e) => eprintln!("[{id}] call failed: {e:#}"),
            }
            let _ = tx.send(outcome);
        }
    }));
    let mut reports = Vec::new();
    while calls.is_none_or(|n| reports.len() < n) {
        match rx.recv().await {
            Some(outcome) => reports.push(outcome?),
            None => break,
        }
    }
    stop.shutdown();
    app.await.context("application task")??;
    Ok(reports)
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(
        USAGE,
        &[
            "listen",
            "out-user",
            "out-password",
            "calls",
            "tls-cert",
            "tls-key",
        ],
    )?;
    let user = cli.value("out-user").context("--out-user is required")?;
    let password = cli
        .value("out-password")
        .context("--out-password is required")?;
    let calls = match cli.value("calls") {
        Some(n) => Some(n.parse::<usize>().context("--calls takes a number")?),
        None => None,
    };
    let mut builder = AriListener::builder().credentials(user, password);
    if let (Some(cert), Some(key)) = (cli.value("tls-cert"), cli.value("tls-key")) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {cert}"))?;
        let key = std::fs::read(key).with_context(|| format!("reading {key}"))?;
        builder = builder.tls_pem(&cert, &key);
    }
    let listener = builder
        .bind(cli.value("listen").unwrap_or("127.0.0.1:8765"))
        .await?;
    let reports = serve(listener, calls).await?;
    println!("served {} calls", reports.len());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
