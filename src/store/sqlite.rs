//! SQLite backend: one file, WAL, writes serialised by `BEGIN IMMEDIATE`.
//!
//! Decisions: sqlx serves every request, but the start-up read of every address goes
//! through several `rusqlite` connections over id ranges at once, because sqlx hands each
//! row from its worker thread to the async side, which made a 25 M-row start take minutes
//! (see `for_each_index_row`). Writes have their own single-connection pool, so a write never waits for a
//! reader's connection or invalidates another's cache.
//!
//! The database timeout is SQLite's `busy_timeout` (how long a call waits for another
//! writer's lock) and every pool's `acquire_timeout`. [`SqliteStore::probe`] has a
//! connection of its own that never waits for a lock, so that asking "is the database back?"
//! while it is locked neither waits nor holds the writers' connection.

use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::record::{ADDRESS_COLUMNS, AddressRecord, INDEX_COLUMNS, IndexRecord, convert};
use super::{
    HistoryEntry, Inserted, StoreCounts, StoreError, StoreIdentity, StoreOptions, ewkb, now_ms,
    parse_stored_code, parse_stored_status,
};
use crate::address::{Address, AddressChange, AddressParts, IndexRow, NewAddress};
use crate::code::{PostalScheme, VmapCode};

/// SQLite allows 32 766 bound variables per statement; 12 columns a row.
const ROWS_PER_INSERT: usize = 2_000;

/// Rows handed from a reading thread to the caller at a time.
const LOAD_BATCH_ROWS: usize = 16_384;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The database file, for the bulk read at start-up (`None` for an in-memory database).
    path: Option<std::path::PathBuf>,
    /// One connection for all writes: its page cache stays warm. Sharing a pool with
    /// readers would hand writes to connections whose cache another writer just invalidated
    /// (WAL), and assignment ran about twice as slow in `serve` that way.
    writer: SqlitePool,
    reader: SqlitePool,
    /// One connection, opened when first needed, with no busy timeout: for `probe`.
    probe: SqlitePool,
    /// Plain connections reading at once at start-up.
    load_threads: usize,
    /// SQLite's busy timeout, for the plain connections too.
    db_timeout: Duration,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let settings = options;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a killed process loses nothing committed; only power loss may
            // lose the last transactions, never consistency.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(settings.db_timeout)
            .foreign_keys(true)
            // The code index is written in no particular order while seeding or assigning;
            // a larger page cache (negative = KiB) keeps those inserts off the disk.
            .pragma("cache_size", "-262144")
            .pragma("temp_store", "memory");
        let path = Some(options.get_filename().to_path_buf())
            .filter(|path| !path.as_os_str().is_empty() && path.as_os_str() != ":memory:");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.db_timeout)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(settings.sqlite_readers.max(1))
            .acquire_timeout(settings.db_timeout)
            .connect_with(options.clone())
            .await?;
        let probe = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.db_timeout)
            .connect_lazy_with(options.busy_timeout(Duration::ZERO));
        Ok(SqliteStore {
            path,
            writer,
            reader,
            probe,
            load_threads: settings.load_threads.max(1),
            db_timeout: settings.db_timeout,
        })
    }

    /// See [`super::Store::appender`].
    pub fn appender(&self) -> Result<Option<super::SqliteAppender>, StoreError> {
        self.path
            .as_deref()
            .map(|path| super::SqliteAppender::open(path, self.db_timeout))
            .transpose()
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        self.probe.close().await;
    }

    /// Takes the write lock and writes (a row to itself), then rolls back, failing at once
    /// when another writer holds the lock: a read-only file fails only on the write, since
    /// `BEGIN IMMEDIATE` alone succeeds there.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let mut tx = self.probe.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE vmap_meta SET value = value WHERE key = 'instance_id'")
            .execute(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(())
    }

    pub async fn meta_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM vmap_meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.writer)
            .await?;
        Ok(row.map(|(value,)| value))
    }

    pub async fn set_meta_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO vmap_meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn max_id(&self) -> Result<i64, StoreError> {
        let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM addresses")
            .fetch_one(&self.reader)
            .await?;
        Ok(max_id)
    }

    /// The database file (`None` for an in-memory database).
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    pub async fn identity(&self) -> Result<StoreIdentity, StoreError> {
        let (instance_id,): (String,) =
            sqlx::query_as("SELECT value FROM vmap_meta WHERE key = 'instance_id'")
                .fetch_one(&self.reader)
                .await?;
        let (max_change_seq, max_id): (i64, i64) = sqlx::query_as(
            // Two subqueries: SQLite answers a lone MAX from an index, not two in one query.
            "SELECT COALESCE((SELECT MAX(change_seq) FROM addresses), 0), \
             COALESCE((SELECT MAX(id) FROM addresses), 0)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(StoreIdentity {
            instance_id,
            max_change_seq,
            max_id,
        })
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(status = 'active'), 0), COALESCE(SUM(status = 'retired'), 0), \
             COALESCE(MAX(change_seq), 0) FROM addresses",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(StoreCounts {
            active: row.try_get::<i64, _>(0)? as u64,
            retired: row.try_get::<i64, _>(1)? as u64,
            data_version: row.try_get(2)?,
        })
    }

    pub async fn history_at(&self, version: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT version, token FROM vmap_history WHERE version <= ? ORDER BY version DESC LIMIT 1",
        )
        .bind(version)
        .fetch_optional(&self.reader)
        .await?)
    }

    pub async fn insert_addresses(
        &self,
        rows: &[NewAddress],
        scheme: Option<PostalScheme>,
    ) -> Result<Inserted, StoreError> {
        if rows.is_empty() {
            return Ok(Inserted::default());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(scheme) = scheme {
            let recorded: Option<(String,)> =
                sqlx::query_as("SELECT value FROM vmap_meta WHERE key = 'postal_scheme'")
                    .fetch_optional(&mut *tx)
                    .await?;
            let recorded = super::parse_scheme(recorded.map(|(value,)| value))?;
            if recorded != scheme {
                return Err(StoreError::SchemeChanged { recorded });
            }
        }
        // One MAX per subquery: SQLite answers each from an index end, but scans the whole
        // table for two aggregates in one SELECT.
        let (max_id, max_seq): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE((SELECT MAX(id) FROM addresses), 0), \
             COALESCE((SELECT MAX(change_seq) FROM addresses), 0)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let now = now_ms();
        let mut ids = Vec::with_capacity(rows.len());
        for (chunk_idx, chunk) in rows.chunks(ROWS_PER_INSERT).enumerate() {
            let first = (chunk_idx * ROWS_PER_INSERT) as i64;
            let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO addresses (id, code, postcode, geom, house_number, alley, street, unit, \
                 address, client_ref, created_at, updated_at, change_seq) ",
            );
            builder.push_values(chunk.iter().enumerate(), |mut values, (row_idx, row)| {
                let offset = first + row_idx as i64 + 1;
                values
                    .push_bind(max_id + offset)
                    .push_bind(row.code.canonical())
                    .push_bind(row.code.postcode().to_string())
                    .push_bind(ewkb::encode_point(row.location).to_vec());
                push_parts(&mut values, &row.parts);
                values
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(max_seq + offset);
            });
            builder
                .build()
                .execute(&mut *tx)
                .await
                .map_err(super::map_unique_violation)?;
            ids.extend((0..chunk.len() as i64).map(|row_idx| max_id + first + row_idx + 1));
        }
        note_history(&mut tx, max_seq + rows.len() as i64).await?;
        tx.commit().await?;
        Ok(Inserted {
            ids,
            last_change_seq: max_seq + rows.len() as i64,
            first_change_seq: max_seq + 1,
        })
    }

    pub async fn get_by_code(&self, code: &VmapCode) -> Result<Option<Address>, StoreError> {
        let record: Option<AddressRecord> = sqlx::query_as(&select_by_code())
            .bind(code.canonical())
            .fetch_optional(&self.reader)
            .await?;
        record.map(Address::try_from).transpose()
    }

    pub async fn update_address(
        &self,
        code: &VmapCode,
        change: &AddressChange,
    ) -> Result<Option<(Address, Address)>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let record: Option<AddressRecord> = sqlx::query_as(&select_by_code())
            .bind(code.canonical())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(before) = record.map(Address::try_from).transpose()? else {
            return Ok(None);
        };
        let (max_seq,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(change_seq), 0) FROM addresses")
                .fetch_one(&mut *tx)
                .await?;
        let mut after = change.apply_to(&before);
        after.updated_at_ms = now_ms().max(before.updated_at_ms);
        after.change_seq = max_seq + 1;
        sqlx::query(
            "UPDATE addresses SET geom = ?, house_number = ?, alley = ?, street = ?, unit = ?, \
             address = ?, client_ref = ?, status = ?, successor_code = ?, updated_at = ?, change_seq = ? \
             WHERE id = ?",
        )
        .bind(ewkb::encode_point(after.location).to_vec())
        .bind(&after.parts.house_number)
        .bind(&after.parts.alley)
        .bind(&after.parts.street)
        .bind(&after.parts.unit)
        .bind(&after.parts.address)
        .bind(&after.parts.client_ref)
        .bind(after.status.as_str())
        .bind(after.successor.map(|code| code.canonical()))
        .bind(after.updated_at_ms)
        .bind(after.change_seq)
        .bind(after.id)
        .execute(&mut *tx)
        .await?;
        note_history(&mut tx, after.change_seq).await?;
        tx.commit().await?;
        Ok(Some((before, after)))
    }

    /// Hands every address's index row to `each` (in no particular order) and returns the
    /// change number up to which they are complete.
    ///
    /// Reads with several plain `rusqlite` connections, each over its own range of ids, on
    /// threads of their own: sqlx hands each row from its worker thread to the async side,
    /// which made a 25 M-row start take minutes. Each connection reads its own snapshot, so
    /// the rows are complete up to the smallest of their highest change numbers; a change
    /// after that is fetched again by catch-up (applying a row twice changes nothing).
    pub async fn for_each_index_row(
        &self,
        mut each: impl FnMut(IndexRow) -> Result<(), StoreError>,
    ) -> Result<i64, StoreError> {
        let Some(path) = self.path.clone() else {
            return self.for_each_index_row_sqlx(each).await;
        };
        let max_id = self.max_id().await?;
        let threads = self.load_threads as i64;
        let span = max_id / threads + 1;
        let (sender, mut receiver) =
            tokio::sync::mpsc::channel::<Vec<IndexRow>>(threads as usize * 2);
        let mut readers = Vec::new();
        for part in 0..threads {
            let (first, last) = (part * span, (part + 1) * span - 1);
            let path = path.clone();
            let sender = sender.clone();
            // A reader that fails stops sending; its error comes out when it is joined.
            readers.push(tokio::task::spawn_blocking(move || {
                read_id_range(&path, first, last, |batch| {
                    sender.blocking_send(batch).is_ok()
                })
            }));
        }
        drop(sender);
        while let Some(batch) = receiver.recv().await {
            for row in batch {
                each(row)?;
            }
        }
        let mut complete_to = i64::MAX;
        for reader in readers {
            let seq = reader
                .await
                .map_err(|err| StoreError::Corrupt(format!("a reading thread failed: {err}")))??;
            complete_to = complete_to.min(seq);
        }
        Ok(if complete_to == i64::MAX {
            0
        } else {
            complete_to
        })
    }

    /// [`SqliteStore::for_each_index_row`] through sqlx, for in-memory databases.
    async fn for_each_index_row_sqlx(
        &self,
        mut each: impl FnMut(IndexRow) -> Result<(), StoreError>,
    ) -> Result<i64, StoreError> {
        let mut complete_to = 0;
        let query = format!("SELECT {INDEX_COLUMNS} FROM addresses ORDER BY id");
        let mut records = sqlx::query_as::<_, IndexRecord>(&query).fetch(&self.reader);
        while let Some(record) = records.try_next().await? {
            let row = IndexRow::try_from(record)?;
            complete_to = complete_to.max(row.change_seq);
            each(row)?;
        }
        Ok(complete_to)
    }

    pub async fn changes_since(
        &self,
        change_seq: i64,
        limit: i64,
    ) -> Result<Vec<IndexRow>, StoreError> {
        let query = format!(
            "SELECT {INDEX_COLUMNS} FROM addresses WHERE change_seq > ? ORDER BY change_seq LIMIT ?"
        );
        let records: Vec<IndexRecord> = sqlx::query_as(&query)
            .bind(change_seq)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        convert(records)
    }

    pub async fn addresses_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Address>, StoreError> {
        let query =
            format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id > ? ORDER BY id LIMIT ?");
        let records: Vec<AddressRecord> = sqlx::query_as(&query)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        convert(records)
    }

    pub async fn addresses_by_ids(&self, ids: &[i64]) -> Result<Vec<Address>, StoreError> {
        // One JSON array parameter, not one parameter per id: SQLite caps the parameters of
        // a statement.
        let ids_json = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        let query = format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id IN (SELECT value FROM json_each(?))"
        );
        let records: Vec<AddressRecord> = sqlx::query_as(&query)
            .bind(ids_json)
            .fetch_all(&self.reader)
            .await?;
        convert(records)
    }

    /// Inserts whole rows as they are (ids, times and change numbers included).
    pub async fn import_addresses(&self, rows: &[Address]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // 15 columns a row within SQLite's 32 766 bound variables.
        for chunk in rows.chunks(2_000) {
            let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO addresses (id, code, postcode, geom, house_number, alley, street, unit, \
                 address, client_ref, status, successor_code, created_at, updated_at, change_seq) ",
            );
            builder.push_values(chunk, |mut values, row| {
                values
                    .push_bind(row.id)
                    .push_bind(row.code.canonical())
                    .push_bind(row.code.postcode().to_string())
                    .push_bind(ewkb::encode_point(row.location).to_vec());
                push_parts(&mut values, &row.parts);
                values
                    .push_bind(row.status.as_str())
                    .push_bind(row.successor.map(|code| code.canonical()))
                    .push_bind(row.created_at_ms)
                    .push_bind(row.updated_at_ms)
                    .push_bind(row.change_seq);
            });
            builder
                .build()
                .execute(&mut *tx)
                .await
                .map_err(super::map_unique_violation)?;
        }
        // Pages come in id order, not change order: the entry is for the highest number
        // now held, unless a page before already wrote it.
        sqlx::query(
            "INSERT INTO vmap_history (version, token) \
             SELECT (SELECT MAX(change_seq) FROM addresses), ? \
             WHERE EXISTS (SELECT 1 FROM addresses) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(HistoryEntry::new_token().to_vec())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Adds the history entry of the write transaction `tx`, whose highest change number is
/// `version`: a fresh random token, so that a copy of this database that took other writes
/// cannot hold the same entry (see `registry::snapshot`). Writers are serialised (`BEGIN
/// IMMEDIATE`) and numbers only grow, so no entry holds `version` yet.
async fn note_history(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    version: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO vmap_history (version, token) VALUES (?, ?)")
        .bind(version)
        .bind(HistoryEntry::new_token().to_vec())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `SELECT` of one whole row by code.
fn select_by_code() -> String {
    format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE code = ?")
}

/// Binds the six text columns of an address, in table order.
fn push_parts(
    values: &mut sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>,
    parts: &AddressParts,
) {
    values
        .push_bind(parts.house_number.clone())
        .push_bind(parts.alley.clone())
        .push_bind(parts.street.clone())
        .push_bind(parts.unit.clone())
        .push_bind(parts.address.clone())
        .push_bind(parts.client_ref.clone());
}

/// Reads the index rows with ids in `first..=last` in one read transaction, handing them
/// to `deliver` in batches (which answers false when the caller has gone). Returns the
/// highest change number in the transaction's snapshot.
fn read_id_range(
    path: &std::path::Path,
    first: i64,
    last: i64,
    mut deliver: impl FnMut(Vec<IndexRow>) -> bool,
) -> Result<i64, StoreError> {
    use rusqlite::{OpenFlags, params};
    let mut connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(30))?;
    // One snapshot for the highest change number and the rows.
    let transaction = connection.transaction()?;
    let complete_to: i64 = transaction.query_row(
        "SELECT COALESCE(MAX(change_seq), 0) FROM addresses",
        [],
        |row| row.get(0),
    )?;
    let mut statement = transaction.prepare(&format!(
        "SELECT {INDEX_COLUMNS} FROM addresses WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
    ))?;
    let mut rows = statement.query(params![first, last])?;
    let mut batch = Vec::with_capacity(LOAD_BATCH_ROWS);
    while let Some(row) = rows.next()? {
        let code = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let geom = row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
        let status = row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
        batch.push(IndexRow {
            id: row.get(0)?,
            code: parse_stored_code(code)?,
            location: super::decode_geom(geom)?,
            status: parse_stored_status(status)?,
            house_number: row.get(4)?,
            unit: row.get(5)?,
            change_seq: row.get(6)?,
            alley: row.get(7)?,
            street: row.get(8)?,
        });
        if batch.len() == LOAD_BATCH_ROWS
            && !deliver(std::mem::replace(
                &mut batch,
                Vec::with_capacity(LOAD_BATCH_ROWS),
            ))
        {
            return Ok(complete_to);
        }
    }
    if !batch.is_empty() {
        deliver(batch);
    }
    Ok(complete_to)
}
