//! The drain on SIGTERM: `/readyz` and new work answer 503 `shutting_down`, requests in
//! flight are finished (a streamed assignment ends with its abort record), and `vmap serve`
//! exits 0 — once drained, or when the grace has passed.

use std::time::Duration;

use hyper::body::Bytes;

use vmap::api::{self, AppState, Limits};

use crate::helpers::harness::trials;
use crate::helpers::http::{HttpClient, streamed_body};
use crate::helpers::metrics::{metrics_text, sample};
use crate::helpers::{
    Backend, Server, assert_problem, column, get, parse_csv, seeded_db, seeded_registry,
};

trials! {
    tokio: [
        readyz_and_new_work_answer_503_while_draining,
        sigterm_drains_in_flight_requests_and_exits_0,
        the_grace_ends_a_drain_that_does_not_end_by_itself,
    ],
}

/// Waits until the server counts a `method` request to `route` in flight: it has then
/// reached its handler, and a drain must finish it.
async fn wait_in_flight(client: &HttpClient, method: &str, route: &str) {
    let mut waited = Duration::ZERO;
    loop {
        let text = client.get("/metrics").await.text();
        let labels = [("method", method), ("route", route)];
        if sample(&text, "vmap_http_requests_in_flight", &labels) >= 1.0 {
            return;
        }
        assert!(
            waited < Duration::from_secs(10),
            "{method} {route} never came in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
}

/// Once the drain starts, `/readyz` and new work answer 503 `shutting_down`; `/healthz` and
/// `/metrics` still answer.
async fn readyz_and_new_work_answer_503_while_draining() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 50).await;
    let state = AppState::ready(registry, Limits::default());
    let router = api::app(state.clone());
    assert_eq!(get(&router, "/readyz").await.status, 200);
    state.drain().start();
    let ready = get(&router, "/readyz").await;
    let problem = assert_problem(&ready, 503, None);
    assert_eq!(problem["code"], "shutting_down");
    assert_eq!(ready.header("retry-after"), Some("1"));
    let work = get(&router, "/v1/zones?lat=21.0285&lon=105.8542").await;
    assert_eq!(assert_problem(&work, 503, None)["code"], "shutting_down");
    assert_eq!(get(&router, "/healthz").await.status, 200);
    let metrics = metrics_text(&router).await;
    assert_eq!(sample(&metrics, "vmap_draining", &[]), 1.0);
}

/// SIGTERM: a request in flight is finished, a streamed assignment ends its answer with the
/// abort record and `vmap-status: aborted`, `/readyz` answers 503 meanwhile, and the process
/// exits 0 within the grace.
async fn sigterm_drains_in_flight_requests_and_exits_0() {
    const GRACE: Duration = Duration::from_secs(20);
    let db = seeded_db(&Backend::Sqlite, 100).await;
    let mut server = Server::start_vmap_with(
        "drain",
        &db.url,
        db.dir.path(),
        &[
            ("VMAP_SHUTDOWN_GRACE_S", "20"),
            ("VMAP_LOG_FORMAT", "json"),
            // tower-http logs each request at debug, within the request's span.
            ("RUST_LOG", "info,sqlx=error,tower_http=debug"),
        ],
    )
    .await;
    let client = server.client().clone();
    let traced = client
        .request(hyper::Method::GET, "/healthz")
        .header("x-request-id", "drain-test-7")
        .body(crate::helpers::http::empty_body())
        .expect("request");
    assert_eq!(
        client.send(traced).await.header("x-request-id"),
        Some("drain-test-7")
    );

    // A batch reverse whose body comes in two parts: in flight until the second is sent.
    let (reverse_body, body) = streamed_body();
    let request = client
        .request(hyper::Method::POST, "/v1/reverse")
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let reverse_client = client.clone();
    let reverse = tokio::spawn(async move { reverse_client.send(request).await });
    reverse_body
        .unbounded_send(Bytes::from_static(b"{\"points\": [{\"lat\": 21.0285, "))
        .expect("send");

    // An assignment whose list stalls after its first row: its answer has begun.
    let (list_body, body) = streamed_body();
    list_body
        .unbounded_send(Bytes::from_static(b"id,lat,lon\na,21.0285,105.8542\n"))
        .expect("send");
    let request = client
        .request(hyper::Method::POST, "/v1/assign")
        .header("content-type", "text/csv")
        .header("te", "trailers")
        .body(body)
        .expect("request");
    let assignment = client.open(request).await.expect("the assignment's head");
    assert_eq!(assignment.status(), 200);

    wait_in_flight(&client, "POST", "/v1/reverse").await;
    // `serve` follows other writers every 200 ms by default: the follow's age is exported.
    let metrics = client.get("/metrics").await.text();
    let age = sample(&metrics, "vmap_follow_age_seconds", &[]);
    assert!(
        metrics.contains("vmap_follow_age_seconds ") && age < 60.0,
        "{metrics}"
    );
    assert!(metrics.contains("vmap_follow_changes_total"), "{metrics}");

    server.terminate();
    let ready = server
        .wait_for_status("/readyz", 503, Duration::from_secs(10))
        .await;
    assert_eq!(ready.json()["code"], "shutting_down");
    let work = client
        .unpooled()
        .get("/v1/zones?lat=21.0285&lon=105.8542")
        .await;
    assert_eq!(work.status, 503);

    reverse_body
        .unbounded_send(Bytes::from_static(b"\"lon\": 105.8542}], \"limit\": 1}"))
        .expect("send");
    drop(reverse_body);
    let reverse = reverse.await.expect("reverse task");
    assert_eq!(reverse.status, 200, "{}", reverse.text());

    let answer = HttpClient::read_rest(assignment)
        .await
        .expect("the assignment's answer ends");
    let (header, rows) = parse_csv(&answer.text());
    let last = rows.last().expect("an abort record");
    assert_eq!(
        column(&header, last, "error_code"),
        "stream_aborted",
        "{}",
        answer.text()
    );
    assert!(
        column(&header, last, "error_message").contains("shutting down"),
        "{}",
        answer.text()
    );
    assert_eq!(answer.trailer("vmap-status"), Some("aborted"));
    drop(list_body);

    let exited = server.wait_exit(GRACE).await;
    let log = server.log_text();
    assert!(
        exited.is_some_and(|status| status.success()),
        "exit: {exited:?}\n{log}"
    );
    // JSON lines, the request's id in its span, the drain told.
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|event| event["span"]["request_id"] == "drain-test-7"),
        "{log}"
    );
    let message =
        |event: &serde_json::Value| event["fields"]["message"].as_str().unwrap_or("").to_owned();
    assert!(
        events
            .iter()
            .any(|event| message(event).starts_with("draining")),
        "{log}"
    );
    assert!(
        events
            .iter()
            .any(|event| message(event) == "drained; exiting"),
        "{log}"
    );
}

/// A request that never ends (its body stalls, and so does an assignment's list) does not
/// hold the process: it exits 0 once the grace has passed.
async fn the_grace_ends_a_drain_that_does_not_end_by_itself() {
    let db = seeded_db(&Backend::Sqlite, 100).await;
    let mut server = Server::start_vmap_with(
        "grace",
        &db.url,
        db.dir.path(),
        &[("VMAP_SHUTDOWN_GRACE_S", "1")],
    )
    .await;
    let client = server.client().clone();
    let (list_body, body) = streamed_body();
    list_body
        .unbounded_send(Bytes::from_static(b"id,lat,lon\na,21.0285,105.8542\n"))
        .expect("send");
    let request = client
        .request(hyper::Method::POST, "/v1/assign")
        .header("content-type", "text/csv")
        .body(body)
        .expect("request");
    let assignment = client.open(request).await.expect("the assignment's head");
    assert_eq!(assignment.status(), 200);
    let (reverse_body, body) = streamed_body();
    reverse_body
        .unbounded_send(Bytes::from_static(b"{\"points\": ["))
        .expect("send");
    let request = client
        .request(hyper::Method::POST, "/v1/reverse")
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let stalled = tokio::spawn({
        let client = client.clone();
        async move { client.try_send(request).await.map(|answer| answer.status) }
    });
    wait_in_flight(&client, "POST", "/v1/reverse").await;

    server.terminate();
    // Generous against the 1 s grace: a debug build on a shared machine.
    let exited = server.wait_exit(Duration::from_secs(15)).await;
    let log = server.log_text();
    assert!(
        exited.is_some_and(|status| status.success()),
        "exit: {exited:?}\n{log}"
    );
    assert!(log.contains("the shutdown grace ran out"), "{log}");
    // The stalled request was cut, not answered.
    assert!(!matches!(stalled.await, Ok(Ok(status)) if status == 200));
    drop((list_body, reverse_body, assignment));
}
