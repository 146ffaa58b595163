//! The domain data model: a sample is `(name, labels, value, timestamp_ms)`.

use std::fmt;
use std::hash::Hasher;

/// A label set, kept sorted by name with unique names, so equal sets compare and hash equal
/// whatever order they were built in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set; a later duplicate name replaces the earlier value.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut labels = Self::new();
        for (k, v) in pairs {
            labels.insert(k, v);
        }
        labels
    }

    /// Sets `name` to `value`, replacing an existing value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Sets `name` only when it is not set yet (probe labels win over static ones).
    pub fn insert_if_absent(&mut self, name: &str, value: &str) {
        if let Err(i) = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            self.0.insert(i, (name.to_owned(), value.to_owned()));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every label of `other` that this set does not have yet.
    pub fn merge_missing(&mut self, other: &Labels) {
        for (k, v) in other.iter() {
            self.insert_if_absent(k, v);
        }
    }
}

impl fmt::Display for Labels {
    /// `{a="1",b="2"}` with Prometheus escaping; empty sets print nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}=\"")?;
            crate::exposition::write_escaped(f, v)?;
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
    pub timestamp_ms: i64,
}

impl Sample {
    pub fn new(name: impl Into<String>, labels: Labels, value: f64, timestamp_ms: i64) -> Self {
        Self {
            name: name.into(),
            labels,
            value,
            timestamp_ms,
        }
    }
}

/// Identity of a series: a stable 64-bit hash of its name and sorted label set.
///
/// FNV-1a rather than `DefaultHasher`, whose output may change between Rust releases: the
/// fingerprint is stored with incidents and must survive an upgrade.
pub fn fingerprint(name: &str, labels: &Labels) -> u64 {
    // Bytes and separators are fed by hand: `str`'s `Hash` impl is not promised to be stable.
    let mut h = Fnv1a::default();
    h.write(name.as_bytes());
    for (k, v) in labels.iter() {
        h.write(&[0xff]);
        h.write(k.as_bytes());
        h.write(&[0xfe]);
        h.write(v.as_bytes());
    }
    h.finish()
}

struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Milliseconds since the Unix epoch, the timestamp unit of every sample.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_and_replace() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("b", "3")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "3")]);
        assert_eq!(l.to_string(), r#"{a="1",b="3"}"#);
    }

    #[test]
    fn fingerprint_ignores_insertion_order_but_not_values() {
        let a = Labels::from_pairs([("x", "1"), ("y", "2")]);
        let b = Labels::from_pairs([("y", "2"), ("x", "1")]);
        let c = Labels::from_pairs([("y", "2"), ("x", "2")]);
        assert_eq!(fingerprint("m", &a), fingerprint("m", &b));
        assert_ne!(fingerprint("m", &a), fingerprint("m", &c));
        assert_ne!(fingerprint("m", &a), fingerprint("n", &a));
    }

    #[test]
    fn fingerprint_is_stable_across_releases() {
        // Stored in the incident database: changing it would orphan open incidents. The value
        // was checked against an independent FNV-1a of the same bytes.
        let l = Labels::from_pairs([("host", "db1"), ("mount", "/")]);
        assert_eq!(fingerprint("disk_used_percent", &l), 0x55ea_452a_9fac_3bd7);
    }
}
