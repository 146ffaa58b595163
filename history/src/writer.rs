//! The log writer thread: drains every queued request into one group, writes the new series'
//! definitions and the group's samples, makes them durable with one sync, applies them to the
//! series' heads, then answers every request of the group.

use std::sync::{Arc, PoisonError};

use tokio::sync::mpsc;

use crate::maintain::Wake;
use crate::wal::record::{self, SeriesDef};
use crate::wal::segment::{self, MAX_RECORD};
use crate::wal::{Appender, Pos};
use crate::{Appended, HistoryError, Request, Sample, Shared};

/// Most requests folded into one group.
const GROUP_MAX: usize = 256;
/// Samples per log record (a record stays far below [`MAX_RECORD`]).
const RECORD_SAMPLES: usize = 100_000;

pub(crate) fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Request>,
    mut log: Appender,
    mut last_ts: Vec<i64>,
    wake: std::sync::mpsc::Sender<Wake>,
) {
    let mut framed = Vec::new();
    let mut payload = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        framed.clear();
        let defs = take_pending(&shared);
        for d in &defs {
            payload.clear();
            record::encode_series(&mut payload, d);
            segment::frame(&mut framed, &payload);
        }
        // Decide what each append keeps, against the newest time of each series so far;
        // `last_ts` moves forward as decided, and `undo` puts it back if the write fails.
        let mut undo: Vec<(u32, i64)> = Vec::new();
        let mut kept: Vec<Vec<Sample>> = Vec::with_capacity(group.len());
        let mut counts: Vec<Appended> = Vec::with_capacity(group.len());
        for req in &group {
            let mut k = Vec::new();
            let mut c = Appended::default();
            if let Request::Append { samples, .. } = req {
                for s in samples {
                    let i = s.series as usize;
                    if i >= last_ts.len() {
                        last_ts.resize(i + 1, i64::MIN);
                    }
                    let before = last_ts[i];
                    if s.ts > before {
                        undo.push((s.series, before));
                        last_ts[i] = s.ts;
                        k.push(*s);
                        c.kept += 1;
                    } else {
                        c.older += 1;
                    }
                }
            }
            kept.push(k);
            counts.push(c);
        }
        let all: Vec<record::Sample> = kept
            .iter()
            .flatten()
            .map(|s| record::Sample {
                id: s.series,
                ts: s.ts,
                value: s.value,
            })
            .collect();
        for part in all.chunks(RECORD_SAMPLES) {
            payload.clear();
            record::encode_samples(&mut payload, part);
            debug_assert!(payload.len() <= MAX_RECORD);
            segment::frame(&mut framed, &payload);
        }
        // Marks after the samples: a mark in the log means its batch's samples are too.
        let marks: Vec<&record::Mark> = group
            .iter()
            .filter_map(|r| match r {
                Request::Append { mark: Some(m), .. } => Some(m),
                _ => None,
            })
            .collect();
        for m in &marks {
            payload.clear();
            record::encode_mark(&mut payload, m);
            segment::frame(&mut framed, &payload);
        }
        let written = log.write(&framed);
        let seg = log.index();
        match written {
            Ok(pos) => {
                shared.stats.wal_syncs.add(1);
                shared.stats.wal_bytes_written.add(framed.len() as u64);
                let sealed = apply(&shared, &kept, seg);
                {
                    let mut known = shared.marks.lock().unwrap_or_else(PoisonError::into_inner);
                    for m in &marks {
                        crate::note_mark(&mut known, m);
                    }
                }
                shared.durable.send_replace(pos);
                if sealed {
                    let _ = wake.send(Wake::Flush);
                }
                let appended: usize = counts.iter().map(|c| c.kept).sum();
                let older: usize = counts.iter().map(|c| c.older).sum();
                shared.stats.samples_appended.add(appended as u64);
                shared.stats.samples_out_of_order.add(older as u64);
                if log.len() >= shared.cfg.segment_size.as_u64() {
                    rotate(&shared, &mut log);
                }
                answer(&shared, group, counts, &mut log);
            }
            Err(e) => {
                // Newest first, so each series ends at the time it had before the group.
                for (id, ts) in undo.into_iter().rev() {
                    last_ts[id as usize] = ts;
                }
                shared.stats.wal_errors.add(1);
                tracing::error!(error = %e, file = %segment::path(&shared.wal_dir, seg).display(),
                    "history log write failed; the group's batches are not acknowledged");
                // The series definitions go out with the next group.
                let mut pending = shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let ids: Vec<u32> = defs.iter().map(|d| d.id).collect();
                pending.splice(0..0, ids);
                drop(pending);
                // A half-written segment must not be appended to: start a new one.
                rotate(&shared, &mut log);
                for req in group {
                    match req {
                        Request::Append { reply, .. } => {
                            let _ = reply.send(Err(HistoryError::Write(e.to_string())));
                        }
                        Request::Rotate { reply } => {
                            let _ = reply.send(Err(HistoryError::Write(e.to_string())));
                        }
                    }
                }
            }
        }
    }
}

fn take_pending(shared: &Shared) -> Vec<SeriesDef> {
    let ids = std::mem::take(
        &mut *shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    if ids.is_empty() {
        return Vec::new();
    }
    let table = shared.table();
    ids.into_iter()
        .filter_map(|id| table.get(id))
        .map(|e| SeriesDef {
            id: e.id,
            name: e.name.clone(),
            labels: e.labels.clone(),
        })
        .collect()
}

/// Brings back removed series a sample arrived for, from the last removal pass's limbo;
/// counts samples of series removed before that.
fn revive(shared: &Shared, kept: &[Vec<Sample>]) {
    let missing: Vec<u32> = {
        let table = shared.table();
        kept.iter()
            .flatten()
            .filter(|s| table.get(s.series).is_none())
            .map(|s| s.series)
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let mut limbo = shared.limbo.lock().unwrap_or_else(PoisonError::into_inner);
    let mut table = shared.table.write().unwrap_or_else(PoisonError::into_inner);
    let mut lost = 0u64;
    for id in missing {
        if table.get(id).is_some() {
            continue;
        }
        match limbo.iter().position(|e| e.id == id) {
            Some(i) => {
                table.restore(limbo.swap_remove(i));
            }
            None => lost += 1,
        }
    }
    shared.stats.series.set(table.live() as u64);
    if lost > 0 {
        shared.stats.samples_removed_series.add(lost);
        tracing::warn!(
            samples = lost,
            "history: samples for series removed a checkpoint ago were not kept (their sender did not look the series up again)"
        );
    }
}

/// Applies kept samples to the heads; whether any chunk was sealed.
fn apply(shared: &Shared, kept: &[Vec<Sample>], seg: u64) -> bool {
    revive(shared, kept);
    let sizes = shared.sizes();
    let table = shared.table();
    let mut sealed = false;
    for s in kept.iter().flatten() {
        if let Some(e) = table.get(s.series) {
            let mut head = e.head();
            head.append(s.ts, s.value, seg, sizes);
            sealed |= head.has_sealed();
        }
    }
    sealed
}

fn rotate(shared: &Shared, log: &mut Appender) {
    match log.rotate() {
        Ok(index) => shared.durable.send_replace(Pos {
            segment: index,
            offset: 0,
        }),
        Err(e) => {
            shared.stats.wal_errors.add(1);
            tracing::error!(error = %e, "history log: cannot start a new segment");
            Pos::default()
        }
    };
}

fn answer(shared: &Shared, group: Vec<Request>, counts: Vec<Appended>, log: &mut Appender) {
    for (req, c) in group.into_iter().zip(counts) {
        match req {
            Request::Append { reply, .. } => {
                let _ = reply.send(Ok(c));
            }
            Request::Rotate { reply } => {
                // Everything before this request is applied: the checkpoint may seal it.
                if !log.is_empty() {
                    rotate(shared, log);
                }
                let _ = reply.send(Ok(log.index()));
            }
        }
    }
}
