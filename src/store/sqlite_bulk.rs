//! Appending many new rows to a SQLite file fast: what `vmap seed` writes through.
//!
//! Decisions: one plain `rusqlite` connection, held for the whole seed, with prepared
//! 256-row `INSERT`s bound by reference. The sqlx path (`SqliteStore::insert_addresses`)
//! copies every value into owned arguments and a freshly built 2 000-row statement and
//! steps it on its worker thread; at 25 M rows that writer was the bottleneck of seeding.
//! Each call is still one ordinary write transaction (`BEGIN IMMEDIATE`, WAL,
//! `synchronous = NORMAL` as every vmap connection) with its history entry, so the file
//! stays crash-consistent and a seed cut short leaves a registry of whole batches.
//!
//! [`insert_rows`] is shared with [`super::SqliteFreshFile`] (a new file built beside the
//! target, `sqlite_fresh.rs`): both bind the same columns the same way. A full statement
//! is prepared once per call and not taken from rusqlite's statement cache, because a
//! cached statement clears its 3 072 bindings each time it goes back (2.5 % of a seed);
//! every value is bound again before each step anyway.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement, params};

use super::{HistoryEntry, StoreError, ewkb, now_ms};
use crate::address::NewAddress;

/// Page cache of the bulk connection (negative = KiB), as the service's connections: a
/// batch is a few whole zones in code order, so it touches a few hundred pages of the code
/// index, not the whole index (a larger cache was not tried).
const BULK_CACHE_KIB: i64 = 262_144;

/// Rows per `INSERT`: one statement opens its cursors and starts its program once for all
/// of them (a single-row statement did that per row), within SQLite's 32 766 bound values.
const ROWS_PER_STATEMENT: usize = 256;

/// Bound values per row.
const COLUMNS: usize = 12;

/// The `INSERT` of `n_rows` rows, `COLUMNS` values each: the batch's time is one value
/// (`?11` of a row) written to both `created_at` and `updated_at`.
fn insert_sql(n_rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO addresses (id, code, postcode, geom, house_number, alley, street, unit, \
         address, client_ref, created_at, updated_at, change_seq) VALUES ",
    );
    for row_idx in 0..n_rows {
        let base = row_idx * COLUMNS;
        if row_idx > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 1..=COLUMNS {
            let _ = std::fmt::Write::write_fmt(&mut sql, format_args!("?{},", base + column));
            if column == 11 {
                let _ = std::fmt::Write::write_fmt(&mut sql, format_args!("?{},", base + column));
            }
        }
        sql.pop();
        sql.push(')');
    }
    sql
}

/// A connection that appends new rows to a SQLite registry (see the module's decisions).
#[derive(Debug)]
pub struct SqliteAppender {
    connection: Connection,
    /// Reused for every row's code, so binding allocates nothing per row.
    code_text: String,
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
        })
    }

    /// Inserts `rows` in one write transaction, after every row already stored (ids and
    /// change numbers follow the highest ones, in the order given). Returns how many rows
    /// were written. Rows in code order write the code index fastest.
    pub fn append(&mut self, rows: &[NewAddress]) -> Result<usize, StoreError> {
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
        let first = RowNumbers {
            id: max_id + 1,
            change_seq: max_seq + 1,
            now_ms: now_ms(),
        };
        insert_rows(&transaction, rows, first, &mut self.code_text)?;
        let version = max_seq + rows.len() as i64;
        transaction.execute(
            "INSERT INTO vmap_history (version, token) VALUES (?1, ?2)",
            params![version, &HistoryEntry::new_token()[..]],
        )?;
        transaction.commit()?;
        Ok(rows.len())
    }
}

/// The id and change number of the first row of an insert (the others follow one by one),
/// and the time written to every row's `created_at` and `updated_at`.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowNumbers {
    pub id: i64,
    pub change_seq: i64,
    pub now_ms: i64,
}

/// Inserts `rows` through `connection` (inside the caller's transaction), numbered from
/// `first` in the order given. `code_text` is a buffer reused for every row's code.
pub(super) fn insert_rows(
    connection: &Connection,
    rows: &[NewAddress],
    first: RowNumbers,
    code_text: &mut String,
) -> Result<(), StoreError> {
    let mut full: Option<Statement<'_>> = None;
    for (statement_idx, statement_rows) in rows.chunks(ROWS_PER_STATEMENT).enumerate() {
        let offset = (statement_idx * ROWS_PER_STATEMENT) as i64;
        let numbers = RowNumbers {
            id: first.id + offset,
            change_seq: first.change_seq + offset,
            now_ms: first.now_ms,
        };
        if statement_rows.len() == ROWS_PER_STATEMENT {
            let insert = match &mut full {
                Some(insert) => insert,
                None => full.insert(connection.prepare(&insert_sql(ROWS_PER_STATEMENT))?),
            };
            bind_and_run(insert, statement_rows, numbers, code_text)?;
        } else {
            // The tail of the rows gets a statement of its own size.
            let mut insert = connection.prepare(&insert_sql(statement_rows.len()))?;
            bind_and_run(&mut insert, statement_rows, numbers, code_text)?;
        }
    }
    Ok(())
}

fn bind_and_run(
    insert: &mut Statement<'_>,
    rows: &[NewAddress],
    first: RowNumbers,
    code_text: &mut String,
) -> Result<(), StoreError> {
    for (row_idx, row) in rows.iter().enumerate() {
        let offset = row_idx as i64;
        code_text.clear();
        row.code.push_canonical(code_text);
        // The canonical form starts with the 5 postcode digits (ASCII).
        let postcode_text = code_text.get(..5).unwrap_or_default();
        let parts = &row.parts;
        // Text is bound as a copy (SQLITE_TRANSIENT), so the buffer may be reused.
        let base = row_idx * COLUMNS;
        insert.raw_bind_parameter(base + 1, first.id + offset)?;
        insert.raw_bind_parameter(base + 2, code_text.as_str())?;
        insert.raw_bind_parameter(base + 3, postcode_text)?;
        insert.raw_bind_parameter(base + 4, &ewkb::encode_point(row.location)[..])?;
        insert.raw_bind_parameter(base + 5, parts.house_number.as_deref())?;
        insert.raw_bind_parameter(base + 6, parts.alley.as_deref())?;
        insert.raw_bind_parameter(base + 7, parts.street.as_deref())?;
        insert.raw_bind_parameter(base + 8, parts.unit.as_deref())?;
        insert.raw_bind_parameter(base + 9, parts.address.as_deref())?;
        insert.raw_bind_parameter(base + 10, parts.client_ref.as_deref())?;
        insert.raw_bind_parameter(base + 11, first.now_ms)?;
        insert.raw_bind_parameter(base + 12, first.change_seq + offset)?;
    }
    insert.raw_execute()?;
    Ok(())
}
