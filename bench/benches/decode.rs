//! Event decode: recorded ARI events decoded into [`ari_sdk::Event`] and the same bytes into
//! `serde_json::Value`, in one run.
//!
//! `cargo bench -p ari-bench --bench decode`
//!
//! Three ways per corpus file, criterion throughput in bytes:
//! - `typed`: `serde_json::from_slice::<ari_sdk::Event>`;
//! - `typed_tracked`: the same through `serde_path_to_error` (so that an error names the field),
//!   as the SDK's `EventStream` decoded every frame before f3621cc; it now does so only for a
//!   frame that failed the plain decode;
//! - `value`: `serde_json::from_slice::<serde_json::Value>`;
//! - `typed_stream` and `value_str`: the same from text, as the events stream decodes each
//!   frame (`ari_sdk::decode::event_frame`) and as a hand-written client would (`from_str`).
//!
//! Then an interleaved A/B measurement prints events/s, MB/s and the typed / value throughput
//! ratio (target: typed >= 1.5x value), overall and per event type.

mod common;

use std::hint::black_box;
use std::time::Duration;

use ari_bench::corpus::{self, EventFile};
use criterion::{Criterion, Throughput, criterion_group};

fn typed(events: &[Vec<u8>]) {
    for raw in events {
        let e: ari_sdk::Event = serde_json::from_slice(raw).expect("corpus event decodes");
        black_box(e);
    }
}

fn typed_tracked(events: &[Vec<u8>]) {
    for raw in events {
        let mut de = serde_json::Deserializer::from_slice(raw);
        let e: ari_sdk::Event =
            serde_path_to_error::deserialize(&mut de).expect("corpus event decodes");
        de.end().expect("one event per frame");
        black_box(e);
    }
}

/// What the events stream does with each text frame since 238f075:
/// [`ari_sdk::decode::event_frame`] (a late `type` moved to the front, then one pass).
fn typed_stream(texts: &[String]) {
    for text in texts {
        let e: ari_sdk::Event = ari_sdk::decode::event_frame(text).expect("corpus event decodes");
        black_box(e);
    }
}

/// `Value` from the same text, as a hand-written client decodes WebSocket text frames.
fn value_str(texts: &[String]) {
    for text in texts {
        let v: serde_json::Value = serde_json::from_str(text).expect("corpus event is JSON");
        black_box(v);
    }
}

fn texts(events: &[Vec<u8>]) -> Vec<String> {
    events
        .iter()
        .map(|raw| String::from_utf8(raw.clone()).expect("corpus events are UTF-8"))
        .collect()
}

fn value(events: &[Vec<u8>]) {
    for raw in events {
        let v: serde_json::Value = serde_json::from_slice(raw).expect("corpus event is JSON");
        black_box(v);
    }
}

/// `capture-22.10.1` for this crate's corpus, `fixtures-22.10.1` for the workspace's recordings.
fn label(file: &EventFile) -> String {
    let stem = file
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("events");
    let release = stem.strip_prefix("events-").unwrap_or(stem);
    let origin = match file
        .path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
    {
        Some("data") => "capture",
        Some("fixtures") => "fixtures",
        Some(other) => other,
        None => "events",
    };
    format!("{origin}-{release}")
}

/// The corpus files, each without the events the SDK cannot decode (reported, not measured: a
/// failure is a bug to report, not a number).
fn load() -> Vec<EventFile> {
    let mut files = corpus::load_all().expect("recorded events");
    for f in &mut files {
        let before = f.events.len();
        let mut failures = Vec::new();
        f.events
            .retain(|raw| match serde_json::from_slice::<ari_sdk::Event>(raw) {
                Ok(_) => true,
                Err(e) => {
                    if failures.len() < 3 {
                        failures.push(e.to_string());
                    }
                    false
                }
            });
        if f.events.len() < before {
            eprintln!(
                "{}: {} of {before} events do not decode and are left out, e.g. {failures:?}",
                f.path.display(),
                before - f.events.len()
            );
        }
    }
    files.retain(|f| !f.events.is_empty());
    files
}

fn bench_decode(c: &mut Criterion) {
    for file in load() {
        let mut group = c.benchmark_group(format!("decode/{}", label(&file)));
        group.throughput(Throughput::Bytes(file.bytes() as u64));
        group.bench_function("typed", |b| b.iter(|| typed(&file.events)));
        group.bench_function("typed_tracked", |b| b.iter(|| typed_tracked(&file.events)));
        group.bench_function("value", |b| b.iter(|| value(&file.events)));
        let text = texts(&file.events);
        group.bench_function("typed_stream", |b| b.iter(|| typed_stream(&text)));
        group.bench_function("value_str", |b| b.iter(|| value_str(&text)));
        group.finish();
    }
}

/// The A/B figures: events/s, MB/s and ratios, overall and per type.
fn report() {
    for file in load() {
        let n = file.events.len() as f64;
        let bytes = file.bytes() as f64;
        let kinds = corpus::type_histogram(&file.events);
        let first = file.events.iter().filter(|r| corpus::type_first(r)).count();
        println!(
            "\n{}: {} events, {} bytes ({:.0} B/event), {} types, `type` first in {:.0}%",
            file.path.display(),
            file.events.len(),
            file.bytes(),
            bytes / n,
            kinds.len(),
            100.0 * first as f64 / n
        );
        let rounds = 31;
        let p = common::paired(rounds, 3, || typed(&file.events), || value(&file.events));
        let s = common::paired(
            rounds,
            3,
            || typed_tracked(&file.events),
            || value(&file.events),
        );
        let show = |name: &str, t: Duration| {
            let secs = t.as_secs_f64();
            println!(
                "  {name:<13} {:>10.0} events/s {:>8.1} MB/s",
                n / secs,
                bytes / secs / 1e6
            );
        };
        let text = texts(&file.events);
        let f = common::paired(rounds, 3, || typed_stream(&text), || value_str(&text));
        show("typed", p.a);
        show("typed_tracked", s.a);
        show("value", p.b);
        show("typed_stream", f.a);
        show("value_str", f.b);
        println!(
            "  typed / value throughput: {:.2}x (target >= 1.5x); typed_tracked / value: {:.2}x",
            1.0 / p.ratio,
            1.0 / s.ratio
        );
        println!(
            "  as the events stream decodes text frames: typed_stream / value_str: {:.2}x",
            1.0 / f.ratio
        );
        println!("  per type (>= 20 events), typed / value throughput (`type` first: share):");
        for (kind, count) in kinds.iter().filter(|(_, c)| *c >= 20) {
            let of_kind: Vec<Vec<u8>> = file
                .events
                .iter()
                .filter(|raw| {
                    serde_json::from_slice::<ari_sdk::Event>(raw)
                        .is_ok_and(|e| e.kind().as_str() == kind.as_str())
                })
                .cloned()
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            let avg = of_kind.iter().map(Vec::len).sum::<usize>() / of_kind.len();
            let first = of_kind.iter().filter(|r| corpus::type_first(r)).count();
            let batch = (2000 / of_kind.len()).max(1);
            let r = common::paired(15, batch, || typed(&of_kind), || value(&of_kind));
            println!(
                "    {kind:<28} {count:>6} x {avg:>5} B  {:.2}x  (type first: {:.0}%)",
                1.0 / r.ratio,
                100.0 * first as f64 / of_kind.len() as f64
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    targets = bench_decode
}

fn main() {
    // The interleaved report runs under `cargo bench` only: not under `cargo test --benches`
    // (no `--bench`), nor when profiling one function (`--profile-time`).
    benches();
    Criterion::default().configure_from_args().final_summary();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        report();
    }
}
