//! The command tree's shape (filled by `generated/`), how it becomes clap commands, and how a
//! parsed operation command becomes an [`ari_sdk::Request`].

use std::collections::BTreeMap;

use ari_sdk::Request;
use ari_sdk::meta::{OperationInfo, ParamLocation};
use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::Value;

/// One ARI resource file: `ari <name> ...`.
#[derive(Debug)]
pub struct Resource {
    /// Command name (`device-states`).
    pub name: &'static str,
    /// The resource file's name (`deviceStates`).
    pub wire: &'static str,
    /// One-line help.
    pub about: &'static str,
    /// Its operations, in spec order.
    pub ops: &'static [Op],
}

/// One operation: `ari <resource> <name> ...`.
#[derive(Debug)]
pub struct Op {
    /// Command name (`originate-with-id`).
    pub name: &'static str,
    /// The SDK's description of the operation: what is sent and the releases that ship it.
    pub info: &'static OperationInfo,
    /// One-line help (the spec's summary).
    pub about: &'static str,
    /// `--help`: summary, method and path, notes, documented errors, releases.
    pub long_about: &'static str,
    /// What the answer is.
    pub response: Response,
    /// Parameters in spec order.
    pub params: &'static [Param],
}

/// What an operation answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// Nothing worth reading (204).
    Empty,
    /// A JSON document.
    Json,
    /// Bytes (a stored recording's file).
    Binary,
    /// A WebSocket upgrade: the events connection, run as the events tail.
    WebSocket,
}

/// How a parameter's text is checked and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text, or one of `values` when there are some.
    Text,
    /// An integer, within `range` when there is one.
    Int,
    /// A number, within `range` when there is one.
    // No parameter of the known releases is a `double` yet; the spec type exists.
    #[allow(dead_code)]
    Double,
    /// `true` or `false`; a bare optional flag means `true`.
    Bool,
    /// `key=value` pairs, one per flag, sent as a JSON object (`variables`).
    KeyValue,
    /// A JSON document sent as the whole body (the application event filter).
    Json,
}

/// One parameter of an operation.
#[derive(Debug)]
pub struct Param {
    /// Wire name, as sent.
    pub wire: &'static str,
    /// Flag name (`--channel-id`), or value name when positional.
    pub flag: &'static str,
    /// How its text is checked and sent.
    pub kind: Kind,
    /// Several values (repeated flag or comma-separated), sent comma-joined.
    pub multiple: bool,
    /// Given by position instead of a flag.
    pub positional: bool,
    /// Must be given.
    pub required: bool,
    /// Help text: the spec's description, default, range and releases.
    pub help: &'static str,
    /// The spec's allowable values (LIST).
    pub values: &'static [&'static str],
    /// The spec's RANGE bounds.
    pub range: Option<(Option<f64>, Option<f64>)>,
}

/// The clap command of one resource, with one subcommand per operation.
pub fn resource_command(res: &'static Resource) -> Command {
    let mut cmd = Command::new(res.name)
        .about(res.about)
        .subcommand_required(true)
        .arg_required_else_help(true);
    for op in res.ops {
        cmd = cmd.subcommand(op_command(op));
    }
    cmd
}

/// The clap command of one operation.
pub fn op_command(op: &'static Op) -> Command {
    let mut cmd = Command::new(op.name)
        .about(op.about)
        .long_about(op.long_about);
    for p in op.params {
        cmd = cmd.arg(param_arg(p));
    }
    if op.response == Response::Binary {
        cmd = cmd.arg(
            Arg::new("file")
                .long("file")
                .short('f')
                .value_name("PATH")
                .help("Write the answer's bytes to PATH ('-' for standard output)"),
        );
    }
    cmd
}

/// Checks a number against the spec's RANGE.
fn check_range(v: f64, range: Option<(Option<f64>, Option<f64>)>) -> Result<(), String> {
    if let Some((lo, hi)) = range {
        if let Some(lo) = lo
            && v < lo
        {
            return Err(format!("{v} is below the minimum {lo}"));
        }
        if let Some(hi) = hi
            && v > hi
        {
            return Err(format!("{v} is above the maximum {hi}"));
        }
    }
    Ok(())
}

fn param_arg(p: &'static Param) -> Arg {
    let value_name = p.flag.to_uppercase().replace('-', "_");
    let mut a = Arg::new(p.wire).help(p.help).value_name(value_name);
    // A required body parameter is a flag, but still required (`--var` of setChannelVars).
    a = if p.positional { a } else { a.long(p.flag) }.required(p.required);
    a =
        match p.kind {
            Kind::Text if !p.values.is_empty() => {
                a.value_parser(PossibleValuesParser::new(p.values.iter().copied()))
            }
            Kind::Text => a,
            // `--timeout -1` (no timeout) is a value, not a flag.
            Kind::Int => a.allow_negative_numbers(true).value_parser(
                move |s: &str| -> Result<String, String> {
                    let v: i64 = s
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{s}` is not an integer"))?;
                    check_range(v as f64, p.range)?;
                    Ok(v.to_string())
                },
            ),
            Kind::Double => a.allow_negative_numbers(true).value_parser(
                move |s: &str| -> Result<String, String> {
                    let v: f64 = s
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{s}` is not a number"))?;
                    if !v.is_finite() {
                        return Err(format!("`{s}` is not a finite number"));
                    }
                    check_range(v, p.range)?;
                    Ok(s.trim().to_owned())
                },
            ),
            Kind::Bool => {
                let a = a.value_parser(PossibleValuesParser::new(["true", "false"]));
                if p.positional {
                    a
                } else {
                    a.num_args(0..=1).default_missing_value("true")
                }
            }
            Kind::KeyValue => a
                .value_name("KEY=VALUE")
                .action(ArgAction::Append)
                .value_parser(|s: &str| -> Result<String, String> {
                    match s.split_once('=') {
                        Some((k, _)) if !k.is_empty() => Ok(s.to_owned()),
                        _ => Err(format!("`{s}` is not KEY=VALUE")),
                    }
                }),
            Kind::Json => a
                .value_name("JSON")
                .value_parser(|s: &str| -> Result<String, String> {
                    serde_json::from_str::<Value>(s)
                        .map(|_| s.to_owned())
                        .map_err(|e| format!("not JSON: {e}"))
                }),
        };
    if p.multiple && p.kind != Kind::KeyValue {
        a = a.action(ArgAction::Append).value_delimiter(',');
        if p.positional {
            a = a.num_args(1..);
        }
    }
    a
}

/// The request an operation command describes. Values were checked by the parsers above (LIST,
/// RANGE, number syntax), so what is left cannot fail but for JSON that clap already parsed.
pub fn request(op: &'static Op, m: &ArgMatches) -> Request {
    let mut req = Request::new(op.info);
    for p in op.params {
        let values: Vec<&String> = match m.get_many::<String>(p.wire) {
            Some(v) => v.collect(),
            None => continue,
        };
        let location = op
            .info
            .param(p.wire)
            .map(|i| i.location)
            .unwrap_or(ParamLocation::Query);
        match (location, p.kind) {
            (ParamLocation::Path, _) => {
                req.path_param(p.wire, values[0]);
            }
            (ParamLocation::Query, _) => {
                let joined: Vec<&str> = values.iter().map(|s| s.as_str()).collect();
                req.query(p.wire, joined.join(","));
            }
            (ParamLocation::Body, Kind::KeyValue) => {
                let map: BTreeMap<&str, &str> =
                    values.iter().filter_map(|kv| kv.split_once('=')).collect();
                req.body_param(p.wire, serde_json::to_value(map).unwrap_or(Value::Null));
            }
            (ParamLocation::Body, Kind::Json) => {
                let v = serde_json::from_str(values[0]).unwrap_or(Value::Null);
                req.body_whole(p.wire, v);
            }
            (ParamLocation::Body, _) => {
                req.body_param(p.wire, Value::String(values[0].clone()));
            }
        }
    }
    req
}

/// The operation of a resource by command name.
pub fn find(resources: &[&'static Resource], res: &str, op: &str) -> Option<&'static Op> {
    resources
        .iter()
        .find(|r| r.name == res)
        .and_then(|r| r.ops.iter().find(|o| o.name == op))
}
