//! Building a new SQLite registry beside an empty one and renaming it into place: how
//! `vmap seed` fills a new SQLite file.
//!
//! Decisions: appending to the registry itself (`SqliteAppender`) pays for crash safety
//! row by row: every page goes to the WAL and again to the file at each checkpoint, and
//! every 50 000-row batch is a transaction of its own. At 25 M rows that writer held a
//! seed to ~130 k rows/s. When the target holds no address, nothing in it can be lost, so
//! the guarantee is kept another way:
//!
//! 1. The target (already created and migrated by the store, all connections closed) is
//!    copied to `<file>.seeding` beside it: the copy has the target's schema (`UNIQUE(code)`
//!    and the `change_seq` index included), `_sqlx_migrations` and `vmap_meta` (its
//!    `instance_id` and postal scheme), so it is the same registry, only empty.
//! 2. The copy is filled with journaling and syncing off, in exclusive locking mode, as
//!    one transaction: each page is written once. Rows arrive in code order, so the
//!    indexes grow at their ends rather than at random; building them after the rows
//!    (dropping and re-creating) is impossible for `UNIQUE(code)`, whose index SQLite
//!    makes with the table, and was not needed.
//! 3. One `vmap_history` entry records the whole fill; the copy is switched to WAL mode,
//!    closed, `fsync`ed, and renamed over the target (then the directory is synced).
//!
//! A seed cut short before the rename leaves the target as it was, an empty registry,
//! and a `.seeding` file that the next seed removes (dropping a [`SqliteFreshFile`] that
//! was not finished removes it too). A file is never half-renamed: `rename(2)` replaces
//! the target whole. So a registry that looks seeded is whole and has its indexes.
//!
//! The target must be the caller's alone, and a file another process has open is refused
//! rather than replaced under it ([`StoreError::InUse`]): before copying, the count of
//! addresses is read under an exclusive lock, which SQLite grants in WAL mode only when no
//! other connection is open (waiting the database timeout for connections still closing,
//! such as the store's); closing that last connection deletes the `-wal` file, so a `-wal`
//! beside the target later means someone opened it since. Right after the count, a `-wal`
//! that goes within the database timeout is taken for one of the store's connections
//! still closing (sqlx closes them on worker threads; `vmap seed` met this now and then);
//! just before the rename, any `-wal` is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use super::sqlite_bulk::{RowNumbers, insert_rows};
use super::{HistoryEntry, StoreError, now_ms};
use crate::address::NewAddress;

/// Page cache while filling (negative = KiB). Rows arrive in code order, so each index is
/// written near its end and a few thousand pages are all a fill touches at once; this
/// only keeps the occasional out-of-order zone off the disk.
const FILL_CACHE_KIB: i64 = 262_144;

/// Suffix of the file built beside the target.
const SEEDING_SUFFIX: &str = ".seeding";

/// A new registry being filled beside an empty target (see the module's decisions).
#[derive(Debug)]
pub struct SqliteFreshFile {
    connection: Option<Connection>,
    target: PathBuf,
    seeding: PathBuf,
    next: RowNumbers,
    code_text: String,
    /// Set once the file has replaced the target: nothing is left to remove.
    renamed: bool,
}

impl SqliteFreshFile {
    /// Copies the empty, migrated registry at `target` to `<target>.seeding` and opens the
    /// copy for filling. `target` must exist, hold no address and have no connection open
    /// (connections still closing get `busy_timeout`).
    pub fn create(target: &Path, busy_timeout: Duration) -> Result<SqliteFreshFile, StoreError> {
        let n_addresses = count_addresses_alone(target, busy_timeout)?;
        if n_addresses > 0 {
            return Err(StoreError::NotEmpty(n_addresses));
        }
        wait_until_closed(target, busy_timeout)?;
        let seeding = with_suffix(target, SEEDING_SUFFIX);
        remove_leftovers(&seeding)?;
        std::fs::copy(target, &seeding).map_err(|source| io_error(&seeding, source))?;
        // From here on, dropping `fresh` removes the copy.
        let mut fresh = SqliteFreshFile {
            connection: None,
            target: target.to_path_buf(),
            seeding,
            next: RowNumbers {
                id: 1,
                change_seq: 1,
                now_ms: now_ms(),
            },
            code_text: String::with_capacity(24),
            renamed: false,
        };
        let connection = Connection::open_with_flags(
            &fresh.seeding,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The copy is in WAL mode like the target; leaving it needs no other connection.
        let mode: String =
            connection.query_row("PRAGMA journal_mode = OFF", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("off") {
            return Err(StoreError::Corrupt(format!(
                "{} stayed in journal mode {mode}",
                fresh.seeding.display()
            )));
        }
        connection.pragma_update(None, "synchronous", "OFF")?;
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        connection.pragma_update(None, "cache_size", -FILL_CACHE_KIB)?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        connection.execute_batch("BEGIN")?;
        fresh.connection = Some(connection);
        Ok(fresh)
    }

    /// Appends `rows` after those already appended, in the order given (ids and change
    /// numbers from 1). Rows in code order write the code index fastest.
    pub fn append(&mut self, rows: &[NewAddress]) -> Result<(), StoreError> {
        let connection = self.connection.as_ref().ok_or_else(closed)?;
        insert_rows(connection, rows, self.next, &mut self.code_text)?;
        self.next.id += rows.len() as i64;
        self.next.change_seq += rows.len() as i64;
        Ok(())
    }

    /// Records the fill in `vmap_history`, commits, switches the file to WAL mode, syncs it
    /// and renames it over the target. Returns how many rows were written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        let n_rows = self.next.id - 1;
        let connection = self.connection.take().ok_or_else(closed)?;
        if n_rows > 0 {
            connection.execute(
                "INSERT INTO vmap_history (version, token) VALUES (?1, ?2)",
                params![self.next.change_seq - 1, &HistoryEntry::new_token()[..]],
            )?;
        }
        connection.execute_batch("COMMIT")?;
        // NORMAL first, so that the WAL switch uses a shared-memory index as every other
        // connection to the registry will.
        connection.pragma_update(None, "locking_mode", "NORMAL")?;
        let mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "{} did not switch to WAL (journal mode {mode})",
                self.seeding.display()
            )));
        }
        connection.close().map_err(|(_, error)| error)?;
        sync_file(&self.seeding)?;
        refuse_if_in_use(&self.target)?;
        std::fs::rename(&self.seeding, &self.target)
            .map_err(|source| io_error(&self.target, source))?;
        self.renamed = true;
        if let Some(directory) = self
            .target
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            sync_file(directory)?;
        }
        Ok(n_rows as u64)
    }
}

impl Drop for SqliteFreshFile {
    /// An unfinished fill is thrown away; after `finish` the file is already renamed.
    fn drop(&mut self) {
        drop(self.connection.take());
        if !self.renamed {
            // Best effort: a copy left behind is removed by the next seed anyway.
            let _ = remove_leftovers(&self.seeding);
        }
    }
}

fn closed() -> StoreError {
    StoreError::Corrupt("the seeding file's connection is already closed".to_owned())
}

/// The number of addresses at `path`, read under an exclusive lock: SQLite grants it in
/// WAL mode only while no other connection has the file open.
fn count_addresses_alone(path: &Path, busy_timeout: Duration) -> Result<u64, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(busy_timeout)?;
    connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    connection
        .execute_batch("BEGIN EXCLUSIVE")
        .map_err(|error| match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::InUse(path.to_path_buf())
            }
            _ => StoreError::Sqlite(error),
        })?;
    let count: i64 =
        connection.query_row("SELECT COUNT(*) FROM addresses", [], |row| row.get(0))?;
    connection.execute_batch("COMMIT")?;
    connection.close().map_err(|(_, error)| error)?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Waits up to `busy_timeout` for the target's `-wal` file to go: a connection of the
/// store's that was still closing (sqlx closes on worker threads) was seen to open and
/// close the file just after the exclusive count; a process that keeps it open is refused.
fn wait_until_closed(target: &Path, busy_timeout: Duration) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    while refuse_if_in_use(target).is_err() {
        if started.elapsed() >= busy_timeout {
            return Err(StoreError::InUse(target.to_path_buf()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A `-wal` file beside the target while we hold no connection: another process has it
/// open (the last connection to close deletes it).
fn refuse_if_in_use(target: &Path) -> Result<(), StoreError> {
    let wal = with_suffix(target, "-wal");
    if wal.exists() {
        return Err(StoreError::InUse(target.to_path_buf()));
    }
    Ok(())
}

/// Removes a seeding file and whatever SQLite made beside it; a missing file is fine.
fn remove_leftovers(seeding: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let path = with_suffix(seeding, suffix);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_error(&path, source)),
        }
    }
    Ok(())
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| io_error(path, source))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
