//! Writing to stdout: explicit writes so a closed pipe ends patrolctl quietly instead of the
//! panic `println!` gives, and a flush per call so `tail --json | jq` sees each event at once.

use crate::failure::Failure;
use std::io::{self, Write};

/// Writes `text` and a newline to stdout and flushes.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Writes `text` as is (a table already ends in a newline) and flushes.
pub fn text(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
