//! Mutual TLS for the replication stream (rustls).
//!
//! When `[replication.tls]` names a certificate, a key and a CA, the sender
//! accepts only clients whose certificate that CA signed, and the receiver
//! checks the sender's certificate against the same CA (server name: the
//! host part of the replication endpoint). Without it the stream is plain
//! TCP, which is what the loopback playground uses.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::config::ReplicationTls;

/// Any byte stream the protocol runs over (TCP or TLS over TCP).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Loaded TLS material for both directions.
pub struct ReplicationTlsSetup {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(&pem[..]))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid certificate in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut BufReader::new(&pem[..]))
        .map_err(|e| format!("invalid private key in {}: {e}", path.display()))?
        .ok_or_else(|| format!("no private key in {}", path.display()))
}

impl ReplicationTlsSetup {
    pub fn load(config: &ReplicationTls) -> Result<ReplicationTlsSetup, String> {
        let (Some(cert), Some(key), Some(ca)) = (&config.cert, &config.key, &config.ca) else {
            return Err("replication tls needs cert, key and ca".into());
        };
        let certs = read_certs(cert)?;
        let key = read_key(key)?;
        let mut roots = RootCertStore::empty();
        for c in read_certs(ca)? {
            roots
                .add(c)
                .map_err(|e| format!("bad CA certificate in {}: {e}", ca.display()))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("client certificate verifier: {e}"))?;
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| format!("replication certificate and key: {e}"))?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("replication client certificate: {e}"))?;
        Ok(ReplicationTlsSetup {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.acceptor.accept(tcp).await?))
    }

    pub async fn connect(&self, host: &str, tcp: TcpStream) -> std::io::Result<Box<dyn Stream>> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| std::io::Error::other(format!("bad server name {host}: {e}")))?;
        Ok(Box::new(self.connector.connect(name, tcp).await?))
    }
}
