//! The corpus: every distinct spec revision of the supported releases, the map from release to
//! revision, and which releases ship each operation, parameter, model, field and event.
//!
//! The vendored copy lives in `ari-spec/corpus/` (see its README for provenance and licence).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::fixups::{self, FIXUPS};
use crate::load::{DirSource, RawRevision, Revision, SpecError};

/// An Asterisk release number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// Major line.
    pub major: u16,
    /// Minor release.
    pub minor: u16,
    /// Patch release.
    pub patch: u16,
}

impl Release {
    /// Makes a release number.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Release {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for Release {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let num = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("`{s}` is not a release like 22.10.1"))
        };
        match parts.as_slice() {
            [a, b, c] => Ok(Release::new(num(a)?, num(b)?, num(c)?)),
            _ => Err(format!("`{s}` is not a release like 22.10.1")),
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A run of consecutive corpus releases within one major line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseRange {
    /// First release of the run.
    pub first: Release,
    /// Last release of the run; `None` when the run reaches the newest release of its line in the
    /// corpus (the item is presumed to stay in later releases of that line).
    pub last: Option<Release>,
}

impl fmt::Display for ReleaseRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last {
            None => write!(f, "{}+", self.first),
            Some(l) if l == self.first => write!(f, "{l}"),
            Some(l) => write!(f, "{}\u{2013}{l}", self.first),
        }
    }
}

/// Writes ranges as `20.14.0–20.20.1, 22.4.0+`.
pub fn format_ranges(ranges: &[ReleaseRange]) -> String {
    ranges
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of `releases.tsv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseEntry {
    /// The release.
    pub release: Release,
    /// Name of the revision folder whose files it ships.
    pub revision: String,
}

/// Something whose availability the corpus can tell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// An operation, by resource file and nickname.
    Operation {
        /// Resource file, e.g. `channels`.
        resource: String,
        /// Nickname, e.g. `originate`.
        nickname: String,
    },
    /// A parameter of an operation.
    Parameter {
        /// Resource file.
        resource: String,
        /// Operation nickname.
        nickname: String,
        /// Parameter wire name.
        name: String,
    },
    /// A model, by name.
    Model(String),
    /// A property of a model.
    Field {
        /// Model name.
        model: String,
        /// Property wire name.
        field: String,
    },
    /// An event type (a subtype of `Event`), by name.
    Event(String),
}

impl Item {
    /// An operation.
    pub fn operation(resource: &str, nickname: &str) -> Item {
        Item::Operation {
            resource: resource.into(),
            nickname: nickname.into(),
        }
    }
    /// A parameter.
    pub fn parameter(resource: &str, nickname: &str, name: &str) -> Item {
        Item::Parameter {
            resource: resource.into(),
            nickname: nickname.into(),
            name: name.into(),
        }
    }
    /// A model field.
    pub fn field(model: &str, field: &str) -> Item {
        Item::Field {
            model: model.into(),
            field: field.into(),
        }
    }
}

/// Every item each revision has.
fn items_of(rev: &Revision) -> BTreeSet<Item> {
    let mut out = BTreeSet::new();
    for (res, decl) in &rev.resources {
        for op in decl.apis.iter().flat_map(|a| &a.operations) {
            out.insert(Item::operation(res, &op.nickname));
            for p in &op.parameters {
                out.insert(Item::parameter(res, &op.nickname, &p.name));
            }
        }
        for (name, model) in &decl.models {
            out.insert(Item::Model(name.clone()));
            for (field, _) in &model.properties {
                out.insert(Item::field(name, field));
            }
        }
    }
    for e in rev.event_names() {
        out.insert(Item::Event(e));
    }
    out
}

/// A problem with the corpus as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A revision's files are wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// `releases.tsv` is wrong.
    #[error("{file}:{line}: {problem}")]
    ReleaseMap {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A fix-up matched nothing in any revision: the upstream mistake is gone or moved.
    #[error(
        "fix-up `{name}` ({corrects}) applies to no revision of the corpus: remove or update it"
    )]
    StaleFixup {
        /// Fix-up name.
        name: &'static str,
        /// What it corrects.
        corrects: &'static str,
    },
}

/// The corpus, loaded.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Where it was loaded from.
    pub dir: PathBuf,
    /// Every release, ascending.
    pub releases: Vec<ReleaseEntry>,
    /// Every revision by folder name, fix-ups applied.
    pub revisions: BTreeMap<String, Revision>,
    /// For each revision, the fix-ups that changed something and how many places each.
    pub fixups_applied: BTreeMap<String, Vec<(&'static str, usize)>>,
}

impl Corpus {
    /// The folder of the vendored corpus in this crate.
    pub fn vendored_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
    }

    /// Loads the vendored corpus.
    pub fn vendored() -> Result<Corpus, CorpusError> {
        Corpus::load(Corpus::vendored_dir())
    }

    /// Reads `releases.tsv` from a corpus folder.
    pub fn read_release_map(dir: &Path) -> Result<Vec<ReleaseEntry>, CorpusError> {
        let file = dir.join("releases.tsv");
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| CorpusError::ReleaseMap {
            file: name.clone(),
            line: 0,
            problem: e.to_string(),
        })?;
        let mut releases = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let bad = |problem: String| CorpusError::ReleaseMap {
                file: name.clone(),
                line: i + 1,
                problem,
            };
            if i == 0 {
                if line.trim() != "release\trevision" {
                    return Err(bad(format!(
                        "expected the header `release<TAB>revision`, found `{line}`"
                    )));
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let (rel, rev) = line
                .split_once('\t')
                .ok_or_else(|| bad(format!("expected `release<TAB>revision`, found `{line}`")))?;
            let release: Release = rel.parse().map_err(bad)?;
            releases.push(ReleaseEntry {
                release,
                revision: rev.trim().to_owned(),
            });
        }
        releases.sort_by_key(|e| e.release);
        if let Some(w) = releases.windows(2).find(|w| w[0].release == w[1].release) {
            return Err(CorpusError::ReleaseMap {
                file: name,
                line: 0,
                problem: format!("release {} is listed twice", w[0].release),
            });
        }
        Ok(releases)
    }

    /// Loads a corpus folder: `releases.tsv` and one folder per revision. Every revision must
    /// load and every release must name a present revision. Fix-ups are applied; whether each
    /// applied somewhere is [`Corpus::check_fixups`]'s question.
    pub fn load(dir: impl AsRef<Path>) -> Result<Corpus, CorpusError> {
        let dir = dir.as_ref();
        let releases = Corpus::read_release_map(dir)?;
        let mut revisions = BTreeMap::new();
        let mut fixups_applied = BTreeMap::new();
        let names: BTreeSet<&str> = releases.iter().map(|e| e.revision.as_str()).collect();
        for name in names {
            if !dir.join(name).is_dir() {
                return Err(CorpusError::ReleaseMap {
                    file: dir.join("releases.tsv").display().to_string(),
                    line: 0,
                    problem: format!("revision folder `{name}` does not exist"),
                });
            }
            let (rev, applied) = RawRevision::fetch(&DirSource::new(dir.join(name)))
                .and_then(|raw| fixups::parse_fixed(&raw))
                .map_err(|mut e| {
                    e.file = format!("{name}/{}", e.file);
                    e
                })?;
            fixups_applied.insert(name.to_owned(), applied);
            revisions.insert(name.to_owned(), rev);
        }
        Ok(Corpus {
            dir: dir.to_path_buf(),
            releases,
            revisions,
            fixups_applied,
        })
    }

    /// Fails when a fix-up applies to no revision: the upstream mistake it corrects is gone or
    /// has moved, and the fix-up must be removed or updated. The generator runs this on the
    /// vendored corpus (small fixture corpora need not contain every mistake).
    pub fn check_fixups(&self) -> Result<(), CorpusError> {
        for f in FIXUPS {
            if !self
                .fixups_applied
                .values()
                .flatten()
                .any(|(n, _)| *n == f.name)
            {
                return Err(CorpusError::StaleFixup {
                    name: f.name,
                    corrects: f.corrects,
                });
            }
        }
        Ok(())
    }

    /// The revision a release ships.
    pub fn revision_of(&self, release: Release) -> Option<&Revision> {
        let e = self.releases.iter().find(|e| e.release == release)?;
        self.revisions.get(&e.revision)
    }

    /// The major lines the corpus covers.
    pub fn majors(&self) -> Vec<u16> {
        let mut m: Vec<u16> = self.releases.iter().map(|e| e.release.major).collect();
        m.dedup();
        m
    }

    /// Which releases ship each item.
    pub fn availability(&self) -> AvailabilityIndex {
        let per_revision: BTreeMap<&str, BTreeSet<Item>> = self
            .revisions
            .iter()
            .map(|(n, r)| (n.as_str(), items_of(r)))
            .collect();
        let mut items: BTreeMap<Item, BTreeSet<Release>> = BTreeMap::new();
        for e in &self.releases {
            for item in &per_revision[e.revision.as_str()] {
                items.entry(item.clone()).or_default().insert(e.release);
            }
        }
        AvailabilityIndex {
            releases: self.releases.iter().map(|e| e.release).collect(),
            items,
        }
    }
}

/// Which releases ship each item of the corpus.
#[derive(Clone, Debug)]
pub struct AvailabilityIndex {
    releases: Vec<Release>,
    items: BTreeMap<Item, BTreeSet<Release>>,
}

impl AvailabilityIndex {
    /// Every release of the corpus, ascending.
    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    /// The releases that ship `item` (empty when none does).
    pub fn releases_of(&self, item: &Item) -> BTreeSet<Release> {
        self.items.get(item).cloned().unwrap_or_default()
    }

    /// The releases that ship `item`, as compact ranges.
    pub fn ranges_of(&self, item: &Item) -> Vec<ReleaseRange> {
        self.ranges(&self.releases_of(item))
    }

    /// Every item with its releases.
    pub fn items(&self) -> impl Iterator<Item = (&Item, &BTreeSet<Release>)> {
        self.items.iter()
    }

    /// Compacts a set of releases into runs of consecutive corpus releases within each line.
    pub fn ranges(&self, set: &BTreeSet<Release>) -> Vec<ReleaseRange> {
        let mut out = Vec::new();
        let mut current: Option<(Release, Release)> = None;
        for (i, r) in self.releases.iter().enumerate() {
            let newest_of_line = self.releases.get(i + 1).is_none_or(|n| n.major != r.major);
            if set.contains(r) {
                current = Some(match current {
                    Some((first, _)) => (first, *r),
                    None => (*r, *r),
                });
            } else if let Some((first, last)) = current.take() {
                out.push(ReleaseRange {
                    first,
                    last: Some(last),
                });
            }
            if newest_of_line && let Some((first, _)) = current.take() {
                out.push(ReleaseRange { first, last: None });
            }
        }
        out
    }
}
