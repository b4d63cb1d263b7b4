//! The auth module against the real programs: `psql` (libpq) as a client,
//! with and without TLS and channel binding, and a real PostgreSQL 15
//! (started here, `initdb --auth=scram-sha-256`) as the backend the proxy
//! logs in to and as the source of verifiers our server side must accept.

use std::path::Path;
use std::process::Command;

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::tests::{authenticator, serve};
use super::*;
use crate::wire::startup::startup_message;

async fn psql(
    port: u16,
    user: &str,
    password: Option<&str>,
    extra: &str,
) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new("psql");
    cmd.arg(format!(
        "host=127.0.0.1 port={port} user={user} dbname=app {extra}"
    ))
    .args(["-X", "-w", "-At", "-c", "select"])
    .env_remove("PGPASSWORD")
    .env_remove("PGSSLMODE");
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    let out = cmd.output().await.expect("psql is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[tokio::test]
async fn psql_scram_md5_trust_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = serve(authenticator(dir.path(), None)).await.port();
    let ok = |user: &str| (true, format!("{user}|app|false"), String::new());
    assert_eq!(
        psql(port, "scram_u", Some("s3cret"), "sslmode=disable").await,
        ok("scram_u")
    );
    assert_eq!(
        psql(port, "md5_u", Some("m5pw"), "sslmode=disable").await,
        ok("md5_u")
    );
    assert_eq!(psql(port, "up_u", Some("upgraded"), "").await, ok("up_u"));
    assert_eq!(psql(port, "trust_u", None, "").await, ok("trust_u"));
    let (success, _, err) = psql(port, "scram_u", Some("nope"), "").await;
    assert!(!success);
    assert!(
        err.contains("FATAL:  password authentication failed for user \"scram_u\""),
        "{err}"
    );
    // -w and no password: libpq hangs up when asked for one.
    let (success, _, err) = psql(port, "scram_u", None, "").await;
    assert!(!success && err.contains("no password supplied"), "{err}");
    // sslmode=prefer against a proxy without TLS: 'N', then plain.
    assert_eq!(
        psql(port, "md5_u", Some("m5pw"), "sslmode=prefer").await,
        ok("md5_u")
    );
    let (success, _, err) = psql(port, "md5_u", Some("m5pw"), "sslmode=require").await;
    assert!(
        !success && err.contains("server does not support SSL"),
        "{err}"
    );
}

fn self_signed(dir: &Path) -> crate::config::TlsConfig {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(status.status.success(), "{status:?}");
    crate::config::TlsConfig { cert, key }
}

#[tokio::test]
async fn psql_over_tls_with_channel_binding() {
    let dir = tempfile::tempdir().unwrap();
    let tls = self_signed(dir.path());
    let auth = authenticator(dir.path(), Some(tls));
    assert!(auth.tls_acceptor().is_some());
    let port = serve(auth).await.port();
    // hostssl rule + SCRAM-SHA-256-PLUS (libpq insists on it here).
    assert_eq!(
        psql(
            port,
            "tls_u",
            Some("tlspw"),
            "sslmode=require channel_binding=require"
        )
        .await,
        (true, "tls_u|app|true".to_string(), String::new())
    );
    let (success, _, err) = psql(port, "tls_u", Some("nope"), "sslmode=require").await;
    assert!(
        !success && err.contains("password authentication failed for user \"tls_u\""),
        "{err}"
    );
    // Without channel binding (plain SCRAM over TLS) and without TLS.
    assert_eq!(
        psql(
            port,
            "scram_u",
            Some("s3cret"),
            "sslmode=require channel_binding=disable"
        )
        .await,
        (true, "scram_u|app|true".to_string(), String::new())
    );
    let (success, _, err) = psql(port, "tls_u", Some("tlspw"), "sslmode=disable").await;
    assert!(
        !success && err.contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"tls_u\", database \"app\", no encryption"),
        "{err}"
    );
}

/// A PostgreSQL 15 in a temp dir, stopped on drop.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            // initdb refuses to run as root: use the postgres OS user.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    fn start() -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let pg = Postgres {
            dir,
            port,
            as_postgres,
        };
        let d = pg.dir.path();
        std::fs::write(d.join("pw"), "pgsecret\n").unwrap();
        if as_postgres {
            let s = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(d)
                .status()
                .unwrap();
            assert!(s.success());
        }
        let data = d.join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["--auth=scram-sha-256", "-U", "postgres", "--no-sync"])
            .arg(format!("--pwfile={}", d.join("pw").display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        // Per-user methods so every client-side answer is exercised.
        std::fs::write(
            data.join("pg_hba.conf"),
            "host all pw_u 127.0.0.1/32 password\n\
             host all md5_u 127.0.0.1/32 md5\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        let out = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                d.display()
            ))
            .arg("-l")
            .arg(d.join("log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {out:?}");
        pg
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

async fn backend_login(port: u16, user: &str, password: Option<&str>) -> Result<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(&startup_message(&[
        ("user", user),
        ("database", "postgres"),
    ]))
    .await?;
    backend_authenticate(&mut s, "pg15", user, password).await?;
    // The next message is the backend's first ParameterStatus: nothing of
    // it was consumed by the authentication.
    let (tag, _) = backend::read_message(&mut s, 1 << 16).await?;
    Ok(tag)
}

#[tokio::test]
async fn against_real_postgresql_15() {
    let pg = Postgres::start();
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres password=pgsecret dbname=postgres",
            pg.port
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "SET password_encryption = 'md5'; CREATE ROLE md5_u LOGIN PASSWORD 'm5'; \
             RESET password_encryption; CREATE ROLE pw_u LOGIN PASSWORD 'pw'; \
             CREATE ROLE sc_u LOGIN PASSWORD 'sc'",
        )
        .await
        .unwrap();

    // Backend side: SCRAM, md5 and cleartext as PostgreSQL asks them.
    assert_eq!(
        backend_login(pg.port, "sc_u", Some("sc")).await.unwrap(),
        b'S'
    );
    assert_eq!(
        backend_login(pg.port, "md5_u", Some("m5")).await.unwrap(),
        b'S'
    );
    assert_eq!(
        backend_login(pg.port, "pw_u", Some("pw")).await.unwrap(),
        b'S'
    );
    let err = backend_login(pg.port, "sc_u", Some("nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProxyError::Backend { addr, message } if addr == "pg15"
            && message == "password authentication failed for user \"sc_u\" (SQLSTATE 28P01)"),
        "{err}"
    );
    let err = backend_login(pg.port, "sc_u", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("has none"), "{err}");

    // Client side: PostgreSQL's own stored secrets in our users file.
    let rows = client
        .query(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('sc_u', 'md5_u')",
            &[],
        )
        .await
        .unwrap();
    let mut users = String::new();
    for r in rows {
        let (name, secret): (String, String) = (r.get(0), r.get(1));
        users.push_str(&format!("\"{name}\" \"{secret}\"\n"));
    }
    let file = pg.dir.path().join("userlist.txt");
    std::fs::write(&file, users).unwrap();
    let mut config = ProxyConfig::default();
    config.auth.users_file = Some(file);
    config.auth.hba = vec![crate::config::HbaRule {
        kind: "host".into(),
        address: "all".into(),
        user: "all".into(),
        database: "all".into(),
        method: "md5".into(),
    }];
    let port = serve(Arc::new(Authenticator::new(&config).unwrap()))
        .await
        .port();
    let ok = |user: &str| (true, format!("{user}|app|false"), String::new());
    // md5 method + SCRAM verifier from PostgreSQL: upgraded to SCRAM.
    assert_eq!(psql(port, "sc_u", Some("sc"), "").await, ok("sc_u"));
    assert_eq!(psql(port, "md5_u", Some("m5"), "").await, ok("md5_u"));
    let (success, _, err) = psql(port, "md5_u", Some("m6"), "").await;
    assert!(
        !success && err.contains("password authentication failed"),
        "{err}"
    );
}
