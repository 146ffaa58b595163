//! The spool's writer thread: the only owner of the segment log while the agent runs.
//!
//! Group commit: it takes every record queued since its last round, writes them, and makes them
//! durable with one fdatasync. It extends the sequence-number reservation well before the agent
//! reaches it, applies acknowledgements, trims to the limits, and serves replay reads, all in
//! one order, so a read never races a removal.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use patrol_proto::model::now_ms;
use tokio::sync::{Notify, oneshot};

use super::SpoolState;
use super::log::{DropCause, Dropped, Limits, RESERVE_BLOCK, SegmentLog, Stored};
use super::record::RecordHeader;
use crate::drops::{DropReason, Drops};

pub(crate) enum Cmd {
    Append {
        header: RecordHeader,
        frame: Vec<u8>,
    },
    Ack(u64),
    Read {
        after: u64,
        before: u64,
        max: usize,
        reply: oneshot::Sender<Vec<Stored>>,
    },
    Limits(Limits),
    Close(std::sync::mpsc::Sender<()>),
}

/// How often the writer wakes with nothing to do: head flush, age trims, retries.
const TICK: Duration = Duration::from_secs(1);
/// Wait before retrying after a failed write.
const RETRY: Duration = Duration::from_secs(1);

pub(crate) struct Writer {
    log: SegmentLog,
    rx: Receiver<Cmd>,
    state: Arc<SpoolState>,
    drops: Arc<Drops>,
    wake: Arc<Notify>,
    progress: Arc<Notify>,
    queue: VecDeque<(RecordHeader, Vec<u8>)>,
    highest_seen: u64,
    last_appended: u64,
    retry_at: Option<Instant>,
    failures: u64,
    head_flushed: Instant,
}

impl Writer {
    pub(crate) fn new(
        log: SegmentLog,
        rx: Receiver<Cmd>,
        state: Arc<SpoolState>,
        drops: Arc<Drops>,
        wake: [Arc<Notify>; 2],
    ) -> Self {
        let [wake, progress] = wake;
        let last = state.durable_through.load(Ordering::Relaxed);
        Self {
            log,
            rx,
            state,
            drops,
            wake,
            progress,
            queue: VecDeque::new(),
            highest_seen: 0,
            last_appended: last,
            retry_at: None,
            failures: 0,
            head_flushed: Instant::now(),
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            let first = match self.rx.recv_timeout(TICK) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish();
                    return;
                }
            };
            let mut reads = Vec::new();
            let mut close = None;
            let mut cmds: Vec<Cmd> = first.into_iter().collect();
            cmds.extend(self.rx.try_iter());
            for cmd in cmds {
                match cmd {
                    Cmd::Append { header, frame } => {
                        self.highest_seen = self.highest_seen.max(header.seq);
                        self.queue.push_back((header, frame));
                    }
                    Cmd::Ack(seq) => {
                        if let Err(e) = self.log.ack(seq) {
                            self.failed("removing acknowledged segments", &e);
                        }
                    }
                    Cmd::Read {
                        after,
                        before,
                        max,
                        reply,
                    } => reads.push((after, before, max, reply)),
                    Cmd::Limits(l) => self.log.set_limits(l),
                    Cmd::Close(done) => close = Some(done),
                }
            }
            self.reserve();
            self.write_queue();
            self.trim();
            if self.head_flushed.elapsed() >= TICK {
                if let Err(e) = self.log.flush_head() {
                    self.failed("saving the head", &e);
                }
                self.head_flushed = Instant::now();
            }
            for (after, before, max, reply) in reads {
                let _ = reply.send(self.read(after, before, max));
            }
            self.publish();
            if let Some(done) = close {
                self.finish();
                let _ = done.send(());
                return;
            }
        }
    }

    /// Keeps the durable reservation at least half a block ahead of the numbers handed out.
    fn reserve(&mut self) {
        if self.highest_seen + RESERVE_BLOCK / 2 < self.log.reserved() {
            return;
        }
        match self.log.reserve(self.highest_seen + RESERVE_BLOCK / 2) {
            Ok(()) => {
                self.state
                    .reserved
                    .store(self.log.reserved(), Ordering::Relaxed);
                self.wake.notify_one();
            }
            Err(e) => self.failed("reserving sequence numbers", &e),
        }
    }

    fn write_queue(&mut self) {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        self.retry_at = None;
        let skip_through = self.state.memory_dropped_through.load(Ordering::Relaxed);
        let mut wrote = false;
        while let Some((header, frame)) = self.queue.front() {
            if header.seq <= skip_through || header.seq <= self.log.acked() {
                self.queue.pop_front();
                continue;
            }
            if let Err(e) = self.log.append(header, frame) {
                self.failed("writing a batch", &e);
                self.retry_at = Some(Instant::now() + RETRY);
                break;
            }
            self.last_appended = header.seq;
            self.queue.pop_front();
            wrote = true;
        }
        if wrote {
            match self.log.sync() {
                Ok(()) => {
                    self.failures = 0;
                    self.state
                        .durable_through
                        .store(self.last_appended, Ordering::Relaxed);
                }
                Err(e) => {
                    self.failed("syncing the spool", &e);
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
        }
    }

    fn trim(&mut self) {
        match self.log.trim(now_ms()) {
            Ok(dropped) => {
                for d in &dropped {
                    count_trim(&self.drops, d);
                    self.state
                        .dropped_through
                        .fetch_max(d.through_seq, Ordering::Relaxed);
                }
            }
            Err(e) => self.failed("trimming the spool", &e),
        }
    }

    fn read(&mut self, after: u64, before: u64, max: usize) -> Vec<Stored> {
        match self.log.read(after, before, max) {
            Ok((stored, damaged)) => {
                for (file, meta, bad) in damaged {
                    tracing::warn!(file = %file.display(), offset = meta.offset, seq = meta.seq,
                        reason = %bad, "spool: record no longer reads back intact; skipped");
                    self.drops
                        .count(DropReason::SpoolDamaged, u64::from(meta.points), 1);
                }
                stored
            }
            Err(e) => {
                self.failed("reading the spool", &e);
                Vec::new()
            }
        }
    }

    fn publish(&self) {
        let pending = self.log.pending_batches();
        let before = self.state.pending_batches.swap(pending, Ordering::Relaxed);
        self.state.bytes.store(self.log.bytes(), Ordering::Relaxed);
        if before != pending {
            self.progress.notify_waiters();
        }
    }

    fn failed(&mut self, what: &str, e: &dyn std::fmt::Display) {
        self.failures += 1;
        self.state.errors.fetch_add(1, Ordering::Relaxed);
        // First failure, then one in sixty (about a minute while retries run every second).
        if self.failures == 1 || self.failures.is_multiple_of(60) {
            tracing::error!(error = %e, failures = self.failures,
                "spool: {what} failed; batches stay in memory and are retried");
        }
    }

    /// Last writes before the thread ends.
    fn finish(&mut self) {
        self.retry_at = None;
        self.reserve();
        self.write_queue();
        if let Err(e) = self.log.close() {
            self.failed("closing the spool", &e);
        }
        if !self.queue.is_empty() {
            tracing::error!(
                batches = self.queue.len(),
                "spool: batches could not be written before exit"
            );
        }
        self.publish();
    }
}

/// Counts and logs batches a trim removed before they were acknowledged.
pub(crate) fn count_trim(drops: &Drops, d: &Dropped) {
    let reason = match d.cause {
        DropCause::Full => DropReason::SpoolFull,
        DropCause::Expired => DropReason::SpoolExpired,
    };
    drops.count(reason, d.samples, d.batches);
}
