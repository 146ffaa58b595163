//! Operator-defined OIDs (`[[probe.custom]]`) turned into samples.

use super::config::{CustomKind, CustomSettings};
use super::profile::Out;
use super::rates::{Counters, Width};
use super::table::{Poll, Val, dotted};

/// Label pairs of one row: the index arcs split over `index_labels`, then the lookups.
fn row_labels(c: &CustomSettings, poll: &Poll, index: &[u32]) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    if c.index_labels.is_empty() {
        if !index.is_empty() {
            labels.push(("index".to_owned(), dotted(index)));
        }
    } else {
        let last = c.index_labels.len() - 1;
        for (i, name) in c.index_labels.iter().enumerate() {
            let part = if i == last {
                index.get(i..).map(dotted)
            } else {
                index.get(i).map(|a| a.to_string())
            };
            labels.push((name.clone(), part.unwrap_or_default()));
        }
    }
    for (label, column) in &c.lookups {
        if let Some(text) = poll.get(column, index).and_then(Val::text) {
            labels.push((label.clone(), text));
        }
    }
    labels
}

/// Emits every configured custom metric found in `poll`.
pub fn emit(custom: &[CustomSettings], poll: &Poll, counters: &mut Counters, out: &mut Out<'_>) {
    for c in custom {
        let rows: Vec<(Vec<u32>, &Val)> = if c.scalar {
            poll.scalar(&c.oid)
                .map(|v| (Vec::new(), v))
                .into_iter()
                .collect()
        } else {
            poll.column(&c.oid)
                .into_iter()
                .flatten()
                .map(|(i, v)| (i.clone(), v))
                .collect()
        };
        for (index, value) in rows {
            let labels = row_labels(c, poll, &index);
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let reported = match c.kind {
                CustomKind::Gauge => value.number(),
                CustomKind::Counter => {
                    let reading = match value {
                        Val::Counter64(v) => Some((*v, Width::Bits64)),
                        Val::Counter32(v) => Some((u64::from(*v), Width::Bits32)),
                        other => other
                            .number()
                            .filter(|n| *n >= 0.0)
                            .map(|n| (n as u64, Width::Bits64)),
                    };
                    reading.and_then(|(v, w)| {
                        counters.rate(format!("custom/{}/{}", c.name, dotted(&index)), v, w, None)
                    })
                }
            };
            if let Some(v) = reported {
                out.push(&c.name, &pairs, v * c.scale);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::config::parse_oid;

    #[test]
    fn index_arcs_become_labels_and_lookups_add_names() {
        let c = CustomSettings {
            name: "qos_drops".into(),
            oid: parse_oid("1.3.6.1.4.1.9.9.166.1.15.1.1.13").expect("oid"),
            scalar: false,
            kind: CustomKind::Gauge,
            index_labels: vec!["policy".into(), "class".into()],
            lookups: vec![(
                "ifname".into(),
                parse_oid("1.3.6.1.2.1.31.1.1.1.1").expect("oid"),
            )],
            scale: 2.0,
        };
        let mut poll = Poll::default();
        poll.add_rows(
            &c.oid,
            [(
                parse_oid("1.3.6.1.4.1.9.9.166.1.15.1.1.13.7.8.9").expect("oid"),
                Val::Unsigned(21),
            )],
        );
        poll.add_rows(
            &c.lookups[0].1,
            [(
                parse_oid("1.3.6.1.2.1.31.1.1.1.1.7.8.9").expect("oid"),
                Val::Bytes(b"Gi0/1".to_vec()),
            )],
        );
        let mut samples = Vec::new();
        let mut out = Out {
            out: &mut samples,
            device: "r1",
            now_ms: 5,
        };
        emit(&[c], &poll, &mut Counters::default(), &mut out);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].value, 42.0);
        assert_eq!(
            samples[0].labels.to_string(),
            "{class=\"8.9\",device=\"r1\",ifname=\"Gi0/1\",policy=\"7\"}"
        );
    }
}
