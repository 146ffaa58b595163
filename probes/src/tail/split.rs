//! Cuts a byte stream into records: complete lines grouped by a "record starts here" rule,
//! each record capped at a maximum size. Pure: fed with bytes and their file offsets, no I/O.

use memchr::memchr_iter;

use super::{Record, RecordStart};

/// Splitting state of one file. Memory is bounded by two buffers of at most `max` bytes: the
/// line not yet ended and the record not yet closed.
#[derive(Debug)]
pub(super) struct Splitter {
    max: usize,
    /// File offset up to which bytes were fed.
    scanned: u64,
    /// Start of a line begun in an earlier chunk and not ended yet.
    line_start: Option<u64>,
    /// That line's first bytes (at most `max`).
    line: Vec<u8>,
    line_cut: bool,
    /// Start offset of the record being gathered.
    record_start: Option<u64>,
    record: Vec<u8>,
    record_cut: bool,
}

impl Splitter {
    pub(super) fn new(offset: u64, max: usize) -> Self {
        Self {
            max: max.max(1),
            scanned: offset,
            line_start: None,
            line: Vec::new(),
            line_cut: false,
            record_start: None,
            record: Vec::new(),
            record_cut: false,
        }
    }

    /// Offset up to which bytes were fed.
    pub(super) fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Offset from which reading again recreates exactly the records not yet emitted: the
    /// start of the open record, else of the unfinished line, else where feeding stopped.
    pub(super) fn committed(&self) -> u64 {
        self.record_start
            .or(self.line_start)
            .unwrap_or(self.scanned)
    }

    /// Feeds the bytes that follow [`Self::scanned`]; emits every record closed by them.
    pub(super) fn feed(
        &mut self,
        chunk: &[u8],
        rule: &RecordStart,
        sink: &mut dyn FnMut(Record<'_>),
    ) {
        let base = self.scanned;
        let mut from = 0usize;
        for nl in memchr_iter(b'\n', chunk) {
            let offset = base + from as u64;
            if let Some(start) = self.line_start.take() {
                // The line began in an earlier chunk: finish it in the carry buffer.
                append_capped(
                    &mut self.line,
                    &chunk[from..nl],
                    self.max,
                    &mut self.line_cut,
                );
                let line = std::mem::take(&mut self.line);
                let cut = std::mem::replace(&mut self.line_cut, false);
                self.on_line(&line, cut, start, rule, sink);
                self.line = line;
                self.line.clear();
            } else {
                let line = &chunk[from..nl];
                let (line, cut) = if line.len() > self.max {
                    (&line[..self.max], true)
                } else {
                    (line, false)
                };
                self.on_line(line, cut, offset, rule, sink);
            }
            from = nl + 1;
        }
        if from < chunk.len() {
            if self.line_start.is_none() {
                self.line_start = Some(base + from as u64);
            }
            append_capped(&mut self.line, &chunk[from..], self.max, &mut self.line_cut);
        }
        self.scanned = base + chunk.len() as u64;
    }

    /// Emits the open record. With `finished` (the file will not grow again: rotated away or
    /// truncated) an unfinished last line counts as a line. Otherwise an unfinished line
    /// means the writer is in the middle of a record, which then stays open.
    pub(super) fn flush(
        &mut self,
        finished: bool,
        rule: &RecordStart,
        sink: &mut dyn FnMut(Record<'_>),
    ) {
        if let Some(start) = self.line_start {
            if !finished {
                return;
            }
            self.line_start = None;
            let line = std::mem::take(&mut self.line);
            let cut = std::mem::replace(&mut self.line_cut, false);
            self.on_line(&line, cut, start, rule, sink);
        }
        self.emit(sink);
    }

    /// Forgets a last line not ended yet: its rest will never come (the file was truncated
    /// and no copy holds it), and half a line would be a garbled record.
    pub(super) fn drop_partial_line(&mut self) {
        self.line_start = None;
        self.line.clear();
        self.line_cut = false;
    }

    fn on_line(
        &mut self,
        line: &[u8],
        cut: bool,
        offset: u64,
        rule: &RecordStart,
        sink: &mut dyn FnMut(Record<'_>),
    ) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if matches!(rule, RecordStart::EveryLine) {
            // The common single-line case without copying into the record buffer.
            self.emit(sink);
            sink(Record {
                bytes: line,
                truncated: cut,
            });
            return;
        }
        // A continuation line with no record open (the file began mid-record, or the record
        // was flushed while idle) starts a record of its own rather than being dropped.
        if rule.starts(line) || self.record_start.is_none() {
            self.emit(sink);
            self.record_start = Some(offset);
            self.record_cut = cut;
            append_capped(&mut self.record, line, self.max, &mut self.record_cut);
        } else {
            self.record_cut |= cut;
            append_capped(&mut self.record, b"\n", self.max, &mut self.record_cut);
            append_capped(&mut self.record, line, self.max, &mut self.record_cut);
        }
    }

    fn emit(&mut self, sink: &mut dyn FnMut(Record<'_>)) {
        if self.record_start.take().is_some() {
            sink(Record {
                bytes: &self.record,
                truncated: self.record_cut,
            });
        }
        self.record.clear();
        self.record_cut = false;
    }
}

/// Appends what fits under `max`; marks `cut` when something did not.
fn append_capped(buf: &mut Vec<u8>, bytes: &[u8], max: usize, cut: &mut bool) {
    let room = max.saturating_sub(buf.len());
    if bytes.len() > room {
        *cut = true;
    }
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(
        chunks: &[&[u8]],
        rule: &RecordStart,
        max: usize,
        finished: bool,
    ) -> Vec<(String, bool)> {
        let mut s = Splitter::new(0, max);
        let mut out = Vec::new();
        let mut sink =
            |r: Record<'_>| out.push((String::from_utf8_lossy(r.bytes).into_owned(), r.truncated));
        for c in chunks {
            s.feed(c, rule, &mut sink);
        }
        s.flush(finished, rule, &mut sink);
        out
    }

    fn prefix() -> RecordStart {
        RecordStart::Prefix(b"####<".to_vec())
    }

    #[test]
    fn multi_line_records_are_grouped_whatever_the_chunking() {
        let text = b"####<a> one\n\tat x\n> \n####<b> two\n####<c> three\ncont\n";
        let want = vec![
            ("####<a> one\n\tat x\n> ".to_owned(), false),
            ("####<b> two".to_owned(), false),
            ("####<c> three\ncont".to_owned(), false),
        ];
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(split(&[a, b], &prefix(), 1024, false), want, "cut at {cut}");
        }
    }

    #[test]
    fn unfinished_last_line_waits_unless_the_file_is_finished() {
        let text: &[u8] = b"####<a> one\n####<b> tw";
        // Record a closes only once the next start line is whole.
        assert_eq!(split(&[text], &prefix(), 1024, false).len(), 0);
        assert_eq!(
            split(&[b"####<a> one\nmore\n"], &prefix(), 1024, false).len(),
            1
        );
        let all = split(&[text], &prefix(), 1024, true);
        assert_eq!(all[1].0, "####<b> tw");
    }

    #[test]
    fn committed_offset_points_at_the_open_record() {
        let mut s = Splitter::new(100, 1024);
        let mut n = 0;
        s.feed(b"####<a>\n####<b>\nmore\npart", &prefix(), &mut |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(s.committed(), 108);
        assert_eq!(s.scanned(), 125);
        s.flush(false, &prefix(), &mut |_| n += 1);
        assert_eq!(
            (n, s.committed()),
            (1, 108),
            "mid-line: the record stays open"
        );
        s.feed(b"\n", &prefix(), &mut |_| n += 1);
        s.flush(false, &prefix(), &mut |_| n += 1);
        assert_eq!(
            (n, s.committed()),
            (2, 126),
            "whole lines: an idle flush closes it"
        );
    }

    #[test]
    fn long_lines_and_records_are_cut_at_max() {
        let long = vec![b'x'; 5000];
        let mut text = b"####<a> ".to_vec();
        text.extend_from_slice(&long);
        text.extend_from_slice(b"\nnext line\n####<b>\n");
        for chunk in [7usize, 100, 10_000] {
            let chunks: Vec<&[u8]> = text.chunks(chunk).collect();
            let out = split(&chunks, &prefix(), 64, true);
            assert_eq!(out.len(), 2, "chunk {chunk}");
            assert_eq!(out[0].0.len(), 64);
            assert!(out[0].1, "cut record is flagged");
            assert_eq!(out[1], ("####<b>".to_owned(), false));
        }
    }

    #[test]
    fn every_line_rule_and_crlf() {
        let out = split(&[b"a\r\nb\n\nc"], &RecordStart::EveryLine, 16, true);
        let lines: Vec<_> = out.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(lines, ["a", "b", "", "c"]);
    }

    #[test]
    fn a_dropped_partial_line_leaves_the_complete_lines_of_the_record() {
        let cut = |text: &[u8]| {
            let mut s = Splitter::new(0, 1024);
            let mut out = Vec::new();
            let mut sink = |r: Record<'_>| out.push(String::from_utf8_lossy(r.bytes).into_owned());
            s.feed(text, &prefix(), &mut sink);
            s.drop_partial_line();
            s.flush(true, &prefix(), &mut sink);
            out
        };
        assert_eq!(
            cut(b"####<a> one\n\tat x\n\tat y(Fi"),
            ["####<a> one\n\tat x"]
        );
        assert!(
            cut(b"####<b> no newline yet").is_empty(),
            "a record of half a line is not handed over"
        );
    }

    #[test]
    fn leading_continuation_is_its_own_record() {
        let out = split(&[b"tail of old\n####<a>\n"], &prefix(), 64, true);
        assert_eq!(out[0].0, "tail of old");
        assert_eq!(out[1].0, "####<a>");
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        let out = split(&[b"####<\xff\xfe> \xd6\xd0\n"], &prefix(), 64, true);
        assert_eq!(out.len(), 1);
    }
}
