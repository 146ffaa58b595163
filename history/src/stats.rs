//! What the history counts, read by the collector's `/metrics` (`patrol_history_*`).

use std::sync::atomic::{AtomicU64, Ordering};

/// One counter or gauge.
#[derive(Debug, Default)]
pub struct Num(AtomicU64);

impl Num {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Sets the value.
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every figure the history keeps.
#[derive(Debug, Default)]
pub struct Stats {
    /// Samples written to the log.
    pub samples_appended: Num,
    /// Samples dropped because their series already had one at that time or later (a resent
    /// batch, an agent clock going back).
    pub samples_out_of_order: Num,
    /// Log groups made durable.
    pub wal_syncs: Num,
    /// Log bytes written.
    pub wal_bytes_written: Num,
    /// Log write or sync failures (the requests in the group were refused).
    pub wal_errors: Num,
    /// Damaged log records skipped (bad checksum) or log bytes cut (bad framing), at start-up.
    pub wal_records_damaged: Num,
    /// Bytes of damaged log tails dropped.
    pub wal_bytes_damaged: Num,
    /// Chunks written to the database.
    pub chunks_flushed: Num,
    /// Failed chunk writes (the chunks stay in memory and are tried again).
    pub flush_errors: Num,
    /// Chunks found undecodable when read (skipped).
    pub chunks_corrupt: Num,
    /// Raw samples removed by retention.
    pub retention_raw_samples: Num,
    /// Aggregate minutes removed by retention.
    pub retention_minutes: Num,
    /// Raw samples removed to stay under the disk cap.
    pub cap_raw_samples: Num,
    /// Aggregate minutes removed to stay under the disk cap.
    pub cap_minutes: Num,
    /// Checkpoints done.
    pub checkpoints: Num,
    /// Series known.
    pub series: Num,
    /// Series removed because retention or the disk cap took all their data and no sample came
    /// for longer than the raw retention.
    pub series_removed: Num,
    /// Samples not kept because their series had been removed for a whole checkpoint
    /// interval (a sender that did not look its series ids up again after a removal).
    pub samples_removed_series: Num,
    /// Bytes the series' in-memory chunks hold (at the last checkpoint or flush).
    pub head_bytes: Num,
    /// Disk used: log plus chunk database (at the last checkpoint).
    pub disk_bytes: Num,
    /// Raw samples in the chunk database (at the last checkpoint).
    pub stored_raw_samples: Num,
    /// Bytes of raw chunks in the chunk database (at the last checkpoint).
    pub stored_raw_bytes: Num,
    /// Queries refused for a limit.
    pub queries_refused: Num,
}
