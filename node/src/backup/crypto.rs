//! Optional repository encryption: AES-256-GCM (RustCrypto's `aes-gcm`).
//!
//! The key is 32 bytes read from a key file (raw, or 64 hex digits with
//! optional whitespace). Every stored object is sealed on its own with a
//! fresh random 96-bit nonce: `nonce (12) || ciphertext || tag (16)`. The
//! object's repository path is the associated data, so a sealed file moved
//! to another name fails authentication instead of restoring the wrong
//! content. Opening with a wrong key, or bytes changed on disk, fails with
//! an authentication error; nothing unauthenticated is ever returned.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::err;
use crate::error::Result;

const NONCE_LEN: usize = 12;

/// A loaded repository key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(aes-256-gcm)")
    }
}

impl Cipher {
    /// Reads a key file: 32 raw bytes or 64 hex digits.
    pub fn from_key_file(path: &Path) -> Result<Cipher> {
        let bytes = std::fs::read(path)
            .map_err(|e| err(format!("cannot read key file {}: {e}", path.display())))?;
        let key: Vec<u8> = if bytes.len() == 32 {
            bytes
        } else {
            let text: String = String::from_utf8_lossy(&bytes)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            hex::decode(&text).map_err(|_| {
                err(format!(
                    "key file {} must hold 32 raw bytes or 64 hex digits",
                    path.display()
                ))
            })?
        };
        Cipher::from_key(&key)
    }

    /// A cipher over a 32-byte key.
    pub fn from_key(key: &[u8]) -> Result<Cipher> {
        let aead = Aes256Gcm::new_from_slice(key)
            .map_err(|_| err(format!("an AES-256 key has 32 bytes, not {}", key.len())))?;
        Ok(Cipher { aead })
    }

    /// Seals `plain`, bound to `path`.
    pub fn seal(&self, path: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .aead
            .encrypt(
                nonce,
                Payload {
                    msg: plain,
                    aad: path.as_bytes(),
                },
            )
            .map_err(|_| err(format!("encrypting {path} failed")))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what `seal` wrote for `path`; any change or a wrong key is an
    /// authentication error.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(err(format!(
                "{path}: authentication failed (too short to be encrypted)"
            )));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: path.as_bytes(),
                },
            )
            .map_err(|_| {
                err(format!(
                    "{path}: authentication failed (wrong key or damaged file)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let c = Cipher::from_key(&[7u8; 32]).expect("key");
        let sealed = c.seal("a/b", b"hello").expect("seal");
        assert_eq!(c.open("a/b", &sealed).expect("open"), b"hello");
        assert!(c.open("a/c", &sealed).is_err(), "bound to its path");
        let mut bad = sealed.clone();
        if let Some(last) = bad.last_mut() {
            *last ^= 1;
        }
        assert!(c.open("a/b", &bad).is_err());
        let other = Cipher::from_key(&[8u8; 32]).expect("key");
        assert!(other.open("a/b", &sealed).is_err());
        assert!(Cipher::from_key(&[1u8; 16]).is_err());
    }
}
