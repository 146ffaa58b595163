//! Diagnostics: an error in a rule file, located at `file:line:column` for the operator.

use std::fmt;

/// One problem found while loading rules, pointing at the offending value.
///
/// `line` and `column` are 1-based; `column` counts characters, not bytes. A problem that is
/// not inside a file (an unreadable directory or file) has `line == 0` and `column == 0` and
/// prints as `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file path as given to the loader (directory joined with the file name).
    pub file: String,
    /// 1-based line, or 0 when the problem is the file itself.
    pub line: usize,
    /// 1-based column in characters, or 0 when the problem is the file itself.
    pub column: usize,
    /// A plain sentence saying what is wrong and, where possible, the fix.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `byte_offset` of `src`.
    pub fn at(file: &str, src: &str, byte_offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(src, byte_offset);
        Self {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A diagnostic about a whole file or directory (no position).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: message`, or `file: message` when there is no position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for Diagnostic {}

/// The 1-based `(line, column)` of `byte_offset` in `src`; the column counts characters.
///
/// An offset past the end is clamped to the end, and one inside a multi-byte character counts
/// as that character, so a slightly-off offset still yields a usable position.
pub fn line_col(src: &str, byte_offset: usize) -> (usize, usize) {
    let mut end = byte_offset.min(src.len());
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    let before = &src[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Line starts of a source, so that positions of many values (every rule of a 10 000-rule
/// file) cost a binary search each instead of a scan from the start of the file.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `src`.
    pub fn new(src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(src));
        Self { starts }
    }

    /// The same as [`line_col`], in O(log lines + line length).
    pub fn line_col(&self, src: &str, byte_offset: usize) -> (usize, usize) {
        let mut end = byte_offset.min(src.len());
        while !src.is_char_boundary(end) {
            end -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= end);
        let start = self.starts[line.saturating_sub(1)];
        (line, src[start..end].chars().count() + 1)
    }
}

fn memchr_newlines(src: &str) -> impl Iterator<Item = usize> + '_ {
    src.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = "a\nél = 1\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 2), (2, 1));
        // 'é' is two bytes: the 'l' after it is the second character.
        assert_eq!(line_col(src, 4), (2, 2));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 1000), (3, 1));
    }

    #[test]
    fn line_index_agrees_with_line_col() {
        let src = "a\nél = 1\n\nxyz";
        let idx = LineIndex::new(src);
        for off in 0..=src.len() + 2 {
            assert_eq!(idx.line_col(src, off), line_col(src, off), "offset {off}");
        }
    }

    #[test]
    fn display_with_and_without_position() {
        let d = Diagnostic::at("r.toml", "x\ny", 2, "bad");
        assert_eq!(d.to_string(), "r.toml:2:1: bad");
        let d = Diagnostic::whole_file("rules", "cannot read");
        assert_eq!(d.to_string(), "rules: cannot read");
    }
}
