//! Aligned text tables for the `list` commands: widths come from the widest cell, colour is
//! applied after padding so escape codes do not skew the columns.

use crate::format::{Human, clean, pad};

/// A cell: its text and an optional ANSI colour.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    color: Option<&'static str>,
}

impl Cell {
    /// A plain cell; server text is cleaned of control characters.
    pub fn new(text: impl AsRef<str>) -> Self {
        Self {
            text: clean(text.as_ref()),
            color: None,
        }
    }

    /// A cell printed in `color` when colour is on.
    pub fn colored(text: impl AsRef<str>, color: Option<&'static str>) -> Self {
        Self {
            color,
            ..Self::new(text)
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// Renders `headers` and `rows`, two spaces between columns, the last column unpadded.
/// Each line ends with a newline; rows shorter than the header leave their cells empty.
pub fn render(human: &Human, headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.text.chars().count());
        }
    }
    let last = headers.len().saturating_sub(1);
    let mut out = String::new();
    let header_cells: Vec<Cell> = headers.iter().map(|h| Cell::new(*h)).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let mut line = String::new();
        for (col, w) in widths.iter().enumerate() {
            let text = row.get(col).map_or("", |c| c.text.as_str());
            let color = row.get(col).and_then(|c| c.color);
            let padded = if col == last {
                text.to_owned()
            } else {
                pad(text, *w)
            };
            if col > 0 {
                line.push_str("  ");
            }
            line.push_str(&human.paint(&padded, color));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let human = Human {
            tz: TimeZone::UTC,
            color: false,
        };
        let rows = vec![
            vec![Cell::new("1"), Cell::new("db01"), Cell::new("x")],
            vec![Cell::new("1234"), Cell::new("h"), Cell::new("y z")],
        ];
        assert_eq!(
            render(&human, &["ID", "HOST", "SUMMARY"], &rows),
            "ID    HOST  SUMMARY\n1     db01  x\n1234  h     y z\n"
        );
    }

    #[test]
    fn colour_does_not_change_widths() {
        let human = Human {
            tz: TimeZone::UTC,
            color: true,
        };
        let rows = vec![vec![Cell::colored("P1", Some("\x1b[31m")), Cell::new("a")]];
        assert_eq!(
            render(&human, &["SEVERITY", "X"], &rows),
            "SEVERITY  X\n\x1b[31mP1      \x1b[0m  a\n"
        );
    }
}
