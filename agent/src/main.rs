//! `patrol-agent --config FILE [--once | --facts | --check]`. SIGHUP reloads the config file; SIGTERM
//! and Ctrl-C stop the agent after a short drain (what is not acknowledged stays in the spool).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use patrol_agent::logging::LogFormat;
use patrol_agent::{Agent, AgentConfig};

/// The version and the commit it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PATROL_COMMIT"), ")");

/// Patrol host agent: runs the configured probes and streams their samples to the collector.
#[derive(Parser, Debug)]
#[command(version = VERSION, about)]
struct Cli {
    /// Agent configuration file (TOML).
    #[arg(
        long,
        short,
        env = "PATROL_AGENT_CONFIG",
        required_unless_present = "generate_docs"
    )]
    config: Option<PathBuf>,
    /// Collect one round of every probe, print it in the Prometheus text format and exit.
    #[arg(long)]
    once: bool,
    /// Gather the inventory's facts once (this host, the devices the snmp probes poll),
    /// print them as `key = value` lines and exit.
    #[arg(long)]
    facts: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Log format on stderr: text (coloured only on a terminal) or json (one object per line).
    #[arg(long, value_enum, default_value_t, env = "PATROL_LOG_FORMAT")]
    log_format: LogFormat,
    /// Write the man page and shell completions into DIR and exit (packaging).
    #[arg(long, hide = true, value_name = "DIR")]
    generate_docs: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(dir) = &cli.generate_docs {
        use clap::CommandFactory;
        for file in patrol_agent::docs::write(Cli::command(), dir)? {
            println!("{}", file.display());
        }
        return Ok(());
    }
    patrol_agent::logging::init(cli.log_format);
    let Some(config) = cli.config.clone() else {
        anyhow::bail!("--config is required");
    };
    let path = config.display().to_string();
    let settings = match AgentConfig::load(&config).and_then(|c| c.settle(&path)) {
        Ok(s) => s,
        Err(e) => {
            for line in e.lines() {
                eprintln!("patrol-agent: {line}");
            }
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
    if cli.facts {
        let facts =
            patrol_agent::inventory::gather(&settings, &patrol_proto::facts::Facts::default())
                .await;
        print!("{}", patrol_agent::inventory::text(&facts));
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
        probes = settings.probes.len(), spool = ?settings.spool.as_ref().map(|s| &s.dir),
        "patrol-agent starting");
    // Handlers first: a SIGHUP during the start must not kill the agent.
    let mut signals = Signals::new()?;
    let agent = Agent::start(settings).context("starting the agent")?;
    loop {
        match signals.next().await {
            Signal::Stop => break,
            Signal::Reload => reload(&agent, &config, &path),
        }
    }
    tracing::info!("shutting down; delivering pending samples for up to 5s");
    agent.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Re-reads the config file and applies it; on any error the agent keeps what it runs on.
fn reload(agent: &Agent, file: &std::path::Path, path: &str) {
    tracing::info!(config = %path, "SIGHUP: reloading the configuration");
    let settings = match AgentConfig::load(file).and_then(|c| c.settle(path)) {
        Ok(s) => s,
        Err(e) => {
            for line in e.lines() {
                tracing::error!("reload refused, keeping the running configuration: {line}");
            }
            agent.count_reload_failure();
            return;
        }
    };
    match agent.reload(settings) {
        Ok(r) => tracing::info!(
            probes_added = r.probes_added,
            probes_removed = r.probes_removed,
            probes_kept = r.probes_kept,
            reconnect = r.reconnect,
            "configuration reloaded"
        ),
        Err(e) => tracing::error!("reload refused, keeping the running configuration: {path}: {e}"),
    }
}

enum Signal {
    Stop,
    Reload,
}

/// SIGTERM / Ctrl-C stop, SIGHUP reloads.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
                hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop,
                _ = self.term.recv() => Signal::Stop,
                _ = self.hup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}
