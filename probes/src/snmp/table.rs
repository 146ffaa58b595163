//! What one poll of a device returned, independent of the SNMP library: values by column
//! and index, so the profiles can be tested on recorded rows without a network.

use std::collections::{BTreeMap, HashMap};

/// One SNMP value, reduced to what the profiles need.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    /// Gauge32 / Unsigned32.
    Unsigned(u64),
    Counter32(u32),
    Counter64(u64),
    Ticks(u32),
    Bytes(Vec<u8>),
    Oid(Vec<u32>),
    /// noSuchObject, noSuchInstance, endOfMibView, NULL, or a type no profile reads.
    Absent,
}

impl Val {
    /// The value as a number, for gauges; `None` for strings and exceptions.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Unsigned(v) | Self::Counter64(v) => Some(*v as f64),
            Self::Counter32(v) | Self::Ticks(v) => Some(f64::from(*v)),
            Self::Bytes(_) | Self::Oid(_) | Self::Absent => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            Self::Unsigned(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value as label text: strings cleaned by [`clean_text`], numbers in decimal.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Bytes(b) => Some(clean_text(b)),
            Self::Oid(arcs) => Some(dotted(arcs)),
            Self::Absent => None,
            other => other.number().map(|n| n.to_string()),
        }
    }
}

/// Longest label value taken from a device string; sysDescr can be kilobytes.
pub const MAX_LABEL_CHARS: usize = 256;

/// Device strings as label values: invalid UTF-8 replaced, control characters (sysDescr
/// carries CR LF) and runs of whitespace folded into one space, trimmed, at most
/// [`MAX_LABEL_CHARS`] characters.
pub fn clean_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(MAX_LABEL_CHARS));
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            if chars + 1 >= MAX_LABEL_CHARS {
                break;
            }
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        if chars >= MAX_LABEL_CHARS {
            break;
        }
        out.push(c);
        chars += 1;
    }
    out
}

pub fn dotted(arcs: &[u32]) -> String {
    let mut s = String::new();
    for (i, a) in arcs.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(&a.to_string());
    }
    s
}

/// Rows of one table column: index arcs (after the column OID) to value.
pub type Column = BTreeMap<Vec<u32>, Val>;

/// Everything read from one device in one round.
#[derive(Debug, Default, Clone)]
pub struct Poll {
    /// Walked columns by column OID.
    pub columns: HashMap<Vec<u32>, Column>,
    /// Scalars read with GET, by full OID.
    pub scalars: HashMap<Vec<u32>, Val>,
}

impl Poll {
    /// The walked column, empty when the device has no such table.
    pub fn column(&self, oid: &[u32]) -> Option<&Column> {
        self.columns.get(oid).filter(|c| !c.is_empty())
    }

    pub fn get(&self, column: &[u32], index: &[u32]) -> Option<&Val> {
        self.columns
            .get(column)
            .and_then(|c| c.get(index))
            .filter(|v| **v != Val::Absent)
    }

    pub fn scalar(&self, oid: &[u32]) -> Option<&Val> {
        self.scalars.get(oid).filter(|v| **v != Val::Absent)
    }

    /// Files walked rows under their column; rows outside `column` are dropped.
    pub fn add_rows(&mut self, column: &[u32], rows: impl IntoIterator<Item = (Vec<u32>, Val)>) {
        let entry = self.columns.entry(column.to_vec()).or_default();
        for (oid, val) in rows {
            if let Some(index) = oid.strip_prefix(column)
                && !index.is_empty()
            {
                entry.insert(index.to_vec(), val);
            }
        }
    }
}

/// Parses net-snmp's `.snmprec` recording format (`oid|type|value`), as shipped with
/// snmpsim; for unit tests on verbatim captures of real devices.
pub fn parse_snmprec(text: &str) -> Vec<(Vec<u32>, Val)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '|');
            let oid = crate::snmp::config::parse_oid(parts.next()?).ok()?;
            let tag = parts.next()?;
            let value = parts.next()?;
            let val = match tag {
                "2" => Val::Int(value.parse().ok()?),
                "4" | "64" => Val::Bytes(value.as_bytes().to_vec()),
                "4x" | "64x" => Val::Bytes(hex(value)?),
                "6" => Val::Oid(crate::snmp::config::parse_oid(value).ok()?),
                "65" => Val::Counter32(value.parse().ok()?),
                "66" | "71" => Val::Unsigned(value.parse().ok()?),
                "67" => Val::Ticks(value.parse().ok()?),
                "70" => Val::Counter64(value.parse().ok()?),
                _ => Val::Absent,
            };
            Some((oid, val))
        })
        .collect()
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_folds_control_characters_and_bounds_length() {
        assert_eq!(
            clean_text(b"  Cisco IOS\r\nTechnical\tSupport \r\n"),
            "Cisco IOS Technical Support"
        );
        assert_eq!(clean_text(&[0x66, 0xff, 0x6f]), "f\u{fffd}o");
        let long = vec![b'a'; 10_000];
        assert_eq!(clean_text(&long).chars().count(), MAX_LABEL_CHARS);
        assert_eq!(clean_text(b""), "");
    }

    #[test]
    fn snmprec_lines_parse_by_type() {
        let rows = parse_snmprec(
            "1.3.6.1.2.1.1.5.0|4|Profiler3750\n1.3.6.1.2.1.1.3.0|67|697202257\n\
             1.3.6.1.2.1.31.1.1.1.6.1|70|39857997\n1.3.6.1.2.1.2.2.1.2.1|4x|566c31\nbroken\n",
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].1, Val::Bytes(b"Profiler3750".to_vec()));
        assert_eq!(rows[1].1, Val::Ticks(697_202_257));
        assert_eq!(rows[2].1, Val::Counter64(39_857_997));
        assert_eq!(rows[3].1, Val::Bytes(b"Vl1".to_vec()));
    }
}
