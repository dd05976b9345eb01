//! The conformance suite: every scenario against real Asterisk 22.10.1 and 16.28.0.
//!
//! Each scenario is an `async fn(Harness)` in one of the modules below; [`scenarios!`] makes a
//! test `<module>::<scenario>_22` and `..._16` of each, and `..._22_ws` with every REST call
//! carried over the events WebSocket instead of HTTP (REST over WebSocket: 22.4+, so not 16). A libtest-compatible runner
//! (libtest-mimic) runs them, by default 8 at a time (they mostly wait for Asterisk; pass
//! `--test-threads N` to change it), then prints the operation coverage of the run and checks
//! that no resource the scenarios created is left on the servers.
//!
//! Servers: see `ari_tests::server`. Without them every test prints SKIP and passes.

use libtest_mimic::{Arguments, Trial};

mod applications;
mod asterisk;
mod bridges;
mod channel_ops;
mod dial;
mod endpoints;
mod flows;
mod hello;
mod originate;
mod playbacks;
mod recordings;

/// Makes the `_22` and `_16` trials of each `module::scenario`.
macro_rules! scenarios {
    ($($module:ident :: $name:ident),* $(,)?) => {
        fn trials() -> Vec<Trial> {
            let mut trials = Vec::new();
            $(
                for major in ari_tests::MAJORS {
                    let name = format!("{}::{}_{}", stringify!($module), stringify!($name), major);
                    let label = name.clone();
                    trials.push(Trial::test(name, move || {
                        ari_tests::run(major, &label, $module::$name);
                        Ok(())
                    }));
                }
                let scenario = concat!(stringify!($module), "::", stringify!($name));
                let name = format!("{scenario}_22_ws");
                let label = name.clone();
                trials.push(
                    Trial::test(name, move || {
                        ari_tests::run_over_websocket(22, &label, $module::$name);
                        Ok(())
                    })
                    .with_ignored_flag(NOT_OVER_WEBSOCKET.contains(&scenario)),
                );
            )*
            trials
        }
    };
}

/// Scenarios whose `_22_ws` trial is ignored, and why (none today: the event-filter scenario
/// runs over the socket because the SDK keeps `RESTResponse` allowed there).
const NOT_OVER_WEBSOCKET: &[&str] = &[];

scenarios! {
    hello::hello_world,
    originate::originate_forms,
    originate::continue_move_redirect,
    dial::create_and_dial,
    bridges::bridge_lifecycle,
    channel_ops::ring_hold_mute,
    channel_ops::dtmf,
    channel_ops::variables_and_snoop,
    channel_ops::external_media_and_transfer,
    recordings::record_channel,
    playbacks::playback_control,
    applications::subscriptions,
    asterisk::info_ping_globals,
    asterisk::connection_limit,
    asterisk::modules,
    asterisk::log_channels,
    asterisk::dynamic_config,
    endpoints::endpoints,
    endpoints::device_states,
    endpoints::mailboxes,
    endpoints::sounds,
    endpoints::user_events,
    flows::stasis_app,
    flows::originate_and_helpers,
}

fn main() {
    // libtest-mimic does not capture output: print a panic's message and place, no backtrace
    // (the runner reports the message again under the test's name).
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(8);
    }
    let conclusion = libtest_mimic::run(&args, trials());
    if !args.list {
        let whole_run = args.filter.is_none() && args.skip.is_empty() && !args.ignored;
        let mut failed = false;
        let reports: Vec<_> = ari_tests::MAJORS
            .iter()
            .filter_map(|m| ari_tests::coverage::report(*m))
            .collect();
        if !reports.is_empty() {
            println!("\noperation coverage of this run:");
        }
        for r in &reports {
            let text = r.to_string();
            if whole_run {
                print!("{text}");
                // The whole suite calls every operation a release ships and asserts the refusal
                // of every one it does not: a scenario that stops doing so fails the run.
                let complete = r.unexercised().is_empty()
                    && r.refused_not_shipped().len() == r.not_shipped.len();
                if !complete && !conclusion.has_failed() {
                    eprintln!(
                        "coverage of Asterisk {} is incomplete (see above)",
                        r.release
                    );
                    failed = true;
                }
            } else {
                println!("{}", text.lines().next().unwrap_or_default());
            }
        }
        let leftovers = ari_tests::leftovers();
        if !leftovers.is_empty() {
            eprintln!(
                "resources left on the servers after the run:\n  {}",
                leftovers.join("\n  ")
            );
            failed = true;
        }
        if failed {
            std::process::exit(101);
        }
    }
    conclusion.exit();
}
