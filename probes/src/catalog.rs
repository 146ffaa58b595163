//! One-line descriptions of the metrics the probes emit, used as `# HELP` text by
//! `patrol-agent --once` and the collector's `/metrics`. The full reference is
//! `docs/metrics.md`; a test keeps the two in step.

/// `(metric, help)` for every metric a probe (or the agent for a probe) emits.
pub const METRICS: &[(&str, &str)] = &[
    (
        "cpu_usage_percent",
        "Whole-host CPU busy over the probe interval (idle and iowait excluded), 0-100.",
    ),
    (
        "cpu_core_usage_percent",
        "CPU busy per logical core over the probe interval, 0-100.",
    ),
    ("system_load1", "Load average over 1 minute."),
    ("system_load5", "Load average over 5 minutes."),
    ("system_load15", "Load average over 15 minutes."),
    (
        "memory_used_percent",
        "(MemTotal - MemAvailable) / MemTotal, as free shows it, 0-100.",
    ),
    ("memory_total_bytes", "Physical memory (MemTotal)."),
    (
        "memory_available_bytes",
        "Memory available without swapping (MemAvailable).",
    ),
    (
        "swap_used_percent",
        "Swap used / swap total, 0-100 (0 without swap).",
    ),
    ("swap_total_bytes", "Swap size."),
    ("swap_used_bytes", "Swap in use."),
    (
        "disk_used_percent",
        "Filesystem space used as df prints Use%: used / (used + available to non-root).",
    ),
    ("disk_total_bytes", "Filesystem size."),
    (
        "disk_used_bytes",
        "Filesystem space used (blocks - free blocks).",
    ),
    (
        "disk_available_bytes",
        "Filesystem space available to non-root users.",
    ),
    (
        "net_receive_bytes_per_second",
        "Bytes received per second over the probe interval.",
    ),
    (
        "net_transmit_bytes_per_second",
        "Bytes sent per second over the probe interval.",
    ),
    ("processes", "Processes running (threads not counted)."),
    ("uptime_seconds", "Time since boot."),
    // oracle probe (probes/src/oracle/README.md)
    (
        "oracle_up",
        "1 when the database answered and its instance is OPEN, else 0.",
    ),
    (
        "oracle_tablespace_used_percent",
        "Tablespace used / the size its files may grow to (autoextend counted), 0-100.",
    ),
    ("oracle_tablespace_used_bytes", "Tablespace space used."),
    (
        "oracle_tablespace_max_bytes",
        "Size the tablespace's files may grow to (autoextend maximum, else allocated).",
    ),
    (
        "oracle_archive_log_used_percent",
        "Archive log space used of its limit: archived-log share of the recovery area, or the archive destination's filesystem use; the fullest local destination, 0-100.",
    ),
    (
        "oracle_recovery_area_used_percent",
        "Recovery area (FRA) in use: (used - reclaimable) / limit, 0-100.",
    ),
    (
        "oracle_archive_dest_error",
        "1 when the archive destination is in ERROR, DISABLED, BAD PARAM or FULL state.",
    ),
    ("oracle_sessions", "Sessions in use (v$resource_limit)."),
    (
        "oracle_sessions_used_percent",
        "Sessions in use / the sessions limit, 0-100.",
    ),
    ("oracle_processes", "Processes in use (v$resource_limit)."),
    (
        "oracle_processes_used_percent",
        "Processes in use / the processes limit, 0-100.",
    ),
    (
        "oracle_rman_backups",
        "Successful whole-database RMAN backups still in the control file's history.",
    ),
    (
        "oracle_rman_backup_age_hours",
        "Hours since the newest successful whole-database RMAN backup ended.",
    ),
    (
        "oracle_dataguard_transport_lag_seconds",
        "Data Guard transport lag on a standby: how far received redo is behind the primary (v$dataguard_stats).",
    ),
    (
        "oracle_dataguard_apply_lag_seconds",
        "Data Guard apply lag on a standby: how far applied redo is behind the primary (v$dataguard_stats).",
    ),
    (
        "oracle_blocked_sessions",
        "Sessions waiting on another session's lock (v$session blocking_session).",
    ),
    (
        "oracle_blocking_sessions",
        "Distinct sessions holding up the blocked ones.",
    ),
    (
        "oracle_blocked_wait_seconds",
        "The longest current wait of a blocked session.",
    ),
    (
        "oracle_long_running_sql",
        "User calls active for longer than long_sql_threshold (v$session last_call_et).",
    ),
    (
        "oracle_longest_sql_seconds",
        "How long the longest active user call has run.",
    ),
    (
        "oracle_top_sql_cpu_seconds_total",
        "CPU time of a top statement since its cursor was loaded (v$sqlstats, top_sql by CPU).",
    ),
    (
        "oracle_top_sql_elapsed_seconds_total",
        "Elapsed time of a top statement since its cursor was loaded.",
    ),
    (
        "oracle_top_sql_executions_total",
        "Executions of a top statement since its cursor was loaded.",
    ),
    (
        "oracle_scheduler_job_failures",
        "Scheduler job runs that failed since the previous round (dba_scheduler_job_run_details).",
    ),
    (
        "oracle_scheduler_failed_jobs",
        "Distinct scheduler jobs with a failed run in the last 24 hours.",
    ),
    (
        "oracle_scheduler_broken_jobs",
        "Scheduler jobs in state BROKEN (stopped after too many failures).",
    ),
    (
        "oracle_datafile_reads_total",
        "Physical reads of a data file since instance start (v$filestat).",
    ),
    (
        "oracle_datafile_writes_total",
        "Physical writes of a data file since instance start (v$filestat).",
    ),
    (
        "oracle_datafile_read_seconds_total",
        "Time spent reading a data file since instance start (v$filestat readtim).",
    ),
    (
        "oracle_datafile_write_seconds_total",
        "Time spent writing a data file since instance start (v$filestat writetim).",
    ),
    (
        "oracle_invalid_objects",
        "Invalid objects in the database (dba_objects status INVALID).",
    ),
    (
        "oracle_invalid_objects_by_type",
        "Invalid objects of one owner and object type.",
    ),
    (
        "oracle_deadlocks_total",
        "ORA-00060 deadlocks written to the alert log since the agent started reading it.",
    ),
    (
        "oracle_deadlocks",
        "ORA-00060 deadlocks written to the alert log since the previous round.",
    ),
    (
        "oracle_alert_log_errors_total",
        "ORA- errors written to the alert log since counting began (kept across restarts), by code.",
    ),
    // Oracle alert log on the shared tailer (h/polish).
    (
        "oracle_alert_log_rotations_total",
        "New files of the alert log (rotations), each counted once, lost ones included.",
    ),
    (
        "oracle_alert_log_truncations_total",
        "Times the alert log was found truncated or rewritten and read again from its start.",
    ),
    (
        "oracle_alert_log_oversized_records_total",
        "Alert log lines longer than 64 KiB, cut to it.",
    ),
    (
        "oracle_alert_log_lost_files_total",
        "Files of the alert log that could not be read to their end (rotated away and deleted before they were read, or gone at a restart).",
    ),
    (
        "oracle_alert_log_state_errors_total",
        "Failed saves of the alert log read position (state_dir not writable?).",
    ),
    // weblogic: probes dir, log_pattern, weblogic (docs/metrics.md has a section each).
    (
        "dir_used_bytes",
        "Bytes allocated by the directory tree, as du -s -B1 counts them.",
    ),
    ("dir_files", "Regular files in the directory tree."),
    (
        "dir_used_percent",
        "Directory bytes over its quota (basis=quota), or Use% of its filesystem (basis=filesystem), 0-100.",
    ),
    (
        "dir_ok",
        "1 when the directory could be measured this round.",
    ),
    (
        "log_pattern_matches_total",
        "Log records that matched the pattern, since the probe first read the log.",
    ),
    (
        "log_pattern_matches",
        "Log records that matched the pattern during the last interval.",
    ),
    ("log_pattern_records_total", "Log records read."),
    (
        "log_pattern_last_match_age_seconds",
        "Seconds since a record matching the pattern was last read, or since counting began when none has been.",
    ),
    ("log_pattern_ok", "1 when the log could be read this round."),
    (
        "log_pattern_rotations_total",
        "New files of the log (rotations), each counted once, lost ones included.",
    ),
    (
        "log_pattern_truncations_total",
        "Times the log was found truncated or rewritten and read again from its start.",
    ),
    (
        "log_pattern_oversized_records_total",
        "Records longer than max_record_bytes, cut to it.",
    ),
    (
        "log_pattern_lost_files_total",
        "Files of the log that could not be read to their end (rotated away and deleted before they were read, or gone at a restart).",
    ),
    (
        "log_pattern_state_errors_total",
        "Failed saves of the read position (state_dir not writable?).",
    ),
    (
        "weblogic_log_used_percent",
        "Server log directory bytes over its quota (basis=quota), or Use% of its filesystem (basis=filesystem), 0-100.",
    ),
    (
        "weblogic_log_used_bytes",
        "Bytes allocated by the server's log directory, as du -s -B1 counts them.",
    ),
    (
        "weblogic_log_ok",
        "1 when the server's log directory could be measured and its log read this round.",
    ),
    (
        "weblogic_messages_total",
        "Server log messages by severity.",
    ),
    (
        "weblogic_stuck_threads",
        "STUCK-thread messages (BEA-000337) logged during the last interval.",
    ),
    (
        "weblogic_stuck_threads_total",
        "STUCK-thread messages (BEA-000337) logged.",
    ),
    (
        "weblogic_out_of_memory",
        "Messages mentioning OutOfMemoryError logged during the last interval.",
    ),
    (
        "weblogic_out_of_memory_total",
        "Messages mentioning OutOfMemoryError logged.",
    ),
    (
        "weblogic_message_id_count",
        "Messages with this id during the last interval; only the interval's top N ids.",
    ),
    (
        "weblogic_log_unparsed_total",
        "Server log records not in a WebLogic format (stray lines).",
    ),
    (
        "weblogic_log_rotations_total",
        "New files of the server log (rotations), each counted once, lost ones included.",
    ),
    (
        "weblogic_log_truncations_total",
        "Times the server log was found truncated or rewritten and read again from its start.",
    ),
    (
        "weblogic_log_oversized_records_total",
        "Server log messages longer than max_record_bytes, cut to it.",
    ),
    (
        "weblogic_log_lost_files_total",
        "Files of the server log that could not be read to their end (rotated away and deleted before they were read, or gone at a restart).",
    ),
    (
        "weblogic_log_state_errors_total",
        "Failed saves of the read position (state_dir not writable?).",
    ),
    // ping, trace, sockets, hwmon, mdstat probes (h/net)
    (
        "ping_up",
        "1 when the target answered at least one echo request this round.",
    ),
    (
        "ping_loss_percent",
        "Echo requests of the round with no reply, 0-100.",
    ),
    (
        "ping_rtt_ms",
        "Average round-trip time of the answered echo requests.",
    ),
    ("ping_rtt_min_ms", "Shortest round-trip time of the round."),
    ("ping_rtt_max_ms", "Longest round-trip time of the round."),
    (
        "ping_jitter_ms",
        "Mean absolute difference between consecutive round-trip times of the round.",
    ),
    (
        "trace_reached",
        "1 when the trace reached the target within max_hops.",
    ),
    (
        "trace_hops",
        "Hops to the target (or to the last hop that answered when not reached).",
    ),
    (
        "trace_path_changed",
        "1 when the route differs from the previous round's (different router or hop count).",
    ),
    (
        "trace_hop_info",
        "Always 1; labels hop (1, 2, ...) and responder (address, or * for no answer).",
    ),
    (
        "tcp_listen_up",
        "1 when a TCP socket listens on the configured port (any address, IPv4 or IPv6).",
    ),
    (
        "tcp_connections",
        "TCP sockets in each state (ss -tan), IPv4 and IPv6.",
    ),
    (
        "tcp_established_connections",
        "Established TCP connections whose local port is this listening port.",
    ),
    (
        "hw_temperature_celsius",
        "Temperature read by a hwmon sensor.",
    ),
    (
        "hw_temperature_max_celsius",
        "The sensor's own high limit (tempN_max).",
    ),
    (
        "hw_temperature_crit_celsius",
        "The sensor's own critical limit (tempN_crit).",
    ),
    (
        "hw_temperature_high",
        "1 when the temperature is at or above the sensor's max limit, or its max alarm is set.",
    ),
    (
        "hw_temperature_critical",
        "1 when the temperature is at or above the sensor's crit limit, or its crit alarm is set.",
    ),
    ("hw_fan_rpm", "Fan speed."),
    (
        "hw_fan_min_rpm",
        "The fan's minimum speed limit (fanN_min).",
    ),
    (
        "hw_fan_ok",
        "1 when the fan turns, at or above its minimum, with no alarm.",
    ),
    (
        "hw_sensors_unreadable",
        "hwmon inputs that could not be read or parsed this round.",
    ),
    (
        "raid_degraded",
        "1 when the md array misses a member or is inactive.",
    ),
    ("raid_active", "1 when the md array is active."),
    ("raid_disks", "Member slots of the md array ([n/m]: n)."),
    (
        "raid_disks_active",
        "Working members of the md array ([n/m]: m).",
    ),
    (
        "raid_failed_disks",
        "Members of the md array marked failed (F).",
    ),
    (
        "raid_sync_percent",
        "Progress of a running resync, recovery, check, repair or reshape, 0-100.",
    ),
    (
        "raid_mdstat_errors",
        "Array blocks of /proc/mdstat that could not be parsed this round.",
    ),
    (
        "patrol_probe_up",
        "1 when the probe's last round completed, 0 when it failed or timed out.",
    ),
    (
        "patrol_probe_duration_ms",
        "How long the probe's last round took.",
    ),
    // the agent's own counters (agent/src/telemetry.rs)
    (
        "patrol_agent_dropped_samples_total",
        "Samples the agent gave up on, by reason (backlog_full, spool_full, spool_expired, shutdown, non_finite, spool_damaged).",
    ),
    (
        "patrol_agent_reload_failures_total",
        "SIGHUP reloads refused (bad file or a change that needs a restart); the agent kept its configuration.",
    ),
    (
        "patrol_agent_memory_pending_batches",
        "Unacknowledged batches held in the agent's memory.",
    ),
    (
        "patrol_agent_spool_pending_batches",
        "Unacknowledged batches in the agent's disk spool.",
    ),
    (
        "patrol_agent_spool_bytes",
        "Bytes of the agent's spool segment files.",
    ),
    (
        "patrol_agent_spool_repairs_total",
        "Torn or damaged spool records cut off (or files removed) when the agent opened its spool.",
    ),
    (
        "patrol_agent_spool_errors_total",
        "Failed spool writes, syncs, removals and reads (retried; batches stay in memory).",
    ),
    // snmp probe (probes/src/snmp)
    (
        "snmp_up",
        "1 = the SNMP device answered this poll, 0 = it did not (timeout, rejected credentials).",
    ),
    (
        "snmp_poll_duration_ms",
        "Time spent polling the SNMP device this round.",
    ),
    (
        "snmp_info",
        "Always 1; sys_name and sys_descr labels carry the device's sysName and sysDescr.",
    ),
    (
        "snmp_uptime_seconds",
        "Time since the device's SNMP agent (re)started: sysUpTime / 100.",
    ),
    (
        "snmp_if_admin_up",
        "1 = interface administratively up (ifAdminStatus up).",
    ),
    (
        "snmp_if_oper_up",
        "1 = interface operationally up (ifOperStatus up).",
    ),
    (
        "snmp_if_down",
        "1 = interface administratively up but operationally down, lowerLayerDown, notPresent or unknown.",
    ),
    (
        "snmp_if_speed_bits_per_second",
        "Interface speed (ifHighSpeed x 1e6, else ifSpeed).",
    ),
    (
        "snmp_if_in_bits_per_second",
        "Received bits per second over the poll interval (ifHCInOctets, else ifInOctets, x 8).",
    ),
    (
        "snmp_if_out_bits_per_second",
        "Sent bits per second over the poll interval (ifHCOutOctets, else ifOutOctets, x 8).",
    ),
    (
        "snmp_if_in_errors_per_second",
        "Inbound packets with errors per second (ifInErrors).",
    ),
    (
        "snmp_if_out_errors_per_second",
        "Outbound packets with errors per second (ifOutErrors).",
    ),
    (
        "snmp_if_in_discards_per_second",
        "Inbound packets discarded per second (ifInDiscards).",
    ),
    (
        "snmp_if_out_discards_per_second",
        "Outbound packets discarded per second (ifOutDiscards).",
    ),
    (
        "snmp_processor_load_percent",
        "HOST-RESOURCES hrProcessorLoad per processor: busy over the last minute, 0-100.",
    ),
    (
        "snmp_storage_size_bytes",
        "HOST-RESOURCES storage size (hrStorageSize x hrStorageAllocationUnits).",
    ),
    (
        "snmp_storage_used_bytes",
        "HOST-RESOURCES storage used (hrStorageUsed x hrStorageAllocationUnits).",
    ),
    (
        "snmp_storage_used_percent",
        "HOST-RESOURCES storage used / size, 0-100.",
    ),
    (
        "snmp_cpu_5min_percent",
        "CISCO-PROCESS cpmCPUTotal5minRev: CPU busy over 5 minutes, 0-100.",
    ),
    (
        "hw_temperature_celsius",
        "Temperature of a sensor (SNMP: ENTITY-SENSOR scaled, or CISCO-ENVMON).",
    ),
    (
        "hw_fan_ok",
        "1 = fan working (SNMP: CISCO-ENVMON state normal).",
    ),
    (
        "hw_psu_ok",
        "1 = power supply working (SNMP: CISCO-ENVMON state normal).",
    ),
    (
        "entity_sensor_value",
        "ENTITY-SENSOR reading in its unit (value x 10^scale / 10^precision) while the sensor is ok.",
    ),
    (
        "entity_sensor_ok",
        "1 = ENTITY-SENSOR operStatus ok, 0 = unavailable or nonoperational.",
    ),
    (
        "ups_on_battery",
        "1 = the UPS output runs on battery (UPS-MIB upsOutputSource battery).",
    ),
    (
        "ups_on_bypass",
        "1 = the UPS output is on bypass (upsOutputSource bypass).",
    ),
    (
        "ups_battery_low",
        "1 = UPS battery low or depleted (upsBatteryStatus).",
    ),
    (
        "ups_battery_remaining_percent",
        "UPS battery charge remaining, 0-100 (upsEstimatedChargeRemaining).",
    ),
    (
        "ups_battery_runtime_seconds",
        "UPS runtime left on battery (upsEstimatedMinutesRemaining x 60).",
    ),
    (
        "ups_on_battery_seconds",
        "Time the UPS has been on battery, 0 on mains (upsSecondsOnBattery).",
    ),
    ("ups_battery_voltage_volts", "UPS battery voltage (DC)."),
    (
        "ups_battery_temperature_celsius",
        "UPS battery temperature.",
    ),
    (
        "ups_input_line_bads_total",
        "Times the UPS input went out of tolerance (upsInputLineBads).",
    ),
    ("ups_output_frequency_hertz", "UPS output frequency."),
    (
        "ups_alarms_present",
        "Active UPS alarms (upsAlarmsPresent).",
    ),
    (
        "ups_alarm",
        "1 per active UPS alarm; the alarm label names it (upsAlarmTable).",
    ),
    (
        "ups_input_voltage_volts",
        "UPS input voltage per line (phase).",
    ),
    ("ups_input_frequency_hertz", "UPS input frequency per line."),
    ("ups_output_voltage_volts", "UPS output voltage per line."),
    ("ups_output_current_amperes", "UPS output current per line."),
    ("ups_output_power_watts", "UPS output power per line."),
    (
        "ups_load_percent",
        "UPS output load per line, percent of the rated load.",
    ),
    (
        "fc_port_up",
        "1 = Fibre Channel port up (FCMGMT status ready, FIBRE-CHANNEL-FE physical state online, or IF-MIB oper up).",
    ),
    (
        "fc_port_down",
        "1 = Fibre Channel port meant to be online that is failed, offline-sequence, bypassed, in link failure or down.",
    ),
    ("fc_port_speed_bits_per_second", "Fibre Channel port speed."),
    (
        "fc_port_admin_up",
        "1 = Fibre Channel Fx_Port administratively online (FIBRE-CHANNEL-FE-MIB fcFxPortPhysAdminStatus).",
    ),
    (
        "fc_port_oper_mode",
        "Fibre Channel Fx_Port operating mode as the MIB numbers it: 1 unknown, 2 F_Port, 3 FL_Port.",
    ),
    // ipmi probe (probes/src/ipmi/README.md)
    (
        "ipmi_up",
        "1 when ipmitool read the BMC's sensor list, 0 when it could not (no BMC, no ipmitool, session refused, timeout).",
    ),
    (
        "ipmi_sensor_value",
        "A BMC sensor's analog reading in its unit (ipmitool sdr elist).",
    ),
    (
        "ipmi_sensor_ok",
        "1 = the BMC sensor is within its thresholds and asserts no fault state.",
    ),
    (
        "ipmi_sensor_severity",
        "BMC sensor state: 0 ok, 1 non-critical, 2 critical, 3 non-recoverable.",
    ),
    ("ipmi_sel_entries", "Records in the BMC's System Event Log."),
    (
        "ipmi_sel_new_entries",
        "System Event Log records that were not there at the previous round.",
    ),
    (
        "ipmi_parse_errors",
        "Lines of ipmitool's last output that were not understood (or sensors past the bound).",
    ),
    (
        "ipmi_duration_ms",
        "Time the ipmitool runs took this round.",
    ),
    // exec probe (probes/src/exec/README.md)
    (
        "exec_up",
        "1 when the command ran to its end in time and gave a Nagios result (exit 0-3, text output within the bound).",
    ),
    (
        "exec_state",
        "Nagios state from the exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also when exec_up is 0).",
    ),
    ("exec_duration_ms", "How long the command ran this round."),
    (
        "exec_error",
        "1 when the run failed for this reason (spawn, timeout, output_limit, bad_output, bad_exit, signal), else 0.",
    ),
    (
        "exec_perfdata_errors",
        "Perfdata items of the last run that could not be used (malformed, duplicate, too many).",
    ),
    (
        "exec_perf",
        "A unitless perfdata value of the plugin, by label.",
    ),
    (
        "exec_perf_ms",
        "A perfdata time (s, ms, us) of the plugin in milliseconds, by label.",
    ),
    (
        "exec_perf_percent",
        "A perfdata percentage (%) of the plugin, by label.",
    ),
    (
        "exec_perf_bytes",
        "A perfdata size (B, KB, MB, GB, TB; powers of 1024) of the plugin in bytes, by label.",
    ),
    (
        "exec_perf_total",
        "A perfdata counter (c) of the plugin, by label.",
    ),
    // textfile probe (probes/src/textfile/README.md); the files' own samples pass through.
    (
        "textfile_ok",
        "1 when the textfile directory could be listed this round.",
    ),
    (
        "textfile_scrape_error",
        "1 when the file had a problem this round (unreadable, too large, a bad line); its good lines are still used.",
    ),
    (
        "textfile_errors",
        "Problems found in the file this round (bad lines, refused or duplicate series).",
    ),
    (
        "textfile_mtime_seconds",
        "Last modification of the file, seconds since the Unix epoch.",
    ),
    (
        "textfile_age_seconds",
        "Seconds since the file was last modified.",
    ),
    // files probe (probes/src/files/README.md)
    (
        "files_ok",
        "1 when the check's patterns could be evaluated this round (0: unreadable, or more than max_entries).",
    ),
    (
        "files_count",
        "Files (or directories, mode dirs) matching the check.",
    ),
    ("files_total_bytes", "Bytes of all matching items."),
    (
        "files_newest_age_seconds",
        "Seconds since the newest matching item was modified.",
    ),
    ("files_newest_bytes", "Size of the newest matching item."),
    (
        "files_oldest_age_seconds",
        "Seconds since the oldest matching item was modified.",
    ),
    (
        "files_stale",
        "1 when nothing matches or the newest item is older than the check's max_age.",
    ),
    // process probe (probes/src/process/README.md)
    ("process_up", "1 when at least min_count processes match."),
    ("process_count", "Processes matching (zombies not counted)."),
    (
        "process_cpu_percent",
        "CPU used by the matching processes over the interval, of the whole host (all CPUs), 0-100.",
    ),
    (
        "process_resident_bytes",
        "Resident memory of the matching processes added up (RSS).",
    ),
    (
        "process_open_fds",
        "Open file descriptors of the matching processes added up.",
    ),
    (
        "process_start_time_seconds",
        "Start of the oldest matching process, seconds since the Unix epoch.",
    ),
    (
        "process_uptime_seconds",
        "Seconds since the oldest matching process started.",
    ),
    // http probe (probes/src/http/README.md)
    (
        "http_up",
        "1 when every request of the check answered as expected (status, body) within the timeout.",
    ),
    (
        "http_status_code",
        "Status of the last response received, 0 when none came.",
    ),
    (
        "http_duration_ms",
        "Time the whole check took: connects, TLS, redirects, bodies, all steps.",
    ),
    ("http_redirects", "Redirects followed during the check."),
    (
        "http_body_bytes",
        "Body bytes read from the last response (at most max_body_bytes).",
    ),
    (
        "http_step_ok",
        "1 when this step of a login transaction answered as expected; 0 also when an earlier step failed.",
    ),
    (
        "http_step_duration_ms",
        "Time this step of a login transaction took (0 when it did not run).",
    ),
    (
        "tls_cert_expiry_days",
        "Days until the server's leaf certificate expires (negative once expired), known even when verification fails.",
    ),
    // tcp probe (probes/src/tcp/README.md); it also emits tls_cert_expiry_days
    (
        "tcp_up",
        "1 when the connection (and TLS handshake, and expected reply) succeeded within the timeout.",
    ),
    (
        "tcp_connect_ms",
        "Time to establish the TCP connection (absent when it failed).",
    ),
    (
        "tcp_duration_ms",
        "Time the whole check took: connect, TLS, send and expect.",
    ),
    // dns probe (probes/src/dns/README.md)
    (
        "dns_up",
        "1 when the server answered with at least one record of the asked type, and every expected value was among them.",
    ),
    ("dns_duration_ms", "Time to the answer (or to the failure)."),
    ("dns_answers", "Records of the asked type in the answer."),
    (
        "dns_expected_ok",
        "1 when every expected value was among the answers (only with expect).",
    ),
    // syslog probe (probes/src/syslog/README.md)
    (
        "syslog_up",
        "1 when the syslog listener of this transport is bound and receiving.",
    ),
    (
        "syslog_messages_total",
        "Syslog messages received from the device, by severity.",
    ),
    (
        "syslog_pattern_matches_total",
        "Syslog messages of the device whose text matched the pattern.",
    ),
    (
        "syslog_pattern_matches",
        "Syslog messages of the device whose text matched the pattern during the last interval.",
    ),
    (
        "syslog_dropped_total",
        "Syslog input dropped: malformed messages, TCP framing errors, refused connections.",
    ),
    (
        "syslog_truncated_total",
        "Syslog messages longer than max_message_bytes, cut to it and counted.",
    ),
    (
        "syslog_devices",
        "Senders counted separately (at most max_devices).",
    ),
    (
        "syslog_device_overflow_total",
        "Syslog messages counted under device=\"_other\" because max_devices senders were already known.",
    ),
    ("syslog_tcp_connections", "Open syslog TCP connections."),
    // snmp_trap probe (probes/src/snmp_trap/README.md)
    (
        "snmp_trap_up",
        "1 when the trap receiver's UDP port is bound and receiving.",
    ),
    (
        "snmp_traps_total",
        "Traps and informs received from the device, by trap name (or OID).",
    ),
    (
        "snmp_traps",
        "Traps and informs received from the device during the last interval, by trap name (or OID).",
    ),
    (
        "snmp_trap_if_oper_up",
        "1 when the latest linkUp/linkDown trap for the interface was linkUp.",
    ),
    (
        "snmp_trap_dropped_total",
        "Datagrams dropped by the trap receiver, by reason (malformed, community, unknown_user, wrong_digest...).",
    ),
    (
        "snmp_trap_inform_response_failures_total",
        "Inform responses that could not be sent back.",
    ),
    (
        "snmp_trap_devices",
        "Trap senders counted separately (at most max_devices).",
    ),
    (
        "snmp_trap_device_overflow_total",
        "Traps counted under device=\"_other\" because max_devices senders were already known.",
    ),
];

/// The help text of a metric, if a probe emits it.
pub fn help(metric: &str) -> Option<&'static str> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_metric_is_in_the_reference() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
                .expect("docs/metrics.md");
        for (metric, help) in METRICS {
            assert!(
                doc.contains(&format!("`{metric}`")),
                "{metric} is not in docs/metrics.md"
            );
            assert!(
                !help.contains('\n') && !help.contains('\\'),
                "{metric}: help must be one plain line"
            );
        }
    }
}
