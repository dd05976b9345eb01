//! Typed Rust client for the Asterisk REST Interface (ARI), Asterisk 16.0 to 23.4.

pub mod meta;
