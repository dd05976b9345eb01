//! originate-and-report: originates one call and reports how it ended: the hangup cause code
//! and its text, whether it was answered, the `Dial` statuses, and how long it lasted.
//!
//! It shows a plain [`EventStream`](ari_sdk::events::EventStream) filtered by channel id (the
//! whole life of one channel, `ChannelDestroyed` included) and a channel id chosen by the
//! client, so that no event of the new channel can be missed or mistaken for another's.
//!
//! The duration runs to `ChannelDestroyed`, from the answer when the call was answered and from
//! the channel's creation otherwise; the report says which. Both ends are taken on this machine
//! when the events arrive.
//!
//! ```text
//! cargo run -p ari-sdk --example originate-and-report -- Local/answer-hangup@default
//! cargo run -p ari-sdk --example originate-and-report -- Local/hangup-17@default   # refused: busy
//! cargo run -p ari-sdk --example originate-and-report -- PJSIP/alice --hangup-after 10
//! ```
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ari_sdk::events::StreamItem;
use ari_sdk::models::ChannelState;
use ari_sdk::{ChannelHandle, Client, Event};
use futures::StreamExt;

const USAGE: &str = "\
usage: originate-and-report ENDPOINT [--ring-timeout SECS] [--hangup-after SECS] [--timeout SECS]

  ENDPOINT             what to call, e.g. Local/answer-hangup@default or PJSIP/alice
  --ring-timeout SECS  how long the endpoint may ring (default 30)
  --hangup-after SECS  hang up this long after the answer (default: wait for the far end)
  --timeout SECS       give up and hang up after SECS seconds in all (default 120)
  --app NAME           Stasis application the call is placed into (default: a unique name)";

/// What the call is given.
#[derive(Clone, Debug)]
pub struct Config {
    /// The endpoint to call.
    pub endpoint: String,
    /// The Stasis application the answered call is placed into (and whose events are read).
    pub app: String,
    /// How long the endpoint may ring, in whole seconds.
    pub ring_timeout: u32,
    /// Hang up this long after the answer; `None` waits for the far end to hang up.
    pub hangup_after: Option<Duration>,
    /// Longest time for the whole call; then it is hung up and the run fails.
    pub timeout: Duration,
}

/// Where the reported duration starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeasuredFrom {
    /// The call was answered: from the answer to `ChannelDestroyed`.
    Answer,
    /// The call was never answered: from the channel's creation to `ChannelDestroyed`.
    Creation,
}

impl fmt::Display for MeasuredFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MeasuredFrom::Answer => "from the answer",
            MeasuredFrom::Creation => "from the channel's creation (never answered)",
        })
    }
}

/// How the call ended.
#[derive(Clone, Debug)]
pub struct Report {
    /// The originated channel.
    pub channel_id: String,
    /// Whether the far end answered.
    pub answered: bool,
    /// The `dialstatus` of each `Dial` event of the channel, in order (`""` when dialing
    /// starts, then e.g. `RINGING`, `ANSWER`, `BUSY`).
    pub dial_statuses: Vec<String>,
    /// Q.850 hangup cause of `ChannelDestroyed`.
    pub cause: i64,
    /// Asterisk's text for the cause, e.g. `Normal Clearing`.
    pub cause_txt: String,
    /// How long the call lasted, to `ChannelDestroyed`.
    pub duration: Duration,
    /// Where [`duration`](Self::duration) starts.
    pub measured_from: MeasuredFrom,
    /// Whether this program hung up (`--hangup-after`) rather than the far end.
    pub hung_up_by_us: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "channel      {}", self.channel_id)?;
        writeln!(
            f,
            "answered     {}",
            if self.answered { "yes" } else { "no" }
        )?;
        writeln!(f, "dial status  {:?}", self.dial_statuses)?;
        writeln!(f, "cause        {} ({})", self.cause, self.cause_txt)?;
        writeln!(
            f,
            "hung up by   {}",
            if self.hung_up_by_us {
                "this program"
            } else {
                "the far end or the network"
            }
        )?;
        write!(
            f,
            "duration     {:.3} s {}",
            self.duration.as_secs_f64(),
            self.measured_from
        )
    }
}

/// Originates the call and follows it to `ChannelDestroyed`.
pub async fn run(client: &Client, config: &Config) -> anyhow::Result<Report> {
    // Register the application first: the originated channel is subscribed to it from its
    // creation, so every event of the channel (up to ChannelDestroyed) comes on this stream.
    let mut events = client
        .event_stream()
        .app(&config.app)
        .connect()
        .await
        .with_context(|| format!("cannot connect the events of application {}", config.app))?;
    let channel = ChannelHandle::new(client.clone(), ari_sdk::routing::new_id());
    let id = channel.id().to_owned();

    println!("originating {} as channel {id}", config.endpoint);
    channel
        .originate_with_id(&config.endpoint)
        .app(&config.app)
        .timeout(i64::from(config.ring_timeout))
        .send()
        .await
        .with_context(|| format!("originate {}", config.endpoint))?;
    let created = Instant::now();

    let follow = async {
        let mut answered: Option<Instant> = None;
        let mut dial_statuses = Vec::new();
        let mut hang_up_at: Option<tokio::time::Instant> = None;
        let mut hung_up_by_us = false;
        loop {
            let hang_up_timer = async {
                match hang_up_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let item = tokio::select! {
                item = events.next() => item,
                () = hang_up_timer => {
                    println!("hanging up after {:?}", config.hangup_after.unwrap_or_default());
                    hang_up_at = None;
                    hung_up_by_us = true;
                    channel.hangup().send().await.context("hang up")?;
                    continue;
                }
            };
            let event = match item {
                Some(StreamItem::Event(event)) => event,
                Some(StreamItem::Reconnected { .. }) => {
                    // Events may have been lost: if the channel is gone, its end was missed.
                    if let Err(e) = channel.get().send().await {
                        anyhow::bail!("lost the events connection and the channel: {e}");
                    }
                    continue;
                }
                Some(StreamItem::Undecoded(u)) => {
                    eprintln!("warning: {u}");
                    continue;
                }
                Some(StreamItem::Error(e)) => {
                    eprintln!("warning: events: {e}");
                    continue;
                }
                None => anyhow::bail!("the events connection closed before the call ended"),
            };
            let t = created.elapsed().as_secs_f64();
            match event {
                Event::Dial(dial) if dial.peer.id == id => {
                    println!("{t:7.3} s  Dial {:?}", dial.dialstatus);
                    dial_statuses.push(dial.dialstatus);
                }
                Event::ChannelStateChange(change) if change.channel.id == id => {
                    println!("{t:7.3} s  state {}", change.channel.state);
                    if change.channel.state == ChannelState::Up && answered.is_none() {
                        answered = Some(Instant::now());
                        if let Some(after) = config.hangup_after {
                            hang_up_at = Some(tokio::time::Instant::now() + after);
                        }
                    }
                }
                Event::StasisStart(start) if start.channel.id == id => {
                    println!("{t:7.3} s  entered the application (answered)");
                }
                Event::ChannelHangupRequest(req) if req.channel.id == id => {
                    println!("{t:7.3} s  hangup requested, cause {:?}", req.cause);
                }
                Event::ChannelDestroyed(gone) if gone.channel.id == id => {
                    println!("{t:7.3} s  destroyed: {} ({})", gone.cause, gone.cause_txt);
                    let (duration, measured_from) = match answered {
                        Some(at) => (at.elapsed(), MeasuredFrom::Answer),
                        None => (created.elapsed(), MeasuredFrom::Creation),
                    };
                    return Ok(Report {
                        channel_id: id.clone(),
                        answered: answered.is_some(),
                        dial_statuses,
                        cause: gone.cause,
                        cause_txt: gone.cause_txt,
                        duration,
                        measured_from,
                        hung_up_by_us,
                    });
                }
                _ => {}
            }
        }
    };
    let result = match tokio::time::timeout(config.timeout, follow).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!(
            "the call did not end within {} s",
            config.timeout.as_secs_f64()
        )),
    };
    if result.is_err() {
        common::hang_up_quietly(client, &id).await;
    }
    events.close();
    result
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["app", "ring-timeout", "hangup-after", "timeout"])?;
    let [endpoint] = &cli.positional[..] else {
        anyhow::bail!("give one endpoint to call\n\n{USAGE}");
    };
    let config = Config {
        endpoint: endpoint.clone(),
        app: match cli.value("app") {
            Some(app) => app.to_owned(),
            None => common::unique_app("originate-and-report"),
        },
        ring_timeout: cli
            .seconds("ring-timeout", Duration::from_secs(30))?
            .as_secs() as u32,
        hangup_after: match cli.value("hangup-after") {
            Some(_) => Some(cli.seconds("hangup-after", Duration::ZERO)?),
            None => None,
        },
        timeout: cli.seconds("timeout", Duration::from_secs(120))?,
    };
    let client = cli.connect().await?;
    let report = run(&client, &config).await?;
    println!("\n{report}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
