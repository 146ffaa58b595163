//! The state every service shares: engine, store, event bus, agent registry, counters.

use std::sync::{Arc, Mutex};

use patrol_proto::model::now_ms;
use patrol_rules::{Levels, RuleSet};
use tokio::sync::broadcast;

use crate::agents::Registry;
use crate::engine::{Engine, Evaluated};
use crate::telemetry::Telemetry;
use patrol_incident::IncidentEvent;
use patrol_site::{Site, SiteHandle};
use patrol_store::{Change, IncidentStore, StoreError, WriteBatch};

/// The series the collector itself keeps per agent: 1 while it reports, 0 once silent.
pub const AGENT_UP: &str = "patrol_agent_up";

/// Default for `agent_silence`.
pub const DEFAULT_AGENT_SILENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Capacity of the incident event bus; a watcher further behind than this is resynchronised.
pub const BUS_CAPACITY: usize = 4096;

pub struct Core {
    pub engine: Mutex<Engine>,
    /// The incident store (SQLite today; any [`IncidentStore`] backend).
    pub store: Arc<dyn IncidentStore>,
    pub bus: broadcast::Sender<Arc<IncidentEvent>>,
    pub agents: Registry,
    pub telemetry: Arc<Telemetry>,
    /// The site in force (levels, calendars, escalation, maintenance); swapped on reload.
    pub site: SiteHandle,
    /// Where the site came from; `None` = the built-in default, nothing to reload.
    pub site_path: Option<std::path::PathBuf>,
    pub rules_dir: std::path::PathBuf,
    /// Who may connect and as what (`[auth]`, docs/security.md).
    pub auth: Arc<crate::auth::Auth>,
    /// The in-process agent's id and the token made for it at start.
    pub local_agent: std::sync::OnceLock<(String, String)>,
    pub max_batch_points: u32,
    /// How long an agent may send nothing before `patrol_agent_up` turns 0.
    pub agent_silence: std::time::Duration,
    /// The notification channels' live state (dispatcher workers write it).
    pub channels: std::sync::Arc<patrol_notify::dispatch::Board>,
    /// Turns true when the collector stops; agent sessions finish their acks and end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Sample history; `None` when `[history] enabled = false`.
    pub history: Option<patrol_history::History>,
    /// Remote-write endpoints' figures, by name.
    pub remote: patrol_history::remote::RemoteStats,
    /// How long a series may send nothing before it is no longer shown as current.
    pub stale_after: std::time::Duration,
    /// What agents may define (`[limits]`).
    pub limits: crate::limits::Limits,
    /// Which agent defined which series, and each agent's new-series budget. Locked inside
    /// the engine lock, never the other way round.
    pub book: Mutex<crate::limits::Book>,
    /// The series table as `/metrics` shows it, fed beside the engine (see [`crate::latest`]).
    pub latest: crate::latest::Latest,
    /// `[connections]`: hello deadline, budgets, watchers.
    pub connections: crate::conn::Connections,
    /// Watchers connected now (bounded by `connections.max_watchers`).
    pub watchers: std::sync::atomic::AtomicUsize,
    /// Refusals and drops logged once per cause, rate-limited.
    pub log: crate::ratelog::RateLog,
}

/// The next event for a live incident stream (gRPC `Watch`, the console's event stream), or
/// `None` when the stream is to end: the watcher hung up (`closed` finished: its place is given
/// back at once, not at the next event) or the collector is stopping (the stream ends cleanly,
/// so a graceful stop does not wait on watchers and they can tell it from a broken link).
pub async fn next_event(
    bus: &mut broadcast::Receiver<Arc<IncidentEvent>>,
    closed: impl std::future::Future<Output = ()>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Result<Arc<IncidentEvent>, broadcast::error::RecvError>> {
    tokio::pin!(closed);
    loop {
        tokio::select! {
            r = bus.recv() => return Some(r),
            () = &mut closed => return None,
            r = shutdown.changed() => {
                if r.is_err() || *shutdown.borrow() {
                    return None;
                }
            }
        }
    }
}

impl Core {
    /// Counts what rule evaluation decided.
    pub fn count(&self, stats: &Evaluated) {
        let t = &self.telemetry;
        t.samples_ingested.inc_by(stats.samples);
        t.rule_evaluations.inc_by(stats.rule_evaluations);
        if stats.fired > 0 {
            t.incident_changes.inc_by("fired", stats.fired);
        }
        if stats.resolved > 0 {
            t.incident_changes.inc_by("resolved", stats.resolved);
        }
    }

    /// Feeds agents' liveness changes into the engine as `patrol_agent_up` samples, so agent
    /// silence goes through the same rules (and incidents) as any other breach.
    pub fn check_liveness(&self, now_ms: i64, out: &mut Vec<Change>, stats: &mut Evaluated) {
        let silence_ms = self.agent_silence.as_millis() as i64;
        let changes = self.agents.liveness_changes(now_ms, silence_ms);
        if changes.is_empty() {
            return;
        }
        let Ok(mut engine) = self.engine.lock() else {
            return;
        };
        for l in changes {
            if !l.up {
                tracing::warn!(agent_id = %l.agent_id, silence = ?self.agent_silence, "agent silent");
            }
            let id = self.intern(&mut engine, AGENT_UP, &l.labels);
            let value = if l.up { 1.0 } else { 0.0 };
            self.latest.values([(id, value, now_ms)]);
            // Rule work counts as usual; the sample is the collector's own, not ingested.
            let mut own = Evaluated::default();
            engine.observe(id, value, now_ms, now_ms, out, &mut own);
            stats.rule_evaluations += own.rule_evaluations;
            stats.fired += own.fired;
            stats.resolved += own.resolved;
        }
    }

    /// Interns a series and tells the `/metrics` view when it is new. The caller holds the
    /// engine lock.
    pub fn intern(
        &self,
        engine: &mut Engine,
        name: &str,
        labels: &patrol_proto::Labels,
    ) -> crate::engine::SeriesId {
        if let Some(id) = engine.lookup(name, labels) {
            return id;
        }
        let id = engine.intern(name, labels);
        self.latest.created(id, name, labels);
        id
    }

    /// Frees the series of agents disconnected longer than `forget_agent_after` that no
    /// connected agent shares; returns how many were freed.
    pub fn forget_gone_agents(&self, now_ms: i64) -> usize {
        let after_ms = self.limits.forget_agent_after.as_millis() as i64;
        let Ok(mut engine) = self.engine.lock() else {
            return 0;
        };
        let mut book = self
            .book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let gone: Vec<String> = book
            .agents()
            .filter(|a| self.agents.gone_longer_than(a, now_ms, after_ms))
            .map(str::to_owned)
            .collect();
        let mut freed = 0;
        for agent in gone {
            let ids = book.release(&agent);
            let n = ids.len();
            for id in ids {
                if engine.forget(id) {
                    self.latest.freed(id);
                    freed += 1;
                }
            }
            tracing::info!(agent_id = %agent, series = n,
                "agent gone longer than forget_agent_after: its series freed");
        }
        if freed > 0 {
            self.telemetry.series_freed.inc_by(freed as u64);
            self.telemetry.series.set(engine.series_count() as i64);
        }
        freed
    }

    /// Commits rule decisions that belong to no batch (sweeps, reloads).
    pub async fn commit_changes(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let r = self
            .store
            .commit(WriteBatch {
                changes,
                applied: Vec::new(),
            })
            .await;
        if let Err(e) = &r {
            self.telemetry.store_errors.inc();
            tracing::error!(error = %e, "incident store commit failed");
        }
        r
    }

    /// The site's level scale (what rule severities and watch filters are checked against).
    pub fn levels(&self) -> Levels {
        patrol_site::current(&self.site).scale()
    }

    /// Re-reads the site file. On success (the file checks, and the rules still check against
    /// its levels) swaps it in together with the rules; otherwise keeps both and returns every
    /// problem.
    pub async fn reload_site(&self) -> Result<(), Vec<String>> {
        let Some(path) = &self.site_path else {
            return Ok(());
        };
        let refused = |errors: Vec<String>| {
            self.telemetry.site_reload_failures.inc();
            self.telemetry
                .reloads
                .site_reloaded(now_ms(), self.rules().len(), &errors);
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!(
                errors = errors.len(),
                site = %path.display(),
                "site not reloaded; the collector keeps running on the last good site"
            );
            Err(errors)
        };
        let site = match Site::load(path) {
            Ok(site) => site,
            Err(diags) => return refused(diags.iter().map(|d| d.to_string()).collect()),
        };
        // A level the rules use may be gone: the rules must check against the new scale.
        let rules = match load_rules(&self.rules_dir, &site.scale()) {
            Ok(rules) => rules,
            Err(diags) => {
                let mut errors = vec![format!(
                    "{}: the rules in {} do not check against this site's levels ({}):",
                    path.display(),
                    self.rules_dir.display(),
                    site.scale().names().join(", ")
                )];
                errors.extend(diags.iter().map(|d| d.to_string()));
                return refused(errors);
            }
        };
        let (high, low) = (site.incidents.flap_high, site.incidents.flap_low);
        let levels = site.levels.len();
        *self
            .site
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(site);
        let n = rules.len();
        let mut changes = Vec::new();
        if let Ok(mut engine) = self.engine.lock() {
            engine.set_flap_thresholds(high, low);
            engine.replace_rules(Arc::new(rules), now_ms(), &mut changes);
        }
        self.telemetry.rules_loaded.set(n as i64);
        self.telemetry.reloads.site_reloaded(now_ms(), n, &[]);
        let _ = self.commit_changes(changes).await;
        tracing::info!(site = %path.display(), levels, rules = n, "site loaded");
        Ok(())
    }

    /// Loads the rules directory; on success swaps the rule set in and returns its size, on
    /// failure keeps the running rules and returns every problem.
    pub async fn reload_rules(&self) -> Result<usize, Vec<String>> {
        let loaded = load_rules(&self.rules_dir, &self.levels());
        match loaded {
            Ok(set) => {
                let n = set.len();
                let mut changes = Vec::new();
                if let Ok(mut engine) = self.engine.lock() {
                    engine.replace_rules(Arc::new(set), now_ms(), &mut changes);
                    self.telemetry.series.set(engine.series_count() as i64);
                }
                self.telemetry.rules_loaded.set(n as i64);
                self.telemetry.reloads.rules_reloaded(now_ms(), n, &[]);
                let _ = self.commit_changes(changes).await;
                tracing::info!(rules = n, dir = %self.rules_dir.display(), "rules loaded");
                Ok(n)
            }
            Err(diags) => {
                self.telemetry.rule_reload_failures.inc();
                let errors: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                let kept = self.rules().len();
                self.telemetry
                    .reloads
                    .rules_reloaded(now_ms(), kept, &errors);
                for e in &errors {
                    tracing::error!("{e}");
                }
                tracing::error!(
                    errors = errors.len(),
                    "rules not reloaded; the collector keeps running on the last good rules"
                );
                Err(errors)
            }
        }
    }

    /// The rules in force with each rule's instance counts per alert state, taken together.
    pub fn rules_with_states(&self) -> (Arc<RuleSet>, Vec<crate::engine::StateCounts>) {
        match self.engine.lock() {
            Ok(e) => (Arc::clone(e.rules()), e.state_counts()),
            Err(_) => (Arc::new(RuleSet::from_rules(Vec::new())), Vec::new()),
        }
    }

    pub fn rules(&self) -> Arc<RuleSet> {
        self.engine
            .lock()
            .map(|e| Arc::clone(e.rules()))
            .unwrap_or_else(|_| Arc::new(RuleSet::from_rules(Vec::new())))
    }
}

/// Loads the rules directory as `patrolctl rules check` does and logs its warnings (a metric
/// no probe emits, an override that never matches) at every load, so an operator who edits
/// rules without checking them still hears of it; errors are the caller's to report.
pub fn load_rules(
    dir: &std::path::Path,
    levels: &Levels,
) -> Result<patrol_rules::RuleSet, Vec<patrol_rules::Diagnostic>> {
    let checked = patrol_rules::file::check_path(dir, levels);
    for w in &checked.warnings {
        tracing::warn!("{w}");
    }
    checked.result
}
