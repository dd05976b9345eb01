//! Benchmarks of `ari-sdk` against hand-written baselines.
//!
//! - `benches/decode.rs`: recorded ARI events decoded into [`ari_sdk::Event`] and into
//!   `serde_json::Value`, in one run.
//! - `benches/request.rs`: an originate built, sent and answered through the SDK and through
//!   plain `reqwest`, both against the same in-process HTTP stub ([`stub`]).
//! - `benches/codegen.rs`: regenerating the bindings of every release, split into corpus load,
//!   IR and emit/format.
//! - `src/bin/load.rs`: call flows against a real Asterisk, SDK and baseline alternating, each in
//!   a child process of its own ([`load`]).
//!
//! `docs/BENCHMARKS.md` has the figures and the commands that reproduce them.

pub mod corpus;
pub mod load;
pub mod procstat;
pub mod stub;

/// A plain `reqwest::Client` for the hand-written baselines.
///
/// `ari-sdk` builds reqwest with `rustls-no-provider` (it hands reqwest a ring-based TLS
/// configuration of its own), and Cargo unifies features: in any binary that links the SDK,
/// `reqwest::Client::new()` panics unless a process-wide rustls provider is installed. So the
/// baseline installs ring's, as an application mixing the SDK and plain reqwest has to.
pub fn plain_reqwest() -> reqwest::Client {
    #[cfg(feature = "tls")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
