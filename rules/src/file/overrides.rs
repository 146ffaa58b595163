//! Per-label overrides of a rule:
//! `overrides = [{ match = '{tablespace="UNDOTBS1"}', threshold = 97 }, ...]`, each checked at
//! `file:line:column`, with warnings for one that can never apply.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, clear_side, span, word_offset};
use crate::catalog::EVERY_SAMPLE;
use crate::expr::{Expr, MatchOp, Matcher, parse_matchers};
use crate::program::Program;
use crate::rule::Override;

/// One override as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOverride {
    #[serde(rename = "match")]
    match_: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    clear: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
}

impl Checker<'_> {
    /// Checks a rule's overrides; returns the valid ones (the caller drops the rule if any
    /// error was recorded).
    pub(super) fn overrides(
        &mut self,
        list: &[Spanned<RawOverride>],
        expr: &Expr,
        program: &Program,
        rule_clear: Option<f64>,
    ) -> Vec<Override> {
        let mut out: Vec<(Override, usize)> = Vec::new();
        for raw in list {
            let at = raw.span().start;
            if let Some(o) = self.one_override(raw.get_ref(), at, expr, program, rule_clear) {
                out.push((o, at));
            }
        }
        self.warn_unreachable(&out, expr);
        out.into_iter().map(|(o, _)| o).collect()
    }

    fn one_override(
        &mut self,
        raw: &RawOverride,
        at: usize,
        expr: &Expr,
        program: &Program,
        rule_clear: Option<f64>,
    ) -> Option<Override> {
        let before = self.diags.len();
        let Some(m) = &raw.match_ else {
            self.error(
                at,
                "this override is missing 'match', e.g. match = '{tablespace=\"UNDOTBS1\"}'",
            );
            return None;
        };
        let matchers = match parse_matchers(m.get_ref()) {
            Ok(ms) => Some(ms),
            Err(e) => {
                let pos = span::value_offset(self.src, &m.span(), e.offset);
                self.error(pos, e.message);
                None
            }
        };
        if let Some(ms) = &matchers {
            self.check_labels(ms, m, expr);
        }
        if raw.threshold.is_none() && raw.clear.is_none() && raw.for_.is_none() {
            self.error(
                at,
                "this override changes nothing: give it 'threshold', 'clear' or 'for'",
            );
        }
        let threshold = raw.threshold.as_ref().and_then(|t| {
            let v = *t.get_ref();
            if !v.is_finite() {
                self.error(t.span().start, "'threshold' must be a finite number");
                return None;
            }
            if expr.threshold().is_none() {
                self.error(
                    t.span().start,
                    "'threshold' needs a rule whose expression compares with a number (like m > 90)",
                );
                return None;
            }
            Some(v)
        });
        let for_: Option<Duration> = raw.for_.as_ref().and_then(|f| self.duration(f, "for"));
        let clear = raw.clear.as_ref().map(|c| *c.get_ref());
        self.check_clear(raw, program, expr, threshold, clear, rule_clear);
        if self.diags.len() != before {
            return None;
        }
        let (line, _) = self.lines.line_col(self.src, at);
        Some(Override {
            matchers: matchers?,
            source: m.get_ref().trim().to_owned(),
            threshold,
            clear,
            for_,
            line,
        })
    }

    /// `clear` in force under the override must be on the resolving side of the threshold in
    /// force under it.
    fn check_clear(
        &mut self,
        raw: &RawOverride,
        program: &Program,
        expr: &Expr,
        threshold: Option<f64>,
        clear: Option<f64>,
        rule_clear: Option<f64>,
    ) {
        if let Some(c) = &raw.clear {
            if !c.get_ref().is_finite() {
                self.error(c.span().start, "'clear' must be a finite number");
                return;
            }
            if program.hysteresis_op().is_none() || expr.threshold().is_none() {
                self.error(
                    c.span().start,
                    "'clear' needs an expression that is one comparison with a number (like m > 90): there is no threshold to apply hysteresis to",
                );
                return;
            }
        }
        let (Some(op), Some(rule_threshold)) = (program.hysteresis_op(), expr.threshold()) else {
            return;
        };
        let Some(eff_clear) = clear.or(rule_clear) else {
            return;
        };
        let eff_threshold = threshold.unwrap_or(rule_threshold);
        if let Err(message) = clear_side(eff_clear, op, eff_threshold) {
            match (&raw.clear, &raw.threshold) {
                (Some(c), _) => self.error(c.span().start, message),
                (None, Some(t)) => self.error(
                    t.span().start,
                    format!(
                        "with this threshold the rule's 'clear' ({eff_clear}) is on the wrong side ({message}): give this override its own 'clear'"
                    ),
                ),
                (None, None) => {}
            }
        }
    }

    /// Refuses a matcher on a probe label that none of the rule's metrics carries: such an
    /// override could never apply, and is most likely a typo or the wrong rule.
    fn check_labels(&mut self, matchers: &[Matcher], m: &Spanned<String>, expr: &Expr) {
        let mut metrics: Vec<&str> = expr.selectors().iter().map(|s| s.metric.as_str()).collect();
        metrics.dedup();
        let Some(known) = metrics
            .iter()
            .map(|metric| self.catalog.labels(metric))
            .collect::<Option<Vec<_>>>()
        else {
            // A metric no probe documents (textfile, exec): its labels are unknown.
            return;
        };
        for matcher in matchers {
            let name = matcher.name.as_str();
            if EVERY_SAMPLE.contains(&name) || !self.catalog.is_probe_label(name) {
                continue;
            }
            if known.iter().any(|labels| labels.iter().any(|l| l == name)) {
                continue;
            }
            let has: Vec<String> = known
                .iter()
                .flat_map(|l| l.iter())
                .map(|l| format!("'{l}'"))
                .collect();
            let has = if has.is_empty() {
                "no probe labels".to_owned()
            } else {
                has.join(", ")
            };
            let pos = word_offset(m.get_ref(), name).map_or(m.span().start, |o| {
                span::value_offset(self.src, &m.span(), o)
            });
            self.error(
                pos,
                format!(
                    "'{}' never has a label '{name}' (its labels: {has}, 'host' and the agents' static labels): this override could never apply",
                    metrics.join("', '")
                ),
            );
        }
    }

    /// Warns about overrides that can never apply: the rule's own selector excludes them, or an
    /// override with the same matchers takes precedence.
    fn warn_unreachable(&mut self, list: &[(Override, usize)], expr: &Expr) {
        let selectors = expr.selectors();
        for (i, (o, at)) in list.iter().enumerate() {
            let excluded = !selectors.is_empty()
                && selectors.iter().all(|s| {
                    o.matchers.iter().any(|om| {
                        s.matchers.iter().any(|sm| {
                            sm.name == om.name
                                && ((sm.op == MatchOp::Equal && !om.matches(&sm.value))
                                    || (om.op == MatchOp::Equal && !sm.matches(&om.value)))
                        })
                    })
                });
            if excluded {
                self.warn(
                    *at,
                    format!(
                        "the override {} never applies: the rule's selector never selects such a series",
                        o.source
                    ),
                );
                continue;
            }
            let same = list[..i].iter().find(|(p, _)| {
                p.matchers.len() == o.matchers.len()
                    && p.matchers.iter().all(|m| o.matchers.contains(m))
            });
            if let Some((p, _)) = same {
                self.warn(
                    *at,
                    format!(
                        "the override {} never applies: the override at line {} has the same match and comes first",
                        o.source, p.line
                    ),
                );
            }
        }
    }
}
