//! `vmap bench`: resolves the arguments of each mode and prints its report.

use std::sync::Arc;

use super::args::{BenchArgs, BenchMode};
use super::{CliError, open_registry};
use crate::registry;

/// A load report of `vmap bench`, as a table or as JSON.
pub(super) fn print_load_report(report: &crate::bench::LoadReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", crate::bench::render_load_table(report));
    }
}

pub(super) async fn bench(args: BenchArgs) -> Result<(), CliError> {
    use crate::bench::{self, BenchError, LoadContext, QuerySet};
    let usage = |error: BenchError| CliError::Usage(error.to_string());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let given_url = args
        .database_url
        .clone()
        .filter(|url| !url.trim().is_empty());
    let database_url = match (args.mode, given_url) {
        (BenchMode::Index, None) => Some("sqlite://vmap.db".to_owned()),
        (BenchMode::Postgis, None) => {
            return Err(CliError::Usage(
                "--mode postgis needs --database-url postgres://… (vmap's database)".to_owned(),
            ));
        }
        (_, url) => url,
    };
    if args.mode != BenchMode::Index {
        if !(1..=registry::MAX_LIMIT).contains(&args.limit) {
            return Err(CliError::Usage(format!(
                "--limit must be between 1 and {}",
                registry::MAX_LIMIT
            )));
        }
        if !(0.0..=registry::MAX_RADIUS_M).contains(&args.radius_m) {
            return Err(CliError::Usage(format!(
                "--radius-m must be between 0 and {}",
                registry::MAX_RADIUS_M
            )));
        }
    }
    // The registry: what index mode queries; elsewhere the source of `near` points and the
    // reference of `--check`, loaded only for those.
    let needs_registry =
        args.mode == BenchMode::Index || args.queries == QuerySet::Near || args.check > 0;
    let registry = match (&database_url, needs_registry) {
        (Some(url), true) => Some(Arc::new(
            open_registry(url, args.zones_file.as_ref(), &args.snapshot).await?,
        )),
        _ => None,
    };
    let points = bench::query_points_from(
        registry.as_deref(),
        &args.queries,
        args.n_queries,
        args.seed,
    )
    .map_err(usage)?;
    let context = LoadContext {
        query_set: args.queries.clone(),
        seed: args.seed,
        limit: args.limit,
        radius_m: args.radius_m,
        warmup: args.warmup.into(),
        duration: args.duration.into(),
    };
    fn print_json(report: &impl serde::Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    }
    let outcome = match (args.mode, registry.clone()) {
        (BenchMode::Index, Some(registry)) => {
            let threads = args.threads.unwrap_or(cores);
            let (limit, radius_m, check) = (args.limit, args.radius_m, args.check);
            let report = tokio::task::spawn_blocking(move || {
                bench::bench_index(registry, points, limit, radius_m, threads, check)
            })
            .await
            .map_err(|error| CliError::Usage(format!("bench failed: {error}")))?;
            if args.json {
                print_json(&report);
            } else {
                print!("{}", bench::render_table(&report));
            }
            if report.mismatches > 0 {
                Err(BenchError::CheckFailed(report.mismatches, report.checked))
            } else {
                Ok(())
            }
        }
        (BenchMode::Index, None) => Err(BenchError::NeedsDatabase),
        (BenchMode::Http, registry) => {
            let url = args.url.clone().ok_or_else(|| {
                CliError::Usage("--mode http needs --url http://HOST:PORT".to_owned())
            })?;
            let concurrency = args.concurrency.unwrap_or(64);
            let settings = bench::http::HttpSettings {
                url,
                concurrency,
                batch_concurrency: args
                    .batch_concurrency
                    .unwrap_or_else(|| concurrency.min(cores)),
                batch_size: args.batch_size.unwrap_or(10_000),
                check: args.check,
                context,
            };
            let report = bench::http::run(&settings, points, registry)
                .await
                .map_err(usage)?;
            print_load_report(&report, args.json);
            report.verdict()
        }
        (BenchMode::Postgis, registry) => {
            let settings = bench::postgis::PostgisSettings {
                database_url: database_url.unwrap_or_default(),
                concurrency: vec![1, args.concurrency.or(args.threads).unwrap_or(cores)],
                batch_size: args
                    .batch_size
                    .unwrap_or(bench::postgis::DEFAULT_BATCH_SIZE),
                candidates: args.candidates,
                check: args.check,
                keep_jit: args.pg_jit,
                context,
            };
            let report = bench::postgis::run(&settings, points, registry)
                .await
                .map_err(usage)?;
            print_load_report(&report, args.json);
            report.verdict()
        }
    };
    if let Some(registry) = registry {
        registry.store().close().await;
    }
    outcome.map_err(usage)
}
