//! One dedicated thread per database runs the blocking source, so a hung database (or a
//! connect that ignores every timeout) blocks that thread only: never the async runtime,
//! never another probe. At most one round is in flight: while it is stuck, later rounds are
//! skipped instead of piling up threads.

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::failure::OracleFailure;
use super::rows::Snapshot;
use super::source::{FsMeter, OracleSource, fetch_snapshot};

/// Boxed: a snapshot is a few hundred bytes and moves through a channel once per round.
type Reply = Result<Box<Snapshot>, OracleFailure>;

/// How a round ended, seen from the async side.
#[derive(Debug)]
pub enum Round {
    /// The source answered (rows, or why it could not).
    Done(Reply),
    /// No answer within the round timeout; the thread is still busy with it.
    TimedOut,
    /// The previous round has not returned yet: this one was not started.
    StillStuck,
    /// The worker thread is gone (it panicked): the probe cannot collect any more.
    WorkerGone,
}

pub struct Worker {
    jobs: mpsc::Sender<oneshot::Sender<Reply>>,
    /// The reply of a round that timed out, still awaited.
    pending: Option<oneshot::Receiver<Reply>>,
}

impl Worker {
    /// Starts the thread `oracle-<db>` owning `source`.
    pub fn spawn(
        db: &str,
        mut source: Box<dyn OracleSource>,
        fs_meter: Option<FsMeter>,
    ) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<oneshot::Sender<Reply>>();
        std::thread::Builder::new()
            .name(format!("oracle-{db}"))
            .spawn(move || {
                // Ends when the probe (the only sender) is dropped.
                while let Ok(reply) = rx.recv() {
                    let result = fetch_snapshot(source.as_mut(), fs_meter).map(Box::new);
                    // The probe may have given up on this round; the result is then stale.
                    let _ = reply.send(result);
                }
                source.disconnect();
            })?;
        Ok(Self {
            jobs,
            pending: None,
        })
    }

    /// Runs one round, waiting at most `limit`.
    pub async fn round(&mut self, limit: Duration) -> Round {
        if let Some(previous) = &mut self.pending {
            match previous.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => return Round::StillStuck,
                // Finished late (its result is stale) or the thread died: either way, go on.
                _ => self.pending = None,
            }
        }
        let (tx, mut rx) = oneshot::channel();
        if self.jobs.send(tx).is_err() {
            return Round::WorkerGone;
        }
        match tokio::time::timeout(limit, &mut rx).await {
            Ok(Ok(reply)) => Round::Done(reply),
            Ok(Err(_)) => Round::WorkerGone,
            Err(_) => {
                self.pending = Some(rx);
                Round::TimedOut
            }
        }
    }
}
