//! A spooled batch's body: the batch as the wire's `Batch` message, self-contained (every
//! series it uses is defined in it, with ids local to the record). A record can then be read
//! alone, whatever was dropped or cut before it, and after a restart that forgot the old
//! process's series ids.

use std::collections::HashMap;

use patrol_proto::Sample;
use patrol_proto::convert::labels_from_wire;
use patrol_proto::v1;
use prost::Message;

use crate::outbox::{Batch, Interner};

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("undecodable batch: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("point refers to series {0}, which the record does not define")]
    Undefined(u32),
}

/// Encodes `batch` (whose points use `interner`'s ids) into `out`.
pub fn encode(batch: &Batch, interner: &Interner, out: &mut Vec<u8>) {
    let mut local: HashMap<u32, u32> = HashMap::new();
    let mut series = Vec::new();
    let points = batch
        .points
        .iter()
        .map(|p| {
            let next = local.len() as u32;
            let id = *local.entry(p.series).or_insert_with(|| {
                if let Some(key) = interner.key(p.series) {
                    series.push(v1::SeriesDef {
                        id: next,
                        name: key.name.clone(),
                        labels: (&key.labels).into(),
                    });
                }
                next
            });
            v1::Point {
                series: id,
                value: p.value,
                timestamp_ms: p.timestamp_ms,
            }
        })
        .collect();
    let msg = v1::Batch {
        seq: batch.seq,
        series,
        points,
    };
    out.clear();
    msg.encode(out)
        .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
}

/// The samples of a spooled body, in their original order.
pub fn decode(body: &[u8]) -> Result<Vec<Sample>, BodyError> {
    let msg = v1::Batch::decode(body)?;
    let defs: HashMap<u32, &v1::SeriesDef> = msg.series.iter().map(|d| (d.id, d)).collect();
    msg.points
        .iter()
        .map(|p| {
            let def = defs.get(&p.series).ok_or(BodyError::Undefined(p.series))?;
            Ok(Sample::new(
                def.name.clone(),
                labels_from_wire(&def.labels),
                p.value,
                p.timestamp_ms,
            ))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::outbox::Outbox;
    use patrol_proto::Labels;

    #[test]
    fn a_body_carries_its_own_series() {
        let mut o = Outbox::new(100, 1000);
        let s = |name: &str, v| Sample::new(name, Labels::from_pairs([("a", "1")]), v, 5);
        o.push(&[s("x", 1.0), s("y", 2.0)]);
        o.push(&[s("y", 3.0), s("x", 4.0), s("y", 5.0)]);
        let second = o.after(1).next().unwrap().clone();
        let mut buf = Vec::new();
        encode(&second, o.interner(), &mut buf);
        let back = decode(&buf).unwrap();
        assert_eq!(back, vec![s("y", 3.0), s("x", 4.0), s("y", 5.0)]);
    }
}
