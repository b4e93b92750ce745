//! How a test is registered and run: `trials!` lists a module's tests, each kind of test gets
//! its runner here, and the PostgreSQL gate decides which PostgreSQL variants run.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use libtest_mimic::{Arguments, Trial};

use super::database::Backend;

/// The environment variable that names the PostgreSQL server of the PostgreSQL variants.
pub const DATABASE_URL_VARIABLE: &str = "VMAP_TEST_DATABASE_URL";

/// Lists a module's tests as `pub fn trials() -> Vec<Trial>`, one section per kind:
///
/// - `plain: [f]` — `fn f()`;
/// - `plain_ignored: [f]` — the same, ignored unless asked for (`--ignored`);
/// - `tokio: [f]` — `async fn f()`, on a runtime of its own;
/// - `each_backend: [f]` — `async fn f(backend: &Backend)`, run twice, as `f::sqlite` and
///   `f::postgres`, each on a fresh database;
/// - `each_backend_ignored: [f]` — the same, both variants ignored unless asked for
///   (`--include-ignored`);
/// - `postgres: [f]` — `async fn f(backend: &Backend)` that needs PostgreSQL: `f::postgres`;
/// - `browser: [f]` — `async fn f(browser: Browser)`, headless Chromium (`helpers::browser`).
/// - `each_backend_with_ogrinfo: [f]` — `each_backend`, for tests that run GDAL's `ogrinfo`:
///   without it they are ignored, or fail under `CI=true` (as PostgreSQL variants do).
/// - `standby: [f]` — `async fn f(pair: &StandbyPair)` on a PostgreSQL primary and its hot
///   standby (see [`super::standby`]).
///
/// A test is named after its module and function (`api::ops_endpoints::sqlite`), which is
/// what `cargo test --test it FILTER` matches.
macro_rules! trials {
    ($($kind:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        pub fn trials() -> Vec<libtest_mimic::Trial> {
            let trials: Vec<Vec<libtest_mimic::Trial>> = vec![$($(
                $crate::helpers::harness::trials!(
                    @of $kind,
                    $crate::helpers::harness::trial_name(module_path!(), stringify!($test)),
                    $test
                ),
            )*)*];
            trials.into_iter().flatten().collect()
        }
    };
    (@of plain, $name:expr, $test:ident) => {
        vec![$crate::helpers::harness::plain($name, $test)]
    };
    (@of plain_ignored, $name:expr, $test:ident) => {
        vec![$crate::helpers::harness::plain($name, $test).with_ignored_flag(true)]
    };
    (@of tokio, $name:expr, $test:ident) => {
        vec![$crate::helpers::harness::tokio($name, $test)]
    };
    (@of each_backend, $name:expr, $test:ident) => {
        $crate::helpers::harness::each_backend($name, |backend| async move {
            $test(&backend).await
        })
        .into()
    };
    (@of each_backend_ignored, $name:expr, $test:ident) => {
        $crate::helpers::harness::each_backend($name, |backend| async move {
            $test(&backend).await
        })
        .map(|trial| trial.with_ignored_flag(true))
        .into()
    };
    (@of browser, $name:expr, $test:ident) => {
        vec![$crate::helpers::browser::trial($name, |browser| async move {
            $test(browser).await
        })]
    };
    (@of each_backend_with_ogrinfo, $name:expr, $test:ident) => {
        $crate::helpers::harness::needing_ogrinfo($crate::helpers::harness::each_backend(
            $name,
            |backend| async move { $test(&backend).await },
        ))
    };
    (@of standby, $name:expr, $test:ident) => {
        vec![$crate::helpers::standby::standby($name, |pair| async move {
            $test(&pair).await
        })]
    };
    (@of postgres, $name:expr, $test:ident) => {
        vec![$crate::helpers::harness::postgres($name, |backend| async move {
            $test(&backend).await
        })]
    };
}
pub(crate) use trials;

/// `it::api` + `ops_endpoints` → `api::ops_endpoints`.
pub fn trial_name(module_path: &str, test: &str) -> String {
    let module = module_path
        .split_once("::")
        .map_or(module_path, |(_crate, module)| module);
    format!("{module}::{test}")
}

/// A trial whose body runs timed: one that takes longer than `VMAP_TEST_SLOW_SECS` (20 s
/// unless set) says so on stderr, so that a CI log shows where the suite's time goes.
pub fn timed_trial(name: String, body: impl FnOnce() + Send + 'static) -> Trial {
    let label = name.clone();
    Trial::test(name, move || {
        let started = std::time::Instant::now();
        body();
        let seconds = started.elapsed().as_secs_f64();
        let slow_after = std::env::var("VMAP_TEST_SLOW_SECS")
            .ok()
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(20.0);
        if seconds >= slow_after {
            eprintln!("slow trial: {label} took {seconds:.1} s");
        }
        Ok(())
    })
}

pub fn plain(name: String, test: fn()) -> Trial {
    timed_trial(name, test)
}

pub fn tokio<F, Fut>(name: String, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    timed_trial(name, move || block_on(test()))
}

/// The SQLite and the PostgreSQL variant of one test.
pub fn each_backend<F, Fut>(name: String, test: F) -> [Trial; 2]
where
    F: FnOnce(Backend) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = ()>,
{
    let sqlite = timed_trial(format!("{name}::sqlite"), move || {
        block_on(test(Backend::Sqlite));
    });
    [sqlite, postgres(name, test)]
}

/// The PostgreSQL variant of a test, gated by [`PostgresGate`].
pub fn postgres<F, Fut>(name: String, test: F) -> Trial
where
    F: FnOnce(Backend) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let name = format!("{name}::postgres");
    match PostgresGate::from_env() {
        PostgresGate::Server(url) => {
            timed_trial(name, move || block_on(test(Backend::Postgres(url))))
        }
        // Ignored, so that libtest counts it; run anyway (`--include-ignored`), it says why
        // it cannot.
        PostgresGate::Ignore | PostgresGate::Require => {
            N_IGNORED_FOR_WANT_OF_A_SERVER.fetch_add(1, Ordering::Relaxed);
            Trial::test(name, || Err(missing_server().into())).with_ignored_flag(true)
        }
    }
}

/// GDAL's `ogrinfo` (Debian `gdal-bin`), which the export tests open their files with.
pub const OGRINFO: &str = "ogrinfo";

/// `trials` as they are when `ogrinfo` runs; otherwise each one ignored (and, run anyway,
/// failing with what to install), or failing under `CI=true`.
pub fn needing_ogrinfo(trials: impl IntoIterator<Item = Trial>) -> Vec<Trial> {
    let available = std::process::Command::new(OGRINFO)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let missing =
        || format!("{OGRINFO} is not installed: install GDAL (Debian: apt-get install gdal-bin)");
    trials
        .into_iter()
        .map(|trial| {
            if available || trial.has_ignored_flag() {
                return trial;
            }
            let name = trial.name().to_owned();
            if on_ci() {
                Trial::test(name, move || {
                    Err(format!("CI=true, but {}", missing()).into())
                })
            } else {
                Trial::test(name, move || Err(missing().into())).with_ignored_flag(true)
            }
        })
        .collect()
}

/// PostgreSQL tests marked ignored for want of a server, for [`note_ignored_postgres`].
static N_IGNORED_FOR_WANT_OF_A_SERVER: AtomicUsize = AtomicUsize::new(0);

/// Whether the PostgreSQL variants run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresGate {
    /// `VMAP_TEST_DATABASE_URL` names a server: they run on it.
    Server(String),
    /// No server and not on CI: they are ignored, and libtest's summary counts them.
    Ignore,
    /// No server on CI (`CI=true`): the run must fail ([`configuration_trial`]).
    Require,
}

impl PostgresGate {
    pub fn from_env() -> PostgresGate {
        let url = std::env::var(DATABASE_URL_VARIABLE)
            .ok()
            .filter(|url| !url.trim().is_empty());
        match (url, on_ci()) {
            (Some(url), _) => PostgresGate::Server(url),
            (None, false) => PostgresGate::Ignore,
            (None, true) => PostgresGate::Require,
        }
    }
}

fn missing_server() -> String {
    format!(
        "{DATABASE_URL_VARIABLE} is not set: set it to a PostgreSQL + PostGIS server \
         (`.ci/postgres start` starts one and prints its URL)"
    )
}

/// `postgres_is_configured`: on CI it fails without a server; with a server it checks that
/// a fresh database there has PostGIS, as every PostgreSQL variant needs.
pub fn configuration_trial() -> Trial {
    let name = "postgres_is_configured";
    match PostgresGate::from_env() {
        PostgresGate::Server(url) => Trial::test(name, move || {
            block_on(super::database::assert_fresh_database_has_postgis(&url));
            Ok(())
        }),
        PostgresGate::Ignore => {
            N_IGNORED_FOR_WANT_OF_A_SERVER.fetch_add(1, Ordering::Relaxed);
            Trial::test(name, || Err(missing_server().into())).with_ignored_flag(true)
        }
        PostgresGate::Require => Trial::test(name, || {
            Err(format!("CI=true, but {}", missing_server()).into())
        }),
    }
}

/// One line on stderr, once per run, when PostgreSQL variants are ignored for want of a
/// server; libtest's summary then counts them among the ignored.
pub fn note_ignored_postgres(arguments: &Arguments) {
    let n_ignored = N_IGNORED_FOR_WANT_OF_A_SERVER.load(Ordering::Relaxed);
    if arguments.list || PostgresGate::from_env() != PostgresGate::Ignore || n_ignored == 0 {
        return;
    }
    eprintln!(
        "{n_ignored} PostgreSQL tests are ignored: set {DATABASE_URL_VARIABLE} to run them \
         (see README, Development)"
    );
}

/// Whether the tests run on CI (`CI=true`), where a missing server fails the run.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

/// Runs a test's future to the end on a runtime of its own, as `#[tokio::test]` would.
pub fn block_on<Fut: Future<Output = ()>>(test: Fut) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(test)
}
