//! Writes: committing a batch, following other writers, editing and retiring.

use super::mint::{AssignOptions, AssignOutcome, AssignRow};
use super::{CATCH_UP_BATCH, MAX_COMMIT_ATTEMPTS, Registry, RegistryError};
use crate::address::{Address, AddressChange, AddressStatus, IndexRow};
use crate::code::VmapCode;
use crate::store::StoreError;

impl Registry {
    /// Assigns codes to a batch of rows: each row an existing same place, a new code, or an
    /// error. New addresses are committed in one transaction before memory sees them, so a
    /// crash leaves either the whole batch or none of it. Batches are serialised in this
    /// process; when another process took one of the codes first, this one catches up with
    /// the database and decides the batch again.
    pub async fn assign_batch(
        &self,
        rows: &[AssignRow],
        options: AssignOptions,
    ) -> Result<Vec<AssignOutcome>, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut attempt = 1;
        loop {
            let (outcomes, new_rows, scheme) = self.decide_batch(rows, options);
            if options.dry_run || new_rows.is_empty() {
                return Ok(outcomes);
            }
            match self.noted(self.store.insert_minted(&new_rows, scheme).await) {
                Ok(inserted) => {
                    let mut memory = self.write_memory();
                    for (row, &id) in new_rows.iter().zip(&inserted.ids) {
                        memory.apply(
                            &self.zones,
                            &IndexRow {
                                id,
                                code: row.code,
                                location: row.location,
                                status: AddressStatus::Active,
                                house_number: row.parts.house_number.clone(),
                                unit: row.parts.unit.clone(),
                                change_seq: inserted.last_change_seq,
                                alley: row.parts.alley.clone(),
                                street: row.parts.street.clone(),
                            },
                        )?;
                    }
                    memory.advance_followed(inserted.first_change_seq, inserted.last_change_seq);
                    return Ok(outcomes);
                }
                Err(StoreError::CodeTaken(detail)) if attempt < MAX_COMMIT_ATTEMPTS => {
                    tracing::info!(%detail, attempt, "another writer took a code first; catching up");
                    self.catch_up_locked().await?;
                    attempt += 1;
                }
                Err(StoreError::SchemeChanged { recorded }) if attempt < MAX_COMMIT_ATTEMPTS => {
                    tracing::info!(scheme = %recorded, "the registry's postal scheme changed; deciding again");
                    self.write_memory().scheme = recorded;
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Applies every change other writers (other processes, other replicas) committed since
    /// memory last looked; returns how many rows changed.
    pub async fn catch_up(&self) -> Result<usize, RegistryError> {
        let _writer = self.write_lock.lock().await;
        self.catch_up_locked().await
    }

    /// [`Registry::catch_up`] for a caller holding the write lock.
    pub(super) async fn catch_up_locked(&self) -> Result<usize, RegistryError> {
        // A switch of the postal scheme by another process is seen here, at the latest at
        // the next catch-up (`serve`: every 200 ms), and by the next batch it would affect.
        let scheme = self.noted(self.store.postal_scheme().await)?;
        self.write_memory().scheme = scheme;
        let mut n_applied = 0;
        loop {
            let since = self.read_memory().followed_seq;
            let changes = self.noted(self.store.changes_since(since, CATCH_UP_BATCH).await)?;
            let Some(last) = changes.last().map(|row| row.change_seq) else {
                return Ok(n_applied);
            };
            {
                let mut memory = self.write_memory();
                for row in &changes {
                    memory.apply(&self.zones, row)?;
                }
                memory.followed_seq = memory.followed_seq.max(last);
            }
            n_applied += changes.len();
            if (changes.len() as i64) < CATCH_UP_BATCH {
                return Ok(n_applied);
            }
        }
    }

    /// The change number up to which memory holds every change.
    pub fn followed_seq(&self) -> i64 {
        self.read_memory().followed_seq
    }

    /// Moves or edits an address; its code stays. Refused for a retired address, and for a
    /// move farther from the code's zone than a code of that zone can reach (0.45° from its
    /// reference point): the code would then decode nowhere near its address.
    pub async fn update(
        &self,
        code: VmapCode,
        change: AddressChange,
    ) -> Result<Address, RegistryError> {
        if change.status.is_some() || change.successor.is_some() {
            return Err(RegistryError::StatusChangeNotAllowed);
        }
        let _writer = self.write_lock.lock().await;
        let current = self
            .noted(self.store.get_by_code(&code).await)?
            .ok_or(RegistryError::NotRegistered(code))?;
        if current.status == AddressStatus::Retired {
            return Err(RegistryError::Retired(code));
        }
        if let Some(point) = change.location {
            let postcode = code.postcode();
            let zone_id = self
                .zones
                .by_postcode(postcode)
                .ok_or(RegistryError::UnknownPostcode(postcode))?;
            if !self.zones.can_own(zone_id, point) {
                return Err(RegistryError::MoveTooFar {
                    code,
                    postcode,
                    lat: point.lat,
                    lon: point.lon,
                });
            }
        }
        self.commit_change(code, &change).await
    }

    /// Retires an address: it leaves reverse answers, its code stays reserved for ever and
    /// resolves to the retired record (and its successor). Retiring twice is harmless; a
    /// retired address without a successor may be given one, but one that has a successor
    /// gets another only when `replace_successor` says so (a second client retiring it with
    /// its own successor would otherwise overwrite the first one's without a word).
    pub async fn retire(
        &self,
        code: VmapCode,
        successor: Option<VmapCode>,
        replace_successor: bool,
    ) -> Result<Address, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let current = self
            .noted(self.store.get_by_code(&code).await)?
            .ok_or(RegistryError::NotRegistered(code))?;
        if current.status == AddressStatus::Retired {
            match (successor, current.successor) {
                (None, _) => return Ok(current),
                (Some(requested), Some(recorded)) if requested == recorded => {
                    return Ok(current);
                }
                (Some(requested), Some(recorded)) if !replace_successor => {
                    return Err(RegistryError::SuccessorConflict {
                        code,
                        recorded,
                        requested,
                    });
                }
                (Some(_), _) => {}
            }
        }
        if let Some(successor) = successor {
            if successor == code {
                return Err(RegistryError::SelfSuccessor);
            }
            match self.noted(self.store.get_by_code(&successor).await)? {
                Some(row) if row.status == AddressStatus::Active => {}
                Some(_) => return Err(RegistryError::SuccessorRetired(successor)),
                None => return Err(RegistryError::SuccessorNotRegistered(successor)),
            }
        }
        let change = AddressChange {
            status: Some(AddressStatus::Retired),
            successor: successor.map(Some),
            ..AddressChange::default()
        };
        self.commit_change(code, &change).await
    }

    /// Writes `change` to the store, then to memory; the caller holds the write lock.
    async fn commit_change(
        &self,
        code: VmapCode,
        change: &AddressChange,
    ) -> Result<Address, RegistryError> {
        let (_, after) = self
            .noted(self.store.update_address(&code, change).await)?
            .ok_or(RegistryError::NotRegistered(code))?;
        let mut memory = self.write_memory();
        memory.apply(&self.zones, &IndexRow::from(&after))?;
        memory.advance_followed(after.change_seq, after.change_seq);
        Ok(after)
    }
}
