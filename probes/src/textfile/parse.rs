//! A parser for the Prometheus text exposition format 0.0.4 (the format node_exporter's
//! textfile collector reads), pure and located: every problem comes back as line:column with
//! a plain sentence, and the lines that are fine are kept.
//!
//! Grammar followed (Prometheus "Exposition formats", text format):
//! - lines end with `\n`; empty lines and leading/trailing blanks are ignored;
//! - `# HELP name text` (escapes `\\` `\n`), `# TYPE name counter|gauge|histogram|summary|untyped`,
//!   any other `#` line is a comment;
//! - a sample is `name[{label="value",...}] value [timestamp_ms]`, label values escaping
//!   `\\` `\"` `\n`, a trailing comma allowed, the value a float (`NaN`, `+Inf`, `-Inf` too),
//!   the timestamp an integer of milliseconds.

use std::collections::HashMap;

/// One sample line, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub name: String,
    /// In the order written; names unique.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Given in the file, in ms; the probe does not use it (see README).
    pub timestamp_ms: Option<i64>,
    /// 1-based line of the sample.
    pub line: usize,
}

/// A problem at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// The samples of a file and every problem met; a bad line is skipped, the rest kept.
pub fn parse(text: &str) -> (Vec<Parsed>, Vec<ParseError>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    // Family name -> line of its TYPE / HELP, to refuse a second one.
    let mut typed: HashMap<String, usize> = HashMap::new();
    let mut helped: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let mut cursor = Cursor::new(raw, line_no);
        cursor.skip_blanks();
        if cursor.at_end() {
            continue;
        }
        let result = if cursor.peek() == Some('#') {
            comment(&mut cursor, &mut typed, &mut helped)
        } else {
            sample(&mut cursor).map(|s| samples.push(s))
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    (samples, errors)
}

/// A position in one line; columns count characters from 1.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Cursor {
    fn new(text: &str, line: usize) -> Self {
        let text = text.strip_suffix('\r').unwrap_or(text);
        Self {
            chars: text.chars().collect(),
            pos: 0,
            line,
        }
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }
    fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        self.pos > start
    }
    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }
    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: pos + 1,
            message: message.into(),
        }
    }
    /// A run of characters up to a blank or the end.
    fn token(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ' ' && c != '\t') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
    fn rest(&mut self) -> String {
        let rest = self.chars[self.pos..].iter().collect();
        self.pos = self.chars.len();
        rest
    }
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (`colons = true`) or the label form without colons.
    fn name(&mut self, what: &str, colons: bool) -> Result<String, ParseError> {
        let start = self.pos;
        let first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
        let next = |c: char| first(c) || c.is_ascii_digit();
        match self.peek() {
            Some(c) if first(c) => self.pos += 1,
            Some(c) => return Err(self.error(format!("expected a {what}, found '{c}'"))),
            None => return Err(self.error(format!("expected a {what}, found the end of the line"))),
        }
        while self.peek().is_some_and(next) {
            self.pos += 1;
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }
}

fn comment(
    cursor: &mut Cursor,
    typed: &mut HashMap<String, usize>,
    helped: &mut HashMap<String, usize>,
) -> Result<(), ParseError> {
    cursor.bump(); // '#'
    cursor.skip_blanks();
    let keyword = cursor.token();
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(()); // a plain comment
    }
    if !cursor.skip_blanks() {
        return Err(cursor.error(format!("expected a metric name after {keyword}")));
    }
    let name_at = cursor.pos;
    let name = cursor.name("metric name", true)?;
    if !cursor.at_end() && !cursor.skip_blanks() {
        return Err(cursor.error(format!(
            "unexpected '{}' in the metric name",
            cursor.peek().unwrap_or(' ')
        )));
    }
    let line = cursor.line;
    if keyword == "HELP" {
        let text = cursor.rest();
        check_help(&text)
            .map_err(|(i, m)| cursor.error_at(cursor.pos - text.chars().count() + i, m))?;
        if let Some(first) = helped.insert(name.clone(), line) {
            return Err(cursor.error_at(
                name_at,
                format!("second HELP for '{name}' (first on line {first})"),
            ));
        }
        return Ok(());
    }
    let type_at = cursor.pos;
    let kind = cursor.token();
    if !matches!(
        kind.as_str(),
        "counter" | "gauge" | "histogram" | "summary" | "untyped"
    ) {
        return Err(cursor.error_at(
            type_at,
            format!(
                "unknown type '{kind}': expected counter, gauge, histogram, summary or untyped"
            ),
        ));
    }
    cursor.skip_blanks();
    if !cursor.at_end() {
        return Err(cursor.error("unexpected text after the type"));
    }
    if let Some(first) = typed.insert(name.clone(), line) {
        return Err(cursor.error_at(
            name_at,
            format!("second TYPE for '{name}' (first on line {first})"),
        ));
    }
    Ok(())
}

fn sample(cursor: &mut Cursor) -> Result<Parsed, ParseError> {
    let line = cursor.line;
    let name = cursor.name("metric name", true)?;
    let mut labels: Vec<(String, String)> = Vec::new();
    if cursor.peek() == Some('{') {
        cursor.bump();
        loop {
            cursor.skip_blanks();
            if cursor.peek() == Some('}') {
                cursor.bump();
                break;
            }
            let label_at = cursor.pos;
            let label = cursor.name("label name", false)?;
            cursor.skip_blanks();
            if cursor.bump() != Some('=') {
                return Err(cursor.error_at(
                    cursor.pos - 1,
                    format!("expected '=' after label '{label}'"),
                ));
            }
            cursor.skip_blanks();
            if cursor.bump() != Some('"') {
                return Err(
                    cursor.error_at(cursor.pos - 1, "expected '\"' to open the label value")
                );
            }
            let value = label_value(cursor)?;
            if labels.iter().any(|(k, _)| *k == label) {
                return Err(cursor.error_at(label_at, format!("label '{label}' given twice")));
            }
            labels.push((label, value));
            cursor.skip_blanks();
            match cursor.bump() {
                Some(',') => {}
                Some('}') => break,
                Some(c) => {
                    return Err(cursor
                        .error_at(cursor.pos - 1, format!("expected ',' or '}}', found '{c}'")));
                }
                None => return Err(cursor.error("the label set is not closed with '}'")),
            }
        }
    }
    if !cursor.skip_blanks() {
        return Err(match cursor.peek() {
            None => cursor.error("expected a value after the metric"),
            Some(c) => cursor.error(format!("unexpected '{c}' after the metric name")),
        });
    }
    let value_at = cursor.pos;
    let text = cursor.token();
    let value = parse_value(&text)
        .ok_or_else(|| cursor.error_at(value_at, format!("value '{text}' is not a number")))?;
    cursor.skip_blanks();
    let mut timestamp_ms = None;
    if !cursor.at_end() {
        let at = cursor.pos;
        let text = cursor.token();
        timestamp_ms = Some(text.parse::<i64>().map_err(|_| {
            cursor.error_at(
                at,
                format!("timestamp '{text}' is not an integer of milliseconds"),
            )
        })?);
        cursor.skip_blanks();
        if !cursor.at_end() {
            return Err(cursor.error("unexpected text after the timestamp"));
        }
    }
    Ok(Parsed {
        name,
        labels,
        value,
        timestamp_ms,
        line,
    })
}

/// After the opening quote, up to and including the closing one.
fn label_value(cursor: &mut Cursor) -> Result<String, ParseError> {
    // An unclosed value is reported at its opening quote, where the reader should look.
    let opened = cursor.pos.saturating_sub(1);
    let mut value = String::new();
    loop {
        match cursor.bump() {
            None => {
                return Err(cursor.error_at(opened, "the label value is not closed with '\"'"));
            }
            Some('"') => return Ok(value),
            Some('\\') => match cursor.bump() {
                Some('\\') => value.push('\\'),
                Some('"') => value.push('"'),
                Some('n') => value.push('\n'),
                Some(c) => {
                    return Err(cursor.error_at(
                        cursor.pos - 2,
                        format!("unknown escape '\\{c}': use \\\\, \\\" or \\n"),
                    ));
                }
                None => {
                    return Err(cursor.error_at(opened, "the label value is not closed with '\"'"));
                }
            },
            Some(c) => value.push(c),
        }
    }
}

/// HELP text escapes (`\\`, `\n`); only a lone trailing backslash is an error (at its
/// character index): Go's parser keeps other backslashes in HELP as they are, so do we. The
/// text itself is not used.
fn check_help(text: &str) -> Result<(), (usize, String)> {
    let mut chars = text.chars().enumerate();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return Err((i, "a HELP text cannot end with a lone '\\'".into()));
        }
    }
    Ok(())
}

/// A Go `ParseFloat` number as the format allows: decimal, exponent, `NaN`, `±Inf`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust also takes "inf", "infinity", "nan" in any case: the format does not.
        t if t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        t => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Parsed {
        let (samples, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(samples.len(), 1, "{samples:?}");
        samples.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    fn errors(text: &str) -> Vec<String> {
        parse(text).1.iter().map(ToString::to_string).collect()
    }

    /// The example from the Prometheus documentation ("Text format example"), verbatim.
    #[test]
    fn the_documentation_example_parses() {
        let text = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"#;
        let (samples, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(samples.len(), 20);
        assert_eq!(
            samples[0].labels,
            [
                ("method".into(), "post".into()),
                ("code".into(), "200".into())
            ]
        );
        assert_eq!(samples[0].timestamp_ms, Some(1_395_066_363_000));
        assert_eq!(samples[1].value, 3.0);
        assert_eq!(
            samples[2].labels,
            [
                ("path".into(), "C:\\DIR\\FILE.TXT".into()),
                ("error".into(), "Cannot find file:\n\"FILE.TXT\"".into())
            ]
        );
        assert_eq!(samples[2].value, 1.458255915e9);
        assert_eq!(samples[4].value, f64::INFINITY);
        assert_eq!(samples[4].timestamp_ms, Some(-3_982_045));
        assert_eq!(samples[19].name, "rpc_duration_seconds_count");
        assert_eq!(samples[19].line, 36);
    }

    #[test]
    fn blanks_trailing_commas_and_special_values() {
        let s = one("  \tbackup_ok{ job = \"nightly\" , } \t 1  \n");
        assert_eq!(s.labels, [("job".into(), "nightly".into())]);
        assert!(one("m NaN").value.is_nan());
        assert_eq!(one("m -Inf").value, f64::NEG_INFINITY);
        assert_eq!(one("m{} 2").labels, []);
        assert_eq!(one("a:b_c 1e-3").value, 0.001);
        assert_eq!(one("m 1\r\n").value, 1.0);
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(
            errors("good 1\nbad value\n"),
            ["2:5: value 'value' is not a number"]
        );
        assert_eq!(
            errors("m{a=\"x\" 1"),
            ["1:9: expected ',' or '}', found '1'"]
        );
        assert_eq!(
            errors("m{a=\"x} 1"),
            ["1:5: the label value is not closed with '\"'"]
        );
        assert_eq!(
            errors("m{a=\"\\t\"} 1"),
            ["1:6: unknown escape '\\t': use \\\\, \\\" or \\n"]
        );
        assert_eq!(
            errors("m{a=\"1\",a=\"2\"} 1"),
            ["1:9: label 'a' given twice"]
        );
        assert_eq!(errors("9m 1"), ["1:1: expected a metric name, found '9'"]);
        assert_eq!(
            errors("m{1=\"\"} 1"),
            ["1:3: expected a label name, found '1'"]
        );
        assert_eq!(errors("m"), ["1:2: expected a value after the metric"]);
        assert_eq!(
            errors("m-x 1"),
            ["1:2: unexpected '-' after the metric name"]
        );
        assert_eq!(
            errors("m 1 12.5"),
            ["1:5: timestamp '12.5' is not an integer of milliseconds"]
        );
        assert_eq!(
            errors("m 1 2 3"),
            ["1:7: unexpected text after the timestamp"]
        );
        assert_eq!(errors("m inf"), ["1:3: value 'inf' is not a number"]);
        assert_eq!(
            errors("# TYPE m gauge\n# TYPE m counter\n"),
            ["2:8: second TYPE for 'm' (first on line 1)"]
        );
        assert_eq!(
            errors("# TYPE m meter\n"),
            ["1:10: unknown type 'meter': expected counter, gauge, histogram, summary or untyped"]
        );
        assert_eq!(
            errors("# HELP m two\n# HELP m three\n"),
            ["2:8: second HELP for 'm' (first on line 1)"]
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_the_rest_kept() {
        let (samples, errors) = parse("a 1\nb{ 2\nc 3\n");
        assert_eq!(
            samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn comments_and_help_escapes_are_accepted() {
        let (samples, errors) = parse(
            "# just a comment\n#\n# HELP m a \\\\ and a \\n newline, \\q kept\n# TYPE m gauge\nm 1\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(samples.len(), 1);
    }

    proptest::proptest! {
        /// Whatever the bytes, the parser answers (never panics) and every error is inside
        /// the text.
        /// Text made of the format's own punctuation reaches the parser's corners.
        #[test]
        fn format_like_text_never_panics(text in "[a-z_:{}=\",# \\\\\n\t0-9.eE+-]{0,300}") {
            let lines = text.split('\n').count();
            let (_, errors) = parse(&text);
            for e in errors {
                proptest::prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let lines = text.split('\n').count();
            let (_, errors) = parse(&text);
            for e in errors {
                proptest::prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1);
            }
        }
    }
}
