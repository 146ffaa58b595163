//! The WebLogic probe on real log directories written by the test.

use std::io::Write;
use std::path::Path;

use patrol_proto::Sample;

use super::*;
use crate::ProbeConfig;
use crate::sample_out::round;

fn parse(text: &str) -> Result<ProbeConfig, toml::de::Error> {
    toml::from_str(text)
}

fn value(out: &[Sample], name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    out.iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| s.value)
}

fn must(out: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    value(out, name, label).unwrap_or_else(|| panic!("{name} {label:?} missing: {out:#?}"))
}

const STUCK: &str = "####<Dec 7, 2016 3:12:21 PM GMT> <Error> <WebLogicServer> <prlprws01> <ms1> <[ACTIVE] ExecuteThread: '22' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <> <1481123541709> <BEA-000337> <[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Workmanager: default\n\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:\n\tsun.misc.Unsafe.park(Native Method)\n> \n";
const RUNNING: &str = "####<Mar 24, 2022 10:29:51,636 AM GMT> <Notice> <WebLogicServer> <host> <ms1> <main> <<WLS Kernel>> <> <> <1648117791636> <[severity-value: 32] [rid: 0] [partition-id: 0] [partition-name: DOMAIN] > <BEA-000365> <Server state changed to RUNNING.> \n";
const OOM: &str = "####<Mar 24, 2022 10:30:00,000 AM GMT> <Error> <Kernel> <host> <ms1> <t> <<WLS Kernel>> <> <> <1648117800000> <BEA-000802> <ExecuteRequest failed\n java.lang.OutOfMemoryError: Java heap space.\n\tat a.b(C.java:1)\n> \n";

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("append to log");
}

fn config(domain: &Path, extra: &str) -> ProbeConfig {
    parse(&format!(
        "type = \"weblogic\"\ndomain_home = {:?}\nstart_at = \"beginning\"\n{extra}\n\
         [[server]]\nname = \"ms1\"\nquota_bytes = 1000000\n",
        domain.display().to_string()
    ))
    .expect("config parses")
}

#[tokio::test]
async fn counts_a_real_server_log_and_keeps_totals_across_restart_and_rotation() {
    let domain = tempfile::tempdir().expect("tempdir");
    let logs = domain.path().join("servers/ms1/logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let log = logs.join("ms1.log");
    append(&log, &format!("{RUNNING}{STUCK}{STUCK}{OOM}{RUNNING}"));
    let state = domain.path().join("state");
    let cfg = config(domain.path(), "");
    let mut probe = cfg.build(&BuildContext::new(&state)).expect("builds");

    let out = round(&mut probe).await;
    let server = Some(("server", "ms1"));
    assert_eq!(must(&out, "weblogic_log_ok", server), 1.0);
    assert_eq!(must(&out, "weblogic_stuck_threads", server), 2.0);
    assert_eq!(must(&out, "weblogic_out_of_memory", server), 1.0);
    assert_eq!(
        must(&out, "weblogic_messages_total", Some(("severity", "error"))),
        3.0
    );
    // The last record waits for the next one or a quiet round.
    assert_eq!(
        must(
            &out,
            "weblogic_messages_total",
            Some(("severity", "notice"))
        ),
        1.0
    );
    assert_eq!(
        must(
            &out,
            "weblogic_message_id_count",
            Some(("msgid", "BEA-000337"))
        ),
        2.0
    );
    let percent = out
        .iter()
        .find(|s| s.name == "weblogic_log_used_percent")
        .expect("percent");
    assert_eq!(percent.labels.get("basis"), Some("quota"));
    let used = must(&out, "weblogic_log_used_bytes", server);
    assert_eq!(percent.value, used / 1_000_000.0 * 100.0);

    let out = round(&mut probe).await;
    assert_eq!(
        must(&out, "weblogic_stuck_threads", server),
        0.0,
        "gauge is per interval"
    );
    assert_eq!(must(&out, "weblogic_stuck_threads_total", server), 2.0);
    assert_eq!(
        must(
            &out,
            "weblogic_messages_total",
            Some(("severity", "notice"))
        ),
        2.0
    );
    assert_eq!(
        must(
            &out,
            "weblogic_message_id_count",
            Some(("msgid", "BEA-000365"))
        ),
        1.0,
        "the held-back last record"
    );
    assert_eq!(
        value(
            &out,
            "weblogic_message_id_count",
            Some(("msgid", "BEA-000337"))
        ),
        None
    );

    // Agent restart with a rotation while it was down: nothing counted twice or missed.
    drop(probe);
    append(&log, STUCK);
    std::fs::rename(&log, logs.join("ms1.log00001")).expect("rotate");
    append(&log, &format!("{OOM}{RUNNING}"));
    let mut probe = cfg.build(&BuildContext::new(&state)).expect("rebuilds");
    let out = round(&mut probe).await;
    assert_eq!(must(&out, "weblogic_stuck_threads", server), 1.0);
    assert_eq!(must(&out, "weblogic_stuck_threads_total", server), 3.0);
    assert_eq!(must(&out, "weblogic_out_of_memory_total", server), 2.0);
    assert_eq!(must(&out, "weblogic_log_rotations_total", server), 1.0);
    let out = round(&mut probe).await;
    assert_eq!(
        must(
            &out,
            "weblogic_messages_total",
            Some(("severity", "notice"))
        ),
        3.0
    );
    assert_eq!(must(&out, "weblogic_log_unparsed_total", server), 0.0);
    crate::sample_out::assert_cataloged(&out);
}

/// A server's stdout (`ms1.out`, reference §2.1: no `####`, five fields), as WebLogic writes
/// it after the JVM's own lines: consecutive one-line messages, a message with a stack trace,
/// two STUCK threads in a row (the 12.2.1 form and a JRockit thread dump whose lines start
/// with `<` too), and a zh_CN date.
const STDOUT: &str = concat!(
    "JAVA Memory arguments: -Xms256m -Xmx512m\n",
    "Starting WLS with line:\n",
    "/u01/jdk/bin/java -server -Xms256m -Dweblogic.Name=ms1 weblogic.Server\n",
    "<Dec 6, 2021, 2:04:34,902 PM EST> <Warning> <Diagnostics> <BEA-320111> <The metric a > b was exceeded.>\n",
    "<Dec 6, 2021, 2:04:43,285 PM EST> <Warning> <Socket> <BEA-000449> <Closing the socket, as no data read from it on 10.0.0.7:41,972 during the configured idle timeout of 5 seconds.>\n",
    "<Dec 6, 2021, 2:04:43,286 PM EST> <Warning> <Socket> <BEA-000449> <Closing the socket, as no data read from it on 10.0.0.8:41,973 during the configured idle timeout of 5 seconds.>\n",
    "<Dec 6, 2021, 2:05:01,001 PM EST> <Notice> <WebLogicServer> <BEA-000365> <Server state changed to RUNNING.>\n",
    "<Dec 6, 2021, 2:05:01,002 PM EST> <Notice> <WebLogicServer> <BEA-000360> <The server started in RUNNING mode.>\n",
    "<Dec 6, 2021, 2:10:12,517 PM EST> <Error> <HTTP> <BEA-101020> <[ServletContext@452][app:web module:web path:null spec-version:3.1] Servlet failed with an Exception\n",
    "java.lang.IllegalStateException: bad state\n",
    "\tat a.b.C.d(C.java:10)\n",
    "\tat weblogic.servlet.internal.StubSecurityHelper.invokeServlet(StubSecurityHelper.java:260)\n",
    "Caused By: java.lang.RuntimeException: root\n",
    "\tat a.b.C.e(C.java:11)\n",
    ">\n",
    "<Dec 6, 2021, 2:14:43,285 PM EST> <Error> <WebLogicServer> <BEA-000337> <[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Http Request Information: weblogic.servlet.internal.ServletRequestImpl@76dfaa35[POST /digx/cmcb/v1/topup]\n",
    "\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds in \"server-failure-trigger\". Stack trace:\n",
    "\tjava.net.SocketInputStream.socketRead0(Native Method)\n",
    "\tweblogic.work.ExecuteThread.run(ExecuteThread.java:360)\n",
    ">\n",
    "<Dec 6, 2021, 2:14:43,290 PM EST> <Error> <WebLogicServer> <BEA-000337> <[STUCK] ExecuteThread: '54' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"612\" seconds working on the request \"Http Request: /app/report.jsp\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:\n",
    "Thread-766 \"[STUCK] ExecuteThread: '54' for queue: 'weblogic.kernel.Default (self-tuning)'\" <alive, in native, suspended, priority=1, DAEMON> {\n",
    "<alive, in native, suspended, priority=1, DAEMON> {\n",
    "    jrockit/net/SocketNativeIO.readBytesPinned(Native Method)\n",
    "    weblogic/work/ExecuteThread.run(ExecuteThread.java:221)\n",
    "}\n",
    ">\n",
    "<2016-5-20 下午08时52分36秒 CST> <警告> <Health> <BEA-310003> <Free memory in the server is 1,048,576 bytes.>\n",
    "<Dec 6, 2021, 2:20:00,000 PM EST> <Error> <Kernel> <BEA-000802> <ExecuteRequest failed\n",
    " java.lang.OutOfMemoryError: Java heap space.\n",
    ">\n",
);

#[tokio::test]
async fn stdout_format_is_split_into_its_messages() {
    let domain = tempfile::tempdir().expect("tempdir");
    let logs = domain.path().join("servers/ms1/logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    append(&logs.join("ms1.out"), STDOUT);
    let cfg = config(domain.path(), "");
    let ProbeConfig::Weblogic(mut cfg) = cfg else {
        panic!("weblogic config")
    };
    cfg.servers[0].file = Some("ms1.out".into());
    let mut probe = ProbeConfig::Weblogic(cfg)
        .build(&BuildContext::new(domain.path().join("state")))
        .expect("builds");
    round(&mut probe).await;
    // The second round is quiet: it closes the last message.
    let out = round(&mut probe).await;
    let severity = |s| must(&out, "weblogic_messages_total", Some(("severity", s)));
    assert_eq!(severity("warning"), 3.0, "three one-line warnings, not one");
    assert_eq!(severity("notice"), 2.0);
    assert_eq!(severity("error"), 4.0, "servlet error, two STUCK, OOM");
    assert_eq!(severity("other"), 1.0, "the zh_CN warning");
    let server = Some(("server", "ms1"));
    assert_eq!(must(&out, "weblogic_stuck_threads_total", server), 2.0);
    assert_eq!(must(&out, "weblogic_out_of_memory_total", server), 1.0);
    assert_eq!(
        must(&out, "weblogic_log_unparsed_total", server),
        1.0,
        "the JVM's lines before the first message, as one record"
    );
}

#[tokio::test]
async fn once_mode_reads_saved_state_but_never_writes_it() {
    let domain = tempfile::tempdir().expect("tempdir");
    let logs = domain.path().join("servers/ms1/logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    append(&logs.join("ms1.log"), &format!("{STUCK}{RUNNING}"));
    let state = domain.path().join("state");
    let once = BuildContext {
        state_dir: state.clone(),
        persist_state: false,
    };
    let mut probe = config(domain.path(), "").build(&once).expect("builds");
    let out = round(&mut probe).await;
    assert_eq!(
        must(&out, "weblogic_stuck_threads", Some(("server", "ms1"))),
        1.0
    );
    assert_eq!(
        must(
            &out,
            "weblogic_messages_total",
            Some(("severity", "notice"))
        ),
        1.0,
        "a one-shot run closes the last record itself"
    );
    assert!(!state.exists(), "--once must not write state");
}

#[tokio::test]
async fn filesystem_basis_without_a_quota_and_a_missing_dir_is_a_status() {
    let domain = tempfile::tempdir().expect("tempdir");
    let cfg = parse(&format!(
        "type = \"weblogic\"\n[[server]]\nname = \"a\"\nlog_dir = {:?}\n[[server]]\nname = \"gone\"\nlog_dir = \"/nonexistent/logs\"\n",
        domain.path().display().to_string()
    ))
    .expect("parses");
    let mut probe = cfg
        .build(&BuildContext::new(domain.path()))
        .expect("builds");
    let out = round(&mut probe).await;
    let a = out
        .iter()
        .find(|s| s.name == "weblogic_log_used_percent")
        .expect("percent of a");
    assert_eq!(
        (a.labels.get("server"), a.labels.get("basis")),
        (Some("a"), Some("filesystem"))
    );
    assert_eq!(must(&out, "weblogic_log_ok", Some(("server", "gone"))), 0.0);
    assert_eq!(
        must(&out, "weblogic_stuck_threads", Some(("server", "gone"))),
        0.0,
        "counters are still reported so rules resolve"
    );
}

#[test]
fn sample_toml_parses() {
    let config = crate::sample_out::sample_probes(include_str!("sample.toml")).remove(0);
    let ProbeConfig::Weblogic(c) = &config else {
        panic!("not weblogic: {config:?}")
    };
    assert_eq!(c.servers.len(), 2);
    assert_eq!(c.top_message_ids, 10);
    crate::sample_out::build_sample(&config);
}

#[test]
fn every_config_problem_is_reported_at_once() {
    assert!(parse("type = \"weblogic\"\n[[server]]\nname = \"a\"\nlogdir = \"/x\"\n").is_err());
    let cfg = parse(
        "type = \"weblogic\"\ntop_message_ids = 1000\n[[server]]\nname = \"a\"\n[[server]]\nname = \"b\"\nlog_dir = \"/l\"\nquota_bytes = 0\nrotated = \"[\"\n[[server]]\nname = \"b\"\nlog_dir = \"/l\"\nfile = \"x/y\"\n",
    )
    .expect("parses");
    let err = cfg
        .build(&BuildContext::new("/tmp"))
        .err()
        .expect("invalid")
        .to_string();
    for needle in [
        "top_message_ids",
        "server[0].log_dir: set it, or set domain_home",
        "server[1].quota_bytes",
        "server[1].rotated",
        "server[2].name: server 'b' is listed twice",
        "server[2].file",
    ] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
}
