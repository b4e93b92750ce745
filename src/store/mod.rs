//! The system of record: addresses in a database, through sqlx.
//!
//! The backend is chosen at run time by the URL scheme (`sqlite:` today). Geometry is
//! PostGIS-compatible EWKB in every backend ([`ewkb`]). Migrations are embedded and run on
//! connect. The in-memory index is derived from what this module reads back.

pub mod ewkb;
mod sqlite;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::code::VmapCode;
use crate::point::LatLon;

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

    fn parse(text: &str) -> Result<AddressStatus, StoreError> {
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
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite:")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("code {0} is already taken")]
    CodeTaken(String),
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

/// A connected store of either backend.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    /// Connects by URL scheme and runs the embedded migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::connect(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        match self {
            Store::Sqlite(store) => store.counts().await,
        }
    }

    /// Inserts addresses in one transaction: all or none. Ids and change sequence numbers
    /// are given out inside the transaction; the ids are returned in input order.
    pub async fn insert_addresses(&self, rows: &[NewAddress]) -> Result<Inserted, StoreError> {
        match self {
            Store::Sqlite(store) => store.insert_addresses(rows).await,
        }
    }

    pub async fn get_by_code(&self, code: &VmapCode) -> Result<Option<AddressRow>, StoreError> {
        match self {
            Store::Sqlite(store) => store.get_by_code(code).await,
        }
    }

    /// Applies `change` to the address holding `code`, in one transaction with a new change
    /// sequence number; returns the row as it was before and as it is now. `None` when no
    /// address holds the code.
    pub async fn update_address(
        &self,
        code: &VmapCode,
        change: &AddressChange,
    ) -> Result<Option<(AddressRow, AddressRow)>, StoreError> {
        match self {
            Store::Sqlite(store) => store.update_address(code, change).await,
        }
    }

    /// Calls `each` for every address, in id order, streaming (never all rows at once).
    pub async fn for_each_index_row(
        &self,
        each: impl FnMut(IndexRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.for_each_index_row(each).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => store.close().await,
        }
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
