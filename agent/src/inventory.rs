//! The inventory task: gathers the facts of the host and of the devices the `snmp` probes
//! poll (`patrol_probes::inventory`, `patrol_probes::snmp::inventory`) at start and every
//! `[inventory] interval`, and hands them to the stream when they changed. Facts are not
//! batched or spooled: only the latest matter, and the stream sends them again on every
//! connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use patrol_probes::ProbeConfig;
use patrol_probes::inventory::{Roots, gather_host};
use patrol_proto::facts::Facts;
use patrol_proto::v1;
use tokio::sync::watch;

use crate::Shared;
use crate::config::Settings;

/// The latest facts, numbered so the stream knows whether it sent them on this connection.
#[derive(Default)]
pub(crate) struct Slot {
    pub generation: u64,
    pub facts: Option<Arc<v1::Facts>>,
}

/// Gathers every fact once. A device that does not answer keeps its facts from `previous`
/// (a device down for an hour is still the same box).
pub async fn gather(settings: &Settings, previous: &Facts) -> Facts {
    let mut config = settings.inventory.clone();
    config.oracle_homes.extend(probe_homes(&settings.probes));
    let host = tokio::task::spawn_blocking(move || gather_host(&config, &Roots::system()))
        .await
        .unwrap_or_default();
    let mut devices = BTreeMap::new();
    for probe in &settings.probes {
        let ProbeConfig::Snmp(section) = probe else {
            continue;
        };
        match patrol_probes::snmp::inventory::device_facts(section).await {
            Ok(read) => {
                for (device, facts) in read {
                    match facts.or_else(|| previous.devices.get(&device).cloned()) {
                        Some(f) => {
                            devices.insert(device, f);
                        }
                        None => {
                            devices.remove(&device);
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "inventory: snmp section skipped"),
        }
    }
    Facts { host, devices }
}

/// Oracle homes the probes point at: an `oracle` probe whose `client_lib_dir` is a home's
/// `lib` directory (a full client or database home rather than an Instant Client).
fn probe_homes(probes: &[ProbeConfig]) -> Vec<std::path::PathBuf> {
    probes
        .iter()
        .filter_map(|p| match p {
            ProbeConfig::Oracle(c) => c.client_lib_dir.as_deref(),
            _ => None,
        })
        .filter(|lib| lib.file_name().is_some_and(|n| n == "lib"))
        .filter_map(|lib| lib.parent())
        .filter(|home| home.is_absolute())
        .map(std::path::Path::to_path_buf)
        .collect()
}

/// Facts as `key = value` lines, each device's under a `[device NAME]` line
/// (`patrol-agent --facts`).
pub fn text(facts: &Facts) -> String {
    let mut out = String::new();
    push_lines(&mut out, &facts.host);
    for (device, m) in &facts.devices {
        out.push_str(&format!("[device {device}]\n"));
        push_lines(&mut out, m);
    }
    out
}

fn push_lines(out: &mut String, facts: &patrol_proto::facts::FactMap) {
    for (k, v) in facts {
        out.push_str(&format!("{k} = {v}\n"));
    }
}

/// Runs until shutdown: gathers, publishes a change, waits `interval` (or a reload).
pub(crate) async fn run(
    mut settings_rx: watch::Receiver<Arc<Settings>>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last = Facts::default();
    loop {
        let settings = settings_rx.borrow_and_update().clone();
        if settings.inventory.enabled {
            let mut facts = gather(&settings, &last).await;
            let trimmed = facts.bound();
            if !trimmed.is_empty() {
                tracing::warn!(
                    unusable_keys = trimmed.bad_keys,
                    devices_left_out = trimmed.devices,
                    first_left_out = trimmed.first_device.as_deref().unwrap_or(""),
                    "inventory: facts over the collector's bounds were left out (docs/inventory.md)"
                );
            }
            if facts != last {
                tracing::info!(
                    host_facts = facts.host.len(),
                    devices = facts.devices.len(),
                    "inventory: facts gathered; sending them"
                );
                shared.set_facts(facts.to_wire(patrol_proto::model::now_ms()));
                last = facts;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.inventory.interval) => {}
            r = settings_rx.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

impl Shared {
    fn set_facts(&self, facts: v1::Facts) {
        if let Ok(mut slot) = self.facts.lock() {
            slot.generation += 1;
            slot.facts = Some(Arc::new(facts));
        }
        self.notify.notify_one();
        self.progress.notify_waiters();
    }

    /// The facts, when newer than generation `sent`.
    pub(crate) fn facts_after(&self, sent: u64) -> Option<(u64, Arc<v1::Facts>)> {
        let slot = self.facts.lock().ok()?;
        let facts = slot.facts.as_ref()?;
        (slot.generation > sent).then(|| (slot.generation, Arc::clone(facts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oracle_probe_on_a_home_lib_names_that_home() {
        let section = |lib: &str| -> ProbeConfig {
            toml::from_str(&format!(
                "type = \"oracle\"\ndb = \"ORCL\"\nconnect = \"x/ORCL\"\nuser = \"m\"\n\
                 password_env = \"P\"\nclient_lib_dir = \"{lib}\"\n"
            ))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let homes = probe_homes(&[
            section("/u01/app/oracle/product/19.0.0/dbhome_1/lib"),
            section("/opt/oracle/instantclient_23_5"),
        ]);
        assert_eq!(
            homes,
            [std::path::PathBuf::from(
                "/u01/app/oracle/product/19.0.0/dbhome_1"
            )]
        );
    }
}
