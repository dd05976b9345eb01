//! `ari codegen`: bindings for a user's own server.

use clap::{ArgMatches, Command};

use crate::exit::Failure;

/// The `ari codegen` command.
pub fn command() -> Command {
    Command::new("codegen").about("Generate ari-sdk bindings for the spec a server serves")
}

/// Runs `ari codegen ...`.
pub fn run(_m: &ArgMatches) -> Result<(), Failure> {
    Err(Failure::other("not yet"))
}
