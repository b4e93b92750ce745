//! Helpers shared by every module of the integration-test binary.
//!
//! - [`harness`]: `trials!`, which lists a module's tests, and how each kind is run;
//! - [`database`]: a fresh database per test on either backend ([`TestDb`]), direct SQL;
//! - [`app`]: seeded registries, the router driven in process, [`TestResponse`];
//! - [`server`]: [`Server`], `vmap serve` or the router on port 0, ready once `/readyz` is;
//! - [`http`]: [`HttpClient`], the one client for a real socket (hyper-util);
//! - [`vmap_cli`]: [`run_vmap`] and [`vmap_command`] for the CLI;
//! - [`lists`]: synthetic CSV lists, CSV answers taken apart;
//! - [`proxy`]: [`TcpProxy`], a TCP proxy a test closes to make a database unreachable;
//! - [`browser`]: [`Browser`](browser::Browser), headless Chromium through chromedriver, and
//!   the gate that ignores browser tests without it (and fails them under `CI=true`).
//! - [`standby`]: a PostgreSQL primary and its hot standby, [`StandbyDb`] on them.
//!
//! Decision: PostgreSQL variants when no server is given. The binary runs on libtest-mimic
//! (`harness = false` in Cargo.toml), which can mark a test *ignored* when the run starts.
//! Without `VMAP_TEST_DATABASE_URL`, every PostgreSQL variant is ignored: libtest's own
//! summary counts them ("N ignored"), one line on stderr says what to set, and
//! `--include-ignored` runs them to a failure that says it again. Under `CI=true` the run
//! fails instead: the `postgres_is_configured` test fails, saying what to set. What it
//! costs: libtest-mimic captures no output, so whatever a test prints shows at once, and
//! tests are listed in `trials!` rather than marked `#[test]`; a test function left out of
//! its module's list is dead code, which `cargo clippy -- -D warnings` refuses.

pub mod app;
pub mod browser;
pub mod database;
pub mod harness;
pub mod http;
pub mod lists;
pub mod metrics;
pub mod proxy;
pub mod server;
pub mod standby;
pub mod vmap_cli;

pub use app::{
    REGISTRY_SEED, TestResponse, assert_problem, encode, get, post_as, post_json, seeded_db,
    seeded_registry, send, test_app, zones,
};
pub use database::{Backend, DirectPool, TestDb, pg_connect, sqlite_url};
pub use lists::{column, parse_csv, synth_csv};
pub use proxy::TcpProxy;
pub use server::Server;
pub use standby::{StandbyDb, StandbyPair};
pub use vmap_cli::{run_vmap, vmap_command};
