//! A test double of [`OracleSource`] that replays rows recorded in a TOML file
//! (`testdata/*.toml`, one table per query, columns named as Oracle returns them), with
//! failures injected per query. Public so the benchmark and other crates' tests can use it.

use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::failure::OracleFailure;
use super::rows::{
    ActiveCallRow, ArchiveDestRow, BlockingRow, DataguardRow, FileIoRow, InstanceRow,
    InvalidObjectsRow, Part, RecoveryDestRow, RecoveryUsageRow, ResourceLimitRow, RmanRow,
    SchedulerBrokenRow, SchedulerFailureRow, TablespaceRow, TopSqlRow,
};
use super::source::OracleSource;

/// One recorded database: the rows each query returned.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    pub instance: InstanceRow,
    #[serde(default)]
    pub tablespaces: Vec<TablespaceRow>,
    #[serde(default)]
    pub recovery_dest: Vec<RecoveryDestRow>,
    #[serde(default)]
    pub recovery_usage: Vec<RecoveryUsageRow>,
    #[serde(default)]
    pub archive_dests: Vec<ArchiveDestRow>,
    #[serde(default)]
    pub resource_limits: Vec<ResourceLimitRow>,
    pub rman: RmanRow,
    #[serde(default)]
    pub dataguard: Vec<DataguardRow>,
    #[serde(default)]
    pub blocking: BlockingRow,
    #[serde(default)]
    pub active_calls: Vec<ActiveCallRow>,
    #[serde(default)]
    pub top_sql: Vec<TopSqlRow>,
    #[serde(default)]
    pub scheduler_failures: Vec<SchedulerFailureRow>,
    #[serde(default)]
    pub scheduler_broken: SchedulerBrokenRow,
    #[serde(default)]
    pub file_io: Vec<FileIoRow>,
    #[serde(default)]
    pub invalid_objects: Vec<InvalidObjectsRow>,
}

impl Recording {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Which call of the source fails, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Connect,
    Instance,
    Tablespaces,
    RecoveryDest,
    RecoveryUsage,
    ArchiveDests,
    ResourceLimits,
    Rman,
    Dataguard,
    Blocking,
    ActiveCalls,
    TopSql,
    SchedulerFailures,
    SchedulerBroken,
    FileIo,
    InvalidObjects,
}

/// What the double did, shared with the test that owns it after it moved into the worker.
#[derive(Debug, Default)]
pub struct Journal {
    pub calls: Vec<Call>,
    pub connects: usize,
    pub disconnects: usize,
}

/// Replays a [`Recording`].
pub struct RecordedSource {
    recording: Recording,
    failures: Vec<(Call, OracleFailure)>,
    /// Called at the start of every call: a test can block here to play a hung database.
    gate: Option<Box<dyn FnMut(Call) + Send>>,
    connected: bool,
    journal: Arc<Mutex<Journal>>,
}

impl RecordedSource {
    pub fn new(recording: Recording) -> Self {
        Self {
            recording,
            failures: Vec::new(),
            gate: None,
            connected: false,
            journal: Arc::default(),
        }
    }

    /// Makes `call` fail with the error text `text` (classified as the real source would).
    pub fn failing(mut self, call: Call, text: &str) -> Self {
        self.failures.push((call, OracleFailure::from_text(text)));
        self
    }

    /// Runs `gate` before every call (e.g. to block on a channel).
    pub fn gated(mut self, gate: impl FnMut(Call) + Send + 'static) -> Self {
        self.gate = Some(Box::new(gate));
        self
    }

    pub fn journal(&self) -> Arc<Mutex<Journal>> {
        Arc::clone(&self.journal)
    }

    fn enter(&mut self, call: Call) -> Result<(), OracleFailure> {
        if let Ok(mut j) = self.journal.lock() {
            j.calls.push(call);
        }
        if let Some(gate) = &mut self.gate {
            gate(call);
        }
        match self.failures.iter().find(|(c, _)| *c == call) {
            Some((_, f)) => Err(f.clone()),
            None => Ok(()),
        }
    }
}

impl OracleSource for RecordedSource {
    fn connect(&mut self) -> Result<(), OracleFailure> {
        if self.connected {
            return Ok(());
        }
        self.enter(Call::Connect)?;
        if let Ok(mut j) = self.journal.lock() {
            j.connects += 1;
        }
        self.connected = true;
        Ok(())
    }

    fn disconnect(&mut self) {
        if std::mem::take(&mut self.connected)
            && let Ok(mut j) = self.journal.lock()
        {
            j.disconnects += 1;
        }
    }

    fn instance(&mut self) -> Result<InstanceRow, OracleFailure> {
        self.enter(Call::Instance)?;
        Ok(self.recording.instance.clone())
    }

    fn tablespaces(&mut self) -> Part<Vec<TablespaceRow>> {
        self.enter(Call::Tablespaces)?;
        Ok(self.recording.tablespaces.clone())
    }

    fn recovery_dest(&mut self) -> Part<Vec<RecoveryDestRow>> {
        self.enter(Call::RecoveryDest)?;
        Ok(self.recording.recovery_dest.clone())
    }

    fn recovery_usage(&mut self) -> Part<Vec<RecoveryUsageRow>> {
        self.enter(Call::RecoveryUsage)?;
        Ok(self.recording.recovery_usage.clone())
    }

    fn archive_dests(&mut self) -> Part<Vec<ArchiveDestRow>> {
        self.enter(Call::ArchiveDests)?;
        Ok(self.recording.archive_dests.clone())
    }

    fn resource_limits(&mut self) -> Part<Vec<ResourceLimitRow>> {
        self.enter(Call::ResourceLimits)?;
        Ok(self.recording.resource_limits.clone())
    }

    fn rman(&mut self) -> Part<RmanRow> {
        self.enter(Call::Rman)?;
        Ok(self.recording.rman.clone())
    }

    fn dataguard(&mut self) -> Part<Vec<DataguardRow>> {
        self.enter(Call::Dataguard)?;
        Ok(self.recording.dataguard.clone())
    }

    fn blocking(&mut self) -> Part<BlockingRow> {
        self.enter(Call::Blocking)?;
        Ok(self.recording.blocking.clone())
    }

    fn active_calls(&mut self) -> Part<Vec<ActiveCallRow>> {
        self.enter(Call::ActiveCalls)?;
        Ok(self.recording.active_calls.clone())
    }

    fn top_sql(&mut self) -> Part<Vec<TopSqlRow>> {
        self.enter(Call::TopSql)?;
        Ok(self.recording.top_sql.clone())
    }

    fn scheduler_failures(&mut self) -> Part<Vec<SchedulerFailureRow>> {
        self.enter(Call::SchedulerFailures)?;
        Ok(self.recording.scheduler_failures.clone())
    }

    fn scheduler_broken(&mut self) -> Part<SchedulerBrokenRow> {
        self.enter(Call::SchedulerBroken)?;
        Ok(self.recording.scheduler_broken.clone())
    }

    fn file_io(&mut self) -> Part<Vec<FileIoRow>> {
        self.enter(Call::FileIo)?;
        Ok(self.recording.file_io.clone())
    }

    fn invalid_objects(&mut self) -> Part<Vec<InvalidObjectsRow>> {
        self.enter(Call::InvalidObjects)?;
        Ok(self.recording.invalid_objects.clone())
    }
}

/// The recordings checked in under `testdata/`, by file name.
pub const PROD_FRA: &str = include_str!("testdata/prod_fra.toml");
pub const PLAIN_DEST: &str = include_str!("testdata/plain_dest.toml");
pub const STANDBY_MOUNTED: &str = include_str!("testdata/standby_mounted.toml");
