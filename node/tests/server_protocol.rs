//! Protocol behaviour of a real node, checked with tokio-postgres and with
//! hand-written frames over a raw socket: errors keep the connection
//! usable, the extended protocol discards until Sync after an error,
//! pipelined messages are answered in order, malformed and oversized input
//! closes only the offending connection (08P01), CancelRequest is accepted,
//! and shutdown tells idle clients 57P01.

mod common;

use common::*;
use tokio::io::AsyncReadExt;

fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn query(sql: &str) -> Vec<u8> {
    msg(b'Q', &cstr(sql))
}

fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut b = cstr(name);
    b.extend(cstr(sql));
    b.extend_from_slice(&0u16.to_be_bytes());
    msg(b'P', &b)
}

fn bind(portal: &str, statement: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend(cstr(statement));
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // no formats, no params, no result formats
    msg(b'B', &b)
}

fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    b.extend(cstr(name));
    msg(b'D', &b)
}

fn execute(portal: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend_from_slice(&0i32.to_be_bytes());
    msg(b'E', &b)
}

fn sync() -> Vec<u8> {
    msg(b'S', &[])
}

/// Reads messages up to and including the next ReadyForQuery.
async fn until_ready(s: &mut tokio::net::TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let m = bounded("reply", read_backend_message(s))
            .await
            .expect("connection stays open");
        let done = m.0 == b'Z';
        out.push(m);
        if done {
            return out;
        }
    }
}

/// Reads until the server closes; returns what it sent.
async fn until_closed(s: &mut tokio::net::TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(m) = bounded("reply before close", read_backend_message(s)).await {
        out.push(m);
    }
    out
}

fn assert_sqlstate_shape(code: &str) {
    assert_eq!(code.len(), 5, "SQLSTATE {code}");
    assert!(
        !code.starts_with("08") && !code.starts_with("XX"),
        "statement error must not be a connection/internal error: {code}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_errors_keep_the_connection_usable() {
    let node = TestNode::start().await;
    let client = node.connect("postgres", None).await.expect("connect");
    for _ in 0..3 {
        let err = bounded("bad query", client.simple_query("SELEC 1"))
            .await
            .expect_err("syntax error");
        assert_sqlstate_shape(&sqlstate(&err).expect("server error with SQLSTATE"));
        assert!(!client.is_closed());
    }
    // Extended protocol: the failed Parse is reported, the batch discarded
    // up to Sync, and the connection is ready again.
    let err = bounded("bad prepare", client.prepare("SELEC $1"))
        .await
        .expect_err("parse error");
    assert_sqlstate_shape(&sqlstate(&err).expect("SQLSTATE"));
    let again = bounded("after error", client.simple_query("SELEC 2")).await;
    assert!(again.is_ok() || sqlstate(&again.expect_err("err")).is_some());
    assert!(!client.is_closed());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_errors_skip_until_sync_and_pipelining_answers_in_order() {
    let node = TestNode::start().await;
    let mut s = raw_session(node.addr).await;

    // A failing Parse followed by Bind/Execute in one batch: exactly one
    // ErrorResponse, then ReadyForQuery; the rest is discarded.
    let mut batch = parse("", "SELEC 1");
    batch.extend(bind("", ""));
    batch.extend(execute(""));
    batch.extend(sync());
    send_raw(&mut s, &batch).await;
    let replies = until_ready(&mut s).await;
    let tags: Vec<u8> = replies.iter().map(|m| m.0).collect();
    assert_eq!(tags, b"EZ", "{replies:?}");
    assert_eq!(replies[1].1, b"I");

    // Unknown statement / portal names: 26000 and 34000, each recovered by Sync.
    for (frames, code) in [
        ([bind("", "nope"), sync()].concat(), "26000"),
        ([describe(b'S', "nope"), sync()].concat(), "26000"),
        ([execute("nope"), sync()].concat(), "34000"),
        ([describe(b'P', "nope"), sync()].concat(), "34000"),
    ] {
        send_raw(&mut s, &frames).await;
        let replies = until_ready(&mut s).await;
        assert_eq!(replies.len(), 2, "{replies:?}");
        assert_eq!(error_code(&replies[0].1).as_deref(), Some(code));
    }

    // Close of something that does not exist is fine (CloseComplete).
    let mut close = vec![b'C'];
    close.extend_from_slice(&(4 + 1 + 5u32).to_be_bytes());
    close.push(b'S');
    close.extend(cstr("nope"));
    send_raw(&mut s, &[close, sync()].concat()).await;
    let tags: Vec<u8> = until_ready(&mut s).await.iter().map(|m| m.0).collect();
    assert_eq!(tags, b"3Z");

    // Two pipelined simple queries: two complete answers, in order.
    send_raw(&mut s, &[query("SELEC 1"), query("SELEC 2")].concat()).await;
    for _ in 0..2 {
        let replies = until_ready(&mut s).await;
        assert_eq!(replies.len(), 2, "{replies:?}");
        assert_eq!(replies[0].0, b'E');
        assert_sqlstate_shape(&error_code(&replies[0].1).expect("code"));
    }

    // Terminate closes the connection.
    send_raw(&mut s, &msg(b'X', &[])).await;
    assert!(until_closed(&mut s).await.is_empty());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_messages_close_only_that_connection() {
    let node = TestNode::start_with(|c| c.max_message_bytes = 64 * 1024).await;
    let bystander = node.connect("postgres", None).await.expect("connect");

    let cases: Vec<Vec<u8>> = vec![
        msg(0x01, b"junk"),                   // unknown message type
        vec![b'Q', 0, 0, 0, 2],               // length below 4
        vec![b'Q', 0x00, 0x10, 0x00, 0x00],   // 1 MiB > max_message_bytes
        msg(b'B', &[0, 0, 0xff, 0xff, 0, 0]), // Bind whose counts overrun the frame
        msg(b'P', b"no terminator"),          // Parse without its C strings
        msg(b'Z', b"I"),                      // a backend-only message type
    ];
    for bytes in cases {
        let mut s = raw_session(node.addr).await;
        send_raw(&mut s, &bytes).await;
        let replies = until_closed(&mut s).await;
        let last = replies
            .last()
            .unwrap_or_else(|| panic!("no error for {bytes:?}"));
        assert_eq!(last.0, b'E', "{bytes:?} -> {replies:?}");
        assert_eq!(error_code(&last.1).as_deref(), Some("08P01"), "{bytes:?}");
    }

    // A garbage first packet (not even a startup) is dropped without harm.
    let mut s = bounded("connect", tokio::net::TcpStream::connect(node.addr))
        .await
        .expect("connect");
    send_raw(&mut s, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]).await;
    let mut buf = [0u8; 64];
    let n = bounded("garbage close", s.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0);

    // Everyone else is unaffected.
    assert!(!bystander.is_closed());
    let r = bounded("bystander", bystander.simple_query("SELEC 1")).await;
    assert!(r.is_ok() || sqlstate(&r.expect_err("err")).is_some());
    node.connect("postgres", None)
        .await
        .expect("new connections still work");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_requests_are_accepted() {
    let node = TestNode::start().await;
    let client = node.connect("postgres", None).await.expect("connect");
    let token = client.cancel_token();
    bounded("cancel", token.cancel_query(tokio_postgres::NoTls))
        .await
        .expect("cancel request sent");
    // A cancel with an unknown key is ignored, and the server goes on.
    let mut s = bounded("connect", tokio::net::TcpStream::connect(node.addr))
        .await
        .expect("connect");
    send_raw(
        &mut s,
        &[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2],
    )
    .await;
    let mut buf = [0u8; 16];
    assert_eq!(
        bounded("cancel close", s.read(&mut buf)).await.unwrap_or(0),
        0,
        "cancel gets no reply"
    );
    // The session is still usable: a cancel between statements does not
    // poison the next one.
    let r = bounded("after cancel", client.simple_query("SELEC 1")).await;
    let err = r.expect_err("still a syntax error, not a cancel");
    assert_ne!(sqlstate(&err).as_deref(), Some("57014"));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_idle_clients_57p01() {
    let node = TestNode::start().await;
    let mut s = raw_session(node.addr).await;
    node.stop().await;
    let replies = until_closed(&mut s).await;
    let last = replies.last().expect("a FATAL before close");
    assert_eq!(error_code(&last.1).as_deref(), Some("57P01"));
}

/// On a current-thread runtime the server falls back to `spawn_blocking`
/// for engine calls; it must behave the same.
#[tokio::test]
async fn works_on_a_current_thread_runtime() {
    let node = TestNode::start().await;
    let client = node.connect("postgres", None).await.expect("connect");
    let err = bounded("bad query", client.simple_query("SELEC 1"))
        .await
        .expect_err("syntax error");
    assert_sqlstate_shape(&sqlstate(&err).expect("SQLSTATE"));
    assert!(!client.is_closed());
    node.stop().await;
}
