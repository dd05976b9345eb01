//! The Asterisk REST Interface (ARI) spec as Asterisk writes it.
//!
//! - [`swagger`]: serde types for Swagger 1.1/1.2 `resources.json` and API declarations, lenient
//!   about keys (an unknown key is kept, never fatal).
//! - [`load`]: a revision from a folder, a live server (feature `http`) or bytes, checked; errors
//!   name the file, the JSON path and the problem.
//! - [`fixups`]: named corrections of upstream mistakes, each stale-checked against the corpus.
//! - [`corpus`]: the vendored revisions of every release 12.0.0–23.4.1, the release map, and which
//!   releases ship each operation, parameter, model, field and event.
//! - [`diff`]: the API change between two releases (operations, parameters, models, fields,
//!   events), as text or JSON.

pub mod corpus;
pub mod diff;
pub mod fixups;
#[cfg(feature = "http")]
pub mod http;
pub mod load;
pub mod swagger;

pub use corpus::{
    AvailabilityIndex, Corpus, CorpusError, Item, Release, ReleaseEntry, ReleaseRange,
};
pub use load::{DirSource, RawRevision, Revision, Source, SpecError};
