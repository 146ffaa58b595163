//! One collector per data directory: an exclusive `flock` on `<data>/LOCK`, held for the
//! process's life, with the holder's pid written in so the refusal can name it.
//!
//! `flock` is released by the kernel when the process dies, however it dies (SIGKILL
//! included), so a stale file never blocks a restart.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "data directory {dir} is in use by another patrol-collector (pid {pid}): stop that one \
         first, or give this one its own --data"
    )]
    Held { dir: String, pid: String },
    #[error("cannot lock the data directory {dir} ({path}): {source}")]
    Io {
        dir: String,
        path: String,
        source: std::io::Error,
    },
}

/// Takes the lock on `data_dir` (which must exist) or says who holds it.
pub fn lock(data_dir: &Path) -> Result<DataLock, LockError> {
    let path = data_dir.join("LOCK");
    let io = |source: std::io::Error| LockError::Io {
        dir: data_dir.display().to_string(),
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(LockError::Held {
                dir: data_dir.display().to_string(),
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.chars().take(20).collect()
                },
            });
        }
        Err(e) => return Err(io(e.into())),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(DataLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open in this same
        // process conflicts exactly as another process's would.
        let err = lock(dir.path()).unwrap_err().to_string();
        let pid = std::process::id().to_string();
        assert!(err.contains(&format!("(pid {pid})")), "{err}");
        assert!(err.contains("in use by another patrol-collector"), "{err}");
        drop(held);
        lock(dir.path()).unwrap();
    }
}
