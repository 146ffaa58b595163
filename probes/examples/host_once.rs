//! Runs the host probe once with its defaults and prints the samples in exposition format:
//! `cargo run -p patrol-probes --example host_once`. Handy to compare with `df`, `free`, `top`.

use patrol_probes::{CollectContext, ProbeConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config: ProbeConfig = toml::from_str("type = \"host\"")?;
    let mut probe = config.build(&patrol_probes::BuildContext::new(std::env::temp_dir()))?;
    let mut samples = Vec::new();
    let ctx = CollectContext {
        now_ms: patrol_proto::model::now_ms(),
    };
    probe.collect(ctx, &mut samples).await?;
    for s in samples {
        println!("{}{} {}", s.name, s.labels, s.value);
    }
    Ok(())
}
