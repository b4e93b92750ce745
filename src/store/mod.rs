//! The system of record: addresses in a database, through sqlx.
//!
//! The backend is chosen at run time by the URL scheme (`sqlite:` today). Geometry is
//! PostGIS-compatible EWKB in every backend ([`ewkb`]). Migrations are embedded and run on
//! connect. The in-memory index is derived from what this module reads back.

pub mod ewkb;
mod postgres;
mod sqlite;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::code::VmapCode;
use crate::point::LatLon;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Row id in the `addresses` table; the index names points by it.
pub type AddressId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressStatus {
    Active,
    Retired,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressStatus::Active => "active",
            AddressStatus::Retired => "retired",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<AddressStatus, StoreError> {
        match text {
            "active" => Ok(AddressStatus::Active),
            "retired" => Ok(AddressStatus::Retired),
            other => Err(StoreError::Corrupt(format!("unknown status {other:?}"))),
        }
    }
}

/// The descriptive parts of an address; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressParts {
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    /// Free text, as the client wrote the address.
    pub address: Option<String>,
    /// The client's own reference for the address.
    pub client_ref: Option<String>,
}

/// An address to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAddress {
    pub code: VmapCode,
    pub location: LatLon,
    pub parts: AddressParts,
}

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

/// A stored address.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressRow {
    pub id: AddressId,
    pub code: VmapCode,
    pub location: LatLon,
    pub parts: AddressParts,
    pub status: AddressStatus,
    pub successor: Option<VmapCode>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub change_seq: i64,
}

/// A change to a stored address. `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressChange {
    pub location: Option<LatLon>,
    pub house_number: Option<Option<String>>,
    pub alley: Option<Option<String>>,
    pub street: Option<Option<String>>,
    pub unit: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub client_ref: Option<Option<String>>,
    pub status: Option<AddressStatus>,
    pub successor: Option<Option<VmapCode>>,
}

impl AddressChange {
    /// The row after the change.
    pub fn apply_to(&self, row: &AddressRow) -> AddressRow {
        fn pick<T: Clone>(change: &Option<T>, current: &T) -> T {
            change.clone().unwrap_or_else(|| current.clone())
        }
        AddressRow {
            location: self.location.unwrap_or(row.location),
            parts: AddressParts {
                house_number: pick(&self.house_number, &row.parts.house_number),
                alley: pick(&self.alley, &row.parts.alley),
                street: pick(&self.street, &row.parts.street),
                unit: pick(&self.unit, &row.parts.unit),
                address: pick(&self.address, &row.parts.address),
                client_ref: pick(&self.client_ref, &row.parts.client_ref),
            },
            status: self.status.unwrap_or(row.status),
            successor: pick(&self.successor, &row.successor),
            ..row.clone()
        }
    }
}

/// What the index needs of a row: read for every address at start-up, so kept small.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub id: AddressId,
    pub code: VmapCode,
    pub location: LatLon,
    pub status: AddressStatus,
    pub house_number: Option<String>,
    pub unit: Option<String>,
    pub change_seq: i64,
}

/// A changed row, as a replica reads it to follow other writers: what the index needs.
pub type ChangeRow = IndexRow;

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

impl Store {
    /// Connects by URL scheme and runs the embedded migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(PostgresStore::connect(url, 16).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The highest row id, 0 when empty: a cheap upper bound of the row count.
    pub async fn max_id(&self) -> Result<AddressId, StoreError> {
        dispatch!(self, store => store.max_id().await)
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

    /// Inserts addresses in one transaction: all or none. Ids and change sequence numbers
    /// are given out inside the transaction; the ids are returned in input order.
    pub async fn insert_addresses(&self, rows: &[NewAddress]) -> Result<Inserted, StoreError> {
        dispatch!(self, store => store.insert_addresses(rows).await)
    }

    pub async fn get_by_code(&self, code: &VmapCode) -> Result<Option<AddressRow>, StoreError> {
        dispatch!(self, store => store.get_by_code(code).await)
    }

    /// Applies `change` to the address holding `code`, in one transaction with a new change
    /// sequence number; returns the row as it was before and as it is now. `None` when no
    /// address holds the code.
    pub async fn update_address(
        &self,
        code: &VmapCode,
        change: &AddressChange,
    ) -> Result<Option<(AddressRow, AddressRow)>, StoreError> {
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
    ) -> Result<Vec<ChangeRow>, StoreError> {
        dispatch!(self, store => store.changes_since(change_seq, limit).await)
    }

    /// Up to `limit` whole rows with an id above `after_id`, in id order.
    pub async fn addresses_after(
        &self,
        after_id: AddressId,
        limit: i64,
    ) -> Result<Vec<AddressRow>, StoreError> {
        dispatch!(self, store => store.addresses_after(after_id, limit).await)
    }

    /// Inserts whole rows exactly as they are (ids, times, change numbers): for `vmap copy`.
    pub async fn import_addresses(&self, rows: &[AddressRow]) -> Result<(), StoreError> {
        dispatch!(self, store => store.import_addresses(rows).await)
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
    show_progress: bool,
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
    let total = source_counts.active + source_counts.retired;
    let progress = if show_progress {
        crate::progress::Progress::new("copying", total)
    } else {
        crate::progress::Progress::quiet("copying", total)
    };
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
