//! Syslog over TCP (RFC 6587): splitting a byte stream into messages. Both framings are
//! accepted on one connection, decided per message by its first byte: a digit starts
//! octet counting (`MSG-LEN SP MSG`, §3.4.1), `<` starts non-transparent framing (the message
//! ends at LF, or at NUL as some senders use, §3.4.2; a CR before the LF is left to the parser). Pure and incremental: bytes go in as
//! they arrive, in any chunking, and the same frames come out (a proptest checks it).
//!
//! Bounds: a message longer than `max` bytes is cut to `max` (the rest is skipped, and the
//! frame says so); a stream that is neither framing is a framing error, and reading resumes
//! after the next LF, so one bad line never stalls the connection.

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One message, at most `max` bytes; `truncated` when it was longer.
    Message { bytes: Vec<u8>, truncated: bool },
    /// Bytes that are neither framing; skipped up to the next LF.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Between messages.
    Start,
    /// Reading the MSG-LEN digits.
    Length(usize, u8),
    /// Reading an octet-counted message: bytes still to come.
    Counted(usize),
    /// Reading an LF-terminated message.
    Line,
    /// Skipping to the next LF (after a framing error, or the cut part of a long line).
    Skip,
}

/// The framing state of one connection.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    state: State,
    buf: Vec<u8>,
    truncated: bool,
}

/// Most MSG-LEN digits accepted: 10 digits already exceed any sane message.
const MAX_LEN_DIGITS: u8 = 10;

impl Framer {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            state: State::Start,
            buf: Vec::new(),
            truncated: false,
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.max.saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn emit(&mut self, out: &mut Vec<Frame>) {
        out.push(Frame::Message {
            bytes: std::mem::take(&mut self.buf),
            truncated: std::mem::take(&mut self.truncated),
        });
        self.state = State::Start;
    }

    /// Feeds bytes as they arrived; complete frames are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        while !data.is_empty() {
            match self.state {
                State::Start => {
                    let b = data[0];
                    match b {
                        b'\n' | b'\r' | 0 | b' ' => data = &data[1..],
                        b'1'..=b'9' => {
                            self.state = State::Length(0, 0);
                        }
                        b'<' => self.state = State::Line,
                        _ => {
                            out.push(Frame::Error);
                            self.state = State::Skip;
                        }
                    }
                }
                State::Length(len, digits) => {
                    let b = data[0];
                    data = &data[1..];
                    match b {
                        b'0'..=b'9' if digits < MAX_LEN_DIGITS => {
                            self.state =
                                State::Length(len * 10 + usize::from(b - b'0'), digits + 1);
                        }
                        b' ' if len > 0 => self.state = State::Counted(len),
                        b'\n' => {
                            out.push(Frame::Error);
                            self.state = State::Start;
                        }
                        _ => {
                            out.push(Frame::Error);
                            self.state = State::Skip;
                        }
                    }
                }
                State::Counted(remaining) => {
                    let take = remaining.min(data.len());
                    self.keep(&data[..take]);
                    data = &data[take..];
                    if take == remaining {
                        self.emit(out);
                    } else {
                        self.state = State::Counted(remaining - take);
                    }
                }
                State::Line => match data.iter().position(|b| matches!(b, b'\n' | 0)) {
                    Some(end) => {
                        // A CR before the LF stays: the parser drops it, and cutting it here
                        // would depend on where the chunks happen to split.
                        self.keep(&data[..end]);
                        data = &data[end + 1..];
                        self.emit(out);
                    }
                    None => {
                        self.keep(data);
                        data = &[];
                    }
                },
                State::Skip => match data.iter().position(|b| *b == b'\n') {
                    Some(end) => {
                        data = &data[end + 1..];
                        self.state = State::Start;
                    }
                    None => data = &[],
                },
            }
        }
    }

    /// The connection closed: an unterminated non-transparent message still counts (senders
    /// often omit the last LF); a half octet-counted one is lost and reported as an error.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        match std::mem::replace(&mut self.state, State::Start) {
            State::Line if !self.buf.is_empty() => {
                self.state = State::Line;
                self.emit(out);
            }
            State::Counted(_) | State::Length(_, _) => {
                self.buf.clear();
                self.truncated = false;
                out.push(Frame::Error);
            }
            _ => {}
        }
    }

    /// Bytes held for an incomplete message (bounded by `max`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    fn msg(text: &[u8]) -> Frame {
        Frame::Message {
            bytes: text.to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn both_framings_on_one_stream() {
        // What util-linux logger sends with --tcp (LF) and with --tcp --octet-count.
        let out = frames(
            1024,
            &[b"<13>1 - h a - - - one\n38 <13>Dec  3 10:18:23 vm root: tcp octet<13>last"],
        );
        assert_eq!(
            out,
            [
                msg(b"<13>1 - h a - - - one"),
                msg(b"<13>Dec  3 10:18:23 vm root: tcp octet"),
                msg(b"<13>last")
            ]
        );
    }

    #[test]
    fn crlf_nul_and_blank_lines() {
        let out = frames(1024, &[b"\r\n<13>a\r\n\n<13>b\0<13>c\n"]);
        assert_eq!(out, [msg(b"<13>a\r"), msg(b"<13>b"), msg(b"<13>c")]);
    }

    #[test]
    fn octet_counted_messages_may_contain_line_feeds() {
        let out = frames(1024, &[b"9 <13>a\nb\nc"]);
        assert_eq!(out, [msg(b"<13>a\nb\nc")]);
    }

    #[test]
    fn long_messages_are_cut_and_flagged_then_the_stream_continues() {
        let mut long = b"<13>".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100));
        let mut stream = long.clone();
        stream.extend_from_slice(b"\n<13>next\n104 ");
        stream.extend_from_slice(&long);
        stream.extend_from_slice(b"<13>after\n");
        let out = frames(10, &[&stream]);
        let cut = Frame::Message {
            bytes: long[..10].to_vec(),
            truncated: true,
        };
        assert_eq!(out, [cut.clone(), msg(b"<13>next"), cut, msg(b"<13>after")]);
    }

    #[test]
    fn garbage_is_an_error_and_reading_resumes_after_the_line() {
        let out = frames(
            64,
            &[b"GET / HTTP/1.1\r\n<13>ok\n12x <13>bad\n0 x\n<13>end\n"],
        );
        assert_eq!(
            out,
            [
                Frame::Error,
                msg(b"<13>ok"),
                Frame::Error,
                Frame::Error,
                msg(b"<13>end")
            ]
        );
    }

    #[test]
    fn a_half_octet_counted_message_at_close_is_an_error() {
        assert_eq!(frames(64, &[b"20 <13>short"]), [Frame::Error]);
        assert_eq!(frames(64, &[b"20"]), [Frame::Error]);
    }

    #[test]
    fn memory_is_bounded_by_max() {
        let mut f = Framer::new(16);
        let mut out = Vec::new();
        f.push(b"<13>", &mut out);
        for _ in 0..1000 {
            f.push(&[b'x'; 1000], &mut out);
        }
        assert!(f.buffered() <= 16);
        f.push(b"99999999999 ", &mut out);
        assert!(out.is_empty(), "still inside the long line");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        /// Any chunking of any stream gives the same frames as the whole stream at once, and
        /// never more than `max` bytes per message.
        #[test]
        fn chunking_does_not_change_the_frames(
            stream in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(b'<'), Just(b' '), Just(b'1'), Just(b'9'), Just(0u8),
                    any::<u8>()
                ],
                0..400,
            ),
            cuts in proptest::collection::vec(0usize..400, 0..20),
            max in 1usize..64,
        ) {
            let whole = frames(max, &[&stream]);
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for p in points {
                chunks.push(&stream[at..p]);
                at = p;
            }
            chunks.push(&stream[at..]);
            prop_assert_eq!(&frames(max, &chunks), &whole);
            for f in whole {
                if let Frame::Message { bytes, .. } = f {
                    prop_assert!(bytes.len() <= max);
                }
            }
        }
    }
}
