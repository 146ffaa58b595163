//! Reading what a poll found unread: files no longer written first, oldest first, each to
//! its end (its last record handed over there), then the live file; copy-truncate copies
//! follow their source meanwhile.

use super::split::Splitter;
use super::tracked::Tracked;
use super::{PollOutcome, Record, Step, TailError, Tailer, identity, snapshot};

impl Tailer {
    /// Reads every file with something unread: finished files oldest first, the live one
    /// last.
    pub(super) fn read_files(
        &mut self,
        budget: u64,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> Result<PollOutcome, TailError> {
        let mut outcome = PollOutcome {
            missing: self.files.is_empty(),
            ..PollOutcome::default()
        };
        let mut left = budget;
        let (looked, waiting) = std::mem::take(&mut self.truncated)
            .into_iter()
            .partition(|t| t.looked);
        self.truncated = waiting;
        for mut t in looked {
            // Its copy did not turn up: the rest of the record it left open is gone; its
            // complete lines are handed over.
            t.split.drop_partial_line();
            t.split.flush(true, &self.spec.record_start, sink);
        }
        for i in 0..self.files.len() {
            self.check_rewritten(i)
                .map_err(|e| self.read_error(Some(i), e))?;
        }
        let mut order: Vec<usize> = (0..self.files.len())
            .filter(|&i| {
                let t = &self.files[i];
                !t.live && t.unfinished() && !self.is_linked_copy(t)
            })
            .collect();
        order.sort_by(|&a, &b| self.files[a].age().cmp(&self.files[b].age()));
        order.extend(self.live_index());
        for i in order {
            if left == 0 {
                outcome.more = true;
                break;
            }
            let (n, at_end) = self
                .read_one(i, &mut left, sink)
                .map_err(|e| self.read_error(Some(i), e))?;
            outcome.bytes += n;
            if !at_end {
                outcome.more = true;
                break;
            }
            self.hook.call(Step::Read);
        }
        self.follow_copies();
        Ok(outcome)
    }

    /// Reads file `i` from where it stands; returns (bytes read, reached its end).
    fn read_one(
        &mut self,
        i: usize,
        left: &mut u64,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> std::io::Result<(u64, bool)> {
        // Copies following this file must hold the bytes now read from it. One that does not
        // shows the file was truncated and rewritten since the snapshot that linked them, too
        // soon for its own checks to see (fewer bytes read than it was rewritten with): the
        // read stops before those bytes, and the file is taken as truncated there.
        let id = self.files[i].id;
        let mut copies: Vec<(std::fs::File, u64)> = Vec::new();
        for t in &self.files {
            if t.copy_of == Some(id)
                && let Some(f) = &t.file
            {
                copies.push((f.try_clone()?, t.len));
            }
        }
        let mut diverged = false;
        let mut go_on = |at: u64, bytes: &[u8]| {
            for (copy, len) in &copies {
                let upto = usize::try_from(len.saturating_sub(at))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                if upto == 0 {
                    continue;
                }
                let mut theirs = vec![0u8; upto];
                let same = identity::read_full_at(copy, &mut theirs, at)
                    .is_ok_and(|n| n == upto && theirs == bytes[..upto]);
                if !same {
                    diverged = true;
                    return false;
                }
            }
            true
        };
        let Self {
            spec, files, buf, ..
        } = self;
        let rule = &spec.record_start;
        let t = &mut files[i];
        if t.file.is_none() {
            // Its handle was not kept: open it again, if the name still leads to it. If not,
            // the next snapshot finds it under its new name (or counts it lost).
            match snapshot::reopen(&spec.dir, &t.name, t.id)? {
                Some(f) => t.file = Some(f),
                None => return Ok((0, true)),
            }
        }
        let (n, at_end) = t.read(buf, left, rule, sink, &mut go_on)?;
        if diverged {
            // Its linked copy continues the old content; the file is read again from 0.
            self.truncated_file(i);
            let (more, at_end) = self.read_one(i, left, sink)?;
            return Ok((n + more, at_end));
        }
        if t.live {
            if n == 0 && at_end {
                // Nothing new for a whole interval: the writer has finished its record.
                t.split.flush(false, rule, sink);
            }
        } else if at_end {
            // No longer written: its last record is complete.
            t.split.flush(true, rule, sink);
        }
        Ok((n, at_end))
    }

    /// Whether file `i`, followed through its handle, was truncated or rewritten since the
    /// snapshot (see [`Tailer::truncated_file`]).
    fn check_rewritten(&mut self, i: usize) -> std::io::Result<()> {
        if self.files[i].file.is_some() && self.files[i].rewritten()? {
            self.truncated_file(i);
        }
        Ok(())
    }

    /// Copies of a file still followed are not read: they track that file's position.
    pub(super) fn is_linked_copy(&self, t: &Tracked) -> bool {
        t.copy_of
            .is_some_and(|src| self.files.iter().any(|s| s.id == src))
    }

    fn follow_copies(&mut self) {
        let max = self.spec.max_record_bytes;
        for i in 0..self.files.len() {
            let Some(src) = self.files[i].copy_of else {
                continue;
            };
            match self.files.iter().find(|s| s.id == src) {
                Some(s) => {
                    // Never past its own end: a position beyond it would read as a truncation.
                    let at = s.split.scanned().min(self.files[i].len);
                    if at > self.files[i].split.scanned() {
                        self.files[i].split = Splitter::new(at, max);
                    }
                }
                // Its source is gone: from here on it is a file like the others.
                None => self.files[i].copy_of = None,
            }
        }
    }

    /// Closes the handles of files read to their end that are no longer live (a later
    /// growth is seen by a snapshot), and forgets files gone from the directory.
    pub(super) fn close_finished(&mut self) {
        // A copy whose source was read to its end, last record included, holds nothing more.
        let done: Vec<usize> = (0..self.files.len())
            .filter(|&c| {
                self.files[c].copy_of.is_some_and(|src| {
                    self.files
                        .iter()
                        .find(|s| s.id == src)
                        .is_some_and(|s| !s.live && !s.unfinished())
                })
            })
            .collect();
        let max = self.spec.max_record_bytes;
        for c in done {
            let copy = &mut self.files[c];
            copy.copy_of = None;
            copy.split = Splitter::new(copy.len.max(copy.split.scanned()), max);
        }
        let linked: Vec<bool> = self.files.iter().map(|t| self.is_linked_copy(t)).collect();
        for (t, linked) in self.files.iter_mut().zip(linked) {
            // A copy following its source keeps its handle: once the source is truncated it
            // may hold the only bytes left of the source's last record, even if deleted.
            if !t.live && !t.unfinished() && !linked {
                t.file = None;
            }
        }
        self.files.retain(|t| t.present || t.file.is_some());
    }
}
