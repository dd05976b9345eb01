//! The conformance suite: every scenario against real Asterisk 22.10.1 and 16.28.0.
//!
//! Each scenario is an `async fn(Harness)` in one of the modules below; [`scenarios!`] makes a
//! test `<module>::<scenario>_22` and `..._16` of each. A libtest-compatible runner
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
            )*
            trials
        }
    };
}

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
    asterisk::modules,
    asterisk::log_channels,
    asterisk::dynamic_config,
    endpoints::endpoints,
    endpoints::device_states,
    endpoints::mailboxes,
    endpoints::sounds,
    endpoints::user_events,
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
        let summary = ari_tests::coverage::summary();
        if !summary.is_empty() {
            println!("\noperation coverage of this run:\n{summary}");
        }
        let leftovers = ari_tests::leftovers();
        if !leftovers.is_empty() {
            eprintln!(
                "resources left on the servers after the run:\n  {}",
                leftovers.join("\n  ")
            );
            std::process::exit(101);
        }
    }
    conclusion.exit();
}
