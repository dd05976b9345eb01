//! `cargo xtask diff <release-a> <release-b> [--json] [--corpus DIR]`: how the API changed
//! between two releases of the corpus. A thin driver over [`ari_spec::diff`], which `ari spec
//! diff` shares.

use std::path::PathBuf;

use ari_spec::Corpus;
use ari_spec::diff::diff_releases;

/// Arguments of `cargo xtask diff`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The release to compare from, e.g. 22.0.0.
    pub from: String,
    /// The release to compare to, e.g. 22.10.1.
    pub to: String,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Corpus folder (default: the vendored `ari-spec/corpus`).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let corpus_dir = args.corpus.unwrap_or_else(Corpus::vendored_dir);
    let diff = diff_releases(&corpus_dir, &args.from, &args.to)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        print!("{}", diff.to_text());
    }
    Ok(())
}
