//! A report as a list of blocks (headings, facts, tables, paragraphs), printed as a
//! self-contained HTML page or as Markdown: the SLA report, the monthly summary and the fault
//! report are laid out once and printed either way.

use std::fmt::Write as _;

use crate::lang::Language;
use crate::markup::{esc, md_table, page};

/// One table row; a marked row is highlighted (missed deadline, abnormal finding).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Cells, as text.
    pub cells: Vec<String>,
    /// Highlight it.
    pub marked: bool,
}

impl Line {
    /// A plain row.
    pub fn plain(cells: Vec<String>) -> Self {
        Self {
            cells,
            marked: false,
        }
    }
}

/// A part of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// Name–value facts.
    Facts(Vec<(String, String)>),
    /// A table; columns after `text_columns` are numbers (right-aligned in HTML).
    Table {
        /// Column headings.
        head: Vec<String>,
        /// Rows.
        rows: Vec<Line>,
        /// How many leading columns are text.
        text_columns: usize,
    },
    /// A paragraph.
    Para(String),
}

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Its language.
    pub lang: Language,
    /// The page title and top heading.
    pub title: String,
    /// Under the heading (the site).
    pub subtitle: String,
    /// The body.
    pub blocks: Vec<Block>,
}

impl Doc {
    /// As a self-contained HTML page.
    pub fn html(&self) -> String {
        let mut b = format!(
            "<header>\n<h1>{}</h1>\n<p class=\"site\">{}</p>\n</header>\n",
            esc(&self.title),
            esc(&self.subtitle)
        );
        for block in &self.blocks {
            match block {
                Block::Heading(h) => {
                    let _ = writeln!(b, "<h2>{}</h2>", esc(h));
                }
                Block::Facts(facts) => {
                    b.push_str("<dl class=\"meta\">\n");
                    for (k, v) in facts {
                        let _ = writeln!(b, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
                    }
                    b.push_str("</dl>\n");
                }
                Block::Table {
                    head,
                    rows,
                    text_columns,
                } => {
                    b.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(b, "<th>{}</th>", esc(h));
                    }
                    b.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        b.push_str(if r.marked {
                            "<tr class=\"abnormal\">"
                        } else {
                            "<tr>"
                        });
                        for (i, c) in r.cells.iter().enumerate() {
                            let class = if i >= *text_columns {
                                " class=\"num\""
                            } else {
                                ""
                            };
                            let _ = write!(b, "<td{class}>{}</td>", esc(c));
                        }
                        b.push_str("</tr>\n");
                    }
                    b.push_str("</tbody>\n</table>\n");
                }
                Block::Para(p) => {
                    let _ = writeln!(b, "<p>{}</p>", esc(p));
                }
            }
        }
        page(
            self.lang,
            &format!("{} — {}", self.title, self.subtitle),
            &b,
        )
    }

    /// As Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n\n{}\n", self.title, self.subtitle);
        for block in &self.blocks {
            match block {
                Block::Heading(h) => {
                    let _ = write!(out, "\n## {h}\n");
                }
                Block::Facts(facts) => {
                    out.push('\n');
                    for (k, v) in facts {
                        let _ = writeln!(out, "- {k}: {v}");
                    }
                }
                Block::Table { head, rows, .. } => {
                    out.push('\n');
                    let rows: Vec<Vec<String>> = rows
                        .iter()
                        .map(|r| {
                            if r.marked {
                                r.cells
                                    .iter()
                                    .enumerate()
                                    .map(|(i, c)| {
                                        if i == 0 {
                                            format!("**{c}**")
                                        } else {
                                            c.clone()
                                        }
                                    })
                                    .collect()
                            } else {
                                r.cells.clone()
                            }
                        })
                        .collect();
                    out.push_str(&md_table(head, &rows));
                }
                Block::Para(p) => {
                    let _ = write!(out, "\n{p}\n");
                }
            }
        }
        out
    }
}
