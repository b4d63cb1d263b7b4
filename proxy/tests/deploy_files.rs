//! The example files in `deploy/` stay in step with the code: the
//! annotated `proxy.toml` lists every key at its default (apart from the
//! two it sets on purpose), and `users.txt` is a users file the
//! authenticator accepts.

use std::path::PathBuf;

use rustydb_proxy::auth::Authenticator;
use rustydb_proxy::ProxyConfig;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join(file)
}

#[test]
fn example_proxy_toml_is_the_defaults() {
    let loaded = ProxyConfig::load(&deploy("proxy.toml")).expect("deploy/proxy.toml loads");
    let expected = ProxyConfig {
        admin_listen: "127.0.0.1:6480".into(),
        backends: vec![
            "127.0.0.1:5433".into(),
            "127.0.0.1:5434".into(),
            "127.0.0.1:5435".into(),
        ],
        ..ProxyConfig::default()
    };
    assert_eq!(loaded, expected);
}

#[test]
fn example_users_file_is_accepted() {
    let mut config = ProxyConfig::load(&deploy("proxy.toml")).expect("deploy/proxy.toml loads");
    config.auth.users_file = Some(deploy("users.txt"));
    let auth = Authenticator::new(&config).expect("deploy/users.txt parses");
    // A plain password doubles as the password towards backends; a
    // verifier or md5 hash cannot.
    assert_eq!(
        auth.backend_password("batch").as_deref(),
        Some("batch-password")
    );
    assert_eq!(auth.backend_password("app"), None);
    assert_eq!(auth.backend_password("reporting"), None);
}
