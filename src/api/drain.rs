//! Draining: what the server does between SIGTERM (or ctrl-c) and its exit.
//!
//! Decisions: during the drain the listener stays open, and a request that comes now is
//! answered at once on a connection that then closes: `/readyz` 503 `shutting_down` (so a
//! load balancer that checks it takes the replica out), `/healthz` and `/metrics` as
//! always, everything else 503 `shutting_down` with `Retry-After`, which a client or a
//! proxy retries on another replica. Closing the listener at once was the alternative, but
//! then nothing could ask `/readyz` and learn of the drain. Requests already running are
//! finished; a streamed assignment stops after the batch it is deciding and ends its answer
//! with the abort record and `vmap-status: aborted` ([`crate::assign::run_until`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

use super::{AppError, AppState};

/// Whether the server drains; shared by the server loop, which starts it, and the router.
#[derive(Debug, Clone)]
pub struct Drain {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain::new()
    }
}

impl Drain {
    pub fn new() -> Drain {
        Drain {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// From now on the server drains (idempotent).
    pub fn start(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the drain has started (at once if it has).
    pub async fn started(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so waiting cannot fail for want of one.
        let _ = receiver.wait_for(|draining| *draining).await;
    }
}

/// The paths answered as always during a drain: the probes and the scrape.
fn served_while_draining(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics")
}

/// During a drain every request but [`served_while_draining`] ones answers 503
/// `shutting_down` (`/readyz` included, which is how a balancer learns of the drain).
pub(super) async fn refuse_while_draining(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if state.drain.is_draining() && !served_while_draining(request.uri().path()) {
        return Err(AppError::ShuttingDown);
    }
    Ok(next.run(request).await)
}
