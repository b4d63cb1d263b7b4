//! Startup and authentication against a real node: trust, cleartext
//! password, SCRAM-SHA-256, TLS, and the connection limit.

mod common;

use common::*;
use rustydb_node::config::AuthMethod;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_accepts_any_user_and_reports_parameters() {
    let node = TestNode::start().await;
    let client = node.connect("postgres", None).await.expect("trust login");
    assert!(!client.is_closed());
    let other = node
        .connect("someone_else", None)
        .await
        .expect("trust accepts any user name");
    drop(other);

    // ParameterStatus: server_version must be 15-compatible; read it raw.
    let mut s = bounded("tcp", tokio::net::TcpStream::connect(node.addr))
        .await
        .expect("connect");
    send_raw(&mut s, &startup_packet("postgres", "postgres")).await;
    let mut params = std::collections::HashMap::new();
    let mut saw_key = false;
    loop {
        match bounded("startup", read_backend_message(&mut s))
            .await
            .expect("message")
        {
            (b'S', body) => {
                let mut parts = body.split(|b| *b == 0);
                let k = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
                let v = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
                params.insert(k, v);
            }
            (b'K', body) => {
                assert_eq!(body.len(), 8, "BackendKeyData carries pid and secret");
                saw_key = true;
            }
            (b'Z', body) => {
                assert_eq!(body, b"I");
                break;
            }
            (b'R', body) => assert_eq!(body, [0, 0, 0, 0], "trust sends AuthenticationOk directly"),
            (t, _) => panic!("unexpected message {}", t as char),
        }
    }
    assert!(saw_key);
    assert!(
        params
            .get("server_version")
            .is_some_and(|v| v.starts_with("15")),
        "{params:?}"
    );
    for key in [
        "client_encoding",
        "DateStyle",
        "integer_datetimes",
        "standard_conforming_strings",
        "TimeZone",
    ] {
        assert!(params.contains_key(key), "missing {key}: {params:?}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_and_password_logins() {
    let node = TestNode::start_with(|c| {
        c.auth = AuthMethod::ScramSha256;
        c.users = vec![
            user("alice", "wonderland", AuthMethod::ScramSha256),
            user("bob", "builder", AuthMethod::Password),
        ];
    })
    .await;

    node.connect("alice", Some("wonderland"))
        .await
        .expect("SCRAM with the right password");
    let err = node
        .connect("alice", Some("nope"))
        .await
        .expect_err("wrong SCRAM password");
    assert_eq!(sqlstate(&err).as_deref(), Some("28P01"), "{err}");

    node.connect("bob", Some("builder"))
        .await
        .expect("cleartext with the right password");
    let err = node
        .connect("bob", Some("nope"))
        .await
        .expect_err("wrong cleartext password");
    assert_eq!(sqlstate(&err).as_deref(), Some("28P01"), "{err}");

    // Not listed, default method is SCRAM: refused like a role without a password.
    let err = node
        .connect("mallory", Some("x"))
        .await
        .expect_err("unknown user");
    assert_eq!(sqlstate(&err).as_deref(), Some("28P01"), "{err}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_get_53300() {
    let node = TestNode::start_with(|c| c.max_connections = 2).await;
    let a = node.connect("postgres", None).await.expect("first");
    let b = node.connect("postgres", None).await.expect("second");
    let err = node
        .connect("postgres", None)
        .await
        .expect_err("third is over the limit");
    assert_eq!(sqlstate(&err).as_deref(), Some("53300"), "{err}");
    drop(a);
    // The slot frees once the server notices the close.
    let mut ok = false;
    for _ in 0..50 {
        if node.connect("postgres", None).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "a freed slot is reusable");
    drop(b);
    node.stop().await;
}

/// TLS with the real psql: `sslmode=require` must negotiate TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_sslmode_require_gets_tls() {
    let (cert, key) = tls_fixture();
    let node = TestNode::start_with(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        c.auth = AuthMethod::ScramSha256;
        c.users = vec![user("postgres", "secret", AuthMethod::ScramSha256)];
    })
    .await;
    let conn = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres password=secret sslmode=require connect_timeout=10",
        node.addr.port()
    );
    let output = bounded(
        "psql",
        tokio::process::Command::new("psql")
            .arg(&conn)
            .arg("-X")
            .arg("-c")
            .arg("\\conninfo")
            .output(),
    )
    .await
    .expect("psql (PostgreSQL client) must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "psql failed: {stdout} {stderr}");
    assert!(
        stdout.contains("SSL connection"),
        "not TLS: {stdout} {stderr}"
    );

    // Without TLS configured, sslmode=require is refused cleanly.
    let plain = TestNode::start().await;
    let conn = format!(
        "host=127.0.0.1 port={} user=postgres sslmode=require connect_timeout=10",
        plain.addr.port()
    );
    let output = bounded(
        "psql",
        tokio::process::Command::new("psql")
            .arg(&conn)
            .arg("-X")
            .arg("-c")
            .arg("\\conninfo")
            .output(),
    )
    .await
    .expect("psql runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not support SSL"));
    plain.stop().await;
    node.stop().await;
}
