//! `cargo xtask asterisk up|down|status`: owned by the real-Asterisk harness work.

/// Arguments of `cargo xtask asterisk`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
