//! create-bridge-dial: connects each call that enters the application to another endpoint with
//! early bridging: the outgoing channel is created (`channels.create`, not originate), given
//! variables and a caller id, put in a bridge together with the caller, and only then dialed,
//! so the caller hears the callee's ringing and early media through the bridge.
//!
//! For each call it reports the `ChannelEnteredBridge` of both channels and the `Dial` events of
//! the outgoing channel (the `DIALSTATUS` progression, e.g. `RINGING` then `ANSWER`), answers
//! the caller once the callee has answered, and when either side hangs up (or `--hold` has
//! passed) hangs up both and destroys the bridge.
//!
//! Serve calls that the dialplan sends to the application:
//!
//! ```text
//! cargo run -p ari-sdk --example create-bridge-dial -- --app bridge-dial --callee PJSIP/bob
//! ```
//!
//! Or, for a one-command demo, place one caller into the application and exit when it is done
//! (with the servers of `cargo xtask asterisk up`: the caller answers and listens, the callee
//! rings 2 s then answers):
//!
//! ```text
//! cargo run -p ari-sdk --example create-bridge-dial -- \
//!     --originate Local/wait@default --callee Local/answer-later@default --hold 3
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ari_sdk::models::ChannelState;
use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::{Client, Event};
use futures::StreamExt;

const USAGE: &str = "\
usage: create-bridge-dial --callee ENDPOINT [--app NAME] [--originate ENDPOINT] [options]

  --callee ENDPOINT     whom to connect each caller to (required)
  --app NAME            Stasis application (default: create-bridge-dial, or a unique name
                        with --originate)
  --originate ENDPOINT  place one caller into the application, handle it, then exit
  --caller-id TEXT      caller id of the outgoing call (default: \"ARI example\" <1000>)
  --dial-timeout SECS   how long the callee may ring (default 30)
  --hold SECS           hang up both this long after the callee answers (default: until
                        either side hangs up)
  --max-duration SECS   hang up both after SECS seconds in all (default: no limit, or 120
                        with --originate)";

/// How each call is connected.
#[derive(Clone, Debug)]
pub struct Config {
    /// The endpoint to dial for each caller.
    pub callee: String,
    /// Caller id for the outgoing call, `"Name" <number>`.
    pub caller_id: String,
    /// How long the callee may ring, in whole seconds.
    pub dial_timeout: u32,
    /// Hang up both this long after the answer; `None` waits for either side to hang up.
    pub hold: Option<Duration>,
    /// Longest time one call may take, dial included; then both sides are hung up and the
    /// handler fails. `None` for no limit.
    pub max_duration: Option<Duration>,
}

/// What one connection attempt went through.
#[derive(Clone, Debug, Default)]
pub struct CallReport {
    /// The calling channel (the one that entered the application).
    pub caller_id: String,
    /// The outgoing channel.
    pub callee_id: String,
    /// The bridge.
    pub bridge_id: String,
    /// Variables of the outgoing channel (`EXAMPLE_CALLER` and the caller id), as read back
    /// from Asterisk: `(name, value)`.
    pub callee_variables: Vec<(String, String)>,
    /// Channels in the order their `ChannelEnteredBridge` arrived.
    pub entered_bridge: Vec<String>,
    /// `dialstatus` of each `Dial` event of the outgoing channel, in order.
    pub dial_statuses: Vec<String>,
    /// Seconds from dialing to each of those `Dial` events.
    pub dial_times: Vec<f64>,
    /// The callee answered.
    pub answered: bool,
    /// Q.850 cause of the outgoing channel's `ChannelHangupRequest`, if it came (e.g. 17 when
    /// busy, 34 on congestion).
    pub callee_hangup_cause: Option<i64>,
    /// The bridge was destroyed and both channels had left the application at the end.
    pub cleaned_up: bool,
}

/// Connects one call: create, set up, bridge, dial; then wait and clean up.
pub async fn handle_call(mut call: Call, config: &Config) -> anyhow::Result<CallReport> {
    let client = call.channel.client().clone();
    let app = call.application().to_owned();
    let caller = call.channel.id().to_owned();
    // Subscribe to the outgoing channel and the bridge before creating them.
    let mut callee = call.router.new_channel();
    let mut bridge = call.router.new_bridge();
    let mut report = CallReport {
        caller_id: caller.clone(),
        callee_id: callee.handle.id().to_owned(),
        bridge_id: bridge.handle.id().to_owned(),
        ..CallReport::default()
    };
    println!("[{caller}] entered {app}");

    let connect = async {
        // 1. The outgoing channel: created in the application, not dialed yet, with its
        //    variables and caller id set as it is created. `originator` links it to the
        //    caller (linkedid, codec choice).
        client
            .channels()
            .create(&config.callee, &app)
            .channel_id(callee.handle.id())
            .originator(&caller)
            .variables([
                ("EXAMPLE_CALLER", caller.as_str()),
                ("CALLERID(all)", config.caller_id.as_str()),
            ])
            .send()
            .await
            .with_context(|| format!("create a channel to {}", config.callee))?;
        // The request returns before the channel is in the application: until its StasisStart,
        // operations on it may fail with 409 "Channel not in Stasis application".
        loop {
            match callee.events.next().await {
                Some(Event::StasisStart(_)) => break,
                Some(_) => {}
                None => anyhow::bail!("the outgoing channel went away before it was dialed"),
            }
        }
        println!(
            "[{caller}] created {} to {}",
            report.callee_id, config.callee
        );
        for name in ["EXAMPLE_CALLER", "CALLERID(all)"] {
            let var = callee.handle.get_channel_var(name).send().await?;
            report.callee_variables.push((name.to_owned(), var.value));
        }
        println!("[{caller}] callee variables {:?}", report.callee_variables);

        // 2. The bridge, with both channels in it before the dial.
        bridge
            .handle
            .create_with_id()
            .r#type("mixing")
            .name(format!("create-bridge-dial {caller}"))
            .send()
            .await
            .context("create the bridge")?;
        bridge
            .handle
            .add_channel([caller.as_str(), callee.handle.id()])
            .send()
            .await
            .context("add the channels to the bridge")?;
        println!(
            "[{caller}] bridge {} created, both channels added",
            report.bridge_id
        );

        // 3. Dial.
        callee
            .handle
            .dial()
            .caller(&caller)
            .timeout(i64::from(config.dial_timeout))
            .send()
            .await
            .context("dial")?;
        let dialed = Instant::now();
        println!("[{caller}] dialing {}", config.callee);

        let mut hang_up_at: Option<tokio::time::Instant> = None;
        loop {
            let hold_over = async {
                match hang_up_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = bridge.events.next() => match event {
                    Some(Event::ChannelEnteredBridge(entered)) => {
                        if let Some(channel) = entered.channel {
                            println!("[{caller}] ChannelEnteredBridge {}", channel.id);
                            report.entered_bridge.push(channel.id);
                        }
                    }
                    Some(Event::ChannelLeftBridge(left)) => {
                        println!("[{caller}] ChannelLeftBridge {}", left.channel.id);
                    }
                    Some(_) => {}
                    None => anyhow::bail!("the bridge went away"),
                },
                event = callee.events.next() => match event {
                    Some(Event::Dial(dial)) => {
                        let t = dialed.elapsed().as_secs_f64();
                        println!("[{caller}] {t:6.3} s Dial {:?}", dial.dialstatus);
                        report.dial_times.push(t);
                        report.dial_statuses.push(dial.dialstatus.clone());
                        if dial.dialstatus == "ANSWER" {
                            report.answered = true;
                            // Answer the caller only now: until then it hears the callee's
                            // ringing through the bridge.
                            if call.start.channel.state != ChannelState::Up {
                                call.channel.answer().send().await.context("answer the caller")?;
                            }
                            if let Some(hold) = config.hold {
                                hang_up_at = Some(tokio::time::Instant::now() + hold);
                            }
                        }
                    }
                    // A failed dial has no final Dial event: the channel is hung up, and the
                    // request carries the cause (its ChannelDestroyed comes after StasisEnd,
                    // where this stream has ended).
                    Some(Event::ChannelHangupRequest(request)) => {
                        report.callee_hangup_cause = request.cause;
                    }
                    Some(_) => {}
                    None => {
                        match (report.answered, report.callee_hangup_cause) {
                            (true, _) => println!("[{caller}] the callee hung up"),
                            (false, Some(cause)) => {
                                println!("[{caller}] the callee did not answer: cause {cause}");
                            }
                            (false, None) => println!("[{caller}] the callee did not answer"),
                        }
                        return Ok(());
                    }
                },
                event = call.events.next() => match event {
                    Some(Event::StasisEnd(_)) | None => {
                        println!("[{caller}] the caller hung up");
                        return Ok(());
                    }
                    Some(_) => {}
                },
                () = hold_over => {
                    println!("[{caller}] hold time over");
                    return Ok(());
                }
            }
        }
    };
    let result = match config.max_duration {
        None => connect.await,
        Some(limit) => match tokio::time::timeout(limit, connect).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the call took longer than {} s",
                limit.as_secs_f64()
            )),
        },
    };

    // Clean up whatever happened: both channels, then the bridge.
    common::hang_up_quietly(&client, &report.callee_id).await;
    common::hang_up_quietly(&client, &caller).await;
    let limit = Duration::from_secs(5);
    let callee_gone = common::wait_until_gone(&mut callee.events, limit).await;
    let caller_gone = common::wait_until_gone(&mut call.events, limit).await;
    common::destroy_bridge_quietly(&client, &report.bridge_id).await;
    let bridge_gone = common::wait_until_gone(&mut bridge.events, limit).await;
    report.cleaned_up = callee_gone && caller_gone && bridge_gone;
    result?;
    Ok(report)
}

/// Serves the application until the events connection closes.
pub async fn serve(client: &Client, app: &str, config: Config) -> anyhow::Result<()> {
    println!(
        "waiting for calls in Stasis application {app}; each is connected to {}",
        config.callee
    );
    let config = Arc::new(config);
    StasisApp::new(client, app)
        .run(move |call: Call| {
            let config = config.clone();
            async move {
                let id = call.channel.id().to_owned();
                match handle_call(call, &config).await {
                    Ok(report) => println!("[{id}] done: {report:?}"),
                    Err(e) => eprintln!("[{id}] call failed: {e:#}"),
                }
            }
        })
        .await?;
    Ok(())
}

/// Places one caller (`caller_endpoint`) into application `app` and connects it as any other
/// call. Whatever happens, what was created is hung up or destroyed: by the handler (set
/// [`Config::max_duration`] to bound the call), or here if the caller never got that far.
pub async fn run(
    client: &Client,
    app: &str,
    caller_endpoint: &str,
    config: &Config,
) -> anyhow::Result<CallReport> {
    // A safety net only: the handler's own limit comes first and cleans up after itself.
    let timeout =
        config.max_duration.unwrap_or(Duration::from_secs(3600)) + Duration::from_secs(30);
    common::place_call(client, app, caller_endpoint, timeout, |call| {
        handle_call(call, config)
    })
    .await
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(
        USAGE,
        &[
            "app",
            "callee",
            "originate",
            "caller-id",
            "dial-timeout",
            "hold",
            "max-duration",
        ],
    )?;
    let max_duration = match (cli.value("max-duration"), cli.value("originate")) {
        (Some(_), _) => Some(cli.seconds("max-duration", Duration::ZERO)?),
        (None, Some(_)) => Some(Duration::from_secs(120)),
        (None, None) => None,
    };
    let config = Config {
        callee: cli
            .value("callee")
            .with_context(|| format!("--callee is required\n\n{USAGE}"))?
            .to_owned(),
        caller_id: cli
            .value("caller-id")
            .unwrap_or("\"ARI example\" <1000>")
            .to_owned(),
        dial_timeout: cli
            .seconds("dial-timeout", Duration::from_secs(30))?
            .as_secs() as u32,
        hold: match cli.value("hold") {
            Some(_) => Some(cli.seconds("hold", Duration::ZERO)?),
            None => None,
        },
        max_duration,
    };
    let client = cli.connect().await?;
    match cli.value("originate") {
        None => {
            let app = cli.value("app").unwrap_or("create-bridge-dial");
            serve(&client, app, config).await
        }
        Some(endpoint) => {
            let app = match cli.value("app") {
                Some(app) => app.to_owned(),
                None => common::unique_app("create-bridge-dial"),
            };
            let report = run(&client, &app, endpoint, &config).await?;
            println!("{report:#?}");
            anyhow::ensure!(report.answered, "the callee did not answer");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
