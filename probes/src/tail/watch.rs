//! Knowing about the files a poll never saw. A file of the log can be created, written,
//! rotated and deleted between two polls; no directory listing finds it. An inotify watch on
//! the directory (creations, renames and deletions only, so the event queue stays small)
//! counts the files that entered the log's names; polls count the new files they found;
//! what entered and was never found is lost, and is reported once.
//!
//! A poll reads the events twice: before listing the directory, and after matching the
//! snapshot. The first read counts what entered before the listing. The second finds the
//! files that entered while the directory was being listed and opened: those the snapshot
//! found (by their names, renames followed) are counted now, the others at the next poll
//! (they may still be there for it to find). So the balance is exact at every poll but for
//! files renamed between their creation and the listing in that short window, and those are
//! set right at the next poll.
//!
//! Where the watch cannot be set up (inotify instances exhausted: one per tailer, 128 per
//! user by default; a filesystem without inotify such as NFS for remote writers), losses of
//! never-seen files are not reported; files seen and lost are counted either way. Neither are
//! files created and deleted while the agent was not running, or, after a queue overflow,
//! during the poll that noticed it. A hard link to a known file under another of the log's
//! names is an entry with no new file: it counts as a lost file.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::identity::Names;

/// Unpaired `IN_MOVED_FROM` cookies kept; a rename's two events are adjacent in the queue,
/// so only a pathological directory fills this.
const MAX_COOKIES: usize = 1024;

/// The inotify watch on the log's directory and the balance of files it keeps.
#[derive(Debug, Default)]
pub(super) struct Watch {
    fd: Option<OwnedFd>,
    /// The watch could not be set up and this was logged.
    warned: bool,
    /// Files that entered the log's names since the balance started.
    entered: u64,
    /// Entries read after a snapshot that did not find them, counted at the next poll.
    carried: u64,
    /// New files found by polls since the balance started.
    found: u64,
    /// Files reported lost since the balance started.
    reported: u64,
    /// Events were missed (queue overflow, watch removed): polls until the balance is
    /// trusted again.
    resync: u8,
    /// Source of renames whose destination event has not been read yet: the cookie and
    /// the old name if it was one of the log's.
    moved_from: HashMap<u32, Option<String>>,
}

impl Watch {
    /// Makes sure `dir` is watched. `true` when it already was, so events since the last
    /// poll can be counted; `false` when the watch starts now or cannot be set up.
    pub(super) fn ensure(&mut self, dir: &Path) -> bool {
        if self.fd.is_some() {
            return true;
        }
        let started = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).and_then(|fd| {
            // Deletions are not counted, but watched: the kernel merges an event identical to
            // the last one queued, and a deletion between two creations of the same name
            // keeps them apart.
            let flags =
                WatchFlags::CREATE | WatchFlags::DELETE | WatchFlags::MOVE | WatchFlags::ONLYDIR;
            inotify::add_watch(&fd, dir, flags).map(|_| fd)
        });
        match started {
            Ok(fd) => self.fd = Some(fd),
            // The directory does not exist yet: the poll reports that itself.
            Err(Errno::NOENT) => {}
            Err(e) => {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(dir = %dir.display(), error = %e,
                        "cannot watch the log directory (inotify); files rotated away and deleted between two polls will not be counted as lost");
                }
            }
        }
        false
    }

    /// Before the listing: counts what entered since the last poll.
    pub(super) fn before_listing(&mut self, names: &Names) {
        let mut entries = Vec::new();
        self.read(names, &mut entries);
        self.entered += entries.len() as u64 + std::mem::take(&mut self.carried);
    }

    /// After the snapshot was matched, with the names of the new files it found: counts the
    /// files that entered meanwhile and were found; the others wait for the next poll.
    pub(super) fn after_snapshot(&mut self, names: &Names, mut found_new: Vec<&str>) {
        let mut entries = Vec::new();
        self.read(names, &mut entries);
        for name in entries {
            match name.and_then(|n| found_new.iter().position(|f| *f == n)) {
                Some(i) => {
                    found_new.swap_remove(i);
                    self.entered += 1;
                }
                None => self.carried += 1,
            }
        }
    }

    /// Reads the queued events; appends one entry per file that entered the log's names,
    /// with its name now (followed through renames read in the same call; `None` once it
    /// left the log's names).
    fn read(&mut self, names: &Names, entries: &mut Vec<Option<String>>) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
        let mut reader = inotify::Reader::new(fd, &mut buf);
        let mut removed = false;
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "reading the directory watch failed");
                    self.resync = 2;
                    break;
                }
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                self.resync = 2;
                continue;
            }
            if flags.contains(ReadFlags::IGNORED) {
                // The directory was removed or unmounted: watch it again next poll.
                removed = true;
                break;
            }
            if flags.contains(ReadFlags::ISDIR) {
                continue;
            }
            let name = event
                .file_name()
                .and_then(|n| n.to_str().ok())
                .filter(|n| names.kind(n).is_some())
                .map(str::to_owned);
            if flags.contains(ReadFlags::CREATE) && name.is_some() {
                entries.push(name.clone());
            }
            if flags.contains(ReadFlags::MOVED_FROM) {
                if self.moved_from.len() >= MAX_COOKIES {
                    self.moved_from.clear();
                }
                self.moved_from.insert(event.cookie(), name.clone());
            }
            if flags.contains(ReadFlags::MOVED_TO) {
                match self.moved_from.remove(&event.cookie()).flatten() {
                    // A rename from one of the log's names: the same file moving, which is
                    // an entry of this call if it was created in it.
                    Some(old) => {
                        if let Some(entry) =
                            entries.iter_mut().rev().find(|e| e.as_ref() == Some(&old))
                        {
                            *entry = name.clone();
                        }
                    }
                    None if name.is_some() => entries.push(name.clone()),
                    None => {}
                }
            }
        }
        if removed {
            self.fd = None;
            self.resync = 2;
        }
    }

    /// Starts the balance afresh after the snapshot of the poll that set the watch up (or
    /// the first one of the tailer), whose files are known from the snapshot itself: the
    /// files that entered since the watch was set up and are not in it (`in_snapshot`:
    /// the names it found) are counted at the next poll.
    pub(super) fn restart(&mut self, names: &Names, mut in_snapshot: Vec<&str>) {
        let mut entries = Vec::new();
        self.read(names, &mut entries);
        self.entered = 0;
        self.carried = 0;
        self.found = 0;
        self.reported = 0;
        self.resync = 0;
        for name in entries {
            match name.and_then(|n| in_snapshot.iter().position(|f| *f == n)) {
                Some(i) => {
                    in_snapshot.swap_remove(i);
                }
                None => self.carried += 1,
            }
        }
    }

    /// After a poll that found `new_files` files it did not know: how many more files are now
    /// known to be lost. `consistent`: the poll's listing was not stale (a stale one may have
    /// missed a file that still exists).
    pub(super) fn settle(&mut self, new_files: u64, consistent: bool) -> u64 {
        self.found += new_files;
        if self.resync > 0 {
            self.resync -= 1;
            self.entered = self.found + self.reported;
            self.carried = 0;
            return 0;
        }
        if !consistent {
            return 0;
        }
        let deficit = self.entered.saturating_sub(self.found);
        if deficit > self.reported {
            let more = deficit - self.reported;
            self.reported = deficit;
            more
        } else {
            0
        }
    }
}
