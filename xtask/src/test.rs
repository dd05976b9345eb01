//! `cargo xtask test`: the whole test suite against real servers, in one command.
//!
//! Brings up Asterisk 22.10.1 and 16.28.0 (`cargo xtask asterisk up`), runs
//! `cargo test --workspace --features ari-sdk/media` with the servers' addresses in the
//! environment, then brings them down again, whatever the tests did. With the servers'
//! addresses set, the conformance suite in `tests/` requires them (`ARI_REQUIRE_SERVERS=1`): a
//! server that does not answer fails the run instead of skipping it.
//!
//! Environment given to the tests: `ARI_URL_22`, `ARI_URL_16` (ARI base URLs), `ARI_USER`,
//! `ARI_PASSWORD`, `ARI_REQUIRE_SERVERS=1`.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::asterisk::{self, Release};

/// Arguments of `cargo xtask test`.
#[derive(clap::Args)]
pub struct Args {
    /// Leave the servers running afterwards (to rerun single tests by hand).
    #[arg(long)]
    pub keep_up: bool,
    /// Run only the tests that need no server (unit tests, fake-server fault tests).
    #[arg(long)]
    pub no_servers: bool,
    /// Extra arguments passed to `cargo test` (after `--`), e.g. a test name filter.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cargo_args: Vec<String>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    // `--no-fail-fast`: one run reports every failing test target, not only the first.
    // ari-sdk's optional parts (`media`, which brings `server`) are on: no other member
    // enables them, and their tests and examples (listener, outbound, media) declare them as
    // required features, so without this cargo would skip them without a word.
    cmd.args([
        "test",
        "--workspace",
        "--no-fail-fast",
        "--features",
        "ari-sdk/media",
    ])
    .args(&args.cargo_args);
    if args.no_servers {
        return finish(
            cmd.status().context("running cargo test")?.success(),
            started,
        );
    }
    asterisk::up(&Release::ALL, false).context("bringing up the Asterisk servers")?;
    for r in Release::ALL {
        let port = r.port()?;
        cmd.env(
            format!("ARI_URL_{}", r.major()),
            format!("http://127.0.0.1:{port}/ari"),
        );
    }
    cmd.env("ARI_USER", "asterisk")
        .env("ARI_PASSWORD", "asterisk")
        .env("ARI_REQUIRE_SERVERS", "1");
    eprintln!(
        "servers up after {:.1?}; running cargo test --workspace --features ari-sdk/media",
        started.elapsed()
    );
    let status = cmd.status().context("running cargo test");
    if !args.keep_up
        && let Err(e) = asterisk::down(&Release::ALL)
    {
        eprintln!("warning: bringing the servers down failed: {e:#}");
    }
    finish(status?.success(), started)
}

fn finish(ok: bool, started: Instant) -> anyhow::Result<()> {
    eprintln!("cargo xtask test finished in {:.1?}", started.elapsed());
    if !ok {
        bail!("tests failed");
    }
    Ok(())
}
