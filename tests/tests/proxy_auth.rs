//! Client authentication at `rustydb proxy` with a users file (PgBouncer
//! `userlist.txt` format) and HBA rules, with real clients (psql with
//! `PGPASSWORD`, tokio-postgres).
//!
//! The secrets are made by PostgreSQL itself: roles created with
//! `password_encryption = scram-sha-256` / `md5` on the backend, their
//! `pg_authid.rolpassword` copied into the users file. So the proxy is
//! checked against PostgreSQL's own verifier format, not against ours.
//!
//! - scram-sha-256 (SCRAM verifier) and md5 (md5 hash): the right password
//!   logs in as that user, a wrong one is FATAL `28P01` with PostgreSQL's
//!   wording `password authentication failed for user "x"`;
//! - a plain-text secret works under scram-sha-256;
//! - a user with no entry gets `28P01` (existence not revealed); an md5
//!   secret under a scram-sha-256 rule fails like PostgreSQL (`28P01`);
//! - `reject` gets `28000`; `trust` needs no password.

use rustydb_tests::fleet::{Failures, Fleet};
use rustydb_tests::proxy::{toml_str, ConnectOpts, ProxyProc, ProxySpec};

fn login(proxy: &ProxyProc, user: &str, password: Option<&str>) -> Result<(), String> {
    let mut c = proxy.try_connect(&ConnectOpts::user(user, password))?;
    match c.simple("SELECT current_user").scalar() {
        Some(u) if u == user => Ok(()),
        other => Err(format!("current_user = {other:?}")),
    }
}

fn refused(
    proxy: &ProxyProc,
    user: &str,
    password: Option<&str>,
    code: &str,
) -> Result<(), String> {
    match proxy.try_connect(&ConnectOpts::user(user, password)) {
        Ok(_) => Err("logged in".into()),
        Err(e) if e.contains(&format!("SQLSTATE {code}")) => Ok(()),
        Err(e) => Err(format!("wanted {code}: {e}")),
    }
}

fn psql_login(proxy: &ProxyProc, user: &str, password: &str) -> Result<(), String> {
    let conninfo = format!(
        "host=127.0.0.1 port={} user={user} dbname=postgres",
        proxy.port()
    );
    let out = proxy.psql(&conninfo, "SELECT current_user", Some(password));
    if out.success && out.stdout.trim() == user {
        Ok(())
    } else {
        Err(format!("{out:?}"))
    }
}

fn psql_refused(proxy: &ProxyProc, user: &str, password: &str) -> Result<(), String> {
    let conninfo = format!(
        "host=127.0.0.1 port={} user={user} dbname=postgres",
        proxy.port()
    );
    let out = proxy.psql(&conninfo, "SELECT 1", Some(password));
    let want = format!("password authentication failed for user \"{user}\"");
    if !out.success && out.stderr.contains(&want) {
        Ok(())
    } else {
        Err(format!("wanted `{want}`: {out:?}"))
    }
}

#[test]
fn scram_and_md5_with_a_users_file() {
    let fleet = Fleet::postgres(0);
    let mut p = fleet.primary_client();
    p.must("SET password_encryption = 'scram-sha-256'");
    p.must("CREATE ROLE alice LOGIN PASSWORD 'alice-secret'");
    p.must("SET password_encryption = 'md5'");
    p.must("CREATE ROLE bob LOGIN PASSWORD 'bob-secret'");
    p.must("CREATE ROLE frank LOGIN PASSWORD 'frank-secret'");
    p.must("CREATE ROLE carol LOGIN");
    p.must("CREATE ROLE dave LOGIN");
    p.must("CREATE ROLE eve LOGIN");
    let mut secret = |role: &str| {
        p.scalar(&format!(
            "SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'"
        ))
        .unwrap_or_else(|| panic!("no password for {role}"))
    };
    let (alice, bob, frank) = (secret("alice"), secret("bob"), secret("frank"));
    assert!(alice.starts_with("SCRAM-SHA-256$"), "{alice}");
    assert!(bob.starts_with("md5"), "{bob}");
    let dir = tempfile::tempdir().expect("tempdir");
    let users = dir.path().join("userlist.txt");
    std::fs::write(
        &users,
        format!(
            "; users for the proxy auth test\n\"alice\" \"{alice}\"\n\"bob\" \"{bob}\"\n\
             # frank has only an md5 hash but a scram-sha-256 rule\n\"frank\" \"{frank}\"\n\
             \"carol\" \"carol-plain\"\n"
        ),
    )
    .expect("write users file");
    let rule = |user: &str, method: &str| {
        format!("{{ address = \"127.0.0.1/32\", user = \"{user}\", method = \"{method}\" }}")
    };
    let hba = [
        rule("postgres", "trust"),
        rule("alice", "scram-sha-256"),
        rule("bob", "md5"),
        rule("carol", "scram-sha-256"),
        rule("dave", "scram-sha-256"),
        rule("frank", "scram-sha-256"),
        rule("eve", "reject"),
    ];
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .set("auth.users_file", &toml_str(&users.to_string_lossy()))
            .set("auth.hba", &format!("[{}]", hba.join(", "))),
    );
    let mut f = Failures::default();
    f.check(
        "alice scram, right password (tokio-postgres)",
        login(&proxy, "alice", Some("alice-secret")),
    );
    f.check(
        "alice scram, right password (psql)",
        psql_login(&proxy, "alice", "alice-secret"),
    );
    f.check(
        "alice scram, wrong password: 28P01",
        refused(&proxy, "alice", Some("nope"), "28P01"),
    );
    f.check(
        "alice scram, wrong password (psql wording)",
        psql_refused(&proxy, "alice", "nope"),
    );
    f.check(
        "bob md5, right password (tokio-postgres)",
        login(&proxy, "bob", Some("bob-secret")),
    );
    f.check(
        "bob md5, right password (psql)",
        psql_login(&proxy, "bob", "bob-secret"),
    );
    f.check(
        "bob md5, wrong password: 28P01",
        refused(&proxy, "bob", Some("nope"), "28P01"),
    );
    f.check(
        "bob md5, wrong password (psql wording)",
        psql_refused(&proxy, "bob", "nope"),
    );
    f.check(
        "carol plain secret under scram",
        login(&proxy, "carol", Some("carol-plain")),
    );
    f.check(
        "carol plain secret, wrong password",
        refused(&proxy, "carol", Some("nope"), "28P01"),
    );
    f.check(
        "dave without an entry: 28P01",
        refused(&proxy, "dave", Some("anything"), "28P01"),
    );
    f.check(
        "frank md5 secret under scram: 28P01",
        refused(&proxy, "frank", Some("frank-secret"), "28P01"),
    );
    f.check(
        "eve rejected: 28000",
        refused(&proxy, "eve", Some("x"), "28000"),
    );
    f.check(
        "postgres trust, no password",
        login(&proxy, "postgres", None),
    );
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}
