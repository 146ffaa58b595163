//! The syslog receiver with util-linux `logger` as the real sender: UDP and TCP, RFC 3164 and
//! RFC 5424, LF-framed and octet-counted, each message counted once under its severity.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use patrol_probes::syslog::{SyslogConfig, SyslogProbe};
use patrol_probes::{CollectContext, Probe, ProbeConfig};

fn probe(text: &str) -> SyslogProbe {
    match toml::from_str::<ProbeConfig>(text).expect("parses") {
        ProbeConfig::Syslog(c) => SyslogProbe::new(&c).expect("builds"),
        other => panic!("not syslog: {other:?}"),
    }
}

async fn collect(p: &mut SyslogProbe) -> Vec<String> {
    let mut out = Vec::new();
    p.collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("round");
    out.iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect()
}

/// Runs util-linux `logger` with `args`; a missing logger is a failure that says how to
/// install it.
fn logger(args: &[&str]) {
    let found = ["/usr/bin/logger", "/bin/logger"]
        .iter()
        .any(|p| Path::new(p).is_file());
    assert!(
        found,
        "logger not found: install the Debian package util-linux (scripts/setup.sh does it)"
    );
    let out = Command::new("logger")
        .args(args)
        .output()
        .expect("logger runs");
    assert!(
        out.status.success(),
        "logger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_over_udp_and_tcp_in_both_formats_is_counted_by_severity() {
    let mut p = probe(
        "type = \"syslog\"\nlisten_udp = \"127.0.0.1:0\"\nlisten_tcp = \"127.0.0.1:0\"\n\
         [[pattern]]\nname = \"link_down\"\nregex = 'changed state to down'\n\
         [[pattern]]\nname = \"disk\"\nregex = '(?i)disk (full|failed)'\n",
    );
    let first = collect(&mut p).await;
    assert!(
        first.contains(&"syslog_up{transport=\"udp\"} 1".to_owned()),
        "{first:?}"
    );
    let (udp, tcp) = p.local_addrs();
    let (udp, tcp) = (udp.expect("udp bound"), tcp.expect("tcp bound"));
    let (udp_port, tcp_port) = (udp.port().to_string(), tcp.port().to_string());
    let udp_args = [
        "--server",
        "127.0.0.1",
        "--port",
        udp_port.as_str(),
        "--udp",
    ];
    let tcp_args = [
        "--server",
        "127.0.0.1",
        "--port",
        tcp_port.as_str(),
        "--tcp",
    ];

    let sends: [(&[&str], &[&str]); 6] = [
        (
            &udp_args,
            &[
                "--rfc3164",
                "-p",
                "local7.err",
                "-t",
                "sw",
                "Interface Gi0/1, changed state to down",
            ],
        ),
        (
            &udp_args,
            &[
                "--rfc5424",
                "-p",
                "daemon.crit",
                "-t",
                "array",
                "--sd-id",
                "zoo@123",
                "--sd-param",
                "tiger=\"hungry\"",
                "disk failed in shelf 2",
            ],
        ),
        (
            &udp_args,
            &["--rfc5424=notq,nohost", "-p", "user.info", "plain info"],
        ),
        (
            &tcp_args,
            &[
                "--rfc5424",
                "-p",
                "local0.warning",
                "-t",
                "fw",
                "Interface Te1/1, changed state to down",
            ],
        ),
        (
            &tcp_args,
            &[
                "--rfc3164",
                "--octet-count",
                "-p",
                "local0.err",
                "-t",
                "nas",
                "Disk full on /vol1",
            ],
        ),
        (
            &tcp_args,
            &[
                "--rfc5424",
                "--octet-count",
                "-p",
                "kern.emerg",
                "-t",
                "ups",
                "on battery",
            ],
        ),
    ];
    for (transport, args) in sends {
        let all: Vec<&str> = transport.iter().chain(args.iter()).copied().collect();
        logger(&all);
    }
    assert!(
        p.wait_handled(6, Duration::from_secs(20)).await,
        "only {} of 6 messages arrived",
        p.handled()
    );
    let r = collect(&mut p).await;
    let d = "device=\"127.0.0.1\"";
    for line in [
        format!("syslog_messages_total{{{d},severity=\"err\"}} 2"),
        format!("syslog_messages_total{{{d},severity=\"crit\"}} 1"),
        format!("syslog_messages_total{{{d},severity=\"info\"}} 1"),
        format!("syslog_messages_total{{{d},severity=\"warning\"}} 1"),
        format!("syslog_messages_total{{{d},severity=\"emerg\"}} 1"),
        format!("syslog_pattern_matches{{{d},pattern=\"link_down\"}} 2"),
        format!("syslog_pattern_matches{{{d},pattern=\"disk\"}} 2"),
        "syslog_devices 1".to_owned(),
    ] {
        assert!(r.contains(&line), "{line} missing from {r:#?}");
    }
    assert!(
        !r.iter().any(|s| s.starts_with("syslog_dropped_total")),
        "nothing logger sends is dropped: {r:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_hostname_names_the_device_when_configured() {
    let config: SyslogConfig = match toml::from_str::<ProbeConfig>(
        "type = \"syslog\"\nlisten_udp = \"127.0.0.1:0\"\ndevice_from = \"hostname\"\n",
    )
    .expect("parses")
    {
        ProbeConfig::Syslog(c) => c,
        other => panic!("{other:?}"),
    };
    let mut p = SyslogProbe::new(&config).expect("builds");
    collect(&mut p).await;
    let port = p.local_addrs().0.expect("bound").port().to_string();
    // logger writes the machine's host name into the message (RFC 3164 and 5424 alike).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned();
    logger(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--udp",
        "--rfc3164",
        "hello",
    ]);
    logger(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--udp",
        "--rfc5424",
        "hello",
    ]);
    assert!(p.wait_handled(2, Duration::from_secs(20)).await);
    let r = collect(&mut p).await;
    let line = format!("syslog_messages_total{{device=\"{host}\",severity=\"notice\"}} 2");
    assert!(r.contains(&line), "{line} missing from {r:#?}");
}
