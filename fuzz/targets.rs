//! The fuzz targets' bodies: each takes arbitrary bytes the way Patrol meets them from outside,
//! and must neither panic nor hang. Shared by the cargo-fuzz targets (fuzz_targets/) and the
//! stable replay of the corpus and regressions (tests/tests/fuzz_corpus.rs).
#![allow(dead_code)]

use prost::Message as _;

/// The gRPC wire: agent and collector messages, and the label conversion ingest applies.
pub fn wire_decode(data: &[u8]) {
    use patrol_proto::v1;
    if let Ok(m) = v1::AgentMessage::decode(data) {
        match m.msg {
            Some(v1::agent_message::Msg::Hello(h)) => {
                let _ = patrol_proto::convert::labels_from_wire(&h.labels);
            }
            Some(v1::agent_message::Msg::Batch(b)) => {
                for s in &b.series {
                    let _ = patrol_proto::convert::labels_from_wire(&s.labels);
                }
            }
            // What ingest does with a facts message: the bounds check.
            Some(v1::agent_message::Msg::Facts(f)) => {
                let _ = patrol_proto::facts::check(&f);
            }
            None => {}
        }
    }
    let _ = v1::CollectorMessage::decode(data);
    let _ = v1::IncidentEvent::decode(data);
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A rule file, checked against the default levels.
pub fn rule_file(data: &[u8]) {
    if let Some(src) = text(data) {
        let _ = patrol_rules::file::parse_rules("fuzz.toml", src, &patrol_rules::Levels::default());
    }
}

/// A site file.
pub fn site_file(data: &[u8]) {
    if let Some(src) = text(data) {
        let _ = patrol_site::parse_site("fuzz.toml", src);
    }
}

/// An agent config file, parsed and checked (settle) as the agent does at start.
pub fn agent_config(data: &[u8]) {
    if let Some(src) = text(data)
        && let Ok(cfg) =
            patrol_agent::config::parse_toml::<patrol_agent::AgentConfig>("fuzz.toml", src)
    {
        // A config naming files (token, TLS) would make this read them: only keys that
        // touch nothing outside are settled.
        if !src.contains("_file") && !src.contains("state_dir") && !src.contains("spool") {
            let _ = cfg.settle("fuzz.toml");
        }
    }
}

/// A WebLogic log record (server log, domain log, stdout format).
pub fn weblogic_record(data: &[u8]) {
    use patrol_probes::weblogic::parse;
    let _ = parse::parse(data);
    let _ = parse::mentions_out_of_memory(data);
    if let patrol_probes::tail::RecordStart::Regex(start) = parse::record_start() {
        for line in data.split(|b| *b == b'\n') {
            let _ = start.is_match(line);
        }
    }
}

/// An Oracle alert log line (ORA- codes and their labels).
pub fn alert_log_line(data: &[u8]) {
    for code in patrol_probes::oracle::alert_log::ora_codes(data) {
        let _ = patrol_probes::oracle::alert_log::code_label(code);
    }
}

/// An SNMP message as a device would answer (v1/v2c/v3 BER), its values read as the profiles do.
pub fn snmp_message(data: &[u8]) {
    let bytes = bytes::Bytes::copy_from_slice(data);
    if let Ok(outcome) =
        async_snmp::message::Message::decode(bytes, async_snmp::DecodeConfig::default())
        && let Some(pdu) = outcome.value.pdu()
    {
        for vb in pdu.varbinds() {
            let v = patrol_probes::snmp::wire_value(&vb.value);
            let _ = (v.number(), v.int(), v.text());
        }
    }
    if let Some(src) = text(data) {
        for (_, v) in patrol_probes::snmp::parse_snmprec(src) {
            let _ = (v.number(), v.int(), v.text());
        }
    }
}

/// A syslog message as a device sends it (RFC 3164 or 5424), framed as TCP carries it
/// (octet counting or newline-delimited).
pub fn syslog_message(data: &[u8]) {
    let _ = patrol_probes::syslog::parse::parse(data);
    let mut framer = patrol_probes::syslog::Framer::new(4096);
    let mut frames = Vec::new();
    for part in data.chunks(7) {
        framer.push(part, &mut frames);
    }
    framer.finish(&mut frames);
}

/// An SNMP trap or inform datagram (v1, v2c, v3), decoded by the trap receiver with a
/// community and no v3 users, then with the datagram's own bytes as an unknown engine.
pub fn snmp_trap(data: &[u8]) {
    use patrol_probes::snmp_trap::decode::{Security, decode};
    let mut security = Security::new(
        vec![async_snmp::Community::new(bytes::Bytes::from_static(
            b"public",
        ))],
        std::collections::HashMap::new(),
    );
    let _ = decode(data, &mut security, 0);
    let _ = decode(data, &mut security, i64::MAX);
}
