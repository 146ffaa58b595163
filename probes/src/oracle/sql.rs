//! The SQL the probe sends. Each statement is ours, written after reading what Zabbix agent 2's
//! Oracle plugin, oracledb_exporter and check_oracle_health query; which definition each
//! follows and why is in `docs/decisions.md` ("Oracle probe: metric definitions").
//!
//! Rules for every statement (checked by the tests below): one `SELECT`, no trailing `;` (OCI
//! rejects it with ORA-00911), no bind variables, and only the views granted by
//! `docs/oracle-grants.sql`, so a user with exactly those grants can run all of them.

/// Instance state and archiving mode. `oracle_up` is 1 only when `STATUS = 'OPEN'`
/// (Zabbix `oracle.instance.status` maps the same column: 3 = OPEN).
pub const INSTANCE: &str = "\
SELECT i.instance_name, i.status, d.log_mode, d.open_mode, d.database_role
FROM v$instance i CROSS JOIN v$database d";

/// Per tablespace: allocated, growable-to and used bytes.
///
/// Data files (permanent and undo): max = Σ `GREATEST(bytes, maxbytes)` over autoextensible
/// files and Σ `bytes` over the others (Zabbix `handler_tablespaces.go` and oracledb_exporter
/// use `GREATEST(bytes, maxbytes)`, check_oracle_health `DECODE(autoextensible, ...)`; combined
/// here so a file resized past its MAXBYTES counts its real size). Used = allocated − free
/// (`dba_free_space`) − expired undo extents, which Oracle reuses at once
/// (check_oracle_health `Tablespace.pm`). Temp files: used = the sort segments' used blocks ×
/// the tablespace's block size (Zabbix and oracledb_exporter use `v$sort_segment` too).
/// Aggregates are taken per view before joining, so no file is counted twice.
pub const TABLESPACES: &str = "\
SELECT t.tablespace_name, t.contents, d.bytes, d.max_bytes,
       d.bytes - NVL(f.free_bytes, 0) - NVL(u.expired_bytes, 0) AS used_bytes
FROM dba_tablespaces t
JOIN (SELECT tablespace_name, SUM(bytes) AS bytes,
             SUM(CASE autoextensible WHEN 'YES' THEN GREATEST(bytes, maxbytes) ELSE bytes END) AS max_bytes
      FROM dba_data_files GROUP BY tablespace_name) d ON d.tablespace_name = t.tablespace_name
LEFT JOIN (SELECT tablespace_name, SUM(bytes) AS free_bytes
           FROM dba_free_space GROUP BY tablespace_name) f ON f.tablespace_name = t.tablespace_name
LEFT JOIN (SELECT tablespace_name, SUM(bytes) AS expired_bytes
           FROM dba_undo_extents WHERE status = 'EXPIRED'
           GROUP BY tablespace_name) u ON u.tablespace_name = t.tablespace_name
WHERE t.contents <> 'TEMPORARY'
UNION ALL
SELECT t.tablespace_name, t.contents, d.bytes, d.max_bytes,
       NVL(s.used_blocks, 0) * t.block_size AS used_bytes
FROM dba_tablespaces t
JOIN (SELECT tablespace_name, SUM(bytes) AS bytes,
             SUM(CASE autoextensible WHEN 'YES' THEN GREATEST(bytes, maxbytes) ELSE bytes END) AS max_bytes
      FROM dba_temp_files GROUP BY tablespace_name) d ON d.tablespace_name = t.tablespace_name
LEFT JOIN (SELECT tablespace_name, SUM(used_blocks) AS used_blocks
           FROM v$sort_segment GROUP BY tablespace_name) s ON s.tablespace_name = t.tablespace_name
WHERE t.contents = 'TEMPORARY'
ORDER BY 1";

/// The recovery area's limit and use (check_oracle_health `FlashRecoveryArea.pm`, Zabbix
/// `oracle.fra.stats`, Checkmk `recovery_area.0.all.sql` read the same view).
pub const RECOVERY_FILE_DEST: &str = "\
SELECT name, space_limit, space_used, space_reclaimable, number_of_files
FROM v$recovery_file_dest";

/// The recovery area's use by file type; `ARCHIVED LOG` gives the archive-log share.
pub const RECOVERY_AREA_USAGE: &str = "\
SELECT file_type, percent_space_used, percent_space_reclaimable, number_of_files
FROM v$recovery_area_usage";

/// Oracle 10.2 / 11.1 name of [`RECOVERY_AREA_USAGE`], tried when that view does not exist.
pub const FLASH_RECOVERY_AREA_USAGE: &str = "\
SELECT file_type, percent_space_used, percent_space_reclaimable, number_of_files
FROM v$flash_recovery_area_usage";

/// Archive destinations in use (Zabbix `oracle.archive.info` reads the same columns and also
/// skips `INACTIVE`).
pub const ARCHIVE_DEST: &str = "\
SELECT dest_name, status, target, destination, error
FROM v$archive_dest
WHERE status <> 'INACTIVE'
ORDER BY dest_name";

/// Sessions and processes against their limits (check_oracle_health `session-usage` /
/// `process-usage`, oracledb_exporter `resource` read `v$resource_limit`).
pub const RESOURCE_LIMIT: &str = "\
SELECT resource_name, current_utilization, TRIM(limit_value) AS limit_value
FROM v$resource_limit
WHERE resource_name IN ('sessions', 'processes')";

/// Successful whole-database RMAN backups (full or incremental) and the age of the newest,
/// computed on the database clock so agent and database time zones do not matter.
pub const RMAN: &str = "\
SELECT COUNT(*) AS jobs, (SYSDATE - MAX(end_time)) * 24 AS age_hours
FROM v$rman_backup_job_details
WHERE status IN ('COMPLETED', 'COMPLETED WITH WARNINGS')
  AND input_type IN ('DB FULL', 'DB INCR')";

/// Data Guard lags, read on the standby (the view has no rows on a primary: Oracle Reference,
/// `V$DATAGUARD_STATS`). `VALUE` is a day-to-second interval as text (`+00 00:00:12`), or
/// NULL before the first computation; `depth::interval_seconds` turns it into seconds.
/// check_oracle_health (`dataguard-lag`) and Oracle's own exporter read the same rows.
pub const DATAGUARD_STATS: &str = "\
SELECT name, value, unit, time_computed
FROM v$dataguard_stats
WHERE name IN ('transport lag', 'apply lag')";

/// Sessions waiting on another session's lock: how many, behind how many holders, and the
/// longest current wait (Zabbix `long_time_locked` uses the same `BLOCKING_SESSION_STATUS`
/// test; `WAIT_TIME_MICRO` replaces the deprecated `SECONDS_IN_WAIT` since 11g).
pub const BLOCKING_SESSIONS: &str = "\
SELECT COUNT(*) AS blocked, COUNT(DISTINCT blocking_session) AS blockers,
       NVL(MAX(wait_time_micro), 0) / 1000000 AS longest_wait_seconds
FROM v$session
WHERE blocking_session IS NOT NULL AND blocking_session_status = 'VALID'";

/// User calls running now, with how long each has run (`LAST_CALL_ET`: seconds since the
/// current call started, for an ACTIVE session). The probe counts those past its
/// `long_sql_threshold` itself, so the statement needs no bind variable. Its own session is
/// left out.
pub const ACTIVE_CALLS: &str = "\
SELECT sid, username, sql_id, last_call_et
FROM v$session
WHERE type = 'USER' AND status = 'ACTIVE' AND sql_id IS NOT NULL
  AND sid <> SYS_CONTEXT('USERENV', 'SID')";

/// Statements active in the last hour by CPU time, most first; the probe keeps its `top_sql`
/// first rows (at most these 50). `V$SQLSTATS` (10.2+) is the cheap, latch-free copy of
/// `V$SQL`'s statistics; times are microseconds since the cursor was loaded.
pub const TOP_SQL: &str = "\
SELECT sql_id, cpu_time, elapsed_time, executions
FROM (SELECT sql_id, cpu_time, elapsed_time, executions
      FROM v$sqlstats
      WHERE last_active_time > SYSDATE - 1/24
      ORDER BY cpu_time DESC)
WHERE ROWNUM <= 50";

/// Scheduler job runs that failed in the last day, with their age on the database clock
/// (both times taken to UTC before the subtraction, so session and job time zones do not
/// matter). The probe counts those younger than its interval as "failed since the last
/// round".
pub const SCHEDULER_FAILURES: &str = "\
SELECT owner, job_name,
       (CAST(SYSTIMESTAMP AT TIME ZONE 'UTC' AS DATE) - CAST(log_date AT TIME ZONE 'UTC' AS DATE)) * 86400 AS age_seconds
FROM dba_scheduler_job_run_details
WHERE status = 'FAILED' AND log_date > SYSTIMESTAMP - INTERVAL '1' DAY
ORDER BY log_id DESC";

/// Scheduler jobs that failed so often Oracle stopped running them (`STATE = 'BROKEN'`
/// after `MAX_FAILURES`).
pub const SCHEDULER_BROKEN: &str = "\
SELECT COUNT(*) AS broken
FROM dba_scheduler_jobs
WHERE state = 'BROKEN'";

/// Physical reads and writes per data file since instance start, and the time they took
/// (centiseconds; kept while `TIMED_STATISTICS` is true, the default). Oracle's own exporter
/// and Zabbix's `oracle.datafiles` read `V$FILESTAT` / `V$DATAFILE`.
pub const FILE_IO: &str = "\
SELECT f.file# AS file_id, t.name AS tablespace_name, f.phyrds, f.phywrts, f.readtim, f.writetim
FROM v$filestat f
JOIN v$datafile d ON d.file# = f.file#
JOIN v$tablespace t ON t.ts# = d.ts#";

/// Invalid objects by owner and type (check_oracle_health `invalid-objects` counts the same
/// rows of `DBA_OBJECTS`).
pub const INVALID_OBJECTS: &str = "\
SELECT owner, object_type, COUNT(*) AS objects
FROM dba_objects
WHERE status = 'INVALID'
GROUP BY owner, object_type";

/// Every statement, by name (for the tests and the benchmark of the mapping).
pub const ALL: &[(&str, &str)] = &[
    ("instance", INSTANCE),
    ("tablespaces", TABLESPACES),
    ("recovery_file_dest", RECOVERY_FILE_DEST),
    ("recovery_area_usage", RECOVERY_AREA_USAGE),
    ("flash_recovery_area_usage", FLASH_RECOVERY_AREA_USAGE),
    ("archive_dest", ARCHIVE_DEST),
    ("resource_limit", RESOURCE_LIMIT),
    ("rman", RMAN),
    ("dataguard_stats", DATAGUARD_STATS),
    ("blocking_sessions", BLOCKING_SESSIONS),
    ("active_calls", ACTIVE_CALLS),
    ("top_sql", TOP_SQL),
    ("scheduler_failures", SCHEDULER_FAILURES),
    ("scheduler_broken", SCHEDULER_BROKEN),
    ("file_io", FILE_IO),
    ("invalid_objects", INVALID_OBJECTS),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Views and tables named after FROM / JOIN, lower case.
    fn sources(sql: &str) -> Vec<String> {
        let words: Vec<String> = sql
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        words
            .windows(2)
            .filter(|w| w[0] == "from" || w[0] == "join")
            .map(|w| w[1].clone())
            .filter(|w| w != "select")
            .collect()
    }

    #[test]
    fn every_statement_is_one_plain_select() {
        for (name, sql) in ALL {
            let upper = sql.to_ascii_uppercase();
            assert!(upper.trim_start().starts_with("SELECT "), "{name}");
            assert!(
                !sql.contains(';'),
                "{name}: a ';' makes OCI fail with ORA-00911"
            );
            assert!(!sql.contains(':'), "{name}: no bind variables are supplied");
            assert!(
                !sql.contains("--"),
                "{name}: comments belong in Rust, not in SQL"
            );
            let opens = sql.matches('(').count();
            assert_eq!(opens, sql.matches(')').count(), "{name}: parentheses");
            let quotes = sql.matches('\'').count();
            assert_eq!(quotes % 2, 0, "{name}: unbalanced quote");
            for word in [
                "INSERT", "UPDATE", "DELETE", "MERGE", "ALTER", "DROP", "GRANT",
            ] {
                assert!(
                    !upper.split_whitespace().any(|w| w == word),
                    "{name}: the probe only reads"
                );
            }
        }
    }

    #[test]
    fn every_view_read_is_granted_by_the_grant_script() {
        let grants = include_str!("../../../docs/oracle-grants.sql").to_ascii_lowercase();
        let mut seen = Vec::new();
        for (name, sql) in ALL {
            for view in sources(sql) {
                // v$x views are granted through their v_$x synonyms' base views.
                let granted = view.replacen("v$", "v_$", 1);
                assert!(
                    grants.contains(&format!("select on {granted} ")),
                    "{name} reads {view}, which docs/oracle-grants.sql does not grant"
                );
                seen.push(granted);
            }
        }
        // And the script grants nothing the probe does not read.
        for line in grants.lines().filter(|l| l.starts_with("grant select on ")) {
            let view = line["grant select on ".len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default();
            assert!(
                seen.iter().any(|v| v == view),
                "{view} is granted but unused"
            );
        }
    }

    #[test]
    fn column_aliases_match_the_row_structs() {
        // The real source reads columns by these names (rows.rs); a renamed alias would
        // make a live query fail with "column not found", which no offline test could see.
        let expect: &[(&str, &[&str])] = &[
            ("tablespaces", &["used_bytes", "max_bytes", "bytes"]),
            ("resource_limit", &["limit_value", "current_utilization"]),
            ("rman", &["jobs", "age_hours"]),
            (
                "dataguard_stats",
                &["name", "value", "unit", "time_computed"],
            ),
            (
                "blocking_sessions",
                &["blocked", "blockers", "longest_wait_seconds"],
            ),
            (
                "active_calls",
                &["sid", "username", "sql_id", "last_call_et"],
            ),
            (
                "top_sql",
                &["sql_id", "cpu_time", "elapsed_time", "executions"],
            ),
            ("scheduler_failures", &["owner", "job_name", "age_seconds"]),
            ("scheduler_broken", &["broken"]),
            (
                "file_io",
                &[
                    "file_id",
                    "tablespace_name",
                    "phyrds",
                    "phywrts",
                    "readtim",
                    "writetim",
                ],
            ),
            ("invalid_objects", &["owner", "object_type", "objects"]),
        ];
        for (name, cols) in expect {
            let sql = ALL.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
            let sql = sql.unwrap_or_default().to_ascii_lowercase();
            for col in *cols {
                assert!(sql.contains(col), "{name} lacks {col}");
            }
        }
    }
}
