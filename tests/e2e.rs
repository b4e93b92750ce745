//! The server on a real socket (port 0), spoken to over TCP, on SQLite and, when
//! `VMAP_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

use std::time::Duration;

use common::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vmap::api::{self, AppState, Limits};

backend_tests!(
    serves_on_a_real_port_and_turns_ready_after_loading,
    assign_answers_expect_100_continue_at_once
);

async fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn serves_on_a_real_port_and_turns_ready_after_loading(backend: &Backend) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let state = AppState::loading(Limits::default());
    let server = tokio::spawn(api::serve(listener, api::app(state.clone())));

    assert_eq!(http_get(address, "/healthz").await.0, 200);
    assert_eq!(http_get(address, "/readyz").await.0, 503);

    let (_db, registry) = common::seeded_registry_on(backend, 500).await;
    state.set_registry(registry);
    let mut ready = false;
    for _ in 0..50 {
        if http_get(address, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "never turned ready");
    let (status, body) = http_get(
        address,
        "/v1/reverse?lat=21.0285&lon=105.8542&radius_m=50000",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"addresses\""), "{body}");
    server.abort();
}

/// curl sends `Expect: 100-continue` for bodies over 1 MiB and waits (a second) for
/// "100 Continue" before uploading; an assignment must say it at once.
async fn assign_answers_expect_100_continue_at_once(backend: &Backend) {
    let (_db, registry) = common::seeded_registry_on(backend, 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(api::serve(
        listener,
        api::app(AppState::ready(registry, Limits::default())),
    ));

    let body = "id,lat,lon\na,21.0285,105.8542\n";
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/assign HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut interim = [0u8; 25];
    let read =
        tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut interim)).await;
    assert!(
        read.is_ok(),
        "no interim answer within 500 ms of the headers"
    );
    assert!(
        String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    stream.write_all(body.as_bytes()).await.expect("write body");
    let mut rest = String::new();
    stream.read_to_string(&mut rest).await.expect("read");
    assert!(rest.contains("200 OK"), "{rest}");
    assert!(rest.contains(",created,"), "{rest}");
    server.abort();
}
