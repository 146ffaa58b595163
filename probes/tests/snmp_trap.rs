//! The trap receiver with net-snmp's tools as the real senders: `snmptrap -v 1`, `-v 2c`,
//! `-v 3 -l authPriv` (with the tool's own engine ID, as a device would use its own) and
//! `snmpinform -v 2c`, which exits 0 only when the receiver acknowledged the inform.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use patrol_probes::snmp_trap::SnmpTrapProbe;
use patrol_probes::{CollectContext, Probe, ProbeConfig};

fn probe(text: &str) -> SnmpTrapProbe {
    match toml::from_str::<ProbeConfig>(text).expect("parses") {
        ProbeConfig::SnmpTrap(c) => SnmpTrapProbe::new(&c).expect("builds"),
        other => panic!("not snmp_trap: {other:?}"),
    }
}

async fn collect(p: &mut SnmpTrapProbe) -> Vec<String> {
    let mut out = Vec::new();
    p.collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("round");
    out.iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect()
}

/// Runs a net-snmp tool (MIBs off, numeric OIDs) in its own temp home, so a developer's
/// ~/.snmp does not change what it sends; returns whether it exited 0.
fn net_snmp(tool: &str, args: &[&str]) -> (bool, String) {
    assert!(
        Path::new("/usr/bin").join(tool).is_file(),
        "{tool} not found: install the Debian package snmp (scripts/setup.sh does it)"
    );
    let home = tempfile::tempdir().expect("temp home");
    let out = Command::new(tool)
        .args(["-m", ""])
        .args(args)
        .env("HOME", home.path())
        .env("SNMP_PERSISTENT_DIR", home.path())
        .env("MIBS", "")
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn net_snmp_traps_v1_v2c_v3_and_a_v2c_inform_are_received() {
    let mut p = probe(
        "type = \"snmp_trap\"\nlisten = \"127.0.0.1:0\"\ncommunities = [\"public\"]\n\
         [[user]]\nname = \"patroltrap\"\nauth_protocol = \"sha\"\nauth_password = \"authpass123\"\n\
         priv_protocol = \"aes\"\npriv_password = \"privpass123\"\n\
         [[trap]]\noid = \"1.3.6.1.2.1.33.2.1\"\nname = \"upsTrapOnBattery\"\n",
    );
    assert!(collect(&mut p).await.contains(&"snmp_trap_up 1".to_owned()));
    let to = format!("127.0.0.1:{}", p.local_addr().expect("bound").port());
    let to = to.as_str();

    let sends: [(&str, Vec<&str>); 5] = [
        // A switch port going down (v2c) and coming up (v1, generic trap 3).
        (
            "snmptrap",
            vec![
                "-v",
                "2c",
                "-c",
                "public",
                to,
                "",
                "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.7",
                "i",
                "7",
                "1.3.6.1.2.1.2.2.1.8.7",
                "i",
                "2",
            ],
        ),
        (
            "snmptrap",
            vec![
                "-v",
                "1",
                "-c",
                "public",
                to,
                "1.3.6.1.4.1.9",
                "192.0.2.1",
                "3",
                "0",
                "",
                "1.3.6.1.2.1.2.2.1.1.7",
                "i",
                "7",
            ],
        ),
        // A UPS on battery, v3 authPriv (SHA + AES), the tool's own engine ID.
        (
            "snmptrap",
            vec![
                "-v",
                "3",
                "-l",
                "authPriv",
                "-u",
                "patroltrap",
                "-a",
                "SHA",
                "-A",
                "authpass123",
                "-x",
                "AES",
                "-X",
                "privpass123",
                to,
                "",
                "1.3.6.1.2.1.33.2.1",
            ],
        ),
        // A wrong community and a wrong v3 key: dropped, with their reasons.
        (
            "snmptrap",
            vec!["-v", "2c", "-c", "guess", to, "", "1.3.6.1.6.3.1.1.5.1"],
        ),
        (
            "snmptrap",
            vec![
                "-v",
                "3",
                "-l",
                "authPriv",
                "-u",
                "patroltrap",
                "-a",
                "SHA",
                "-A",
                "wrongpass1",
                "-x",
                "AES",
                "-X",
                "privpass123",
                to,
                "",
                "1.3.6.1.6.3.1.1.5.1",
            ],
        ),
    ];
    for (tool, args) in &sends {
        let (ok, err) = net_snmp(tool, args);
        assert!(ok, "{tool} {args:?}: {err}");
    }
    // snmpinform succeeds only if our Response reaches it.
    let (ok, err) = net_snmp(
        "snmpinform",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            "-t",
            "5",
            "-r",
            "0",
            to,
            "",
            "1.3.6.1.6.3.1.1.5.1",
        ],
    );
    assert!(ok, "snmpinform got no response: {err}");
    assert!(
        p.wait_handled(6, Duration::from_secs(20)).await,
        "only {} of 6 datagrams arrived",
        p.handled()
    );
    let r = collect(&mut p).await;
    let d = "device=\"127.0.0.1\"";
    for line in [
        format!("snmp_traps_total{{{d},trap=\"linkDown\"}} 1"),
        format!("snmp_traps_total{{{d},trap=\"linkUp\"}} 1"),
        format!("snmp_traps{{{d},trap=\"upsTrapOnBattery\"}} 1"),
        format!("snmp_traps{{{d},trap=\"coldStart\"}} 1"),
        // linkDown then linkUp for ifIndex 7: up.
        format!("snmp_trap_if_oper_up{{{d},ifindex=\"7\"}} 1"),
        "snmp_trap_dropped_total{reason=\"community\"} 1".to_owned(),
        "snmp_trap_dropped_total{reason=\"wrong_digest\"} 1".to_owned(),
    ] {
        assert!(r.contains(&line), "{line} missing from {r:#?}");
    }
}
