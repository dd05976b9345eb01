//! Runs one operation command: settings -> client -> request -> answer printed.

use std::io::{IsTerminal, Write};

use clap::ArgMatches;

use crate::exit::Failure;
use crate::output::{self, Format};
use crate::tree::{self, Op, Response};
use crate::{conn, events};

/// A current-thread runtime: the CLI makes one call (or tails one stream) at a time.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("starting the async runtime: {e}")))
}

/// Sends the operation `op` with the arguments in `m` (the global flags included) and prints
/// the answer.
pub fn run(op: &'static Op, m: &ArgMatches) -> Result<(), Failure> {
    if op.response == Response::WebSocket {
        if m.get_flag("dry-run") {
            return Err(Failure::usage(
                "--dry-run: the events WebSocket is not a REST call; `ari events --app NAME` opens it",
            ));
        }
        return events::run_op(m);
    }
    let format = Format::from_flag(m.get_one::<String>("output").map(String::as_str));
    let settings = conn::settings(m)?;
    let client = conn::client(&settings)?;
    let req = tree::request(op, m);
    if m.get_flag("dry-run") {
        // Only binary answers have `--file`.
        let file = match op.response {
            Response::Binary => m.get_one::<String>("file"),
            _ => None,
        };
        return dry_run(op, &req, &client, &settings.user, file);
    }
    let rt = runtime()?;
    match op.response {
        Response::Json => {
            let v: serde_json::Value = rt.block_on(client.send_json(req))?;
            output::print(&v, format)
        }
        Response::Empty | Response::WebSocket => {
            rt.block_on(client.send_unit(req))?;
            Ok(())
        }
        Response::Binary => {
            let file = m.get_one::<String>("file").map(String::as_str);
            // Bytes on a terminal garble it: ask for a file instead, before sending anything.
            if file.is_none() && std::io::stdout().is_terminal() {
                return Err(Failure::usage(format!(
                    "{}.{} answers with binary data: give --file PATH, or --file - to write it to the terminal anyway",
                    op.info.resource, op.info.nickname
                )));
            }
            let bytes = rt.block_on(client.send_binary(req))?;
            match file {
                Some(path) if path != "-" => std::fs::write(path, &bytes)
                    .map_err(|e| Failure::other(format!("writing {path}: {e}"))),
                _ => {
                    let mut out = std::io::stdout().lock();
                    output::write_result(out.write_all(&bytes).and_then(|()| out.flush()))
                }
            }
        }
    }
}

/// A word for a POSIX shell, in single quotes.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `--dry-run`: the request as the curl command that sends it, on one line. The password stays
/// a reference to `$ARI_PASSWORD`.
fn dry_run(
    op: &'static Op,
    req: &ari_sdk::Request,
    client: &ari_sdk::Client,
    user: &str,
    file: Option<&String>,
) -> Result<(), Failure> {
    let url = req.url_under(client.base_url())?;
    let mut words = vec!["curl".to_owned()];
    if !user.is_empty() {
        // Double quotes: the shell expands the variable, so the password is never written out.
        words.push(format!(
            "-u \"{}:$ARI_PASSWORD\"",
            user.replace(['"', '$', '`', '\\'], "")
        ));
    }
    words.push(format!("-X {}", op.info.method));
    words.push(shell_quote(url.as_str()));
    if let Some(body) = req.json_body() {
        words.push("-H 'Content-Type: application/json'".to_owned());
        words.push(format!("-d {}", shell_quote(&body.to_string())));
    }
    if let Some(f) = file.filter(|f| f.as_str() != "-") {
        words.push(format!("-o {}", shell_quote(f)));
    }
    let line = words.join(" ") + "\n";
    output::write_result(std::io::Write::write_all(
        &mut std::io::stdout(),
        line.as_bytes(),
    ))
}
