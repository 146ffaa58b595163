//! Wires the collector together: store, rules, engine, gRPC and HTTP listeners, the pending
//! sweep, the rules watcher and the optional local agent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patrol_agent::Agent;
use patrol_proto::model::now_ms;
use patrol_proto::v1::{
    agents_server::AgentsServer, channels_server::ChannelsServer, history_server::HistoryServer,
    incidents_server::IncidentsServer, ingest_server::IngestServer, reports_server::ReportsServer,
    rules_server::RulesServer,
};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::agents::Registry;
use crate::api::Api;
use crate::auth::http::HttpPeer;
use crate::config::Settings;
use crate::core::{BUS_CAPACITY, Core};
use crate::engine::{Engine, Evaluated, NoHistory, WindowSource};
use crate::ingest::IngestService;
use crate::telemetry::Telemetry;
use patrol_site::Site;
use patrol_store::Store;

/// Largest gRPC message accepted (a full batch with its series definitions fits easily).
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// How often pending alerts are checked for an elapsed `for`.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Sweeps between two looks for agents gone longer than `forget_agent_after` (30 s).
const FORGET_EVERY_ROUNDS: u64 = 60;
/// How often deadlines and escalation steps are checked; also the most a step fires late.
const CLOCKS_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {0}: {1}{hint}", hint = permission_hint(.1))]
    DataDir(String, std::io::Error),
    #[error("incident store: {0}")]
    Store(#[from] patrol_store::StoreError),
    #[error("site file {path} has {} error(s):\n{}", .errors.len(), .errors.join("\n"))]
    Site { path: String, errors: Vec<String> },
    #[error("rules in {dir} have {} error(s):\n{}", .errors.len(), .errors.join("\n"))]
    Rules { dir: String, errors: Vec<String> },
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("{0}")]
    Tls(String),
    #[error("local agent: {0}")]
    Agent(String),
    #[error("{0}")]
    History(#[from] patrol_history::HistoryError),
    #[error(transparent)]
    Lock(#[from] crate::datalock::LockError),
    #[error("auth.operator_socket {0}: {1}")]
    Socket(String, std::io::Error),
}

/// What to do about a data directory this user may not write.
fn permission_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (the packaged collector runs as user patrol: start it with `sudo -u patrol`, or give \
         --data a directory you can write)"
    } else {
        ""
    }
}

/// A running collector.
pub struct Running {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub core: Arc<Core>,
    shutdown: watch::Sender<bool>,
    agent: Option<Agent>,
    _watcher: Option<notify::RecommendedWatcher>,
    /// Held until the collector is dropped.
    _lock: crate::datalock::DataLock,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts a collector. Its rule windows are refilled at start-up from its own sample history
/// (when `[history]` is on), so a restart in the middle of a window neither opens nor resolves
/// anything by itself.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    start_inner(settings, None).await
}

/// Starts a collector whose rule windows are refilled from `windows` instead of its own
/// history (tests, and a collector that keeps its samples elsewhere).
pub async fn start_with(
    settings: Settings,
    windows: Arc<dyn WindowSource>,
) -> Result<Running, StartError> {
    start_inner(settings, Some(windows)).await
}

async fn start_inner(
    settings: Settings,
    windows: Option<Arc<dyn WindowSource>>,
) -> Result<Running, StartError> {
    // First of all: a broken [tls] must stop the start, never fall back to plaintext.
    let tls = match &settings.tls {
        Some(t) => Some(crate::tls::server_config(t).map_err(StartError::Tls)?),
        None => None,
    };
    let http_tls = match &settings.tls {
        Some(t) if !t.plain_http => Some(crate::http_tls::acceptor(t).map_err(StartError::Tls)?),
        _ => None,
    };
    std::fs::create_dir_all(&settings.data)
        .map_err(|e| StartError::DataDir(settings.data.display().to_string(), e))?;
    // Before anything reads or writes the directory: two collectors on one store would apply
    // every batch twice between them.
    let lock = crate::datalock::lock(&settings.data)?;
    let (bus, _) = broadcast::channel(BUS_CAPACITY);
    // At start there is no last good site or rule set to fall back on: errors stop the start.
    let site = match &settings.site {
        Some(path) => Site::load(path).map_err(|d| StartError::Site {
            path: path.display().to_string(),
            errors: d.iter().map(|d| d.to_string()).collect(),
        })?,
        None => Site::default(),
    };
    let levels = site.scale();
    let rules =
        crate::core::load_rules(&settings.rules, &levels).map_err(|d| StartError::Rules {
            dir: settings.rules.display().to_string(),
            errors: d.iter().map(|d| d.to_string()).collect(),
        })?;
    let (flap_high, flap_low) = (site.incidents.flap_high, site.incidents.flap_low);
    let site = patrol_site::site_handle(site);
    let store = Store::open_with(
        &settings.data,
        bus.clone(),
        site.clone(),
        Some(patrol_notify::router::router()),
    )?;
    let history = if settings.history.enabled {
        let dir = settings.data.join("history");
        let cfg = settings.history.clone();
        // Opening replays the log: blocking work, kept off the runtime's threads.
        let h = tokio::task::spawn_blocking(move || patrol_history::History::open(&dir, cfg))
            .await
            .map_err(|e| StartError::DataDir("history".into(), std::io::Error::other(e)))??;
        Some(h)
    } else {
        None
    };
    let telemetry = Telemetry::default();
    telemetry.rules_loaded.set(rules.len() as i64);
    let mut engine = Engine::new(Arc::new(rules));
    engine.set_flap_thresholds(flap_high, flap_low);
    let open = store.open_incidents()?;
    for i in &open {
        engine.restore_firing(&i.rule, i.fingerprint, i.opened_ms);
    }
    let open: Vec<_> = open.into_iter().map(|i| (i.rule, i.labels)).collect();
    let windows: Arc<dyn WindowSource> = match (windows, &history) {
        (Some(w), _) => w,
        (None, Some(h)) => Arc::new(crate::history_windows::HistoryWindows::new(h.clone())),
        (None, None) => Arc::new(NoHistory),
    };
    let refilled = engine.warm_up(windows.as_ref(), &open, now_ms());
    if refilled > 0 {
        tracing::info!(series = refilled, "rule windows refilled from history");
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    // The single token_file of earlier versions stays a credential every agent may use.
    let mut auth = settings.auth.clone();
    if auth.shared_agent_token.is_none() {
        auth.shared_agent_token = settings.token.clone();
    }
    for warning in crate::auth::start_warnings(&auth, settings.listen) {
        tracing::warn!("{warning}");
    }
    let remote = match &history {
        Some(h) => patrol_history::remote::start(h, shutdown_rx.clone()),
        None => Default::default(),
    };
    let agents = Registry::default();
    agents.restore(store.applied_seqs()?);
    agents.restore_facts(store.agent_facts()?);
    if let Some(h) = &history {
        agents.limit_to_history(&h.marks());
    }
    let core = Arc::new(Core {
        engine: Mutex::new(engine),
        store: Arc::new(store),
        bus,
        agents,
        telemetry: Arc::new(telemetry),
        site,
        site_path: settings.site.clone(),
        rules_dir: settings.rules.clone(),
        auth: Arc::new(auth),
        local_agent: Default::default(),
        max_batch_points: settings.max_batch_points,
        agent_silence: settings.agent_silence,
        channels: Default::default(),
        shutdown: shutdown_rx.clone(),
        history,
        remote,
        stale_after: settings.stale_after,
        limits: settings.limits,
        book: Mutex::default(),
        latest: Default::default(),
        connections: settings.connections,
        watchers: Default::default(),
        log: Default::default(),
    });
    crate::conn::check_descriptors(&settings.connections);

    let grpc = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| StartError::Listen(settings.listen, e))?;
    let grpc_addr = grpc
        .local_addr()
        .map_err(|e| StartError::Listen(settings.listen, e))?;
    let http = TcpListener::bind(settings.http)
        .await
        .map_err(|e| StartError::Listen(settings.http, e))?;
    let http_addr = http
        .local_addr()
        .map_err(|e| StartError::Listen(settings.http, e))?;

    // The budget sets TCP_NODELAY on every accepted socket: `Server::tcp_nodelay` applies only
    // to listeners tonic binds itself, and Nagle would hold small acks back ~40 ms behind
    // delayed ACKs (measured in bench/).
    let telemetry = Arc::clone(&core.telemetry);
    let incoming =
        crate::conn::Budget::grpc(&settings.connections, Arc::clone(&telemetry)).incoming(grpc);
    let http = crate::conn::HttpListener {
        listener: http,
        budget: crate::conn::Budget::http(&settings.connections, telemetry),
    };
    let mut servers = Vec::new();
    let (reports, scheduler) = crate::reports::start(Arc::clone(&core), &settings.data)
        .map_err(|e| StartError::DataDir("reports.db".into(), std::io::Error::other(e)))?;
    servers.push(scheduler);
    let auth_layer = crate::auth::layer::AuthLayer {
        auth: Arc::clone(&core.auth),
        telemetry: Arc::clone(&core.telemetry),
    };
    let mut builder =
        tonic::transport::Server::builder().http2_keepalive_interval(Some(Duration::from_secs(30)));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| StartError::Tls(format!("tls: {e}")))?;
    }
    let router = services(builder.layer(auth_layer.clone()), &core, &reports);
    let mut rx = shutdown_rx.clone();
    servers.push(tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, stop).await {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }));
    if let Some(path) = &core.auth.operator_socket {
        let listener = crate::auth::socket::bind(path)
            .map_err(|e| StartError::Socket(path.display().to_string(), e))?;
        let router = services(
            tonic::transport::Server::builder().layer(auth_layer),
            &core,
            &reports,
        );
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
        let mut rx = shutdown_rx.clone();
        servers.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = router.serve_with_incoming_shutdown(incoming, stop).await {
                tracing::error!(error = %e, "operator socket server failed");
            }
        }));
    }
    // The reports are reads: the viewer role, as the Reports service's reads.
    let app = crate::http::router(Arc::clone(&core))
        .merge(crate::reports::http::router(reports).route_layer(
            axum::middleware::from_fn_with_state(
                Arc::clone(&core),
                crate::auth::http::require_viewer,
            ),
        ))
        .merge(crate::console::router(Arc::clone(&core)));
    let mut rx = shutdown_rx.clone();
    servers.push(tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        // The query API's auth needs the peer (address, client certificate).
        let served = match http_tls {
            Some(acceptor) => {
                let listener = crate::http_tls::TlsListener::new(http, acceptor);
                let app = app.into_make_service_with_connect_info::<HttpPeer>();
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }
            None => {
                let app = app.into_make_service_with_connect_info::<HttpPeer>();
                axum::serve(http, app).with_graceful_shutdown(stop).await
            }
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }));
    servers.push(tokio::spawn(sweep(Arc::clone(&core), shutdown_rx.clone())));
    servers.push(tokio::spawn(clocks(Arc::clone(&core), shutdown_rx.clone())));
    let dispatch = patrol_notify::dispatch::Context {
        store: core.store.clone(),
        site: Arc::clone(&core.site),
        events: core.bus.clone(),
        board: Arc::clone(&core.channels),
        counters: Arc::clone(&core.telemetry) as Arc<dyn patrol_notify::dispatch::Counters>,
    };
    servers.push(tokio::spawn(patrol_notify::dispatch::supervise(
        Arc::new(dispatch),
        shutdown_rx.clone(),
    )));
    let watcher = crate::reload::spawn(Arc::clone(&core));

    let agent = match &settings.local_agent {
        Some(cfg) => {
            let mut cfg = cfg.clone();
            // Over TLS the local agent needs its own [agent.collector.tls] (ca_file, and a
            // client certificate when client_ca_file is set).
            let scheme = if settings.tls.is_some() {
                "https"
            } else {
                "http"
            };
            cfg.collector.address = format!("{scheme}://{grpc_addr}");
            // Probe state (log positions) beside the collector's own data unless configured.
            if cfg.state_dir.is_none() {
                cfg.state_dir = Some(settings.data.join("agent-state"));
            }
            let mut s = cfg
                .settle("local agent")
                .map_err(|e| StartError::Agent(e.to_string()))?;
            // The in-process agent gets a token of its own, made now and never written down.
            if s.token.is_none() {
                let token = crate::auth::fresh_token();
                let _ = core.local_agent.set((s.agent_id.clone(), token.clone()));
                s.token = Some(token);
            }
            Some(Agent::start(s).map_err(|e| StartError::Agent(e.to_string()))?)
        }
        None => None,
    };

    Ok(Running {
        grpc_addr,
        http_addr,
        core,
        shutdown,
        agent,
        _watcher: watcher,
        _lock: lock,
        servers,
    })
}

impl Running {
    /// Stops the local agent (delivering what it has), then the listeners.
    pub async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown(Duration::from_secs(2)).await;
        }
        let _ = self.shutdown.send(true);
        for mut s in self.servers.drain(..) {
            if tokio::time::timeout(Duration::from_secs(3), &mut s)
                .await
                .is_err()
            {
                s.abort();
            }
        }
    }
}

/// The gRPC services behind `builder` (which carries the auth layer).
fn services<L: Clone>(
    mut builder: tonic::transport::Server<L>,
    core: &Arc<Core>,
    reports: &Arc<crate::reports::Reports>,
) -> tonic::transport::server::Router<L> {
    let api = || Api::new(Arc::clone(core));
    builder
        .add_service(
            IngestServer::new(IngestService::new(Arc::clone(core)))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        // Any call of these marks its connection a client's (not subject to the hello deadline).
        .add_service(IncidentsServer::with_interceptor(
            api(),
            crate::conn::client_call,
        ))
        .add_service(AgentsServer::with_interceptor(
            api(),
            crate::conn::client_call,
        ))
        .add_service(RulesServer::with_interceptor(
            api(),
            crate::conn::client_call,
        ))
        .add_service(ChannelsServer::with_interceptor(
            api(),
            crate::conn::client_call,
        ))
        .add_service(HistoryServer::with_interceptor(
            crate::history_api::HistoryService::new(Arc::clone(core)),
            crate::conn::client_call,
        ))
        .add_service(ReportsServer::with_interceptor(
            crate::reports::api::ReportsService::new(Arc::clone(reports)),
            crate::conn::client_call,
        ))
}

async fn sweep(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    let mut rounds = 0u64;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        rounds += 1;
        // Keeps the /metrics log short between scrapes (a scrape publishes too).
        core.latest.publish();
        if rounds.is_multiple_of(FORGET_EVERY_ROUNDS) {
            core.forget_gone_agents(now_ms());
        }
        let mut changes = Vec::new();
        let mut stats = Evaluated::default();
        let now = now_ms();
        if let Ok(mut engine) = core.engine.lock() {
            engine.tick(now, &mut changes, &mut stats);
        }
        core.check_liveness(now, &mut changes, &mut stats);
        core.count(&stats);
        let _ = core.commit_changes(changes).await;
    }
}

/// Fires deadlines and escalation steps as they fall due. The first run is at start, so a step
/// that fell due while the collector was down fires now (once: the store remembers what fired).
async fn clocks(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(CLOCKS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        match core.store.run_clocks(now_ms()).await {
            Ok(n) => core.telemetry.clock_events.inc_by(n as u64),
            Err(e) => {
                core.telemetry.store_errors.inc();
                tracing::error!(error = %e, "deadlines and escalations not checked; retrying");
            }
        }
    }
}
