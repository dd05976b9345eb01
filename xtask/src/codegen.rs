//! `cargo xtask codegen [--check]`: regenerates `ari-sdk/src/generated/` (the bindings) and
//! `ari-cli/src/generated/` (the `ari` command tree) from the vendored corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

/// Arguments of `cargo xtask codegen`.
#[derive(clap::Args)]
pub struct Args {
    /// Fail, naming the stale files, when the checked-in code differs from what would be generated.
    #[arg(long)]
    pub check: bool,
    /// Corpus folder (default: the vendored `ari-spec/corpus`).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where the generated files live.
pub fn out_dir() -> PathBuf {
    root().join("ari-sdk/src/generated")
}

/// Where the CLI's generated command tree lives.
pub fn cli_out_dir() -> PathBuf {
    root().join("ari-cli/src/generated")
}

/// Where the mock's generated route table lives.
pub fn mock_out_dir() -> PathBuf {
    root().join("ari-mock/src/generated")
}

/// Every generated output: (folder, files).
fn outputs(out: &ari_codegen::Output) -> anyhow::Result<Vec<(PathBuf, BTreeMap<String, String>)>> {
    Ok(vec![
        (out_dir(), out.files.clone()),
        (cli_out_dir(), ari_codegen::cli::emit(&out.api)?),
        (mock_out_dir(), out.mock_files.clone()),
    ])
}

/// Generates the files in memory.
pub fn generate(corpus_dir: &Path) -> anyhow::Result<ari_codegen::Output> {
    let corpus = ari_spec::Corpus::load(corpus_dir)
        .with_context(|| format!("loading the corpus at {}", corpus_dir.display()))?;
    if corpus_dir == ari_spec::Corpus::vendored_dir() {
        corpus.check_fixups()?;
    }
    Ok(ari_codegen::generate(&corpus)?)
}

/// Files currently on disk under `dir`, relative paths.
fn read_tree(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// Names what differs between the generated and the on-disk files.
pub fn stale_files(
    generated: &BTreeMap<String, String>,
    dir: &Path,
) -> anyhow::Result<Vec<String>> {
    let current = read_tree(dir)?;
    let mut stale = Vec::new();
    for (name, text) in generated {
        match current.get(name) {
            None => stale.push(format!("{name} (missing)")),
            Some(t) if t != text => stale.push(format!("{name} (differs)")),
            _ => {}
        }
    }
    for name in current.keys() {
        if !generated.contains_key(name) {
            stale.push(format!("{name} (no longer generated)"));
        }
    }
    Ok(stale)
}

/// Replaces `dir` with `files`: wiped first, so a file that is no longer generated does not linger.
fn write_tree(dir: &Path, files: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files live in a folder"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let corpus_dir = args.corpus.unwrap_or_else(ari_spec::Corpus::vendored_dir);
    let out = generate(&corpus_dir)?;
    let outputs = outputs(&out)?;
    if args.check {
        for (dir, files) in &outputs {
            let stale = stale_files(files, dir)?;
            if !stale.is_empty() {
                bail!(
                    "the generated code in {} is stale:\n  {}\nrun `cargo xtask codegen` and commit the result",
                    dir.display(),
                    stale.join("\n  ")
                );
            }
        }
        eprintln!(
            "generated code is fresh ({} files, {:.2?})",
            outputs.iter().map(|(_, f)| f.len()).sum::<usize>(),
            started.elapsed()
        );
        return Ok(());
    }
    for (dir, files) in &outputs {
        write_tree(dir, files)?;
    }
    let api = &out.api;
    let ops: usize = api.resources.values().map(|r| r.operations.len()).sum();
    let files: usize = outputs.iter().map(|(_, f)| f.len()).sum();
    let lines: usize = outputs
        .iter()
        .flat_map(|(_, f)| f.values())
        .map(|t| t.lines().count())
        .sum();
    eprintln!(
        "generated {files} files ({lines} lines, bindings, CLI and mock routes) for {} releases: {ops} operations, {} models, {} events, in {:.2?}",
        api.releases.len(),
        api.models.len(),
        api.events.len(),
        started.elapsed()
    );
    for c in &api.conflicts {
        let types: Vec<String> = c.types.iter().map(|(t, r)| format!("{t} in {r}")).collect();
        eprintln!(
            "type conflict at {}: {} -> {}",
            c.place,
            types.join("; "),
            c.resolution
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in bindings are what the generator writes now.
    #[test]
    fn generated_code_is_fresh() {
        let out = generate(&ari_spec::Corpus::vendored_dir()).expect("generation succeeds");
        for (dir, files) in outputs(&out).unwrap() {
            let stale = stale_files(&files, &dir).unwrap();
            assert!(
                stale.is_empty(),
                "{} is stale: {stale:?}\nrun `cargo xtask codegen` and commit the result",
                dir.display()
            );
        }
    }

    /// Generating twice gives identical bytes.
    #[test]
    fn generation_is_deterministic() {
        let a = generate(&ari_spec::Corpus::vendored_dir()).unwrap().files;
        let b = generate(&ari_spec::Corpus::vendored_dir()).unwrap().files;
        assert_eq!(a, b);
    }

    /// A stale file is named, and so are missing and extra ones.
    #[test]
    fn staleness_is_detected() {
        let dir = std::env::temp_dir().join(format!("ari-fresh-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("ops")).unwrap();
        std::fs::write(dir.join("mod.rs"), "old").unwrap();
        std::fs::write(dir.join("extra.rs"), "x").unwrap();
        let mut files = BTreeMap::new();
        files.insert("mod.rs".to_owned(), "new".to_owned());
        files.insert("ops/a.rs".to_owned(), "a".to_owned());
        let stale = stale_files(&files, &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            stale,
            [
                "mod.rs (differs)",
                "ops/a.rs (missing)",
                "extra.rs (no longer generated)"
            ]
        );
    }
}
