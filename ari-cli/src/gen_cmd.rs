//! `ari codegen --from URL|DIR --out DIR`: bindings for exactly the spec one server serves, a
//! thin driver over [`ari_codegen::user`] (which a `build.rs` can call too): this loads the spec
//! (from a server with the connection settings' credentials, or a folder) and writes the files.

use std::path::{Path, PathBuf};

use ari_codegen::user::UserBindings;
use ari_spec::{DirSource, RawRevision, Release, Source};
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::call::runtime;
use crate::conn;
use crate::exit::Failure;

/// The `ari codegen` command.
pub fn command() -> Command {
    Command::new("codegen")
        .about("Generate ari-sdk bindings for the spec one server (or folder) serves")
        .long_about(
            "Generate ari-sdk bindings for exactly the spec one server serves (a custom module, a \
             release newer than ari-sdk knows): a module of your crate that calls the ari-sdk \
             runtime. Add `mod ari;` where --out points (or the --module path), and depend on \
             ari-sdk, serde (derive), serde_json and bytes. Resources are reached through the \
             trait `ops::Resources` (`use crate::ari::ops::Resources; client.channels()`).",
        )
        .arg(
            Arg::new("from")
                .long("from")
                .required(true)
                .value_name("URL|DIR")
                .help("An ARI base URL (http://host:8088/ari) or a folder with resources.json and api-docs/"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .required(true)
                .value_name("DIR")
                .help("Folder to write the module's files into (created if needed)"),
        )
        .arg(
            Arg::new("release")
                .long("release")
                .value_name("X.Y.Z")
                .help("The Asterisk release the spec is from (default: asked from the server, or the folder's name)"),
        )
        .arg(
            Arg::new("module")
                .long("module")
                .value_name("PATH")
                .default_value("crate::ari")
                .help("The module path the files will live at in your crate"),
        )
        .arg(
            Arg::new("check")
                .long("check")
                .action(ArgAction::SetTrue)
                .help("Write nothing; fail (exit 1) naming the files that differ from what would be written"),
        )
}

/// Loads one revision from a URL (with the connection settings' credentials) or a folder.
pub fn load_raw(from: &str, m: &ArgMatches) -> Result<(RawRevision, Option<Release>), Failure> {
    if from.starts_with("http://") || from.starts_with("https://") {
        let settings = conn::settings(m)?;
        let settings = conn::Settings {
            url: from.to_owned(),
            ..settings
        };
        // The server first, through the SDK: an unreachable server or refused credentials
        // fail with their own exit codes; and the spec's apiVersion is ARI's, not Asterisk's,
        // so the release is asked here.
        let client = conn::client(&settings)?;
        let version = runtime()?.block_on(client.connect())?;
        let mut source = ari_spec::http::HttpSource::new(from);
        if !settings.user.is_empty() {
            source = source.with_auth(&settings.user, &settings.password);
        }
        let raw = RawRevision::fetch(&source).map_err(|e| spec_failure(&source, e))?;
        Ok((raw, version.and_then(|v| v.release).map(sdk_release)))
    } else {
        let dir = Path::new(from);
        if !dir.join("resources.json").is_file() {
            return Err(Failure::usage(format!(
                "{from}: no resources.json there (give an ARI base URL or a spec folder)"
            )));
        }
        let source = DirSource::new(dir);
        let raw = RawRevision::fetch(&source).map_err(|e| spec_failure(&source, e))?;
        let named = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<Release>().ok());
        Ok((raw, named))
    }
}

fn sdk_release(r: ari_sdk::Release) -> Release {
    Release::new(r.major, r.minor, r.patch)
}

fn spec_failure(source: &dyn Source, e: ari_spec::SpecError) -> Failure {
    Failure::new(
        crate::exit::BAD_ANSWER,
        format!("loading the spec from {}: {e}", source.describe()),
    )
}

/// Runs `ari codegen ...`.
pub fn run(m: &ArgMatches) -> Result<(), Failure> {
    let from = m.get_one::<String>("from").expect("required");
    let out = PathBuf::from(m.get_one::<String>("out").expect("required"));
    let module = m.get_one::<String>("module").expect("has a default");
    let (raw, found) = load_raw(from, m)?;
    let release = match m.get_one::<String>("release") {
        Some(r) => r
            .parse::<Release>()
            .map_err(|e| Failure::usage(format!("--release {r}: {e}")))?,
        None => found.ok_or_else(|| {
            Failure::usage("cannot tell the spec's release: give --release X.Y.Z")
        })?,
    };
    let generated = UserBindings::new(raw, release)
        .module(module.clone())
        // The header names the command that regenerates the file: this one.
        .made_by(format!("ari codegen --from {from}"))
        .generate()
        .map_err(|e| Failure::other(e.to_string()))?;
    if m.get_flag("check") {
        let stale = generated.stale_in(&out);
        if !stale.is_empty() {
            return Err(Failure::other(format!(
                "{} is stale: {}; rerun without --check",
                out.display(),
                stale.join(", ")
            )));
        }
        return Ok(());
    }
    generated
        .write_to(&out)
        .map_err(|e| Failure::other(format!("writing {}: {e}", out.display())))?;
    let api = &generated.api;
    let ops: usize = api.resources.values().map(|r| r.operations.len()).sum();
    eprintln!(
        "ari: wrote {} files to {} for release {release}: {ops} operations, {} models, {} events",
        generated.files.len(),
        out.display(),
        api.models.len(),
        api.events.len()
    );
    Ok(())
}
