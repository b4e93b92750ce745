//! PostgreSQL + PostGIS backend: `geometry(Point,4326)` with a GiST index, bulk writes as
//! array binds (`UNNEST`), writers serialised by a trigger (see the migration) so that change
//! numbers become visible in order.
//!
//! Decisions: the database timeout bounds how long a call waits for a connection (the
//! pool's `acquire_timeout`, which covers a refused or silent server) and for a lock
//! (`lock_timeout`: the writers' serialising lock, a row another session holds). It is not
//! a `statement_timeout`: the start-up read of every address is one statement that runs for
//! as long as the table is large, and a single-row read does not run long on its own.
//!
//! On a hot standby (`pg_is_in_recovery()`) nothing is written: the migrations are checked,
//! not run (see `standby.rs`), and the caller learns it is one ([`PostgresStore::is_standby`]).

use std::time::Duration;

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Row};

use super::record::{AddressRecord, IndexRecord, convert};
use super::{Inserted, StoreCounts, StoreError, StoreIdentity, StoreOptions, ewkb, now_ms};
use crate::address::{Address, AddressChange, AddressParts, IndexRow, NewAddress};
use crate::code::{PostalScheme, VmapCode};

/// Rows per array-bind statement: large enough to amortise a round trip, small enough
/// that one statement's arrays stay a few megabytes.
const ROWS_PER_INSERT: usize = 10_000;

/// The columns of `record::AddressRecord`, geometry as EWKB like SQLite stores it.
const ADDRESS_COLUMNS: &str = "id, code, ST_AsEWKB(geom, 'NDR') AS geom, house_number, alley, street, unit, \
     address, client_ref, status, successor_code, created_at, updated_at, change_seq";

/// The columns of `record::IndexRecord`, geometry as EWKB.
const INDEX_COLUMNS: &str = "id, code, ST_AsEWKB(geom, 'NDR') AS geom, status, house_number, unit, change_seq, alley, street";

/// The embedded migrations: run on a primary, checked on a standby.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The server was in recovery (a hot standby) when connected: it takes no writes.
    standby: bool,
}

impl PostgresStore {
    pub async fn connect(url: &str, settings: &StoreOptions) -> Result<PostgresStore, StoreError> {
        let timeout = settings.db_timeout;
        let options: PgConnectOptions = url
            .parse::<PgConnectOptions>()?
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1))
            .options([("lock_timeout", format!("{}ms", timeout.as_millis().max(1)))]);
        // One connection on its own first: an unreachable server is then reported with its
        // reason (refused, unknown host, no answer) rather than as the pool's timeout.
        let mut first = tokio::time::timeout(timeout, options.connect())
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from the database within {timeout:?}"),
                ))
            })??;
        let standby = super::standby::in_recovery(&mut first).await?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(settings.pg_max_connections.max(2))
            .acquire_timeout(timeout)
            .connect_with(options)
            .await?;
        if standby {
            if let Err(error) = super::standby::check_migrated(&pool, &MIGRATOR).await {
                // `serve` asks again later: no connections left open meanwhile.
                pool.close().await;
                return Err(error);
            }
            tracing::info!(
                "the database is a PostgreSQL hot standby (pg_is_in_recovery): migrations \
                 checked, not run; nothing is written there, changes are followed as they replay"
            );
        } else {
            MIGRATOR.run(&pool).await?;
        }
        Ok(PostgresStore { pool, standby })
    }

    /// Whether the server was a hot standby when connected.
    pub fn is_standby(&self) -> bool {
        self.standby
    }

    /// A read through the pool: PostgreSQL answers (writes need nothing more of it, and a
    /// hot standby, which takes none, answers it too).
    pub async fn probe(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1 FROM vmap_meta LIMIT 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn meta_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM vmap_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(value,)| value))
    }

    pub async fn set_meta_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vmap_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn max_id(&self) -> Result<i64, StoreError> {
        let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM addresses")
            .fetch_one(&self.pool)
            .await?;
        Ok(max_id)
    }

    pub async fn identity(&self) -> Result<StoreIdentity, StoreError> {
        let (instance_id,): (String,) =
            sqlx::query_as("SELECT value FROM vmap_meta WHERE key = 'instance_id'")
                .fetch_one(&self.pool)
                .await?;
        let (max_change_seq, max_id): (i64, i64) = sqlx::query_as(
            // Two subqueries: SQLite answers a lone MAX from an index, not two in one query.
            "SELECT COALESCE((SELECT MAX(change_seq) FROM addresses), 0), \
             COALESCE((SELECT MAX(id) FROM addresses), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreIdentity {
            instance_id,
            max_change_seq,
            max_id,
        })
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'retired'), \
             COALESCE(max(change_seq), 0) FROM addresses",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreCounts {
            active: row.try_get::<i64, _>(0)? as u64,
            retired: row.try_get::<i64, _>(1)? as u64,
            data_version: row.try_get(2)?,
        })
    }

    /// History entries are written by the `addresses_note_history` trigger (see the
    /// migration), for vmap's writes and plain SQL alike.
    pub async fn history_at(&self, version: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT version, token FROM vmap_history WHERE version <= $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(version)
        .fetch_optional(&self.pool)
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
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some(scheme) = scheme {
            // Shared-locked until commit: `vmap migrate-postcodes` waits for this batch, and
            // this batch for a switch under way, so none commits codes of the old scheme after it.
            let recorded: Option<(String,)> =
                sqlx::query_as("SELECT value FROM vmap_meta WHERE key = 'postal_scheme' FOR SHARE")
                    .fetch_optional(&mut *tx)
                    .await?;
            let recorded = super::parse_scheme(recorded.map(|(value,)| value))?;
            if recorded != scheme {
                return Err(StoreError::SchemeChanged { recorded });
            }
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut last_change_seq = 0;
        let mut first_change_seq = i64::MAX;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let codes: Vec<String> = chunk.iter().map(|row| row.code.canonical()).collect();
            let postcodes: Vec<String> = chunk
                .iter()
                .map(|row| row.code.postcode().to_string())
                .collect();
            let geoms: Vec<Vec<u8>> = chunk
                .iter()
                .map(|row| ewkb::encode_point(row.location).to_vec())
                .collect();
            let text = |pick: fn(&AddressParts) -> &Option<String>| -> Vec<Option<String>> {
                chunk.iter().map(|row| pick(&row.parts).clone()).collect()
            };
            // WITH ORDINALITY numbers the input so that ids come back in input order.
            let returned = sqlx::query(
                "INSERT INTO addresses (code, postcode, geom, house_number, alley, street, unit, address, \
                 client_ref, created_at, updated_at) \
                 SELECT code, postcode, ST_GeomFromEWKB(geom), house_number, alley, street, unit, address, \
                 client_ref, $10, $10 \
                 FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::text[]) WITH ORDINALITY \
                 AS input(code, postcode, geom, house_number, alley, street, unit, address, client_ref, position) \
                 ORDER BY position \
                 RETURNING id, code, change_seq",
            )
            .bind(&codes)
            .bind(&postcodes)
            .bind(&geoms)
            .bind(text(|parts| &parts.house_number))
            .bind(text(|parts| &parts.alley))
            .bind(text(|parts| &parts.street))
            .bind(text(|parts| &parts.unit))
            .bind(text(|parts| &parts.address))
            .bind(text(|parts| &parts.client_ref))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(super::map_unique_violation)?;
            let mut id_by_code = std::collections::HashMap::with_capacity(returned.len());
            for row in &returned {
                let code: String = row.try_get(1)?;
                id_by_code.insert(code, row.try_get::<i64, _>(0)?);
                let change_seq: i64 = row.try_get(2)?;
                last_change_seq = last_change_seq.max(change_seq);
                first_change_seq = first_change_seq.min(change_seq);
            }
            for code in &codes {
                let id = id_by_code.get(code).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("insert of {code} returned no id"))
                })?;
                ids.push(id);
            }
        }
        tx.commit().await?;
        Ok(Inserted {
            ids,
            last_change_seq,
            first_change_seq,
        })
    }

    pub async fn get_by_code(&self, code: &VmapCode) -> Result<Option<Address>, StoreError> {
        let record: Option<AddressRecord> = sqlx::query_as(&format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE code = $1"
        ))
        .bind(code.canonical())
        .fetch_optional(&self.pool)
        .await?;
        record.map(Address::try_from).transpose()
    }

    pub async fn update_address(
        &self,
        code: &VmapCode,
        change: &AddressChange,
    ) -> Result<Option<(Address, Address)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let record: Option<AddressRecord> = sqlx::query_as(&format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE code = $1 FOR UPDATE"
        ))
        .bind(code.canonical())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = record.map(Address::try_from).transpose()? else {
            return Ok(None);
        };
        let mut after = change.apply_to(&before);
        // The trigger gives the change its number and time.
        let stamped = sqlx::query(
            "UPDATE addresses SET geom = ST_GeomFromEWKB($1), house_number = $2, alley = $3, street = $4, \
             unit = $5, address = $6, client_ref = $7, status = $8, successor_code = $9 \
             WHERE id = $10 RETURNING change_seq, updated_at",
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
        .bind(after.id)
        .fetch_one(&mut *tx)
        .await?;
        after.change_seq = stamped.try_get(0)?;
        after.updated_at_ms = stamped.try_get(1)?;
        tx.commit().await?;
        Ok(Some((before, after)))
    }

    pub async fn for_each_index_row(
        &self,
        mut each: impl FnMut(IndexRow) -> Result<(), StoreError>,
    ) -> Result<i64, StoreError> {
        // One query, one snapshot: writers commit in change order (serialised by the
        // trigger's lock), so the highest change number seen covers every change before it.
        let mut complete_to = 0;
        let query = format!("SELECT {INDEX_COLUMNS} FROM addresses ORDER BY id");
        let mut records = sqlx::query_as::<_, IndexRecord>(&query).fetch(&self.pool);
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
            "SELECT {INDEX_COLUMNS} FROM addresses WHERE change_seq > $1 ORDER BY change_seq LIMIT $2"
        );
        let records: Vec<IndexRecord> = sqlx::query_as(&query)
            .bind(change_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        convert(records)
    }

    pub async fn addresses_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Address>, StoreError> {
        let sql =
            format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id > $1 ORDER BY id LIMIT $2");
        let records: Vec<AddressRecord> = sqlx::query_as(&sql)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        convert(records)
    }

    pub async fn addresses_by_ids(&self, ids: &[i64]) -> Result<Vec<Address>, StoreError> {
        let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = ANY($1)");
        let records: Vec<AddressRecord> =
            sqlx::query_as(&sql).bind(ids).fetch_all(&self.pool).await?;
        convert(records)
    }

    /// Inserts whole rows as they are (ids, times and change numbers included).
    pub async fn import_addresses(&self, rows: &[Address]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let text = |pick: fn(&Address) -> Option<String>| -> Vec<Option<String>> {
                chunk.iter().map(pick).collect()
            };
            let number =
                |pick: fn(&Address) -> i64| -> Vec<i64> { chunk.iter().map(pick).collect() };
            sqlx::query(
                "INSERT INTO addresses (id, code, postcode, geom, house_number, alley, street, unit, address, \
                 client_ref, status, successor_code, created_at, updated_at, change_seq) \
                 SELECT id, code, postcode, ST_GeomFromEWKB(geom), house_number, alley, street, unit, address, \
                 client_ref, status, successor_code, created_at, updated_at, change_seq \
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], \
                 $15::bigint[]) AS input(id, code, postcode, geom, house_number, alley, street, unit, address, \
                 client_ref, status, successor_code, created_at, updated_at, change_seq)",
            )
            .bind(number(|row| row.id))
            .bind(chunk.iter().map(|row| row.code.canonical()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|row| row.code.postcode().to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|row| ewkb::encode_point(row.location).to_vec()).collect::<Vec<_>>())
            .bind(text(|row| row.parts.house_number.clone()))
            .bind(text(|row| row.parts.alley.clone()))
            .bind(text(|row| row.parts.street.clone()))
            .bind(text(|row| row.parts.unit.clone()))
            .bind(text(|row| row.parts.address.clone()))
            .bind(text(|row| row.parts.client_ref.clone()))
            .bind(chunk.iter().map(|row| row.status.as_str().to_owned()).collect::<Vec<_>>())
            .bind(text(|row| row.successor.map(|code| code.canonical())))
            .bind(number(|row| row.created_at_ms))
            .bind(number(|row| row.updated_at_ms))
            .bind(number(|row| row.change_seq))
            .execute(&mut *tx)
            .await
            .map_err(super::map_unique_violation)?;
        }
        // Later inserts must not draw ids or change numbers the imported rows hold.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('addresses', 'id'), GREATEST((SELECT max(id) FROM addresses), 1)), \
             setval('addresses_change_seq', GREATEST((SELECT max(change_seq) FROM addresses), 1))",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
