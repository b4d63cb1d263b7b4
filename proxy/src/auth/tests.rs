//! End-to-end checks: a real client (tokio-postgres, psql) against an
//! in-process listener that does what server.rs will do — read the
//! StartupMessage, call `authenticate`, then answer simple queries — and
//! the proxy's backend-side login against that same listener.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::config::HbaRule;
use crate::wire::frame::FrameReader;
use crate::wire::startup::{startup_message, StartupRequest};

const MAX: usize = 1 << 20;

fn rule(kind: &str, user: &str, method: &str) -> HbaRule {
    HbaRule {
        kind: kind.into(),
        address: "127.0.0.1/32".into(),
        user: user.into(),
        database: "all".into(),
        method: method.into(),
    }
}

/// Users: scram_u (verifier), md5_u (md5 hash), plain_u (plain password),
/// and the HBA rules that give each one a method.
pub(super) fn authenticator(
    dir: &std::path::Path,
    tls: Option<crate::config::TlsConfig>,
) -> Arc<Authenticator> {
    let users = dir.join("userlist.txt");
    std::fs::write(
        &users,
        format!(
            "\"scram_u\" \"{}\"\n\"md5_u\" \"{}\"\n\"plain_u\" \"pl\"\"ain\"\n\"up_u\" \"{}\"\n\"md5only\" \"{}\"\n\"tls_u\" \"{}\"\n\"pw_s\" \"{}\"\n\"pw_m\" \"{}\"\n",
            scram_verifier("s3cret"),
            postgres_protocol::password::md5(b"m5pw", "md5_u"),
            scram_verifier("upgraded"),
            postgres_protocol::password::md5(b"m5pw", "md5only"),
            scram_verifier("tlspw"),
            scram_verifier("pwS"),
            postgres_protocol::password::md5(b"pwM", "pw_m"),
        ),
    )
    .unwrap();
    let mut config = ProxyConfig::default();
    config.auth.users_file = Some(users);
    config.auth.hba = vec![
        rule("host", "trust_u", "trust"),
        rule("host", "rej_u", "reject"),
        rule("hostssl", "tls_u", "scram-sha-256"),
        rule("host", "md5_u,up_u", "md5"),
        rule("host", "pw_u,pw_s,pw_m", "password"),
        rule("host", "scram_u,plain_u,ghost,md5only", "scram-sha-256"),
        rule("host", "plain_md5", "md5"),
    ];
    config
        .auth
        .backend_passwords
        .insert("svc".into(), "svcpw".into());
    config.tls = tls;
    Arc::new(Authenticator::new(&config).unwrap())
}

async fn session<S: AsyncRead + AsyncWrite + Unpin + Send>(
    mut sock: S,
    peer: IpAddr,
    auth: &Authenticator,
    params: std::collections::HashMap<String, String>,
    tls: bool,
) -> Result<()> {
    let user = params.get("user").cloned().unwrap_or_default();
    let db = params
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    auth.authenticate(&mut sock, peer, &user, &db, tls, MAX)
        .await?;
    let mut out = Vec::new();
    out.extend_from_slice(&messages::parameter_status("server_version", "15.0"));
    out.extend_from_slice(&messages::parameter_status("client_encoding", "UTF8"));
    out.extend_from_slice(&messages::ready_for_query(b'I'));
    sock.write_all(&out).await?;
    let mut reader = FrameReader::new(sock, MAX);
    while let Some(frame) = reader.next().await? {
        match frame.tag() {
            b'Q' => {
                let mut out = messages::result_set(
                    &["user", "database", "tls"],
                    &[vec![
                        Some(user.clone()),
                        Some(db.clone()),
                        Some(tls.to_string()),
                    ]],
                );
                out.extend_from_slice(&messages::ready_for_query(b'I'));
                reader.get_mut().write_all(&out).await?;
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

async fn connection(mut sock: TcpStream, peer: IpAddr, auth: Arc<Authenticator>) -> Result<()> {
    loop {
        match StartupRequest::read(&mut sock).await? {
            StartupRequest::Startup(p) => return session(sock, peer, &auth, p, false).await,
            StartupRequest::Ssl => match auth.tls_acceptor() {
                Some(acceptor) => {
                    sock.write_all(b"S").await?;
                    let mut tls = acceptor.accept(sock).await?;
                    let StartupRequest::Startup(p) = StartupRequest::read(&mut tls).await? else {
                        return Ok(());
                    };
                    return session(tls, peer, &auth, p, true).await;
                }
                None => sock.write_all(b"N").await?,
            },
            _ => return Ok(()),
        }
    }
}

pub(super) async fn serve(auth: Arc<Authenticator>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, peer)) = listener.accept().await {
            let auth = auth.clone();
            tokio::spawn(async move {
                let _ = connection(sock, peer.ip(), auth).await;
            });
        }
    });
    addr
}

/// Connects with tokio-postgres; Ok(user reported by the server) or
/// Err((sqlstate, message)).
async fn login(
    addr: SocketAddr,
    user: &str,
    password: &str,
) -> std::result::Result<String, (String, String)> {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} password='{password}' dbname=app",
        addr.port()
    );
    match tokio_postgres::connect(&conn, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            let rows = client.simple_query("select").await.unwrap();
            let row = rows
                .iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).unwrap().to_string())
                    }
                    _ => None,
                })
                .unwrap();
            Ok(row)
        }
        Err(e) => {
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("not a server error: {e}"));
            Err((db.code().code().to_string(), db.message().to_string()))
        }
    }
}

fn failed(user: &str) -> std::result::Result<String, (String, String)> {
    Err((
        "28P01".into(),
        format!("password authentication failed for user \"{user}\""),
    ))
}

#[tokio::test]
async fn tokio_postgres_logins_by_method() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(authenticator(dir.path(), None)).await;
    // scram-sha-256 against a stored verifier.
    assert_eq!(login(addr, "scram_u", "s3cret").await, Ok("scram_u".into()));
    assert_eq!(login(addr, "scram_u", "wrong").await, failed("scram_u"));
    // md5 against a stored md5 hash.
    assert_eq!(login(addr, "md5_u", "m5pw").await, Ok("md5_u".into()));
    assert_eq!(login(addr, "md5_u", "m5pW").await, failed("md5_u"));
    // md5 method with a SCRAM verifier: upgraded to SCRAM, as PostgreSQL does.
    assert_eq!(login(addr, "up_u", "upgraded").await, Ok("up_u".into()));
    assert_eq!(login(addr, "up_u", "nope").await, failed("up_u"));
    // A plain password serves SCRAM (and md5 / password below).
    assert_eq!(
        login(addr, "plain_u", "pl\"ain").await,
        Ok("plain_u".into())
    );
    assert_eq!(login(addr, "plain_u", "plain").await, failed("plain_u"));
    // Unknown user and an md5-only secret under SCRAM: same answer as a
    // wrong password.
    assert_eq!(login(addr, "ghost", "x").await, failed("ghost"));
    assert_eq!(login(addr, "md5only", "m5pw").await, failed("md5only"));
    // password (cleartext) against a verifier and an md5 hash.
    assert_eq!(login(addr, "pw_s", "pwS").await, Ok("pw_s".into()));
    assert_eq!(login(addr, "pw_s", "pws").await, failed("pw_s"));
    assert_eq!(login(addr, "pw_m", "pwM").await, Ok("pw_m".into()));
    assert_eq!(login(addr, "pw_m", "pwm").await, failed("pw_m"));
    assert_eq!(login(addr, "pw_u", "x").await, failed("pw_u"));
    // trust: no password at all.
    assert_eq!(login(addr, "trust_u", "").await, Ok("trust_u".into()));
    assert_eq!(
        login(addr, "rej_u", "x").await,
        Err((
            "28000".into(),
            "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"rej_u\", database \"app\", no encryption".into()
        ))
    );
    // hostssl rule does not match a plain connection; nothing else does.
    assert_eq!(
        login(addr, "tls_u", "x").await,
        Err((
            "28000".into(),
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"tls_u\", database \"app\", no encryption".into()
        ))
    );
}

/// Raw protocol helpers for the malformed-input tests.
async fn raw_startup(addr: SocketAddr, user: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&startup_message(&[("user", user), ("database", "app")]))
        .await
        .unwrap();
    s
}

async fn read_msg(s: &mut TcpStream) -> (u8, Vec<u8>) {
    backend::read_message(s, MAX).await.unwrap()
}

fn error_code(body: &[u8]) -> String {
    let text = backend::error_text(body);
    text.rsplit("SQLSTATE ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string()
}

#[tokio::test]
async fn cleartext_does_not_read_past_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(dir.path(), None);
    let addr = serve(auth).await;
    // `password` method for a user with no entry: a cleartext request,
    // then the same failure as a wrong password.
    let mut s = raw_startup(addr, "pw_u").await;
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, &body[..]), (b'R', &3i32.to_be_bytes()[..]));
    let mut both = Vec::new();
    both.extend_from_slice(&[b'p', 0, 0, 0, 7, b'a', b'b', 0]);
    both.extend_from_slice(&[b'Q', 0, 0, 0, 5, 0]);
    s.write_all(&both).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!(tag, b'E');
    assert_eq!(error_code(&body), "28P01");

    // A user whose plain password is checked by the `password` method,
    // with a query pipelined behind the password: the query is answered,
    // so authenticate consumed exactly the password message.
    let dir2 = tempfile::tempdir().unwrap();
    let users = dir2.path().join("u.txt");
    std::fs::write(&users, "\"pw_u\" \"letmein\"\n\"m\" \"md5pw\"\n").unwrap();
    let mut config = ProxyConfig::default();
    config.auth.users_file = Some(users);
    config.auth.hba = vec![rule("host", "pw_u", "password"), rule("host", "m", "md5")];
    let addr = serve(Arc::new(Authenticator::new(&config).unwrap())).await;
    let mut s = raw_startup(addr, "pw_u").await;
    let _ = read_msg(&mut s).await;
    let mut both = vec![b'p', 0, 0, 0, 12];
    both.extend_from_slice(b"letmein\0");
    both.extend_from_slice(&[b'Q', 0, 0, 0, 5, 0]);
    s.write_all(&both).await.unwrap();
    let mut tags = Vec::new();
    loop {
        let (tag, _) = read_msg(&mut s).await;
        tags.push(tag);
        if tags.iter().filter(|t| **t == b'Z').count() == 2 {
            break;
        }
    }
    assert_eq!(tags, b"RSSZTDCZ".to_vec());
    // The md5 method with a plain password in the file.
    assert_eq!(login(addr, "m", "md5pw").await, Ok("m".into()));
    assert_eq!(login(addr, "m", "md5pW").await, failed("m"));
}

#[tokio::test]
async fn malformed_sasl_and_oversized_messages_are_fatal_08p01() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(authenticator(dir.path(), None)).await;
    // Wrong message type.
    let mut s = raw_startup(addr, "scram_u").await;
    sasl_request(&mut s).await;
    s.write_all(&[b'Q', 0, 0, 0, 5, 0]).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, error_code(&body)), (b'E', "08P01".to_string()));
    // Unknown mechanism.
    let mut s = raw_startup(addr, "scram_u").await;
    sasl_request(&mut s).await;
    let mut m = vec![b'p', 0, 0, 0, 0];
    m.extend_from_slice(b"SCRAM-SHA-1\0");
    m.extend_from_slice(&4i32.to_be_bytes());
    m.extend_from_slice(b"n,,x");
    let len = (m.len() - 1) as u32;
    m[1..5].copy_from_slice(&len.to_be_bytes());
    s.write_all(&m).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, error_code(&body)), (b'E', "08P01".to_string()));
    assert!(backend::error_text(&body).contains("invalid SASL authentication mechanism"));
    // Garbage client-first.
    let mut s = raw_startup(addr, "scram_u").await;
    sasl_request(&mut s).await;
    let mut m = vec![b'p', 0, 0, 0, 0];
    m.extend_from_slice(b"SCRAM-SHA-256\0");
    m.extend_from_slice(&7i32.to_be_bytes());
    m.extend_from_slice(b"garbage");
    let len = (m.len() - 1) as u32;
    m[1..5].copy_from_slice(&len.to_be_bytes());
    s.write_all(&m).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, error_code(&body)), (b'E', "08P01".to_string()));
    // Length field lying about the data.
    let mut s = raw_startup(addr, "scram_u").await;
    sasl_request(&mut s).await;
    let mut m = vec![b'p', 0, 0, 0, 0];
    m.extend_from_slice(b"SCRAM-SHA-256\0");
    m.extend_from_slice(&1000i32.to_be_bytes());
    m.extend_from_slice(b"n,,n=,r=abc");
    let len = (m.len() - 1) as u32;
    m[1..5].copy_from_slice(&len.to_be_bytes());
    s.write_all(&m).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, error_code(&body)), (b'E', "08P01".to_string()));
    // Oversized: a 2 GiB announcement is refused before any allocation.
    let mut s = raw_startup(addr, "scram_u").await;
    sasl_request(&mut s).await;
    s.write_all(&[b'p', 0x7f, 0xff, 0xff, 0xff]).await.unwrap();
    let (tag, body) = read_msg(&mut s).await;
    assert_eq!((tag, error_code(&body)), (b'E', "08P01".to_string()));
    // A client hanging up mid-exchange gets nothing and the server task
    // returns an Io error (checked directly on a duplex pipe).
    let auth = authenticator(dir.path(), None);
    let (mut client, mut server) = tokio::io::duplex(4096);
    let task = tokio::spawn(async move {
        auth.authenticate(
            &mut server,
            "127.0.0.1".parse().unwrap(),
            "scram_u",
            "app",
            false,
            MAX,
        )
        .await
    });
    let mut buf = vec![0u8; 64];
    let n = client.read(&mut buf).await.unwrap();
    assert!(n > 0);
    drop(client);
    assert!(matches!(task.await.unwrap(), Err(ProxyError::Io(_))));
}

async fn sasl_request(s: &mut TcpStream) {
    let (tag, body) = read_msg(s).await;
    assert_eq!(tag, b'R');
    assert_eq!(&body[..4], &10i32.to_be_bytes());
    assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
}

/// The proxy's backend login, against this same listener acting as a
/// backend: postgres-protocol's client code meets pgwire's server code.
#[tokio::test]
async fn backend_authenticate_answers_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(dir.path(), None);
    assert_eq!(auth.backend_password("svc").as_deref(), Some("svcpw"));
    assert_eq!(auth.backend_password("plain_u").as_deref(), Some("pl\"ain"));
    assert_eq!(auth.backend_password("scram_u"), None);
    let addr = serve(auth).await;
    let login = |user: &'static str, pw: Option<&'static str>| async move {
        let mut s = raw_startup(addr, user).await;
        let r = backend_authenticate(&mut s, "b1", user, pw).await;
        if r.is_ok() {
            // The stream is positioned right after AuthenticationOk.
            let (tag, _) = read_msg(&mut s).await;
            assert_eq!(tag, b'S');
        }
        r
    };
    login("scram_u", Some("s3cret")).await.unwrap();
    login("md5_u", Some("m5pw")).await.unwrap();
    login("trust_u", None).await.unwrap();
    let err = login("scram_u", Some("bad")).await.unwrap_err();
    assert!(
        matches!(&err, ProxyError::Backend { addr, message }
        if addr == "b1" && message == "password authentication failed for user \"scram_u\" (SQLSTATE 28P01)"),
        "{err}"
    );
    let err = login("md5_u", None).await.unwrap_err().to_string();
    assert!(err.contains("has none"), "{err}");
}
