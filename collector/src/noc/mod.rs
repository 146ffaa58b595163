//! The NOC side of incidents, as pure logic with time passed in: service calendars and the
//! clock arithmetic on them, the site configuration (levels, calendars, escalation policies,
//! maintenance windows), the escalation schedule and flap detection. The collector's runner
//! and store apply what these decide.

pub mod calendar;
pub mod escalation;
pub mod flap;
pub mod site;
