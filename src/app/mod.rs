//! The services layer: what the running bot shares ([`App`]) and the use cases that both the
//! Discord edge and the duties worker call, so neither has to reach into the other.
//!
//! Layers point one way: `discord`, `worker` and `http` use `app`; `app` uses `render`, `store`
//! and `domain`; `domain` uses nothing of ours.

mod buttons;
mod summary;

use std::sync::Arc;

pub use buttons::{disable_buttons_of_task, disable_closed_buttons};
pub use summary::{prepare_summary, roster_attendance};

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Db;

/// What every part of the running bot shares.
pub struct App {
    /// The store; it also wakes the duties worker after every write that changes what is due.
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// Where users reach the HTTP listener (for calendar-feed links); `None` when it is off.
    pub public_url: Option<String>,
    /// Counters for `/metrics`, and the gateway's state for `/healthz`.
    pub metrics: Metrics,
    /// Whether this process holds a gateway connection (`/healthz` checks it only then).
    pub runs_gateway: bool,
    /// Whether this process runs the duties worker (`/metrics` reports its partitions).
    pub runs_worker: bool,
}

impl App {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            public_url: None,
            metrics: Metrics::new(),
            runs_gateway: true,
            runs_worker: true,
        }
    }
}
