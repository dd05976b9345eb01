//! The crate's error type.

/// What went wrong in the fleet layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// Bad configuration: a malformed id, prefix or URL.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS refused or lost something (connecting, subscribing, publishing).
    #[error("NATS: {0}")]
    Nats(String),
    /// An ARI call failed.
    #[error(transparent)]
    Ari(#[from] ari_sdk::Error),
    /// No proxy has announced this server.
    #[error("no proxy has announced server {0:?}")]
    UnknownServer(String),
    /// Stopped, or the connection closed for good.
    #[error("closed: {0}")]
    Closed(String),
}

impl FleetError {
    pub(crate) fn nats(what: &str, e: impl std::fmt::Display) -> FleetError {
        FleetError::Nats(format!("{what}: {e}"))
    }
}

/// The crate's result type.
pub type Result<T, E = FleetError> = std::result::Result<T, E>;
