//! Matching a snapshot against the files the tailer knows: which files are the same as
//! before (whatever their names now), which were truncated, which are new, which are
//! copy-truncate copies, and which are gone; and, on the first snapshot, resuming from saved
//! state.

use super::identity::{FileId, Fingerprint, NameKind};
use super::snapshot::Found;
use super::split::Splitter;
use super::tracked::{Tracked, Truncated};
use super::{FilePosition, StartAt, TailState, Tailer};

/// The live file as it was before a snapshot, still live and not truncated: a new rotated
/// file that starts with the bytes read from it is a copy of it (copy-truncate, copied but
/// not yet truncated), which follows its read position until it is truncated.
#[derive(Debug, Clone, Copy)]
struct Source {
    id: FileId,
    fingerprint: Fingerprint,
    read: u64,
}

impl Source {
    fn copied_by(&self, found: &Found) -> bool {
        found.kind == NameKind::Rotated
            && self.fingerprint.len > 0
            && self.fingerprint.matches(&found.head)
    }
}

impl Tailer {
    /// Takes a snapshot's news; returns the names of the files in it that are new.
    pub(super) fn merge(&mut self, found: Vec<Found>) -> Vec<String> {
        // Copies of files found truncated before this snapshot's listing are looked for in
        // it. A file found truncated now may have been copied after the listing (copy, then
        // truncate, between listing and opening): its copy is looked for in the next one.
        for t in &mut self.truncated {
            t.looked = true;
        }
        // Files followed through their handle and found shorter or rewritten.
        for f in &found {
            let held = self
                .files
                .iter()
                .position(|t| t.id == f.id && t.file.is_some());
            if let Some(i) = held
                && self.files[i].rewritten_in(f)
            {
                self.truncated_file(i);
            }
        }
        let live_now = found
            .iter()
            .find(|f| f.kind == NameKind::Live)
            .map(|f| f.id);
        let source = self
            .files
            .iter()
            .find(|t| t.live && t.file.is_some() && Some(t.id) == live_now)
            .map(|t| Source {
                id: t.id,
                fingerprint: t.fingerprint,
                read: t.split.scanned(),
            });
        for t in &mut self.files {
            t.present = false;
            t.live = false;
        }
        let mut new = Vec::new();
        for f in found {
            if let Some(i) = self.files.iter().position(|t| t.id == f.id) {
                // With its handle kept the inode cannot have been reused.
                if self.files[i].file.is_some() || self.files[i].is(&f) {
                    self.files[i].update(f);
                    continue;
                }
                let gone = self.files.remove(i);
                self.forget(&gone);
            }
            new.push(f.name.clone());
            // The first file the log ever has is not a rotation.
            if self.any_file {
                self.stats.rotations += 1;
            }
            self.any_file = true;
            let t = self.new_file(f, source);
            self.files.push(t);
        }
        let mut i = 0;
        while i < self.files.len() {
            // Gone from the directory: read to the end through its handle if it has one.
            if !self.files[i].present && self.files[i].file.is_none() {
                let gone = self.files.remove(i);
                self.forget(&gone);
            } else {
                i += 1;
            }
        }
        new
    }

    /// A file not known before: read from its start, or, when it is a copy-truncate copy,
    /// from where the copied file was read.
    fn new_file(&mut self, found: Found, source: Option<Source>) -> Tracked {
        let max = self.spec.max_record_bytes;
        if let Some(at) = self.truncated.iter().position(|t| t.copied_by(&found)) {
            let t = self.truncated.remove(at);
            let mut copy = Tracked::new(found, 0, max);
            copy.take_over(t.split, t.fingerprint);
            return copy;
        }
        match source {
            Some(s) if s.copied_by(&found) => {
                let mut t = Tracked::new(found, s.read, max);
                t.copy_of = Some(s.id);
                t
            }
            _ => Tracked::new(found, 0, max),
        }
    }

    /// File `i` was found shorter than what was read of it, or rewritten: what was read
    /// stands, and it is read again from 0. The record it left open is finished in its
    /// copy-truncate copy, which holds the bytes it lost: a copy already linked to it, else a
    /// new file a snapshot finds starting with its bytes ([`Truncated`]); failing that, by
    /// itself.
    pub(super) fn truncated_file(&mut self, i: usize) {
        self.stats.truncations += 1;
        let max = self.spec.max_record_bytes;
        let t = &mut self.files[i];
        let (split, fingerprint) = t.restart(max);
        let (id, name, mtime_ns) = (t.id, t.name.clone(), t.mtime_ns);
        let linked = self
            .files
            .iter()
            .enumerate()
            .filter(|(_, c)| c.copy_of == Some(id))
            .max_by(|(_, a), (_, b)| a.age().cmp(&b.age()))
            .map(|(i, _)| i);
        for c in self.files.iter_mut().filter(|c| c.copy_of == Some(id)) {
            c.copy_of = None;
        }
        match linked {
            Some(c) => self.files[c].take_over(split, fingerprint),
            None if split.scanned() > 0 => self.truncated.push(Truncated {
                id,
                name,
                fingerprint,
                split,
                mtime_ns,
                looked: false,
            }),
            None => {}
        }
    }

    /// A file that left the directory without its handle kept: lost if it was not read to
    /// its end.
    fn forget(&mut self, gone: &Tracked) {
        if gone.unfinished() && !self.is_linked_copy(gone) {
            self.lost(
                1,
                "a file of the log was renamed or deleted before what was left in it could be read",
            );
        }
    }

    /// The first snapshot: files are placed by the saved state, else by `start_at`.
    pub(super) fn start(&mut self, found: Vec<Found>) -> Vec<String> {
        self.started = true;
        let max = self.spec.max_record_bytes;
        self.any_file = !found.is_empty()
            || self.resume.as_ref().is_some_and(|s| {
                s.file.is_some() || s.others.as_ref().is_some_and(|o| !o.is_empty())
            });
        match self.resume.take() {
            Some(saved) => self.resume_saved(saved, found),
            None => {
                for f in found {
                    // Rotated files already there are history either way.
                    let offset = match (f.kind, self.spec.start_at) {
                        (NameKind::Live, StartAt::Beginning) => 0,
                        _ => f.len,
                    };
                    self.files.push(Tracked::new(f, offset, max));
                }
                Vec::new()
            }
        }
    }

    fn resume_saved(&mut self, saved: TailState, found: Vec<Found>) -> Vec<String> {
        let max = self.spec.max_record_bytes;
        let mut found: Vec<Option<Found>> = found.into_iter().map(Some).collect();
        // States written before `others` existed hold only the live file: rotated files
        // modified after it are new, the rest was read or was history.
        let horizon = match &saved.others {
            Some(_) => None,
            None => Some(saved.file.as_ref().map_or(saved.horizon_ns, |p| p.mtime_ns)),
        };
        self.truncated = saved
            .truncated
            .iter()
            .map(|p| Truncated {
                id: p.id,
                name: p.name.clone(),
                fingerprint: p.fingerprint,
                split: Splitter::new(p.offset, max),
                mtime_ns: p.mtime_ns,
                looked: true,
            })
            .collect();
        let positions = saved
            .file
            .iter()
            .map(|p| (p, true))
            .chain(saved.others.iter().flatten().map(|p| (p, false)));
        for (pos, was_live) in positions {
            let at = found.iter().position(|f| {
                f.as_ref()
                    .is_some_and(|f| f.id == pos.id && resumable(pos, was_live, f))
            });
            match at.and_then(|i| found[i].take()) {
                Some(f) => {
                    let rewritten = f.len < pos.offset || !pos.fingerprint.matches(&f.head);
                    self.files.push(Tracked::resumed(pos, f, rewritten, max));
                    if rewritten {
                        self.truncated_file(self.files.len() - 1);
                    }
                }
                None if was_live || pos.offset < pos.len => self.lost(
                    1,
                    "the file of a saved read position is gone; what was left unread in it is lost",
                ),
                None => {}
            }
        }
        let source = self.files.iter().find(|t| t.live).map(|t| Source {
            id: t.id,
            fingerprint: t.fingerprint,
            read: t.split.scanned(),
        });
        let mut new = Vec::new();
        for f in found.into_iter().flatten() {
            let history = horizon.is_some_and(|h| f.kind == NameKind::Rotated && f.mtime_ns <= h);
            if history {
                let len = f.len;
                self.files.push(Tracked::new(f, len, max));
            } else {
                new.push(f.name.clone());
                self.stats.rotations += 1;
                let t = self.new_file(f, source);
                self.files.push(t);
            }
        }
        new
    }
}

/// Whether a saved file is `found` (same inode): the same birth time where both are known;
/// without birth times, the same first bytes and at least as long, or still the live file
/// (rewritten in place while the agent was down: read again from its start, as a
/// truncation).
fn resumable(pos: &FilePosition, was_live: bool, found: &Found) -> bool {
    match (pos.birth_ns, found.birth_ns) {
        (Some(a), Some(b)) => a == b,
        _ => {
            let intact = pos.fingerprint.matches(&found.head) && found.len >= pos.offset;
            intact || (was_live && found.kind == NameKind::Live)
        }
    }
}
