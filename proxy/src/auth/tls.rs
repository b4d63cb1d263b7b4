//! Client-facing TLS: a rustls server config from PEM files.
//!
//! `[tls] cert` holds the certificate chain (leaf first), `[tls] key` the
//! private key (PKCS#8, PKCS#1 or SEC1). Both are read once per
//! [`super::Authenticator`] (so a reload picks up renewed certificates);
//! every failure names the file. The SSLRequest negotiation itself is the
//! caller's (server.rs): it answers `S`, runs the acceptor, and then calls
//! `authenticate` with `tls = true` on the encrypted stream. The
//! certificate's PEM is also kept for SCRAM channel binding
//! (`tls-server-end-point`, which hashes the leaf certificate).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::error::{ProxyError, Result};

/// The acceptor and the certificate PEM it serves.
pub struct LoadedTls {
    pub acceptor: TlsAcceptor,
    pub cert_pem: Vec<u8>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| ProxyError::Config(format!("tls {what} file {}: {e}", path.display())))
}

/// Builds the acceptor from the configured files.
pub fn load(config: &TlsConfig) -> Result<LoadedTls> {
    let cert_pem = read(&config.cert, "cert")?;
    let key_pem = read(&config.key, "key")?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ProxyError::Config(format!("tls cert file {}: {e}", config.cert.display())))?;
    if certs.is_empty() {
        return Err(ProxyError::Config(format!(
            "tls cert file {}: no PEM certificate found",
            config.cert.display()
        )));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| ProxyError::Config(format!("tls key file {}: {e}", config.key.display())))?
        .ok_or_else(|| {
            ProxyError::Config(format!(
                "tls key file {}: no PEM private key found",
                config.key.display()
            ))
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Config(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ProxyError::Config(format!(
                "tls cert {} / key {}: {e}",
                config.cert.display(),
                config.key.display()
            ))
        })?;
    Ok(LoadedTls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        cert_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("server.crt");
        let key = dir.path().join("server.key");
        let cfg = TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        };
        let err = load(&cfg).err().unwrap().to_string();
        assert!(err.contains("server.crt"), "{err}");
        std::fs::write(&cert, "not a pem\n").unwrap();
        std::fs::write(&key, "not a pem\n").unwrap();
        let err = load(&cfg).err().unwrap().to_string();
        assert!(
            err.contains("server.crt") && err.contains("no PEM certificate"),
            "{err}"
        );
    }
}
