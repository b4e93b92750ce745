//! Two real `vmap serve` replicas on one PostgreSQL database: a write through one is
//! answered by the other within a second, and two lists assigned through both at once never
//! issue one code twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sqlx::Connection;

use vmap::code::VmapCode;
use vmap::point::LatLon;

use super::point;
use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, Server, TestDb, TestResponse, column, parse_csv, pg_connect, run_vmap, synth_csv,
};

trials! {
    postgres: [
        an_address_assigned_through_one_replica_is_answered_by_the_other_within_a_second,
        a_retire_through_one_replica_disappears_from_the_other,
        two_replicas_assigning_overlapping_lists_at_once_never_issue_one_code_twice,
    ],
}

/// Addresses `vmap seed` puts in the replicas' database first.
const REPLICA_SEEDED: u64 = 20_000;
/// How long a replica may take to see another's write: within a second.
const FOLLOW_BOUND: Duration = Duration::from_secs(1);
/// How often a test asks a replica again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Two replicas on one PostgreSQL database seeded with [`REPLICA_SEEDED`] addresses.
/// Field order matters: the servers are killed before the database is dropped.
struct Replicas {
    a: Server,
    b: Server,
    db: TestDb,
}

async fn start_replicas(backend: &Backend) -> Replicas {
    let db = TestDb::create(backend).await;
    let count = REPLICA_SEEDED.to_string();
    run_vmap([
        "seed",
        "--database-url",
        &db.url,
        "--addresses",
        &count,
        "--seed",
        "1",
    ])
    .await
    .assert_success();
    let started = Instant::now();
    let (a, b) = tokio::join!(
        Server::start_vmap("replica-a", &db.url, db.dir.path()),
        Server::start_vmap("replica-b", &db.url, db.dir.path())
    );
    eprintln!(
        "two replicas with {REPLICA_SEEDED} addresses ready in {:?}",
        started.elapsed()
    );
    Replicas { a, b, db }
}

/// Codes in a `/v1/reverse` answer.
#[track_caller]
fn answered_codes(response: &TestResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|address| address["code"].as_str().map(str::to_owned))
        .collect()
}

fn reverse_path(at: LatLon) -> String {
    format!(
        "/v1/reverse?lat={:?}&lon={:?}&radius_m=5&limit=10",
        at.lat, at.lon
    )
}

async fn codes_at(server: &Server, at: LatLon) -> Vec<String> {
    answered_codes(&server.get(&reverse_path(at)).await)
}

/// Polls `server`'s reverse at `at` until `done` holds for the codes answered; returns how
/// long that took from `since`. Gives up (and fails) after 10 s.
async fn poll_reverse_until(
    server: &Server,
    at: LatLon,
    since: Instant,
    done: impl Fn(&[String]) -> bool,
) -> Duration {
    let mut poll = tokio::time::interval(POLL_EVERY);
    loop {
        poll.tick().await;
        let codes = codes_at(server, at).await;
        if done(&codes) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "{} still answers {codes:?} at {at:?} after 10 s",
            server.name
        );
    }
}

#[track_caller]
fn assert_within_follow_bound(what: &str, delays: &[Duration]) {
    let slowest = delays.iter().max().copied().unwrap_or_default();
    eprintln!("{what} delays: {delays:?} (slowest {slowest:?})");
    assert!(
        slowest < FOLLOW_BOUND,
        "replica b took {slowest:?} to follow {what} on replica a"
    );
}

async fn an_address_assigned_through_one_replica_is_answered_by_the_other_within_a_second(
    backend: &Backend,
) {
    let replicas = start_replicas(backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let places = [
        point(21.030_123_456_789, 105.852_345_678_91),
        point(10.776_543_210_987, 106.700_123_456_78),
        point(16.054_321_098_765, 108.202_987_654_32),
        point(12.238_765_432_109, 109.196_543_210_98),
        point(20.950_123_987_654, 107.080_456_789_01),
    ];
    let mut delays = Vec::new();
    for (n, at) in places.iter().enumerate() {
        let body = serde_json::json!({
            "lat": at.lat, "lon": at.lon, "house_number": format!("R{n}"), "street": "Phố Thử",
        });
        let response = a
            .post("/v1/addresses", "application/json", body.to_string())
            .await;
        let answered = Instant::now();
        assert_eq!(response.status, 201, "{}", response.text());
        let code = response.json()["code"].as_str().expect("code").to_owned();
        // The replica that wrote answers at once.
        assert_eq!(codes_at(a, *at).await.first(), Some(&code));
        let delay =
            poll_reverse_until(b, *at, answered, |codes| codes.first() == Some(&code)).await;
        eprintln!("replica b answered {code} {delay:?} after replica a registered it");
        delays.push(delay);
        // B's lookup reads the database: it knows the code whatever its memory holds.
        let lookup = b.get(&format!("/v1/codes/{code}")).await;
        assert_eq!(lookup.status, 200, "{}", lookup.text());
        assert_eq!(lookup.json()["status"], "active");
    }
    assert_within_follow_bound("a registration", &delays);
}

async fn a_retire_through_one_replica_disappears_from_the_other(backend: &Backend) {
    let replicas = start_replicas(backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let mut conn = pg_connect(&replicas.db.url).await;
    let victims: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT code, ST_Y(geom), ST_X(geom) FROM addresses WHERE status = 'active' \
         ORDER BY id LIMIT 3 OFFSET 1000",
    )
    .fetch_all(&mut conn)
    .await
    .expect("victims");
    conn.close().await.expect("close");
    assert_eq!(victims.len(), 3);
    let mut delays = Vec::new();
    for (code, lat, lon) in &victims {
        let at = point(*lat, *lon);
        assert!(codes_at(b, at).await.contains(code));
        let response = a.delete(&format!("/v1/addresses/{code}")).await;
        let answered = Instant::now();
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json()["status"], "retired");
        assert!(!codes_at(a, at).await.contains(code));
        let delay = poll_reverse_until(b, at, answered, |codes| !codes.contains(code)).await;
        eprintln!("replica b dropped retired {code} {delay:?} after replica a retired it");
        delays.push(delay);
        let lookup = b.get(&format!("/v1/codes/{code}")).await;
        assert_eq!(lookup.status, 200, "{}", lookup.text());
        let lookup = lookup.json();
        assert_eq!(lookup["registered"], true);
        assert_eq!(lookup["status"], "retired");
    }
    assert_within_follow_bound("a retirement", &delays);
    // Both replicas agree on the counts once b has followed.
    let status_a = a.get("/v1/status").await.json();
    let status_b = b.get("/v1/status").await.json();
    assert_eq!(status_a["retired_addresses"], 3);
    assert_eq!(status_b["retired_addresses"], 3);
    assert_eq!(status_a["active_addresses"], status_b["active_addresses"]);
}

/// Rows of the whole list, and of the two lists made of it.
const LIST_ROWS: usize = 4_500;
/// Each replica gets 3 000 rows: rows 0..3000 and 1500..4500, so 1 500 are in both.
const LIST_A: std::ops::Range<usize> = 0..3_000;
const LIST_B: std::ops::Range<usize> = 1_500..4_500;

/// An answered list by input id: (code, status).
type AnswersById = BTreeMap<String, (String, String)>;

async fn two_replicas_assigning_overlapping_lists_at_once_never_issue_one_code_twice(
    backend: &Backend,
) {
    let replicas = start_replicas(backend).await;
    let (a, b) = (&replicas.a, &replicas.b);
    let list = synth_csv(LIST_ROWS as u64, 9);
    let (list_a, list_b) = overlapping_lists(&list);

    let started = Instant::now();
    let (answer_a, answer_b) = tokio::join!(
        a.post("/v1/assign", "text/csv", list_a),
        b.post("/v1/assign", "text/csv", list_b),
    );
    eprintln!(
        "two overlapping lists of 3000 rows assigned at once in {:?}",
        started.elapsed()
    );
    let answers_a = answers_by_id(&answer_a, LIST_A.len());
    let answers_b = answers_by_id(&answer_b, LIST_B.len());
    for server in [a, b] {
        let retries = server
            .log_text()
            .matches("another writer took a code first")
            .count();
        eprintln!(
            "{} retried {retries} batch(es) after a code conflict",
            server.name
        );
    }

    assert_rows_in_both_lists_got_one_code(&answers_a, &answers_b);
    let max_seq = assert_each_place_registered_once(&replicas.db, &answers_a, &answers_b).await;
    // Once both have followed every change, the replicas decide the whole list alike.
    for server in [a, b] {
        wait_until_followed(server, max_seq).await;
    }
    assert_replicas_decide_the_whole_list_alike(&replicas, &list, &answers_a, &answers_b).await;
}

/// The header and rows [`LIST_A`], and the header and rows [`LIST_B`], of `list`.
fn overlapping_lists(list: &str) -> (String, String) {
    let mut lines = list.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), LIST_ROWS);
    let list_a = format!("{header}\n{}\n", rows[LIST_A].join("\n"));
    let list_b = format!("{header}\n{}\n", rows[LIST_B].join("\n"));
    (list_a, list_b)
}

/// The answered list by input id; every row is answered a well-formed code, `created` or
/// `existing`.
#[track_caller]
fn answers_by_id(response: &TestResponse, expected_rows: usize) -> AnswersById {
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(rows.len(), expected_rows, "rows answered");
    let mut answers = BTreeMap::new();
    for row in &rows {
        let status = column(&header, row, "status");
        assert!(
            status == "created" || status == "existing",
            "row {row:?} answered {status}"
        );
        assert!(column(&header, row, "error_code").is_empty(), "{row:?}");
        let code = column(&header, row, "code").to_owned();
        assert!(VmapCode::parse(&code).is_ok(), "{row:?}");
        answers.insert(
            column(&header, row, "id").to_owned(),
            (code, status.to_owned()),
        );
    }
    assert_eq!(answers.len(), expected_rows, "ids are unique");
    answers
}

fn n_created(answers: &AnswersById) -> i64 {
    answers
        .values()
        .filter(|(_, status)| status == "created")
        .count() as i64
}

/// Rows in both lists got one code, created by at most one replica.
#[track_caller]
fn assert_rows_in_both_lists_got_one_code(answers_a: &AnswersById, answers_b: &AnswersById) {
    let mut overlap = 0;
    for (id, (code_a, status_a)) in answers_a {
        if let Some((code_b, status_b)) = answers_b.get(id) {
            overlap += 1;
            assert_eq!(code_a, code_b, "row {id}: a said {code_a}, b said {code_b}");
            assert!(
                !(status_a == "created" && status_b == "created"),
                "row {id}: both replicas say they created {code_a}"
            );
        }
    }
    assert_eq!(overlap, LIST_A.end - LIST_B.start);
}

/// The database holds the seeded addresses and one row per code created, no code twice, no
/// place under two codes, and every code answered; returns its highest change number.
async fn assert_each_place_registered_once(
    db: &TestDb,
    answers_a: &AnswersById,
    answers_b: &AnswersById,
) -> i64 {
    let (created_a, created_b) = (n_created(answers_a), n_created(answers_b));
    eprintln!("replica a created {created_a}, replica b created {created_b}");
    let mut conn = pg_connect(&db.url).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(total, REPLICA_SEEDED as i64 + created_a + created_b);
    let duplicated: Vec<String> =
        sqlx::query_scalar("SELECT code FROM addresses GROUP BY code HAVING count(*) > 1")
            .fetch_all(&mut conn)
            .await
            .expect("duplicates");
    assert!(duplicated.is_empty(), "codes issued twice: {duplicated:?}");
    let same_place: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT ST_AsText(geom), house_number, count(DISTINCT code) FROM addresses \
         WHERE status = 'active' GROUP BY geom, house_number HAVING count(DISTINCT code) > 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("same places");
    assert!(
        same_place.is_empty(),
        "one place under several codes: {same_place:?}"
    );
    let answered: Vec<String> = answers_a
        .values()
        .chain(answers_b.values())
        .map(|(code, _)| code.clone())
        .collect();
    let registered: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT code) FROM addresses WHERE code = ANY($1)")
            .bind(&answered)
            .fetch_one(&mut conn)
            .await
            .expect("registered");
    let distinct: BTreeSet<&String> = answered.iter().collect();
    assert_eq!(
        registered,
        distinct.len() as i64,
        "every code answered is registered"
    );
    let max_seq: i64 = sqlx::query_scalar("SELECT max(change_seq) FROM addresses")
        .fetch_one(&mut conn)
        .await
        .expect("max change_seq");
    conn.close().await.expect("close");
    max_seq
}

/// Polls `/v1/status` until `server` has applied every change up to `max_seq` (10 s at most).
async fn wait_until_followed(server: &Server, max_seq: i64) {
    let started = Instant::now();
    let mut poll = tokio::time::interval(POLL_EVERY);
    loop {
        poll.tick().await;
        let status = server.get("/v1/status").await.json();
        if status["data_version"].as_i64() == Some(max_seq) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} is at {} of {max_seq}",
            server.name,
            status["data_version"]
        );
    }
}

/// A dry run of the whole list on either replica answers alike: every row `existing`, with
/// the code it was answered when assigned.
async fn assert_replicas_decide_the_whole_list_alike(
    replicas: &Replicas,
    list: &str,
    answers_a: &AnswersById,
    answers_b: &AnswersById,
) {
    let (dry_a, dry_b) = tokio::join!(
        replicas
            .a
            .post("/v1/assign?dry_run=true", "text/csv", list.to_owned()),
        replicas
            .b
            .post("/v1/assign?dry_run=true", "text/csv", list.to_owned()),
    );
    let dry_a = answers_by_id(&dry_a, LIST_ROWS);
    let dry_b = answers_by_id(&dry_b, LIST_ROWS);
    assert_eq!(
        dry_a, dry_b,
        "the replicas decide the same list differently"
    );
    for (id, (code, status)) in &dry_a {
        assert_eq!(status, "existing", "row {id} would be new again");
        let first = answers_a
            .get(id)
            .or_else(|| answers_b.get(id))
            .expect("row");
        assert_eq!(code, &first.0, "row {id} now matches another code");
    }
}
