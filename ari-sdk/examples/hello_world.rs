//! hello-world: a Stasis application that answers each call, plays `sound:hello-world`, and
//! hangs up once the playback has finished.
//!
//! It shows [`StasisApp`] (one task per call, each with its channel's own event stream, which
//! goes on past `StasisEnd` to `ChannelDestroyed` and its hangup cause) and the library's flows:
//! [`Call::play_to_end`] subscribes to the playback before starting it, so its
//! `PlaybackFinished` cannot be missed, and `hangup_if_present` does not mind a caller who hung
//! up first.
//!
//! Serve calls that the dialplan sends to the application (`exten => 100,1,Stasis(hello-world)`):
//!
//! ```text
//! cargo run -p ari-sdk --example hello-world -- --app hello-world
//! ```
//!
//! Or, for a one-command demo, place one call into the application and exit when it has ended
//! (with the servers of `cargo xtask asterisk up`, `Local/wait@default` is a far end that answers
//! and listens):
//!
//! ```text
//! cargo run -p ari-sdk --example hello-world -- --originate Local/wait@default
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::{Client, Event};
use futures::StreamExt;

const USAGE: &str = "\
usage: hello-world [--app NAME] [--originate ENDPOINT [--timeout SECS]]

  --app NAME            Stasis application to register (default: hello-world, or a unique
                        name with --originate)
  --originate ENDPOINT  place one call to ENDPOINT into the application, handle it, then exit
  --timeout SECS        give up on that call after SECS seconds (default 60)";

/// What one call went through.
#[derive(Clone, Debug)]
pub struct CallReport {
    /// The channel that entered the application.
    pub channel_id: String,
    /// The answer request was accepted.
    pub answered: bool,
    /// The id of the `sound:hello-world` playback (chosen by the client).
    pub playback_id: String,
    /// The playback's state when it finished: `done` when played to the end, `failed` when,
    /// for one, the caller hung up during it.
    pub playback_state: String,
    /// The application hung up (after the playback). `false` when the caller left first.
    pub hung_up: bool,
    /// `StasisEnd` arrived: the channel left the application.
    pub stasis_end: bool,
    /// The hangup cause and its text, from the channel's `ChannelDestroyed` (the call's stream
    /// carries it after `StasisEnd`).
    pub hangup_cause: Option<(i64, String)>,
    /// From entering the application to the channel's end.
    pub elapsed: Duration,
}

/// The application's logic for one call: answer, play to the end, hang up.
pub async fn handle_call(mut call: Call) -> anyhow::Result<CallReport> {
    let started = Instant::now();
    let id = call.channel.id().to_owned();
    println!(
        "[{id}] entered {} (state {})",
        call.application(),
        call.start.channel.state
    );

    call.channel.answer().await.context("answer")?;
    println!("[{id}] answered");

    // Subscribes to the playback before starting it, and waits for its PlaybackFinished.
    let played = call
        .play_to_end(["sound:hello-world"])
        .await
        .context("play sound:hello-world")?;
    println!("[{id}] playback {} finished ({})", played.id, played.state);

    // The caller may have hung up meanwhile (the playback then finishes as `failed`).
    let hung_up = call.channel.hangup_if_present().await.context("hang up")?;
    println!(
        "[{id}] {}",
        if hung_up {
            "hung up"
        } else {
            "the caller had hung up"
        }
    );
    let mut report = CallReport {
        channel_id: id.clone(),
        answered: true,
        playback_id: played.id,
        playback_state: played.state.to_string(),
        hung_up,
        stasis_end: false,
        hangup_cause: None,
        elapsed: Duration::ZERO,
    };
    // The stream goes on to the channel's ChannelDestroyed, then ends.
    while let Some(event) = call.events.next().await {
        match event {
            Event::StasisEnd(_) => report.stasis_end = true,
            Event::ChannelDestroyed(gone) => {
                println!("[{id}] destroyed: {} ({})", gone.cause, gone.cause_txt);
                report.hangup_cause = Some((gone.cause, gone.cause_txt));
            }
            _ => {}
        }
    }
    report.elapsed = started.elapsed();
    println!("[{id}] gone after {:.2} s", report.elapsed.as_secs_f64());
    Ok(report)
}

/// Serves the application until the events connection closes: every call gets
/// [`handle_call`] in a task of its own.
pub async fn serve(client: &Client, app: &str) -> anyhow::Result<()> {
    println!("waiting for calls in Stasis application {app}");
    StasisApp::new(client, app)
        .run(|call: Call| async move {
            let id = call.channel.id().to_owned();
            match handle_call(call).await {
                Ok(report) => println!("[{id}] done: {report:?}"),
                Err(e) => eprintln!("[{id}] call failed: {e:#}"),
            }
        })
        .await?;
    Ok(())
}

/// Places one call to `endpoint` into application `app`, handles it like any other call, and
/// returns when it has left the application. On failure or after `timeout`, the call is hung up.
pub async fn run(
    client: &Client,
    app: &str,
    endpoint: &str,
    timeout: Duration,
) -> anyhow::Result<CallReport> {
    common::place_call(client, app, endpoint, timeout, handle_call).await
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["app", "originate", "timeout"])?;
    let client = cli.connect().await?;
    match cli.value("originate") {
        None => serve(&client, cli.value("app").unwrap_or("hello-world")).await,
        Some(endpoint) => {
            let app = match cli.value("app") {
                Some(app) => app.to_owned(),
                None => common::unique_app("hello-world"),
            };
            let timeout = cli.seconds("timeout", Duration::from_secs(60))?;
            let report = run(&client, &app, endpoint, timeout).await?;
            println!("{report:#?}");
            anyhow::ensure!(
                report.playback_state == "done",
                "the playback was not played to the end (the caller hung up first?)"
            );
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
