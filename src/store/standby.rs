//! A PostgreSQL hot standby: told from a primary, and checked rather than migrated.
//!
//! A streaming-replication standby answers reads and refuses every write with SQLSTATE
//! 25006 (`read_only_sql_transaction`), DDL included, so vmap's start-up must not write
//! there: the embedded migrations are not run (sqlx's migrator creates its bookkeeping
//! table and records each migration) but checked against `_sqlx_migrations` as it replayed
//! from the primary. What else vmap does at start-up and while following is already reads:
//! the snapshot is a file of its own (the database only answers which history entry it
//! holds), the outage probe is a `SELECT`, catch-up reads rows by change number, the
//! connection's `lock_timeout` is a session setting, and sequences are never read.
//!
//! Decisions: a standby that lacks a migration this vmap embeds is *unavailable* rather
//! than broken ([`StoreError::StandbyNotMigrated`] counts as the database being away), so
//! `serve` waits for it, warning and retrying with its doubling wait: in a rolling upgrade
//! new read replicas may start before the new writer has migrated the primary, and they
//! become ready once the migration has replayed. The alternative, refusing to start, would
//! make the order of a deployment matter. A migration applied on the primary that this vmap
//! does not know, one applied with other contents, or one left half-applied is refused at
//! once, with sqlx's own errors, as the migrator would refuse it on the primary.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

use super::StoreError;

/// Whether the server is in recovery: a standby (or a primary still starting up).
pub(super) async fn in_recovery(connection: &mut sqlx::PgConnection) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(connection)
        .await?)
}

/// Checks, reading only, that every migration of `migrator` is applied with the same
/// contents, and that no other migration is.
pub(super) async fn check_migrated(pool: &PgPool, migrator: &Migrator) -> Result<(), StoreError> {
    let bookkeeping: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: Vec<(i64, bool, Vec<u8>)> = if bookkeeping {
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let embedded: HashMap<i64, &[u8]> = migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| (migration.version, migration.checksum.as_ref()))
        .collect();
    let mut applied_versions = HashSet::with_capacity(applied.len());
    for (version, success, checksum) in &applied {
        if !success {
            return Err(MigrateError::Dirty(*version).into());
        }
        match embedded.get(version) {
            None => return Err(MigrateError::VersionMissing(*version).into()),
            Some(expected) if *expected != checksum.as_slice() => {
                return Err(MigrateError::VersionMismatch(*version).into());
            }
            Some(_) => {}
        }
        applied_versions.insert(*version);
    }
    let mut missing: Vec<i64> = embedded
        .keys()
        .filter(|version| !applied_versions.contains(*version))
        .copied()
        .collect();
    missing.sort_unstable();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::StandbyNotMigrated { missing })
    }
}
