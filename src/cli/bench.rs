//! `vmap bench index|http|postgis|geocode`: resolves each mode's arguments and prints its report.

use std::sync::Arc;

use super::args::{
    BenchCommand, BenchGeocodeArgs, BenchHttpArgs, BenchIndexArgs, BenchLoadArgs, BenchPostgisArgs,
    BenchQueryArgs, DataArgs, SnapshotArgs, StoreArgs, ZonesArgs,
};
use super::{CliError, open_registry};
use crate::bench::{self, BenchError, LoadContext, LoadReport, QuerySet};
use crate::point::LatLon;
use crate::registry::{Registry, ReverseQuery};

pub(super) async fn bench(command: BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Index(args) => bench_index(args).await,
        BenchCommand::Http(args) => bench_http(args).await,
        BenchCommand::Postgis(args) => bench_postgis(args).await,
        BenchCommand::Geocode(args) => bench_geocode(args).await,
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The validated query and the query points (drawn near `registry`'s addresses when asked).
fn query_and_points(
    args: &BenchQueryArgs,
    registry: Option<&Registry>,
) -> Result<(ReverseQuery, Vec<LatLon>), CliError> {
    let query = args.reverse_query().map_err(CliError::query)?;
    let points = bench::query_points_from(registry, &args.queries, args.n_queries, args.seed)?;
    Ok((query, points))
}

fn load_context(args: &BenchQueryArgs, load: &BenchLoadArgs, query: ReverseQuery) -> LoadContext {
    LoadContext {
        query_set: args.queries.clone(),
        seed: args.seed,
        query,
        warmup: load.warmup.into(),
        duration: load.duration.into(),
    }
}

/// The registry of `database_url`, loaded only when the query points or `--check` need it.
async fn optional_registry(
    args: &BenchQueryArgs,
    database_url: Option<&str>,
    zones: &ZonesArgs,
    snapshot: &SnapshotArgs,
    store: &StoreArgs,
) -> Result<Option<Arc<Registry>>, CliError> {
    let needed = args.queries == QuerySet::Near || args.check > 0;
    match (database_url.filter(|url| !url.trim().is_empty()), needed) {
        (Some(url), true) => {
            let data = DataArgs {
                database_url: url.to_owned(),
                zones: zones.clone(),
                snapshot: snapshot.clone(),
                store: store.clone(),
            };
            Ok(Some(Arc::new(open_registry(&data).await?)))
        }
        _ => Ok(None),
    }
}

fn print_json(report: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
}

/// A load report of `vmap bench`, as a table or as JSON.
fn print_load_report(report: &LoadReport, json: bool) {
    if json {
        print_json(report);
    } else {
        print!("{}", bench::render_load_table(report));
    }
}

async fn bench_index(args: BenchIndexArgs) -> Result<(), CliError> {
    let registry = Arc::new(open_registry(&args.data).await?);
    let (query, points) = query_and_points(&args.query, Some(&registry))?;
    let threads = args.threads.unwrap_or_else(cores);
    let check = args.query.check;
    let index_registry = registry.clone();
    let report = tokio::task::spawn_blocking(move || {
        bench::bench_index(index_registry, points, query, threads, check)
    })
    .await
    .map_err(|source| CliError::Task {
        task: "the index bench",
        source,
    })?;
    if args.query.json {
        print_json(&report);
    } else {
        print!("{}", bench::render_table(&report));
    }
    registry.close().await;
    if report.mismatches > 0 {
        return Err(BenchError::CheckFailed(report.mismatches, report.checked).into());
    }
    Ok(())
}

async fn bench_http(args: BenchHttpArgs) -> Result<(), CliError> {
    let registry = optional_registry(
        &args.query,
        args.database_url.as_deref(),
        &args.zones,
        &args.snapshot,
        &args.store,
    )
    .await?;
    let (query, points) = query_and_points(&args.query, registry.as_deref())?;
    let settings = bench::http::HttpSettings {
        url: args.url.clone(),
        concurrency: args.concurrency,
        batch_concurrency: args.batch_concurrency.unwrap_or_else(|| {
            args.concurrency
                .min(cores())
                .min(crate::api::Limits::DEFAULT.max_concurrent_batches)
        }),
        batch_size: args.batch_size,
        batch_queries: args.batch_queries.clone(),
        check: args.query.check,
        context: load_context(&args.query, &args.load, query),
    };
    let report = bench::http::run(&settings, points, registry.clone()).await?;
    print_load_report(&report, args.query.json);
    if let Some(registry) = registry {
        registry.close().await;
    }
    Ok(report.verdict()?)
}

async fn bench_postgis(args: BenchPostgisArgs) -> Result<(), CliError> {
    let registry = optional_registry(
        &args.query,
        Some(&args.database_url),
        &args.zones,
        &args.snapshot,
        &args.store,
    )
    .await?;
    let (query, points) = query_and_points(&args.query, registry.as_deref())?;
    let settings = bench::postgis::PostgisSettings {
        database_url: args.database_url.clone(),
        concurrency: vec![1, args.concurrency.unwrap_or_else(cores)],
        batch_size: args.batch_size,
        candidates: args.candidates,
        check: args.query.check,
        keep_jit: args.pg_jit,
        context: load_context(&args.query, &args.load, query),
    };
    let report = bench::postgis::run(&settings, points, registry.clone()).await?;
    print_load_report(&report, args.query.json);
    if let Some(registry) = registry {
        registry.close().await;
    }
    Ok(report.verdict()?)
}

async fn bench_geocode(args: BenchGeocodeArgs) -> Result<(), CliError> {
    use bench::geocode::{self, GeocodeSettings, HttpGeocodeSettings};
    let settings = GeocodeSettings {
        limit: args.limit,
        check: args.check,
        autocomplete: args.autocomplete,
    };
    settings.validate()?;
    let registry = Arc::new(open_registry(&args.data).await?);
    let mut queries = geocode::draw_queries(&registry, args.n_queries, args.seed).await?;
    if settings.autocomplete {
        geocode::typed_prefixes(&mut queries);
    }
    let report = match &args.url {
        None => {
            let threads = args.threads.unwrap_or_else(cores);
            let search_registry = registry.clone();
            tokio::task::spawn_blocking(move || {
                geocode::bench_in_process(search_registry, queries, settings, threads)
            })
            .await
            .map_err(|source| CliError::Task {
                task: "the geocode bench",
                source,
            })??
        }
        Some(url) => {
            let http = HttpGeocodeSettings {
                url: url.clone(),
                concurrency: args.concurrency,
                warmup: args.load.warmup.into(),
                duration: args.load.duration.into(),
            };
            geocode::http::run(&http, queries, settings).await?
        }
    };
    if args.json {
        print_json(&report);
    } else {
        print!("{}", geocode::render_geocode_table(&report));
    }
    registry.close().await;
    Ok(report.verdict()?)
}
