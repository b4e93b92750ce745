//! The server on a real socket (port 0), spoken to over HTTP, on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::body::Bytes;
use tokio::sync::Notify;

use vmap::api::{self, AppState, Limits};

use crate::helpers::harness::trials;
use crate::helpers::http::streamed_body;
use crate::helpers::{Backend, Server, seeded_registry};

trials! {
    each_backend: [
        serves_on_a_real_port_and_turns_ready_after_loading,
        assign_answers_expect_100_continue_at_once,
    ],
}

async fn serves_on_a_real_port_and_turns_ready_after_loading(backend: &Backend) {
    let state = AppState::loading(Limits::default());
    let mut server = Server::serve(api::app(state.clone())).await;

    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(server.get("/readyz").await.status, 503);

    let (_db, registry) = seeded_registry(backend, 500).await;
    state.set_registry(registry);
    server.wait_ready(Duration::from_secs(1)).await;
    let response = server
        .get("/v1/reverse?lat=21.0285&lon=105.8542&radius_m=50000")
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.text().contains("\"addresses\""),
        "{}",
        response.text()
    );
}

/// curl sends `Expect: 100-continue` for bodies over 1 MiB and waits (a second) for
/// "100 Continue" before uploading; an assignment must say it at once. The body is held back
/// until the interim answer has come, so a server that waited for the body first would fail.
async fn assign_answers_expect_100_continue_at_once(backend: &Backend) {
    let (_db, registry) = seeded_registry(backend, 300).await;
    let server = Server::serve(api::app(AppState::ready(registry, Limits::default()))).await;

    let body = "id,lat,lon\na,21.0285,105.8542\n";
    let (body_sender, streamed) = streamed_body();
    let mut request = server
        .client()
        .request(Method::POST, "/v1/assign")
        .header("content-type", "text/csv")
        .header("content-length", body.len())
        .header("expect", "100-continue")
        .body(streamed)
        .expect("request");
    let continued = Arc::new(Notify::new());
    let on_continue = continued.clone();
    hyper::ext::on_informational(&mut request, move |interim| {
        if interim.status() == 100 {
            on_continue.notify_one();
        }
    });
    let client = server.client().clone();
    let answer = tokio::spawn(async move { client.send(request).await });

    let interim = tokio::time::timeout(Duration::from_millis(500), continued.notified()).await;
    assert!(
        interim.is_ok(),
        "no \"100 Continue\" within 500 ms of the headers"
    );
    body_sender
        .unbounded_send(Bytes::from_static(body.as_bytes()))
        .expect("send the body");
    drop(body_sender);
    let response = answer.await.expect("the request task");
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains(",created,"), "{}", response.text());
}
