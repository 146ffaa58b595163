//! Matching a snapshot against the files the tailer knows: which files are the same as
//! before (whatever their names now), which were truncated, which are new, which are
//! copy-truncate copies, and which are gone; and, on the first snapshot, resuming from saved
//! state.

use super::identity::{FileId, NameKind, from_hex, is_prefix, read_head, same_bytes};
use super::snapshot::{self, Found};
use super::split::Splitter;
use super::tracked::{Tracked, Truncated};
use super::{FilePosition, StartAt, TailState, Tailer};

/// The live file of a snapshot as the source of copies: a new rotated file holding exactly
/// its first bytes (a copy-truncate copy caught before the truncation, or someone's backup)
/// follows its read position instead of being read, until the live file is truncated.
#[derive(Debug, Clone, Copy)]
struct Source {
    id: FileId,
    read: u64,
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
        self.check_copies(&found);
        let copies = self.copies(&found.iter().collect::<Vec<_>>());
        for t in &mut self.files {
            t.present = false;
            t.live = false;
        }
        let mut new = Vec::new();
        for (f, copy_of) in found.into_iter().zip(copies) {
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
            let t = self.new_file(f, copy_of);
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
    /// from where the copied file was read. A copy of the live file as it is now (checked
    /// byte for byte) is that, whatever a truncated file's first bytes suggest.
    fn new_file(&mut self, found: Found, copy_of: Option<Source>) -> Tracked {
        let max = self.spec.max_record_bytes;
        if let Some(s) = copy_of {
            // Never past its own end: a position beyond it would read as a truncation.
            let at = s.read.min(found.len);
            let mut t = Tracked::new(found, at, max);
            t.copy_of = Some(s.id);
            return t;
        }
        let best = self
            .truncated
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.match_len(&found)))
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(_, n)| *n)
            .map(|(i, _)| i);
        if let Some(at) = best {
            let mut t = self.truncated.remove(at);
            // Its head as far as the source was read counts as read.
            let read = t.split.scanned().min(found.len);
            let mut copy = Tracked::new(found, read, max);
            if let Some(split) = copy.take_over(t.split, max) {
                // Finished as it is by this poll's read.
                t.split = split;
                t.looked = true;
                t.copy = Some(copy.id);
                self.truncated.push(t);
            }
            return copy;
        }
        Tracked::new(found, 0, max)
    }

    /// Copies following their source: one whose bytes not yet read from the source are no
    /// longer in the source (truncated or rewritten before anything of it was read, which the
    /// source's own check cannot see) takes over from the source, as at a truncation. (One
    /// whose source was read to its end is let go when files are closed.)
    fn check_copies(&mut self, found: &[Found]) {
        for f in found {
            if let Some(t) = self
                .files
                .iter_mut()
                .find(|t| t.id == f.id && t.copy_of.is_some())
            {
                t.len = f.len;
            }
        }
        self.check_linked_copies();
    }

    fn check_linked_copies(&mut self) {
        for c in 0..self.files.len() {
            let Some(src) = self.files[c].copy_of else {
                continue;
            };
            let Some(s) = self.files.iter().position(|t| t.id == src) else {
                self.files[c].copy_of = None;
                continue;
            };
            let read = self.files[s].split.scanned();
            let len = self.files[c].len;
            let held = read >= len || {
                let source = &self.files[s];
                let reopened = match &source.file {
                    Some(_) => None,
                    None => snapshot::reopen(&self.spec.dir, &source.name, source.id)
                        .ok()
                        .flatten(),
                };
                match (
                    &self.files[c].file,
                    source.file.as_ref().or(reopened.as_ref()),
                ) {
                    (Some(copy), Some(of)) => same_bytes(copy, of, read, len).unwrap_or(false),
                    (None, _) => true,
                    // The source cannot be read: the copy holds its only bytes.
                    (Some(_), None) => false,
                }
            };
            if !held {
                self.truncated_file(s);
            }
        }
    }

    /// For each of `found`, the live file if it is a copy of it (see [`Source`]): a new,
    /// non-empty rotated file whose bytes are all the live file's first bytes, not just the
    /// few read of it so far, which a file that merely starts alike may share. Either file
    /// unreadable: not a copy.
    fn copies(&self, found: &[&Found]) -> Vec<Option<Source>> {
        let mut copies = vec![None; found.len()];
        let found_live = found.iter().find(|f| f.kind == NameKind::Live);
        let live = found_live
            .map(|f| f.id)
            .or_else(|| self.files.iter().find(|t| t.live).map(|t| t.id));
        let Some(live) = live else {
            return copies;
        };
        // Known only if it is the same file, not a new one that got a known file's inode.
        let known = self
            .files
            .iter()
            .find(|t| t.id == live && (t.file.is_some() || found_live.is_none_or(|f| t.is(f))));
        let (source, file) = match known {
            Some(t) => (
                Source {
                    id: t.id,
                    read: t.split.scanned(),
                },
                t.file.as_ref(),
            ),
            None => (
                Source { id: live, read: 0 },
                found
                    .iter()
                    .find(|f| f.id == live)
                    .and_then(|f| f.file.as_ref()),
            ),
        };
        let Some(file) = file else {
            return copies;
        };
        let Ok(head) = read_head(file) else {
            return copies;
        };
        for (copy, f) in copies.iter_mut().zip(found) {
            let candidate = f.kind == NameKind::Rotated
                && f.len > 0
                && !self
                    .files
                    .iter()
                    .any(|t| t.id == f.id && (t.file.is_some() || t.is(f)))
                && head.starts_with(&f.head);
            if candidate
                && let Some(c) = &f.file
                && is_prefix(c, f.len, file).unwrap_or(false)
            {
                *copy = Some(source);
            }
        }
        copies
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
        let (split, fingerprint, head) = t.restart(max);
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
        // A copy shorter than what was read hands the read state back: nothing more will
        // come for the record it left open, which is finished by this poll's read.
        let (split, looked, copy) = match linked {
            Some(c) => match self.files[c].take_over(split, max) {
                Some(split) => (split, true, Some(self.files[c].id)),
                None => return,
            },
            None => (split, false, None),
        };
        if split.scanned() > 0 {
            self.truncated.push(Truncated {
                id,
                name,
                fingerprint,
                head,
                split,
                mtime_ns,
                looked,
                copy,
            });
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
                head: from_hex(&p.head, p.fingerprint),
                split: Splitter::new(p.offset, max),
                mtime_ns: p.mtime_ns,
                looked: true,
                copy: None,
            })
            .collect();
        let positions = saved
            .file
            .iter()
            .map(|p| (p, true))
            .chain(saved.others.iter().flatten().map(|p| (p, false)));
        let mut rewritten = Vec::new();
        for (pos, was_live) in positions {
            let at = found.iter().position(|f| {
                f.as_ref()
                    .is_some_and(|f| f.id == pos.id && resumable(pos, was_live, f))
            });
            match at.and_then(|i| found[i].take()) {
                Some(f) => {
                    let changed = f.len < pos.offset || !pos.fingerprint.matches(&f.head);
                    if changed {
                        rewritten.push(f.id);
                    }
                    self.files.push(Tracked::resumed(pos, f, changed, max));
                }
                None if was_live || pos.offset < pos.len => self.lost(
                    1,
                    "the file of a saved read position is gone; what was left unread in it is lost",
                ),
                None => {}
            }
        }
        // Truncated while the agent was down: once every saved file is back, so that a copy
        // following it takes over.
        for id in rewritten {
            if let Some(i) = self.files.iter().position(|t| t.id == id) {
                self.truncated_file(i);
            }
        }
        self.check_linked_copies();
        let found: Vec<Found> = found.into_iter().flatten().collect();
        let copies = self.copies(&found.iter().collect::<Vec<_>>());
        let mut new = Vec::new();
        for (f, copy_of) in found.into_iter().zip(copies) {
            let history = horizon.is_some_and(|h| f.kind == NameKind::Rotated && f.mtime_ns <= h);
            if history {
                let len = f.len;
                self.files.push(Tracked::new(f, len, max));
            } else {
                new.push(f.name.clone());
                self.stats.rotations += 1;
                let t = self.new_file(f, copy_of);
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
