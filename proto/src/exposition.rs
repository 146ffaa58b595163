//! The Prometheus text exposition format (version 0.0.4), for `patrol-agent --once` and the
//! collector's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use crate::model::Sample;

/// Escapes a label value: backslash, double quote and newline.
pub fn write_escaped(out: &mut (impl Write + ?Sized), value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '"' => out.write_str("\\\"")?,
            '\n' => out.write_str("\\n")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Help text may not hold raw newlines or backslashes in the text format.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Formats a float the way Prometheus parses it (`NaN`, `+Inf`, `-Inf`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Writes samples grouped by metric name (sorted), each family with `# HELP` (when `help`
/// knows the metric) and `# TYPE` lines. Counters (`_total`) are typed `counter`, everything
/// else `gauge`. With `timestamps`, each line ends with the sample's timestamp in milliseconds.
pub fn write_samples<'a, 'h>(
    out: &mut impl Write,
    samples: impl IntoIterator<Item = &'a Sample>,
    help: impl Fn(&str) -> Option<&'h str>,
    timestamps: bool,
) -> fmt::Result {
    let mut families: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        families.entry(s.name.as_str()).or_default().push(s);
    }
    for (name, mut members) in families {
        members.sort_by(|a, b| a.labels.cmp(&b.labels));
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        if let Some(text) = help(name) {
            writeln!(out, "# HELP {name} {}", escape_help(text))?;
        }
        writeln!(out, "# TYPE {name} {kind}")?;
        for s in members {
            write!(out, "{name}{} {}", s.labels, format_value(s.value))?;
            if timestamps {
                write!(out, " {}", s.timestamp_ms)?;
            }
            out.write_char('\n')?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    #[test]
    fn families_are_grouped_typed_and_escaped() {
        let samples = vec![
            Sample::new(
                "disk_used_percent",
                Labels::from_pairs([("mount", "/data\"x")]),
                91.5,
                7,
            ),
            Sample::new("cpu_usage_percent", Labels::new(), 3.0, 7),
            Sample::new("net_rx_total", Labels::new(), f64::INFINITY, 7),
        ];
        let mut out = String::new();
        let help = |m: &str| (m == "cpu_usage_percent").then_some("Busy.\nReally");
        write_samples(&mut out, &samples, help, false).expect("write to string");
        assert_eq!(
            out,
            "# HELP cpu_usage_percent Busy.\\nReally\n\
             # TYPE cpu_usage_percent gauge\ncpu_usage_percent 3\n\
             # TYPE disk_used_percent gauge\ndisk_used_percent{mount=\"/data\\\"x\"} 91.5\n\
             # TYPE net_rx_total counter\nnet_rx_total +Inf\n"
        );
    }
}
