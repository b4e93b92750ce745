//! `vmap serve`: bind, connect and load the registry, serve, watch the database.
//!
//! Decisions: the server listens before it connects, so `/healthz` answers (and `/readyz`
//! says "not ready") while the database is awaited. A database that is away at start-up
//! (refused, silent, locked) is retried with a doubling wait capped at [`RETRY_CAP`],
//! warning each time, rather than ending the process: a service manager that starts vmap
//! and PostgreSQL together needs no ordering. Any other failure (a wrong password, a bad
//! URL, a failed migration) still ends it, since waiting does not cure it.
//!
//! A PostgreSQL hot standby is served only `--read-only`: a writer there would answer 503 to
//! every write, for as long as the standby stays one, so `serve` refuses to start instead,
//! saying to point writers at the primary (and `--demo`, which seeds, likewise). A standby
//! still waiting for the primary's migrations to replay is waited for like an absent one.
//!
//! A snapshot due after a build from the database is written once the server is ready, in
//! the background (`Registry::write_pending_snapshot`): a start no longer waits the ~10 s
//! a 25 M-address snapshot takes to write, and the file still describes one data version.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::args::ServeArgs;
use super::{CliError, check_write_safety, connect, load_registry_deferring_snapshot, load_zones};
use crate::api::{self, AppState};
use crate::progress::Progress;
use crate::registry::Registry;
use crate::store::{Store, StoreError};
use crate::zones::ZoneTable;

/// The first wait before the database is asked again at start-up; doubled each time…
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// …up to this.
const RETRY_CAP: Duration = Duration::from_secs(30);

/// How often the database is probed during an outage when following is off.
const PROBE_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn serve(args: ServeArgs) -> Result<(), CliError> {
    check_write_safety(args.listen, &args.api_tokens, args.read_only)?;
    let zones = load_zones(&args.data.zones)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| CliError::Listen {
            address: args.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(CliError::Serve)?;
    let mut state = AppState::loading(args.limits.limits())
        .with_tokens(args.api_tokens.clone())
        .with_rate_limit(args.rate_limit())
        .with_cors_origins(args.cors_origins.clone())
        .with_page(args.page());
    if args.read_only {
        state = state.read_only();
    }
    let router = api::app(state.clone());
    let mut server = tokio::spawn(api::serve(
        listener,
        router,
        args.connections.limits(),
        state.drain(),
    ));
    tracing::info!(%address, "listening; loading the registry");
    let started = Instant::now();
    let loading = async {
        let store = until_available("connecting", || async {
            let connected = connect(&args.data).await;
            // A writer is refused on a standby before it would wait for its migrations.
            let standby = match &connected {
                Ok(store) => store.is_standby(),
                Err(error) => matches!(
                    error,
                    CliError::Store(StoreError::StandbyNotMigrated { .. })
                ),
            };
            if standby {
                check_standby_use(&args)?;
            }
            connected
        })
        .await?;
        if args.demo {
            seed_demo(&store, &zones, args.demo_addresses).await?;
        }
        until_available("loading the registry", || async {
            Ok(
                load_registry_deferring_snapshot(&args.data.snapshot, store.clone(), zones.clone())
                    .await?,
            )
        })
        .await
    };
    let registry = tokio::select! {
        loaded = loading => Arc::new(loaded?),
        // Stopped (or failed) before the registry was loaded.
        ended = &mut server => return served(ended),
    };
    return_freed_memory();
    let status = registry.status();
    let follow = args.follow_interval_ms > 0;
    if follow {
        // The registry was just read from the database: that counts as following it, so
        // the follow age is exported from the first answer on, not from the first catch-up.
        api::metrics::note_followed(0);
    }
    state.set_registry(registry.clone());
    // The address parser folds every name of both maps once: built now, off the runtime,
    // rather than by the first /v1/parse or /v1/convert.
    let warm = registry.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(map) = warm.zones().map_2025() {
            map.parser();
        }
    });
    let interval = if follow {
        Duration::from_millis(args.follow_interval_ms)
    } else {
        PROBE_EVERY
    };
    // A snapshot due (after a build from the database) is written now that requests are
    // answered, from a copy of memory that writes do not disturb.
    let writer = registry.clone();
    tokio::spawn(async move { writer.write_pending_snapshot().await });
    tokio::spawn(watch(registry, follow, interval));
    let ready_after = started.elapsed();
    tracing::info!(
        seconds = ready_after.as_secs_f64(),
        addresses = status.n_active,
        "ready"
    );
    print_welcome(address, status.n_active, status.build_duration);
    served(server.await)
}

fn served(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), CliError> {
    ended
        .map_err(|error| CliError::Serve(std::io::Error::other(error)))?
        .map_err(CliError::Serve)
}

/// Runs `attempt` until it succeeds or fails for another reason than the database being
/// away, waiting [`RETRY_FIRST`], then twice as long each time up to [`RETRY_CAP`].
async fn until_available<T, Fut>(
    what: &str,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, CliError>
where
    Fut: Future<Output = Result<T, CliError>>,
{
    let mut wait = RETRY_FIRST;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match attempt().await {
            Err(error) if error.is_database_unavailable() => {
                tracing::warn!(
                    attempt = attempts,
                    retry_in_s = wait.as_secs_f64(),
                    %error,
                    "the database is unavailable ({what}); retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_CAP);
            }
            outcome => return outcome,
        }
    }
}

/// A hot standby takes no writes: only a read-only server without `--demo` may use one.
fn check_standby_use(args: &ServeArgs) -> Result<(), CliError> {
    if !args.read_only {
        return Err(CliError::Usage(
            "the database is a PostgreSQL hot standby, which takes no writes: serve it with \
             --read-only (VMAP_READ_ONLY) as a read replica, and point writers at the primary"
                .to_owned(),
        ));
    }
    if args.demo {
        return Err(CliError::Usage(
            "--demo seeds the database, and a PostgreSQL hot standby takes no writes: seed \
             the primary"
                .to_owned(),
        ));
    }
    Ok(())
}

/// `--demo`: seeds an empty database with synthetic addresses.
async fn seed_demo(store: &Store, zones: &Arc<ZoneTable>, n: u64) -> Result<(), CliError> {
    let counts = store.counts().await?;
    if counts.active + counts.retired > 0 {
        return Ok(());
    }
    eprintln!("Empty database: seeding {n} demo addresses…");
    let progress = Progress::new("seeding", n);
    let report = crate::synth::seed(store, zones.clone(), n, 1, &progress).await?;
    eprintln!(
        "Seeded {} addresses in {:.1} s",
        report.n_addresses,
        report.duration.as_secs_f64()
    );
    Ok(())
}

/// Every `interval`, for as long as the server runs: while the database is away, probes
/// it (the outage ends when it answers); otherwise, when `follow`, applies the changes
/// other writers (processes, replicas) made. The registry logs an outage's start and end.
pub(super) async fn watch(registry: Arc<Registry>, follow: bool, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if registry.database_outage().is_some() && registry.check_database().await.is_err() {
            continue;
        }
        if !follow {
            continue;
        }
        match registry.catch_up().await {
            Ok(0) => api::metrics::note_followed(0),
            Ok(n) => {
                api::metrics::note_followed(n);
                tracing::debug!(changes = n, "followed other writers");
            }
            Err(error) if error.is_database_unavailable() => {}
            Err(error) => tracing::warn!(%error, "following other writers failed; retrying"),
        }
    }
}

pub(super) fn print_welcome(address: SocketAddr, n_active: u64, built_in: Duration) {
    eprintln!();
    eprintln!(
        "vmap is ready on http://{address} with {n_active} addresses (index built in {:.1} s)",
        built_in.as_secs_f64()
    );
    eprintln!("Try:");
    eprintln!("  curl 'http://{address}/v1/reverse?lat=21.0285&lon=105.8542&limit=3'");
    eprintln!("  curl 'http://{address}/v1/zones?lat=10.7769&lon=106.7009'");
    eprintln!("The API is described at http://{address}/openapi.json; stop with Ctrl-C.");
}

/// Hands the memory freed while loading (read buffers, the snapshot's tree bytes) back to
/// the system. mimalloc, the binary's allocator, gives freed pages back only as threads go
/// on allocating, and the threads that loaded go idle: at 25 M from the snapshot that left
/// 0.8 GB more resident than the registry holds (see the README's Performance section).
#[allow(unsafe_code)]
fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointer and has no precondition; it only releases
    // memory that no allocation holds. Without mimalloc as the allocator it has nothing to do.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
