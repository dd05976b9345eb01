//! Offline: every recorded event frame in `tests/fixtures/events-*.jsonl` decodes to its typed
//! `ari_sdk::Event` variant (never `Unknown`, never an error). Needs no server.
//!
//! The files are written by the conformance suite with `ARI_CAPTURE_EVENTS=1` (see
//! `ari_tests::fixtures`).

use std::collections::BTreeMap;

#[test]
fn every_recorded_frame_decodes_to_its_typed_variant() {
    let dir = ari_tests::fixtures::dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("events-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    for release in ["22.10.1", "16.28.0"] {
        assert!(
            names.contains(&format!("events-{release}.jsonl")),
            "no recorded events of Asterisk {release} in {}: {names:?}",
            dir.display()
        );
    }
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read fixture");
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let where_ = format!("{}:{}", path.display(), n + 1);
            let raw: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{where_}: not JSON: {e}"));
                    continue;
                }
            };
            match ari_tests::check_frame(line) {
                Ok(event) => {
                    let kind = event.type_name().to_owned();
                    assert_eq!(Some(kind.as_str()), raw["type"].as_str(), "{where_}");
                    *kinds.entry(kind).or_insert(0) += 1;
                }
                Err(why) => failures.push(format!("{where_}: {why}")),
            }
        }
        assert!(
            kinds.len() >= 15,
            "{}: only {} event types recorded: {kinds:?}",
            path.display(),
            kinds.len()
        );
        assert!(
            kinds
                .values()
                .all(|n| *n <= ari_tests::fixtures::MAX_PER_TYPE),
            "{}: more than {} frames of a type: {kinds:?}",
            path.display(),
            ari_tests::fixtures::MAX_PER_TYPE
        );
    }
    assert!(
        failures.is_empty(),
        "recorded frames that do not decode to their typed variant:\n  {}",
        failures.join("\n  ")
    );
}

#[test]
fn a_frame_of_an_unknown_type_or_a_wrong_shape_is_reported() {
    let unknown = r#"{"type": "NoSuchEvent", "application": "a"}"#;
    let why = ari_tests::check_frame(unknown).unwrap_err();
    assert!(why.contains("Unknown"), "{why}");
    let wrong = r#"{"type": "StasisStart", "application": 42}"#;
    let why = ari_tests::check_frame(wrong).unwrap_err();
    assert!(why.starts_with("StasisStart"), "{why}");
}
