-- Patrol Oracle probe: a least-privilege monitoring user. No SYSDBA, no SELECT ANY DICTIONARY,
-- no SELECT_CATALOG_ROLE: exactly the views the probe reads (probes/src/oracle/sql.rs; a test
-- keeps this list and the SQL in step).
--
-- Run as SYS:   sqlplus / as sysdba @oracle-grants.sql
-- In a multitenant database, run it in the container you monitor (a PDB:
-- ALTER SESSION SET CONTAINER = ORCLPDB1;) and point the probe's `connect` at that PDB's
-- service. Replace the password below first, then put the same password in the agent's
-- password_file (chmod 600) or password_env. See docs/oracle.md.

CREATE USER patrol_mon IDENTIFIED BY "Change_me_1";
GRANT CREATE SESSION TO patrol_mon;

-- Instance state and archiving mode (oracle_up).
GRANT SELECT ON v_$instance TO patrol_mon;
GRANT SELECT ON v_$database TO patrol_mon;

-- Tablespaces (oracle_tablespace_*).
GRANT SELECT ON dba_tablespaces TO patrol_mon;
GRANT SELECT ON dba_data_files TO patrol_mon;
GRANT SELECT ON dba_free_space TO patrol_mon;
GRANT SELECT ON dba_undo_extents TO patrol_mon;
GRANT SELECT ON dba_temp_files TO patrol_mon;
GRANT SELECT ON v_$sort_segment TO patrol_mon;

-- Recovery area and archive destinations (oracle_archive_log_used_percent,
-- oracle_recovery_area_used_percent, oracle_archive_dest_error).
GRANT SELECT ON v_$recovery_file_dest TO patrol_mon;
GRANT SELECT ON v_$recovery_area_usage TO patrol_mon;
GRANT SELECT ON v_$archive_dest TO patrol_mon;

-- Sessions and processes against their limits.
GRANT SELECT ON v_$resource_limit TO patrol_mon;

-- RMAN backups.
GRANT SELECT ON v_$rman_backup_job_details TO patrol_mon;

-- Data Guard transport and apply lag (oracle_dataguard_*_lag_seconds; rows only on a standby).
GRANT SELECT ON v_$dataguard_stats TO patrol_mon;

-- Blocking sessions and long-running calls (oracle_blocked_*, oracle_long_running_sql).
GRANT SELECT ON v_$session TO patrol_mon;

-- Top statements by CPU (oracle_top_sql_*).
GRANT SELECT ON v_$sqlstats TO patrol_mon;

-- Failed and broken scheduler jobs (oracle_scheduler_*).
GRANT SELECT ON dba_scheduler_job_run_details TO patrol_mon;
GRANT SELECT ON dba_scheduler_jobs TO patrol_mon;

-- Data file I/O (oracle_datafile_*_total).
GRANT SELECT ON v_$filestat TO patrol_mon;
GRANT SELECT ON v_$datafile TO patrol_mon;
GRANT SELECT ON v_$tablespace TO patrol_mon;

-- Invalid objects (oracle_invalid_objects*).
GRANT SELECT ON dba_objects TO patrol_mon;

-- Oracle 10.2 / 11.1 only: the old name of v$recovery_area_usage. On newer releases the view
-- may be missing and this line may fail with ORA-00942; that is harmless.
GRANT SELECT ON v_$flash_recovery_area_usage TO patrol_mon;

-- A MOUNTED physical standby (Data Guard without Active Data Guard) accepts no ordinary
-- logins, only administrative ones. To read its lags, create the same user on the primary
-- (the standby gets it with the redo), give it SYSDG (12c+; the password file must be
-- copied to the standby again afterwards), and set `connect_as = "sysdg"` in the probe's
-- section for the standby. SYSDG can start and stop recovery: grant it only where needed.
-- GRANT SYSDG TO patrol_mon;
