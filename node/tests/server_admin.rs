//! The admin HTTP API: `GET /status` reports the LSN and connection counts.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_lsn_and_connections() {
    let (node, admin) = TestNode::start_with_admin().await;
    let _client = node.connect("postgres", None).await.expect("connect");

    let response = http(admin, "GET", "/status", "").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).expect("body");
    let status: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert!(
        status["lsn"].as_str().is_some_and(|l| l.contains('/')),
        "{status}"
    );
    assert!(status["lsn_number"].is_u64(), "{status}");
    assert_eq!(status["connections"], 1, "{status}");
    assert_eq!(status["max_connections"], 100, "{status}");

    assert!(http(admin, "GET", "/nope", "")
        .await
        .starts_with("HTTP/1.1 404"));
    node.stop().await;
}
