//! `vmap serve`: bind, load the registry, serve, follow other writers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::args::ServeArgs;
use super::{CliError, check_write_safety, connect, load_registry, load_zones};
use crate::api::{self, AppState};
use crate::progress::Progress;
use crate::registry::Registry;

pub(super) async fn serve(args: ServeArgs) -> Result<(), CliError> {
    check_write_safety(args.listen, &args.api_tokens, args.read_only)?;
    let zones = load_zones(&args.data.zones)?;
    let store = connect(&args.data).await?;
    if args.demo {
        let counts = store.counts().await?;
        if counts.active + counts.retired == 0 {
            eprintln!(
                "Empty database: seeding {} demo addresses…",
                args.demo_addresses
            );
            let progress = Progress::new("seeding", args.demo_addresses);
            let report =
                crate::synth::seed(&store, zones.clone(), args.demo_addresses, 1, &progress)
                    .await?;
            eprintln!(
                "Seeded {} addresses in {:.1} s",
                report.n_addresses,
                report.duration.as_secs_f64()
            );
        }
    }
    let limits = args.limits.limits();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| CliError::Listen {
            address: args.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(CliError::Serve)?;
    let mut state = AppState::loading(limits).with_tokens(args.api_tokens.clone());
    if args.read_only {
        state = state.read_only();
    }
    let router = api::app(state.clone());
    let server = tokio::spawn(api::serve(listener, router));
    tracing::info!(%address, "listening; loading the registry");
    let started = Instant::now();
    let registry = Arc::new(load_registry(&args.data.snapshot, store, zones).await?);
    let status = registry.status();
    state.set_registry(registry.clone());
    if args.follow_interval_ms > 0 {
        tokio::spawn(follow(
            registry,
            Duration::from_millis(args.follow_interval_ms),
        ));
    }
    let ready_after = started.elapsed();
    tracing::info!(
        seconds = ready_after.as_secs_f64(),
        addresses = status.n_active,
        "ready"
    );
    print_welcome(address, status.n_active, ready_after);
    server
        .await
        .map_err(|error| CliError::Serve(std::io::Error::other(error)))?
        .map_err(CliError::Serve)
}

/// Applies other writers' changes to memory, every `interval`, for as long as the server runs.
pub(super) async fn follow(registry: Arc<Registry>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match registry.catch_up().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(changes = n, "followed other writers"),
            Err(error) => tracing::warn!(%error, "following other writers failed; retrying"),
        }
    }
}

pub(super) fn print_welcome(address: SocketAddr, n_active: u64, ready_after: Duration) {
    eprintln!();
    eprintln!(
        "vmap is ready on http://{address} with {n_active} addresses (index built in {:.1} s)",
        ready_after.as_secs_f64()
    );
    eprintln!("Try:");
    eprintln!("  curl 'http://{address}/v1/reverse?lat=21.0285&lon=105.8542&limit=3'");
    eprintln!("  curl 'http://{address}/v1/zones?lat=10.7769&lon=106.7009'");
    eprintln!("The API is described at http://{address}/openapi.json; stop with Ctrl-C.");
}
