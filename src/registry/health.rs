//! What the registry last saw of its database: available, or away since when and why.
//!
//! Decisions: an outage begins with any call that finds the database away (a request, or
//! following other writers) and ends only when [`Store::probe`](crate::store::Store::probe)
//! succeeds, which checks that a write would be taken and never waits on a lock. A read that
//! succeeds does not end it: a read-only or write-locked SQLite file still answers reads,
//! and `/readyz` would otherwise flicker between ready and degraded. Nothing here fails
//! requests early; each still tries the database, bounded by the database timeout, so the
//! first request after the database is back succeeds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::StoreError;

/// A database outage under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    pub since: Instant,
    /// The last error that found the database away (for the log; never sent to clients).
    pub reason: String,
}

impl Outage {
    pub fn duration(&self) -> Duration {
        self.since.elapsed()
    }
}

#[derive(Debug, Default)]
pub(super) struct Health {
    outage: Mutex<Option<Outage>>,
}

impl Health {
    /// Notes `error` when it means the database is away; one warning per outage.
    pub(super) fn note(&self, error: &StoreError) {
        if !error.is_unavailable() {
            return;
        }
        let mut outage = self.lock();
        match outage.as_mut() {
            Some(outage) => outage.reason = error.to_string(),
            None => {
                tracing::warn!(
                    %error,
                    "the database is unavailable: answering 503 to what needs it, and from memory the rest"
                );
                *outage = Some(Outage {
                    since: Instant::now(),
                    reason: error.to_string(),
                });
            }
        }
    }

    /// The database answered a probe: the outage, if any, is over.
    pub(super) fn recovered(&self) {
        if let Some(outage) = self.lock().take() {
            tracing::info!(
                seconds = outage.duration().as_secs_f64(),
                "the database is available again"
            );
        }
    }

    pub(super) fn outage(&self) -> Option<Outage> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Outage>> {
        // The guarded value is replaced whole, so a poisoned lock still holds a sound one.
        self.outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
