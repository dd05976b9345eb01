//! dtmf-menu: an IVR menu. Each call is answered and hears a prompt ("press 1 for hello world,
//! press 2 goodbye"); the caller may press a key during the prompt (it stops the prompt) or
//! within `--digit-timeout` after it. `1` plays `sound:hello-world` and hangs up; `2` hangs up
//! at once, with a hangup reason; any other key plays "invalid option" and the prompt again,
//! and so does silence, up to `--tries` times, after which the menu says goodbye and hangs up.
//!
//! It shows `ChannelDtmfReceived` on the call's own event stream, playbacks subscribed before
//! they start (so their `PlaybackFinished` is never missed), stopping a playback, and a timeout
//! that runs from the end of the prompt.
//!
//! Serve calls that the dialplan sends to the application:
//!
//! ```text
//! cargo run -p ari-sdk --example dtmf-menu -- --app dtmf-menu
//! ```
//!
//! Or, for a one-command demo, place one call into the application and exit when it has ended.
//! With the servers of `cargo xtask asterisk up`, `Local/dtmf-1@default` answers and presses 1
//! a second later, `Local/dtmf-9@default` presses an invalid key, `Local/wait@default` never
//! presses anything:
//!
//! ```text
//! cargo run -p ari-sdk --example dtmf-menu -- --originate Local/dtmf-1@default
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
use ari_sdk::models::PlaybackState;
use ari_sdk::ops::channels::HangupReason;
use ari_sdk::routing::{Call, StasisApp};
use ari_sdk::{Client, Event};
use futures::StreamExt;

const USAGE: &str = "\
usage: dtmf-menu [--app NAME] [--originate ENDPOINT] [options]

  --app NAME            Stasis application (default: dtmf-menu, or a unique name with
                        --originate)
  --originate ENDPOINT  place one call into the application, handle it, then exit
  --prompt MEDIA,...    the menu prompt (default: sound:vm-press,digits:1,sound:for,
                        sound:hello-world,sound:vm-press,digits:2,sound:vm-goodbye)
  --digit-timeout SECS  how long to wait for a key after the prompt (default 5)
  --tries N             how many times the menu is offered (default 3)
  --timeout SECS        with --originate, give up after SECS seconds (default 120)";

/// The default prompt: "press 1 for hello world, press 2 goodbye", from Asterisk's core sounds.
pub const DEFAULT_PROMPT: &[&str] = &[
    "sound:vm-press",
    "digits:1",
    "sound:for",
    "sound:hello-world",
    "sound:vm-press",
    "digits:2",
    "sound:vm-goodbye",
];

/// The menu's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Media URIs of the prompt, played in order as one playback.
    pub prompt: Vec<String>,
    /// How long to wait for a key once the prompt has finished.
    pub digit_timeout: Duration,
    /// How many times the menu is offered before giving up.
    pub tries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prompt: DEFAULT_PROMPT.iter().map(|s| s.to_string()).collect(),
            digit_timeout: Duration::from_secs(5),
            tries: 3,
        }
    }
}

/// One offering of the menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// A key was pressed; `valid` when it is a menu option.
    Key {
        /// The key (`0`-`9`, `*`, `#`, `A`-`D`).
        digit: String,
        /// Whether the menu has this option.
        valid: bool,
        /// Whether it was pressed during the prompt (and stopped it).
        during_prompt: bool,
    },
    /// No key within the timeout after the prompt.
    Timeout,
}

/// How the call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Option 1: hello-world was played, then the call was hung up.
    HelloWorld,
    /// Option 2: hung up at once, with a reason.
    HungUpByChoice,
    /// No valid key in all the tries: goodbye and hang up.
    GaveUp,
    /// The caller hung up first.
    CallerHungUp,
}

/// What one call went through.
#[derive(Clone, Debug)]
pub struct CallReport {
    /// The channel in the application.
    pub channel_id: String,
    /// Each offering of the menu, in order.
    pub attempts: Vec<Attempt>,
    /// How the call ended.
    pub outcome: Outcome,
    /// The channels on which `ChannelDtmfReceived` arrived (the call's own channel).
    pub dtmf_channels: Vec<String>,
    /// What was played to the end, in order: each sound, and the whole prompt as one entry
    /// (its media joined with commas).
    pub played: Vec<String>,
    /// `StasisEnd` arrived: the channel left the application.
    pub stasis_end: bool,
    /// From entering the application to leaving it.
    pub elapsed: Duration,
}

/// What [`offer`] collected.
enum Collected {
    Key { digit: String, during_prompt: bool },
    Timeout,
    HungUp,
}

/// The menu's state for one call.
struct Menu {
    call: Call,
    report: CallReport,
}

impl Menu {
    fn id(&self) -> &str {
        self.call.channel.id()
    }

    /// Plays `media` to the end. Keys pressed meanwhile are noted and ignored. `Ok(false)` when
    /// the caller hung up.
    async fn play(&mut self, media: &[String]) -> anyhow::Result<bool> {
        let mut playback = self.call.router.new_playback();
        self.call
            .channel
            .play_with_id(playback.handle.id(), media)
            .send()
            .await
            .with_context(|| format!("play {media:?}"))?;
        loop {
            tokio::select! {
                event = playback.events.next() => match event {
                    Some(Event::PlaybackFinished(done)) => {
                        if done.playback.state == PlaybackState::Done {
                            self.report.played.push(media.join(","));
                        }
                        return Ok(true);
                    }
                    Some(_) => {}
                    None => return Ok(true),
                },
                event = self.call.events.next() => match event {
                    Some(Event::StasisEnd(_)) => {
                        self.report.stasis_end = true;
                        return Ok(false);
                    }
                    None => return Ok(false),
                    Some(Event::ChannelDtmfReceived(key)) => {
                        println!("[{}] key {} ignored during {media:?}", self.id(), key.digit);
                    }
                    Some(_) => {}
                },
            }
        }
    }

    /// Plays the prompt and waits for a key: during the prompt (which stops it), or within the
    /// timeout after it.
    ///
    /// The prompt's items are played one playback each: stopping a playback of several media
    /// URIs (`DELETE /playbacks/{id}`) stops only the item being played, and Asterisk goes on
    /// with the next one.
    async fn offer(&mut self, config: &Config) -> anyhow::Result<Collected> {
        let mut items = config.prompt.iter();
        let mut current = None;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            if current.is_none() && deadline.is_none() {
                match items.next() {
                    Some(media) => {
                        let playback = self.call.router.new_playback();
                        self.call
                            .channel
                            .play_with_id(playback.handle.id(), [media])
                            .send()
                            .await
                            .with_context(|| format!("play {media}"))?;
                        current = Some(playback);
                    }
                    None => {
                        self.report.played.push(config.prompt.join(","));
                        deadline = Some(tokio::time::Instant::now() + config.digit_timeout);
                    }
                }
            }
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let prompt_item = async {
                match current.as_mut() {
                    Some(playback) => playback.events.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = self.call.events.next() => match event {
                    Some(Event::ChannelDtmfReceived(key)) => {
                        self.report.dtmf_channels.push(key.channel.id.clone());
                        if let Some(playback) = current.take() {
                            // Barge-in: the caller knows what to press. The playback may have
                            // just finished by itself, so a failure here is no error.
                            let _ = playback.handle.stop().send().await;
                        }
                        return Ok(Collected::Key {
                            digit: key.digit,
                            during_prompt: deadline.is_none(),
                        });
                    }
                    Some(Event::StasisEnd(_)) => {
                        self.report.stasis_end = true;
                        return Ok(Collected::HungUp);
                    }
                    None => return Ok(Collected::HungUp),
                    Some(_) => {}
                },
                event = prompt_item => {
                    if matches!(event, Some(Event::PlaybackFinished(_)) | None) {
                        current = None;
                    }
                }
                () = timer => return Ok(Collected::Timeout),
            }
        }
    }

    /// Hangs up and waits for the channel to leave the application.
    async fn hang_up(&mut self, reason: Option<HangupReason>) -> anyhow::Result<()> {
        let mut request = self.call.channel.hangup();
        if let Some(reason) = reason {
            request = request.reason(reason);
        }
        match request.send().await {
            Ok(()) => {}
            // The caller hung up just before: the channel's stream ends all the same.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e).context("hang up"),
        }
        while let Some(event) = self.call.events.next().await {
            if let Event::StasisEnd(_) = event {
                self.report.stasis_end = true;
            }
        }
        Ok(())
    }

    async fn run(&mut self, config: &Config) -> anyhow::Result<Outcome> {
        self.call.channel.answer().send().await.context("answer")?;
        println!("[{}] answered", self.id());
        for attempt in 1..=config.tries {
            println!("[{}] menu, try {attempt} of {}", self.id(), config.tries);
            let (digit, during_prompt) = match self.offer(config).await? {
                Collected::HungUp => return Ok(Outcome::CallerHungUp),
                Collected::Timeout => {
                    println!("[{}] no key", self.id());
                    self.report.attempts.push(Attempt::Timeout);
                    continue;
                }
                Collected::Key {
                    digit,
                    during_prompt,
                } => (digit, during_prompt),
            };
            let valid = matches!(digit.as_str(), "1" | "2");
            println!(
                "[{}] key {digit}{}",
                self.id(),
                if valid { "" } else { ": invalid" }
            );
            self.report.attempts.push(Attempt::Key {
                digit: digit.clone(),
                valid,
                during_prompt,
            });
            match digit.as_str() {
                "1" => {
                    if !self.play(&["sound:hello-world".to_owned()]).await? {
                        return Ok(Outcome::CallerHungUp);
                    }
                    self.hang_up(None).await?;
                    return Ok(Outcome::HelloWorld);
                }
                "2" => {
                    self.hang_up(Some(HangupReason::Normal)).await?;
                    return Ok(Outcome::HungUpByChoice);
                }
                _ => {
                    if !self.play(&["sound:pm-invalid-option".to_owned()]).await? {
                        return Ok(Outcome::CallerHungUp);
                    }
                }
            }
        }
        println!("[{}] no valid key: goodbye", self.id());
        if self.play(&["sound:vm-goodbye".to_owned()]).await? {
            self.hang_up(None).await?;
        }
        Ok(Outcome::GaveUp)
    }
}

/// The menu for one call.
pub async fn handle_call(call: Call, config: &Config) -> anyhow::Result<CallReport> {
    let started = Instant::now();
    let channel_id = call.channel.id().to_owned();
    println!("[{channel_id}] entered {}", call.application());
    let mut menu = Menu {
        call,
        report: CallReport {
            channel_id,
            attempts: Vec::new(),
            outcome: Outcome::CallerHungUp,
            dtmf_channels: Vec::new(),
            played: Vec::new(),
            stasis_end: false,
            elapsed: Duration::ZERO,
        },
    };
    menu.report.outcome = menu.run(config).await?;
    menu.report.elapsed = started.elapsed();
    println!(
        "[{}] {:?} after {:.2} s",
        menu.id(),
        menu.report.outcome,
        menu.report.elapsed.as_secs_f64()
    );
    Ok(menu.report)
}

/// Serves the application until the events connection closes.
pub async fn serve(client: &Client, app: &str, config: Config) -> anyhow::Result<()> {
    println!("waiting for calls in Stasis application {app}");
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

/// Places one call to `endpoint` into application `app` and runs the menu on it. On failure or
/// after `timeout`, the call is hung up.
pub async fn run(
    client: &Client,
    app: &str,
    endpoint: &str,
    config: &Config,
    timeout: Duration,
) -> anyhow::Result<CallReport> {
    common::place_call(client, app, endpoint, timeout, |call| {
        handle_call(call, config)
    })
    .await
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(
        USAGE,
        &[
            "app",
            "originate",
            "prompt",
            "digit-timeout",
            "tries",
            "timeout",
        ],
    )?;
    let mut config = Config::default();
    if let Some(prompt) = cli.value("prompt") {
        config.prompt = prompt.split(',').map(str::to_owned).collect();
    }
    config.digit_timeout = cli.seconds("digit-timeout", config.digit_timeout)?;
    if let Some(tries) = cli.value("tries") {
        config.tries = tries
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("--tries: {tries:?} is not a positive number"))?;
    }
    let client = cli.connect().await?;
    match cli.value("originate") {
        None => serve(&client, cli.value("app").unwrap_or("dtmf-menu"), config).await,
        Some(endpoint) => {
            let app = match cli.value("app") {
                Some(app) => app.to_owned(),
                None => common::unique_app("dtmf-menu"),
            };
            let timeout = cli.seconds("timeout", Duration::from_secs(120))?;
            let report = run(&client, &app, endpoint, &config, timeout).await?;
            println!("{report:#?}");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
