//! TLS setup shared by the REST client (reqwest) and the events WebSocket (tokio-tungstenite).
//!
//! One rustls configuration with the `ring` provider serves both, so https and wss trust the same
//! roots. The provider is passed explicitly; ring also becomes the process-wide default, but only
//! when the application has installed none, so that other reqwest clients in the same program
//! keep working (see [`tls_config`]).

use crate::error::Result;

/// Extra trust anchors given to the builder, DER-encoded.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) extra_roots_der: Vec<Vec<u8>>,
}

/// The TLS configuration handed to both HTTP and WebSocket connectors.
#[cfg(feature = "rustls")]
pub(crate) type TlsConfig = std::sync::Arc<rustls::ClientConfig>;

/// Without TLS support there is nothing to share.
#[cfg(not(feature = "rustls"))]
#[derive(Clone)]
pub(crate) struct TlsConfig;

/// Builds the shared TLS configuration. For a plain-http base URL the system roots are not
/// loaded: minimal containers have none, and the configuration is never used to verify a peer.
#[cfg(feature = "rustls")]
pub(crate) fn tls_config(https: bool, opts: &TlsOptions) -> Result<TlsConfig> {
    use std::sync::Arc;

    use rustls::pki_types::CertificateDer;

    use crate::error::Error;

    // reqwest is built with `rustls-no-provider` (its own `rustls` feature would pull aws-lc-rs),
    // and cargo unifies that feature into every reqwest of the application: a plain
    // `reqwest::Client::new()` elsewhere in the app would then panic for want of a process-wide
    // provider. Install ring as that default, only when the application has not chosen one.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a default is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup: {e}")))?;
    let config = if https {
        let extra = opts
            .extra_roots_der
            .iter()
            .map(|der| CertificateDer::from(der.clone()));
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
            .map_err(|e| Error::config(format!("TLS trust store: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Refuses https when the crate was built without TLS support.
#[cfg(not(feature = "rustls"))]
pub(crate) fn tls_config(https: bool, _opts: &TlsOptions) -> Result<TlsConfig> {
    if https {
        Err(crate::error::Error::config(
            "https/wss needs the `rustls` feature of ari-sdk",
        ))
    } else {
        Ok(TlsConfig)
    }
}

/// Parses PEM text into DER certificates.
#[cfg(feature = "rustls")]
pub(crate) fn pem_to_der(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| crate::error::Error::config(format!("root certificate PEM: {e}")))?;
        out.push(cert.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(crate::error::Error::config(
            "root certificate PEM holds no certificate",
        ));
    }
    Ok(out)
}

#[cfg(all(test, feature = "rustls"))]
mod tests {
    use super::*;

    #[test]
    fn plain_http_config_needs_no_system_roots() {
        assert!(tls_config(false, &TlsOptions::default()).is_ok());
    }

    #[test]
    fn pem_without_certificate_is_rejected() {
        assert!(pem_to_der(b"not a pem").is_err());
    }
}

#[cfg(all(test, feature = "rustls"))]
mod provider_tests {
    /// Building a client leaves the application free to use plain reqwest: reqwest's
    /// `rustls-no-provider`, unified into every reqwest of the program, needs a default provider.
    #[test]
    fn plain_reqwest_works_next_to_the_sdk() {
        let _client = crate::Client::builder()
            .base_url("http://127.0.0.1:9/ari")
            .build()
            .unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        reqwest::Client::builder().build().unwrap();
    }
}
