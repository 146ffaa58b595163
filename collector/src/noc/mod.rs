//! The NOC side of incidents, as pure logic with time passed in: service calendars and the
//! clock arithmetic on them, the site configuration (levels, calendars, escalation policies,
//! maintenance windows), the escalation schedule and flap detection. The collector's runner
//! and store apply what these decide.

pub mod calendar;
pub mod escalation;
pub mod flap;
pub mod site;

use std::sync::{Arc, PoisonError, RwLock};

/// The site configuration in force, shared by the store's writer, the escalation runner and
/// reloads (which swap the inner `Arc`).
pub type SiteHandle = Arc<RwLock<Arc<site::Site>>>;

/// A handle on `site`.
pub fn site_handle(site: site::Site) -> SiteHandle {
    Arc::new(RwLock::new(Arc::new(site)))
}

/// The site in force now.
pub fn current(handle: &SiteHandle) -> Arc<site::Site> {
    Arc::clone(&handle.read().unwrap_or_else(PoisonError::into_inner))
}
