//! Request building: an originate with body variables, built, sent and its answer decoded, through
//! the SDK and by hand with `reqwest`, both against the same in-process HTTP stub on loopback.
//!
//! `cargo bench -p ari-bench --bench request`
//!
//! The SDK cannot hand out its `reqwest::Request` without sending it, so both sides do the whole
//! exchange with a server whose work is identical for both ([`ari_bench::stub`]): the
//! difference is the client-side cost. Variants:
//! - `sdk`: `client.channels().originate(..).app(..).channel_id(..).variables(..).send()`,
//!   answer decoded into `ari_sdk::models::Channel`, release gating on (learned once);
//! - `reqwest_value`: the URL, auth header and JSON body written by hand, the answer decoded into
//!   `serde_json::Value` (what a hand-written client does);
//! - `reqwest_typed`: the same, decoded into `ari_sdk::models::Channel`, to separate request-side
//!   overhead from decode;
//! - `reqwest_typed_timeouts`: the same again with the reqwest settings the SDK's client uses
//!   (30 s request timeout, 5 s connect timeout, 60 s idle pool timeout), to separate the cost
//!   of those settings from the SDK's own.
//!
//! Then an interleaved A/B measurement prints the ratios sdk / reqwest_value and
//! sdk / reqwest_typed, and the cost of the SDK's error-path-tracking decode of the answer.

mod common;

use std::hint::black_box;
use std::time::Duration;

use ari_bench::stub::Stub;
use criterion::{Criterion, Throughput, criterion_group};
use reqwest::Url;
use serde_json::json;

const CHANNEL_ID: &str = "0b5f3c0e-4a53-4f6e-9d0e-6f5c1e2d7a10";

struct Fixture {
    rt: tokio::runtime::Runtime,
    sdk: ari_sdk::Client,
    http: reqwest::Client,
    http_timeouts: reqwest::Client,
    base: String,
}

impl Fixture {
    fn new(stub: &Stub) -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sdk = ari_sdk::Client::builder()
            .base_url(stub.base_url())
            .credentials("asterisk", "asterisk")
            .build()
            .expect("client");
        let http = ari_bench::plain_reqwest();
        let http_timeouts = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client");
        let fixture = Fixture {
            rt,
            sdk,
            http,
            http_timeouts,
            base: stub.base_url(),
        };
        // Learn the release (gating) and open the pooled connections before measuring.
        fixture.sdk();
        fixture.by_hand_value();
        fixture.by_hand_timeouts();
        fixture
    }

    fn sdk(&self) {
        let channel = self
            .rt
            .block_on(
                self.sdk
                    .channels()
                    .originate("Local/wait@default")
                    .app("bench")
                    .channel_id(CHANNEL_ID)
                    .variables([("BENCH_A", "1"), ("BENCH_B", "2")])
                    .send(),
            )
            .expect("sdk originate");
        black_box(channel);
    }

    async fn by_hand(&self) -> bytes::Bytes {
        self.by_hand_with(&self.http).await
    }

    async fn by_hand_with(&self, http: &reqwest::Client) -> bytes::Bytes {
        let url = Url::parse_with_params(
            &format!("{}/channels", self.base),
            &[
                ("endpoint", "Local/wait@default"),
                ("app", "bench"),
                ("channelId", CHANNEL_ID),
            ],
        )
        .expect("url");
        let body = serde_json::to_vec(&json!({"variables": {"BENCH_A": "1", "BENCH_B": "2"}}))
            .expect("body");
        let response = http
            .post(url)
            .basic_auth("asterisk", Some("asterisk"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        assert!(response.status().is_success());
        response.bytes().await.expect("body")
    }

    fn by_hand_value(&self) {
        let v: serde_json::Value = self
            .rt
            .block_on(async { serde_json::from_slice(&self.by_hand().await) })
            .expect("json");
        black_box(v);
    }

    fn by_hand_timeouts(&self) {
        let c: ari_sdk::models::Channel = self
            .rt
            .block_on(async {
                serde_json::from_slice(&self.by_hand_with(&self.http_timeouts).await)
            })
            .expect("json");
        black_box(c);
    }

    fn by_hand_typed(&self) {
        let c: ari_sdk::models::Channel = self
            .rt
            .block_on(async { serde_json::from_slice(&self.by_hand().await) })
            .expect("json");
        black_box(c);
    }
}

fn bench_request(c: &mut Criterion) {
    let stub = Stub::start().expect("stub");
    let f = Fixture::new(&stub);
    let mut group = c.benchmark_group("originate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sdk", |b| b.iter(|| f.sdk()));
    group.bench_function("reqwest_value", |b| b.iter(|| f.by_hand_value()));
    group.bench_function("reqwest_typed", |b| b.iter(|| f.by_hand_typed()));
    group.bench_function("reqwest_typed_timeouts", |b| {
        b.iter(|| f.by_hand_timeouts())
    });
    group.finish();
}

fn report() {
    let stub = Stub::start().expect("stub");
    let f = Fixture::new(&stub);
    let v = common::paired(41, 200, || f.sdk(), || f.by_hand_value());
    let t = common::paired(41, 200, || f.sdk(), || f.by_hand_typed());
    let w = common::paired(41, 200, || f.sdk(), || f.by_hand_timeouts());
    let rate = |d: Duration| 1.0 / d.as_secs_f64();
    println!(
        "\noriginate through the stub ({} requests served):",
        stub.requests()
    );
    println!(
        "  sdk            {:>8.1} us  {:>8.0} req/s",
        v.a.as_secs_f64() * 1e6,
        rate(v.a)
    );
    println!(
        "  reqwest_value  {:>8.1} us  {:>8.0} req/s",
        v.b.as_secs_f64() * 1e6,
        rate(v.b)
    );
    println!(
        "  reqwest_typed  {:>8.1} us  {:>8.0} req/s",
        t.b.as_secs_f64() * 1e6,
        rate(t.b)
    );
    println!(
        "  reqwest_typed_timeouts {:>8.1} us  {:>8.0} req/s",
        w.b.as_secs_f64() * 1e6,
        rate(w.b)
    );
    println!(
        "  time sdk / reqwest_value: {:.3}x; sdk / reqwest_typed: {:.3}x; sdk / reqwest_typed_timeouts: {:.3}x",
        v.ratio, t.ratio, w.ratio
    );
    // The answer's decode alone: the SDK decodes through serde_path_to_error.
    let body = ari_bench::stub::CHANNEL_BODY.as_bytes();
    let d = common::paired(
        41,
        2000,
        || {
            let mut de = serde_json::Deserializer::from_slice(body);
            let c: ari_sdk::models::Channel =
                serde_path_to_error::deserialize(&mut de).expect("channel");
            black_box(c);
        },
        || {
            let c: ari_sdk::models::Channel = serde_json::from_slice(body).expect("channel");
            black_box(c);
        },
    );
    println!(
        "  answer decode: with serde_path_to_error {:.2} us, plain {:.2} us ({:.2}x)",
        d.a.as_secs_f64() * 1e6,
        d.b.as_secs_f64() * 1e6,
        d.ratio
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(50);
    targets = bench_request
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
