//! `vmap bench postgis`: the same queries as KNN SQL against the `addresses` table in PostGIS,
//! as a yardstick for the in-memory index.
//!
//! The table holds `geom geometry(Point, 4326)` with a GiST index, so the index-assisted
//! KNN operator `<->` orders by *planar* distance in degrees, while vmap answers by
//! great-circle distance. One degree of longitude is cos(lat) of a degree of latitude
//! (0.92–0.99 in Vietnam), so the planar order can differ from the true one. Each query
//! therefore takes `candidates × limit` nearest active rows by `<->` (16 per requested
//! address by default), computes `ST_Distance(geom::geography, point::geography, false)`
//! for them, and keeps the `limit` nearest within the radius, ties broken by id as in vmap.
//!
//! The answer is exact whenever the last candidate's planar distance exceeds the planar
//! distance of the `limit`-th true nearest by the factor 1/cos(lat) ≤ 1.09: any row left out
//! is then farther. With 16 candidates per address that factor is about 4 at uniform
//! density, so only a pathological layout (a dense row of points east–west of the query)
//! could defeat it; `--check N` measures it against the registry.
//!
//! `use_spheroid = false` makes PostGIS measure on its sphere of radius 6 371 008.77 m, the
//! WGS84 mean radius vmap's haversine uses to within 3 cm per 6 371 km, so distances agree
//! to far better than the 0.01 m the check allows and the two rank alike. (On the spheroid,
//! PostGIS's default, distances differ from vmap's by up to ~0.5 %.)
//!
//! Single queries run one statement per point on C connections (1 and C, like index mode's
//! one thread and every core); batches pass `--batch-size` points (default 1 000) as two
//! `float8[]` arrays through `UNNEST` into one `CROSS JOIN LATERAL` KNN statement.
//!
//! The bench's sessions run with `jit = off` unless `--pg-jit` is given: a 1 000-point
//! batch's planner cost passes `jit_above_cost`, and compiling it took ~170 ms per statement
//! on a 1 M-address table, more than running it (~130 ms). An OLTP deployment would turn
//! JIT off for such queries too; `--pg-jit` keeps the server's setting, to see its cost.

use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use super::{
    Answered, BenchError, LoadContext, LoadReport, LoadSpec, Outcome, Requester, compare_answers,
    redact_url, run_load,
};
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::Registry;

/// Most mismatching answers quoted in a report.
const MISMATCH_EXAMPLES: usize = 5;

/// KNN candidates per requested address, before re-ranking by spherical distance.
pub const DEFAULT_CANDIDATES: usize = 16;

/// Points per batch statement by default.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// One point: $1 lat, $2 lon, $3 candidates, $4 radius (m), $5 limit.
const SINGLE_SQL: &str = "\
SELECT r.id, r.code, r.distance_m FROM ( \
    SELECT knn.id, knn.code, \
        ST_Distance(knn.geom::geography, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography, false) AS distance_m \
    FROM ( \
        SELECT id, code, geom FROM addresses WHERE status = 'active' \
        ORDER BY geom <-> ST_SetSRID(ST_MakePoint($2, $1), 4326) LIMIT $3 \
    ) AS knn \
) AS r \
WHERE r.distance_m <= $4 \
ORDER BY r.distance_m, r.id \
LIMIT $5";

/// Many points: $1 lats, $2 lons, $3 candidates, $4 radius (m), $5 limit. `position`
/// numbers the input points from 1.
const BATCH_SQL: &str = "\
SELECT q.position, c.id, c.code, c.distance_m \
FROM UNNEST($1::float8[], $2::float8[]) WITH ORDINALITY AS q(lat, lon, position) \
CROSS JOIN LATERAL ( \
    SELECT r.id, r.code, r.distance_m FROM ( \
        SELECT knn.id, knn.code, \
            ST_Distance(knn.geom::geography, ST_SetSRID(ST_MakePoint(q.lon, q.lat), 4326)::geography, false) AS distance_m \
        FROM ( \
            SELECT id, code, geom FROM addresses WHERE status = 'active' \
            ORDER BY geom <-> ST_SetSRID(ST_MakePoint(q.lon, q.lat), 4326) LIMIT $3 \
        ) AS knn \
    ) AS r \
    WHERE r.distance_m <= $4 \
    ORDER BY r.distance_m, r.id \
    LIMIT $5 \
) AS c";

/// What `vmap bench postgis` was asked to do.
#[derive(Debug, Clone)]
pub struct PostgisSettings {
    /// `postgres://…`: the database holding vmap's `addresses` table.
    pub database_url: String,
    /// Connection counts to run each load at, e.g. `[1, 2]`.
    pub concurrency: Vec<usize>,
    /// Points per batch statement; 0 skips the batch loads.
    pub batch_size: usize,
    /// KNN candidates per requested address (see the module docs).
    pub candidates: usize,
    /// Compare this many answers (single and batch) with the registry's (needs a registry).
    pub check: usize,
    /// Keep the server's JIT setting instead of turning JIT off for the bench's sessions.
    pub keep_jit: bool,
    pub context: LoadContext,
}

/// The query's fixed parameters.
#[derive(Debug, Clone, Copy)]
struct KnnParams {
    candidates: i64,
    radius_m: f64,
    limit: i64,
}

impl KnnParams {
    fn new(settings: &PostgisSettings) -> Result<KnnParams, BenchError> {
        let limit = settings.context.query.limit();
        let too_big = || BenchError::Invalid("--limit × --candidates is too large".to_owned());
        let candidates = settings
            .candidates
            .max(1)
            .checked_mul(limit.max(1))
            .ok_or_else(too_big)?;
        Ok(KnnParams {
            candidates: i64::try_from(candidates).map_err(|_| too_big())?,
            radius_m: settings.context.query.radius_m(),
            limit: i64::try_from(limit).map_err(|_| too_big())?,
        })
    }
}

/// One KNN statement for one point; the rows as `(code, distance_m)`.
async fn knn_one(
    connection: &mut PgConnection,
    params: KnnParams,
    point: LatLon,
) -> Result<Vec<(String, f64)>, sqlx::Error> {
    sqlx::query(SINGLE_SQL)
        .bind(point.lat)
        .bind(point.lon)
        .bind(params.candidates)
        .bind(params.radius_m)
        .bind(params.limit)
        .fetch(&mut *connection)
        .map_ok(|row| (row.try_get::<String, _>(1), row.try_get::<f64, _>(2)))
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .map(|(code, distance)| Ok((code?, distance?)))
        .collect()
}

/// One batch statement; the rows as `(position from 0, code, distance_m)`.
async fn knn_batch(
    connection: &mut PgConnection,
    params: KnnParams,
    lats: &[f64],
    lons: &[f64],
) -> Result<Vec<(usize, String, f64)>, sqlx::Error> {
    let rows = sqlx::query(BATCH_SQL)
        .bind(lats)
        .bind(lons)
        .bind(params.candidates)
        .bind(params.radius_m)
        .bind(params.limit)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter()
        .map(|row| {
            let position: i64 = row.try_get(0)?;
            Ok((
                usize::try_from(position.saturating_sub(1)).unwrap_or(usize::MAX),
                row.try_get::<String, _>(2)?,
                row.try_get::<f64, _>(3)?,
            ))
        })
        .collect()
}

/// A batch's points as the two arrays the statement takes.
#[derive(Debug)]
struct BatchArrays {
    lats: Vec<f64>,
    lons: Vec<f64>,
}

impl BatchArrays {
    fn of(points: impl Iterator<Item = LatLon>) -> BatchArrays {
        let (lats, lons) = points.map(|point| (point.lat, point.lon)).unzip();
        BatchArrays { lats, lons }
    }
}

/// Runs of `batch_size` consecutive query points, wrapping around at the end so that every
/// batch is full.
fn batches(points: &[LatLon], batch_size: usize) -> Vec<BatchArrays> {
    if points.is_empty() || batch_size == 0 {
        return Vec::new();
    }
    (0..points.len().div_ceil(batch_size))
        .map(|batch_idx| {
            BatchArrays::of(
                (0..batch_size).map(|at| points[(batch_idx * batch_size + at) % points.len()]),
            )
        })
        .collect()
}

#[derive(Debug)]
enum Work {
    Single(Arc<Vec<LatLon>>),
    Batch(Arc<Vec<BatchArrays>>),
}

impl Work {
    fn items(&self) -> usize {
        match self {
            Work::Single(points) => points.len(),
            Work::Batch(batches) => batches.len(),
        }
    }
}

/// One worker of a postgis load: its own connection.
struct PgRequester {
    options: PgConnectOptions,
    connection: Option<PgConnection>,
    work: Arc<Work>,
    params: KnnParams,
}

impl PgRequester {
    async fn open(&mut self) -> Result<&mut PgConnection, String> {
        if self.connection.is_none() {
            let connection = self
                .options
                .connect()
                .await
                .map_err(|error| format!("connect: {error}"))?;
            self.connection = Some(connection);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| "no connection".to_owned())
    }
}

impl Requester for PgRequester {
    async fn connect(&mut self) -> Result<(), String> {
        self.open().await.map(|_| ())
    }

    async fn request(&mut self, item: usize) -> Outcome {
        let params = self.params;
        let work = self.work.clone();
        let connection = match self.open().await {
            Ok(connection) => connection,
            Err(message) => return Outcome::Failed(message),
        };
        let result = match &*work {
            Work::Single(points) => match points.get(item) {
                Some(&point) => knn_one(connection, params, point).await.map(|_| 1),
                None => return Outcome::Failed("no query point".to_owned()),
            },
            Work::Batch(batches) => match batches.get(item) {
                Some(batch) => knn_batch(connection, params, &batch.lats, &batch.lons)
                    .await
                    .map(|_| batch.lats.len() as u64),
                None => return Outcome::Failed("no batch".to_owned()),
            },
        };
        match result {
            Ok(points) => Outcome::Answered { points },
            Err(error) => {
                // The connection may be unusable; the next request opens a new one.
                self.connection = None;
                Outcome::Failed(error.to_string())
            }
        }
    }
}

fn connect_options(url: &str, keep_jit: bool) -> Result<PgConnectOptions, BenchError> {
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return Err(BenchError::Invalid(format!(
            "vmap bench postgis needs a postgres:// --database-url, not {}",
            redact_url(url)
        )));
    }
    let options = url.parse::<PgConnectOptions>()?.disable_statement_logging();
    Ok(if keep_jit {
        options
    } else {
        options.options([("jit", "off")])
    })
}

/// Runs each statement's answers for the first `n` points, single and batched, against the
/// registry's own; returns (checked, mismatches, examples).
async fn check_answers(
    options: &PgConnectOptions,
    params: KnnParams,
    registry: &Registry,
    points: &[LatLon],
    n: usize,
    context: &LoadContext,
) -> Result<(usize, usize, Vec<String>), BenchError> {
    let points: Vec<LatLon> = points.iter().take(n).copied().collect();
    let mut connection = options.connect().await?;
    let mut single = Vec::with_capacity(points.len());
    for &point in &points {
        single.push(knn_one(&mut connection, params, point).await?);
    }
    let mut batched: Vec<Vec<(String, f64)>> = vec![Vec::new(); points.len()];
    for (chunk_idx, chunk) in points.chunks(DEFAULT_BATCH_SIZE).enumerate() {
        let arrays = BatchArrays::of(chunk.iter().copied());
        for (position, code, distance) in
            knn_batch(&mut connection, params, &arrays.lats, &arrays.lons).await?
        {
            if let Some(answer) = batched.get_mut(chunk_idx * DEFAULT_BATCH_SIZE + position) {
                answer.push((code, distance));
            }
        }
    }
    connection.close().await?;
    let as_answered = |rows: &[(String, f64)]| -> Vec<Answered> {
        rows.iter()
            .map(|(code, distance_m)| Answered {
                code: VmapCode::parse(code).ok(),
                raw_code: code.clone(),
                distance_m: *distance_m,
            })
            .collect()
    };
    let mut differences = Vec::new();
    for ((&point, single), batched) in points.iter().zip(&single).zip(&batched) {
        let reference = registry.nearest_addresses(point, context.query);
        if let Some(difference) = compare_answers(point, &as_answered(single), &reference) {
            differences.push(format!("single: {difference}"));
        } else if let Some(difference) = compare_answers(point, &as_answered(batched), &reference) {
            differences.push(format!("batch: {difference}"));
        }
    }
    let mismatches = differences.len();
    differences.truncate(MISMATCH_EXAMPLES);
    Ok((points.len(), mismatches, differences))
}

/// Runs the single-point loads at each concurrency, then the batch loads, then the check.
pub async fn run(
    settings: &PostgisSettings,
    points: Vec<LatLon>,
    registry: Option<Arc<Registry>>,
) -> Result<LoadReport, BenchError> {
    let context = &settings.context;
    if settings.check > 0 && registry.is_none() {
        return Err(BenchError::Invalid(
            "--check in postgis mode needs the registry loaded from the same database".to_owned(),
        ));
    }
    if points.is_empty() {
        return Err(BenchError::NoQueries);
    }
    let options = connect_options(&settings.database_url, settings.keep_jit)?;
    let params = KnnParams::new(settings)?;
    // Fail early, and plainly, when the database is unreachable or is not vmap's.
    let mut probe = options.connect().await?;
    sqlx::query("SELECT 1 FROM addresses LIMIT 1")
        .fetch_optional(&mut probe)
        .await?;
    probe.close().await?;

    let mut report = LoadReport::new(
        "postgis",
        redact_url(&settings.database_url),
        registry.as_deref(),
        points.len(),
        context,
    );
    report.candidates_per_address = Some(settings.candidates.max(1));
    report.jit = Some(settings.keep_jit);
    let mut loads = vec![(
        LoadSpec {
            what: "knn".to_owned(),
            points_per_request: 1,
            items: points.len(),
        },
        Arc::new(Work::Single(Arc::new(points.clone()))),
    )];
    let batches = batches(&points, settings.batch_size);
    if !batches.is_empty() {
        loads.push((
            LoadSpec {
                what: "knn-batch".to_owned(),
                points_per_request: settings.batch_size,
                items: batches.len(),
            },
            Arc::new(Work::Batch(Arc::new(batches))),
        ));
    }
    let mut levels: Vec<usize> = settings.concurrency.iter().map(|&c| c.max(1)).collect();
    levels.dedup();
    for (spec, work) in &loads {
        debug_assert_eq!(spec.items, work.items());
        for &connections in &levels {
            let figures = run_load(spec, connections, context.warmup, context.duration, || {
                PgRequester {
                    options: options.clone(),
                    connection: None,
                    work: work.clone(),
                    params,
                }
            })
            .await;
            report.runs.push(figures);
        }
    }

    if let Some(registry) = registry
        && settings.check > 0
    {
        let outcome = check_answers(
            &options,
            params,
            &registry,
            &points,
            settings.check,
            context,
        )
        .await;
        report.record_check(settings.check.min(points.len()), outcome);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_full_and_wrap_around() {
        let points: Vec<LatLon> = (0..5)
            .map(|i| LatLon {
                lat: 10.0 + f64::from(i),
                lon: 106.0,
            })
            .collect();
        let batches = batches(&points, 2);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[2].lats, vec![14.0, 10.0]);
        assert!(super::batches(&points, 0).is_empty());
    }

    #[test]
    fn only_postgres_urls_are_taken() {
        assert!(connect_options("sqlite://vmap.db", false).is_err());
        let url = "postgres://vmap:pw@127.0.0.1:5432/vmap";
        let without_jit = connect_options(url, false).expect("a postgres URL");
        assert!(
            without_jit
                .get_options()
                .is_some_and(|o| o.contains("jit=off"))
        );
        let with_jit = connect_options(url, true).expect("a postgres URL");
        assert_eq!(with_jit.get_options(), None);
    }
}
