//! Profiles applied to what one poll read: pure functions over a [`Poll`], so every profile is
//! tested on recordings without a network.

use std::collections::HashSet;

use patrol_proto::{Labels, Sample};

use super::{Cond, IndexPart, Kind, LabelSpec, ProfileDef, Scalar, Table, TableMetric, Transform};
use crate::snmp::rates::{Counters, Width};
use crate::snmp::table::{Poll, Val, dotted};

/// Appends samples of one device, each labelled `device` and stamped with the round's time.
pub struct Out<'a> {
    pub out: &'a mut Vec<Sample>,
    pub device: &'a str,
    pub now_ms: i64,
}

impl Out<'_> {
    /// Non-finite values (a division by a zero column) give no sample.
    pub fn push(&mut self, name: &str, pairs: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels = Labels::from_pairs([("device", self.device)]);
        for (k, v) in pairs {
            labels.insert(*k, *v);
        }
        self.out.push(Sample::new(name, labels, value, self.now_ms));
    }
}

/// Most decimal exponent a `pow10` may reach; beyond it the row is left out (RFC 3433's
/// scales span 10^-24 to 10^24, precision -8 to 9).
const MAX_EXPONENT: i32 = 40;

/// The samples of `profile` from `poll`.
pub fn emit(profile: &ProfileDef, poll: &Poll, counters: &mut Counters, out: &mut Out<'_>) {
    for scalar in &profile.scalars {
        emit_scalar(scalar, poll, out);
    }
    for table in &profile.tables {
        emit_table(table, poll, counters, out);
    }
}

/// `n × scale`, computed as a division when the scale is the inverse of a whole number
/// (0.1, 0.01, 1/60), so tenths of a volt read 8.7 and not 8.700000000000001.
fn scaled(n: f64, scale: f64) -> f64 {
    let inverse = 1.0 / scale;
    if scale.abs() < 1.0 && (inverse - inverse.round()).abs() < 1e-9 {
        n / inverse.round()
    } else {
        n * scale
    }
}

fn transformed(t: &Transform, value: &Val) -> Option<f64> {
    let text = value.text();
    if text.as_ref().is_some_and(|s| t.skip.contains(s)) {
        return None;
    }
    match &t.map {
        Some(map) => text.and_then(|s| map.get(&s).copied()).or(t.default),
        None => value.number().map(|n| scaled(n, t.scale)),
    }
}

fn emit_scalar(s: &Scalar, poll: &Poll, out: &mut Out<'_>) {
    let value = match (&s.oid, s.constant) {
        (_, Some(c)) => Some(c),
        (Some(oid), None) => poll.scalar(oid).and_then(|v| transformed(&s.transform, v)),
        (None, None) => None,
    };
    let Some(value) = value else { return };
    let labels: Vec<(String, String)> = s
        .labels
        .iter()
        .map(|(name, oid)| {
            let text = poll.scalar(oid).and_then(Val::text).unwrap_or_default();
            (name.clone(), text)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    out.push(&s.name, &pairs, value);
}

fn holds(cond: &Cond, value: &Val) -> bool {
    match cond {
        Cond::In(set) => value.text().is_some_and(|t| set.contains(&t)),
        Cond::NotIn(set) => value.text().is_some_and(|t| !set.contains(&t)),
        Cond::Above(limit) => value.number().is_some_and(|n| n > *limit),
    }
}

fn index_text(index: &[u32], part: IndexPart) -> String {
    match part {
        IndexPart::All => dotted(index),
        IndexPart::Last => index.last().map(u32::to_string).unwrap_or_default(),
    }
}

/// One label of a row; `None` for an optional label without a value.
fn label_value(spec: &LabelSpec, poll: &Poll, index: &[u32]) -> Option<String> {
    let from = spec
        .from
        .iter()
        .filter_map(|c| poll.get(c, index).and_then(Val::text))
        .find(|s| !s.is_empty());
    let value = from.or_else(|| spec.index.map(|p| index_text(index, p)))?;
    Some(match &spec.map {
        Some(map) => map.get(&value).cloned().unwrap_or(value),
        None => value,
    })
}

/// A row's label names and values.
type RowLabels = Vec<(String, String)>;

/// The table's rows that pass its filters, with their labels. Labels are made (and made
/// unique) over every row before the filters apply, so two tables over the same rows with
/// different filters name a row the same way (`entity_sensor_value` and
/// `hw_temperature_celsius` of one sensor share its `sensor` label).
fn rows(table: &Table, poll: &Poll) -> Vec<(Vec<u32>, RowLabels)> {
    let Some(column) = poll.column(&table.rows) else {
        return Vec::new();
    };
    let mut seen: Vec<HashSet<String>> = vec![HashSet::new(); table.labels.len()];
    column
        .keys()
        .map(|index| {
            let labels: RowLabels = table
                .labels
                .iter()
                .zip(seen.iter_mut())
                .filter_map(|(spec, seen)| {
                    let value = label_value(spec, poll, index)?;
                    let value = if spec.unique && !seen.insert(value.clone()) {
                        format!("{value}#{}", dotted(index))
                    } else {
                        value
                    };
                    Some((spec.name.clone(), value))
                })
                .collect();
            (index, labels)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|(index, _)| {
            table.filters.iter().all(|f| {
                poll.get(&f.column, index)
                    .is_some_and(|v| holds(&f.cond, v))
            })
        })
        .map(|(index, labels)| (index.clone(), labels))
        .collect()
}

/// A counter reading for a rate: its value and width. Gauges and integers that a device
/// reports instead of a counter are taken as 64-bit (no wrap assumed).
fn counter(value: &Val) -> Option<(u64, Width)> {
    match value {
        Val::Counter64(v) => Some((*v, Width::Bits64)),
        Val::Counter32(v) => Some((u64::from(*v), Width::Bits32)),
        other => other
            .number()
            .filter(|n| *n >= 0.0)
            .map(|n| (n as u64, Width::Bits64)),
    }
}

/// The row's value from the first source that has one. With `skip_zero` a zero in the
/// first source defers to the fallbacks, and stands when none of them has a value.
fn source_value<'p>(m: &TableMetric, poll: &'p Poll, index: &[u32]) -> Option<(&'p Val, f64)> {
    let mut zero = None;
    for (i, source) in m.sources.iter().enumerate() {
        let Some(value) = poll.get(&source.column, index) else {
            continue;
        };
        if i == 0 && m.skip_zero && value.number() == Some(0.0) {
            zero = Some((value, source.scale));
            continue;
        }
        return Some((value, source.scale));
    }
    zero
}

/// Value × the `multiply` columns ÷ the `divide` columns × 10^(Σ pow10 exponents).
fn factors(m: &TableMetric, poll: &Poll, index: &[u32], value: f64) -> Option<f64> {
    let mut v = value;
    for c in &m.multiply {
        v *= poll.get(c, index)?.number()?;
    }
    for c in &m.divide {
        v /= poll.get(c, index)?.number()?;
    }
    let mut exponent = 0i32;
    for p in &m.pow10 {
        let raw = poll.get(&p.column, index)?;
        let e = match &p.map {
            Some(map) => *map.get(&raw.text()?)?,
            None => i32::try_from(raw.int()?).ok()?,
        };
        exponent = exponent.checked_add(if p.negate { e.checked_neg()? } else { e })?;
    }
    if exponent.abs() > MAX_EXPONENT {
        return None;
    }
    // Dividing by 10^n gives the decimal a device meant (1203 at precision 2 is 12.03);
    // multiplying by 10^-n would give 12.030000000000001.
    Some(if exponent < 0 {
        v / 10f64.powi(-exponent)
    } else {
        v * 10f64.powi(exponent)
    })
}

/// One metric of one row.
fn row_value(m: &TableMetric, poll: &Poll, index: &[u32], counters: &mut Counters) -> Option<f64> {
    if let Some(w) = &m.when {
        let condition = poll.get(&w.column, index)?;
        if !holds(&w.cond, condition) {
            return w.otherwise;
        }
    }
    if let Some(c) = m.constant {
        return Some(c);
    }
    let (value, scale) = source_value(m, poll, index)?;
    match m.kind {
        Kind::Gauge => {
            let transform = Transform {
                scale,
                ..m.transform.clone()
            };
            let v = transformed(&transform, value)?;
            if m.transform.map.is_some() {
                return Some(v);
            }
            factors(m, poll, index, v)
        }
        Kind::Rate => {
            let (reading, width) = counter(value)?;
            let discontinuity = m
                .discontinuity
                .as_ref()
                .and_then(|c| match poll.get(c, index) {
                    Some(Val::Ticks(t)) => Some(*t),
                    _ => None,
                });
            let id = format!("{}/{}", m.name, dotted(index));
            let rate = counters.rate(id, reading, width, discontinuity)?;
            factors(m, poll, index, scaled(rate, scale))
        }
    }
}

fn emit_table(table: &Table, poll: &Poll, counters: &mut Counters, out: &mut Out<'_>) {
    let rows = rows(table, poll);
    for m in &table.metrics {
        for (index, labels) in &rows {
            if let Some(v) = row_value(m, poll, index, counters) {
                let pairs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                out.push(&m.name, &pairs, v);
            }
        }
    }
}
