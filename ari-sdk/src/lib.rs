//! Typed Rust client for the Asterisk REST Interface (ARI), Asterisk 16.0 to 23.4.
//!
//! The crate has two layers: bindings generated from the ARI spec of every release (operations,
//! models, events, per-release availability), and a small hand-written runtime that they call:
//! [`Client`] for REST calls, [`events`] for the events WebSocket, [`Error`] for everything that
//! can go wrong.

pub mod meta;

mod client;
mod error;
pub mod events;
mod request;
mod transport;
pub mod version;

pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use error::{Error, ErrorKind, Result, TransportKind, UnsupportedItem};
pub use meta::Release;
pub use request::Request;
pub use version::ServerVersion;

/// The major release lines the generated bindings know, used for release gating.
pub(crate) fn default_known_majors() -> &'static [u16] {
    // Until the generated release table lands, no line is known and nothing is gated.
    &[]
}
