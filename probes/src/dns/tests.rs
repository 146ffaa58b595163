//! The dns probe against a real DNS server on loopback: a small UDP responder written here
//! with hickory-proto's message types (a zone of three names, an NXDOMAIN, and a name it never
//! answers), and the system resolver through /etc/hosts.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX};
use hickory_resolver::proto::rr::{Name, Record};
use tokio::net::UdpSocket;

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

async fn serve_zone() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(question) = request.queries.first().cloned() else {
                continue;
            };
            let name = question.name().to_string();
            let mut response = Message::response(request.metadata.id, request.metadata.op_code);
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            response.add_query(question.clone());
            let owner = question.name().clone();
            match (name.as_str(), question.query_type()) {
                ("erp.test.", RecordType::A) => {
                    for last in [10, 11] {
                        response.add_answer(Record::from_rdata(
                            owner.clone(),
                            60,
                            RData::A(A(Ipv4Addr::new(10, 0, 0, last))),
                        ));
                    }
                }
                ("test.", RecordType::MX) => {
                    response.add_answer(Record::from_rdata(
                        owner.clone(),
                        60,
                        RData::MX(MX::new(10, Name::from_str("Mail.Test.").unwrap())),
                    ));
                }
                ("erp.test.", _) => {} // exists, no record of that type
                ("hang.test.", _) => continue,
                _ => response.metadata.response_code = ResponseCode::NXDomain,
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

async fn check(section: &str) -> Vec<Sample> {
    let config = match parse_section(section).unwrap() {
        crate::ProbeConfig::Dns(c) => c,
        other => panic!("not dns: {other:?}"),
    };
    let mut probe = DnsProbe::new(&config).unwrap();
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .unwrap();
    assert_cataloged(&out);
    out
}

fn value(out: &[Sample], name: &str) -> Option<f64> {
    out.iter().find(|s| s.name == name).map(|s| s.value)
}

#[tokio::test]
async fn answers_count_and_expected_addresses() {
    let server = serve_zone().await;
    let out = check(&format!(
        "type = \"dns\"\nquery = \"erp.test.\"\nserver = \"{server}\"\nexpect = [\"10.0.0.11\"]\n"
    ))
    .await;
    assert_eq!(value(&out, "dns_up"), Some(1.0), "{out:#?}");
    assert_eq!(value(&out, "dns_answers"), Some(2.0));
    assert_eq!(value(&out, "dns_expected_ok"), Some(1.0));
    assert!(value(&out, "dns_duration_ms").unwrap() > 0.0);
    assert_eq!(
        out[0].labels.get("server"),
        Some(server.to_string().as_str())
    );
    assert_eq!(out[0].labels.get("target"), Some("erp.test."));

    // A wrong address is expected: answered, but not up.
    let out = check(&format!(
        "type = \"dns\"\nquery = \"erp.test.\"\nserver = \"{server}\"\nexpect = [\"10.0.0.99\"]\nprotocol = \"udp\"\n"
    ))
    .await;
    assert_eq!(value(&out, "dns_up"), Some(0.0));
    assert_eq!(value(&out, "dns_answers"), Some(2.0));
    assert_eq!(value(&out, "dns_expected_ok"), Some(0.0));
}

#[tokio::test]
async fn other_types_nxdomain_nodata_and_silence() {
    let server = serve_zone().await;
    let out = check(&format!(
        "type = \"dns\"\nquery = \"test.\"\nrecord_type = \"mx\"\nserver = \"{server}\"\nexpect = [\"mail.test\"]\n"
    ))
    .await;
    assert_eq!(value(&out, "dns_up"), Some(1.0), "{out:#?}");
    assert_eq!(
        value(&out, "dns_expected_ok"),
        Some(1.0),
        "case and final dot do not matter"
    );

    for (query, rtype) in [("nope.test.", "A"), ("erp.test.", "AAAA")] {
        let out = check(&format!(
            "type = \"dns\"\nquery = \"{query}\"\nrecord_type = \"{rtype}\"\nserver = \"{server}\"\n"
        ))
        .await;
        assert_eq!(value(&out, "dns_up"), Some(0.0), "{query} {rtype}");
        assert_eq!(value(&out, "dns_answers"), Some(0.0), "{query} {rtype}");
        assert_eq!(
            value(&out, "dns_expected_ok"),
            None,
            "no expect, no dns_expected_ok"
        );
    }

    let out = check(&format!(
        "type = \"dns\"\nquery = \"hang.test.\"\nserver = \"{server}\"\ntimeout = \"300ms\"\n"
    ))
    .await;
    assert_eq!(value(&out, "dns_up"), Some(0.0));
}

/// The system resolver consults /etc/hosts first, as applications do: `localhost` is there
/// on every machine.
#[tokio::test]
async fn system_resolver_reads_the_hosts_file() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(
        hosts.contains("localhost"),
        "/etc/hosts has no localhost line"
    );
    let out = check("type = \"dns\"\nquery = \"localhost\"\nexpect = [\"127.0.0.1\"]\n").await;
    assert_eq!(value(&out, "dns_up"), Some(1.0), "{out:#?}");
    assert_eq!(out[0].labels.get("server"), Some("system"));
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_configs_are_named() {
    let err = match parse_section(
        "type = \"dns\"\nquery = \"a b\"\nrecord_type = \"AXFR\"\nserver = \"dns.example\"\nexpect = [\"x\"]\ntimeout = \"1m\"\n",
    )
    .unwrap()
    {
        crate::ProbeConfig::Dns(c) => DnsProbe::new(&c).unwrap_err().to_string(),
        _ => unreachable!(),
    };
    for part in [
        "query:",
        "record_type: 'AXFR'",
        "server: 'dns.example'",
        "timeout:",
    ] {
        assert!(err.contains(part), "{part} missing from {err}");
    }
    let err =
        match parse_section("type = \"dns\"\nquery = \"x\"\nexpect = [\"not-an-ip\"]\n").unwrap() {
            crate::ProbeConfig::Dns(c) => DnsProbe::new(&c).unwrap_err().to_string(),
            _ => unreachable!(),
        };
    assert!(err.contains("expect: 'not-an-ip'"), "{err}");
}
