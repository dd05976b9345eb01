//! The test PKI that `up` makes once per chroot: a CA and one server certificate, for
//! Asterisk's HTTPS (`http.conf` `tlsenable`) and for the application's own TLS listener that
//! Asterisk dials (`websocket_client.conf` `tls_enabled`, `ca_list_file`).
//!
//! Files in `<chroot>/etc/asterisk/keys/` (Asterisk sees them as `/etc/asterisk/keys/…`):
//!
//! | file                  | what                                                           |
//! |-----------------------|----------------------------------------------------------------|
//! | `ari-test-ca.pem`     | the CA certificate: what tests and clients trust               |
//! | `ari-test-cert.pem`   | server certificate, CN and IP SAN `127.0.0.1`, signed by the CA |
//! | `ari-test-key.pem`    | its private key (PKCS#8)                                        |
//!
//! The certificate names `127.0.0.1` only: a client that connects to `localhost` gets a
//! host-name mismatch, which is what the wrong-host tests use. The CN matters to Asterisk,
//! which checks CN and DNS SANs by string (`main/tcptls.c`), not IP SANs. The files are made
//! when missing (or unreadable) and kept otherwise, so `up` does not restart a server for new
//! certificates; delete the folder's `ari-test-*` files to get new ones.

use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The CA certificate's file name in `etc/asterisk/keys`.
pub const CA_FILE: &str = "ari-test-ca.pem";
/// The server certificate's file name.
pub const CERT_FILE: &str = "ari-test-cert.pem";
/// The server key's file name.
pub const KEY_FILE: &str = "ari-test-key.pem";

/// The folder of the test PKI in a chroot.
pub fn keys_dir(chroot: &Path) -> PathBuf {
    chroot.join("etc/asterisk/keys")
}

/// Makes the CA, certificate and key if any is missing; returns whether it wrote them.
pub fn ensure(chroot: &Path) -> Result<bool> {
    let dir = keys_dir(chroot);
    let paths = [CA_FILE, CERT_FILE, KEY_FILE].map(|f| dir.join(f));
    if paths
        .iter()
        .all(|p| fs::read_to_string(p).is_ok_and(|t| t.contains("-----BEGIN")))
    {
        return Ok(false);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (ca, cert, key) = generate()?;
    for (path, text) in paths.iter().zip([ca, cert, key]) {
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(true)
}

/// A fresh CA and a server certificate for 127.0.0.1, as PEM: (CA, certificate, key).
fn generate() -> Result<(String, String, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ari-rs test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &ca)?;
    Ok((ca.pem(), cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_writes_once_and_keeps_the_files() {
        let dir = std::env::temp_dir().join(format!("ari-rs-tls-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(ensure(&dir).unwrap());
        let ca = fs::read_to_string(keys_dir(&dir).join(CA_FILE)).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!ensure(&dir).unwrap());
        assert_eq!(
            fs::read_to_string(keys_dir(&dir).join(CA_FILE)).unwrap(),
            ca
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
