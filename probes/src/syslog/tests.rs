//! Config checks and the receiver on real sockets in this process (hostile input, limits,
//! bind failures, stopping). The tests with util-linux `logger` as the sender are in
//! `probes/tests/syslog.rs`.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{TcpStream, UdpSocket};

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

fn config(text: &str) -> SyslogConfig {
    match parse_section(text).expect("parses") {
        crate::ProbeConfig::Syslog(c) => c,
        other => panic!("not syslog: {other:?}"),
    }
}

fn probe(text: &str) -> SyslogProbe {
    SyslogProbe::new(&config(text)).expect("builds")
}

async fn collect(p: &mut SyslogProbe) -> Vec<String> {
    let mut out = Vec::new();
    p.collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("round");
    assert_cataloged(&out);
    out.iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect()
}

fn has(samples: &[String], line: &str) -> bool {
    samples.iter().any(|s| s == line)
}

const BOTH: &str =
    "type = \"syslog\"\nlisten_udp = \"127.0.0.1:0\"\nlisten_tcp = \"127.0.0.1:0\"\n";

#[test]
fn sample_toml_is_valid_and_builds_without_binding() {
    for c in crate::sample_out::sample_probes_with_options(include_str!("sample.toml")) {
        // Building must not take the ports (`patrol-agent --check` builds every probe
        // beside the running agent): the sample's 5514 stays free.
        crate::sample_out::build_sample(&c);
    }
    let c = config("type = \"syslog\"\nlisten_udp = \"0.0.0.0:514\"\n");
    assert_eq!(c.interval, Duration::from_secs(10));
    assert_eq!(c.max_message_bytes, 8192);
    assert_eq!(c.max_devices, 1000);
    assert_eq!(c.device_from, DeviceFrom::Address);
}

#[test]
fn unknown_keys_and_bad_values_are_reported_by_name() {
    let err = parse_section("type = \"syslog\"\nlisten_upd = \"0.0.0.0:514\"\n").unwrap_err();
    assert!(err.to_string().contains("listen_upd"), "{err}");
    let err = parse_section("type = \"syslog\"\nlisten_udp = \"x:1\"\nidle_timeout = \"soon\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("idle_timeout"), "{err}");
    let c = config(
        "type = \"syslog\"\nlisten_tcp = \"localhost:514\"\nmax_message_bytes = 100\n\
         max_devices = 0\n[device_names]\n\"not-an-ip\" = \"x\"\n\
         [[pattern]]\nname = \"a\"\nregex = \"(\"\n[[pattern]]\nname = \"a\"\nregex = \"x\"\n",
    );
    let err = c.validate().unwrap_err().to_string();
    for needle in [
        "listen_tcp: \"localhost:514\" is not IP:port",
        "max_message_bytes",
        "max_devices",
        "device_names: \"not-an-ip\"",
        "pattern[0].regex",
        "pattern[1].name: \"a\" is listed twice",
    ] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
    let err = config("type = \"syslog\"\n")
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("set at least one"), "{err}");
}

#[tokio::test]
async fn udp_messages_are_counted_and_hostile_datagrams_dropped() {
    let mut p = probe(&format!(
        "{BOTH}max_message_bytes = 512\n[device_names]\n\"127.0.0.1\" = \"lab-sw\"\n\
         [[pattern]]\nname = \"link_down\"\nregex = 'changed state to down'\n"
    ));
    let first = collect(&mut p).await;
    assert!(has(&first, "syslog_up{transport=\"udp\"} 1"), "{first:?}");
    assert!(has(&first, "syslog_up{transport=\"tcp\"} 1"), "{first:?}");
    let (udp, _) = p.local_addrs();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut long = b"<11>1 - - - - - - ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 4000));
    let datagrams: [&[u8]; 7] = [
        b"<187>Mar  1 00:02:11 sw %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
        b"<189>Mar  1 00:02:12 sw %SYS-5-CONFIG_I: Configured from console",
        b"no pri at all",
        b"<999>bad pri",
        b"<13>1 - host app - - [broken",
        b"",
        &long,
    ];
    for d in datagrams {
        sender.send_to(d, udp.unwrap()).unwrap();
    }
    assert!(
        p.wait_handled(7, Duration::from_secs(10)).await,
        "handled {}",
        p.handled()
    );
    let r = collect(&mut p).await;
    for line in [
        "syslog_messages_total{device=\"lab-sw\",severity=\"err\"} 2",
        "syslog_messages_total{device=\"lab-sw\",severity=\"notice\"} 1",
        "syslog_pattern_matches{device=\"lab-sw\",pattern=\"link_down\"} 1",
        "syslog_pattern_matches_total{device=\"lab-sw\",pattern=\"link_down\"} 1",
        "syslog_dropped_total{reason=\"malformed\",transport=\"udp\"} 4",
        "syslog_truncated_total{transport=\"udp\"} 1",
        "syslog_devices 1",
        "syslog_tcp_connections 0",
    ] {
        assert!(has(&r, line), "{line} missing from {r:?}");
    }
    // The next round: totals stay, the interval count is back to 0.
    let r = collect(&mut p).await;
    assert!(has(
        &r,
        "syslog_pattern_matches{device=\"lab-sw\",pattern=\"link_down\"} 0"
    ));
}

#[tokio::test]
async fn tcp_streams_are_framed_and_garbage_is_skipped() {
    let mut p = probe(&format!("{BOTH}device_from = \"hostname\"\n"));
    collect(&mut p).await;
    let (_, tcp) = p.local_addrs();
    let counted = b"<12>Dec  3 10:18:23 web02 root: octet counted";
    let mut stream = b"<13>1 - web01 app - - - framed by LF\nGET / HTTP/1.1\r\n".to_vec();
    stream.extend_from_slice(format!("{} ", counted.len()).as_bytes());
    stream.extend_from_slice(counted);
    stream.extend_from_slice(b"<14>Dec  3 10:18:24 web02 root: last, no LF");
    let mut conn = TcpStream::connect(tcp.unwrap()).unwrap();
    conn.write_all(&stream).unwrap();
    drop(conn);
    assert!(
        p.wait_handled(4, Duration::from_secs(10)).await,
        "handled {}",
        p.handled()
    );
    let r = collect(&mut p).await;
    for line in [
        "syslog_messages_total{device=\"web01\",severity=\"notice\"} 1",
        "syslog_messages_total{device=\"web02\",severity=\"warning\"} 1",
        "syslog_messages_total{device=\"web02\",severity=\"info\"} 1",
        "syslog_dropped_total{reason=\"framing\",transport=\"tcp\"} 1",
    ] {
        assert!(has(&r, line), "{line} missing from {r:?}");
    }
}

#[tokio::test]
async fn connections_and_devices_are_bounded() {
    let mut p = probe(&format!(
        "{BOTH}device_from = \"hostname\"\nmax_devices = 2\nmax_connections = 1\n"
    ));
    collect(&mut p).await;
    let (udp, tcp) = p.local_addrs();
    // The first connection holds the only slot; it proves it is served before the second
    // one is opened, so the refusal is not a race.
    let mut held = TcpStream::connect(tcp.unwrap()).unwrap();
    held.write_all(b"<13>1 - h1 app - - - first\n").unwrap();
    assert!(p.wait_handled(1, Duration::from_secs(10)).await);
    let mut refused = TcpStream::connect(tcp.unwrap()).unwrap();
    let _ = refused.write_all(b"<13>1 - h9 app - - - refused\n");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for host in ["h2", "h3", "h4", "h2"] {
        let m = format!("<13>1 - {host} app - - - hello");
        sender.send_to(m.as_bytes(), udp.unwrap()).unwrap();
    }
    // One held message, four datagrams and the refused connection.
    assert!(
        p.wait_handled(6, Duration::from_secs(10)).await,
        "handled {}",
        p.handled()
    );
    let r = collect(&mut p).await;
    for line in [
        "syslog_dropped_total{reason=\"connection_limit\",transport=\"tcp\"} 1",
        "syslog_tcp_connections 1",
        "syslog_devices 2",
        "syslog_device_overflow_total 2",
        "syslog_messages_total{device=\"_other\",severity=\"notice\"} 2",
        "syslog_messages_total{device=\"h2\",severity=\"notice\"} 2",
    ] {
        assert!(has(&r, line), "{line} missing from {r:?}");
    }
    assert!(!r.iter().any(|s| s.contains("h9")), "{r:?}");
}

#[tokio::test]
async fn a_taken_port_is_syslog_up_0_and_dropping_the_probe_frees_its_ports() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut p = probe(&format!(
        "type = \"syslog\"\nlisten_udp = \"127.0.0.1:{port}\"\n"
    ));
    let r = collect(&mut p).await;
    assert!(has(&r, "syslog_up{transport=\"udp\"} 0"), "{r:?}");
    // Freed: the next round binds.
    drop(taken);
    let r = collect(&mut p).await;
    assert!(has(&r, "syslog_up{transport=\"udp\"} 1"), "{r:?}");
    // The probe goes away (a reload removed it): its socket closes with it.
    drop(p);
    let mut rebound = None;
    for _ in 0..1000 {
        if let Ok(s) = UdpSocket::bind(("127.0.0.1", port)) {
            rebound = Some(s);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        rebound.is_some(),
        "port {port} still held after the probe was dropped"
    );
}
