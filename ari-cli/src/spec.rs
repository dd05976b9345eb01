//! `ari spec`: which releases ship an item, the diff between two releases, and a look at the
//! spec a server (or folder) serves.
//!
//! `releases` answers from the availability compiled into ari-sdk (no files needed); `diff` and
//! `import`'s comparison read the spec corpus (the vendored `ari-spec/corpus`, or `--corpus`),
//! through the same `ari_spec::diff` that `cargo xtask diff` uses.

use std::path::PathBuf;

use ari_sdk::meta::{Availability, Release, Support};
use ari_spec::Corpus;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::json;

use crate::exit::Failure;
use crate::generated::RESOURCES;

/// The `ari spec` command.
pub fn command() -> Command {
    let json = || {
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help("One JSON document instead of text")
    };
    let corpus = || {
        Arg::new("corpus")
            .long("corpus")
            .value_name("DIR")
            .help("Spec corpus folder with releases.tsv (default: the vendored ari-spec/corpus)")
    };
    Command::new("spec")
        .about("Spec tools: which releases ship an item, release diffs, a server's spec")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("releases")
                .about("Which releases ship an operation, parameter, model, field or event")
                .long_about(
                    "Which releases ship an item: an operation (channels.originate, or \
                     channels.originate-with-id as the command is named), a parameter \
                     (channels.originate.formats), a model or event (Channel, StasisStart), or a \
                     model field (Channel.protocol_id).",
                )
                .arg(
                    Arg::new("item")
                        .required(true)
                        .value_name("ITEM")
                        .help("resource.operation[.param], Model[.field] or Event"),
                )
                .arg(json()),
        )
        .subcommand(
            Command::new("commands")
                .about("The `ari <resource> <operation>` commands a release has (all known when no release is given)")
                .arg(
                    Arg::new("release")
                        .long("release")
                        .value_name("X.Y.Z")
                        .help("Only the commands whose operation this release ships"),
                )
                .arg(json()),
        )
        .subcommand(
            Command::new("diff")
                .about("The API changes between two releases (operations, parameters, models, fields, events)")
                .arg(Arg::new("from").required(true).value_name("A").help("Release to compare from, e.g. 16.28.0"))
                .arg(Arg::new("to").required(true).value_name("B").help("Release to compare to, e.g. 22.10.1"))
                .arg(json())
                .arg(corpus()),
        )
        .subcommand(
            Command::new("import")
                .about("Load the spec a server (or folder) serves: check it, count it, compare it with the known release, save it")
                .arg(
                    Arg::new("from")
                        .long("from")
                        .required(true)
                        .value_name("URL|DIR")
                        .help("An ARI base URL or a folder with resources.json and api-docs/"),
                )
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("DIR")
                        .help("Save the spec files there, byte for byte (for `ari codegen --from DIR`)"),
                )
                .arg(
                    Arg::new("release")
                        .long("release")
                        .value_name("X.Y.Z")
                        .help("The release the spec is from (default: asked from the server, or the folder's name)"),
                )
                .arg(json())
                .arg(corpus()),
        )
}

/// Runs `ari spec ...`.
pub fn run(m: &ArgMatches) -> Result<(), Failure> {
    match m.subcommand() {
        Some(("releases", m)) => releases(m),
        Some(("commands", m)) => commands(m),
        Some(("diff", m)) => diff(m),
        Some(("import", m)) => import(m),
        _ => Err(Failure::usage(
            "ari spec: name a tool (releases, diff, import)",
        )),
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), Failure> {
    crate::output::print(v, crate::output::Format::Pretty)
}

/// What an item names, and the releases that ship it.
fn lookup(item: &str) -> Option<(String, &'static str, Availability)> {
    let parts: Vec<&str> = item.split('.').collect();
    // Operations and parameters: the resource and the operation by wire or command name.
    if let [res, op, rest @ ..] = parts.as_slice()
        && let Some(r) = RESOURCES.iter().find(|r| r.wire == *res || r.name == *res)
        && let Some(o) = r
            .ops
            .iter()
            .find(|o| o.info.nickname == *op || o.name == *op)
    {
        let name = format!("{}.{}", r.wire, o.info.nickname);
        return match rest {
            [] => Some((name, "operation", o.info.availability)),
            [p] => o
                .info
                .params
                .iter()
                .find(|x| x.name == *p)
                .map(|x| (format!("{name}({})", x.name), "parameter", x.availability)),
            _ => None,
        };
    }
    match parts.as_slice() {
        [model] => ari_sdk::releases::model(model).map(|a| {
            let kind = if ari_sdk::EventKind::from_type(model).is_some() {
                "event"
            } else {
                "model"
            };
            ((*model).to_owned(), kind, a)
        }),
        [model, field] => {
            ari_sdk::releases::field(model, field).map(|a| (format!("{model}.{field}"), "field", a))
        }
        _ => None,
    }
}

fn releases(m: &ArgMatches) -> Result<(), Failure> {
    let item = m.get_one::<String>("item").expect("required");
    let (name, kind, availability) = lookup(item).ok_or_else(|| {
        Failure::usage(format!(
            "`{item}` is no operation, parameter, model, field or event of any known release \
             (try channels.originate, channels.originate.formats, Channel.protocol_id, StasisStart)"
        ))
    })?;
    let majors = ari_sdk::releases::KNOWN_MAJORS;
    let shipping: Vec<Release> = ari_sdk::releases::RELEASES
        .iter()
        .copied()
        .filter(|r| availability.support(*r, majors) == Support::Yes)
        .collect();
    let total = ari_sdk::releases::RELEASES.len();
    if m.get_flag("json") {
        let ranges: Vec<String> = availability.ranges.iter().map(|r| r.to_string()).collect();
        return print_json(&json!({
            "item": name,
            "kind": kind,
            "ranges": ranges,
            "releases": shipping.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "known_releases": total,
        }));
    }
    let ranges = if availability.ranges.is_empty() {
        "none".to_owned()
    } else {
        availability.to_string()
    };
    let text = format!(
        "{kind} {name}: {ranges} ({} of the {total} known releases, {}..{})\n",
        shipping.len(),
        ari_sdk::releases::RELEASES[0],
        ari_sdk::releases::RELEASES[total - 1]
    );
    crate::output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))
}

fn commands(m: &ArgMatches) -> Result<(), Failure> {
    let release = match m.get_one::<String>("release") {
        Some(r) => {
            let p = r
                .parse::<ari_spec::Release>()
                .map_err(|e| Failure::usage(format!("--release {r}: {e}")))?;
            Some(Release::new(p.major, p.minor, p.patch))
        }
        None => None,
    };
    let majors = ari_sdk::releases::KNOWN_MAJORS;
    let list: Vec<String> = RESOURCES
        .iter()
        .flat_map(|r| r.ops.iter().map(move |o| (r, o)))
        .filter(|(_, o)| {
            release.is_none_or(|rel| o.info.availability.support(rel, majors) != Support::No)
        })
        .map(|(r, o)| format!("{} {}", r.name, o.name))
        .collect();
    if m.get_flag("json") {
        return print_json(&json!({
            "release": release.map(|r| r.to_string()),
            "count": list.len(),
            "commands": list,
        }));
    }
    let mut text = list.join("\n");
    text.push_str(&format!("\n{} commands\n", list.len()));
    crate::output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))
}

fn corpus_dir(m: &ArgMatches) -> Result<PathBuf, Failure> {
    let dir = m
        .get_one::<String>("corpus")
        .map(PathBuf::from)
        .unwrap_or_else(Corpus::vendored_dir);
    if !dir.join("releases.tsv").is_file() {
        return Err(Failure::usage(format!(
            "no spec corpus at {} (releases.tsv): give --corpus DIR (an ari-rs checkout's ari-spec/corpus)",
            dir.display()
        )));
    }
    Ok(dir)
}

fn diff(m: &ArgMatches) -> Result<(), Failure> {
    let dir = corpus_dir(m)?;
    let from = m.get_one::<String>("from").expect("required");
    let to = m.get_one::<String>("to").expect("required");
    let d =
        ari_spec::diff::diff_releases(&dir, from, to).map_err(|e| Failure::usage(e.to_string()))?;
    if m.get_flag("json") {
        let v = serde_json::to_value(&d).map_err(|e| Failure::other(e.to_string()))?;
        return print_json(&v);
    }
    crate::output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        d.to_text().as_bytes(),
    ))
}

fn import(m: &ArgMatches) -> Result<(), Failure> {
    let from = m.get_one::<String>("from").expect("required");
    let (raw, found) = crate::gen_cmd::load_raw(from, m)?;
    let release = match m.get_one::<String>("release") {
        Some(r) => Some(
            r.parse::<ari_spec::Release>()
                .map_err(|e| Failure::usage(format!("--release {r}: {e}")))?,
        ),
        None => found,
    };
    let (rev, applied) = ari_spec::fixups::parse_fixed(&raw)
        .map_err(|e| Failure::new(crate::exit::BAD_ANSWER, format!("the spec: {e}")))?;
    let ops: usize = rev
        .resources
        .iter()
        .map(|(_, d)| d.apis.iter().map(|a| a.operations.len()).sum::<usize>())
        .sum();
    let (models, events) = (rev.models().count(), rev.event_names().len());
    // Compared with what ari knows of the same release, when it knows it.
    let known = match (release, corpus_dir(m)) {
        (Some(r), Ok(dir)) => ari_spec::diff::load_release(&dir, &r.to_string()).ok(),
        _ => None,
    };
    let diff = known.as_ref().map(|(_, known_rev)| {
        let mut d = ari_spec::diff::diff_revisions(known_rev, &rev);
        d.from = format!(
            "{} (known)",
            release.map(|r| r.to_string()).unwrap_or_default()
        );
        d.to = from.clone();
        d
    });
    if let Some(out) = m.get_one::<String>("out") {
        raw.write_to(std::path::Path::new(out))
            .map_err(|e| Failure::other(format!("writing {out}: {e}")))?;
    }
    let release_text = release.map(|r| r.to_string());
    if m.get_flag("json") {
        return print_json(&json!({
            "from": from,
            "release": release_text,
            "api_version": rev.listing.api_version,
            "resources": rev.resources.len(),
            "operations": ops,
            "models": models,
            "events": events,
            "fixups_applied": applied.iter().map(|(n, c)| json!({"fixup": n, "places": c})).collect::<Vec<_>>(),
            "known_release": known.is_some(),
            "changes_from_known": diff.as_ref().map(|d| d.count()),
            "diff": diff.as_ref().map(|d| serde_json::to_value(d).unwrap_or_default()),
        }));
    }
    let mut text = format!(
        "{from}: release {}, ARI {}: {} resources, {ops} operations, {models} models, {events} events\n",
        release_text.as_deref().unwrap_or("unknown"),
        rev.listing.api_version,
        rev.resources.len()
    );
    match &diff {
        Some(d) if d.count() == 0 => {
            text.push_str("identical to the spec ari knows for this release\n");
        }
        Some(d) => {
            text.push_str(&format!(
                "{} changes from the spec ari knows for this release (use `ari codegen --from {from}` for bindings that match):\n",
                d.count()
            ));
            text.push_str(&d.to_text());
        }
        None => text.push_str(
            "ari does not know this release: `ari codegen --from` makes bindings for it\n",
        ),
    }
    crate::output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        text.as_bytes(),
    ))
}
