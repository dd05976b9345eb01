//! The whole `ari` command: the global connection and output flags, one command per resource
//! (from the generated tree), and the hand-written commands (events tail, spec tools, codegen,
//! completions, man page).

use clap::{Arg, ArgAction, Command};

use crate::generated::RESOURCES;
use crate::tree;

/// Text after the command list of `ari --help`.
fn after_help() -> String {
    let codes: Vec<String> = crate::exit::TABLE
        .iter()
        .map(|(c, name, _)| format!("{c} {name}"))
        .collect();
    format!(
        "Connection: --url/ARI_URL (default http://127.0.0.1:8088/ari), --user/ARI_USER, \
         --password/ARI_PASSWORD, or a named server of the config file (--server NAME).\n\
         Output: pretty JSON on a terminal, one compact JSON document when piped; --output to choose.\n\
         Exit codes: {}.",
        codes.join(", ")
    )
}

/// The `ari` command tree.
pub fn command() -> Command {
    let mut cmd = Command::new("ari")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Command-line client for the Asterisk REST Interface (ARI), generated from the ARI spec of every release 12.0.0-23.4.1")
        .after_help(after_help())
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(global_args());
    for res in RESOURCES {
        let sub = tree::resource_command(res);
        cmd = cmd.subcommand(if res.wire == "events" {
            events_command(sub)
        } else {
            sub
        });
    }
    cmd.subcommand(crate::spec::command())
        .subcommand(crate::gen_cmd::command())
        .subcommand(
            Command::new("completions")
                .about("Print a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        )
        .subcommand(Command::new("config").about(
            "Show the connection settings this run would use and where each comes from (the password only as set or not)",
        ))
        .subcommand(
            Command::new("man")
                .about("Print the man page (roff), or write one page per command with --out")
                .arg(
                    Arg::new("out").long("out").value_name("DIR").help(
                        "Write ari.1, ari-channels.1, ari-channels-originate.1, ... into DIR",
                    ),
                ),
        )
}

fn global_args() -> Vec<Arg> {
    let args = vec![
        Arg::new("verbose")
            .long("verbose")
            .short('v')
            .global(true)
            .action(ArgAction::Count)
            .help("Log what ari-sdk does to stderr: each call's operation, status and time (-vv: more)"),
        Arg::new("dry-run")
            .long("dry-run")
            .global(true)
            .action(ArgAction::SetTrue)
            .help("Send nothing: print the request as the equivalent curl command (the password as $ARI_PASSWORD)"),
        Arg::new("url")
            .long("url")
            .global(true)
            .env("ARI_URL")
            .value_name("URL")
            .help("ARI base URL, http(s)://host:port/ari"),
        Arg::new("user")
            .long("user")
            .short('u')
            .global(true)
            .env("ARI_USER")
            .value_name("USER")
            .help("ARI user (ari.conf)"),
        Arg::new("password")
            .long("password")
            .short('p')
            .global(true)
            .env("ARI_PASSWORD")
            .hide_env_values(true)
            .value_name("PASSWORD")
            .help("ARI password (prefer ARI_PASSWORD or the config file: flags show in `ps`)"),
        Arg::new("server")
            .long("server")
            .short('s')
            .global(true)
            .env("ARI_SERVER")
            .value_name("NAME")
            .help("A named server of the config file"),
        Arg::new("config")
            .long("config")
            .global(true)
            .env("ARI_CONFIG")
            .value_name("FILE")
            .help("Config file (default ~/.config/ari/config.toml)"),
        Arg::new("output")
            .long("output")
            .short('o')
            .global(true)
            .value_name("FORMAT")
            .value_parser(["auto", "pretty", "json", "lines"])
            .default_value("auto")
            .help("auto: pretty on a terminal, json when piped; json: one compact document; lines: one compact line per element of a list"),
    ];
    // Listed apart from an operation's own flags in every `--help`.
    args.into_iter()
        .map(|a| a.help_heading("Connection and output"))
        .collect()
}

/// `ari events`: the `events` resource's operations, and, without one, the events tail.
fn events_command(sub: Command) -> Command {
    sub.about("Tail a Stasis application's events (--app NAME), or call an `events` operation")
        .subcommand_required(false)
        .arg_required_else_help(true)
        .args_conflicts_with_subcommands(true)
        .arg(
            Arg::new("app")
                .long("app")
                .short('a')
                .value_name("NAME")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help("Stasis application(s) to register and tail (repeatable or comma-separated)"),
        )
        .arg(
            Arg::new("subscribe-all")
                .long("subscribe-all")
                .action(ArgAction::SetTrue)
                .help("Receive every event of the server, not only the app's resources"),
        )
        .arg(
            Arg::new("type")
                .long("type")
                .short('t')
                .value_name("TYPE")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help("Show only these event types (StasisStart,ChannelDtmfReceived,...)"),
        )
        .arg(
            Arg::new("channel")
                .long("channel")
                .value_name("ID")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help("Show only events about this channel id"),
        )
        .arg(
            Arg::new("count")
                .long("count")
                .short('n')
                .value_name("N")
                .value_parser(clap::value_parser!(u64).range(1..))
                .help("Stop after N events are shown"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("JSON lines even on a terminal"),
        )
        .arg(
            Arg::new("text")
                .long("text")
                .action(ArgAction::SetTrue)
                .conflicts_with("json")
                .help("One readable line per event even when piped (for grep)"),
        )
}
