//! The Nagios plugin output format (Nagios Plugin Development Guidelines, "Plugin Output" and
//! "Performance data"): a status line, optional long text, and performance data after a `|`
//! on the first line and after the first `|` of the long text. Pure: text in, items out.
//!
//! A perfdata item is `'label'=value[UOM];[warn];[crit];[min];[max]`. The label may be
//! single-quoted (then it may hold spaces and `=`, and `''` stands for one quote); the value
//! is a number or `U` (undetermined); UOM is one of `s ms us % B KB MB GB TB c` or nothing.

/// The unit family a perfdata value is normalised to; it picks the metric name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// No UOM: a number of things (users, load, processes).
    Number,
    /// `s`, `ms`, `us`, reported in milliseconds.
    Milliseconds,
    /// `%`.
    Percent,
    /// `B`, `KB`, `MB`, `GB`, `TB` (powers of 1024, as check_disk and PNP4Nagios use them).
    Bytes,
    /// `c`: a continuous counter.
    Counter,
}

impl Unit {
    /// The metric a value of this unit becomes.
    pub fn metric(self) -> &'static str {
        match self {
            Self::Number => "exec_perf",
            Self::Milliseconds => "exec_perf_ms",
            Self::Percent => "exec_perf_percent",
            Self::Bytes => "exec_perf_bytes",
            Self::Counter => "exec_perf_total",
        }
    }
}

/// One parsed perfdata item, its value in the unit's base (ms, bytes ...).
#[derive(Debug, Clone, PartialEq)]
pub struct PerfValue {
    pub label: String,
    pub value: f64,
    pub unit: Unit,
}

/// What a plugin's stdout holds.
#[derive(Debug, Default, PartialEq)]
pub struct Output {
    /// The status line without its perfdata (`DISK OK - free space: / 3326 MB (56%)`).
    pub status: String,
    /// Items that parsed, in order; `U` values are left out (they are not errors).
    pub perf: Vec<PerfValue>,
    /// Items that did not parse, each with why (for the log).
    pub bad: Vec<String>,
}

/// Splits a plugin's output into status text and perfdata, and parses every item.
pub fn parse(stdout: &str) -> Output {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or("");
    let (status, first_perf) = match first.split_once('|') {
        Some((text, perf)) => (text.trim(), perf),
        None => (first.trim(), ""),
    };
    let mut perf_text = first_perf.to_owned();
    // In the long text, everything after its first '|' (on any later line) is perfdata.
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf_text.push(' ');
            perf_text.push_str(line);
        } else if let Some((_, perf)) = line.split_once('|') {
            in_perf = true;
            perf_text.push(' ');
            perf_text.push_str(perf);
        }
    }
    let mut out = Output {
        status: status.to_owned(),
        ..Output::default()
    };
    for item in split_items(&perf_text) {
        match parse_item(&item) {
            Ok(Some(v)) => out.perf.push(v),
            Ok(None) => {}
            Err(e) => out.bad.push(format!("'{item}': {e}")),
        }
    }
    out
}

/// Items are separated by spaces, except inside a quoted label.
fn split_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// One item; `Ok(None)` for an undetermined (`U`) value.
fn parse_item(item: &str) -> Result<Option<PerfValue>, String> {
    let (label, rest) = if let Some(quoted) = item.strip_prefix('\'') {
        // A quoted label ends at a quote not doubled, followed by '='.
        let mut label = String::new();
        let mut chars = quoted.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, n)| *n) == Some('\'') {
                    label.push('\'');
                    chars.next();
                } else {
                    end = Some(i);
                    break;
                }
            } else {
                label.push(c);
            }
        }
        let end = end.ok_or("the label's quote is not closed")?;
        let rest = quoted[end + 1..]
            .strip_prefix('=')
            .ok_or("expected '=' after the quoted label")?;
        (label, rest)
    } else {
        let (label, rest) = item.split_once('=').ok_or("expected label=value")?;
        (label.to_owned(), rest)
    };
    if label.is_empty() {
        return Err("empty label".into());
    }
    if label.chars().any(char::is_control) {
        return Err("control character in the label".into());
    }
    let mut fields = rest.split(';');
    let value_uom = fields.next().unwrap_or("");
    if value_uom == "U" {
        return Ok(None);
    }
    let split = value_uom
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(value_uom.len());
    // 'e' may begin no unit we know, so a trailing exponent marker is the number's.
    let (number, uom) = value_uom.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("value '{number}' is not a number"))?;
    if !value.is_finite() {
        return Err(format!("value '{number}' is not finite"));
    }
    let (unit, scale) = match uom {
        "" => (Unit::Number, 1.0),
        "s" => (Unit::Milliseconds, 1000.0),
        "ms" => (Unit::Milliseconds, 1.0),
        "us" => (Unit::Milliseconds, 0.001),
        "%" => (Unit::Percent, 1.0),
        "B" => (Unit::Bytes, 1.0),
        "KB" => (Unit::Bytes, 1024.0),
        "MB" => (Unit::Bytes, 1024.0 * 1024.0),
        "GB" => (Unit::Bytes, 1024.0 * 1024.0 * 1024.0),
        "TB" => (Unit::Bytes, 1024.0 * 1024.0 * 1024.0 * 1024.0),
        "c" => (Unit::Counter, 1.0),
        other => {
            return Err(format!(
                "unit '{other}' is not one of s ms us % B KB MB GB TB c"
            ));
        }
    };
    // warn;crit;min;max: checked so garbage is noticed, not emitted (the exit code already
    // carries the plugin's verdict on its thresholds).
    for (i, field) in fields.enumerate() {
        let name = ["warn", "crit", "min", "max"]
            .get(i)
            .ok_or("more than 5 ';' fields")?;
        let ok = match i {
            0 | 1 => valid_range(field),
            _ => field.is_empty() || field.parse::<f64>().is_ok(),
        };
        if !ok {
            return Err(format!("{name} '{field}' is not a number or range"));
        }
    }
    Ok(Some(PerfValue {
        label,
        value: value * scale,
        unit,
    }))
}

/// A threshold range: `[@][start:][end]` with `~` for minus infinity; empty is allowed.
fn valid_range(text: &str) -> bool {
    let text = text.strip_prefix('@').unwrap_or(text);
    let number = |t: &str| t.is_empty() || t.parse::<f64>().is_ok();
    match text.split_once(':') {
        Some((start, end)) => (start == "~" || number(start)) && number(end),
        None => number(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf(label: &str, value: f64, unit: Unit) -> PerfValue {
        PerfValue {
            label: label.into(),
            value,
            unit,
        }
    }

    #[test]
    fn check_disk_style_output() {
        // Verbatim from monitoring-plugins' check_disk.
        let out =
            parse("DISK OK - free space: / 3326 MB (56% inode=99%); | /=2643MB;5948;5958;0;5968\n");
        assert_eq!(
            out.status,
            "DISK OK - free space: / 3326 MB (56% inode=99%);"
        );
        assert_eq!(
            out.perf,
            vec![perf("/", 2643.0 * 1024.0 * 1024.0, Unit::Bytes)]
        );
        assert!(out.bad.is_empty());
    }

    #[test]
    fn multi_line_output_from_the_guidelines() {
        // The guidelines' example of long text with perfdata on the first and later lines.
        let text = "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n\
                    / 15272 MB (77%);\n\
                    /boot 68 MB (69%);\n\
                    /home 69357 MB (27%);\n\
                    /var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n\
                    /home=69357MB;253404;253409;0;253414 \n\
                    /var/log=818MB;970;975;0;980\n";
        let out = parse(text);
        let labels: Vec<&str> = out.perf.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["/", "/boot", "/home", "/var/log"]);
        assert!(out.bad.is_empty(), "{:?}", out.bad);
    }

    #[test]
    fn units_are_normalised() {
        let out = parse("OK | time=0.25s rta=12ms jit=500us load1=0.5 pl=0% c=42c x=1.5e3");
        assert_eq!(
            out.perf,
            vec![
                perf("time", 250.0, Unit::Milliseconds),
                perf("rta", 12.0, Unit::Milliseconds),
                perf("jit", 0.5, Unit::Milliseconds),
                perf("load1", 0.5, Unit::Number),
                perf("pl", 0.0, Unit::Percent),
                perf("c", 42.0, Unit::Counter),
                perf("x", 1500.0, Unit::Number),
            ]
        );
    }

    #[test]
    fn quoted_labels_and_undetermined_values() {
        let out = parse("OK | 'in use'=5;10;20 'it''s'=1 'a=b'=2 gone=U;1;2");
        assert_eq!(
            out.perf,
            vec![
                perf("in use", 5.0, Unit::Number),
                perf("it's", 1.0, Unit::Number),
                perf("a=b", 2.0, Unit::Number),
            ]
        );
        assert!(out.bad.is_empty(), "{:?}", out.bad);
    }

    #[test]
    fn ranges_in_thresholds_are_accepted() {
        let out = parse("OK | a=1;10:20;@~:5;0; b=2;~:;10:;;");
        assert_eq!(out.perf.len(), 2, "{:?}", out.bad);
    }

    #[test]
    fn garbage_items_are_counted_and_the_rest_kept() {
        // An unclosed quote swallows the rest of the line, so it comes last here.
        let out =
            parse("OK | good=1 novalue= =3 x=abc y=1parsecs z=1;w;c t=2;1;2;3;4;5 fine=2B 'open=1");
        assert_eq!(
            out.perf,
            vec![
                perf("good", 1.0, Unit::Number),
                perf("fine", 2.0, Unit::Bytes)
            ]
        );
        assert_eq!(out.bad.len(), 7, "{:?}", out.bad);
        assert!(
            out.bad.iter().any(|b| b.contains("parsecs")),
            "{:?}",
            out.bad
        );
    }

    proptest::proptest! {
        /// Whatever a plugin prints, parsing answers: every item is either kept or counted.
        #[test]
        fn arbitrary_output_never_panics(text in "[a-z '=;|:~@%.0-9\n-]{0,300}") {
            let out = parse(&text);
            for p in &out.perf {
                proptest::prop_assert!(p.value.is_finite());
            }
        }
    }

    #[test]
    fn no_perfdata_is_fine() {
        let out = parse("PROCS OK: 3 processes\n");
        assert_eq!(out.status, "PROCS OK: 3 processes");
        assert!(out.perf.is_empty() && out.bad.is_empty());
        assert_eq!(parse(""), Output::default());
    }
}
