//! Code generation: regenerating the bindings of every release from the vendored corpus
//! (`ari_spec::Corpus::vendored()` + `ari_codegen::generate`), in release mode, and its split.
//!
//! `cargo bench -p ari-bench --bench codegen`
//!
//! - `all`: corpus load + IR + emit/format, what `cargo xtask codegen` does short of writing;
//! - `corpus_load`: reading and checking the vendored spec files of every release;
//! - `ir`: merging them into the IR;
//! - `emit`: IR to formatted files (tokens, `syn` parse, `prettyplease`);
//! - `format`: the `syn::parse2` + `prettyplease::unparse` part of `emit` alone, on the same
//!   token streams (re-lexed from the output beforehand, outside the measurement).
//!
//! Target: `all` under 2 s. Then a plain median-of-5 report of the split.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group};
use proc_macro2::TokenStream;

fn corpus() -> ari_spec::Corpus {
    ari_spec::Corpus::vendored().expect("vendored corpus")
}

/// Each generated file's tokens, for timing the format step alone.
fn token_streams() -> Vec<TokenStream> {
    let api = ari_codegen::ir::build(&corpus()).expect("ir");
    ari_codegen::emit::emit(&api)
        .expect("emit")
        .values()
        .map(|text| text.parse::<TokenStream>().expect("generated code lexes"))
        .collect()
}

fn format(streams: &[TokenStream]) -> usize {
    streams
        .iter()
        .map(|t| {
            let file: syn::File = syn::parse2(t.clone()).expect("parses");
            prettyplease::unparse(&file).len()
        })
        .sum()
}

fn bench_codegen(c: &mut Criterion) {
    let corpus_once = corpus();
    let api = ari_codegen::ir::build(&corpus_once).expect("ir");
    let streams = token_streams();
    let mut group = c.benchmark_group("codegen");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(12));
    group.bench_function("all", |b| {
        b.iter(|| {
            let out = ari_codegen::generate(&corpus()).expect("generate");
            black_box(out.files.len())
        })
    });
    group.bench_function("corpus_load", |b| b.iter(|| black_box(corpus())));
    group.bench_function("ir", |b| {
        b.iter(|| black_box(ari_codegen::ir::build(&corpus_once).expect("ir")))
    });
    group.bench_function("emit", |b| {
        b.iter(|| black_box(ari_codegen::emit::emit(&api).expect("emit")))
    });
    group.bench_function("format", |b| b.iter(|| black_box(format(&streams))));
    group.finish();
}

fn median_of_5(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

fn report() {
    let c = corpus();
    let api = ari_codegen::ir::build(&c).expect("ir");
    let streams = token_streams();
    let out = ari_codegen::emit::emit(&api).expect("emit");
    let lines: usize = out.values().map(|t| t.lines().count()).sum();
    let bytes: usize = out.values().map(String::len).sum();
    let all = median_of_5(|| {
        black_box(ari_codegen::generate(&corpus()).expect("generate"));
    });
    let load = median_of_5(|| {
        black_box(corpus());
    });
    let ir = median_of_5(|| {
        black_box(ari_codegen::ir::build(&c).expect("ir"));
    });
    let emit = median_of_5(|| {
        black_box(ari_codegen::emit::emit(&api).expect("emit"));
    });
    let fmt = median_of_5(|| {
        black_box(format(&streams));
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\ncodegen, {} releases ({} revisions) -> {} files, {lines} lines, {bytes} bytes (median of 5):",
        c.releases.len(),
        c.revisions.len(),
        out.len()
    );
    println!(
        "  all           {:>8.1} ms  (target < 2000 ms: {})",
        ms(all),
        if all < Duration::from_secs(2) {
            "meets"
        } else {
            "MISSES"
        }
    );
    println!("  corpus load   {:>8.1} ms", ms(load));
    println!("  ir            {:>8.1} ms", ms(ir));
    println!("  emit          {:>8.1} ms", ms(emit));
    println!(
        "    of which format (syn parse2 + prettyplease) {:>8.1} ms",
        ms(fmt)
    );
    println!(
        "    of which tokens (emit - format)             {:>8.1} ms",
        ms(emit.saturating_sub(fmt))
    );
}

criterion_group!(benches, bench_codegen);

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
