//! Two overlapping lists assigned at once, through one router or by two processes on one
//! database, never issue one code twice, and every row is answered the code of its place.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Output;

use vmap::api::Limits;
use vmap::point::{LatLon, haversine_m};
use vmap::registry::DEFAULT_MATCH_RADIUS_M;
use vmap::store::ewkb;

use super::{
    count_addresses, duplicate_client_refs, duplicate_codes, seed_database, spawn_assign,
    wait_success,
};
use crate::helpers::harness::trials;
use crate::helpers::{
    Backend, DirectPool, REGISTRY_SEED, TestDb, column, parse_csv, post_as, synth_csv, test_app,
};

trials! {
    each_backend: [
        overlapping_lists_at_once_issue_no_code_twice,
        two_processes_assigning_overlapping_lists_at_once_issue_no_code_twice,
        two_processes_at_once_register_nothing_twice_and_a_rerun_finishes_the_job,
    ],
}

/// The registry every test here starts from: `test_app`'s, which the two-process tests seed
/// through the CLI with the same seed.
const REGISTRY_ADDRESSES: u64 = 2_000;
const LIST_SEED: u64 = 9;
const LIST_ROWS: usize = 6_000;
/// Rows 0..4000 and 2000..6000: 2 000 rows are in both lists.
const FIRST_LIST: std::ops::Range<usize> = 0..4_000;
const SECOND_LIST: std::ops::Range<usize> = 2_000..6_000;
/// Batches small enough that the two processes' transactions interleave on the one database.
const TWO_PROCESS_BATCH_ROWS: usize = 500;

async fn overlapping_lists_at_once_issue_no_code_twice(backend: &Backend) {
    let lists = OverlappingLists::synth();
    let places_alone = places_created_alone(backend, &lists).await;
    let (db, _registry, router) = test_app(backend, REGISTRY_ADDRESSES, Limits::default()).await;
    // Both requests start before either is answered; join! polls them together and reads
    // both bodies to the end.
    let (first, second) = tokio::join!(
        post_as(
            &router,
            "/v1/assign",
            "text/csv",
            None,
            lists.first_csv.clone()
        ),
        post_as(
            &router,
            "/v1/assign",
            "text/csv",
            None,
            lists.second_csv.clone()
        ),
    );
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(second.status, 200, "{}", second.text());
    let answers = Answers::read(&lists, &first.text(), &second.text());
    answers
        .check_against(&db.url, places_alone, Runs::Uninterrupted)
        .await;
}

// Two processes on one database: each knows only its own rows in memory, so the second to
// reach the overlap mints codes the first already holds; UNIQUE(code) refuses its batch, it
// catches up with the database and decides the batch again, now finding those places.
async fn two_processes_assigning_overlapping_lists_at_once_issue_no_code_twice(backend: &Backend) {
    let lists = OverlappingLists::synth();
    let places_alone = places_created_alone(backend, &lists).await;
    let two = assign_in_two_processes_at_once(backend, &lists).await;
    for (name, run) in ["first", "second"].into_iter().zip(&two.runs) {
        assert!(
            run.output.status.success(),
            "the {name} process failed ({}): {}",
            run.output.status,
            String::from_utf8_lossy(&run.output.stderr)
        );
    }
    two.answers(&lists)
        .check_against(&two.database.url, places_alone, Runs::Uninterrupted)
        .await;
}

/// What holds today for two processes at once: a process may stop on a code the other took,
/// but nothing is registered twice, and running its list again finishes the job with the
/// same codes as the other process gave the overlap.
async fn two_processes_at_once_register_nothing_twice_and_a_rerun_finishes_the_job(
    backend: &Backend,
) {
    let lists = OverlappingLists::synth();
    let places_alone = places_created_alone(backend, &lists).await;
    let two = assign_in_two_processes_at_once(backend, &lists).await;
    let pool = DirectPool::open(&two.database.url).await;
    assert_eq!(duplicate_codes(&pool).await, []);
    assert_eq!(duplicate_client_refs(&pool).await, []);
    pool.close().await;
    for (name, run) in ["first", "second"].into_iter().zip(&two.runs) {
        if run.output.status.success() {
            continue;
        }
        let stderr = String::from_utf8_lossy(&run.output.stderr);
        assert!(
            stderr.contains("already taken"),
            "the {name} process failed for another reason ({}): {stderr}",
            run.output.status
        );
        // Alone now, it loads the other's rows and finishes.
        wait_success(
            spawn_assign(
                &run.list,
                &run.answer,
                &two.database.url,
                TWO_PROCESS_BATCH_ROWS,
            ),
            "the rerun",
        );
    }
    two.answers(&lists)
        .check_against(&two.database.url, places_alone, Runs::StoppedAndRunAgain)
        .await;
}

/// The synthetic list, its two overlapping parts as CSV bodies.
struct OverlappingLists {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    first_csv: String,
    second_csv: String,
}

impl OverlappingLists {
    fn synth() -> OverlappingLists {
        let (header, rows) = parse_csv(&synth_csv(LIST_ROWS as u64, LIST_SEED));
        assert_eq!(rows.len(), LIST_ROWS);
        let first_csv = csv_text(&header, &rows[FIRST_LIST]);
        let second_csv = csv_text(&header, &rows[SECOND_LIST]);
        OverlappingLists {
            header,
            rows,
            first_csv,
            second_csv,
        }
    }
}

fn csv_text(header: &[String], rows: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("write header");
    for row in rows {
        writer.write_record(row).expect("write row");
    }
    String::from_utf8(writer.into_inner().expect("flush csv")).expect("utf-8")
}

/// How many new places the whole list holds: the codes it creates when assigned alone, in
/// one request, on a twin of the registry. Rows that are the same place get one code, so
/// this is the list's size minus its in-list duplicates (and minus places already
/// registered).
async fn places_created_alone(backend: &Backend, lists: &OverlappingLists) -> usize {
    let (_db, _registry, router) = test_app(backend, REGISTRY_ADDRESSES, Limits::default()).await;
    let whole_list = csv_text(&lists.header, &lists.rows);
    let response = post_as(&router, "/v1/assign", "text/csv", None, whole_list).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(rows.len(), LIST_ROWS);
    rows.iter()
        .filter(|row| column(&header, row, "status") == "created")
        .count()
}

/// One of two `vmap assign` processes: its list, its answered list, how it ended.
struct ProcessRun {
    list: PathBuf,
    answer: PathBuf,
    output: Output,
}

/// Two `vmap assign` processes on one database, started together and both waited for.
struct TwoProcessRun {
    _dir: tempfile::TempDir,
    database: TestDb,
    /// The first list's run, then the second's.
    runs: [ProcessRun; 2],
}

impl TwoProcessRun {
    fn answers<'a>(&self, lists: &'a OverlappingLists) -> Answers<'a> {
        let read = |run: &ProcessRun| std::fs::read_to_string(&run.answer).expect("answered list");
        Answers::read(lists, &read(&self.runs[0]), &read(&self.runs[1]))
    }
}

async fn assign_in_two_processes_at_once(
    backend: &Backend,
    lists: &OverlappingLists,
) -> TwoProcessRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDb::create(backend).await;
    seed_database(&database.url, REGISTRY_ADDRESSES, REGISTRY_SEED).await;
    let [first, second] =
        [("first", &lists.first_csv), ("second", &lists.second_csv)].map(|(name, csv)| {
            let list = dir.path().join(format!("{name}.csv"));
            std::fs::write(&list, csv).expect("write the list");
            let answer = dir.path().join(format!("{name}-coded.csv"));
            let child = spawn_assign(&list, &answer, &database.url, TWO_PROCESS_BATCH_ROWS);
            (list, answer, child)
        });
    // Both are waited for before either is judged, so that neither outlives the test.
    let runs = [first, second].map(|(list, answer, child)| ProcessRun {
        list,
        answer,
        output: child.wait_with_output().expect("wait for the process"),
    });
    TwoProcessRun {
        _dir: dir,
        database,
        runs,
    }
}

/// Whether every row was decided by one uninterrupted run of its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runs {
    Uninterrupted,
    /// A run was cut short and its list run again: the rows it had registered are then
    /// answered `existing`.
    StoppedAndRunAgain,
}

/// The two answered lists, read together.
struct Answers<'a> {
    lists: &'a OverlappingLists,
    code_by_id: HashMap<String, String>,
    /// (id, code) of every row answered `created`.
    created: Vec<(String, String)>,
}

impl<'a> Answers<'a> {
    /// Reads both answers: one row per input row, in input order, each `created` or
    /// `existing`; a row in both lists gets the same code in both.
    #[track_caller]
    fn read(lists: &'a OverlappingLists, first_answer: &str, second_answer: &str) -> Answers<'a> {
        let mut code_by_id: HashMap<String, String> = HashMap::new();
        let mut created = Vec::new();
        for (name, answer, range) in [
            ("first", first_answer, FIRST_LIST),
            ("second", second_answer, SECOND_LIST),
        ] {
            let (header, rows) = parse_csv(answer);
            assert_eq!(
                rows.len(),
                range.len(),
                "the {name} answer has one row per input row"
            );
            for (input, output) in lists.rows[range].iter().zip(&rows) {
                let id = column(&lists.header, input, "id");
                assert_eq!(column(&header, output, "id"), id, "{name} answer order");
                let status = column(&header, output, "status");
                assert!(
                    status == "created" || status == "existing",
                    "{name} answer, row {id}: {status} {} {}",
                    column(&header, output, "error_code"),
                    column(&header, output, "error_message")
                );
                let code = column(&header, output, "code").to_owned();
                if status == "created" {
                    created.push((id.to_owned(), code.clone()));
                }
                if let Some(earlier) = code_by_id.insert(id.to_owned(), code.clone()) {
                    assert_eq!(earlier, code, "row {id} got two codes");
                }
            }
        }
        assert_eq!(code_by_id.len(), LIST_ROWS);
        Answers {
            lists,
            code_by_id,
            created,
        }
    }

    /// Checks the answers against the database they were written to: as many places as the
    /// whole list makes alone, each registered once, for a row that was answered its code;
    /// and rows share a code only when they are the same place.
    async fn check_against(&self, database_url: &str, places_alone: usize, runs: Runs) {
        // No code was created twice, not even for a row of both lists.
        let created_codes: HashSet<&String> = self.created.iter().map(|(_, code)| code).collect();
        assert_eq!(
            created_codes.len(),
            self.created.len(),
            "a code was created twice"
        );
        let pool = DirectPool::open(database_url).await;
        assert_eq!(duplicate_codes(&pool).await, []);
        assert_eq!(duplicate_client_refs(&pool).await, []);
        let registered = registered_by_code(&pool).await;
        let n_addresses = count_addresses(&pool).await;
        pool.close().await;
        let minted: HashMap<&String, &String> = registered
            .iter()
            .filter_map(|(code, address)| address.client_ref.as_ref().map(|id| (code, id)))
            .collect();
        assert_eq!(minted.len(), places_alone);
        assert_eq!(
            n_addresses,
            REGISTRY_ADDRESSES + minted.len() as u64,
            "the database holds the seeded addresses and one per new place"
        );
        self.assert_minted_for_rows_answered_their_code(&minted, runs);
        self.assert_codes_shared_only_by_one_place(&registered);
    }

    /// Each registered row was registered by a row of the list that was answered its code,
    /// and each row answered `created` registered its code.
    #[track_caller]
    fn assert_minted_for_rows_answered_their_code(
        &self,
        minted: &HashMap<&String, &String>,
        runs: Runs,
    ) {
        for (code, id) in minted {
            assert_eq!(
                self.code_by_id.get(*id),
                Some(*code),
                "{code} was registered for row {id}, which was answered another code"
            );
        }
        for (id, code) in &self.created {
            assert_eq!(
                minted.get(code),
                Some(&id),
                "row {id} was answered created {code}, which is not registered for it"
            );
        }
        if runs == Runs::Uninterrupted {
            assert_eq!(
                self.created.len(),
                minted.len(),
                "every new place was answered created"
            );
        }
    }

    /// Every row's code is a registered address within the match radius with the same
    /// house number.
    #[track_caller]
    fn assert_codes_shared_only_by_one_place(&self, registered: &HashMap<String, Registered>) {
        let header = &self.lists.header;
        for row in &self.lists.rows {
            let id = column(header, row, "id");
            let code = &self.code_by_id[id];
            let Some(address) = registered.get(code) else {
                panic!("row {id} got {code}, which is not registered");
            };
            let location = LatLon::new(
                column(header, row, "lat").parse().expect("lat"),
                column(header, row, "lon").parse().expect("lon"),
            )
            .expect("a valid point");
            let distance_m = haversine_m(location, address.location);
            assert!(
                distance_m <= DEFAULT_MATCH_RADIUS_M + 1e-6,
                "row {id} got {code}, registered {distance_m} m away"
            );
            assert_eq!(
                house_key(Some(column(header, row, "house_number"))),
                house_key(address.house_number.as_deref()),
                "row {id} got {code} of another house number"
            );
        }
    }
}

/// A registered address, as the checks need it.
struct Registered {
    location: LatLon,
    house_number: Option<String>,
    /// The list row that registered it; none for seeded addresses.
    client_ref: Option<String>,
}

async fn registered_by_code(pool: &DirectPool) -> HashMap<String, Registered> {
    let sql = format!(
        "SELECT code, {} AS geom, house_number, client_ref FROM addresses",
        pool.geom_as_ewkb()
    );
    pool.fetch_all::<(String, Vec<u8>, Option<String>, Option<String>)>(&sql)
        .await
        .into_iter()
        .map(|(code, geom, house_number, client_ref)| {
            let location = ewkb::decode_point(&geom).expect("stored EWKB");
            let address = Registered {
                location,
                house_number,
                client_ref,
            };
            (code, address)
        })
        .collect()
}

fn house_key(text: Option<&str>) -> String {
    text.unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}
