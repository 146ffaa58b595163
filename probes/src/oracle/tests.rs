use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::recorded::{Call, PROD_FRA, RecordedSource, Recording};
use super::*;
use crate::ProbeConfig;

fn parse(text: &str) -> Result<ProbeConfig, toml::de::Error> {
    toml::from_str::<ProbeConfig>(text)
}

/// A private password file and a config section using it.
fn section(extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("ora.pw");
    std::fs::write(&pw, "monitor-pass\n").expect("write");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let text = format!(
        "type = \"oracle\"\ndb = \"ORCL\"\nconnect = \"127.0.0.1:1/ORCLPDB1\"\nuser = \"patrol_mon\"\n\
         password_file = \"{}\"\n{extra}",
        pw.display()
    );
    (dir, text)
}

fn config(extra: &str) -> (tempfile::TempDir, OracleConfig) {
    let (dir, text) = section(extra);
    match parse(&text).expect("config parses") {
        ProbeConfig::Oracle(c) => (dir, c),
        other => panic!("not an oracle config: {other:?}"),
    }
}

fn config_error(config: &OracleConfig) -> String {
    match config.validate() {
        Err(ProbeError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

fn up(out: &[Sample]) -> Option<f64> {
    out.iter()
        .find(|s| s.name == "oracle_up" && s.labels.get("db") == Some("ORCL"))
        .map(|s| s.value)
}

fn recording() -> Recording {
    Recording::parse(PROD_FRA).expect("recording")
}

const CTX: CollectContext = CollectContext { now_ms: 1 };

#[test]
fn defaults_and_sample_toml() {
    let (_d, c) = config("");
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.query_timeout, Duration::from_secs(10));
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert!(c.local_archive_dest);
    c.validate().expect("valid");
    // sample.toml parses as it is (its password_env is the only password key).
    let parsed = crate::sample_out::sample_probes(include_str!("sample.toml"));
    assert!(matches!(parsed[..], [ProbeConfig::Oracle(_)]), "{parsed:?}");
}

#[test]
fn inline_password_is_refused_with_where_to_put_it() {
    let (_d, text) = section("password = \"tiger\"\n");
    let err = parse(&text)
        .expect_err("inline password must fail")
        .to_string();
    assert!(err.contains("inline password is not accepted"), "{err}");
    assert!(
        err.contains("password_file") && err.contains("password_env"),
        "{err}"
    );
    assert!(
        !err.contains("tiger"),
        "the password must not be echoed: {err}"
    );
}

#[test]
fn unknown_key_and_bad_duration_are_rejected_by_name() {
    let (_d, text) = section("query_timout = \"5s\"\n");
    assert!(
        parse(&text)
            .expect_err("typo")
            .to_string()
            .contains("query_timout")
    );
    let (_d, text) = section("timeout = \"soon\"\n");
    assert!(
        parse(&text)
            .expect_err("bad")
            .to_string()
            .contains("timeout: ")
    );
}

#[test]
fn validation_reports_every_bad_field_at_once() {
    let (_d, mut c) = config("timeout = \"2m\"\nquery_timeout = \"3m\"\n");
    c.db = "bad db".into();
    c.user = String::new();
    c.password_env = Some("X".into());
    let message = config_error(&c);
    for part in [
        "db:",
        "user:",
        "set only one",
        "must not exceed timeout",
        "below interval",
    ] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    c.password_file = None;
    c.password_env = None;
    assert!(config_error(&c).contains("set password_file or password_env"));
}

#[test]
fn world_readable_password_file_is_refused_at_start() {
    let (_d, c) = config("");
    let path = c.password_file.clone().expect("file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).expect("chmod");
    let message = config_error(&c);
    assert!(message.contains("chmod 600"), "{message}");
}

/// The real `oracle` crate with no Oracle client library in reach: DPI-1047, for real.
#[test]
fn real_crate_without_client_library_fails_with_dpi_1047() {
    let empty = tempfile::tempdir().expect("tempdir");
    let (_d, mut c) = config("");
    c.client_lib_dir = Some(empty.path().to_path_buf());
    let settings = c.validate().expect("valid");
    let mut s = session::Session::new(settings.session);
    let err = s
        .connect()
        .expect_err("no client library in an empty directory");
    assert_eq!(err.kind, FailureKind::ClientLibraryMissing, "{err}");
    assert!(err.message.starts_with("DPI-1047"), "{err}");
    assert!(err.to_string().contains("Instant Client"), "{err}");
}

/// The whole probe on the real crate, default library search path, a closed port: without
/// Instant Client (this project's machines) DPI-1047; with one, ORA-12541 (nothing listens on
/// port 1). Either way `oracle_up 0` and the probe round itself succeeds.
#[tokio::test]
async fn real_probe_reports_oracle_up_0_when_nothing_is_reachable() {
    let (_d, c) = config("query_timeout = \"2s\"\ntimeout = \"5s\"\n");
    let settings = c.validate().expect("valid");
    let mut s = session::Session::new(settings.session.clone());
    let kind = s.connect().expect_err("nothing to connect to").kind;
    assert!(
        matches!(
            kind,
            FailureKind::ClientLibraryMissing | FailureKind::ListenerDown
        ),
        "{kind}"
    );
    let mut probe =
        OracleProbe::new(c, &crate::BuildContext::new(_d.path())).expect("probe builds");
    let mut out = Vec::new();
    probe
        .collect(CTX, &mut out)
        .await
        .expect("the round completes");
    assert_eq!(up(&out), Some(0.0));
    assert_eq!(out.len(), 1, "only oracle_up: {out:?}");
}

async fn collect(probe: &mut OracleProbe) -> Vec<Sample> {
    let mut out = Vec::new();
    probe.collect(CTX, &mut out).await.expect("round completes");
    out
}

fn probe_on(source: RecordedSource, extra: &str) -> (tempfile::TempDir, OracleProbe) {
    let (dir, c) = config(extra);
    let settings = c.validate().expect("valid");
    let probe = OracleProbe::with_source(
        &settings,
        Box::new(source),
        &crate::BuildContext::new(dir.path()),
    )
    .expect("probe");
    (dir, probe)
}

#[tokio::test]
async fn connect_failures_give_oracle_up_0_and_nothing_else() {
    for text in [
        "ORA-12541: TNS:no listener",
        "ORA-01017: invalid username/password; logon denied",
        "DPI-1047: Cannot locate a 64-bit Oracle Client library",
    ] {
        let source = RecordedSource::new(recording()).failing(Call::Connect, text);
        let journal = source.journal();
        let (_d, mut probe) = probe_on(source, "");
        for _ in 0..2 {
            let out = collect(&mut probe).await;
            assert_eq!(up(&out), Some(0.0), "{text}");
            assert_eq!(out.len(), 1, "{text}: {out:?}");
        }
        // Each round tries again (the database may be back).
        assert_eq!(journal.lock().expect("journal").calls, [Call::Connect; 2]);
    }
}

#[tokio::test]
async fn query_timeout_drops_its_metrics_and_the_session_then_recovers() {
    let source = RecordedSource::new(recording()).failing(
        Call::Tablespaces,
        "DPI-1067: call timeout of 10000 ms exceeded with ORA-3156",
    );
    let journal = source.journal();
    let (_d, mut probe) = probe_on(source, "");
    let out = collect(&mut probe).await;
    // The instance answered: it is up, but nothing after the timed-out query was asked.
    assert_eq!(up(&out), Some(1.0));
    assert!(out.iter().all(|s| !s.name.starts_with("oracle_tablespace")));
    assert!(out.iter().all(|s| !s.name.starts_with("oracle_sessions")));
    {
        let j = journal.lock().expect("journal");
        assert_eq!(j.calls, [Call::Connect, Call::Instance, Call::Tablespaces]);
        assert_eq!((j.connects, j.disconnects), (1, 1));
    }
    collect(&mut probe).await;
    assert_eq!(journal.lock().expect("journal").connects, 2, "reconnected");
}

#[tokio::test]
async fn missing_grant_skips_one_query_and_keeps_the_session() {
    let source = RecordedSource::new(recording())
        .failing(Call::Rman, "ORA-00942: table or view does not exist");
    let journal = source.journal();
    let (_d, mut probe) = probe_on(source, "");
    let out = collect(&mut probe).await;
    assert_eq!(up(&out), Some(1.0));
    assert!(
        out.iter()
            .any(|s| s.name == "oracle_tablespace_used_percent")
    );
    assert!(out.iter().all(|s| !s.name.starts_with("oracle_rman")));
    assert_eq!(journal.lock().expect("journal").disconnects, 0);
}

/// A database that hangs in connect: `oracle_up 0` arrives exactly when the round timeout
/// passes (paused clock, so no timing assumption), later rounds are skipped at once instead
/// of starting more threads, and a probe sharing the single runtime thread keeps its
/// schedule throughout. Once the database answers, the probe recovers.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn hung_database_never_stalls_other_probes() {
    let (release, hold) = mpsc::channel::<()>();
    let hold = Mutex::new(hold);
    let (entered_tx, entered) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let source = RecordedSource::new(recording()).gated(move |call| {
        if call == Call::Connect
            && let (Ok(rx), Ok(tx)) = (hold.lock(), entered_tx.lock())
        {
            let _ = tx.send(());
            let _ = rx.recv();
        }
    });
    let journal = source.journal();
    let (_d, mut probe) = probe_on(source, "timeout = \"5s\"\nquery_timeout = \"5s\"\n");

    let ticks = Arc::new(AtomicU64::new(0));
    let other = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = tokio::time::Instant::now();
    for round in 0..3 {
        let began = tokio::time::Instant::now();
        let out = collect(&mut probe).await;
        assert_eq!(up(&out), Some(0.0), "round {round}");
        let waited = began.elapsed();
        let expected = if round == 0 {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        };
        assert_eq!(waited, expected, "round {round}");
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let seconds = start.elapsed().as_secs();
    assert_eq!(seconds, 185);
    // interval() ticks at once, then every second: at least one tick per elapsed second.
    assert!(ticks.load(Ordering::Relaxed) >= seconds);
    // The worker thread runs in real time while the clock above is virtual: wait until it
    // is inside the hung call before looking at what it was asked.
    entered.recv().expect("the worker entered connect");
    {
        let j = journal.lock().expect("journal");
        assert_eq!(j.calls, [Call::Connect], "one stuck call, no pile-up");
    }

    // The database answers: the stuck round ends, and the next round is a normal one.
    release.send(()).expect("worker waiting");
    tokio::time::resume();
    let mut recovered = None;
    for _ in 0..100 {
        let out = collect(&mut probe).await;
        if up(&out) == Some(1.0) {
            recovered = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = recovered.expect("the probe recovers once the database answers");
    assert!(
        out.iter()
            .any(|s| s.name == "oracle_tablespace_used_percent")
    );
    other.abort();
}

#[tokio::test]
async fn alert_log_codes_are_counted_even_while_the_database_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("alert_ORCL.log");
    std::fs::write(&log, "ORA-00600: before the agent started\n").expect("write");
    let source =
        RecordedSource::new(recording()).failing(Call::Connect, "ORA-12541: TNS:no listener");
    let (_d, mut probe) = probe_on(source, &format!("alert_log = \"{}\"\n", log.display()));
    let codes = |out: &[Sample]| {
        out.iter()
            .filter(|s| s.name == "oracle_alert_log_errors_total")
            .count()
    };
    assert_eq!(
        codes(&collect(&mut probe).await),
        0,
        "history is not counted"
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    std::io::Write::write_all(
        &mut f,
        b"2024-03-01T10:00:00.000000+08:00\nErrors in file /u01/trace/orcl_j000_1.trc:\nORA-12012: error on auto execute of job 1\nORA-01653: unable to extend table\nORA-01653: unable to extend table\n",
    )
    .expect("append");
    // The last line is handed over once the writer has been quiet for a round.
    collect(&mut probe).await;
    let out = collect(&mut probe).await;
    let count = |code: &str| {
        out.iter()
            .find(|s| {
                s.name == "oracle_alert_log_errors_total" && s.labels.get("code") == Some(code)
            })
            .map(|s| s.value)
    };
    assert_eq!(up(&out), Some(0.0));
    assert_eq!(count("ORA-01653"), Some(2.0));
    assert_eq!(count("ORA-12012"), Some(1.0));
    assert_eq!(count("ORA-00600"), None);
    assert!(
        out.iter()
            .any(|s| s.name == "oracle_alert_log_rotations_total" && s.value == 0.0),
        "the shared tailer's own counters are reported: {out:?}"
    );
}

#[tokio::test]
async fn deadlocks_in_the_alert_log_are_a_counter_and_a_per_round_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("alert_ORCL.log");
    std::fs::write(&log, "ORA-00060: deadlock before the agent started\n").expect("write");
    let (_d, mut probe) = probe_on(
        RecordedSource::new(recording()),
        &format!("alert_log = \"{}\"\n", log.display()),
    );
    let value = |out: &[Sample], name: &str| {
        out.iter()
            .find(|s| s.name == name && s.labels.get("db") == Some("ORCL"))
            .map(|s| s.value)
    };
    let first = collect(&mut probe).await;
    assert_eq!(value(&first, "oracle_deadlocks_total"), Some(0.0));
    assert_eq!(value(&first, "oracle_deadlocks"), Some(0.0));
    // The shape of a real 10.2 alert log (shared/reference/oracle-weblogic.md §4).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    std::io::Write::write_all(
        &mut f,
        b"Fri Nov 24 22:01:56 2017\nORA-00060: Deadlock detected. More info in file /u01/app/oracle/admin/whpay/udump/whpay_ora_25857.trc.\n\
          Fri Nov 24 22:03:10 2017\nORA-00060: Deadlock detected. More info in file /u01/app/oracle/admin/whpay/udump/whpay_ora_25901.trc.\n",
    )
    .expect("append");
    // The last line is handed over once the writer has been quiet for a round.
    let second = collect(&mut probe).await;
    let third = collect(&mut probe).await;
    assert_eq!(value(&third, "oracle_deadlocks_total"), Some(2.0));
    let per_round = value(&second, "oracle_deadlocks").unwrap_or(-1.0)
        + value(&third, "oracle_deadlocks").unwrap_or(-1.0);
    assert_eq!(per_round, 2.0, "each deadlock counted in exactly one round");
    let fourth = collect(&mut probe).await;
    assert_eq!(value(&fourth, "oracle_deadlocks"), Some(0.0));
    assert_eq!(value(&fourth, "oracle_deadlocks_total"), Some(2.0));
}

#[tokio::test]
async fn a_mounted_standby_through_the_probe_reports_its_apply_lag() {
    let standby = Recording::parse(super::recorded::STANDBY_MOUNTED).expect("recording");
    let (_d, mut probe) = probe_on(RecordedSource::new(standby), "connect_as = \"sysdg\"\n");
    let out = collect(&mut probe).await;
    assert_eq!(up(&out), Some(1.0));
    let lag = out
        .iter()
        .find(|s| s.name == "oracle_dataguard_apply_lag_seconds")
        .map(|s| s.value);
    assert_eq!(lag, Some(1273.0));
    crate::sample_out::assert_cataloged(&out);
}

#[test]
fn depth_settings_are_checked() {
    let (_d, c) = config("top_sql = 51\nlong_sql_threshold = \"0s\"\n");
    let message = config_error(&c);
    assert!(
        message.contains("top_sql: 51 is more than the 50"),
        "{message}"
    );
    assert!(
        message.contains("long_sql_threshold: must be greater than 0"),
        "{message}"
    );
    let (_d, text) = section("connect_as = \"sysdba\"\n");
    let err = parse(&text).expect_err("only sysdg").to_string();
    assert!(err.contains("sysdba") && err.contains("sysdg"), "{err}");
}
