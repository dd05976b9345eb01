//! broadcast-agents: two agent applications compete for the calls that the dialplan offers with
//! `StasisBroadcast()`; each call is taken by exactly one of them.
//!
//! Each agent is a Stasis application of its own. On every `CallBroadcast` it claims the call
//! at once ([`broadcast::claim`]); the winner gets `204` and then the call's `StasisStart`, the
//! other `409`; both see the `CallClaimed` event naming the winner. The winner answers and
//! keeps the call until the run ends (a stand-in for the agent's work), then hangs up.
//! (A claim that comes after the winner has hung up gets `404` instead: the channel is gone.)
//!
//! Needs Asterisk 20.20+, 22.10+ or 23.4+ with `res_stasis_broadcast` and `app_stasis_broadcast`,
//! and an extension that broadcasts to the agents' applications: `cargo xtask asterisk up`
//! installs `broadcast-<prefix>@default`, which offers the call for 5 s to the applications
//! whose names start with `<prefix>`, so that each run offers its calls to its own agents only:
//!
//! ```text
//! cargo run -p ari-sdk --example broadcast-agents -- --calls 10
//! ```
//!
//! starts agents `bcast-<run>-a` and `-b`, places 10 calls into `broadcast-bcast-<run>-@default`
//! and reports who took each.
//!
//! Connection settings: `--url`, `--user`, `--password`, or `ARI_URL`, `ARI_USER`,
//! `ARI_PASSWORD` (default `http://127.0.0.1:8088/ari`, `asterisk`/`asterisk`).

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ari_sdk::events::StreamItem;
use ari_sdk::routing::broadcast::{self, Claim};
use ari_sdk::routing::{Call, Router};
use ari_sdk::{Client, Event};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

const USAGE: &str = "\
usage: broadcast-agents [--calls N] [--context CONTEXT] [--timeout SECS]

  --calls N            calls to place (default 5)
  --context CONTEXT    the context of the extension broadcast-<prefix> (default: default)
  --timeout SECS       give up after SECS seconds (default 60)";

/// What one agent application saw and did.
#[derive(Clone, Debug, Default)]
pub struct AgentReport {
    /// The agent's Stasis application.
    pub app: String,
    /// Channels offered to it (`CallBroadcast`).
    pub offered: BTreeSet<String>,
    /// Channels it claimed first (`204`).
    pub won: BTreeSet<String>,
    /// Channels another application claimed first (`409`), with Asterisk's message.
    pub lost: BTreeMap<String, Option<String>>,
    /// Channels no longer on offer when it claimed (`404`).
    pub gone: BTreeSet<String>,
    /// Channels that entered its application (`StasisStart`).
    pub started: BTreeSet<String>,
    /// `CallClaimed` events: channel, winning application.
    pub claimed_events: BTreeMap<String, String>,
    /// Claims that failed otherwise.
    pub errors: Vec<String>,
}

impl AgentReport {
    /// Whether the agent has a claim outcome and a `CallClaimed` event for every one of
    /// `calls`, and a `StasisStart` for each it won.
    fn settled(&self, calls: &BTreeSet<String>) -> bool {
        calls.iter().all(|c| {
            (self.won.contains(c) || self.lost.contains_key(c) || self.gone.contains(c))
                && self.claimed_events.contains_key(c)
                && (!self.won.contains(c) || self.started.contains(c))
        })
    }
}

/// The run: the broadcast channels placed and each agent's report.
#[derive(Clone, Debug)]
pub struct Report {
    /// The broadcast (`;2`) half of every call placed.
    pub calls: BTreeSet<String>,
    /// The two agents.
    pub agents: [AgentReport; 2],
}

/// What an agent's tasks tell its loop.
enum Note {
    Claimed(String, ari_sdk::Result<Claim>),
}

/// Runs one agent on `router` until `stop` turns true, publishing its report as it goes.
async fn agent(
    router: Router,
    mut events: ari_sdk::routing::RouterStream,
    app: String,
    report: watch::Sender<AgentReport>,
    mut stop: watch::Receiver<bool>,
) {
    let client = router.client().clone();
    let mut incoming = router.incoming();
    let (note_tx, mut notes) = mpsc::unbounded_channel();
    let mut calls = tokio::task::JoinSet::new();
    let mut held = Vec::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            item = events.next() => match item {
                Some(StreamItem::Event(Event::CallBroadcast(offer))) => {
                    let id = offer.channel.id.clone();
                    report.send_modify(|r| { r.offered.insert(id.clone()); });
                    // Claim at once, in a task of its own: the race is the point.
                    let (client, app, tx) = (client.clone(), app.clone(), note_tx.clone());
                    tokio::spawn(async move {
                        let outcome = broadcast::claim(&client, &offer, &app).await;
                        let _ = tx.send(Note::Claimed(id, outcome));
                    });
                }
                Some(StreamItem::Event(Event::CallClaimed(claimed))) => {
                    report.send_modify(|r| {
                        r.claimed_events.insert(claimed.channel.id.clone(), claimed.winner_app.clone());
                    });
                }
                Some(_) => {}
                None => break,
            },
            Some(Note::Claimed(id, outcome)) = notes.recv() => report.send_modify(|r| match outcome {
                Ok(Claim::Won) => { r.won.insert(id); }
                Ok(Claim::Lost { message }) => { r.lost.insert(id, message); }
                Ok(Claim::Gone { .. }) => { r.gone.insert(id); }
                Ok(other) => r.errors.push(format!("{id}: {other:?}")),
                Err(e) => r.errors.push(format!("{id}: {e}")),
            }),
            Some(call) = incoming.next() => {
                let id = call.channel.id().to_owned();
                report.send_modify(|r| { r.started.insert(id.clone()); });
                held.push(call.channel.clone());
                calls.spawn(take_call(call));
            }
        }
    }
    // The calls' work goes over this application's connection: let it finish first.
    while calls.join_next().await.is_some() {}
    for channel in held {
        common::hang_up_quietly(&client, channel.id()).await;
    }
    router.close();
}

/// The winner's work: answer (the agent hangs up when the run ends).
async fn take_call(call: Call) {
    if let Err(e) = call.channel.answer().send().await {
        eprintln!("[{}] answer: {e}", call.channel.id());
    }
}

/// Starts two agents (applications `bcast-<tag>-a` and `-b`), places `calls` calls into
/// `broadcast-bcast-<tag>-@context` (which broadcasts to the applications of that prefix), and
/// waits until every call has been claimed by one agent and settled for both, or `timeout`
/// passed.
pub async fn run(
    client: &Client,
    context: &str,
    calls: usize,
    timeout: Duration,
) -> anyhow::Result<Report> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let extension = format!("broadcast-bcast-{tag}-");
    let (stop_tx, stop) = watch::channel(false);
    let mut reports = Vec::new();
    let mut agents = Vec::new();
    for side in ["a", "b"] {
        let app = format!("bcast-{tag}-{side}");
        let events = client
            .event_stream()
            .app(&app)
            .connect()
            .await
            .with_context(|| format!("events of {app}"))?;
        let (router, stream) = Router::new(client, events)?;
        let (tx, rx) = watch::channel(AgentReport {
            app: app.clone(),
            ..AgentReport::default()
        });
        reports.push(rx);
        agents.push(tokio::spawn(agent(router, stream, app, tx, stop.clone())));
    }

    // Place the calls at once: Local/<extension> runs the broadcast on its ;2 half, the ;1 half
    // waits in `wait@default`.
    let mut placed = BTreeSet::new();
    let mut originates = Vec::new();
    for _ in 0..calls {
        let (waiting, offered) = (ari_sdk::routing::new_id(), ari_sdk::routing::new_id());
        placed.insert(offered.clone());
        let client = client.clone();
        let endpoint = format!("Local/{extension}@{context}");
        originates.push(tokio::spawn(async move {
            client
                .channels()
                .originate(endpoint)
                .extension("wait")
                .context("default")
                .channel_id(waiting)
                .other_channel_id(offered)
                .send()
                .await
        }));
    }
    for o in originates {
        o.await.context("originate task")?.context("originate")?;
    }
    println!("placed {calls} calls into {extension}@{context}");

    let settled = tokio::time::timeout(timeout, async {
        for rx in &mut reports {
            rx.wait_for(|r| r.settled(&placed)).await.ok();
        }
    })
    .await;
    stop_tx.send_replace(true);
    for a in agents {
        let _ = a.await;
    }
    let [a, b]: [AgentReport; 2] = reports
        .iter()
        .map(|r| r.borrow().clone())
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| anyhow::anyhow!("two agents"))?;
    let report = Report {
        calls: placed,
        agents: [a, b],
    };
    if settled.is_err() {
        anyhow::bail!(
            "not every call was settled within {} s: {report:#?}",
            timeout.as_secs_f64()
        );
    }
    Ok(report)
}

async fn main_inner() -> anyhow::Result<()> {
    let cli = common::Cli::parse(USAGE, &["calls", "context", "timeout"])?;
    let client = cli.connect().await?;
    let calls: usize = match cli.value("calls") {
        Some(n) => n.parse().with_context(|| format!("--calls {n}"))?,
        None => 5,
    };
    let context = cli.value("context").unwrap_or("default");
    let timeout = cli.seconds("timeout", Duration::from_secs(60))?;
    let report = run(&client, context, calls, timeout).await?;
    for call in &report.calls {
        let winner = report
            .agents
            .iter()
            .find(|a| a.won.contains(call))
            .map_or("nobody", |a| a.app.as_str());
        println!("{call}: taken by {winner}");
    }
    for a in &report.agents {
        println!(
            "{}: won {}, lost {}, errors {:?}",
            a.app,
            a.won.len(),
            a.lost.len(),
            a.errors
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(main_inner().await)
}
