//! The repository's examples (ari-sdk/examples) against the mock, with tokio's paused clock:
//! the far ends' waits, the media lengths and the IVR's digit timeouts take no real time.
//!
//! Each test prints how long it took in real time (`cargo test -p ari-mock --test examples --
//! --nocapture`); docs/BENCHMARKS.md has the figures. Nothing asserts elapsed time.

// Each example includes examples/common/mod.rs as its own module, as when it is built alone.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../../ari-sdk/examples/create_bridge_dial.rs"]
mod create_bridge_dial;
#[allow(dead_code)]
#[path = "../../ari-sdk/examples/dtmf_menu.rs"]
mod dtmf_menu;
#[allow(dead_code)]
#[path = "../../ari-sdk/examples/hello_world.rs"]
mod hello_world;
#[allow(dead_code)]
#[path = "../../ari-sdk/examples/originate_and_report.rs"]
mod originate_and_report;

use std::time::{Duration, Instant};

use ari_mock::Mock;
use ari_sdk::Client;

async fn setup() -> (Mock, Client) {
    let mock = Mock::start().await.expect("mock");
    let client = Client::new(mock.url(), "asterisk", "asterisk").expect("client");
    client.connect().await.expect("connect");
    (mock, client)
}

fn app(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Virtual time since `t0` (tokio's paused clock) and real time since `real`.
fn report_times(name: &str, t0: tokio::time::Instant, real: Instant) {
    println!(
        "{name}: {:.1} s of virtual time in {:.1} ms of real time",
        t0.elapsed().as_secs_f64(),
        real.elapsed().as_secs_f64() * 1000.0
    );
}

#[tokio::test(start_paused = true)]
async fn hello_world_plays_and_hangs_up() {
    let (real, t0) = (Instant::now(), tokio::time::Instant::now());
    let (mock, client) = setup().await;
    let report = hello_world::run(
        &client,
        &app("hello-world"),
        "Local/wait@default",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("hello-world: {e:#}"));
    assert!(
        report.answered && !report.playback_id.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.playback_state, "done", "{report:?}");
    assert!(report.hung_up && report.stasis_end, "{report:?}");
    // The call's stream carries ChannelDestroyed after StasisEnd (the router follows the call).
    assert_eq!(
        report.hangup_cause.as_ref().map(|(c, _)| *c),
        Some(16),
        "{report:?}"
    );
    // sound:hello-world lasts 1.4 s on the mock's clock.
    assert!(t0.elapsed() >= Duration::from_millis(1400));
    assert_eq!(mock.requests_to("channels.answer").len(), 1);
    assert_eq!(mock.requests_to("channels.playWithId").len(), 1);
    assert!(mock.channel_ids().is_empty(), "{:?}", mock.channel_ids());
    report_times("hello-world", t0, real);
}

#[tokio::test(start_paused = true)]
async fn hello_world_caller_hangs_up_during_playback() {
    let (mock, client) = setup().await;
    let app = app("hello-world");
    mock.set_media_length("sound:hello-world", Duration::from_secs(30));
    let serve = {
        let client = client.clone();
        let app = app.clone();
        tokio::spawn(async move { hello_world::serve(&client, &app).await })
    };
    // Wait until the application's events connection is registered.
    while !mock
        .requests_to("events.eventWebsocket")
        .iter()
        .any(|r| r.query.iter().any(|(_, v)| *v == app))
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let call = mock.incoming_call(&app).caller("Alice", "100").send();
    // The app answers and starts playing: then the caller leaves.
    while mock.requests_to("channels.playWithId").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(call.state().as_deref(), Some("Up"));
    call.hang_up();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!call.is_up());
    // A hangup after the caller left finds the channel gone.
    assert!(
        mock.requests_to("channels.hangup")
            .iter()
            .all(|r| r.status == 404)
    );
    serve.abort();
}

fn originate_config(endpoint: &str) -> originate_and_report::Config {
    originate_and_report::Config {
        endpoint: endpoint.to_owned(),
        app: app("originate-and-report"),
        ring_timeout: 10,
        hangup_after: None,
        timeout: Duration::from_secs(30),
    }
}

#[tokio::test(start_paused = true)]
async fn originate_and_report_normal_clearing_and_busy() {
    let (real, t0) = (Instant::now(), tokio::time::Instant::now());
    let (_mock, client) = setup().await;
    let report =
        originate_and_report::run(&client, &originate_config("Local/answer-hangup@default"))
            .await
            .unwrap_or_else(|e| panic!("originate-and-report: {e:#}"));
    assert_eq!(
        (report.cause, report.cause_txt.as_str()),
        (16, "Normal Clearing")
    );
    assert!(report.answered && !report.hung_up_by_us, "{report:?}");
    assert_eq!(
        report.dial_statuses.last().map(String::as_str),
        Some("ANSWER")
    );
    let report = originate_and_report::run(&client, &originate_config("Local/hangup-17@default"))
        .await
        .unwrap_or_else(|e| panic!("originate-and-report: {e:#}"));
    assert_eq!((report.cause, report.cause_txt.as_str()), (17, "User busy"));
    assert!(!report.answered);
    assert!(
        report.dial_statuses.iter().any(|s| s == "BUSY"),
        "{report:?}"
    );
    report_times("originate-and-report (2 calls)", t0, real);
}

#[tokio::test(start_paused = true)]
async fn create_bridge_dial_rings_then_answers() {
    let (real, t0) = (Instant::now(), tokio::time::Instant::now());
    let (mock, client) = setup().await;
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
    for id in [&report.caller_id, &report.callee_id] {
        assert!(report.entered_bridge.contains(id), "{report:?}");
    }
    let progression: Vec<&str> = report
        .dial_statuses
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(progression, ["RINGING", "ANSWER"], "{report:?}");
    assert!(report.answered);
    assert_eq!(
        report.callee_variables,
        [
            ("EXAMPLE_CALLER".to_owned(), report.caller_id.clone()),
            ("CALLERID(all)".to_owned(), config.caller_id.clone()),
        ]
    );
    assert!(report.cleaned_up, "{report:?}");
    assert!(mock.channel_ids().is_empty() && mock.bridge_ids().is_empty());
    report_times("create-bridge-dial", t0, real);
}

async fn menu(client: &Client, caller: &str) -> dtmf_menu::CallReport {
    // The example's defaults: the full prompt, 5 s to press a key, 3 tries.
    dtmf_menu::run(
        client,
        &app("dtmf-menu"),
        caller,
        &dtmf_menu::Config::default(),
        Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|e| panic!("dtmf-menu with {caller}: {e:#}"))
}

#[tokio::test(start_paused = true)]
async fn dtmf_menu_keys_and_timeouts() {
    let (real, t0) = (Instant::now(), tokio::time::Instant::now());
    let (_mock, client) = setup().await;
    let r = menu(&client, "Local/dtmf-1@default").await;
    assert_eq!(r.outcome, dtmf_menu::Outcome::HelloWorld, "{r:?}");
    assert!(
        matches!(&r.attempts[..], [dtmf_menu::Attempt::Key { digit, valid: true, during_prompt: true }] if digit == "1"),
        "{r:?}"
    );
    assert_eq!(r.dtmf_channels, std::slice::from_ref(&r.channel_id));
    let r = menu(&client, "Local/dtmf-2@default").await;
    assert_eq!(r.outcome, dtmf_menu::Outcome::HungUpByChoice, "{r:?}");
    let r = menu(&client, "Local/dtmf-9@default").await;
    assert!(
        matches!(&r.attempts[..], [dtmf_menu::Attempt::Key { digit, valid: false, .. }, dtmf_menu::Attempt::Timeout, dtmf_menu::Attempt::Timeout] if digit == "9"),
        "{r:?}"
    );
    assert_eq!(r.outcome, dtmf_menu::Outcome::GaveUp);
    // Silence: three full prompts, each followed by the 5 s digit timeout.
    let before = tokio::time::Instant::now();
    let r = menu(&client, "Local/wait@default").await;
    assert_eq!(
        r.attempts,
        [const { dtmf_menu::Attempt::Timeout }; 3],
        "{r:?}"
    );
    assert_eq!(r.outcome, dtmf_menu::Outcome::GaveUp);
    assert!(
        before.elapsed() >= Duration::from_secs(15),
        "three 5 s timeouts on the virtual clock"
    );
    report_times("dtmf-menu (4 calls)", t0, real);
}

#[tokio::test(start_paused = true)]
async fn dtmf_menu_incoming_call_presses_keys() {
    let (mock, client) = setup().await;
    let app = app("dtmf-menu");
    let serve = {
        let client = client.clone();
        let app = app.clone();
        tokio::spawn(
            async move { dtmf_menu::serve(&client, &app, dtmf_menu::Config::default()).await },
        )
    };
    while mock.requests_to("events.eventWebsocket").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let call = mock.incoming_call(&app).caller("Bob", "200").send();
    // Silence through the first prompt and its 5 s timeout, then a key.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(call.is_up());
    call.press("2");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!call.is_up(), "option 2 hangs up");
    let hangups = mock.requests_to("channels.hangup");
    assert_eq!(hangups.len(), 1);
    assert!(
        hangups[0]
            .query
            .contains(&("reason".to_owned(), "normal".to_owned())),
        "{hangups:?}"
    );
    serve.abort();
}
