//! The recorded-event corpus the decode benchmark reads: one raw ARI event (a WebSocket text
//! frame exactly as Asterisk sent it) per line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One corpus file's events.
#[derive(Debug)]
pub struct EventFile {
    /// Where the events came from.
    pub path: PathBuf,
    /// Each event's raw bytes, in recorded order.
    pub events: Vec<Vec<u8>>,
}

impl EventFile {
    /// Total bytes of all events.
    pub fn bytes(&self) -> usize {
        self.events.iter().map(Vec::len).sum()
    }
}

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The corpus files: this crate's own capture (`bench/benches/data/events-*.jsonl`, thousands
/// of events from the load tool's capture scenario) and the workspace's recorded fixtures
/// (`tests/fixtures/events-*.jsonl`, fewer events of more types), whichever exist.
/// `ARI_BENCH_EVENTS` (a path list separated by `:`) overrides both.
pub fn candidate_files() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("ARI_BENCH_EVENTS") {
        return std::env::split_paths(&list).collect();
    }
    let root = workspace_root();
    let mut found = Vec::new();
    for dir in [root.join("bench/benches/data"), root.join("tests/fixtures")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("events-") && n.ends_with(".jsonl"))
            })
            .collect();
        files.sort();
        found.extend(files);
    }
    found
}

/// Reads one corpus file; blank lines are skipped.
pub fn read(path: &Path) -> anyhow::Result<EventFile> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let events: Vec<Vec<u8>> = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect();
    if events.is_empty() {
        bail!("{} holds no event", path.display());
    }
    Ok(EventFile {
        path: path.to_path_buf(),
        events,
    })
}

/// Reads every corpus file [`candidate_files`] finds.
pub fn load_all() -> anyhow::Result<Vec<EventFile>> {
    let files = candidate_files();
    if files.is_empty() {
        bail!(
            "no recorded events: expected tests/fixtures/events-*.jsonl or bench/benches/data/events-*.jsonl \
             (capture some with `cargo run --release -p ari-bench --bin load -- --capture ...`)"
        );
    }
    files.iter().map(|p| read(p)).collect()
}

/// How many events of each `type` a file holds, most frequent first.
pub fn type_histogram(events: &[Vec<u8>]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for raw in events {
        #[derive(serde::Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: String,
        }
        let kind = serde_json::from_slice::<Tag>(raw)
            .map(|t| t.kind)
            .unwrap_or_else(|_| "<no type>".to_owned());
        *counts.entry(kind).or_default() += 1;
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

/// Whether `type` is the object's first key (the SDK's one-pass decode path; otherwise it buffers
/// the event first).
pub fn type_first(raw: &[u8]) -> bool {
    let trimmed = raw.trim_ascii_start();
    trimmed
        .strip_prefix(b"{")
        .map(|rest| rest.trim_ascii_start().starts_with(b"\"type\""))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_first_looks_at_the_first_key_only() {
        assert!(type_first(br#"{"type":"StasisStart","x":1}"#));
        assert!(type_first(br#" { "type" : "X"}"#));
        assert!(!type_first(br#"{"variable":"A","type":"ChannelVarset"}"#));
        assert!(!type_first(br#"[{"type":"X"}]"#));
    }

    #[test]
    fn histogram_counts_types() {
        let events = vec![
            br#"{"type":"A"}"#.to_vec(),
            br#"{"type":"B"}"#.to_vec(),
            br#"{"x":1,"type":"A"}"#.to_vec(),
            b"[]".to_vec(),
        ];
        assert_eq!(
            type_histogram(&events),
            [
                ("A".to_owned(), 2),
                ("<no type>".to_owned(), 1),
                ("B".to_owned(), 1)
            ]
        );
    }
}
