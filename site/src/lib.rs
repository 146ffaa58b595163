//! The site file as data: severity levels with their clock targets, service calendars and the
//! working-time arithmetic on them, escalation policies and their schedule, maintenance
//! windows, flap detection settings, the inspection schedule and report settings, and the
//! notification part (`[notify]`, `[channel.<name>]`,
//! `[[route]]`, templates and the payload they are written against), with the checker that
//! reports every problem of a file at `file:line:column`.
//!
//! Pure: time is an argument, nothing here reads a clock, and the only I/O is reading the site
//! file itself ([`Site::load`]). Secrets named by the file are read by the channels when they
//! start, not here, so a site file can be checked on a machine without them.
//!
//! Must never depend on: the incident store (SQLite), the notification channels (MQTT, HTTP
//! clients, SMTP), the collector or any network code — `patrolctl site check` links this crate,
//! and the store and the channels depend on it, not the other way round.

pub mod calendar;
pub mod escalation;
pub mod flap;
pub mod inspection;
mod model;
pub mod notify;

pub use inspection::{Inspection, Language, ReportSettings};
pub use model::*;

use std::sync::{Arc, PoisonError, RwLock};

/// The site configuration in force, shared by the store's writer, the escalation runner, the
/// notification dispatcher and reloads (which swap the inner `Arc`).
pub type SiteHandle = Arc<RwLock<Arc<Site>>>;

/// A handle on `site`.
pub fn site_handle(site: Site) -> SiteHandle {
    Arc::new(RwLock::new(Arc::new(site)))
}

/// The site in force now.
pub fn current(handle: &SiteHandle) -> Arc<Site> {
    Arc::clone(&handle.read().unwrap_or_else(PoisonError::into_inner))
}
