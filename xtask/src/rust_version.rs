//! `cargo xtask rust-version`: checks that the `rust-version` the workspace declares is true of
//! the locked dependencies.
//!
//! Only one toolchain can be installed on the project's machines, so an older compiler cannot
//! prove the declared minimum. What can be checked is the lockfile: every locked package that
//! states a `rust-version` must state one no newer than ours, and every package of the workspace
//! must declare ours (inheriting `workspace.package.rust-version`).

use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Arguments of `cargo xtask rust-version` (none).
#[derive(clap::Args)]
pub struct Args {}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    rust_version: Option<String>,
}

/// A `major.minor[.patch]` version as numbers, for comparison.
fn parse(v: &str) -> anyhow::Result<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>());
    let mut next = |what: &str| -> anyhow::Result<u32> {
        match parts.next() {
            None => Ok(0),
            Some(Ok(n)) => Ok(n),
            Some(Err(_)) => bail!("rust-version {v:?}: {what} is not a number"),
        }
    };
    Ok((next("major")?, next("minor")?, next("patch")?))
}

/// Runs the check; fails with the list of offending packages.
pub fn run(_args: Args) -> anyhow::Result<()> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata --locked failed (is Cargo.lock up to date?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Metadata = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let problems = check(&meta)?;
    if !problems.is_empty() {
        bail!("rust-version check failed:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

fn check(meta: &Metadata) -> anyhow::Result<Vec<String>> {
    let members: Vec<&Package> = meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
        .collect();
    let mut problems = Vec::new();
    let mut ours: Option<&str> = None;
    for m in &members {
        match m.rust_version.as_deref() {
            None => problems.push(format!("{}: declares no rust-version", m.name)),
            Some(v) if ours.is_some_and(|o| o != v) => problems.push(format!(
                "{}: rust-version {v}, other workspace packages {}",
                m.name,
                ours.unwrap_or_default()
            )),
            Some(v) => ours = Some(v),
        }
    }
    let Some(ours) = ours else {
        return Ok(problems);
    };
    let ours_n = parse(ours)?;
    let mut newest: Option<(&Package, (u32, u32, u32))> = None;
    for p in meta
        .packages
        .iter()
        .filter(|p| !meta.workspace_members.contains(&p.id))
    {
        let Some(v) = p.rust_version.as_deref() else {
            continue;
        };
        let n = parse(v).with_context(|| format!("{} {}", p.name, p.version))?;
        if n > ours_n {
            problems.push(format!(
                "{} {} needs Rust {v}, newer than the workspace's rust-version {ours}",
                p.name, p.version
            ));
        }
        if newest.is_none_or(|(_, m)| n > m) {
            newest = Some((p, n));
        }
    }
    if problems.is_empty() {
        let newest = newest
            .map(|(p, _)| {
                format!(
                    "{} {} (rust-version {})",
                    p.name,
                    p.version,
                    p.rust_version.as_deref().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "none states one".to_owned());
        eprintln!(
            "rust-version {ours} holds for all {} locked packages; the most demanding: {newest}",
            meta.packages.len()
        );
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(id: &str, rv: Option<&str>) -> Package {
        Package {
            id: id.to_owned(),
            name: id.to_owned(),
            version: "1.0.0".to_owned(),
            rust_version: rv.map(str::to_owned),
        }
    }

    #[test]
    fn newer_dependency_and_missing_declaration_are_reported() {
        let meta = Metadata {
            packages: vec![
                pkg("a", Some("1.89")),
                pkg("b", None),
                pkg("dep", Some("1.90.0")),
                pkg("old", Some("1.60")),
            ],
            workspace_members: vec!["a".to_owned(), "b".to_owned()],
        };
        let p = check(&meta).unwrap();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("b: declares no rust-version"));
        assert!(p[1].contains("dep 1.0.0 needs Rust 1.90.0"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse("1.100").unwrap() > parse("1.89.1").unwrap());
        assert!(parse("1.x").is_err());
    }
}
