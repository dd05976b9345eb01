//! The examples, run against a real Asterisk: each example's logic is a function of its own,
//! included here from `examples/` and called with the far ends of the dialplan that
//! `cargo xtask asterisk up` installs (`Local/wait@default`, `Local/dtmf-1@default`, ...).
//!
//! The server is Asterisk 22.10.1 at `ARI_URL_22` (and 16.28.0 at `ARI_URL_16` for the same
//! scenarios), with `ARI_USER` / `ARI_PASSWORD` (default `asterisk` / `asterisk`). Without the
//! URL a test prints a `SKIP` line and passes; with `ARI_REQUIRE_SERVERS=1` an unset URL means
//! the default servers (`http://127.0.0.1:8088/ari`, `:8089`), and a configured server that does
//! not answer fails the test. `cargo xtask test` sets all of this.
//!
//! The tests named `..._22_ws` run the same scenario with a client that sends every REST call
//! over an events WebSocket ([`ari_sdk::ClientBuilder::rest_over_websocket`]) instead of HTTP.
//!
//! Every test is bounded in time, uses a Stasis application of its own, and checks at the end
//! that none of the channels and bridges the example reported is left on the server.

// Each example includes examples/common/mod.rs as its own module, here as when it is built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/broadcast_agents.rs"]
mod broadcast_agents;
#[allow(dead_code)]
#[path = "../examples/create_bridge_dial.rs"]
mod create_bridge_dial;
#[allow(dead_code)]
#[path = "../examples/dtmf_menu.rs"]
mod dtmf_menu;
#[allow(dead_code)]
#[path = "../examples/hello_world.rs"]
mod hello_world;
#[allow(dead_code)]
#[path = "../examples/originate_and_report.rs"]
mod originate_and_report;

use std::future::Future;
use std::time::Duration;

use ari_sdk::Client;

/// Longest time one test's scenario may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// The client for Asterisk `major`, or `None` (after a `SKIP` line) when it is not configured.
/// Panics when the server is configured or required and does not answer.
/// [`server`], with REST over an events WebSocket when `ws`.
async fn server_via(major: u16, test: &str, ws: bool) -> Option<Client> {
    let ari_test_env::Server {
        url,
        user,
        password,
        ..
    } = ari_test_env::server_or_skip(major, test)?;
    let client = Client::builder()
        .base_url(&url)
        .credentials(user, password)
        .rest_over_websocket(ws)
        .build()
        .expect("client");
    let version = tokio::time::timeout(Duration::from_secs(15), client.connect())
        .await
        .unwrap_or_else(|_| panic!("Asterisk {major} at {url} did not answer within 15 s"))
        .unwrap_or_else(|e| {
            panic!("Asterisk {major} at {url} does not answer: {e} (start it with `cargo xtask asterisk up`)")
        });
    let release = version.and_then(|v| v.release);
    assert_eq!(
        release.map(|r| r.major),
        Some(major),
        "{url} does not run Asterisk {major}: {release:?}"
    );
    Some(client)
}

/// Runs one scenario against Asterisk `major`, bounded by [`TEST_TIMEOUT`]. Holds the lock that
/// the conformance suite's server-restart test takes exclusively, so that the server is not
/// restarted under the scenario.
async fn scenario<F, Fut>(major: u16, test: &str, f: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario_via(major, test, false, f).await
}

/// [`scenario`], with REST over an events WebSocket when `ws`. The client then always has one
/// events connection of its own (an application of no calls) for the calls that the example
/// makes outside its application's connection, such as the final check for leftovers.
async fn scenario_via<F, Fut>(major: u16, test: &str, ws: bool, f: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let _lock = (major == 22).then(|| ari_test_env::restart_lock(false));
    let Some(client) = server_via(major, test, ws).await else {
        return;
    };
    let _anchor = match ws {
        true => Some(
            client
                .event_stream()
                .app(app("ws-anchor"))
                .connect()
                .await
                .expect("events connection for REST"),
        ),
        false => None,
    };
    assert_eq!(client.carrier_name(), if ws { "websocket" } else { "http" });
    if tokio::time::timeout(TEST_TIMEOUT, f(client)).await.is_err() {
        panic!("{test} on Asterisk {major}: not done within {TEST_TIMEOUT:?}");
    }
}

fn app(example: &str) -> String {
    ari_test_env::unique_name(&format!("example-{example}"))
}

/// Fails (after removing them) if any of these channels (or the `;2` halves of these Local
/// channels) or bridges still exist. Channels may take a moment to go after a hangup, so this
/// looks again for a few seconds first.
async fn assert_nothing_left(client: &Client, channels: &[&str], bridges: &[&str]) {
    let ours = |id: &str| {
        channels
            .iter()
            .any(|c| id == *c || id.strip_prefix(c).is_some_and(|rest| rest.starts_with(';')))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left_channels: Vec<String> = client
            .channels()
            .list()
            .send()
            .await
            .expect("list channels")
            .into_iter()
            .filter(|c| ours(&c.id))
            .map(|c| c.id)
            .collect();
        let left_bridges: Vec<String> = client
            .bridges()
            .list()
            .send()
            .await
            .expect("list bridges")
            .into_iter()
            .filter(|b| bridges.contains(&b.id.as_str()))
            .map(|b| b.id)
            .collect();
        if left_channels.is_empty() && left_bridges.is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            for id in &left_channels {
                let _ = client.channels().hangup(id).send().await;
            }
            for id in &left_bridges {
                let _ = client.bridges().destroy(id).send().await;
            }
            panic!("left behind: channels {left_channels:?}, bridges {left_bridges:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// --- hello-world ---------------------------------------------------------------------------

async fn hello_world_plays_and_hangs_up(client: Client) {
    let report = hello_world::run(
        &client,
        &app("hello-world"),
        "Local/wait@default",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("hello-world: {e:#}"));
    println!("{report:#?}");
    assert!(report.answered, "{report:?}");
    assert!(!report.playback_id.is_empty());
    assert_eq!(report.playback_state, "done", "{report:?}");
    assert!(report.hung_up, "the app did not hang up: {report:?}");
    assert!(report.stasis_end, "no StasisEnd: {report:?}");
    assert_eq!(
        report.hangup_cause,
        Some((16, "Normal Clearing".to_owned())),
        "ChannelDestroyed after StasisEnd: {report:?}"
    );
    assert_nothing_left(&client, &[&report.channel_id], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_22() {
    scenario(22, "hello_world", hello_world_plays_and_hangs_up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_16() {
    scenario(16, "hello_world", hello_world_plays_and_hangs_up).await;
}

// --- originate-and-report ------------------------------------------------------------------

fn originate_config(endpoint: &str) -> originate_and_report::Config {
    originate_and_report::Config {
        endpoint: endpoint.to_owned(),
        app: app("originate-and-report"),
        ring_timeout: 10,
        hangup_after: None,
        timeout: Duration::from_secs(30),
    }
}

async fn originate_reports_normal_clearing(client: Client) {
    let config = originate_config("Local/answer-hangup@default");
    let report = originate_and_report::run(&client, &config)
        .await
        .unwrap_or_else(|e| panic!("originate-and-report: {e:#}"));
    println!("{report}");
    assert_eq!(report.cause, 16, "{report:?}");
    assert_eq!(report.cause_txt, "Normal Clearing");
    assert!(report.answered, "{report:?}");
    assert_eq!(
        report.measured_from,
        originate_and_report::MeasuredFrom::Answer
    );
    // The far end hangs up 1 s after answering; how long that took on this machine's clock is
    // the example's report, not something to assert.
    assert!(report.duration > Duration::ZERO, "{report:?}");
    assert_eq!(
        report.dial_statuses.last().map(String::as_str),
        Some("ANSWER"),
        "{report:?}"
    );
    assert!(!report.hung_up_by_us);
    assert_nothing_left(&client, &[&report.channel_id], &[]).await;
}

async fn originate_reports_busy(client: Client) {
    let config = originate_config("Local/hangup-17@default");
    let report = originate_and_report::run(&client, &config)
        .await
        .unwrap_or_else(|e| panic!("originate-and-report: {e:#}"));
    println!("{report}");
    assert_eq!(report.cause, 17, "{report:?}");
    assert_eq!(report.cause_txt, "User busy");
    assert!(!report.answered, "{report:?}");
    assert_eq!(
        report.measured_from,
        originate_and_report::MeasuredFrom::Creation
    );
    assert!(
        report.dial_statuses.iter().any(|s| s == "BUSY"),
        "{report:?}"
    );
    assert_nothing_left(&client, &[&report.channel_id], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_answer_hangup_22() {
    scenario(
        22,
        "originate_and_report_answer_hangup",
        originate_reports_normal_clearing,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_answer_hangup_16() {
    scenario(
        16,
        "originate_and_report_answer_hangup",
        originate_reports_normal_clearing,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_refused_22() {
    scenario(22, "originate_and_report_refused", originate_reports_busy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_refused_16() {
    scenario(16, "originate_and_report_refused", originate_reports_busy).await;
}

// --- create-bridge-dial --------------------------------------------------------------------

async fn create_bridge_dial_rings_then_answers(client: Client) {
    let config = create_bridge_dial::Config {
        callee: "Local/answer-later@default".to_owned(),
        caller_id: "\"Example test\" <2000>".to_owned(),
        dial_timeout: 10,
        hold: Some(Duration::from_millis(500)),
        max_duration: Some(Duration::from_secs(30)),
    };
    let report = create_bridge_dial::run(
        &client,
        &app("create-bridge-dial"),
        "Local/wait@default",
        &config,
    )
    .await
    .unwrap_or_else(|e| panic!("create-bridge-dial: {e:#}"));
    println!("{report:#?}");
    for id in [&report.caller_id, &report.callee_id] {
        assert!(
            report.entered_bridge.contains(id),
            "no ChannelEnteredBridge for {id}: {report:?}"
        );
    }
    let progression: Vec<&str> = report
        .dial_statuses
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(progression, ["RINGING", "ANSWER"], "{report:?}");
    // answer-later rings for 2 s before answering.
    let answered_after = *report.dial_times.last().unwrap();
    assert!(
        (1.5..10.0).contains(&answered_after),
        "ANSWER after {answered_after} s"
    );
    assert!(report.answered);
    assert_eq!(
        report.callee_variables,
        [
            ("EXAMPLE_CALLER".to_owned(), report.caller_id.clone()),
            ("CALLERID(all)".to_owned(), config.caller_id.clone()),
        ]
    );
    assert!(report.cleaned_up, "{report:?}");
    assert_nothing_left(
        &client,
        &[&report.caller_id, &report.callee_id],
        &[&report.bridge_id],
    )
    .await;
}

async fn create_bridge_dial_busy_callee(client: Client) {
    let config = create_bridge_dial::Config {
        callee: "Local/hangup-17@default".to_owned(),
        caller_id: "\"Example test\" <2000>".to_owned(),
        dial_timeout: 10,
        hold: None,
        max_duration: Some(Duration::from_secs(30)),
    };
    let report = create_bridge_dial::run(
        &client,
        &app("create-bridge-dial"),
        "Local/wait@default",
        &config,
    )
    .await
    .unwrap_or_else(|e| panic!("create-bridge-dial: {e:#}"));
    println!("{report:#?}");
    assert!(!report.answered, "{report:?}");
    assert!(
        !report.dial_statuses.iter().any(|s| s == "ANSWER"),
        "{report:?}"
    );
    assert_eq!(report.callee_hangup_cause, Some(17), "{report:?}");
    assert!(report.cleaned_up, "{report:?}");
    assert_nothing_left(
        &client,
        &[&report.caller_id, &report.callee_id],
        &[&report.bridge_id],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bridge_dial_busy_22() {
    scenario(
        22,
        "create_bridge_dial_busy",
        create_bridge_dial_busy_callee,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bridge_dial_busy_16() {
    scenario(
        16,
        "create_bridge_dial_busy",
        create_bridge_dial_busy_callee,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bridge_dial_22() {
    scenario(
        22,
        "create_bridge_dial",
        create_bridge_dial_rings_then_answers,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bridge_dial_16() {
    scenario(
        16,
        "create_bridge_dial",
        create_bridge_dial_rings_then_answers,
    )
    .await;
}

// --- dtmf-menu -----------------------------------------------------------------------------

/// A short prompt and timeout, so that the tries do not take long.
fn menu_config() -> dtmf_menu::Config {
    dtmf_menu::Config {
        prompt: vec!["sound:vm-press".to_owned(), "digits:1".to_owned()],
        digit_timeout: Duration::from_secs(2),
        tries: 3,
    }
}

async fn menu(client: &Client, caller: &str) -> dtmf_menu::CallReport {
    let report = dtmf_menu::run(
        client,
        &app("dtmf-menu"),
        caller,
        &menu_config(),
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("dtmf-menu with {caller}: {e:#}"));
    println!("{report:#?}");
    assert!(report.stasis_end, "no StasisEnd: {report:?}");
    assert_nothing_left(client, &[&report.channel_id], &[]).await;
    report
}

async fn dtmf_menu_option_1(client: Client) {
    let report = menu(&client, "Local/dtmf-1@default").await;
    assert!(
        matches!(&report.attempts[..], [dtmf_menu::Attempt::Key { digit, valid: true, .. }] if digit == "1"),
        "{report:?}"
    );
    assert_eq!(report.outcome, dtmf_menu::Outcome::HelloWorld);
    assert!(report.played.contains(&"sound:hello-world".to_owned()));
    // The ;2 half sends the key; the application sees it on its own channel, the ;1 half.
    assert_eq!(
        report.dtmf_channels,
        std::slice::from_ref(&report.channel_id)
    );
}

async fn dtmf_menu_option_2(client: Client) {
    let report = menu(&client, "Local/dtmf-2@default").await;
    assert!(
        matches!(&report.attempts[..], [dtmf_menu::Attempt::Key { digit, valid: true, .. }] if digit == "2"),
        "{report:?}"
    );
    assert_eq!(report.outcome, dtmf_menu::Outcome::HungUpByChoice);
}

async fn dtmf_menu_invalid_key(client: Client) {
    let report = menu(&client, "Local/dtmf-9@default").await;
    // The far end presses 9 once: invalid, then two tries without a key.
    assert!(
        matches!(
            &report.attempts[..],
            [
                dtmf_menu::Attempt::Key { digit, valid: false, .. },
                dtmf_menu::Attempt::Timeout,
                dtmf_menu::Attempt::Timeout,
            ] if digit == "9"
        ),
        "{report:?}"
    );
    assert_eq!(report.outcome, dtmf_menu::Outcome::GaveUp);
    assert!(
        report
            .played
            .contains(&"sound:pm-invalid-option".to_owned())
    );
    assert!(report.played.contains(&"sound:vm-goodbye".to_owned()));
}

async fn dtmf_menu_timeout(client: Client) {
    let report = menu(&client, "Local/wait@default").await;
    assert_eq!(
        report.attempts,
        [const { dtmf_menu::Attempt::Timeout }; 3],
        "{report:?}"
    );
    assert_eq!(report.outcome, dtmf_menu::Outcome::GaveUp);
    assert!(report.dtmf_channels.is_empty());
    // Three full prompts were played (the key never cut one short).
    let prompts = report
        .played
        .iter()
        .filter(|p| **p == menu_config().prompt.join(","))
        .count();
    assert_eq!(prompts, 3, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_option_1_22() {
    scenario(22, "dtmf_menu_option_1", dtmf_menu_option_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_option_1_16() {
    scenario(16, "dtmf_menu_option_1", dtmf_menu_option_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_option_2_22() {
    scenario(22, "dtmf_menu_option_2", dtmf_menu_option_2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_invalid_key_22() {
    scenario(22, "dtmf_menu_invalid_key", dtmf_menu_invalid_key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_invalid_key_16() {
    scenario(16, "dtmf_menu_invalid_key", dtmf_menu_invalid_key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_timeout_22() {
    scenario(22, "dtmf_menu_timeout", dtmf_menu_timeout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_timeout_16() {
    scenario(16, "dtmf_menu_timeout", dtmf_menu_timeout).await;
}

// --- the same flows with REST over the events WebSocket ------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_22_ws() {
    scenario_via(22, "hello_world", true, hello_world_plays_and_hangs_up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_answer_hangup_22_ws() {
    scenario_via(
        22,
        "originate_and_report_answer_hangup",
        true,
        originate_reports_normal_clearing,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_and_report_refused_22_ws() {
    scenario_via(
        22,
        "originate_and_report_refused",
        true,
        originate_reports_busy,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bridge_dial_22_ws() {
    scenario_via(
        22,
        "create_bridge_dial",
        true,
        create_bridge_dial_rings_then_answers,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_option_1_22_ws() {
    scenario_via(22, "dtmf_menu_option_1", true, dtmf_menu_option_1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_menu_invalid_key_22_ws() {
    scenario_via(22, "dtmf_menu_invalid_key", true, dtmf_menu_invalid_key).await;
}

/// On 16.28.0, which has no REST over WebSocket, every call is refused before sending, naming
/// the releases that have it; the events connection itself works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_over_websocket_refused_on_16() {
    let Some(client) = server_via(16, "rest_over_websocket_refused", true).await else {
        return;
    };
    let _events = client
        .event_stream()
        .app(app("ws-anchor"))
        .connect()
        .await
        .expect("the events connection works on 16");
    let e = client.channels().list().send().await.unwrap_err();
    assert_eq!(e.kind(), ari_sdk::ErrorKind::Unsupported, "{e}");
    assert_eq!(
        e.unsupported_item().map(|(i, _)| i.clone()),
        Some(ari_sdk::UnsupportedItem::Carrier("websocket"))
    );
    assert!(
        e.to_string().ends_with(
            "REST over websocket not supported by Asterisk 16.28.0; shipped in 20.14.0+, 21.9.0+, 22.4.0+, 23.0.0+"
        ),
        "{e}"
    );
}

// --- broadcast-agents ----------------------------------------------------------------------

/// 20 calls offered at once to two competing agents: each is claimed exactly once, the loser
/// gets Asterisk's documented 409, the winner the call, and both the `CallClaimed` naming it.
async fn broadcast_twenty_calls_each_taken_once(client: Client) {
    let report = broadcast_agents::run(&client, "default", 20, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("broadcast-agents: {e:#}"));
    let [a, b] = &report.agents;
    assert_eq!(report.calls.len(), 20);
    for agent in [a, b] {
        assert!(agent.errors.is_empty(), "{agent:?}");
        assert!(
            agent.gone.is_empty(),
            "claims after the offer ended: {agent:?}"
        );
        assert_eq!(
            agent.offered, report.calls,
            "every call offered to {}",
            agent.app
        );
        assert_eq!(agent.started, agent.won, "{agent:?}");
    }
    for call in &report.calls {
        let (winner, loser) = match (a.won.contains(call), b.won.contains(call)) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            other => panic!("{call} won by {other:?} (a, b): {report:#?}"),
        };
        assert_eq!(
            loser.lost.get(call),
            Some(&Some(
                "Channel has already been claimed by another application".to_owned()
            )),
            "{call}: {loser:?}"
        );
        for agent in [a, b] {
            assert_eq!(agent.claimed_events.get(call), Some(&winner.app), "{call}");
        }
    }
    println!(
        "{} took {}, {} took {}",
        a.app,
        a.won.len(),
        b.app,
        b.won.len()
    );
    let ids: Vec<&str> = report.calls.iter().map(String::as_str).collect();
    assert_nothing_left(&client, &ids, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_agents_22() {
    scenario(
        22,
        "broadcast_agents",
        broadcast_twenty_calls_each_taken_once,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_agents_22_ws() {
    scenario_via(
        22,
        "broadcast_agents",
        true,
        broadcast_twenty_calls_each_taken_once,
    )
    .await;
}

/// 16.28.0 has no broadcast: the claim is refused before sending, naming the releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_claim_refused_on_16() {
    let Some(client) = server_via(16, "broadcast_claim_refused", false).await else {
        return;
    };
    let e = ari_sdk::routing::broadcast::claim_channel(&client, "no-such-channel", "bcast-x")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ari_sdk::ErrorKind::Unsupported, "{e}");
    // The message names the operation, the server and concrete path, and the releases.
    let text = e.to_string();
    assert!(
        text.starts_with("events.claimChannel (POST http://127.0.0.1:")
            && text.ends_with(
                "/ari/events/claim): not supported by Asterisk 16.28.0; shipped in 20.20.0+, 22.10.0+, 23.4.0+"
            ),
        "{text}"
    );
}
