//! Generates the `ari-sdk` bindings from ARI spec revisions.
//!
//! spec revisions ([`ari_spec::Corpus`]) -> merged IR ([`ir::Api`]) -> tokens ([`quote`]) ->
//! formatted source ([`prettyplease`]). The output is a set of files for
//! `ari-sdk/src/generated/`, each starting with a do-not-edit header. Output is deterministic:
//! every collection is ordered, so generating twice gives identical bytes.

pub mod cli;
pub mod emit;
pub mod ir;
pub mod kinds;
pub mod mock;
pub mod names;
pub mod user;

use std::collections::BTreeMap;

use ari_spec::{Corpus, ReleaseRange};

/// The command that regenerates the checked-in bindings, named in every generated file.
pub const COMMAND: &str = "cargo xtask codegen";

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The spec holds something the generator cannot map.
    #[error("spec: {0}")]
    Spec(String),
    /// Two items would get one Rust name.
    #[error("name collision in {namespace}: {second} and {first} would both be `{rust}`")]
    Collision {
        /// The namespace.
        namespace: String,
        /// The Rust name.
        rust: String,
        /// The item that claimed it first.
        first: String,
        /// The item that claimed it second.
        second: String,
    },
    /// What the IR holds for a release does not count the same as the release's revision.
    #[error(
        "release {release}: the spec has {expected:?} (operations, models, events) but the generator emitted {got:?}"
    )]
    Count {
        /// The release.
        release: String,
        /// Counted in the revision.
        expected: (usize, usize, usize),
        /// Counted in the IR.
        got: (usize, usize, usize),
    },
    /// The emitted tokens did not parse as Rust (a generator bug).
    #[error("generated `{file}` is not valid Rust: {error}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message.
        error: String,
    },
}

/// The generated files and a report.
#[derive(Debug)]
pub struct Output {
    /// Path relative to `ari-sdk/src/generated/` -> contents.
    pub files: BTreeMap<String, String>,
    /// Path relative to `ari-mock/src/generated/` -> contents (the mock's route table).
    pub mock_files: BTreeMap<String, String>,
    /// The merged API the files were made from.
    pub api: ir::Api,
}

/// Generates the bindings for every release of a corpus.
pub fn generate(corpus: &Corpus) -> Result<Output, GenError> {
    let api = ir::build(corpus)?;
    let files = emit::emit_sdk(&api)?;
    let mock_files = mock::emit(&api)?;
    Ok(Output {
        files,
        mock_files,
        api,
    })
}

/// Writes ranges as `20.14.0–20.20.1, 22.4.0+`.
pub fn ranges_text(ranges: &[ReleaseRange]) -> String {
    ari_spec::corpus::format_ranges(ranges)
}
