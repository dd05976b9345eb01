//! Fuzzing the spec loader and the generator with mutated real spec files (every revision of the
//! vendored corpus and the generator's fixtures), for a bounded time (see `support/fuzz.rs` for
//! `ARI_FUZZ_SECS`, `ARI_FUZZ_SEED`, `ARI_FUZZ_CASES`).
//!
//! The properties: loading gives a revision or an error that names a file and a problem, never a
//! panic, hang or unbounded memory; generating from whatever loads gives files that parse as Rust,
//! or an error, never a panic. The inputs in `fuzz-regressions/spec/` (each one failed once, or is a
//! hostile shape worth keeping) run on every `cargo test`.

mod support {
    pub mod fuzz;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ari_spec::{Corpus, RawRevision, Release, ReleaseEntry, Revision};
use serde_json::Value;
use support::fuzz::{self, Rng};

/// A base input: one revision's raw files, and the model names in it.
struct Base {
    name: String,
    raw: RawRevision,
    models: Vec<String>,
}

fn read_revision(dir: &Path) -> RawRevision {
    let mut raw = RawRevision::default();
    let listing = std::fs::read(dir.join("resources.json")).expect("resources.json");
    raw.files.insert("resources.json".to_owned(), listing);
    for entry in std::fs::read_dir(dir.join("api-docs")).expect("api-docs") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        raw.files.insert(
            format!("api-docs/{name}"),
            std::fs::read(&path).expect("file"),
        );
    }
    raw
}

fn bases() -> &'static [Base] {
    static B: OnceLock<Vec<Base>> = OnceLock::new();
    B.get_or_init(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut dirs: Vec<PathBuf> = vec![
            fixtures.join("basic/1.0.0"),
            fixtures.join("basic/2.0.0"),
            fixtures.join("adversarial/1.0.0"),
        ];
        let corpus = Corpus::vendored_dir();
        let mut revs: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .expect("corpus folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("resources.json").is_file())
            .collect();
        revs.sort();
        dirs.extend(revs);
        dirs.iter()
            .map(|d| {
                let raw = read_revision(d);
                let models = Revision::parse(&raw)
                    .map(|r| r.models().map(|(_, n, _)| n.to_owned()).collect())
                    .unwrap_or_default();
                Base {
                    name: d.display().to_string(),
                    raw,
                    models,
                }
            })
            .collect()
    })
}

/// A mutated revision, serialized for saving: `{"files": {name: text | {"bytes": [...]}}}`.
struct Input {
    raw: RawRevision,
    saved: Vec<u8>,
}

impl AsRef<[u8]> for Input {
    fn as_ref(&self) -> &[u8] {
        &self.saved
    }
}

fn encode(raw: &RawRevision) -> Vec<u8> {
    let files: serde_json::Map<String, Value> = raw
        .files
        .iter()
        .map(|(k, v)| {
            let v = match std::str::from_utf8(v) {
                Ok(s) => Value::String(s.to_owned()),
                Err(_) => serde_json::json!({ "bytes": v }),
            };
            (k.clone(), v)
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({ "files": files })).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> (RawRevision, Option<String>) {
    let v: Value = serde_json::from_slice(bytes).expect("a regression file is JSON");
    let mut raw = RawRevision::default();
    for (k, f) in v["files"].as_object().expect("`files` is an object") {
        let b = match f {
            Value::String(s) => s.clone().into_bytes(),
            other => other["bytes"]
                .as_array()
                .expect("text or {bytes}")
                .iter()
                .map(|b| b.as_u64().unwrap_or(0) as u8)
                .collect(),
        };
        raw.files.insert(k.clone(), b);
    }
    (raw, v["expect"].as_str().map(str::to_owned))
}

/// One mutated revision: a base, one or two of its files mutated (structurally, mostly, so that
/// the loader's checks and the generator are reached, or byte-wise).
fn mutated(rng: &mut Rng, prefer_small: bool) -> Input {
    let bases = bases();
    let base = if prefer_small && !rng.one_in(8) {
        &bases[rng.below(3)]
    } else {
        rng.pick(bases)
    };
    let mut raw = base.raw.clone();
    let names: Vec<String> = raw.files.keys().cloned().collect();
    // `resources.json` is one file in five of the small fixtures: mutated that often, most cases
    // would stop at the listing.
    let declarations: Vec<String> = names
        .iter()
        .filter(|n| *n != "resources.json")
        .cloned()
        .collect();
    for _ in 0..1 + rng.below(2) {
        let file = if rng.one_in(8) || declarations.is_empty() {
            "resources.json".to_owned()
        } else {
            rng.pick(&declarations).clone()
        };
        let bytes = raw.files.get_mut(&file).expect("file exists");
        if rng.one_in(5) {
            fuzz::mutate_bytes(rng, bytes);
        } else if let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) {
            fuzz::mutate_json(rng, &mut doc, &base.models);
            *bytes = serde_json::to_vec(&doc).unwrap_or_default();
        }
    }
    if rng.one_in(10) {
        // a file the listing names, gone
        let file = rng.pick(&names).clone();
        raw.files.remove(&file);
    }
    let saved = encode(&raw);
    let _ = &base.name;
    Input { raw, saved }
}

/// The loader's property: a revision, or an error naming a file and a problem.
fn check_loader(raw: &RawRevision) -> Result<Revision, String> {
    match Revision::parse(raw) {
        Ok(rev) => Ok(rev),
        Err(e) => {
            assert!(!e.file.is_empty(), "an error names its file: {e:?}");
            assert!(!e.problem.is_empty(), "an error says what is wrong: {e:?}");
            Err(e.to_string())
        }
    }
}

/// The generator's property, on whatever loads: files that parse as Rust, or an error.
fn check_generator(raw: &RawRevision) -> Result<(), String> {
    let mut rev = check_loader(raw)?;
    ari_spec::fixups::apply_all(&mut rev);
    let corpus = Corpus {
        dir: PathBuf::from("fuzz"),
        releases: vec![ReleaseEntry {
            release: Release::new(1, 0, 0),
            revision: "r".to_owned(),
        }],
        revisions: BTreeMap::from([("r".to_owned(), rev)]),
        fixups_applied: BTreeMap::new(),
    };
    match ari_codegen::generate(&corpus) {
        Ok(out) => {
            for (name, text) in &out.files {
                if let Err(e) = syn::parse_file(text) {
                    panic!("generated {name} does not parse: {e}");
                }
            }
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            Err(text)
        }
    }
}

#[test]
fn fuzz_spec_loader() {
    let n = fuzz::run(
        "spec-loader",
        |rng| mutated(rng, false),
        |input| {
            let _ = check_loader(&input.raw);
        },
    );
    assert!(n > 0);
}

#[test]
fn fuzz_generator() {
    let (mut generated, mut refused) = (0, BTreeMap::<String, (usize, String)>::new());
    let n = fuzz::run(
        "generator",
        |rng| mutated(rng, true),
        |input| match check_generator(&input.raw) {
            Ok(()) => generated += 1,
            Err(e) => {
                // the kind of refusal, without the details
                let kind: String = e.split(['`', ':']).next().unwrap_or("").to_owned();
                let entry = refused
                    .entry(kind)
                    .or_insert((0, e.chars().take(300).collect()));
                entry.0 += 1;
            }
        },
    );
    eprintln!("generator: {generated} of {n} cases generated code; refusals by kind:");
    for (kind, (count, example)) in &refused {
        eprintln!("  {count:4}  {kind}: e.g. {example}");
    }
    assert!(n > 0);
}

/// Every file in `fuzz-regressions/spec/` runs through the loader and the generator; its
/// `expect` (when present) is `ok` or a text the error must contain.
#[test]
fn spec_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/spec");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the regression folder exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in &files {
        let (raw, expect) = decode(&std::fs::read(file).expect("readable"));
        let got = check_generator(&raw);
        match (expect.as_deref(), &got) {
            (None, _) | (Some("ok"), Ok(())) => {}
            (Some(want), Err(e)) if want != "ok" && e.contains(want) => {}
            (Some(want), _) => panic!("{}: expected {want:?}, got {got:?}", file.display()),
        }
    }
}
