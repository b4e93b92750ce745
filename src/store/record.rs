//! The rows both backends read, as sqlx records, and their one conversion into the domain's
//! types: a column is named once here, not once per backend.
//!
//! Both backends select the same column names (PostgreSQL turns its geometry into EWKB with
//! `ST_AsEWKB(geom, 'NDR') AS geom`), so `#[derive(sqlx::FromRow)]` serves SQLite and PostgreSQL
//! rows alike.

use super::{StoreError, decode_geom, parse_stored_code, parse_stored_status};
use crate::address::{Address, AddressParts, IndexRow};

/// The columns of [`AddressRecord`], in the SQLite spelling (PostgreSQL wraps `geom`).
pub(super) const ADDRESS_COLUMNS: &str = "id, code, geom, house_number, alley, street, unit, \
     address, client_ref, status, successor_code, created_at, updated_at, change_seq";

/// The columns of [`IndexRecord`], in the SQLite spelling (PostgreSQL wraps `geom`).
pub(super) const INDEX_COLUMNS: &str =
    "id, code, geom, status, house_number, unit, change_seq, alley, street";

/// A whole `addresses` row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AddressRecord {
    id: i64,
    code: String,
    geom: Vec<u8>,
    house_number: Option<String>,
    alley: Option<String>,
    street: Option<String>,
    unit: Option<String>,
    address: Option<String>,
    client_ref: Option<String>,
    status: String,
    successor_code: Option<String>,
    created_at: i64,
    updated_at: i64,
    change_seq: i64,
}

impl TryFrom<AddressRecord> for Address {
    type Error = StoreError;

    fn try_from(record: AddressRecord) -> Result<Address, StoreError> {
        Ok(Address {
            id: record.id,
            code: parse_stored_code(&record.code)?,
            location: decode_geom(&record.geom)?,
            parts: AddressParts {
                house_number: record.house_number,
                alley: record.alley,
                street: record.street,
                unit: record.unit,
                address: record.address,
                client_ref: record.client_ref,
            },
            status: parse_stored_status(&record.status)?,
            successor: record
                .successor_code
                .as_deref()
                .map(parse_stored_code)
                .transpose()?,
            created_at_ms: record.created_at,
            updated_at_ms: record.updated_at,
            change_seq: record.change_seq,
        })
    }
}

/// The columns of a row that memory needs ([`IndexRow`]).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct IndexRecord {
    id: i64,
    code: String,
    geom: Vec<u8>,
    status: String,
    house_number: Option<String>,
    unit: Option<String>,
    change_seq: i64,
    alley: Option<String>,
    street: Option<String>,
}

impl TryFrom<IndexRecord> for IndexRow {
    type Error = StoreError;

    fn try_from(record: IndexRecord) -> Result<IndexRow, StoreError> {
        Ok(IndexRow {
            id: record.id,
            code: parse_stored_code(&record.code)?,
            location: decode_geom(&record.geom)?,
            status: parse_stored_status(&record.status)?,
            house_number: record.house_number,
            unit: record.unit,
            change_seq: record.change_seq,
            alley: record.alley,
            street: record.street,
        })
    }
}

/// Converts fetched records, failing on the first corrupt one.
pub(super) fn convert<R, T: TryFrom<R, Error = StoreError>>(
    records: Vec<R>,
) -> Result<Vec<T>, StoreError> {
    records.into_iter().map(T::try_from).collect()
}
