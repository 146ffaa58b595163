//! Walks a device's whole MIB tree once through the SNMP probe (GETBULK, the probe's session
//! and sample code) and prints how many samples came back and how long it took. Used by
//! `bench/snmp.sh` to compare with net-snmp's `snmpbulkwalk` on the same snmpsim.
//!
//! `cargo run --release -p patrol-probes --example snmp_walk_once -- 127.0.0.1:16100 public`

use std::time::Instant;

use patrol_probes::{BuildContext, CollectContext, ProbeConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(community)) = (args.next(), args.next()) else {
        return Err("usage: snmp_walk_once ADDRESS COMMUNITY".into());
    };
    let config: ProbeConfig = toml::from_str(&format!(
        "type = \"snmp\"\ninterval = \"60s\"\ntimeout = \"5s\"\nretries = 0\nmax_rows = 1000000\n\
         profiles = []\n[[custom]]\nname = \"walk_value\"\noid = \"1.3.6.1\"\ntype = \"gauge\"\n\
         [[device]]\nname = \"bench\"\naddress = \"{address}\"\ncommunity = \"{community}\"\n"
    ))?;
    // The SNMP probe keeps no state on disk; any directory will do.
    let mut probe = config.build(&BuildContext::new(std::env::temp_dir()))?;
    let started = Instant::now();
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: 0 }, &mut out)
        .await?;
    let elapsed = started.elapsed();
    let up = out.iter().find(|s| s.name == "snmp_up").map(|s| s.value);
    if up != Some(1.0) {
        return Err(format!("device did not answer (snmp_up {up:?})").into());
    }
    println!("{} {:.6}", out.len(), elapsed.as_secs_f64());
    Ok(())
}
