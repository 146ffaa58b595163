//! The service, process, file and escape-hatch probes through the real `patrol-agent`
//! binary: the packaged examples pass `--check`, `--once` reports each probe against real
//! peers started here (a TCP listener, an HTTP server, plugins that behave and misbehave, a
//! text-file directory, files with set ages, a spawned process, /etc/hosts), and a malformed
//! section is refused with file:line:column.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, SystemTime};

use support::netns::sample;
use support::procs::run;

const PROBES: [&str; 7] = ["http", "tcp", "dns", "process", "files", "exec", "textfile"];

#[test]
fn packaged_examples_pass_the_agent_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/examples");
    for probe in PROBES {
        let path = dir.join(format!("agent-{probe}.toml"));
        let path = path.to_str().unwrap();
        let (code, out, err) = run("patrol-agent", &["--config", path, "--check"]);
        assert_eq!(code, 0, "{path}: {out}{err}");
        assert!(out.contains(": ok ("), "{path}: {out}");
    }
}

/// Answers every connection with one HTTP/1.1 200 whose body names the site.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the request head up to its blank line.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = "Patrol test portal: UP";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn once_reports_every_new_probe_against_real_peers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let http = http_server();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();

    // Plugins: one fine, one hanging (with a child), one flooding.
    std::fs::write(d.join("ok.sh"), "echo 'OK - fine | users=3 time=0.5s'\n").unwrap();
    std::fs::write(d.join("hang.sh"), "sleep 300 &\nwait\n").unwrap();
    std::fs::write(
        d.join("flood.sh"),
        "while :; do echo flood flood flood; done\n",
    )
    .unwrap();
    // A text-file directory with one good and one bad line.
    std::fs::create_dir(d.join("textfile")).unwrap();
    std::fs::write(
        d.join("textfile/backup.prom"),
        "# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds{job=\"nightly\"} 1.7e9\nbroken line\n",
    )
    .unwrap();
    // A dump a day and a half old.
    std::fs::create_dir(d.join("dumps")).unwrap();
    let dump = d.join("dumps/expdp_1.dmp");
    std::fs::write(&dump, vec![0u8; 4096]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&dump)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(36 * 3600))
        .unwrap();
    // A process with a name of its own (a link to sleep).
    std::os::unix::fs::symlink("/bin/sleep", d.join("patrol_e2e_pmon")).unwrap();
    let mut pmon = std::process::Command::new(d.join("patrol_e2e_pmon"))
        .arg("300")
        .spawn()
        .unwrap();

    let sh = |name: &str| format!("[\"/bin/sh\", \"{}\"]", d.join(name).display());
    let config = format!(
        "[collector]\naddress = \"http://127.0.0.1:1\"\n\
         [[probe]]\ntype = \"exec\"\nname = \"ok\"\ncommand = {ok}\n\
         [[probe]]\ntype = \"exec\"\nname = \"hang\"\ncommand = {hang}\ntimeout = \"1s\"\ninterval = \"5s\"\n\
         [[probe]]\ntype = \"exec\"\nname = \"flood\"\ncommand = {flood}\nmax_output_bytes = 4096\n\
         [[probe]]\ntype = \"textfile\"\ndirectory = \"{dir}/textfile\"\n\
         [[probe]]\ntype = \"files\"\n[[probe.check]]\nname = \"dumps\"\npaths = [\"{dir}/dumps/*.dmp\"]\nmax_age = \"26h\"\n\
         [[probe]]\ntype = \"process\"\n[[probe.process]]\nname = \"pmon\"\ncomm = \"patrol_e2e_pmon\"\n\
         [[probe]]\ntype = \"tcp\"\ntarget = \"127.0.0.1:{tcp_port}\"\nname = \"listener\"\n\
         [[probe]]\ntype = \"http\"\nname = \"portal\"\nurl = \"http://127.0.0.1:{http}/health\"\nbody_regex = 'UP'\n\
         [[probe]]\ntype = \"dns\"\nquery = \"localhost\"\nexpect = [\"127.0.0.1\"]\n",
        ok = sh("ok.sh"),
        hang = sh("hang.sh"),
        flood = sh("flood.sh"),
        dir = d.display(),
    );
    let path = d.join("agent.toml");
    std::fs::write(&path, config).unwrap();
    let (code, out, err) = run(
        "patrol-agent",
        &["--config", path.to_str().unwrap(), "--once"],
    );
    let _ = pmon.kill();
    let _ = pmon.wait();
    assert_eq!(code, 0, "{out}{err}");

    let at = |name: &str, labels: &[(&str, &str)]| {
        sample(&out, name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} missing:\n{out}\n{err}"))
    };
    assert_eq!(at("exec_up", &[("check", "ok")]), 1.0);
    assert_eq!(
        at("exec_perf_ms", &[("check", "ok"), ("label", "time")]),
        500.0
    );
    assert_eq!(at("exec_up", &[("check", "hang")]), 0.0);
    assert_eq!(
        at("exec_error", &[("check", "hang"), ("reason", "timeout")]),
        1.0
    );
    assert_eq!(
        at(
            "exec_error",
            &[("check", "flood"), ("reason", "output_limit")]
        ),
        1.0
    );
    assert!(err.contains("reason timeout"), "the log says why: {err}");
    assert_eq!(
        at(
            "backup_last_success_timestamp_seconds",
            &[("job", "nightly")]
        ),
        1.7e9
    );
    assert_eq!(at("textfile_scrape_error", &[("file", "backup.prom")]), 1.0);
    assert!(
        err.contains("backup.prom:3:8: value 'line' is not a number"),
        "bad line located: {err}"
    );
    assert_eq!(at("files_count", &[("check", "dumps")]), 1.0);
    assert_eq!(at("files_stale", &[("check", "dumps")]), 1.0);
    assert_eq!(at("process_up", &[("process", "pmon")]), 1.0);
    assert_eq!(at("tcp_up", &[("target", "listener")]), 1.0);
    assert_eq!(at("http_up", &[("target", "portal")]), 1.0);
    assert_eq!(at("http_status_code", &[("target", "portal")]), 200.0);
    assert_eq!(at("dns_up", &[("target", "localhost")]), 1.0);
    // Every probe's round completed: a misbehaving plugin is a status, not a failed probe.
    let failed: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("patrol_probe_up{") && l.ends_with(" 0"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    drop(tcp);
}

#[test]
fn malformed_sections_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "[collector]\naddress = \"http://127.0.0.1:7070\"\n\n[[probe]]\ntype = \"exec\"\nname = \"disk\"\ncommand = \"check_disk -w 10%\"\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (code, _, err) = run("patrol-agent", &["--config", path, "--check"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{path}:4:1: probe 'exec'")), "{err}");
    assert!(err.contains("expected a sequence"), "{err}");
}
