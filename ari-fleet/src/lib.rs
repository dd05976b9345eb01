//! Many Asterisk servers and many instances of an ARI application, over NATS.
//!
//! * [`proxy`]: one per Asterisk server (binary `ari-fleet-proxy`). It holds the events
//!   WebSocket of many applications, routes each event to the instance that owns a resource
//!   it names, offers each new call to exactly one instance of its application, serves REST
//!   as NATS request/reply with Asterisk's status and body unchanged, and announces the
//!   server with its Asterisk release.
//! * [`fleet`]: the application side. A [`Fleet`] gives an `ari_sdk::Client` per server (REST
//!   over NATS through [`NatsCarrier`], gated by that server's release), an `ari_sdk` router
//!   per server fed with the events this instance owns, and [`Fleet::serve`], a
//!   `StasisApp` across the fleet.
//! * [`wire`]: the subjects and message formats, described for other languages in
//!   `docs/FLEET.md`.
//!
//! ```no_run
//! # async fn demo() -> ari_fleet::Result<()> {
//! use ari_fleet::Fleet;
//! use ari_sdk::routing::Call;
//!
//! let fleet = Fleet::builder("nats://127.0.0.1:4222").app("hello").connect().await?;
//! let serving = fleet
//!     .serve(|call: Call| async move {
//!         call.channel.answer().await?;
//!         call.play_to_end(["sound:hello-world"]).await?;
//!         call.channel.hangup_if_present().await?;
//!         Ok::<(), ari_sdk::Error>(())
//!     })
//!     .await?;
//! # drop(serving); Ok(()) }
//! ```

pub mod carrier;
pub mod error;
pub mod fleet;
mod nats;
pub mod proxy;
pub mod wire;

pub use carrier::NatsCarrier;
pub use error::{FleetError, Result};
pub use fleet::{AppEvents, Fleet, FleetBuilder, Serving};
pub use proxy::{Proxy, ProxyConfig, RunningProxy};
