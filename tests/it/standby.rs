//! Read replicas on a PostgreSQL hot standby: a `vmap serve --read-only` on a streaming
//! standby starts without writing there (it waits for the primary's migrations to replay),
//! follows what a writable vmap on the primary writes as the WAL replays, and refuses
//! writes; a writable `vmap serve` on a standby is refused at start-up.
//!
//! Needs the pair of `.ci/postgres start-standby` (see `helpers::standby`).

use std::time::{Duration, Instant};

use hyper::Method;
use sqlx::Connection;

use vmap::point::LatLon;
use vmap::store::{Store, StoreError};

use crate::helpers::harness::trials;
use crate::helpers::http::full_body;
use crate::helpers::{Server, StandbyDb, StandbyPair, TestResponse, pg_connect, run_vmap};

trials! {
    standby: [
        a_read_only_vmap_on_a_hot_standby_follows_the_primary,
        a_hot_standby_is_checked_not_migrated_and_a_writer_there_is_refused,
    ],
}

/// Addresses the writer seeds on the primary first (`--demo`).
const SEEDED: u64 = 2_000;
/// Registrations through the primary whose arrival on the standby's vmap is timed.
const N_TIMED_WRITES: usize = 50;
/// How long the standby's vmap may take to answer a write made on the primary: the follow
/// interval (200 ms) plus replay, with room for a loaded machine.
const LAG_BOUND: Duration = Duration::from_secs(2);
/// A test gives up waiting for the standby's vmap after this.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);
/// How often the standby's vmap is asked again while a write is awaited.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// How long the standby's vmap may take to be ready once the primary is migrated and
/// seeded: its start-up retries wait longer each time, and a debug build loads slowly.
const STANDBY_READY_WITHIN: Duration = Duration::from_secs(90);
/// What the standby's vmap logs while the primary's migrations have not replayed.
const WAITING_FOR_MIGRATIONS: &str = "hot standby without migration(s)";

fn point(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).expect("valid point")
}

/// The `n`th place registered: around five cities, a few hundred metres apart.
fn place(n: usize) -> LatLon {
    const CITIES: [(f64, f64); 5] = [
        (21.030_123_456_789, 105.852_345_678_91),
        (10.776_543_210_987, 106.700_123_456_78),
        (16.054_321_098_765, 108.202_987_654_32),
        (12.238_765_432_109, 109.196_543_210_98),
        (20.950_123_987_654, 107.080_456_789_01),
    ];
    let (lat, lon) = CITIES[n % CITIES.len()];
    let step = (n / CITIES.len()) as f64 * 0.003;
    point(lat + step, lon - step)
}

fn reverse_path(at: LatLon) -> String {
    format!(
        "/v1/reverse?lat={:?}&lon={:?}&radius_m=5&limit=10",
        at.lat, at.lon
    )
}

/// Codes `server` answers within 5 m of `at`.
async fn codes_at(server: &Server, at: LatLon) -> Vec<String> {
    let response = server.get(&reverse_path(at)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|address| address["code"].as_str().map(str::to_owned))
        .collect()
}

/// Polls `server`'s reverse at `at` until `done` holds for its codes; returns how long
/// that took from `since`.
async fn poll_until(
    server: &Server,
    at: LatLon,
    since: Instant,
    done: impl Fn(&[String]) -> bool,
) -> Duration {
    loop {
        let codes = codes_at(server, at).await;
        if done(&codes) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < GIVE_UP_AFTER,
            "{} still answers {codes:?} at {at:?} after {GIVE_UP_AFTER:?}",
            server.name
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn send_json(server: &Server, method: Method, path: &str, body: String) -> TestResponse {
    let request = server
        .client()
        .request(method, path)
        .header("content-type", "application/json")
        .body(full_body(body))
        .expect("request");
    server.client().send(request).await
}

async fn register(server: &Server, at: LatLon, house_number: &str) -> TestResponse {
    let body = serde_json::json!({
        "lat": at.lat, "lon": at.lon, "house_number": house_number, "street": "Phố Dự Phòng",
    });
    send_json(server, Method::POST, "/v1/addresses", body.to_string()).await
}

/// Waits until `server`'s log says it awaits the primary's migrations.
async fn wait_for_log(server: &Server, line: &str) {
    let started = Instant::now();
    while !server.log_text().contains(line) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never logged {line:?}:\n{}",
            server.name,
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the standby until the row holding `code` has replayed; returns how long that took
/// from `since`.
async fn wait_until_replayed(
    standby: &mut sqlx::PgConnection,
    code: &str,
    since: Instant,
) -> Duration {
    loop {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM addresses WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *standby)
            .await
            .expect("read the standby");
        if found.is_some() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < GIVE_UP_AFTER,
            "{code} has not replayed on the standby after {GIVE_UP_AFTER:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[track_caller]
fn median_and_max(delays: &mut [Duration]) -> (Duration, Duration) {
    delays.sort_unstable();
    let max = delays.last().copied().expect("some delays");
    (delays[delays.len() / 2], max)
}

async fn a_read_only_vmap_on_a_hot_standby_follows_the_primary(pair: &StandbyPair) {
    let db = StandbyDb::create(pair).await;
    let log_dir = db.primary.dir.path();
    // Started before the primary is migrated: it must wait, writing nothing.
    let read_only = [("VMAP_READ_ONLY", "true")];
    let mut replica =
        Server::spawn_vmap("standby-replica", &db.standby_url, log_dir, &read_only).await;
    wait_for_log(&replica, WAITING_FOR_MIGRATIONS).await;
    assert_eq!(replica.get("/healthz").await.status, 200);
    assert_eq!(replica.get("/readyz").await.status, 503);

    // The writer migrates the primary and seeds it (`--demo`), then serves.
    let count = SEEDED.to_string();
    let demo = [
        ("VMAP_DEMO", "true"),
        ("VMAP_DEMO_ADDRESSES", count.as_str()),
    ];
    let writer = Server::start_vmap_with("primary-writer", &db.primary.url, log_dir, &demo).await;
    replica.wait_ready(STANDBY_READY_WITHIN).await;
    let log = replica.log_text();
    assert!(
        log.contains("PostgreSQL hot standby (pg_is_in_recovery)"),
        "{log}"
    );
    let mut standby = pg_connect(&db.standby_url).await;
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut standby)
        .await
        .expect("ask the standby");
    assert!(in_recovery, "the replica's database is not a standby");
    // Ready maybe between the migrations and the seed: the seed then arrives by following.
    let started = Instant::now();
    loop {
        let status = replica.get("/v1/status").await.json();
        if status["active_addresses"] == SEEDED {
            break;
        }
        assert!(started.elapsed() < GIVE_UP_AFTER, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Registrations: each timed from the primary's 201 to the row being visible on the
    // standby (replay) and to the standby's vmap answering it (replay and following). Each
    // is sent a different time after a follow tick of the replica (which the previous
    // answer was just after), so the lags sample the whole 200 ms follow interval.
    let mut replay_lags = Vec::with_capacity(N_TIMED_WRITES);
    let mut lags = Vec::with_capacity(N_TIMED_WRITES);
    let mut codes = Vec::with_capacity(N_TIMED_WRITES);
    for n in 0..N_TIMED_WRITES {
        tokio::time::sleep(Duration::from_millis((n as u64 * 37) % 200)).await;
        let at = place(n);
        let response = register(&writer, at, &format!("D{n}")).await;
        let answered = Instant::now();
        assert_eq!(response.status, 201, "{}", response.text());
        let code = response.json()["code"].as_str().expect("code").to_owned();
        replay_lags.push(wait_until_replayed(&mut standby, &code, answered).await);
        lags.push(poll_until(&replica, at, answered, |codes| codes.contains(&code)).await);
        codes.push((code, at));
    }
    standby.close().await.expect("close");
    let (replay_median, replay_max) = median_and_max(&mut replay_lags);
    let (median, max) = median_and_max(&mut lags);
    eprintln!(
        "standby lag over {N_TIMED_WRITES} registrations, from the primary's 201: row visible \
         on the standby median {replay_median:?}, max {replay_max:?}; answered by the \
         standby's vmap median {median:?}, max {max:?}"
    );
    assert!(
        max < LAG_BOUND,
        "the standby's vmap took {max:?} to follow a registration"
    );

    // A move and a retirement follow too.
    let (moved, from) = codes.first().cloned().expect("a code");
    let to = point(from.lat + 0.001, from.lon + 0.001);
    let body = serde_json::json!({ "lat": to.lat, "lon": to.lon }).to_string();
    let response = send_json(
        &writer,
        Method::PATCH,
        &format!("/v1/addresses/{moved}"),
        body.clone(),
    )
    .await;
    let answered = Instant::now();
    assert_eq!(response.status, 200, "{}", response.text());
    let move_lag = poll_until(&replica, to, answered, |codes| codes.contains(&moved)).await;
    assert!(!codes_at(&replica, from).await.contains(&moved));
    let (retired, at) = codes.last().cloned().expect("a code");
    let response = writer.delete(&format!("/v1/addresses/{retired}")).await;
    let answered = Instant::now();
    assert_eq!(response.status, 200, "{}", response.text());
    let retire_lag = poll_until(&replica, at, answered, |codes| !codes.contains(&retired)).await;
    eprintln!("standby lag of a move {move_lag:?}, of a retirement {retire_lag:?}");
    assert!(move_lag.max(retire_lag) < LAG_BOUND);
    let lookup = replica.get(&format!("/v1/codes/{retired}")).await;
    assert_eq!(lookup.status, 200, "{}", lookup.text());
    assert_eq!(lookup.json()["status"], "retired");

    // The standby's vmap refuses writes itself, and never saw the database as away.
    let refused = [
        register(&replica, place(999), "X").await,
        send_json(
            &replica,
            Method::PATCH,
            &format!("/v1/addresses/{moved}"),
            body,
        )
        .await,
        replica.delete(&format!("/v1/addresses/{moved}")).await,
    ];
    for response in refused {
        assert_eq!(response.status, 403, "{}", response.text());
        assert!(response.text().contains("read-only"), "{}", response.text());
    }
    assert_eq!(replica.get("/readyz").await.status, 200);
    let log = replica.log_text();
    assert!(!log.contains("the database is unavailable:"), "{log}");
    let (writer_status, replica_status) = (
        writer.get("/v1/status").await.json(),
        replica.get("/v1/status").await.json(),
    );
    assert_eq!(
        writer_status["data_version"],
        replica_status["data_version"]
    );
    assert_eq!(replica_status["retired_addresses"], 1);
}

async fn a_hot_standby_is_checked_not_migrated_and_a_writer_there_is_refused(pair: &StandbyPair) {
    let db = StandbyDb::create(pair).await;
    // Unmigrated: the store says which migrations it lacks, as an outage to wait out.
    let n_migrations = std::fs::read_dir("migrations/postgres")
        .expect("the migrations")
        .count() as i64;
    match Store::connect(&db.standby_url).await {
        Err(error @ StoreError::StandbyNotMigrated { .. }) => {
            assert!(error.is_unavailable(), "{error}");
            let StoreError::StandbyNotMigrated { missing } = error else {
                unreachable!()
            };
            assert_eq!(missing, (1..=n_migrations).collect::<Vec<_>>());
        }
        other => panic!("connected to an unmigrated standby: {other:?}"),
    }
    // A writable server is refused at once, migrated or not.
    let serve = [
        "serve",
        "--database-url",
        &db.standby_url,
        "--listen",
        "127.0.0.1:0",
    ];
    let run = run_vmap(serve).await;
    assert!(!run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr.contains("hot standby") && run.stderr.contains("--read-only"),
        "{}",
        run.stderr
    );

    // Migrated on the primary, the standby's copy is usable once it has replayed.
    let primary = Store::connect(&db.primary.url)
        .await
        .expect("migrate the primary");
    assert!(!primary.is_standby());
    let started = Instant::now();
    let standby = loop {
        match Store::connect(&db.standby_url).await {
            Ok(store) => break store,
            Err(error) if error.is_unavailable() && started.elapsed() < GIVE_UP_AFTER => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("the standby after the primary's migrations: {error}"),
        }
    };
    assert!(standby.is_standby());
    let (from_primary, from_standby) = (primary.identity().await, standby.identity().await);
    assert_eq!(
        from_primary.expect("primary").instance_id,
        from_standby.expect("standby").instance_id
    );
    // A write there is refused as the database being read-only (25006), an outage rather
    // than a failure; the probe, a read, succeeds.
    let written = standby
        .set_postal_scheme(vmap::code::PostalScheme::Legacy)
        .await;
    assert!(
        written.as_ref().is_err_and(StoreError::is_unavailable),
        "{written:?}"
    );
    standby.probe().await.expect("the probe reads");
    standby.close().await;
    primary.close().await;
}
