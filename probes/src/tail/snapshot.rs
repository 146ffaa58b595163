//! One look at the log's directory: every file of the log opened, and known by the identity
//! of the opened handle, never by a name read a moment earlier. A name that no longer leads
//! to the file listed under it (renamed or deleted between the listing and the open: a
//! rotation under way) makes the listing stale, and the directory is listed again.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirEntryExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::OFlags;

use super::Step;
use super::identity::{FileId, NameKind, Names, birth_ns, mtime_ns, read_head};

/// Listings tried before a poll makes do with a stale one.
const ATTEMPTS: usize = 3;

/// Most files of one log in its directory; more means the rotated-name pattern is too wide.
pub(super) const MAX_FILES: usize = 4096;

/// One file of the log as found by a snapshot.
#[derive(Debug)]
pub(super) struct Found {
    pub name: String,
    pub kind: NameKind,
    pub id: FileId,
    pub birth_ns: Option<i64>,
    pub len: u64,
    pub mtime_ns: i64,
    /// Its first bytes (see [`super::identity::FINGERPRINT_BYTES`]).
    pub head: Vec<u8>,
    /// The handle, kept when the caller asked for it: the file can then be read even if it is
    /// renamed or deleted afterwards.
    pub file: Option<File>,
}

/// The files of the log at one moment.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    pub found: Vec<Found>,
    /// Every listed name led to the file listed under it. When false, a file may exist that
    /// this snapshot missed; the next poll finds it.
    pub consistent: bool,
}

/// Why a snapshot failed.
#[derive(Debug)]
pub(super) enum SnapshotError {
    List(std::io::Error),
    Open(String, std::io::Error),
    TooMany,
}

/// Lists `dir` and opens the files of the log. `keep(found)` says whether to keep a file's
/// handle (at most `max_kept` are kept; the others are closed at once, so a directory of many
/// rotated files does not use as many descriptors).
pub(super) fn take(
    dir: &Path,
    names: &Names,
    max_kept: usize,
    keep: &mut dyn FnMut(&Found) -> bool,
    hook: &mut dyn FnMut(Step),
) -> Result<Snapshot, SnapshotError> {
    let mut snapshot = Snapshot::default();
    for attempt in 0..ATTEMPTS {
        let listed = list(dir, names)?;
        hook(Step::Listed);
        snapshot = Snapshot {
            found: Vec::with_capacity(listed.len()),
            consistent: true,
        };
        let mut kept = 0;
        for entry in listed {
            let Some(found) = open(dir, &entry, &mut snapshot.consistent)? else {
                continue;
            };
            // Two names for one file (a hard link, or the live name linked to a rotated one):
            // the file counts once, as the live one if either name is.
            if let Some(other) = snapshot.found.iter_mut().find(|f| f.id == found.id) {
                if found.kind == NameKind::Live {
                    other.kind = NameKind::Live;
                    other.name = found.name;
                    other.file = other.file.take().or(found.file);
                }
                continue;
            }
            let mut found = found;
            // The live file's handle is always kept: it is the one being followed.
            let keep_handle = match found.kind {
                NameKind::Live => true,
                NameKind::Rotated if kept < max_kept && keep(&found) => {
                    kept += 1;
                    true
                }
                NameKind::Rotated => false,
            };
            if !keep_handle {
                found.file = None;
            }
            snapshot.found.push(found);
        }
        if snapshot.consistent || attempt + 1 == ATTEMPTS {
            break;
        }
    }
    Ok(snapshot)
}

/// A name of the log as listed.
struct Listed {
    name: String,
    kind: NameKind,
    /// The inode the directory entry named when listed.
    ino: u64,
    symlink: bool,
}

fn list(dir: &Path, names: &Names) -> Result<Vec<Listed>, SnapshotError> {
    let mut listed = Vec::new();
    for item in std::fs::read_dir(dir).map_err(SnapshotError::List)? {
        let item = item.map_err(SnapshotError::List)?;
        // Names that are not UTF-8 cannot match the configured (UTF-8) names.
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        let Some(kind) = names.kind(&name) else {
            continue;
        };
        let symlink = item.file_type().is_ok_and(|t| t.is_symlink());
        // The live file may be a link to the real log; rotated ones are taken as they are.
        if symlink && kind == NameKind::Rotated {
            continue;
        }
        listed.push(Listed {
            name,
            kind,
            ino: item.ino(),
            symlink,
        });
        if listed.len() > MAX_FILES {
            return Err(SnapshotError::TooMany);
        }
    }
    Ok(listed)
}

/// Opens a listed name; `None` if it is not a regular file or no longer there (which makes
/// the listing stale, as does a name now leading to another file).
fn open(dir: &Path, entry: &Listed, consistent: &mut bool) -> Result<Option<Found>, SnapshotError> {
    // Non-blocking, so a FIFO given a log's name cannot hang the poll; rotated names are
    // never followed if they became links since the listing.
    let mut flags = OFlags::NONBLOCK;
    if entry.kind == NameKind::Rotated {
        flags |= OFlags::NOFOLLOW;
    }
    let path = dir.join(&entry.name);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            *consistent = false;
            return Ok(None);
        }
        // ELOOP: a rotated name that became a symbolic link.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Ok(None);
        }
        Err(e) => return Err(SnapshotError::Open(entry.name.clone(), e)),
    };
    let open_err = |e| SnapshotError::Open(entry.name.clone(), e);
    let meta = file.metadata().map_err(open_err)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let id = FileId::of(&meta);
    if !entry.symlink && id.ino != entry.ino {
        *consistent = false;
    }
    Ok(Some(Found {
        name: entry.name.clone(),
        kind: entry.kind,
        id,
        birth_ns: birth_ns(&meta),
        len: meta.len(),
        mtime_ns: mtime_ns(&meta),
        head: read_head(&file).map_err(open_err)?,
        file: Some(file),
    }))
}

/// Opens `name` again to read a file whose handle was not kept, if it is still the file `id`.
pub(super) fn reopen(dir: &Path, name: &str, id: FileId) -> std::io::Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32)
        .open(dir.join(name))
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    Ok((meta.is_file() && FileId::of(&meta) == id).then_some(file))
}
