//! The maintenance thread: owns the chunk database's write connection. It writes sealed chunks
//! (when the writer says some were sealed, and every `flush_interval`), and every
//! `checkpoint_interval` it checkpoints: seals whatever holds samples of older log segments,
//! writes them and the series definitions, removes the segments nothing needs any more, and
//! applies retention and the disk cap.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::chunks::{self, Stored};
use crate::series::Tier;
use crate::wal::{self, segment};
use crate::{HistoryError, Request, Shared};

/// What wakes the thread.
pub(crate) enum Wake {
    /// The writer sealed chunks.
    Flush,
    /// Checkpoint now and say when done.
    Checkpoint(Sender<Result<(), HistoryError>>),
    /// The history is closing.
    Stop,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    mut db: Connection,
    requests: mpsc::Sender<Request>,
    wake: Receiver<Wake>,
) {
    let mut m = Maintainer {
        shared,
        persisted_series: 0,
        requests,
    };
    if let Ok(n) = db.query_row("SELECT COALESCE(MAX(id) + 1, 0) FROM series", [], |r| {
        r.get::<_, i64>(0)
    }) {
        m.persisted_series = n as usize;
    }
    let mut last_checkpoint = Instant::now();
    loop {
        let interval = m.shared.cfg.flush_interval;
        match wake.recv_timeout(interval) {
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => {
                // Sealed chunks go to the database; the open ones are rebuilt from the log.
                m.flush(&mut db);
                return;
            }
            Ok(Wake::Checkpoint(done)) => {
                let r = m.checkpoint(&mut db);
                last_checkpoint = Instant::now();
                let _ = done.send(r);
            }
            Ok(Wake::Flush) | Err(RecvTimeoutError::Timeout) => m.flush(&mut db),
        }
        if last_checkpoint.elapsed() >= m.shared.cfg.checkpoint_interval {
            if let Err(e) = m.checkpoint(&mut db) {
                tracing::error!(error = %e, "history checkpoint failed; it is tried again");
            }
            last_checkpoint = Instant::now();
        }
    }
}

struct Maintainer {
    shared: Arc<Shared>,
    persisted_series: usize,
    requests: mpsc::Sender<Request>,
}

impl Maintainer {
    /// Writes every sealed chunk; on failure they stay in memory for the next try.
    fn flush(&mut self, db: &mut Connection) {
        let mut batch: Vec<(u32, Stored)> = Vec::new();
        let mut taken: Vec<(u32, usize)> = Vec::new();
        {
            let table = self.shared.table();
            for e in table.all() {
                let head = e.head();
                if head.has_sealed() {
                    taken.push((e.id, head.sealed.len()));
                    batch.extend(head.sealed.iter().cloned().map(|s| (e.id, Stored::from(s))));
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        match chunks::insert(db, &batch) {
            Ok(()) => {
                self.shared.stats.chunks_flushed.add(batch.len() as u64);
                let table = self.shared.table();
                for (id, n) in taken {
                    if let Some(e) = table.get(id) {
                        // Only what was written: more may have been sealed meanwhile.
                        let mut head = e.head();
                        let n = n.min(head.sealed.len());
                        head.sealed.drain(..n);
                        if head.sealed.is_empty() {
                            // An idle series keeps no buffer from its last chunks.
                            head.sealed = Vec::new();
                        }
                    }
                }
            }
            Err(e) => {
                self.shared.stats.flush_errors.add(1);
                tracing::error!(error = %e, chunks = batch.len(),
                    "history: cannot write chunks to the database; kept in memory and tried again");
            }
        }
    }

    fn checkpoint(&mut self, db: &mut Connection) -> Result<(), HistoryError> {
        let started = Instant::now();
        // A new segment, started after every earlier request was applied to the heads.
        let (reply, rx) = oneshot::channel();
        self.requests
            .blocking_send(Request::Rotate { reply })
            .map_err(|_| HistoryError::Closed)?;
        let cut = rx.blocking_recv().map_err(|_| HistoryError::Closed)??;
        // The marks of the segments about to go, kept where the log no longer has them.
        let marks = crate::open::marks_text(
            &self
                .shared
                .marks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        chunks::set_meta(db, crate::open::MARKS_META, &marks)?;
        let sizes = self.shared.sizes();
        let (defs, upto) = {
            let table = self.shared.table();
            for e in table.all() {
                e.head().seal_before(cut, sizes);
            }
            let defs = table
                .since(self.persisted_series)
                .map(|e| chunks::def(e.id, &e.name, &e.labels))
                .collect::<Vec<_>>();
            (defs, table.len())
        };
        chunks::insert_series(db, &defs)?;
        self.persisted_series = upto;
        self.flush(db);
        let unflushed = self.shared.table().all().any(|e| e.head().has_sealed());
        if unflushed {
            return Err(HistoryError::Write(
                "sealed chunks could not be written; the log is kept".into(),
            ));
        }
        self.remove_segments(cut);
        self.retention(db)?;
        self.cap(db)?;
        self.remove_series(db)?;
        self.figures(db)?;
        self.shared.stats.checkpoints.add(1);
        tracing::debug!(took = ?started.elapsed(), cut, "history checkpoint");
        Ok(())
    }

    /// Removes segments before `cut` that no remote-write endpoint still needs; past the disk
    /// budget for the log (a quarter of the cap), those too, and the endpoints are told.
    fn remove_segments(&self, cut: u64) {
        let dir = &self.shared.wal_dir;
        let floor = self
            .shared
            .floors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .copied()
            .min()
            .unwrap_or(u64::MAX);
        let budget = self.shared.cfg.max_disk.as_u64() / 4;
        let segments = segment::list(dir).unwrap_or_default();
        let mut kept_bytes: u64 = segments
            .iter()
            .filter(|i| **i < cut)
            .filter_map(|i| std::fs::metadata(segment::path(dir, *i)).ok())
            .map(|m| m.len())
            .sum();
        for i in segments.into_iter().filter(|i| *i < cut) {
            let path = segment::path(dir, i);
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            if i >= floor && kept_bytes <= budget {
                break;
            }
            if i >= floor {
                tracing::warn!(
                    segment = i,
                    "history: a remote-write endpoint is too far behind; its oldest log segment is removed to stay within the disk cap"
                );
            }
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::error!(error = %e, file = %path.display(), "history: cannot remove a log segment");
                break;
            }
            kept_bytes = kept_bytes.saturating_sub(len);
        }
    }

    fn retention(&self, db: &Connection) -> Result<(), HistoryError> {
        let now = patrol_proto::model::now_ms();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let raw = chunks::delete_before(
            db,
            Tier::Raw,
            now.saturating_sub(ms(self.shared.cfg.raw_retention)),
        )?;
        let agg = chunks::delete_before(
            db,
            Tier::Minute,
            now.saturating_sub(ms(self.shared.cfg.aggregate_retention)),
        )?;
        self.shared.stats.retention_raw_samples.add(raw.points);
        self.shared.stats.retention_minutes.add(agg.points);
        if raw.chunks + agg.chunks > 0 {
            tracing::info!(
                raw_samples = raw.points,
                minutes = agg.points,
                "history: retention removed old chunks"
            );
            chunks::vacuum(db)?;
        }
        Ok(())
    }

    /// Keeps log plus database under `max_disk`: the oldest raw chunks go first (their minutes
    /// stay in the aggregate tier), then the oldest aggregates.
    fn cap(&self, db: &Connection) -> Result<(), HistoryError> {
        let cap = self.shared.cfg.max_disk.as_u64();
        for _ in 0..10_000 {
            let used =
                wal::disk_bytes(&self.shared.wal_dir) + chunks::size(db, &self.shared.db_path)?;
            if used <= cap {
                return Ok(());
            }
            let (tier, oldest) = match chunks::oldest_end(db, Tier::Raw)? {
                Some(t) => (Tier::Raw, t),
                None => match chunks::oldest_end(db, Tier::Minute)? {
                    Some(t) => (Tier::Minute, t),
                    None => return Ok(()),
                },
            };
            // An hour of the oldest data at a time.
            let removed = chunks::delete_before(db, tier, oldest.saturating_add(3_600_000))?;
            match tier {
                Tier::Raw => self.shared.stats.cap_raw_samples.add(removed.points),
                Tier::Minute => self.shared.stats.cap_minutes.add(removed.points),
            }
            tracing::warn!(
                ?tier,
                points = removed.points,
                used,
                cap,
                "history: over the disk cap; the oldest chunks were removed"
            );
            chunks::vacuum(db)?;
        }
        Ok(())
    }

    /// Removes series retention or the cap left without data: no chunk stored, nothing in
    /// memory, and no sample for longer than the raw retention. Removed series wait in limbo until the next pass, so a sample already on
    /// its way brings its series back; then their definitions leave the database. Their ids
    /// stay taken.
    fn remove_series(&mut self, db: &mut Connection) -> Result<(), HistoryError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let idle_before =
            patrol_proto::model::now_ms().saturating_sub(ms(self.shared.cfg.raw_retention));
        let stored = chunks::series_with_chunks(db)?;
        let gone = |e: &crate::series::Entry| {
            let h = e.head();
            !stored.contains(&e.id) && h.last_ts < idle_before && h.is_empty()
        };
        let candidates: Vec<u32> = self
            .shared
            .table()
            .all()
            .filter(|e| gone(e))
            .map(|e| e.id)
            .collect();
        let mut limbo = self
            .shared
            .limbo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (expired, next) = {
            let mut table = self
                .shared
                .table
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Those a late sample brought back are in the table again.
            let expired: Vec<u32> = limbo
                .drain(..)
                .filter(|e| table.get(e.id).is_none())
                .map(|e| e.id)
                .collect();
            for id in candidates {
                // Checked again under the write lock: no sample is being applied now.
                if table.get(id).is_some_and(|e| gone(e))
                    && let Some(e) = table.remove(id)
                {
                    limbo.push(e);
                }
            }
            self.shared.stats.series.set(table.live() as u64);
            (expired, table.len())
        };
        let removed = limbo.len();
        drop(limbo);
        if removed > 0 {
            self.shared
                .removals
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            self.shared.stats.series_removed.add(removed as u64);
            tracing::info!(
                series = removed,
                "history: series without data for longer than the retention removed"
            );
        }
        if removed > 0 || !expired.is_empty() {
            chunks::remove_series(db, &expired, next)?;
        }
        Ok(())
    }

    fn figures(&self, db: &Connection) -> Result<(), HistoryError> {
        let disk = wal::disk_bytes(&self.shared.wal_dir) + chunks::size(db, &self.shared.db_path)?;
        self.shared.stats.disk_bytes.set(disk);
        let totals = chunks::totals(db)?;
        self.shared.stats.stored_raw_samples.set(totals[0].1);
        self.shared.stats.stored_raw_bytes.set(totals[0].2);
        let table = self.shared.table();
        let head: usize = table.all().map(|e| e.head().bytes()).sum();
        self.shared.stats.head_bytes.set(head as u64);
        Ok(())
    }
}
