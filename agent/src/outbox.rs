//! Numbered batches kept until the collector acknowledges them.
//!
//! Batches hold points by agent-wide series id; label sets are attached at send time, once per
//! stream (see [`crate::stream`]). The backlog is bounded in points: past the bound the oldest
//! batches are dropped and counted, so a long collector outage costs memory up to a known limit
//! and never the agent. A disk spool will sit behind the same methods.

use std::collections::{HashMap, VecDeque};

use patrol_proto::{Labels, Sample};

/// A series as the agent knows it: metric name and the probe's own labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub name: String,
    pub labels: Labels,
}

/// Gives each distinct series a small id for the agent's whole life.
#[derive(Debug, Default)]
pub struct Interner {
    // Nested by name so a lookup borrows the sample's name and labels and allocates nothing.
    ids: HashMap<String, HashMap<Labels, u32>>,
    keys: Vec<SeriesKey>,
}

impl Interner {
    pub fn intern(&mut self, name: &str, labels: &Labels) -> u32 {
        if let Some(id) = self.ids.get(name).and_then(|m| m.get(labels)) {
            return *id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(SeriesKey {
            name: name.to_owned(),
            labels: labels.clone(),
        });
        self.ids
            .entry(name.to_owned())
            .or_default()
            .insert(labels.clone(), id);
        id
    }

    pub fn key(&self, id: u32) -> Option<&SeriesKey> {
        self.keys.get(id as usize)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub series: u32,
    pub value: f64,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub seq: u64,
    pub points: Vec<Point>,
}

/// Unacknowledged batches, oldest first.
#[derive(Debug)]
pub struct Outbox {
    interner: Interner,
    batches: VecDeque<Batch>,
    next_seq: u64,
    pending_points: usize,
    max_points: usize,
    max_pending_points: usize,
    dropped_points: u64,
}

impl Outbox {
    pub fn new(max_points: usize, max_pending_points: usize) -> Self {
        Self {
            interner: Interner::default(),
            batches: VecDeque::new(),
            next_seq: 1,
            pending_points: 0,
            max_points: max_points.max(1),
            max_pending_points,
            dropped_points: 0,
        }
    }

    /// Appends one probe round as one or more numbered batches.
    pub fn push(&mut self, samples: &[Sample]) {
        for chunk in samples.chunks(self.max_points) {
            let points = chunk
                .iter()
                .map(|s| Point {
                    series: self.interner.intern(&s.name, &s.labels),
                    value: s.value,
                    timestamp_ms: s.timestamp_ms,
                })
                .collect::<Vec<_>>();
            self.pending_points += points.len();
            self.batches.push_back(Batch {
                seq: self.next_seq,
                points,
            });
            self.next_seq += 1;
        }
        while self.pending_points > self.max_pending_points {
            match self.batches.pop_front() {
                Some(b) => {
                    self.pending_points -= b.points.len();
                    self.dropped_points += b.points.len() as u64;
                }
                None => break,
            }
        }
    }

    /// Forgets every batch up to and including `seq` (acks are cumulative).
    pub fn ack(&mut self, seq: u64) -> usize {
        let mut n = 0;
        while let Some(front) = self.batches.front() {
            if front.seq > seq {
                break;
            }
            self.pending_points -= front.points.len();
            self.batches.pop_front();
            n += 1;
        }
        n
    }

    /// Batches with a sequence number above `after`, oldest first.
    pub fn after(&self, after: u64) -> impl Iterator<Item = &Batch> {
        // Sequence numbers in the deque are contiguous (pushed in order, dropped from the
        // front), so the first one to send is found by arithmetic, not by a scan.
        let start = self
            .batches
            .front()
            .map(|f| (after + 1).saturating_sub(f.seq) as usize)
            .unwrap_or(0)
            .min(self.batches.len());
        self.batches.range(start..)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    pub fn pending_batches(&self) -> usize {
        self.batches.len()
    }

    pub fn pending_points(&self) -> usize {
        self.pending_points
    }

    pub fn dropped_points(&self) -> u64 {
        self.dropped_points
    }

    /// Sequence number the next batch will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample::new("m", Labels::from_pairs([("i", i.to_string())]), i as f64, 1))
            .collect()
    }

    #[test]
    fn rounds_are_split_and_numbered() {
        let mut o = Outbox::new(2, 100);
        o.push(&samples(5));
        let seqs: Vec<_> = o.after(0).map(|b| (b.seq, b.points.len())).collect();
        assert_eq!(seqs, vec![(1, 2), (2, 2), (3, 1)]);
        assert_eq!(o.pending_points(), 5);
    }

    #[test]
    fn acks_are_cumulative() {
        let mut o = Outbox::new(10, 100);
        for _ in 0..4 {
            o.push(&samples(1));
        }
        assert_eq!(o.ack(2), 2);
        assert_eq!(o.after(0).map(|b| b.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(o.ack(2), 0);
        assert_eq!(o.pending_points(), 2);
    }

    #[test]
    fn backlog_is_bounded_by_dropping_oldest() {
        let mut o = Outbox::new(10, 5);
        o.push(&samples(3));
        o.push(&samples(3));
        assert_eq!(o.pending_points(), 3);
        assert_eq!(o.dropped_points(), 3);
        assert_eq!(o.after(0).next().map(|b| b.seq), Some(2));
    }

    #[test]
    fn same_series_same_id() {
        let mut o = Outbox::new(10, 100);
        o.push(&samples(2));
        o.push(&samples(2));
        assert_eq!(o.interner().len(), 2);
    }
}

#[cfg(test)]
mod model_tests {
    //! The outbox against a plain model: any interleaving of rounds and (possibly stale or
    //! future) acks keeps exactly the unacknowledged batches, in order, within the bound.

    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Ack(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..12).prop_map(Op::Push),
            1 => (0u64..40).prop_map(Op::Ack),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_the_model(ops in proptest::collection::vec(op(), 1..80),
                                  max_points in 1usize..6, max_pending in 6usize..30) {
            let mut outbox = Outbox::new(max_points, max_pending);
            // Model: (seq, points) of kept batches; dropped point count.
            let mut model: VecDeque<(u64, usize)> = VecDeque::new();
            let mut next = 1u64;
            let mut dropped = 0u64;
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let samples: Vec<Sample> = (0..n)
                            .map(|i| Sample::new("m", Labels::from_pairs([("i", i.to_string())]), 1.0, 1))
                            .collect();
                        outbox.push(&samples);
                        let mut left = n;
                        while left > 0 {
                            let take = left.min(max_points);
                            model.push_back((next, take));
                            next += 1;
                            left -= take;
                        }
                        while model.iter().map(|b| b.1).sum::<usize>() > max_pending {
                            if let Some((_, p)) = model.pop_front() {
                                dropped += p as u64;
                            }
                        }
                    }
                    Op::Ack(seq) => {
                        outbox.ack(seq);
                        while model.front().is_some_and(|b| b.0 <= seq) {
                            model.pop_front();
                        }
                    }
                }
                let kept: Vec<(u64, usize)> =
                    outbox.after(0).map(|b| (b.seq, b.points.len())).collect();
                prop_assert_eq!(&kept, &model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(outbox.pending_points(), model.iter().map(|b| b.1).sum::<usize>());
                prop_assert!(outbox.pending_points() <= max_pending);
                prop_assert_eq!(outbox.dropped_points(), dropped);
                prop_assert_eq!(outbox.next_seq(), next);
                // `after(s)` is exactly the kept batches above s, whatever s is.
                for s in [0, next / 2, next.saturating_sub(1), next + 3] {
                    let above: Vec<u64> = outbox.after(s).map(|b| b.seq).collect();
                    let want: Vec<u64> = model.iter().map(|b| b.0).filter(|q| *q > s).collect();
                    prop_assert_eq!(above, want);
                }
            }
        }
    }
}
