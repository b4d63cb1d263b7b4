//! Hostile and careless clients must not hurt other sessions.
//!
//! First the start-up handshake is checked (the ParameterStatus values
//! drivers rely on, BackendKeyData). One observer session stays open throughout. Each case sends something
//! bad on its own raw connection and requires the server to answer with an
//! ErrorResponse or close the connection within the read timeout (not
//! wait forever), then checks that a fresh session and the observer both
//! still work. The last case is a client that vanishes mid-transaction
//! while holding a row lock: another session must get that row within a
//! bounded time, and the vanished transaction must be rolled back.

use std::time::{Duration, Instant};

use rustydb_tests::wire::{startup_packet, Message, RawConn};
use rustydb_tests::{Outcome, Server, SqlClient, Target};

/// Reads what the server does with a bad connection: an ErrorResponse,
/// a close or a reset are all fine; silence until the timeout is not.
fn expect_rejected(mut conn: RawConn, what: &str) -> String {
    let mut seen: Vec<Message> = Vec::new();
    loop {
        match conn.read_message() {
            Ok(None) => break,
            Ok(Some(m)) => {
                let is_error = m.tag == b'E';
                seen.push(m);
                if is_error {
                    break;
                }
                assert!(seen.len() < 100, "{what}: server keeps talking: {seen:?}");
            }
            Err(e) => match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    panic!("{what}: server neither answered nor closed within the timeout")
                }
                _ => break,
            },
        }
    }
    match seen.iter().find_map(Message::sqlstate) {
        Some(code) => format!("{what}: error {code}"),
        None => format!("{what}: closed after {} messages", seen.len()),
    }
}

/// A new session connects and gets an answer, and the long-lived
/// observer session still gets answers. "An answer" includes an SQL error:
/// these cases are about the protocol layer, not the SQL engine.
fn still_serving(server: &Server, observer: &mut SqlClient, what: &str) {
    let mut fresh = SqlClient::connect(server.port(), "postgres")
        .unwrap_or_else(|e| panic!("after {what}: new session cannot connect: {e}"));
    let out = fresh.simple("SELECT 1");
    assert!(
        !matches!(out, Outcome::Broken(_)),
        "after {what}: new session: {out}"
    );
    let out = observer.simple("SELECT 1");
    assert!(
        !matches!(out, Outcome::Broken(_)),
        "after {what}: observer session: {out}"
    );
}

#[test]
fn bad_clients_do_not_hurt_other_sessions() {
    let server = Target::from_env().start();
    let port = server.port();
    let mut observer = server.connect("postgres");

    // Start-up: the ParameterStatus set drivers rely on, and BackendKeyData.
    let (c, msgs) = RawConn::startup_with_messages(port).expect("startup");
    let params: std::collections::BTreeMap<String, String> =
        msgs.iter().filter_map(Message::parameter).collect();
    println!("ParameterStatus: {params:?}");
    for name in [
        "server_version",
        "client_encoding",
        "DateStyle",
        "integer_datetimes",
        "standard_conforming_strings",
        "TimeZone",
    ] {
        assert!(
            params.contains_key(name),
            "no ParameterStatus {name}: {params:?}"
        );
    }
    assert!(
        params["server_version"].starts_with("15"),
        "server_version must be 15-compatible: {}",
        params["server_version"]
    );
    assert_eq!(params["client_encoding"], "UTF8");
    assert_eq!(params["integer_datetimes"], "on");
    assert_eq!(params["standard_conforming_strings"], "on");
    assert!(msgs.iter().any(|m| m.tag == b'K'), "no BackendKeyData");
    drop(c);

    // Garbage instead of a startup packet (an HTTP request).
    let mut c = RawConn::connect(port).expect("connect");
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    println!("{}", expect_rejected(c, "garbage bytes"));
    still_serving(&server, &mut observer, "garbage bytes");

    // A startup packet claiming to be 2 GiB long.
    let mut c = RawConn::connect(port).expect("connect");
    let mut msg = 0x7fff_ffffu32.to_be_bytes().to_vec();
    msg.extend_from_slice(&196608u32.to_be_bytes());
    c.send(&msg).expect("send");
    println!("{}", expect_rejected(c, "oversized startup length"));
    still_serving(&server, &mut observer, "oversized startup length");

    // A bogus protocol version (9.0).
    let mut c = RawConn::connect(port).expect("connect");
    c.send(&startup_packet(0x0009_0000, &[("user", "postgres")]))
        .expect("send");
    println!("{}", expect_rejected(c, "bogus protocol version"));
    still_serving(&server, &mut observer, "bogus protocol version");

    // An oversized Query message after a good startup.
    let mut c = RawConn::startup(port).expect("startup");
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    msg.extend_from_slice(b"SELECT 1");
    c.send(&msg).expect("send");
    println!("{}", expect_rejected(c, "oversized query message"));
    still_serving(&server, &mut observer, "oversized query message");

    // An unknown message type after a good startup.
    let mut c = RawConn::startup(port).expect("startup");
    c.send(&[b'@', 0, 0, 0, 4]).expect("send");
    println!("{}", expect_rejected(c, "unknown message type"));
    still_serving(&server, &mut observer, "unknown message type");

    // A truncated message followed by a disconnect.
    let mut c = RawConn::startup(port).expect("startup");
    c.send(&[b'Q', 0, 0, 0, 100, b'S']).expect("send");
    drop(c);
    still_serving(&server, &mut observer, "truncated message then disconnect");

    // ReadyForQuery carries the transaction status: idle, in a
    // transaction, in a failed transaction.
    observer.must("CREATE TABLE rb_t (id int PRIMARY KEY, v int NOT NULL)");
    observer.must("INSERT INTO rb_t VALUES (1, 0), (2, 0)");
    let mut c = RawConn::startup(port).expect("startup");
    for (sql, status) in [
        ("SELECT 1", b'I'),
        ("BEGIN", b'T'),
        ("SELECT v FROM rb_t WHERE id = 1", b'T'),
        ("SELECT 1 / 0", b'E'),
        ("SELECT 1", b'E'),
        ("ROLLBACK", b'I'),
    ] {
        let msgs = c.query(sql).expect("query");
        let z = msgs.last().filter(|m| m.tag == b'Z');
        assert_eq!(
            z.and_then(|m| m.body.first().copied()),
            Some(status),
            "ReadyForQuery status after {sql:?}: {msgs:?}"
        );
    }
    drop(c);

    // A client that vanishes mid-transaction while holding a row lock.
    let mut c = RawConn::startup(port).expect("startup");
    let r = c.query("BEGIN").expect("BEGIN");
    assert!(r.iter().all(|m| m.tag != b'E'), "BEGIN failed: {r:?}");
    let r = c
        .query("UPDATE rb_t SET v = v + 1 WHERE id = 1")
        .expect("UPDATE");
    assert!(r.iter().all(|m| m.tag != b'E'), "UPDATE failed: {r:?}");
    // No Terminate: the socket just goes away.
    let _ = c.stream.shutdown(std::net::Shutdown::Both);
    drop(c);
    let mut other = server.connect("postgres");
    other.set_timeout(Duration::from_secs(15));
    let started = Instant::now();
    other.must("UPDATE rb_t SET v = v + 10 WHERE id = 1");
    println!("row lock released after {:?}", started.elapsed());
    assert_eq!(
        other.scalar("SELECT v FROM rb_t WHERE id = 1").as_deref(),
        Some("10"),
        "the vanished client's update must have been rolled back"
    );
    still_serving(&server, &mut observer, "vanished client");
    assert_eq!(
        observer.scalar("SELECT count(*) FROM rb_t").as_deref(),
        Some("2"),
        "observer session lost its view of rb_t"
    );
}
