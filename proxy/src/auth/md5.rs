//! PostgreSQL's md5 password method.
//!
//! The stored secret is `md5(password || user)` in hex (what
//! `pg_authid.rolpassword` holds after the `md5` prefix). The server sends
//! a random 4-byte salt; the client answers `"md5" || hex(md5(hex(md5(
//! password || user)) || salt))`. So the server needs only the stored hash,
//! and the answer is compared in constant time. A plain password from the
//! users file is first hashed the same way.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `md5(password || user)` in hex: the stored form of a plain password.
pub fn stored_hash(password: &str, user: &str) -> String {
    let full = postgres_protocol::password::md5(password.as_bytes(), user);
    full.strip_prefix("md5").unwrap_or(&full).to_string()
}

/// What a client holding the password answers to `salt`.
pub fn expected_response(stored_hex: &str, salt: [u8; 4]) -> String {
    let mut h = Md5::new();
    h.update(stored_hex.as_bytes());
    h.update(salt);
    format!("md5{}", hex(&h.finalize()))
}

/// Whether the client's answer matches (constant time).
pub fn verify(stored_hex: &str, salt: [u8; 4], response: &str) -> bool {
    let expected = expected_response(stored_hex, salt);
    bool::from(expected.as_bytes().ct_eq(response.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgresql_and_libpq() {
        // From a real PostgreSQL 15 (password_encryption = md5):
        // CREATE ROLE bob LOGIN PASSWORD 'bobpw' stores this.
        assert_eq!(
            stored_hash("bobpw", "bob"),
            "0f3f71a3dd77afe47f64231994dfd347"
        );
        let salt = [1, 2, 3, 250];
        // What libpq / tokio-postgres send.
        let client = postgres_protocol::authentication::md5_hash(b"bob", b"bobpw", salt);
        assert!(verify("0f3f71a3dd77afe47f64231994dfd347", salt, &client));
        assert_eq!(
            expected_response("0f3f71a3dd77afe47f64231994dfd347", salt),
            client
        );
        let wrong = postgres_protocol::authentication::md5_hash(b"bob", b"bobpx", salt);
        assert!(!verify("0f3f71a3dd77afe47f64231994dfd347", salt, &wrong));
        assert!(!verify("0f3f71a3dd77afe47f64231994dfd347", [0; 4], &client));
        assert!(!verify("0f3f71a3dd77afe47f64231994dfd347", salt, ""));
    }
}
