//! Bindings for exactly the spec one server serves (a custom module, a release newer than
//! ari-sdk knows), as a module of the user's own crate that calls the ari-sdk runtime from
//! outside ([`crate::emit::RUNTIME_ITEMS`]). `ari codegen --from URL|DIR --out DIR` drives it;
//! a `build.rs` can call it directly:
//!
//! ```no_run
//! // build.rs: bindings for the spec files saved under spec/ (`ari spec import --out spec/`).
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("ari");
//! ari_codegen::user::UserBindings::from_dir("spec", "22.10.1".parse().unwrap())
//!     .unwrap()
//!     .module("crate::ari")
//!     .generate()
//!     .unwrap()
//!     .write_to(&out)
//!     .unwrap();
//! ```
//!
//! The user's crate needs `ari-sdk`, `serde` (with `derive`), `serde_json` and `bytes`. The
//! client's resource accessors come from the trait `ops::Resources` (`use crate::ari::ops::Resources;
//! client.channels()`), since a crate cannot add inherent methods to ari-sdk's `Client`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ari_spec::{Corpus, DirSource, RawRevision, Release, ReleaseEntry, fixups};

use crate::GenError;
use crate::ir::Api;

/// What to generate: one spec revision, the release that serves it, where the module lives.
#[derive(Clone, Debug)]
pub struct UserBindings {
    raw: RawRevision,
    release: Release,
    module: String,
    made_by: String,
}

/// The generated module.
#[derive(Debug)]
pub struct UserOutput {
    /// Path relative to the module's folder -> contents.
    pub files: BTreeMap<String, String>,
    /// The IR the files were made from.
    pub api: Api,
}

impl UserBindings {
    /// Bindings for the spec files `raw` (as [`RawRevision::fetch`] reads them), which `release`
    /// serves.
    pub fn new(raw: RawRevision, release: Release) -> UserBindings {
        UserBindings {
            raw,
            release,
            module: "crate::ari".to_owned(),
            made_by: "ari_codegen::user".to_owned(),
        }
    }

    /// Bindings for the spec files in `dir` (`resources.json` and `api-docs/`).
    pub fn from_dir(dir: impl AsRef<Path>, release: Release) -> Result<UserBindings, GenError> {
        let raw = RawRevision::fetch(&DirSource::new(dir.as_ref()))
            .map_err(|e| GenError::Spec(e.to_string()))?;
        Ok(UserBindings::new(raw, release))
    }

    /// The module path the files will live at in the user's crate (default `crate::ari`).
    pub fn module(mut self, path: impl Into<String>) -> Self {
        self.module = path.into();
        self
    }

    /// The command named in each file's do-not-edit header (default `ari_codegen::user`).
    pub fn made_by(mut self, command: impl Into<String>) -> Self {
        self.made_by = command.into();
        self
    }

    /// A corpus of this one revision, shipped by this one release, fix-ups applied (a user's
    /// server has the same upstream mistakes as the vendored revisions).
    pub fn corpus(&self) -> Result<Corpus, GenError> {
        let (rev, _) = fixups::parse_fixed(&self.raw).map_err(|e| GenError::Spec(e.to_string()))?;
        let name = self.release.to_string();
        Ok(Corpus {
            dir: PathBuf::new(),
            releases: vec![ReleaseEntry {
                release: self.release,
                revision: name.clone(),
            }],
            revisions: [(name, rev)].into_iter().collect(),
            fixups_applied: BTreeMap::new(),
        })
    }

    /// Generates the module's files.
    pub fn generate(&self) -> Result<UserOutput, GenError> {
        let mut api = crate::ir::build(&self.corpus()?)?;
        api.root = self.module.clone();
        api.runtime = "ari_sdk".to_owned();
        let files = crate::emit::emit(&api)?
            .into_iter()
            .map(|(name, text)| {
                let text = text.replacen(
                    &format!("`{}`", crate::COMMAND),
                    &format!("`{}`", self.made_by),
                    1,
                );
                (name, text)
            })
            .collect();
        Ok(UserOutput { files, api })
    }
}

impl UserOutput {
    /// Writes the files under `dir`, creating folders; files already there and no longer
    /// generated are left alone (the folder may be the user's).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (name, text) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
        }
        Ok(())
    }

    /// The files whose copy under `dir` differs from what would be written (missing included).
    pub fn stale_in(&self, dir: &Path) -> Vec<&str> {
        self.files
            .iter()
            .filter(|(name, text)| {
                std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str())
            })
            .map(|(n, _)| n.as_str())
            .collect()
    }
}
