//! The system of record: addresses in a database, through sqlx.
//!
//! The backend is chosen at run time by the URL scheme (`sqlite:` or `postgres:`). Geometry is
//! PostGIS-compatible EWKB in every backend ([`ewkb`]). Migrations are embedded and run on
//! connect. The in-memory index is derived from what this module reads back.

mod availability;
pub mod ewkb;
mod postgres;
mod record;
mod sqlite;
mod sqlite_bulk;
mod sqlite_fresh;
mod standby;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::address::{Address, AddressChange, AddressId, AddressStatus, IndexRow, NewAddress};
use crate::code::{PostalScheme, VmapCode};
use crate::point::LatLon;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use sqlite_bulk::SqliteAppender;
pub use sqlite_fresh::SqliteFreshFile;

/// What an insert gave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Row ids, in input order.
    pub ids: Vec<AddressId>,
    /// The change sequence number of the last row.
    pub last_change_seq: i64,
    /// The change sequence number of the first row.
    pub first_change_seq: i64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the plain SQLite connections of the start-up read.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a code is already taken (another writer was first): {0}")]
    CodeTaken(String),
    #[error("the target database is not empty ({0} addresses)")]
    NotEmpty(u64),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Another process has the SQLite file open, so it is not replaced under it.
    #[error("{} is open in another process (its -wal file exists)", .0.display())]
    InUse(std::path::PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The registry's postal scheme was switched (`vmap migrate-postcodes`, maybe by
    /// another process) after the batch was decided: decide it again.
    #[error("the registry now mints {recorded} codes")]
    SchemeChanged { recorded: PostalScheme },
    /// A PostgreSQL hot standby lacks migrations this vmap embeds; a standby takes no
    /// writes, so they come only from the primary, by replication.
    #[error(
        "the database is a PostgreSQL hot standby without migration(s) {missing:?} of this vmap: \
         a standby takes no writes; start a writable vmap (or `vmap seed`) on the primary to \
         apply them, and they arrive here by replication"
    )]
    StandbyNotMigrated { missing: Vec<i64> },
}

/// The `postal_scheme` value of `vmap_meta`.
fn parse_scheme(value: Option<String>) -> Result<PostalScheme, StoreError> {
    let value =
        value.ok_or_else(|| StoreError::Corrupt("vmap_meta has no postal_scheme".to_owned()))?;
    PostalScheme::parse(&value)
        .ok_or_else(|| StoreError::Corrupt(format!("vmap_meta postal_scheme is {value:?}")))
}

impl StoreError {
    /// Whether the database is away (unreachable, refusing connections, locked by another
    /// writer for longer than the database timeout, read-only, full) rather than this
    /// request failing: the same request may succeed later. A hot standby still waiting
    /// for the primary's migrations to replay counts as away.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::StandbyNotMigrated { .. } => true,
            StoreError::Database(error) => availability::sqlx_error(error),
            StoreError::Sqlite(error) => availability::rusqlite_error(error),
            StoreError::Migrate(error) => availability::migrate_error(error),
            _ => false,
        }
    }
}

/// Summary figures of the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub active: u64,
    pub retired: u64,
    /// The highest change sequence: changes whenever any address does.
    pub data_version: i64,
}

/// Which database this is and how far its data goes: what a snapshot of the index is
/// checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreIdentity {
    /// Random, drawn when the database was created.
    pub instance_id: String,
    pub max_change_seq: i64,
    pub max_id: AddressId,
}

/// One entry of the database's history (`vmap_history`): a write numbered up to `version`,
/// and the random token drawn for it. Two databases that hold the same entry at or below a
/// version share their history up to there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEntry {
    pub version: i64,
    pub token: [u8; 16],
}

impl HistoryEntry {
    /// A fresh token: 16 bytes from rand's thread generator (seeded by the operating
    /// system), so another database holds the same one only by a 2^-128 chance.
    pub(crate) fn new_token() -> [u8; 16] {
        rand::random()
    }

    fn from_stored(version: i64, token: &[u8]) -> Result<HistoryEntry, StoreError> {
        let token = token.try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "history entry {version}: a token of {} bytes",
                token.len()
            ))
        })?;
        Ok(HistoryEntry { version, token })
    }
}

/// A connected store of either backend.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Runs the same call on whichever backend a store is.
macro_rules! dispatch {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            Store::Sqlite($inner) => $call,
            Store::Postgres($inner) => $call,
        }
    };
}

/// How many connections and threads a store uses; `vmap serve` and the other commands set
/// them from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most connections of the PostgreSQL pool.
    pub pg_max_connections: u32,
    /// Connections of the SQLite read pool (writes always go through one connection).
    pub sqlite_readers: u32,
    /// Plain SQLite connections that read the addresses at once at start-up, each over its
    /// own range of ids.
    pub load_threads: usize,
    /// Longest wait for the database: for a connection from a pool (and so for an
    /// unreachable server), and for another writer's lock (SQLite's `busy_timeout`,
    /// PostgreSQL's `lock_timeout`). Past it the call fails as unavailable.
    pub db_timeout: Duration,
}

impl StoreOptions {
    pub const DEFAULT_PG_MAX_CONNECTIONS: u32 = 16;
    pub const DEFAULT_SQLITE_READERS: u32 = 4;
    pub const DEFAULT_DB_TIMEOUT: Duration = Duration::from_secs(3);

    /// One start-up reader per core, at most four: decoding rows is what they spend their
    /// time on, and more readers than cores only contend.
    pub fn default_load_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(2, usize::from)
            .clamp(1, 4)
    }
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            pg_max_connections: StoreOptions::DEFAULT_PG_MAX_CONNECTIONS,
            sqlite_readers: StoreOptions::DEFAULT_SQLITE_READERS,
            load_threads: StoreOptions::default_load_threads(),
            db_timeout: StoreOptions::DEFAULT_DB_TIMEOUT,
        }
    }
}

impl Store {
    /// Connects by URL scheme with the default [`StoreOptions`] and runs the embedded
    /// migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects by URL scheme and runs the embedded migrations.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url, options).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(PostgresStore::connect(url, options).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The highest row id, 0 when empty: a cheap upper bound of the row count.
    pub async fn max_id(&self) -> Result<AddressId, StoreError> {
        dispatch!(self, store => store.max_id().await)
    }

    /// The SQLite database file; `None` for PostgreSQL and an in-memory database.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        match self {
            Store::Sqlite(store) => store.path(),
            Store::Postgres(_) => None,
        }
    }

    /// Where a snapshot of the index goes by default: next to a SQLite database file.
    pub fn default_snapshot_path(&self) -> Option<std::path::PathBuf> {
        match self {
            Store::Sqlite(store) => store.path().map(|path| {
                let mut name = path.as_os_str().to_owned();
                name.push(".snapshot");
                std::path::PathBuf::from(name)
            }),
            Store::Postgres(_) => None,
        }
    }

    pub async fn identity(&self) -> Result<StoreIdentity, StoreError> {
        dispatch!(self, store => store.identity().await)
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        dispatch!(self, store => store.counts().await)
    }

    /// The latest history entry numbered at or below `version` (one primary-key seek);
    /// `None` when there is none.
    pub async fn history_at(&self, version: i64) -> Result<Option<HistoryEntry>, StoreError> {
        let row: Option<(i64, Vec<u8>)> =
            dispatch!(self, store => store.history_at(version).await)?;
        row.map(|(version, token)| HistoryEntry::from_stored(version, &token))
            .transpose()
    }

    /// Checks, without waiting on another writer's lock, that the database answers and
    /// would take a write; what the service asks while the database is away, to learn
    /// when it is back. SQLite: a write, rolled back. PostgreSQL: a read, so that a read
    /// replica on a hot standby (which takes no writes) ends its outage once the standby
    /// answers again.
    pub async fn probe(&self) -> Result<(), StoreError> {
        dispatch!(self, store => store.probe().await)
    }

    /// Inserts addresses in one transaction: all or none. Ids and change sequence numbers
    /// are given out inside the transaction; the ids are returned in input order.
    /// A plain connection that appends rows fast, for seeding a SQLite file; `None` for
    /// PostgreSQL and in-memory SQLite, which take [`Store::insert_addresses`].
    pub fn appender(&self) -> Result<Option<SqliteAppender>, StoreError> {
        match self {
            Store::Sqlite(store) => store.appender(),
            Store::Postgres(_) => Ok(None),
        }
    }

    pub async fn insert_addresses(&self, rows: &[NewAddress]) -> Result<Inserted, StoreError> {
        dispatch!(self, store => store.insert_addresses(rows, None).await)
    }

    /// [`Store::insert_addresses`] for codes minted in `scheme`: refused with
    /// [`StoreError::SchemeChanged`] when the registry's recorded scheme is another one by
    /// the time the transaction holds the writers' lock (PostgreSQL: the `vmap_meta` row
    /// shared-locked; SQLite: the write transaction), so no batch decided before a switch
    /// commits after it.
    pub async fn insert_minted(
        &self,
        rows: &[NewAddress],
        scheme: PostalScheme,
    ) -> Result<Inserted, StoreError> {
        dispatch!(self, store => store.insert_addresses(rows, Some(scheme)).await)
    }

    /// The postal scheme the registry mints in (`vmap_meta`).
    pub async fn postal_scheme(&self) -> Result<PostalScheme, StoreError> {
        parse_scheme(dispatch!(self, store => store.meta_value("postal_scheme").await)?)
    }

    /// Records the postal scheme new codes are minted in; existing codes are untouched.
    pub async fn set_postal_scheme(&self, scheme: PostalScheme) -> Result<(), StoreError> {
        dispatch!(self, store => store.set_meta_value("postal_scheme", scheme.as_str()).await)
    }

    pub async fn get_by_code(&self, code: &VmapCode) -> Result<Option<Address>, StoreError> {
        dispatch!(self, store => store.get_by_code(code).await)
    }

    /// Applies `change` to the address holding `code`, in one transaction with a new change
    /// sequence number; returns the row as it was before and as it is now. `None` when no
    /// address holds the code.
    pub async fn update_address(
        &self,
        code: &VmapCode,
        change: &AddressChange,
    ) -> Result<Option<(Address, Address)>, StoreError> {
        dispatch!(self, store => store.update_address(code, change).await)
    }

    /// Calls `each` for every address, in no particular order, streaming (never all rows
    /// at once); returns the change number up to which the rows are complete.
    pub async fn for_each_index_row(
        &self,
        each: impl FnMut(IndexRow) -> Result<(), StoreError>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, store => store.for_each_index_row(each).await)
    }

    /// Changed rows with a change number above `change_seq`, in change order.
    pub async fn changes_since(
        &self,
        change_seq: i64,
        limit: i64,
    ) -> Result<Vec<IndexRow>, StoreError> {
        dispatch!(self, store => store.changes_since(change_seq, limit).await)
    }

    /// Up to `limit` whole rows with an id above `after_id`, in id order.
    pub async fn addresses_after(
        &self,
        after_id: AddressId,
        limit: i64,
    ) -> Result<Vec<Address>, StoreError> {
        dispatch!(self, store => store.addresses_after(after_id, limit).await)
    }

    /// The rows with these ids, in no particular order (ids no row has are left out).
    pub async fn addresses_by_ids(&self, ids: &[AddressId]) -> Result<Vec<Address>, StoreError> {
        dispatch!(self, store => store.addresses_by_ids(ids).await)
    }

    /// Inserts whole rows exactly as they are (ids, times, change numbers): for `vmap copy`.
    pub async fn import_addresses(&self, rows: &[Address]) -> Result<(), StoreError> {
        dispatch!(self, store => store.import_addresses(rows).await)
    }

    /// Whether the database is a PostgreSQL hot standby (in recovery when connected): it
    /// answers reads and takes no writes.
    pub fn is_standby(&self) -> bool {
        match self {
            Store::Sqlite(_) => false,
            Store::Postgres(store) => store.is_standby(),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        dispatch!(self, store => store.close().await)
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn parse_stored_code(text: &str) -> Result<VmapCode, StoreError> {
    VmapCode::parse(text).map_err(|err| StoreError::Corrupt(format!("stored code {text:?}: {err}")))
}

pub(crate) fn parse_stored_status(text: &str) -> Result<AddressStatus, StoreError> {
    AddressStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown status {text:?}")))
}

pub(crate) fn decode_geom(bytes: &[u8]) -> Result<LatLon, StoreError> {
    ewkb::decode_point(bytes).map_err(|err| StoreError::Corrupt(err.to_string()))
}

pub(crate) fn map_unique_violation(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db_err) if db_err.is_unique_violation() => {
            StoreError::CodeTaken(db_err.message().to_owned())
        }
        _ => StoreError::Database(err),
    }
}

/// What [`copy_registry`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyReport {
    pub rows: u64,
    pub duration: std::time::Duration,
}

/// Copies every address from `source` into the empty `target`, ids, times and change
/// numbers included, in batches streamed from the source.
pub async fn copy_registry(
    source: &Store,
    target: &Store,
    progress: &crate::progress::Progress,
) -> Result<CopyReport, StoreError> {
    const BATCH: usize = 20_000;
    let started = std::time::Instant::now();
    let target_counts = target.counts().await?;
    if target_counts.active + target_counts.retired > 0 {
        return Err(StoreError::NotEmpty(
            target_counts.active + target_counts.retired,
        ));
    }
    let source_counts = source.counts().await?;
    // The copy mints as the original does (a fresh target records 2025).
    target
        .set_postal_scheme(source.postal_scheme().await?)
        .await?;
    progress.set_total(source_counts.active + source_counts.retired);
    // Keyset pages by id: memory stays at one page whatever the registry's size.
    let mut rows = 0u64;
    let mut after_id = AddressId::MIN;
    loop {
        let page = source.addresses_after(after_id, BATCH as i64).await?;
        let Some(last) = page.last() else { break };
        after_id = last.id;
        target.import_addresses(&page).await?;
        rows += page.len() as u64;
        progress.inc(page.len() as u64);
        if page.len() < BATCH {
            break;
        }
    }
    progress.finish();
    Ok(CopyReport {
        rows,
        duration: started.elapsed(),
    })
}
