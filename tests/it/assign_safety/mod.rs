//! Crash safety and concurrency of bulk assignment: a list cut short by SIGKILL is finished
//! by running it again, with the codes a clean run gives; and two lists assigned at once
//! never issue one code twice.
//!
//! The crash tests and the two-process tests drive the real binary; the in-process
//! concurrency test goes through the router. Every test runs on SQLite and on PostgreSQL.

mod concurrency;
mod crash;

use std::path::Path;
use std::process::{Child, Stdio};

use crate::helpers::{DirectPool, run_vmap, vmap_command};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    [crash::trials(), concurrency::trials()]
        .into_iter()
        .flatten()
        .collect()
}

async fn seed_database(database_url: &str, addresses: u64, seed: u64) {
    run_vmap([
        "seed".to_owned(),
        "--addresses".to_owned(),
        addresses.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
        "--database-url".to_owned(),
        database_url.to_owned(),
    ])
    .await
    .assert_success();
}

/// `vmap assign LIST -o OUTPUT --batch-rows N` on `database`, not yet waited for.
fn spawn_assign(list: &Path, output: &Path, database_url: &str, batch_rows: usize) -> Child {
    vmap_command([
        "assign".to_owned(),
        list.display().to_string(),
        "-o".to_owned(),
        output.display().to_string(),
        "--batch-rows".to_owned(),
        batch_rows.to_string(),
        "--database-url".to_owned(),
        database_url.to_owned(),
    ])
    // Nobody reads the child's pipes while it runs, so a chatty child must not block on them.
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("vmap assign starts")
}

/// Waits for a child and fails the test, with its stderr, unless it succeeded.
#[track_caller]
fn wait_success(child: Child, what: &str) {
    let output = child.wait_with_output().expect("wait for vmap");
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn count_addresses(pool: &DirectPool) -> u64 {
    let count: i64 = pool.fetch_scalar("SELECT COUNT(*) FROM addresses").await;
    u64::try_from(count).expect("a count is not negative")
}

/// Codes stored more than once: always empty while `code` is UNIQUE, checked all the same
/// because it is the property that matters.
async fn duplicate_codes(pool: &DirectPool) -> Vec<(String, i64)> {
    pool.fetch_all("SELECT code, COUNT(*) FROM addresses GROUP BY code HAVING COUNT(*) > 1")
        .await
}

/// List rows registered more than once (seeded addresses have no client reference).
async fn duplicate_client_refs(pool: &DirectPool) -> Vec<(String, i64)> {
    pool.fetch_all(
        "SELECT client_ref, COUNT(*) FROM addresses WHERE client_ref IS NOT NULL \
         GROUP BY client_ref HAVING COUNT(*) > 1",
    )
    .await
}
