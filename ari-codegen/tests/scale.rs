//! Size: thousands of models and properties load and generate with work that grows linearly.
//! The work is counted, not timed: allocations, reallocations and bytes allocated (a counting
//! allocator, `stats_alloc`), and the lines generated, for a spec of N and of 4N models. A
//! quadratic step anywhere that allocates per comparison or per pair shows as a ratio near 16
//! instead of 4.
//!
//! Alone in its test binary (one test), so that nothing else allocates while it counts.

use std::alloc::System;
use std::collections::BTreeMap;
use std::path::PathBuf;

use ari_spec::{Corpus, RawRevision, Release, ReleaseEntry, Revision};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A revision with `n` models of 4 properties each (a reference to the next model, so all of
/// them form one cycle that must be boxed; a list of another; a LIST enum; an int), `n / 10`
/// events and `n / 10` operations of 3 parameters.
fn spec(n: usize) -> RawRevision {
    let mut models = serde_json::Map::new();
    for i in 0..n {
        models.insert(
            format!("M{i}"),
            json!({"id": format!("M{i}"), "description": format!("Model {i}."), "properties": {
                "next": {"type": format!("M{}", (i + 1) % n), "required": true},
                "items": {"type": format!("List[M{}]", i / 2)},
                "state": {"type": "string", "allowableValues": {"valueType": "LIST", "values": ["up", "down", format!("s{i}")]}},
                "count": {"type": "int", "required": true},
            }}),
        );
    }
    let events: Vec<String> = (0..n / 10).map(|i| format!("E{i}")).collect();
    models.insert(
        "Message".into(),
        json!({"id": "Message", "discriminator": "type",
        "properties": {"type": {"type": "string", "required": true}}, "subTypes": ["Event"]}),
    );
    models.insert(
        "Event".into(),
        json!({"id": "Event",
        "properties": {"application": {"type": "string", "required": true}}, "subTypes": events}),
    );
    for (i, e) in events.iter().enumerate() {
        models.insert(
            e.clone(),
            json!({"id": e, "properties": {"m": {"type": format!("M{i}")}}}),
        );
    }
    let apis: Vec<Value> = (0..n / 10)
        .map(|i| {
            json!({"path": format!("/big/{i}/{{id}}"), "operations": [{
            "httpMethod": "POST", "nickname": format!("op{i}"), "responseClass": format!("M{i}"),
            "parameters": [
                {"name": "id", "paramType": "path", "dataType": "string", "required": true},
                {"name": "mode", "paramType": "query", "dataType": "string",
                 "allowableValues": {"valueType": "LIST", "values": ["a", "b"]}},
                {"name": "count", "paramType": "query", "dataType": "int",
                 "allowableValues": {"valueType": "RANGE", "min": 0, "max": 10}},
            ]}]})
        })
        .collect();
    let decl = json!({"apiVersion": "1", "swaggerVersion": "1.2", "basePath": "x",
        "resourcePath": "r", "apis": apis, "models": models});
    let listing = json!({"apiVersion": "1", "swaggerVersion": "1.1", "basePath": "x",
        "apis": [{"path": "/api-docs/big.{format}"}]});
    let mut raw = RawRevision::default();
    raw.files
        .insert("resources.json".into(), listing.to_string().into());
    raw.files
        .insert("api-docs/big.json".into(), decl.to_string().into());
    raw
}

#[derive(Debug, Clone, Copy)]
struct Work {
    allocs: usize,
    bytes: usize,
    lines: usize,
}

/// Loads and generates a spec of `n` models; the work it took.
fn work(n: usize) -> Work {
    let raw = spec(n);
    let region = Region::new(GLOBAL);
    let rev = Revision::parse(&raw).expect("loads");
    assert_eq!(rev.models().count(), n + 2 + n / 10);
    let corpus = Corpus {
        dir: PathBuf::from("scale"),
        releases: vec![ReleaseEntry {
            release: Release::new(1, 0, 0),
            revision: "r".into(),
        }],
        revisions: BTreeMap::from([("r".to_owned(), rev)]),
        fixups_applied: BTreeMap::new(),
    };
    let out = ari_codegen::generate(&corpus).expect("generates");
    let fields: usize = out.api.models.values().map(|m| m.fields.len()).sum();
    assert_eq!(fields, 4 * n);
    assert!(
        out.api
            .models
            .values()
            .all(|m| m.fields.iter().all(|f| f.boxed == (f.wire == "next"))),
        "the ring of models is boxed"
    );
    let lines = out.files.values().map(|f| f.lines().count()).sum();
    drop(out);
    drop(corpus);
    let stats = region.change();
    Work {
        allocs: stats.allocations + stats.reallocations,
        bytes: stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize,
        lines,
    }
}

/// The large size: `ARI_SCALE_N` (CI: 5000, i.e. 5,000 models, 20,000 properties, 500 events and
/// 500 operations; about 100 s in a debug build on two cores), 2000 by default so that plain
/// `cargo test` stays quick. The small size is a quarter of it.
fn large_n() -> usize {
    std::env::var("ARI_SCALE_N")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2000)
        .max(40)
}

#[test]
fn thousands_of_models_cost_linear_work() {
    let n = large_n();
    let small = work(n / 4);
    let large = work(n / 4 * 4);
    let ratio = |a: f64, b: f64| b / a;
    let r_allocs = ratio(small.allocs as f64, large.allocs as f64);
    let r_bytes = ratio(small.bytes as f64, large.bytes as f64);
    let r_lines = ratio(small.lines as f64, large.lines as f64);
    eprintln!(
        "n={}: {small:?}\nn={}: {large:?}\nratios (4x the input): allocations {r_allocs:.2}, bytes {r_bytes:.2}, generated lines {r_lines:.2}",
        n / 4,
        n / 4 * 4
    );
    // Linear is 4; n log n with BTreeMaps a little more; quadratic would be 16.
    for (what, r) in [
        ("allocations", r_allocs),
        ("bytes allocated", r_bytes),
        ("generated lines", r_lines),
    ] {
        assert!(r < 5.0, "{what} grew {r:.2}x for 4x the input");
    }
}
