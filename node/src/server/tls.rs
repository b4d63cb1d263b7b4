//! TLS: loading the certificate and key into a rustls acceptor.
//!
//! TLS is negotiated the PostgreSQL way: the client sends SSLRequest, we
//! answer `S` (configured) or `N` (not), and on `S` the handshake runs on
//! the same socket before the real startup packet. The certificate's PEM is
//! kept too, because SCRAM-SHA-256-PLUS channel binding hashes it.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A ready TLS acceptor and the certificate it presents.
#[derive(Clone)]
pub struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    /// The certificate chain in PEM (for SCRAM channel binding).
    pub(crate) cert_pem: Vec<u8>,
}

/// Loads a PEM certificate chain and private key.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<TlsSetup, String> {
    let cert_pem = std::fs::read(cert_path)
        .map_err(|e| format!("cannot read tls_cert {}: {e}", cert_path.display()))?;
    let key_pem = std::fs::read(key_path)
        .map_err(|e| format!("cannot read tls_key {}: {e}", key_path.display()))?;
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut BufReader::new(&cert_pem[..]))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid certificate in {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", cert_path.display()));
    }
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut BufReader::new(&key_pem[..]))
            .map_err(|e| format!("invalid private key in {}: {e}", key_path.display()))?
            .ok_or_else(|| format!("no private key found in {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))?;
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}
