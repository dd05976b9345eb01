//! `ari`: a command-line client for the Asterisk REST Interface.
//!
//! Its command tree (`generated/`) is made by `cargo xtask codegen` from the same IR as the
//! ari-sdk bindings, so it has one command per operation of every known release, and it sends
//! every call through ari-sdk, release gating included. `main` only parses and dispatches; a
//! failure is one line on stderr and an exit code by its kind (see [`exit`]).

mod app;
mod call;
mod conn;
mod events;
mod exit;
#[rustfmt::skip]
mod generated;
mod gen_cmd;
mod output;
mod spec;
mod tree;

use std::process::ExitCode;

use exit::Failure;

fn main() -> ExitCode {
    let matches = match app::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind as K;
            return match e.kind() {
                K::DisplayHelp
                | K::DisplayVersion
                | K::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    // clap's convention: help asked for by omission is a usage error.
                    if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                        ExitCode::from(exit::USAGE)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                _ => {
                    eprintln!("ari: {}", exit::clap_message(&e));
                    ExitCode::from(exit::USAGE)
                }
            };
        }
    };
    log_to_stderr(matches.get_count("verbose"));
    match run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ari: {f}");
            ExitCode::from(f.code)
        }
    }
}

/// `-v`: ari-sdk's own diagnostics (a span per call with its operation, method and path; the
/// status, size and time of each answer; reconnects), which never carry credentials. `-vv` adds
/// the HTTP and WebSocket libraries'.
fn log_to_stderr(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let targets = match verbose {
        0 => return,
        1 => Targets::new().with_target("ari_sdk", LevelFilter::DEBUG),
        _ => Targets::new().with_default(LevelFilter::DEBUG),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry()
        .with(fmt.with_filter(targets))
        .init();
}

/// `ari man`: clap_mangen's sections, then ENVIRONMENT, FILES and EXIT STATUS.
fn man_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(app::command());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    // roff: a leading `.` or `'` would start a request; `\` starts an escape.
    let text = |s: &str| s.replace('\\', "\\e").replace('-', "\\-");
    let mut extra = String::from(".SH ENVIRONMENT\n");
    for (var, what) in [
        ("ARI_URL", "ARI base URL, http(s)://host:port/ari"),
        ("ARI_USER", "ARI user"),
        ("ARI_PASSWORD", "ARI password (never printed)"),
        ("ARI_SERVER", "a named server of the config file"),
        ("ARI_CONFIG", "the config file"),
    ] {
        extra.push_str(&format!(".TP\n\\fB{var}\\fR\n{}\n", text(what)));
    }
    extra.push_str(&format!(
        ".SH FILES\n.TP\n~/.config/ari/config.toml\n{}\n",
        text("Named servers (TOML): default = \"NAME\", then [servers.NAME] with url, user, password.")
    ));
    extra.push_str(".SH \"EXIT STATUS\"\n");
    for (code, _, meaning) in exit::TABLE {
        extra.push_str(&format!(".TP\n{code}\n{}\n", text(meaning)));
    }
    page.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

fn run(m: &clap::ArgMatches) -> Result<(), Failure> {
    let (name, sub) = m
        .subcommand()
        .ok_or_else(|| Failure::usage("no command given"))?;
    match name {
        "spec" => spec::run(sub),
        "codegen" => gen_cmd::run(sub),
        "config" => conn::show(sub),
        "completions" => {
            let shell = *sub
                .get_one::<clap_complete::Shell>("shell")
                .ok_or_else(|| Failure::usage("no shell given"))?;
            let mut cmd = app::command();
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ari", &mut script);
            output::write_result(std::io::Write::write_all(&mut std::io::stdout(), &script))
        }
        "man" => match sub.get_one::<String>("out") {
            Some(dir) => std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(app::command(), dir))
                .map_err(|e| Failure::other(format!("writing man pages to {dir}: {e}"))),
            None => {
                let page = man_page()
                    .map_err(|e| Failure::other(format!("rendering the man page: {e}")))?;
                output::write_result(std::io::Write::write_all(&mut std::io::stdout(), &page))
            }
        },
        resource => match sub.subcommand() {
            Some((op_name, op_m)) => {
                let op = tree::find(generated::RESOURCES, resource, op_name).ok_or_else(|| {
                    Failure::usage(format!("unknown command {resource} {op_name}"))
                })?;
                call::run(op, op_m)
            }
            None if resource == "events" => events::run(sub),
            None => Err(Failure::usage(format!("ari {resource}: name an operation"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use ari_sdk::meta::{Release, Support};

    /// Every operation of every release has a command: per release of the corpus, the commands
    /// whose operation that release ships number exactly the IR's operations of that release
    /// (which the IR itself checks against the release's revision).
    #[test]
    fn one_command_per_operation_of_every_release() {
        let corpus = ari_spec::Corpus::vendored().expect("the vendored corpus loads");
        let api = ari_codegen::ir::build(&corpus).expect("the IR builds");
        let majors = ari_sdk::releases::KNOWN_MAJORS;
        assert!(api.counts.len() > 300, "{}", api.counts.len());
        for (release, &(ops, _, _)) in &api.counts {
            let r = Release::new(release.major, release.minor, release.patch);
            let got = crate::generated::RESOURCES
                .iter()
                .flat_map(|res| res.ops)
                .filter(|op| op.info.availability.support(r, majors) == Support::Yes)
                .count();
            assert_eq!(got, ops, "release {r}: commands vs the IR's operations");
        }
        let total: usize = api.resources.values().map(|r| r.operations.len()).sum();
        let commands: usize = crate::generated::RESOURCES
            .iter()
            .map(|r| r.ops.len())
            .sum();
        assert_eq!(commands, total);
    }

    /// Splits a shell line into words: whitespace, single and double quotes; stops at a
    /// comment, a pipe, a redirection, `&&` or `&`.
    fn words(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let (mut quote, mut any) = (None, false);
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    any = true;
                }
                (None, '#' | '|' | '>' | '&') => break,
                (None, c) if c.is_whitespace() => {
                    if any || !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                        any = false;
                    }
                }
                (None, c) => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    /// Every `ari` line in the shell blocks of the README is a command `ari` accepts (parsed,
    /// not sent), so that the README stays true as the tree changes.
    #[test]
    fn readme_commands_parse() {
        let readme = include_str!("../README.md");
        let mut in_sh = false;
        let mut checked = 0;
        for line in readme.lines() {
            if line.starts_with("```") {
                in_sh = line == "```sh";
                continue;
            }
            if !in_sh {
                continue;
            }
            // A command after `&&` is checked as a line of its own.
            for part in line.split("&&") {
                let w = words(part.trim());
                if w.first().map(String::as_str) != Some("ari") {
                    continue;
                }
                match crate::app::command().try_get_matches_from(&w) {
                    Ok(_) => {}
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                    Err(e) => panic!(
                        "README: `{}`: {}",
                        part.trim(),
                        crate::exit::clap_message(&e)
                    ),
                }
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked} README commands");
    }

    /// The checked-in command tree is what the generator writes now.
    #[test]
    fn generated_tree_is_fresh() {
        let corpus = ari_spec::Corpus::vendored().expect("the vendored corpus loads");
        let api = ari_codegen::ir::build(&corpus).expect("the IR builds");
        let files = ari_codegen::cli::emit(&api).expect("the tree emits");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated");
        let on_disk = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(on_disk, files.len(), "files in {}", dir.display());
        for (name, text) in &files {
            let current = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            assert!(
                &current == text,
                "ari-cli/src/generated/{name} is stale: run `cargo xtask codegen` and commit the result"
            );
        }
    }

    /// Every operation's command, given a valid value for each required argument, parses and
    /// becomes a request whose URL has every path parameter filled in: no command of the tree
    /// can reach a panic or a "missing path parameter" on the way to sending.
    #[test]
    fn every_command_builds_its_request() {
        let base = ari_sdk::Client::builder()
            .build()
            .unwrap()
            .base_url()
            .clone();
        let mut built = 0;
        for res in crate::generated::RESOURCES {
            for op in res.ops {
                let mut args = vec!["ari".to_owned(), res.name.to_owned(), op.name.to_owned()];
                for p in op.params.iter().filter(|p| p.positional) {
                    args.push(match p.kind {
                        _ if !p.values.is_empty() => p.values[0].to_owned(),
                        crate::tree::Kind::Int | crate::tree::Kind::Double => "1".to_owned(),
                        crate::tree::Kind::Bool => "true".to_owned(),
                        _ => format!("v-{}", p.wire),
                    });
                }
                for p in op.params.iter().filter(|p| p.required && !p.positional) {
                    args.push(format!("--{}", p.flag));
                    args.push(match p.kind {
                        crate::tree::Kind::KeyValue => "k=v".to_owned(),
                        crate::tree::Kind::Json => "{}".to_owned(),
                        _ => "x".to_owned(),
                    });
                }
                let m = crate::app::command()
                    .try_get_matches_from(&args)
                    .unwrap_or_else(|e| panic!("{args:?}: {}", crate::exit::clap_message(&e)));
                let (_, sub) = m.subcommand().unwrap();
                let (_, op_m) = sub.subcommand().unwrap();
                let req = crate::tree::request(op, op_m);
                let url = req
                    .url_under(&base)
                    .unwrap_or_else(|e| panic!("{args:?}: {e}"));
                assert!(!url.path().contains('{'), "{args:?}: {url}");
                for p in op.params.iter().filter(|p| p.positional) {
                    assert!(
                        url.as_str().contains(&format!("v-{}", p.wire))
                            || p.kind != crate::tree::Kind::Text
                            || !p.values.is_empty(),
                        "{args:?}: {} is not in {url}",
                        p.wire
                    );
                }
                built += 1;
            }
        }
        assert_eq!(built, ari_sdk::ops::OPERATIONS.len());
    }

    /// The command tree is a valid clap command (clap's own consistency checks).
    #[test]
    fn command_tree_is_consistent() {
        crate::app::command().debug_assert();
    }

    /// Command names are unique per resource and every operation of the SDK has one.
    #[test]
    fn every_sdk_operation_has_a_command() {
        let commands: usize = crate::generated::RESOURCES
            .iter()
            .map(|r| r.ops.len())
            .sum();
        assert_eq!(commands, ari_sdk::ops::OPERATIONS.len());
        for info in ari_sdk::ops::OPERATIONS {
            assert!(
                crate::generated::RESOURCES
                    .iter()
                    .flat_map(|r| r.ops)
                    .any(|op| std::ptr::eq(op.info, *info)),
                "{}.{} has no command",
                info.resource,
                info.nickname
            );
        }
    }
}
