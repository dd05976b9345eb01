//! `ari events`: the events tail.

use clap::ArgMatches;

use crate::exit::Failure;

/// `ari events --app NAME ...`.
pub fn run(_root: &ArgMatches, _m: &ArgMatches) -> Result<(), Failure> {
    Err(Failure::other("not yet"))
}

/// `ari events event-websocket APP ...`: the same tail.
pub fn run_op(_root: &ArgMatches, _m: &ArgMatches) -> Result<(), Failure> {
    Err(Failure::other("not yet"))
}
