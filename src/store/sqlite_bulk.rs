//! Appending many new rows to a SQLite file fast: what `vmap seed` writes through.
//!
//! Decisions: one plain `rusqlite` connection, held for the whole seed, with one prepared
//! single-row `INSERT` bound by reference. The sqlx path (`SqliteStore::insert_addresses`)
//! copies every value into owned arguments, builds and steps a 2 000-row `VALUES` program
//! on its worker thread and starts each batch with a cold statement cache; at 25 M rows
//! that writer was the bottleneck of seeding. Each call is still one ordinary write
//! transaction (`BEGIN IMMEDIATE`, WAL, `synchronous = NORMAL` as every vmap connection)
//! with its history entry, so the file stays crash-consistent and a seed cut short leaves
//! a registry of whole batches.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use super::{HistoryEntry, StoreError, ewkb, now_ms};
use crate::address::NewAddress;

/// Page cache of the bulk connection (negative = KiB): the code index of a 25 M registry
/// is about 1 GB, and the batches touch a few hundred of its pages each, so a larger cache
/// than the service's buys nothing measurable (see README, Performance).
const BULK_CACHE_KIB: i64 = 262_144;

/// A connection that appends new rows to a SQLite registry (see the module's decisions).
#[derive(Debug)]
pub struct SqliteAppender {
    connection: Connection,
    /// Reused for every row's code and postcode, so binding allocates nothing per row.
    code_text: String,
    postcode_text: String,
}

impl SqliteAppender {
    pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteAppender, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(busy_timeout)?;
        // The file is already in WAL mode (set when the store connected); NORMAL as every
        // other vmap connection: a killed process loses nothing committed.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(SqliteAppender {
            connection,
            code_text: String::with_capacity(16),
            postcode_text: String::with_capacity(8),
        })
    }

    /// Inserts `rows` in one write transaction, after every row already stored (ids and
    /// change numbers follow the highest ones, in the order given). Returns how many rows
    /// were written. Rows in code order write the code index fastest.
    pub fn append(&mut self, rows: &[NewAddress]) -> Result<usize, StoreError> {
        use std::fmt::Write as _;
        if rows.is_empty() {
            return Ok(0);
        }
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // One MAX per subquery: SQLite answers each from an index end.
        let (max_id, max_seq): (i64, i64) = transaction.query_row(
            "SELECT COALESCE((SELECT MAX(id) FROM addresses), 0), \
             COALESCE((SELECT MAX(change_seq) FROM addresses), 0)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let now = now_ms();
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO addresses (id, code, postcode, geom, house_number, alley, street, \
                 unit, address, client_ref, created_at, updated_at, change_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
            )?;
            for (row_idx, row) in rows.iter().enumerate() {
                let offset = row_idx as i64 + 1;
                self.code_text.clear();
                self.postcode_text.clear();
                // Writing to a String cannot fail.
                let _ = write!(self.code_text, "{}", row.code);
                let _ = write!(self.postcode_text, "{}", row.code.postcode());
                let parts = &row.parts;
                insert.execute(params![
                    max_id + offset,
                    self.code_text,
                    self.postcode_text,
                    &ewkb::encode_point(row.location)[..],
                    parts.house_number,
                    parts.alley,
                    parts.street,
                    parts.unit,
                    parts.address,
                    parts.client_ref,
                    now,
                    max_seq + offset,
                ])?;
            }
        }
        let version = max_seq + rows.len() as i64;
        transaction.execute(
            "INSERT INTO vmap_history (version, token) VALUES (?1, ?2)",
            params![version, &HistoryEntry::new_token()[..]],
        )?;
        transaction.commit()?;
        Ok(rows.len())
    }
}
