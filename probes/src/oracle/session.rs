//! The real [`OracleSource`]: the `oracle` crate (ODPI-C compiled in, the Oracle client
//! library `libclntsh.so` loaded at the first connect). Blocking; runs on the worker thread.
//!
//! Only the row → struct reads here are untested offline (they need a live database); they
//! read columns by the names `sql.rs` gives them, which a test there keeps in step.

use std::path::PathBuf;
use std::time::Duration;

use oracle::{Connection, Connector, InitParams, Row};

use super::failure::OracleFailure;
use super::rows::{
    ActiveCallRow, ArchiveDestRow, BlockingRow, DataguardRow, FileIoRow, InstanceRow,
    InvalidObjectsRow, Part, RecoveryDestRow, RecoveryUsageRow, ResourceLimitRow, RmanRow,
    SchedulerBrokenRow, SchedulerFailureRow, TablespaceRow, TopSqlRow,
};
use super::source::OracleSource;
use super::sql;
use crate::secret::Secret;

/// Most rows read from one query: a database has far fewer tablespaces or destinations, and
/// a bound keeps a runaway result from eating the agent's memory.
const MAX_ROWS: usize = 10_000;

/// How to reach one database.
#[derive(Debug, Clone)]
pub struct SessionParams {
    pub connect: String,
    pub user: String,
    pub password: Secret,
    /// `Connection::set_call_timeout`: bounds every round trip (needs client ≥ 18.1).
    pub call_timeout: Duration,
    pub client_lib_dir: Option<PathBuf>,
    /// Connect AS SYSDG: the only way a non-SYS user reaches a MOUNTED physical standby.
    pub sysdg: bool,
}

/// A session opened on demand and kept across rounds.
pub struct Session {
    params: SessionParams,
    conn: Option<Connection>,
}

impl Session {
    pub fn new(params: SessionParams) -> Self {
        Self { params, conn: None }
    }

    fn conn(&self) -> Result<&Connection, OracleFailure> {
        self.conn.as_ref().ok_or_else(|| OracleFailure {
            kind: super::failure::FailureKind::ConnectionLost,
            message: "not connected".into(),
        })
    }

    fn rows<T>(
        &mut self,
        sql: &str,
        read: impl Fn(&Row) -> oracle::Result<T>,
    ) -> Result<Vec<T>, OracleFailure> {
        let rows = self.conn()?.query(sql, &[])?;
        let mut out = Vec::new();
        for row in rows.take(MAX_ROWS) {
            out.push(read(&row?)?);
        }
        Ok(out)
    }
}

/// Loads the client library once per process; later calls are no-ops. A failed load is not
/// remembered by the crate, so installing Instant Client later is picked up next round.
fn init_client(dir: Option<&PathBuf>) -> Result<(), OracleFailure> {
    let mut params = InitParams::new();
    if let Some(dir) = dir {
        params.oracle_client_lib_dir(dir.as_path())?;
    }
    params.init()?;
    Ok(())
}

impl OracleSource for Session {
    fn connect(&mut self) -> Result<(), OracleFailure> {
        if self.conn.is_some() {
            return Ok(());
        }
        init_client(self.params.client_lib_dir.as_ref())?;
        let password = self
            .params
            .password
            .read()
            .map_err(|message| OracleFailure {
                kind: super::failure::FailureKind::BadCredentials,
                message,
            })?;
        let mut connector = Connector::new(
            self.params.user.as_str(),
            password.as_str(),
            self.params.connect.as_str(),
        );
        if self.params.sysdg {
            connector.privilege(oracle::Privilege::Sysdg);
        }
        let conn = connector.connect()?;
        conn.set_call_timeout(Some(self.params.call_timeout))?;
        self.conn = Some(conn);
        Ok(())
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }

    fn instance(&mut self) -> Result<InstanceRow, OracleFailure> {
        let row = self.conn()?.query_row(sql::INSTANCE, &[])?;
        Ok(InstanceRow {
            instance_name: row.get("INSTANCE_NAME")?,
            status: row.get("STATUS")?,
            log_mode: row.get("LOG_MODE")?,
            open_mode: row.get("OPEN_MODE")?,
            database_role: row.get("DATABASE_ROLE")?,
        })
    }

    fn tablespaces(&mut self) -> Part<Vec<TablespaceRow>> {
        self.rows(sql::TABLESPACES, |r| {
            Ok(TablespaceRow {
                tablespace_name: r.get("TABLESPACE_NAME")?,
                contents: r.get("CONTENTS")?,
                bytes: r.get("BYTES")?,
                max_bytes: r.get("MAX_BYTES")?,
                used_bytes: r.get("USED_BYTES")?,
            })
        })
    }

    fn recovery_dest(&mut self) -> Part<Vec<RecoveryDestRow>> {
        self.rows(sql::RECOVERY_FILE_DEST, |r| {
            Ok(RecoveryDestRow {
                name: r.get("NAME")?,
                space_limit: r.get::<_, Option<f64>>("SPACE_LIMIT")?.unwrap_or(0.0),
                space_used: r.get::<_, Option<f64>>("SPACE_USED")?.unwrap_or(0.0),
                space_reclaimable: r.get::<_, Option<f64>>("SPACE_RECLAIMABLE")?.unwrap_or(0.0),
                number_of_files: r.get::<_, Option<f64>>("NUMBER_OF_FILES")?.unwrap_or(0.0),
            })
        })
    }

    fn recovery_usage(&mut self) -> Part<Vec<RecoveryUsageRow>> {
        let read = |r: &Row| {
            Ok(RecoveryUsageRow {
                file_type: r.get("FILE_TYPE")?,
                percent_space_used: r
                    .get::<_, Option<f64>>("PERCENT_SPACE_USED")?
                    .unwrap_or(0.0),
                percent_space_reclaimable: r
                    .get::<_, Option<f64>>("PERCENT_SPACE_RECLAIMABLE")?
                    .unwrap_or(0.0),
                number_of_files: r.get::<_, Option<f64>>("NUMBER_OF_FILES")?.unwrap_or(0.0),
            })
        };
        match self.rows(sql::RECOVERY_AREA_USAGE, read) {
            // Before 11.2 the view had its old name.
            Err(e) if e.message.contains("ORA-00942") => {
                self.rows(sql::FLASH_RECOVERY_AREA_USAGE, read)
            }
            other => other,
        }
    }

    fn archive_dests(&mut self) -> Part<Vec<ArchiveDestRow>> {
        self.rows(sql::ARCHIVE_DEST, |r| {
            Ok(ArchiveDestRow {
                dest_name: r.get("DEST_NAME")?,
                status: r.get("STATUS")?,
                target: r.get("TARGET")?,
                destination: r.get("DESTINATION")?,
                error: r.get("ERROR")?,
            })
        })
    }

    fn resource_limits(&mut self) -> Part<Vec<ResourceLimitRow>> {
        self.rows(sql::RESOURCE_LIMIT, |r| {
            Ok(ResourceLimitRow {
                resource_name: r.get("RESOURCE_NAME")?,
                current_utilization: r
                    .get::<_, Option<f64>>("CURRENT_UTILIZATION")?
                    .unwrap_or(0.0),
                limit_value: r
                    .get::<_, Option<String>>("LIMIT_VALUE")?
                    .unwrap_or_default(),
            })
        })
    }

    fn rman(&mut self) -> Part<RmanRow> {
        let row = self.conn()?.query_row(sql::RMAN, &[])?;
        Ok(RmanRow {
            jobs: row.get::<_, Option<f64>>("JOBS")?.unwrap_or(0.0),
            age_hours: row.get("AGE_HOURS")?,
        })
    }

    fn dataguard(&mut self) -> Part<Vec<DataguardRow>> {
        self.rows(sql::DATAGUARD_STATS, |r| {
            Ok(DataguardRow {
                name: r.get("NAME")?,
                value: r.get("VALUE")?,
                unit: r.get("UNIT")?,
                time_computed: r.get("TIME_COMPUTED")?,
            })
        })
    }

    fn blocking(&mut self) -> Part<BlockingRow> {
        let row = self.conn()?.query_row(sql::BLOCKING_SESSIONS, &[])?;
        Ok(BlockingRow {
            blocked: row.get::<_, Option<f64>>("BLOCKED")?.unwrap_or(0.0),
            blockers: row.get::<_, Option<f64>>("BLOCKERS")?.unwrap_or(0.0),
            longest_wait_seconds: row
                .get::<_, Option<f64>>("LONGEST_WAIT_SECONDS")?
                .unwrap_or(0.0),
        })
    }

    fn active_calls(&mut self) -> Part<Vec<ActiveCallRow>> {
        self.rows(sql::ACTIVE_CALLS, |r| {
            Ok(ActiveCallRow {
                sid: r.get::<_, Option<f64>>("SID")?.unwrap_or(0.0),
                username: r.get("USERNAME")?,
                sql_id: r.get("SQL_ID")?,
                last_call_et: r.get::<_, Option<f64>>("LAST_CALL_ET")?.unwrap_or(0.0),
            })
        })
    }

    fn top_sql(&mut self) -> Part<Vec<TopSqlRow>> {
        self.rows(sql::TOP_SQL, |r| {
            Ok(TopSqlRow {
                sql_id: r.get("SQL_ID")?,
                cpu_time: r.get::<_, Option<f64>>("CPU_TIME")?.unwrap_or(0.0),
                elapsed_time: r.get::<_, Option<f64>>("ELAPSED_TIME")?.unwrap_or(0.0),
                executions: r.get::<_, Option<f64>>("EXECUTIONS")?.unwrap_or(0.0),
            })
        })
    }

    fn scheduler_failures(&mut self) -> Part<Vec<SchedulerFailureRow>> {
        self.rows(sql::SCHEDULER_FAILURES, |r| {
            Ok(SchedulerFailureRow {
                owner: r.get("OWNER")?,
                job_name: r.get("JOB_NAME")?,
                age_seconds: r.get::<_, Option<f64>>("AGE_SECONDS")?.unwrap_or(0.0),
            })
        })
    }

    fn scheduler_broken(&mut self) -> Part<SchedulerBrokenRow> {
        let row = self.conn()?.query_row(sql::SCHEDULER_BROKEN, &[])?;
        Ok(SchedulerBrokenRow {
            broken: row.get::<_, Option<f64>>("BROKEN")?.unwrap_or(0.0),
        })
    }

    fn file_io(&mut self) -> Part<Vec<FileIoRow>> {
        self.rows(sql::FILE_IO, |r| {
            Ok(FileIoRow {
                file_id: r.get::<_, Option<f64>>("FILE_ID")?.unwrap_or(0.0),
                tablespace_name: r.get("TABLESPACE_NAME")?,
                phyrds: r.get::<_, Option<f64>>("PHYRDS")?.unwrap_or(0.0),
                phywrts: r.get::<_, Option<f64>>("PHYWRTS")?.unwrap_or(0.0),
                readtim: r.get::<_, Option<f64>>("READTIM")?.unwrap_or(0.0),
                writetim: r.get::<_, Option<f64>>("WRITETIM")?.unwrap_or(0.0),
            })
        })
    }

    fn invalid_objects(&mut self) -> Part<Vec<InvalidObjectsRow>> {
        self.rows(sql::INVALID_OBJECTS, |r| {
            Ok(InvalidObjectsRow {
                owner: r.get("OWNER")?,
                object_type: r.get("OBJECT_TYPE")?,
                objects: r.get::<_, Option<f64>>("OBJECTS")?.unwrap_or(0.0),
            })
        })
    }
}
