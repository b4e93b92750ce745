//! Which database errors mean "the database is away" rather than "this request failed".
//!
//! Away: it cannot be reached or refuses connections, no connection came within the
//! database timeout, another writer held its lock longer than that, it is read-only, out of
//! space or failing I/O. The same request may succeed later, so the service answers 503
//! with `Retry-After` and keeps answering what memory holds. Everything else (a constraint,
//! corrupt data, a bug in a query) is an internal error.
//!
//! Decisions: the classification reads error codes (SQLite result codes, PostgreSQL
//! SQLSTATEs and severities), never messages. A PostgreSQL error of severity FATAL ends the
//! session, so it counts as away too (a database that does not accept connections, a server
//! shutting down), except a refused login or an unknown database, which are configuration
//! errors that waiting does not cure.

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::sqlite::SqliteError;

/// Whether an sqlx error means the database is away.
pub(super) fn sqlx_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => database_error(error.as_ref()),
        _ => false,
    }
}

fn database_error(error: &dyn DatabaseError) -> bool {
    if let Some(error) = error.try_downcast_ref::<PgDatabaseError>() {
        return postgres(error.code(), error.severity());
    }
    if error.try_downcast_ref::<SqliteError>().is_some() {
        return error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(sqlite_code);
    }
    false
}

/// A SQLSTATE and severity from PostgreSQL.
fn postgres(code: &str, severity: PgSeverity) -> bool {
    let class = code.get(..2).unwrap_or(code);
    let away = matches!(
        class,
        // connection exception, insufficient resources (disk full, too many connections),
        // operator intervention (shutting down, cannot connect now, cancelled)
        "08" | "53" | "57"
    ) || matches!(
        code,
        // lock_not_available (lock_timeout), read_only_sql_transaction (a write on a
        // standby, or a primary turned read-only), io_error, serialization_failure (vmap
        // runs no serializable transaction: on a hot standby, a query cancelled by a
        // conflict with the WAL it replays, which asked again succeeds)
        "55P03" | "25006" | "58030" | "40001"
    );
    let session_ended = matches!(severity, PgSeverity::Fatal | PgSeverity::Panic)
        // invalid authorization, invalid catalog name: configuration, not an outage
        && !matches!(class, "28" | "3D");
    away || session_ended
}

/// An (extended) SQLite result code.
fn sqlite_code(code: i32) -> bool {
    use rusqlite::ffi;
    matches!(
        code & 0xff,
        ffi::SQLITE_PERM
            | ffi::SQLITE_BUSY
            | ffi::SQLITE_LOCKED
            | ffi::SQLITE_READONLY
            | ffi::SQLITE_IOERR
            | ffi::SQLITE_FULL
            | ffi::SQLITE_CANTOPEN
            | ffi::SQLITE_PROTOCOL
    )
}

/// Whether an error of the start-up read (rusqlite) means the database is away.
pub(super) fn rusqlite_error(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(error, _) => sqlite_code(error.extended_code),
        _ => false,
    }
}

/// Whether a migration failed because the database is away.
pub(super) fn migrate_error(error: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
            sqlx_error(error)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_outages_are_told_from_failures() {
        // The server shutting down, refusing connections now, a lock waited on too long.
        assert!(postgres("57P01", PgSeverity::Fatal));
        assert!(postgres("57P03", PgSeverity::Fatal));
        assert!(postgres("08006", PgSeverity::Error));
        assert!(postgres("55P03", PgSeverity::Error));
        assert!(postgres("53300", PgSeverity::Fatal));
        // "database … is not currently accepting connections"
        assert!(postgres("55000", PgSeverity::Fatal));
        // A standby: a write refused, a read cancelled by a conflict with recovery.
        assert!(postgres("25006", PgSeverity::Error));
        assert!(postgres("40001", PgSeverity::Error));
        // A unique violation, a bad query, a wrong password, a missing database.
        assert!(!postgres("23505", PgSeverity::Error));
        assert!(!postgres("42601", PgSeverity::Error));
        assert!(!postgres("28P01", PgSeverity::Fatal));
        assert!(!postgres("3D000", PgSeverity::Fatal));
    }

    #[test]
    fn sqlite_outages_are_told_from_failures() {
        use rusqlite::ffi;
        assert!(sqlite_code(ffi::SQLITE_BUSY));
        assert!(sqlite_code(ffi::SQLITE_READONLY));
        // SQLITE_READONLY_DIRECTORY and SQLITE_IOERR_WRITE: extended codes.
        assert!(sqlite_code(6 << 8 | ffi::SQLITE_READONLY));
        assert!(sqlite_code(3 << 8 | ffi::SQLITE_IOERR));
        assert!(!sqlite_code(ffi::SQLITE_CONSTRAINT));
        assert!(!sqlite_code(ffi::SQLITE_CORRUPT));
        assert!(!sqlite_code(ffi::SQLITE_ERROR));
        assert!(sqlx_error(&sqlx::Error::PoolTimedOut));
        assert!(!sqlx_error(&sqlx::Error::RowNotFound));
    }
}
