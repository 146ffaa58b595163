//! The pieces every renderer shares: HTML escaping and the self-contained page shell (inline
//! CSS with a print stylesheet, no script, no external URL; markup that is also well-formed
//! XML, so a parser can check it), Markdown table cells, and RFC 4180 CSV fields.

use std::fmt::Write as _;

use crate::lang::Language;

/// Text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 and mean nothing on paper.
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet of every page. Kept free of `<` and `&` so the page stays well-formed XML.
const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "Helvetica Neue", Arial, sans-serif; font-size: 13px; color: #111; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 15px; margin: 18px 0 6px 0; border-bottom: 1px solid #999; padding-bottom: 2px; }
p.site { margin: 0 0 8px 0; color: #444; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 0; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #888; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
td.num { text-align: right; white-space: nowrap; }
table.rows { table-layout: fixed; }
table.rows td { overflow-wrap: anywhere; }
td.status-normal, td.status-abnormal { white-space: nowrap; }
tr.abnormal td { background: #fde2e1; }
td.status-abnormal { color: #a40000; font-weight: bold; }
td.status-normal { color: #1e6b1e; }
p.nodata { font-size: 15px; padding: 12px; border: 2px dashed #999; }
table.summary td { text-align: center; font-size: 15px; }
table.signoff th { width: 12em; }
table.signoff td { height: 28px; }
.muted { color: #666; }
ul.remarks { margin: 0; padding-left: 18px; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 11px; }
  h2 { page-break-after: avoid; }
  tr { page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr.abnormal td { background: #fde2e1; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// A whole page around `body` (already HTML).
pub fn page(lang: Language, title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + 256);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        lang.code(),
        esc(title)
    );
    out
}

/// A table row of `cells` (already HTML) in `tag` (`th` or `td`).
pub fn tr(tag: &str, cells: &[String]) -> String {
    let mut out = String::from("<tr>");
    for c in cells {
        let _ = write!(out, "<{tag}>{c}</{tag}>");
    }
    out.push_str("</tr>\n");
    out
}

/// A cell of a Markdown table: pipes escaped, line breaks folded.
pub fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// A Markdown table.
pub fn md_table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&line(head));
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// One CSV record (RFC 4180): fields with a comma, quote, CR or LF quoted, quotes doubled,
/// CRLF at the end.
pub fn csv_record(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("bell\u{7}"), "bell ");
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
        assert_eq!(
            csv_record(&[
                "plain".into(),
                "a,b".into(),
                "say \"hi\"".into(),
                "two\nlines".into()
            ]),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn the_stylesheet_keeps_the_page_well_formed() {
        assert!(!CSS.contains('<') && !CSS.contains('&'));
        assert!(!CSS.contains("url("), "no external resource");
        assert!(CSS.contains("@media print"));
    }
}
