//! Shared by the benchmarks: an interleaved A/B timing that yields a ratio measured in one run.
//!
//! Criterion measures one function after the other; on a shared two-core machine a load change
//! between them skews the comparison. [`paired`] alternates short batches of A and B (ABBA
//! order) and takes the median of the per-round ratios, which such drift barely moves.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Result of [`paired`].
#[derive(Debug, Clone, Copy)]
pub struct Paired {
    /// Median time of one A call.
    pub a: Duration,
    /// Median time of one B call.
    pub b: Duration,
    /// Median over rounds of time(A) / time(B).
    pub ratio: f64,
}

/// Times `batch` calls of `a` and of `b`, alternating, for `rounds` rounds.
pub fn paired(rounds: usize, batch: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> Paired {
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        t.elapsed()
    };
    // Warm up both.
    time(&mut a);
    time(&mut b);
    let mut ta = Vec::with_capacity(rounds);
    let mut tb = Vec::with_capacity(rounds);
    let mut ratios = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let (x, y) = if r % 2 == 0 {
            let x = time(&mut a);
            (x, time(&mut b))
        } else {
            let y = time(&mut b);
            (time(&mut a), y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(x.as_secs_f64() / y.as_secs_f64());
    }
    ta.sort();
    tb.sort();
    ratios.sort_by(f64::total_cmp);
    let per_call = |d: Duration| d / batch as u32;
    Paired {
        a: per_call(ta[rounds / 2]),
        b: per_call(tb[rounds / 2]),
        ratio: ratios[rounds / 2],
    }
}
