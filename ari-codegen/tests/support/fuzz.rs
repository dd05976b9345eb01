//! A small mutation fuzzer for the stable toolchain, shared by the fuzz tests of the spec loader,
//! the generator (`ari-codegen/tests/fuzz.rs`) and the event decoder (`ari-sdk/tests/fuzz_decode.rs`).
//!
//! Inputs are real files (the spec corpus, captured event frames), mutated at the JSON level
//! (delete, duplicate, retype, rename to hostile names, wire models into cycles, nest deeply) and
//! at the byte level (flip, insert, truncate, splice). Every case is a pure function of
//! (seed, case number), so a failure is reproduced by its seed alone.
//!
//! - `ARI_FUZZ_SECS`: time budget per target (default 2 s, so plain `cargo test` stays short).
//! - `ARI_FUZZ_CASES`: run exactly this many cases instead (ignores the time budget).
//! - `ARI_FUZZ_SEED`: the seed (default: from the clock; always printed on failure).
//! - `ARI_FUZZ_SAVE`: a folder where a failing input is written (default: the temp folder).
//!
//! A case that panics fails the test with its seed, case number and the saved input; copy the
//! input into the target's `fuzz-regressions` folder to keep it as a regression test.

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// SplitMix64: tiny, fast, and good enough to pick mutations.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one case.
    pub fn new(seed: u64, case: u64) -> Rng {
        let mut r = Rng(seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The fuzzing parameters from the environment.
pub struct Budget {
    pub seed: u64,
    pub secs: Duration,
    pub cases: Option<u64>,
}

impl Budget {
    pub fn from_env() -> Budget {
        let seed = std::env::var("ARI_FUZZ_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        let secs = std::env::var("ARI_FUZZ_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(2));
        let cases = std::env::var("ARI_FUZZ_CASES")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Budget { seed, secs, cases }
    }
}

/// Runs `case` for each case number until the budget is spent; `case` builds its input from the
/// generator and returns it (for saving) together with the check to run on it. A panic in the
/// check fails the test with everything needed to reproduce it. Returns the number of cases run.
pub fn run<I: AsRef<[u8]>>(
    target: &str,
    mut make: impl FnMut(&mut Rng) -> I,
    mut check: impl FnMut(&I),
) -> u64 {
    let budget = Budget::from_env();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        match budget.cases {
            Some(c) if n >= c => break,
            None if n > 0 && start.elapsed() >= budget.secs => break,
            _ => {}
        }
        let mut rng = Rng::new(budget.seed, n);
        let input = make(&mut rng);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
            let dir = std::env::var_os("ARI_FUZZ_SAVE")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let file = dir.join(format!("ari-fuzz-{target}-{}-{n}.bin", budget.seed));
            let saved = std::fs::write(&file, input.as_ref())
                .map(|_| file.display().to_string())
                .unwrap_or_else(|e| format!("(not saved: {e})"));
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "fuzz target `{target}` panicked on case {n}: {what}\n\
                 reproduce with ARI_FUZZ_SEED={} ARI_FUZZ_CASES={}; input saved at {saved}",
                budget.seed,
                n + 1
            );
        }
        n += 1;
    }
    eprintln!(
        "fuzz target `{target}`: {n} cases, seed {} (ARI_FUZZ_SEED), {:.1} s",
        budget.seed,
        start.elapsed().as_secs_f64()
    );
    n
}

/// Strings that break naive code: empty, keywords, digits first, separators, traversal, NUL,
/// deep `List[`, huge, non-ASCII, names the generated code itself uses.
pub fn hostile_string(rng: &mut Rng, names: &[String]) -> String {
    const FIXED: &[&str] = &[
        "",
        " ",
        "_",
        "type",
        "self",
        "Self",
        "super",
        "crate",
        "move",
        "r#type",
        "9lives",
        "0",
        "a-b",
        "a.b",
        "größe",
        "日本",
        "#",
        "*",
        "Unknown",
        "Err",
        "String",
        "Option",
        "Event",
        "EventKind",
        "client",
        "send",
        "new",
        "id",
        "List[",
        "List[]",
        "List[List[string]]",
        "List[List[List[List[List[List[List[List[List[List[int]]]]]]]]]]",
        "../../../etc/passwd",
        "/etc/passwd",
        "C:\\Windows\\win.ini",
        "c:x",
        "..\\..\\x",
        "\u{0}",
        "a\u{0}b",
        "/api-docs/../x.json",
        "/api-docs/x.{format}",
        "{format}",
        "string",
        "int",
        "void",
        "binary",
        "object",
        "containers",
        "Date",
        "LIST",
        "RANGE",
        "path",
        "query",
        "body",
        "GET",
        "PATCH",
    ];
    match rng.below(6) {
        0 if !names.is_empty() => rng.pick(names).clone(),
        1 if !names.is_empty() => format!("List[{}]", rng.pick(names)),
        2 => {
            let depth = 1 + rng.below(4000);
            format!("{}string{}", "List[".repeat(depth), "]".repeat(depth))
        }
        3 => "x".repeat(1 + rng.below(100_000)),
        _ => rng.pick(FIXED).to_string(),
    }
}

/// A random scalar or small container.
fn hostile_value(rng: &mut Rng, names: &[String]) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::from(rng.next() as i64),
        3 => Value::from(-1),
        4 => serde_json::Number::from_f64(1e308).map_or(Value::Null, Value::Number),
        5 => Value::Array(vec![]),
        6 => Value::Object(Map::new()),
        7 => Value::Array(vec![Value::String(hostile_string(rng, names))]),
        _ => Value::String(hostile_string(rng, names)),
    }
}

/// Every path (as indices/keys) to a node of `v`, breadth first, at most `limit` of them.
fn node_paths(v: &Value, limit: usize) -> Vec<Vec<PathStep>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < out.len() && out.len() < limit {
        let path = out[i].clone();
        if let Some(node) = get(v, &path) {
            match node {
                Value::Object(m) => {
                    for k in m.keys() {
                        let mut p = path.clone();
                        p.push(PathStep::Key(k.clone()));
                        out.push(p);
                    }
                }
                Value::Array(a) => {
                    for j in 0..a.len() {
                        let mut p = path.clone();
                        p.push(PathStep::Index(j));
                        out.push(p);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn get<'a>(v: &'a Value, path: &[PathStep]) -> Option<&'a Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (PathStep::Key(k), Value::Object(m)) => m.get(k)?,
            (PathStep::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (PathStep::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (PathStep::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Applies one to a few random structural mutations to a JSON document. `names` are names worth
/// using (the spec's model names), so that mutations make references, cycles and collisions.
pub fn mutate_json(rng: &mut Rng, doc: &mut Value, names: &[String]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let paths = node_paths(doc, 20_000);
        let path: Vec<PathStep> = rng.pick(paths.as_slice()).clone();
        let donor_path: &Vec<PathStep> = rng.pick(paths.as_slice());
        let donor = get(doc, donor_path).cloned();
        let Some(node) = get_mut(doc, &path) else {
            continue;
        };
        match rng.below(12) {
            // replace the node: a string by a hostile string mostly (keeps the file's shape, so
            // that the checks behind the parser are reached), anything by anything sometimes
            0 | 1 => {
                *node = if node.is_string() && !rng.one_in(4) {
                    Value::String(hostile_string(rng, names))
                } else {
                    hostile_value(rng, names)
                }
            }
            // delete a member
            2 => match node {
                Value::Object(m) if !m.is_empty() => {
                    let k = m
                        .keys()
                        .nth(rng.below(m.len()))
                        .cloned()
                        .unwrap_or_default();
                    m.remove(&k);
                }
                Value::Array(a) if !a.is_empty() => {
                    a.remove(rng.below(a.len()));
                }
                _ => *node = Value::Null,
            },
            // rename a key to a hostile name
            3 | 4 => {
                if let Value::Object(m) = node
                    && !m.is_empty()
                {
                    let k = m
                        .keys()
                        .nth(rng.below(m.len()))
                        .cloned()
                        .unwrap_or_default();
                    if let Some(v) = m.remove(&k) {
                        m.insert(hostile_string(rng, names), v);
                    }
                }
            }
            // duplicate an element or copy another subtree in
            5 => match node {
                Value::Array(a) if !a.is_empty() => {
                    let e = a[rng.below(a.len())].clone();
                    a.push(e);
                }
                Value::Object(m) => {
                    if let Some(d) = donor {
                        m.insert(hostile_string(rng, names), d);
                    }
                }
                _ => {}
            },
            6 => {
                if let Some(d) = donor {
                    *node = d;
                }
            }
            // a type or subtype pointing at a model: references, self-containment, cycles
            7 | 8 => {
                if let Value::Object(m) = node {
                    if !names.is_empty() {
                        let target = rng.pick(names).clone();
                        let key = *rng.pick(&["type", "dataType", "responseClass", "extends"]);
                        let t = if rng.one_in(3) {
                            format!("List[{target}]")
                        } else {
                            target.clone()
                        };
                        m.insert(key.to_owned(), Value::String(t));
                        if rng.one_in(2) {
                            let subs = m.entry("subTypes").or_insert_with(|| Value::Array(vec![]));
                            if let Value::Array(a) = subs {
                                a.push(Value::String(rng.pick(names).clone()));
                            }
                        }
                    }
                } else {
                    *node = Value::String(hostile_string(rng, names));
                }
            }
            // nest deeply
            9 => {
                let depth = 1 + rng.below(300);
                let mut v = std::mem::take(node);
                for _ in 0..depth {
                    v = if rng.one_in(2) {
                        Value::Array(vec![v])
                    } else {
                        let mut m = Map::new();
                        m.insert("x".to_owned(), v);
                        Value::Object(m)
                    };
                }
                *node = v;
            }
            // many members
            10 => {
                if let Value::Object(m) = node {
                    let n = rng.below(2000);
                    let proto = m.values().next().cloned().unwrap_or(Value::Null);
                    for i in 0..n {
                        m.insert(format!("k{i}"), proto.clone());
                    }
                }
            }
            _ => *node = Value::String(hostile_string(rng, names)),
        }
    }
}

/// Applies a few byte-level mutations.
pub fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = bytes.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                let b = *rng.pick(b"{}[]\",:\\0 \xff\xc3u");
                bytes.insert(i, b);
            }
            2 if len > 0 => bytes.truncate(rng.below(len)),
            3 if len > 1 => {
                let a = rng.below(len);
                let b = a + rng.below(len - a);
                let slice = bytes[a..b].to_vec();
                let at = rng.below(bytes.len() + 1);
                bytes.splice(at..at, slice);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                bytes.remove(i);
            }
            _ => {
                let i = rng.below(len + 1);
                let s = *rng.pick(&[&b"\\u0000"[..], b"1e999", b"-0", b"null", b"\"\\ud800\""]);
                bytes.splice(i..i, s.iter().copied());
            }
        }
    }
}
