//! Config checks and the receiver on a real socket in this process (captured datagrams,
//! hostile input). The tests with net-snmp's `snmptrap` / `snmpinform` as senders are in
//! `probes/tests/snmp_trap.rs`; the decoder's own in `decode/tests.rs`.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

fn config(text: &str) -> SnmpTrapConfig {
    match parse_section(text).expect("parses") {
        crate::ProbeConfig::SnmpTrap(c) => c,
        other => panic!("not snmp_trap: {other:?}"),
    }
}

async fn collect(p: &mut SnmpTrapProbe) -> Vec<String> {
    let mut out = Vec::new();
    p.collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("round");
    assert_cataloged(&out);
    out.iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect()
}

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn sample_toml_is_valid_and_builds_without_binding() {
    for c in crate::sample_out::sample_probes_with_options(include_str!("sample.toml")) {
        crate::sample_out::build_sample(&c);
    }
    let c = config("type = \"snmp_trap\"\ncommunities = [\"public\"]\n");
    assert_eq!(c.listen, "0.0.0.0:162");
    assert_eq!(c.interval, Duration::from_secs(10));
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let err = parse_section("type = \"snmp_trap\"\ncomunities = []\n").unwrap_err();
    assert!(err.to_string().contains("comunities"), "{err}");
    let c = config(
        "type = \"snmp_trap\"\nlisten = \"localhost:162\"\n\
         [[user]]\nname = \"u\"\nauth_protocol = \"sha\"\nauth_password = \"short\"\n\
         [[user]]\nname = \"v\"\npriv_protocol = \"aes\"\npriv_password = \"privpass123\"\n\
         [[trap]]\noid = \"CISCO-CONFIG-MAN-MIB::ciscoConfigManEvent\"\nname = \"config changed\"\n",
    );
    let err = SnmpTrapProbe::new(&c).unwrap_err().to_string();
    for needle in [
        "listen: \"localhost:162\" is not IP:port",
        "user[0].auth_password: must be at least 8 characters",
        "user[1].priv_protocol: privacy needs authentication too",
        "trap[0].name: \"config changed\"",
        "trap[0].oid: \"CISCO-CONFIG-MAN-MIB::ciscoConfigManEvent\" is not a numeric OID",
    ] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
    let err = SnmpTrapProbe::new(&config("type = \"snmp_trap\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("accept at least one community"), "{err}");
}

#[test]
fn link_index_comes_from_if_index_or_the_column_index() {
    let by_value = [(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 9], Val::Int(9))];
    assert_eq!(link_index(&by_value), Some(9));
    let by_column = [(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 8, 12], Val::Int(2))];
    assert_eq!(link_index(&by_column), Some(12));
    assert_eq!(
        link_index(&[(vec![1, 3, 6, 1, 4, 1, 9], Val::Int(1))]),
        None
    );
}

#[tokio::test]
async fn captured_traps_become_samples_and_garbage_is_counted() {
    let mut p = SnmpTrapProbe::new(&config(
        "type = \"snmp_trap\"\nlisten = \"127.0.0.1:0\"\ncommunities = [\"public\"]\n\
         [device_names]\n\"127.0.0.1\" = \"lab-sw\"\n\
         [[trap]]\noid = \"1.3.6.1.4.1.9.9.43.2.0.1\"\nname = \"ciscoConfigManEvent\"\n",
    ))
    .unwrap();
    let first = collect(&mut p).await;
    assert!(first.contains(&"snmp_trap_up 1".to_owned()), "{first:?}");
    let to = p.local_addr().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for d in [
        hex(include_str!("testdata/v2c_linkdown.hex")),
        hex(include_str!("testdata/v1_linkdown.hex")),
        hex(include_str!("testdata/v2c_inform_linkup.hex")),
        hex(include_str!("testdata/v2c_get.hex")),
        b"\x30\x03\x02\x01".to_vec(),
        Vec::new(),
    ] {
        sender.send_to(&d, to).await.unwrap();
    }
    assert!(
        p.wait_handled(6, Duration::from_secs(10)).await,
        "{}",
        p.handled()
    );
    let r = collect(&mut p).await;
    for line in [
        "snmp_traps_total{device=\"lab-sw\",trap=\"linkDown\"} 2",
        "snmp_traps{device=\"lab-sw\",trap=\"linkUp\"} 1",
        "snmp_trap_if_oper_up{device=\"lab-sw\",ifindex=\"7\"} 1",
        "snmp_trap_if_oper_up{device=\"lab-sw\",ifindex=\"3\"} 0",
        "snmp_trap_dropped_total{reason=\"not_notification\"} 1",
        "snmp_trap_dropped_total{reason=\"malformed\"} 2",
        "snmp_trap_devices 1",
    ] {
        assert!(r.contains(&line.to_owned()), "{line} missing from {r:#?}");
    }
    // The inform was answered: its Response came back to the sender.
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), sender.recv_from(&mut buf))
        .await
        .expect("the inform's response arrives")
        .unwrap();
    let response = async_snmp::message::CommunityMessage::decode(
        buf[..n].to_vec().into(),
        async_snmp::DecodeConfig::DEFAULT,
    )
    .unwrap()
    .value;
    assert_eq!(
        response.pdu().pdu_type(),
        async_snmp::pdu::PduType::Response
    );
    let r = collect(&mut p).await;
    assert!(r.contains(&"snmp_traps{device=\"lab-sw\",trap=\"linkUp\"} 0".to_owned()));
}
