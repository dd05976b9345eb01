//! `ari spec`: the spec tools.

use clap::{ArgMatches, Command};

use crate::exit::Failure;

/// The `ari spec` command.
pub fn command() -> Command {
    Command::new("spec").about("Spec tools: which releases ship an item, release diffs, import")
}

/// Runs `ari spec ...`.
pub fn run(_m: &ArgMatches) -> Result<(), Failure> {
    Err(Failure::other("not yet"))
}
