#![no_main]
//! cargo-fuzz target; the body is in ../targets.rs (shared with the stable corpus replay).

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::alert_log_line(data));
