//! `patrol-collector [--config FILE] [--listen ADDR] [--http ADDR] [--rules DIR] [--data DIR]
//! [--site FILE] [--local-agent] [--log-format text|json]`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use patrol_agent::logging::LogFormat;
use patrol_collector::config::CollectorConfig;

/// The version and the commit it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PATROL_COMMIT"), ")");

/// Patrol collector: receives agent streams, checks samples against rule files, and turns
/// breaches into incidents that `patrolctl tail` shows live.
#[derive(Parser, Debug)]
#[command(version = VERSION, about)]
struct Cli {
    /// Configuration file (TOML); flags below override it.
    #[arg(long, short, env = "PATROL_COLLECTOR_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:7070]; port 0 picks a free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// HTTP listen address for /metrics and /healthz [default: 127.0.0.1:7071].
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Rules directory [default: /etc/patrol/rules].
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Data directory for the incident database [default: /var/lib/patrol].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Site file: levels, calendars, escalation, maintenance [default: built-in P1–P4, 7×24].
    #[arg(long)]
    site: Option<PathBuf>,
    /// Also run an agent for this host inside the collector (host probe every 10 s unless the
    /// config file's [agent] section says otherwise).
    #[arg(long)]
    local_agent: bool,
    /// Log format on stderr: text (coloured only on a terminal) or json (one object per line).
    #[arg(long, value_enum, default_value_t, env = "PATROL_LOG_FORMAT")]
    log_format: LogFormat,
    /// Write the man page and shell completions into DIR and exit (packaging).
    #[arg(long, hide = true, value_name = "DIR")]
    generate_docs: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Some(dir) = &cli.generate_docs {
        use clap::CommandFactory;
        match patrol_agent::docs::write(Cli::command(), dir) {
            Ok(files) => files.iter().for_each(|f| println!("{}", f.display())),
            Err(e) => {
                eprintln!("patrol-collector: {}: {e}", dir.display());
                std::process::exit(1);
            }
        }
        return;
    }
    patrol_agent::logging::init(cli.log_format);
    if let Err(e) = run(cli).await {
        eprintln!("patrol-collector: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut cfg = match &cli.config {
        Some(p) => CollectorConfig::load(p)?,
        None => CollectorConfig::default(),
    };
    cfg.listen = cli.listen.or(cfg.listen);
    cfg.http = cli.http.or(cfg.http);
    cfg.rules = cli.rules.or(cfg.rules);
    cfg.data = cli.data.or(cfg.data);
    cfg.site = cli.site.or(cfg.site);
    cfg.local_agent |= cli.local_agent;
    let origin = cli
        .config
        .as_ref()
        .map_or_else(|| "command line".to_owned(), |p| p.display().to_string());
    let settings = cfg.settle(&origin)?;
    let running = patrol_collector::server::start(settings).await?;
    // Before the listening line: a TERM sent as soon as it appears must stop the collector
    // cleanly, not meet the default action (killed before its logs are written).
    let stop = shutdown_signal();
    // One machine-readable line on stdout, so scripts and tests that bind port 0 learn the
    // real addresses.
    println!(
        "patrol-collector listening grpc={} http={}",
        running.grpc_addr, running.http_addr
    );
    tracing::info!(grpc = %running.grpc_addr, http = %running.http_addr, "patrol-collector ready");
    stop.await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// it is first awaited.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
