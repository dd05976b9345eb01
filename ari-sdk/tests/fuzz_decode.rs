//! Fuzzing the event decoder with mutated real frames (captured from Asterisk 22.10.1 and
//! 16.28.0, and the bench corpus), for a bounded time (see
//! `ari-codegen/tests/support/fuzz.rs` for `ARI_FUZZ_SECS`, `ARI_FUZZ_SEED`, `ARI_FUZZ_CASES`).
//!
//! The property: decoding any bytes as an [`ari_sdk::Event`] gives an event or an error, never a
//! panic; an event that decodes serializes and decodes again. The frames in
//! `fuzz-regressions/events/` run on every `cargo test`.

#[path = "../../ari-codegen/tests/support/fuzz.rs"]
mod fuzz;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ari_sdk::Event;
use fuzz::Rng;

fn frames() -> &'static [Vec<u8>] {
    static F: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        for file in [
            "tests/fixtures/events-22.10.1.jsonl",
            "tests/fixtures/events-16.28.0.jsonl",
            "bench/benches/data/events-22.10.1.jsonl",
        ] {
            let text = std::fs::read(root.join(file)).unwrap_or_default();
            out.extend(
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        assert!(out.len() > 100, "the captured frames are there");
        out
    })
}

/// Every type name the frames carry, for mutations that swap one event's `type` for another's.
fn type_names() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let mut names: Vec<String> = frames()
            .iter()
            .filter_map(|f| serde_json::from_slice::<serde_json::Value>(f).ok())
            .filter_map(|v| v["type"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    })
}

fn mutated(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = rng.pick(frames()).clone();
    if rng.one_in(3) {
        fuzz::mutate_bytes(rng, &mut bytes);
    } else if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        if rng.one_in(3) {
            // another event's type on this one's fields: every field of the wrong shape
            v["type"] = serde_json::Value::String(rng.pick(type_names()).clone());
        }
        fuzz::mutate_json(rng, &mut v, type_names());
        bytes = serde_json::to_vec(&v).unwrap_or_default();
    }
    bytes
}

/// The decoder's property, through the same entry points the events stream uses (a `&str` and a
/// byte slice) and with a JSON path on failure.
fn check(bytes: &[u8]) {
    let from_slice = serde_json::from_slice::<Event>(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let from_str = serde_json::from_str::<Event>(text);
        assert_eq!(
            from_str.is_ok(),
            from_slice.is_ok(),
            "str and slice agree on {text}"
        );
        // A failure names a path and an excerpt, whatever the input.
        let generic = ari_sdk::decode::json::<Event>(text);
        if let Err(e) = &generic {
            assert!(e.json_path().is_some_and(|p| !p.is_empty()), "{e}");
        }
        // The events stream's own decoder (type first, one pass) agrees with `Deserialize`.
        let stream = ari_sdk::decode::event_frame::<Event>(text);
        match (&stream, &generic) {
            (Ok(a), Ok(b)) => assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::to_value(b).unwrap(),
                "the same event from {text}"
            ),
            // Both fail; which failure each meets first may differ when `type` comes late:
            // `Deserialize` reads the members before it as whole values (so a value nested too
            // deep, or a member's key, is what it reports), the stream's decoder reads them in
            // place. The stream's error names a path too.
            (Err(a), Err(_)) => assert!(a.json_path().is_some_and(|p| !p.is_empty()), "{a}"),
            // `Deserialize` buffers the members before a late `type` as `Value`s, which refuse
            // nesting past serde_json's recursion limit even where the event ignores the member.
            (Ok(_), Err(b)) if b.to_string().contains("recursion limit exceeded") => {}
            _ => panic!(
                "the stream's decoder and Deserialize disagree on {}: {stream:?} / {generic:?}",
                text.chars().take(300).collect::<String>()
            ),
        }
    }
    match from_slice {
        Ok(event) => {
            let _ = (event.kind(), event.type_name(), event.application());
            event.visit_resources(|_| {});
            let again = serde_json::to_vec(&event).expect("a decoded event serializes");
            serde_json::from_slice::<Event>(&again).expect("and decodes again");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

#[test]
fn fuzz_event_decoder() {
    let n = fuzz::run("event-decoder", mutated, |bytes| check(bytes));
    assert!(n > 0);
}

/// Every frame in `fuzz-regressions/events/`.
#[test]
fn event_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the regression folder exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        check(&std::fs::read(&file).expect("readable"));
    }
}
