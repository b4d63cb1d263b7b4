//! A self-signed certificate for the playground, so `sslmode=require`
//! works against `rustydb up` out of the box.
//!
//! Generated once per data directory (`<data_dir>/tls/server.{crt,key}`)
//! with rcgen and reused on later starts; clients that verify the server
//! (`sslmode=verify-full`) need a real certificate via `rustydb node`'s
//! config instead.

use std::path::{Path, PathBuf};

/// Returns (certificate, key) paths, creating a self-signed pair if missing.
pub fn playground_cert(data_dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate a TLS certificate: {e}"))?;
    std::fs::write(&cert, generated.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))?;
    write_private(&key, generated.key_pair.serialize_pem().as_bytes())?;
    Ok((cert, key))
}

/// Writes the key readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
