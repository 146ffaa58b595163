//! `patrol-agent --config FILE [--once]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use patrol_agent::{Agent, AgentConfig};

/// Patrol host agent: runs the configured probes and streams their samples to the collector.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Agent configuration file (TOML).
    #[arg(long, short, env = "PATROL_AGENT_CONFIG")]
    config: PathBuf,
    /// Collect one round of every probe, print it in the Prometheus text format and exit.
    #[arg(long)]
    once: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PATROL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let path = cli.config.display().to_string();
    let settings = match AgentConfig::load(&cli.config).and_then(|c| c.settle(&path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("patrol-agent: {e}");
            std::process::exit(2);
        }
    };
    if cli.check {
        // Building runs each probe's own checks (target lists, ranges, patterns) without
        // collecting anything, so --check catches what the agent would refuse at start.
        // Nothing is persisted: a check beside the running agent must not touch its state.
        let ctx = patrol_probes::BuildContext {
            state_dir: settings.state_dir.clone(),
            persist_state: false,
        };
        for probe in &settings.probes {
            if let Err(e) = probe.build(&ctx) {
                eprintln!("patrol-agent: {path}: probe '{}': {e}", probe.kind());
                std::process::exit(2);
            }
        }
        println!("{path}: ok ({} probes)", settings.probes.len());
        return Ok(());
    }
    if cli.once {
        let samples = patrol_agent::collect_once(&settings)
            .await
            .context("collecting")?;
        let mut text = String::new();
        patrol_proto::exposition::write_samples(
            &mut text,
            &samples,
            patrol_probes::catalog::help,
            false,
        )?;
        print!("{text}");
        return Ok(());
    }
    tracing::info!(agent_id = %settings.agent_id, collector = %settings.collector.address,
        probes = settings.probes.len(), "patrol-agent starting");
    let agent = Agent::start(settings).context("starting the agent")?;
    shutdown_signal().await;
    tracing::info!("shutting down; delivering pending samples for up to 5s");
    agent.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
