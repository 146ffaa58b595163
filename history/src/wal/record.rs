//! What the write-ahead log holds: series definitions and sample batches, each a record framed
//! by [`super::segment`]. Pure encoding over bytes; decoding garbage is an error, never a panic.
//!
//! ```text
//! series:  0x01 id:uvarint name:string labels:uvarint (name:string value:string)*
//! samples: 0x02 count:uvarint base_ts:svarint (id:uvarint ts_delta:svarint value:f64le)*
//! mark:    0x03 source:string epoch:uvarint seq:uvarint
//! string:  len:uvarint utf8
//! ```

use patrol_proto::Labels;
use prost::bytes::Buf;
use prost::encoding::{decode_varint, encode_varint};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const MARK: u8 = 3;
/// Longest name or label value accepted back (the collector refuses longer ones at ingest).
const MAX_STRING: u64 = 64 * 1024;
/// Most labels a series may have in a record.
const MAX_LABELS: u64 = 256;

/// A series the log introduces before its first samples.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDef {
    /// History's id for the series.
    pub id: u32,
    /// Metric name.
    pub name: String,
    /// Labels (without the name).
    pub labels: Labels,
}

/// One sample of a series the log has defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Series id.
    pub id: u32,
    /// Milliseconds since the epoch.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// How far a source's batches are in the log: the collector writes the agent's (epoch,
/// batch sequence) with each batch's samples, so after a crash it knows which acknowledged-
/// by-the-store batches the history still lacks and asks the agent to send them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Who sent the batch (the agent id).
    pub source: String,
    /// The sender's epoch (a restarted agent numbers its batches afresh).
    pub epoch: u64,
    /// The batch's sequence number.
    pub seq: u64,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A series definition.
    Series(SeriesDef),
    /// Samples.
    Samples(Vec<Sample>),
    /// A batch's position.
    Mark(Mark),
}

/// A record that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable record: {0}")]
pub struct RecordError(pub &'static str);

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    encode_varint(s.len() as u64, buf);
    buf.extend_from_slice(s.as_bytes());
}

/// Appends the payload of a series definition to `buf`.
pub fn encode_series(buf: &mut Vec<u8>, def: &SeriesDef) {
    buf.push(SERIES);
    encode_varint(u64::from(def.id), buf);
    put_str(buf, &def.name);
    encode_varint(def.labels.len() as u64, buf);
    for (k, v) in def.labels.iter() {
        put_str(buf, k);
        put_str(buf, v);
    }
}

/// Appends the payload of a sample batch to `buf`.
pub fn encode_samples(buf: &mut Vec<u8>, samples: &[Sample]) {
    buf.push(SAMPLES);
    encode_varint(samples.len() as u64, buf);
    let base = samples.first().map_or(0, |s| s.ts);
    encode_varint(zigzag(base), buf);
    for s in samples {
        encode_varint(u64::from(s.id), buf);
        encode_varint(zigzag(s.ts.wrapping_sub(base)), buf);
        buf.extend_from_slice(&s.value.to_le_bytes());
    }
}

/// Appends the payload of a mark to `buf`.
pub fn encode_mark(buf: &mut Vec<u8>, mark: &Mark) {
    buf.push(MARK);
    put_str(buf, &mark.source);
    encode_varint(mark.epoch, buf);
    encode_varint(mark.seq, buf);
}

fn varint(b: &mut &[u8]) -> Result<u64, RecordError> {
    decode_varint(b).map_err(|_| RecordError("bad varint"))
}

fn string(b: &mut &[u8]) -> Result<String, RecordError> {
    let len = varint(b)?;
    if len > MAX_STRING || len > b.len() as u64 {
        return Err(RecordError("string longer than the record"));
    }
    let (s, rest) = b.split_at(len as usize);
    *b = rest;
    String::from_utf8(s.to_vec()).map_err(|_| RecordError("string is not UTF-8"))
}

fn id(b: &mut &[u8]) -> Result<u32, RecordError> {
    u32::try_from(varint(b)?).map_err(|_| RecordError("series id out of range"))
}

/// Decodes one record's payload.
pub fn decode(payload: &[u8]) -> Result<Record, RecordError> {
    let mut b = payload;
    if !b.has_remaining() {
        return Err(RecordError("empty record"));
    }
    match b.get_u8() {
        SERIES => {
            let id = id(&mut b)?;
            let name = string(&mut b)?;
            let n = varint(&mut b)?;
            if n > MAX_LABELS {
                return Err(RecordError("too many labels"));
            }
            let mut labels = Labels::new();
            for _ in 0..n {
                let k = string(&mut b)?;
                let v = string(&mut b)?;
                labels.insert(k, v);
            }
            Ok(Record::Series(SeriesDef { id, name, labels }))
        }
        SAMPLES => {
            let n = varint(&mut b)?;
            // Each sample takes at least 10 bytes: refuse counts the payload cannot hold.
            if n > (b.len() as u64) / 10 + 1 {
                return Err(RecordError("sample count larger than the record"));
            }
            let base = unzigzag(varint(&mut b)?);
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let id = id(&mut b)?;
                let ts = base.wrapping_add(unzigzag(varint(&mut b)?));
                if b.remaining() < 8 {
                    return Err(RecordError("sample value cut short"));
                }
                out.push(Sample {
                    id,
                    ts,
                    value: f64::from_bits(b.get_u64_le()),
                });
            }
            Ok(Record::Samples(out))
        }
        MARK => {
            let source = string(&mut b)?;
            let epoch = varint(&mut b)?;
            let seq = varint(&mut b)?;
            Ok(Record::Mark(Mark { source, epoch, seq }))
        }
        _ => Err(RecordError("unknown record type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn series_round_trip() {
        let def = SeriesDef {
            id: 7,
            name: "disk_used_percent".into(),
            labels: Labels::from_pairs([("host", "db1"), ("mount", "/u01")]),
        };
        let mut buf = Vec::new();
        encode_series(&mut buf, &def);
        assert_eq!(decode(&buf), Ok(Record::Series(def)));
    }

    #[test]
    fn mark_round_trip() {
        let m = Mark {
            source: "db1".into(),
            epoch: 1_796_299_246_876,
            seq: 65,
        };
        let mut buf = Vec::new();
        encode_mark(&mut buf, &m);
        assert_eq!(decode(&buf), Ok(Record::Mark(m)));
    }

    proptest! {
        #[test]
        fn samples_round_trip(raw in proptest::collection::vec((any::<u32>(), any::<i64>(), any::<u64>()), 0..100)) {
            let samples: Vec<Sample> = raw.iter().map(|&(id, ts, v)| Sample { id, ts, value: f64::from_bits(v) }).collect();
            let mut buf = Vec::new();
            encode_samples(&mut buf, &samples);
            let Ok(Record::Samples(back)) = decode(&buf) else { panic!("decodes") };
            prop_assert_eq!(back.len(), samples.len());
            for (a, b) in back.iter().zip(&samples) {
                prop_assert_eq!((a.id, a.ts, a.value.to_bits()), (b.id, b.ts, b.value.to_bits()));
            }
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
