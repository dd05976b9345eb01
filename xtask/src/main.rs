//! `cargo xtask`: the project's automation, one subcommand per job.
//!
//! Each subcommand lives in its own module; `main` only parses arguments and dispatches.

mod asterisk;
mod codegen;
mod diff;
mod import;
mod rust_version;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "ARI SDK project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate `ari-sdk/src/generated/` from the vendored spec corpus.
    Codegen(codegen::Args),
    /// Run every test: servers up, `cargo test --workspace --features ari-sdk/media`, servers down.
    Test(test::Args),
    /// Real Asterisk servers (Debian chroots) for the conformance suite.
    Asterisk(asterisk::Args),
    /// Add a release to the spec corpus from a source tree, a rest-api/ folder or a live server.
    Import(import::Args),
    /// Show the API changes between two releases of the corpus.
    Diff(diff::Args),
    /// Check that the declared `rust-version` is true of every locked dependency.
    RustVersion(rust_version::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Asterisk(args) => asterisk::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Import(args) => import::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Test(args) => test::run(args),
        Command::RustVersion(args) => rust_version::run(args),
    }
}
