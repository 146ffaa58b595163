//! Summary templates: `{{value}}`, `{{threshold}}`, `{{metric}}` and `{{label}}` placeholders,
//! parsed once at load so rendering at alert time cannot fail.

use std::fmt::Write as _;

use patrol_proto::Labels;

/// A parsed summary template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value,
    Threshold,
    Metric,
    Label(String),
}

/// Why a template did not parse: a plain sentence and the byte offset in the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Byte offset in the template source where the problem starts.
    pub offset: usize,
    /// What is wrong, for an operator.
    pub message: String,
}

/// The Prometheus label-name rule (letters, digits and `_`, not starting with a digit), which
/// matchers, templates and manual incidents' labels all follow.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses `src`. `{{value}}`, `{{threshold}}` and `{{metric}}` are reserved; any other name
    /// is a label.
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        let mut consumed = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let Some(close) = after_open.find("}}") else {
                return Err(TemplateError {
                    offset: consumed + open,
                    message: "'{{' is not closed: expected '}}'".to_owned(),
                });
            };
            let name = after_open[..close].trim();
            parts.push(match name {
                "value" => Part::Value,
                "threshold" => Part::Threshold,
                "metric" => Part::Metric,
                n if is_label_name(n) => Part::Label(n.to_owned()),
                n => {
                    return Err(TemplateError {
                        offset: consumed + open,
                        message: format!(
                            "invalid placeholder '{{{{{n}}}}}': expected {{{{value}}}}, {{{{threshold}}}}, {{{{metric}}}} or a label name such as {{{{host}}}}"
                        ),
                    });
                }
            });
            let used = open + 2 + close + 2;
            consumed += used;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self {
            source: src.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills the placeholders; a label the series does not have renders as empty, and so does
    /// `{{threshold}}` for a rule without one.
    pub fn render(
        &self,
        metric: &str,
        value: f64,
        labels: &Labels,
        threshold: Option<f64>,
    ) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value => out.push_str(&format_value(value)),
                Part::Threshold => {
                    if let Some(t) = threshold {
                        out.push_str(&format_value(t));
                    }
                }
                Part::Metric => out.push_str(metric),
                Part::Label(name) => out.push_str(labels.get(name).unwrap_or("")),
            }
        }
        out
    }
}

/// A value as a person reads it: at most two decimals, trailing zeros trimmed (`91.5`, `40`,
/// `0.33`); NaN and infinities as Prometheus writes them.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let mut s = String::new();
    let _ = write!(s, "{value:.2}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    // -0.001 rounds to "-0", which reads as a different number from 0.
    if s == "-0" {
        s.remove(0);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_value_metric_and_labels() {
        let t =
            Template::parse("{{ metric }} at {{value}}% on {{host}}/{{ db }}{{nope}}!").unwrap();
        let l = Labels::from_pairs([("host", "db1"), ("db", "ORCL")]);
        assert_eq!(
            t.render("oracle_archive_log_used_percent", 91.5, &l, None),
            "oracle_archive_log_used_percent at 91.5% on db1/ORCL!"
        );
    }

    #[test]
    fn formats_values_with_at_most_two_decimals() {
        assert_eq!(format_value(91.5), "91.5");
        assert_eq!(format_value(40.0), "40");
        assert_eq!(format_value(1.0 / 3.0), "0.33");
        assert_eq!(format_value(0.999), "1");
        assert_eq!(format_value(-0.001), "0");
        assert_eq!(format_value(-12.345), "-12.35");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn unclosed_braces_report_their_offset() {
        let e = Template::parse("at {{value}} on {{host").unwrap_err();
        assert_eq!(e.offset, 16);
        assert_eq!(e.message, "'{{' is not closed: expected '}}'");
    }

    #[test]
    fn invalid_placeholder_is_an_error() {
        let e = Template::parse("x {{ 1a }}").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(
            e.message.starts_with("invalid placeholder '{{1a}}'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn text_without_placeholders_renders_verbatim() {
        let t = Template::parse("all } good }}").unwrap();
        assert_eq!(t.render("m", 1.0, &Labels::new(), None), "all } good }}");
        let t = Template::parse("{{value}} over {{ threshold }}").unwrap();
        assert_eq!(
            t.render("m", 98.0, &Labels::new(), Some(97.0)),
            "98 over 97"
        );
        assert_eq!(t.render("m", 98.0, &Labels::new(), None), "98 over ");
    }
}
