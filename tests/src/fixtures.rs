//! Recorded event frames: `tests/fixtures/events-<release>.jsonl`, one raw frame per line.
//!
//! With `ARI_CAPTURE_EVENTS=1`, every frame a harness receives is offered to [`record`], which
//! keeps a bounded, representative set: the first [`ALWAYS_KEEP`] frames of each event type,
//! then only frames whose shape (the set of JSON key paths) is new for the type, up to
//! [`MAX_PER_TYPE`] per type, counting what the file already holds. [`flush`] appends the kept
//! frames to the file. The offline test `tests/tests/fixtures.rs` decodes every line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use ari_sdk::Release;

/// Frames of one type always kept (while under [`MAX_PER_TYPE`]).
pub const ALWAYS_KEEP: usize = 5;

/// Most frames of one type in one file.
pub const MAX_PER_TYPE: usize = 20;

/// The folder of the fixture files.
pub fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

/// The fixture file of a release.
pub fn path(release: Release) -> PathBuf {
    dir().join(format!("events-{release}.jsonl"))
}

/// Whether `ARI_CAPTURE_EVENTS=1` asks for frames to be recorded.
pub fn capture_enabled() -> bool {
    std::env::var("ARI_CAPTURE_EVENTS").is_ok_and(|v| v == "1")
}

#[derive(Default)]
struct File {
    counts: BTreeMap<String, usize>,
    shapes: BTreeSet<(String, Vec<String>)>,
    new_lines: Vec<String>,
}

static FILES: Mutex<BTreeMap<Release, File>> = Mutex::new(BTreeMap::new());

/// The set of key paths of a JSON value (`channel.caller.name`, `args[]`), its shape.
pub fn shape(value: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(p.clone());
                    walk(v, &p, out);
                }
            }
            serde_json::Value::Array(a) => {
                for v in a {
                    walk(v, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out.into_iter().collect()
}

fn load(release: Release) -> File {
    let mut file = File::default();
    if let Ok(text) = std::fs::read_to_string(path(release)) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                let kind = v
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_owned();
                *file.counts.entry(kind.clone()).or_insert(0) += 1;
                file.shapes.insert((kind, shape(&v)));
            }
        }
    }
    file
}

/// Offers a raw frame received from a server of `release` (kept only when capturing).
pub fn record(_major: u16, release: Release, frame: &str) {
    if !capture_enabled() {
        return;
    }
    let Ok(raw) = serde_json::from_str::<serde_json::Value>(frame) else {
        return;
    };
    let raw = &raw;
    let kind = raw
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_owned();
    let mut files = FILES.lock().unwrap();
    let file = files.entry(release).or_insert_with(|| load(release));
    let count = file.counts.get(&kind).copied().unwrap_or(0);
    if count >= MAX_PER_TYPE {
        return;
    }
    let new_shape = file.shapes.insert((kind.clone(), shape(raw)));
    if count < ALWAYS_KEEP || new_shape {
        *file.counts.entry(kind).or_insert(0) += 1;
        file.new_lines.push(frame.to_owned());
    }
}

/// Appends the frames kept so far to their files.
pub fn flush() {
    let mut files = FILES.lock().unwrap();
    for (release, file) in files.iter_mut() {
        if file.new_lines.is_empty() {
            continue;
        }
        let path = path(*release);
        let _ = std::fs::create_dir_all(dir());
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut text = file.new_lines.join("\n");
        text.push('\n');
        out.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        file.new_lines.clear();
    }
}
