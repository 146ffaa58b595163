//! The series history knows: their labels, found by fingerprint and by metric name, and each
//! one's head — the chunks being filled, the minute being aggregated, and sealed chunks not yet
//! in the chunk database. Ids are dense (`0..len`), so per-series state elsewhere is a `Vec`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use patrol_proto::Labels;
use patrol_proto::model::fingerprint;

use crate::codec::agg::{Agg, AggAppender};
use crate::codec::xor::XorAppender;

/// Which tier a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Every sample.
    Raw = 0,
    /// 1-minute aggregates.
    Minute = 1,
}

impl Tier {
    /// As stored.
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// A finished chunk waiting to be written to the chunk database.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    /// Its tier.
    pub tier: Tier,
    /// First timestamp (raw) or minute (aggregates).
    pub min_ts: i64,
    /// Last timestamp or minute.
    pub max_ts: i64,
    /// Samples or minutes.
    pub count: u32,
    /// The newest sample the chunk includes (raw: `max_ts`).
    pub last_ts: i64,
    /// Encoded bytes.
    pub data: Vec<u8>,
}

/// The time window a raw chunk stays within (aligned to the epoch), as Prometheus' head
/// block range.
pub const RAW_SPAN_MS: i64 = 2 * 3_600_000;

fn window(ts: i64, span: i64) -> i64 {
    ts.div_euclid(span)
}

/// What sealing limits are.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSizes {
    /// Samples per raw chunk.
    pub samples: u32,
    /// Minutes per aggregate chunk.
    pub minutes: u32,
}

/// The in-memory part of one series.
#[derive(Debug, Clone)]
pub struct Head {
    /// Newest sample's timestamp (`i64::MIN`: none yet).
    pub last_ts: i64,
    /// Newest sample's value.
    pub last_value: f64,
    /// The sample before the newest one (for the series' interval).
    pub prev_ts: i64,
    raw: Option<XorAppender>,
    /// First timestamp of the open raw chunk.
    raw_first: i64,
    /// WAL segment of the open raw chunk's first sample.
    raw_seg: u64,
    minute: Option<Agg>,
    agg: Option<AggAppender>,
    /// First minute of the open aggregate chunk.
    agg_first: i64,
    /// WAL segment of the oldest sample in the open minute or aggregate chunk.
    agg_seg: u64,
    /// Sealed chunks not yet in the database, oldest first.
    pub sealed: Vec<Sealed>,
}

impl Default for Head {
    fn default() -> Self {
        Self {
            last_ts: i64::MIN,
            last_value: f64::NAN,
            prev_ts: i64::MIN,
            raw: None,
            raw_first: i64::MIN,
            raw_seg: u64::MAX,
            minute: None,
            agg: None,
            agg_first: i64::MIN,
            agg_seg: u64::MAX,
            sealed: Vec::new(),
        }
    }
}

impl Head {
    /// Appends a sample newer than `last_ts`, written in WAL segment `seg`.
    pub fn append(&mut self, ts: i64, v: f64, seg: u64, sizes: ChunkSizes) {
        self.append_to(ts, v, seg, sizes, true, true);
    }

    /// Appends a sample to the raw tier, the aggregates or both: replaying the log after a
    /// restart feeds each tier only what its stored chunks do not hold yet.
    pub fn append_to(
        &mut self,
        ts: i64,
        v: f64,
        seg: u64,
        sizes: ChunkSizes,
        raw: bool,
        agg: bool,
    ) {
        if raw {
            self.append_raw(ts, v, seg, sizes);
        }
        if agg {
            self.append_agg(ts, v, seg, sizes);
        }
        if ts > self.last_ts {
            self.prev_ts = self.last_ts;
            self.last_ts = ts;
            self.last_value = v;
        }
    }

    fn append_raw(&mut self, ts: i64, v: f64, seg: u64, sizes: ChunkSizes) {
        // A chunk never crosses a window boundary, so retention (which drops whole chunks)
        // never keeps old samples alive beside new ones after a gap.
        if self.raw.is_some() && window(ts, RAW_SPAN_MS) != window(self.raw_first, RAW_SPAN_MS) {
            self.seal_raw();
        }
        match &mut self.raw {
            Some(r) => r.append(ts, v),
            None => {
                self.raw = Some(XorAppender::new(ts, v));
                self.raw_first = ts;
                self.raw_seg = seg;
            }
        }
        if self
            .raw
            .as_ref()
            .is_some_and(|r| r.count() >= sizes.samples)
        {
            self.seal_raw();
        }
    }

    fn append_agg(&mut self, ts: i64, v: f64, seg: u64, sizes: ChunkSizes) {
        let minute = Agg::minute_of(ts);
        match &mut self.minute {
            Some(m) if m.minute_ms == minute => m.add(ts, v),
            Some(_) => {
                self.close_minute(sizes);
                self.minute = Some(Agg::first(ts, v));
            }
            None => self.minute = Some(Agg::first(ts, v)),
        }
        self.agg_seg = self.agg_seg.min(seg);
    }

    /// Moves the finished minute into the aggregate chunk.
    fn close_minute(&mut self, sizes: ChunkSizes) {
        let Some(m) = self.minute.take() else {
            return;
        };
        let span = i64::from(sizes.minutes.max(1)) * 60_000;
        if self.agg.is_some() && window(m.minute_ms, span) != window(self.agg_first, span) {
            // The minute being moved still needs its log segment kept.
            let seg = self.agg_seg;
            self.seal_agg();
            self.agg_seg = seg;
        }
        match &mut self.agg {
            Some(a) => a.append(m),
            None => {
                self.agg_first = m.minute_ms;
                self.agg = Some(AggAppender::new(m));
            }
        }
        if self
            .agg
            .as_ref()
            .is_some_and(|a| a.count() >= sizes.minutes)
        {
            self.seal_agg();
        }
    }

    fn seal_raw(&mut self) {
        if let Some(r) = self.raw.take() {
            let data = r.bytes();
            let first = crate::codec::xor::decode(&data, 1).next();
            self.sealed.push(Sealed {
                tier: Tier::Raw,
                min_ts: first.map_or(r.last_ts(), |(t, _)| t),
                max_ts: r.last_ts(),
                count: r.count(),
                last_ts: r.last_ts(),
                data,
            });
        }
        self.raw_seg = u64::MAX;
    }

    fn seal_agg(&mut self) {
        if let Some(a) = self.agg.take() {
            let data = a.bytes();
            let first = crate::codec::agg::decode(&data, 1).next();
            self.sealed.push(Sealed {
                tier: Tier::Minute,
                min_ts: first.map_or(a.last().minute_ms, |f| f.minute_ms),
                max_ts: a.last().minute_ms,
                count: a.count(),
                last_ts: a.last().last_ts,
                data,
            });
        }
        if self.minute.is_none() {
            self.agg_seg = u64::MAX;
        }
    }

    /// Seals whatever holds samples from WAL segments before `seg`, the open minute included
    /// (a later part of the same minute becomes a second entry that readers merge).
    pub fn seal_before(&mut self, seg: u64, sizes: ChunkSizes) {
        if self.raw_seg < seg {
            self.seal_raw();
        }
        if self.agg_seg < seg {
            self.close_minute(sizes);
            self.seal_agg();
            self.agg_seg = u64::MAX;
        }
    }

    /// The open chunks as they are now, for a reader (raw, aggregate with the open minute).
    pub fn open_chunks(&self) -> Vec<Sealed> {
        let mut out = Vec::new();
        if let Some(r) = &self.raw {
            let data = r.bytes();
            if let Some((t, _)) = crate::codec::xor::decode(&data, 1).next() {
                out.push(Sealed {
                    tier: Tier::Raw,
                    min_ts: t,
                    max_ts: r.last_ts(),
                    count: r.count(),
                    last_ts: r.last_ts(),
                    data,
                });
            }
        }
        let mut agg = self.agg.clone();
        if let Some(m) = self.minute {
            match &mut agg {
                Some(a) => a.append(m),
                None => agg = Some(AggAppender::new(m)),
            }
        }
        if let Some(a) = agg {
            let data = a.bytes();
            if let Some(f) = crate::codec::agg::decode(&data, 1).next() {
                out.push(Sealed {
                    tier: Tier::Minute,
                    min_ts: f.minute_ms,
                    max_ts: a.last().minute_ms,
                    count: a.count(),
                    last_ts: a.last().last_ts,
                    data,
                });
            }
        }
        out
    }

    /// Bytes held by this head's chunks.
    pub fn bytes(&self) -> usize {
        self.raw.as_ref().map_or(0, XorAppender::size)
            + self.agg.as_ref().map_or(0, |a| a.size())
            + self.sealed.iter().map(|s| s.data.len()).sum::<usize>()
    }

    /// Whether anything is waiting for the database.
    pub fn has_sealed(&self) -> bool {
        !self.sealed.is_empty()
    }

    /// Whether the head holds no sample (everything sealed and written).
    pub fn is_empty(&self) -> bool {
        self.raw.is_none() && self.minute.is_none() && self.agg.is_none() && self.sealed.is_empty()
    }
}

/// One series.
#[derive(Debug)]
pub struct Entry {
    /// Its id.
    pub id: u32,
    /// Metric name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Its head.
    pub head: Mutex<Head>,
}

impl Entry {
    /// The head, even after a panic elsewhere (its state is plain data).
    pub fn head(&self) -> std::sync::MutexGuard<'_, Head> {
        self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every series, by id, fingerprint and metric name. A removed series leaves an empty slot:
/// ids are never reused, so an id a caller still holds cannot name another series.
#[derive(Debug, Default)]
pub struct Table {
    entries: Vec<Option<Arc<Entry>>>,
    live: usize,
    by_fp: HashMap<u64, Vec<u32>>,
    by_metric: HashMap<String, Vec<u32>>,
}

impl Table {
    /// The id of (name, labels), if known.
    pub fn find(&self, name: &str, labels: &Labels) -> Option<u32> {
        self.by_fp
            .get(&fingerprint(name, labels))?
            .iter()
            .copied()
            .find(|id| {
                self.get(*id)
                    .is_some_and(|e| e.name == name && &e.labels == labels)
            })
    }

    /// Adds a series with the next id and returns it.
    pub fn add(&mut self, name: &str, labels: &Labels) -> u32 {
        let id = self.entries.len() as u32;
        self.insert(id, name, labels.clone());
        id
    }

    /// Adds a series with a known id (from the database or the log); `false` when the id is
    /// neither the next one nor an empty slot.
    pub fn insert(&mut self, id: u32, name: &str, labels: Labels) -> bool {
        let slot = id as usize;
        if slot > self.entries.len() || self.entries.get(slot).is_some_and(Option::is_some) {
            return false;
        }
        if slot == self.entries.len() {
            self.entries.push(None);
        }
        self.by_fp
            .entry(fingerprint(name, &labels))
            .or_default()
            .push(id);
        self.by_metric.entry(name.to_owned()).or_default().push(id);
        self.entries[slot] = Some(Arc::new(Entry {
            id,
            name: name.to_owned(),
            labels,
            head: Mutex::new(Head::default()),
        }));
        self.live += 1;
        true
    }

    /// Puts a removed series back in its slot (a late sample for it arrived).
    pub fn restore(&mut self, e: Arc<Entry>) -> bool {
        let slot = e.id as usize;
        if !matches!(self.entries.get(slot), Some(None)) {
            return false;
        }
        self.by_fp
            .entry(fingerprint(&e.name, &e.labels))
            .or_default()
            .push(e.id);
        self.by_metric.entry(e.name.clone()).or_default().push(e.id);
        self.entries[slot] = Some(e);
        self.live += 1;
        true
    }

    /// Leaves ids below `next` that were never defined (removed series) empty.
    pub fn reserve_to(&mut self, next: u32) {
        while (self.entries.len() as u32) < next {
            self.entries.push(None);
        }
    }

    /// Removes a series: its slot stays empty for good.
    pub fn remove(&mut self, id: u32) -> Option<Arc<Entry>> {
        let e = self.entries.get_mut(id as usize)?.take()?;
        self.live -= 1;
        let unlink = |ids: &mut Vec<u32>| {
            ids.retain(|i| *i != id);
            ids.is_empty()
        };
        let fp = fingerprint(&e.name, &e.labels);
        if self.by_fp.get_mut(&fp).is_some_and(unlink) {
            self.by_fp.remove(&fp);
        }
        if self.by_metric.get_mut(&e.name).is_some_and(unlink) {
            self.by_metric.remove(&e.name);
        }
        Some(e)
    }

    /// The series with this id.
    pub fn get(&self, id: u32) -> Option<&Arc<Entry>> {
        self.entries.get(id as usize)?.as_ref()
    }

    /// Ids given out, removed ones included (the next new series gets this id).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Series present.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every series present.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries.iter().flatten()
    }

    /// Every series present with an id of `from` or more.
    pub fn since(&self, from: usize) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries
            .get(from..)
            .unwrap_or_default()
            .iter()
            .flatten()
    }

    /// The slots by id, removed series as `None`.
    pub fn slots(&self) -> &[Option<Arc<Entry>>] {
        &self.entries
    }

    /// The series of a metric.
    pub fn of_metric(&self, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.by_metric
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(*id))
    }

    /// Metric names.
    pub fn metrics(&self) -> impl Iterator<Item = &str> {
        self.by_metric.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: ChunkSizes = ChunkSizes {
        samples: 4,
        minutes: 3,
    };

    #[test]
    fn raw_chunks_seal_at_their_size_and_minutes_close_on_the_next() {
        let mut h = Head::default();
        for i in 0..10 {
            h.append(i * 20_000, i as f64, 1, SIZES);
        }
        let raw: Vec<&Sealed> = h.sealed.iter().filter(|s| s.tier == Tier::Raw).collect();
        assert_eq!(raw.len(), 2);
        assert_eq!((raw[0].min_ts, raw[0].max_ts, raw[0].count), (0, 60_000, 4));
        // 10 samples over 200 s: minutes 0, 1, 2 closed into one sealed chunk of 3.
        let agg: Vec<&Sealed> = h.sealed.iter().filter(|s| s.tier == Tier::Minute).collect();
        assert_eq!(agg.len(), 1);
        let minutes: Vec<Agg> = crate::codec::agg::decode(&agg[0].data, agg[0].count).collect();
        assert_eq!(minutes[0].count, 3);
        assert_eq!((minutes[1].min, minutes[1].max), (3.0, 5.0));
    }

    #[test]
    fn sealing_before_a_segment_takes_the_open_minute_too() {
        let mut h = Head::default();
        h.append(1_000, 1.0, 3, SIZES);
        h.append(2_000, 2.0, 3, SIZES);
        h.seal_before(4, SIZES);
        assert_eq!(h.sealed.len(), 2);
        assert!(h.open_chunks().is_empty());
        h.append(3_000, 3.0, 4, SIZES);
        h.seal_before(4, SIZES);
        assert_eq!(
            h.sealed.len(),
            2,
            "nothing from before segment 4 is left open"
        );
    }

    #[test]
    fn the_table_finds_series_by_labels() {
        let mut t = Table::default();
        let a = t.add("m", &Labels::from_pairs([("host", "a")]));
        let b = t.add("m", &Labels::from_pairs([("host", "b")]));
        assert_eq!(t.find("m", &Labels::from_pairs([("host", "b")])), Some(b));
        assert_eq!(t.find("n", &Labels::from_pairs([("host", "a")])), None);
        assert_eq!(t.of_metric("m").count(), 2);
        assert!(!t.insert(a, "x", Labels::new()), "ids are dense");
    }
}
