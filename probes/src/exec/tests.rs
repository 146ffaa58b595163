//! The exec probe against real plugins: shell scripts written by each test and run through
//! `/bin/sh` (running the script file itself could meet ETXTBSY while another test thread
//! forks).
#![allow(clippy::unwrap_used)]

use super::*;
use crate::sample_out::{assert_cataloged, parse_section, round};

struct Plugin {
    _dir: tempfile::TempDir,
    script: String,
    dir: std::path::PathBuf,
}

fn plugin(body: &str) -> Plugin {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("plugin.sh");
    let body = body.replace("{dir}", &dir.path().display().to_string());
    std::fs::write(&script, body).unwrap();
    Plugin {
        script: script.display().to_string(),
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

fn probe(plugin: &Plugin, extra: &str) -> Box<dyn Probe> {
    let text = format!(
        "type = \"exec\"\nname = \"t\"\ncommand = [\"/bin/sh\", {:?}]\n{extra}\n",
        plugin.script
    );
    let config = parse_section(&text).unwrap();
    config
        .build(&crate::BuildContext::new(&plugin.dir))
        .unwrap()
}

fn value(out: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    out.iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("{name} {label:?} missing from {out:#?}"))
}

fn reason(out: &[Sample]) -> Vec<String> {
    out.iter()
        .filter(|s| s.name == "exec_error" && s.value == 1.0)
        .filter_map(|s| s.labels.get("reason").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn ok_plugin_gives_state_and_perfdata() {
    let p = plugin("echo 'HTTP OK: 200 | time=0.25s;1;2;0 size=2KB users=3 pl=5%'\nexit 0\n");
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(value(&out, "exec_up", None), 1.0);
    assert_eq!(value(&out, "exec_state", None), 0.0);
    assert_eq!(value(&out, "exec_perf_ms", Some(("label", "time"))), 250.0);
    assert_eq!(
        value(&out, "exec_perf_bytes", Some(("label", "size"))),
        2048.0
    );
    assert_eq!(value(&out, "exec_perf", Some(("label", "users"))), 3.0);
    assert_eq!(value(&out, "exec_perf_percent", Some(("label", "pl"))), 5.0);
    assert_eq!(value(&out, "exec_perfdata_errors", None), 0.0);
    assert!(reason(&out).is_empty());
    assert_eq!(
        out.iter().filter(|s| s.name == "exec_error").count(),
        Failure::ALL.len(),
        "every reason is reported every round"
    );
    assert!(value(&out, "exec_duration_ms", None) > 0.0);
    assert!(out.iter().all(|s| s.labels.get("check") == Some("t")));
    assert_cataloged(&out);
}

#[tokio::test]
async fn exit_codes_are_nagios_states() {
    for (code, state) in [(1, 1.0), (2, 2.0), (3, 3.0)] {
        let p = plugin(&format!("echo 'DISK STATE'\nexit {code}\n"));
        let out = round(&mut probe(&p, "")).await;
        assert_eq!(value(&out, "exec_state", None), state, "exit {code}");
        assert_eq!(value(&out, "exec_up", None), 1.0, "exit {code}");
    }
    let p = plugin("echo 'sh: plugin not found'\nexit 127\n");
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(value(&out, "exec_up", None), 0.0);
    assert_eq!(value(&out, "exec_state", None), 3.0, "UNKNOWN");
    assert_eq!(reason(&out), ["bad_exit"]);
}

#[tokio::test]
async fn a_hanging_plugin_and_its_children_are_killed_at_the_timeout() {
    let p = plugin("sleep 300 &\necho $! > {dir}/child.pid\necho started\nwait\n");
    let mut probe = probe(&p, "timeout = \"500ms\"\ninterval = \"10s\"");
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "exec_up", None), 0.0);
    assert_eq!(reason(&out), ["timeout"]);
    assert_eq!(value(&out, "exec_state", None), 3.0);
    let took = value(&out, "exec_duration_ms", None);
    assert!((500.0..10_000.0).contains(&took), "took {took} ms");
    // The background `sleep` was in the plugin's process group: killed too (gone, or a
    // zombie waiting for init to reap it).
    // SIGKILL is delivered asynchronously, so wait (bounded) for the kernel to act on it.
    let child = std::fs::read_to_string(p.dir.join("child.pid")).unwrap();
    let stat_path = format!("/proc/{}/stat", child.trim());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Gone (no /proc entry) or a zombie both mean killed.
    while let Ok(stat) = std::fs::read_to_string(&stat_path) {
        let state = stat.rsplit(')').next().unwrap().split_whitespace().next();
        if state == Some("Z") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child still alive 10s after the kill: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_flooding_plugin_is_cut_at_the_bound_and_killed() {
    // Far more than the bound, forever: only the kill ends it (the timeout is long).
    let p = plugin("while :; do echo 'flood flood flood flood flood flood flood'; done\n");
    let mut probe = probe(&p, "timeout = \"50s\"\nmax_output_bytes = 4096");
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "exec_up", None), 0.0);
    assert_eq!(reason(&out), ["output_limit"]);
    assert!(value(&out, "exec_duration_ms", None) < 50_000.0);
}

#[tokio::test]
async fn stderr_flood_is_bounded_too() {
    let p = plugin("while :; do echo 'err err err err err err' >&2; done\n");
    let out = round(&mut probe(&p, "timeout = \"50s\"\nmax_output_bytes = 2048")).await;
    assert_eq!(reason(&out), ["output_limit"]);
}

#[tokio::test]
async fn binary_garbage_is_bad_output() {
    let p = plugin("printf 'OK\\000\\377\\376garbage'\nexit 0\n");
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(value(&out, "exec_up", None), 0.0);
    assert_eq!(reason(&out), ["bad_output"]);
}

#[tokio::test]
async fn garbage_perfdata_is_counted_and_the_rest_kept() {
    let p = plugin("echo 'OK | good=1 bad=abc worse=1parsec fine=3ms'\n");
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(value(&out, "exec_up", None), 1.0);
    assert_eq!(value(&out, "exec_perfdata_errors", None), 2.0);
    assert_eq!(value(&out, "exec_perf", Some(("label", "good"))), 1.0);
    assert_eq!(value(&out, "exec_perf_ms", Some(("label", "fine"))), 3.0);
    assert!(!out.iter().any(|s| s.labels.get("label") == Some("bad")));
}

#[tokio::test]
async fn a_label_too_long_for_the_collector_is_skipped() {
    let long = "x".repeat(1100);
    let p = plugin(&format!("echo 'OK | {long}=1 short=2'\n"));
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(value(&out, "exec_perfdata_errors", None), 1.0);
    assert_eq!(value(&out, "exec_perf", Some(("label", "short"))), 2.0);
    assert_eq!(out.iter().filter(|s| s.name == "exec_perf").count(), 1);
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_failure() {
    let config = parse_section(
        "type = \"exec\"\nname = \"gone\"\ncommand = [\"/nonexistent/check_gone\"]\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut probe = config.build(&crate::BuildContext::new(dir.path())).unwrap();
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "exec_up", None), 0.0);
    assert_eq!(reason(&out), ["spawn"]);
}

#[tokio::test]
async fn a_plugin_killed_by_someone_else_is_a_signal() {
    let p = plugin("kill -9 $$\n");
    let out = round(&mut probe(&p, "")).await;
    assert_eq!(reason(&out), ["signal"]);
}

#[tokio::test]
async fn shell_mode_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse_section(
        "type = \"exec\"\nname = \"sh\"\nshell = true\n\
         command = [\"echo \\\"OK | v=$PATROL_TEST_V\\\" | tr a-z A-Z | tr V v\"]\n\
         env = { PATROL_TEST_V = \"42\" }\n",
    )
    .unwrap();
    let mut probe = config.build(&crate::BuildContext::new(dir.path())).unwrap();
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "exec_perf", Some(("label", "v"))), 42.0);
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn config_errors_are_all_named() {
    let config = parse_section(
        "type = \"exec\"\nname = \"\"\ncommand = [\"a\", \"b\"]\nshell = true\ninterval = \"5s\"\ntimeout = \"5s\"\nmax_output_bytes = 10\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = config
        .build(&crate::BuildContext::new(dir.path()))
        .err()
        .unwrap()
        .to_string();
    for field in ["name:", "command:", "timeout:", "max_output_bytes:"] {
        assert!(err.contains(field), "{field} missing from {err}");
    }
    let err = parse_section("type = \"exec\"\nname = \"x\"\ncommand = [\"x\"]\ntimout = \"1s\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("timout"), "{err}");
    assert!(matches!(
        parse_section("type = \"exec\"\nname = \"x\"\ncommand = [\"x\"]\ntimeout = \"soon\"\n"),
        Err(e) if e.to_string().contains("timeout")
    ));
}

/// A real plugin from Debian's monitoring-plugins-basic (scripts/setup.sh installs it).
fn nagios_plugin(name: &str) -> String {
    let path = format!("/usr/lib/nagios/plugins/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} missing: apt-get install monitoring-plugins-basic (scripts/setup.sh)"
    );
    path
}

async fn run_plugin(argv: &[&str]) -> Vec<Sample> {
    let dir = tempfile::tempdir().unwrap();
    let command: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    let config = parse_section(&format!(
        "type = \"exec\"\nname = \"real\"\ncommand = [{}]\n",
        command.join(", ")
    ))
    .unwrap();
    let mut probe = config.build(&crate::BuildContext::new(dir.path())).unwrap();
    round(&mut probe).await
}

#[tokio::test]
async fn real_nagios_plugins() {
    let dummy = nagios_plugin("check_dummy");
    for (state, expected) in [("0", 0.0), ("1", 1.0), ("2", 2.0), ("3", 3.0)] {
        let out = run_plugin(&[&dummy, state, "from the test"]).await;
        assert_eq!(
            value(&out, "exec_state", None),
            expected,
            "check_dummy {state}"
        );
        assert_eq!(value(&out, "exec_up", None), 1.0);
    }
    // check_load: unitless perfdata with empty warn/crit fields and a trailing ';'.
    let out = run_plugin(&[
        &nagios_plugin("check_load"),
        "-r",
        "-w",
        "99,99,99",
        "-c",
        "99,99,99",
    ])
    .await;
    assert_eq!(value(&out, "exec_state", None), 0.0);
    assert_eq!(value(&out, "exec_perfdata_errors", None), 0.0);
    let load1 = value(&out, "exec_perf", Some(("label", "load1")));
    assert!(load1 >= 0.0);
    assert!(value(&out, "exec_perf", Some(("label", "scaled_load15"))) >= 0.0);
    // check_disk: a size in B with its thresholds; the value is what statvfs says is used.
    let out = run_plugin(&[
        &nagios_plugin("check_disk"),
        "-w",
        "0%",
        "-c",
        "0%",
        "-p",
        "/",
    ])
    .await;
    assert_eq!(value(&out, "exec_perfdata_errors", None), 0.0);
    assert!(value(&out, "exec_perf_bytes", Some(("label", "/"))) > 0.0);
}
