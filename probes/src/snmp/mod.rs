//! SNMP probe (`type = "snmp"`): polls network and storage gear that cannot run an agent,
//! over SNMP v2c or v3 (authNoPriv / authPriv), with built-in profiles (system, IF-MIB,
//! HOST-RESOURCES, ENTITY-SENSOR, CISCO-ENVMON, CISCO-PROCESS) and custom OIDs.
//!
//! Metrics: `snmp_up`, `snmp_poll_duration_ms`, `snmp_info`, `snmp_uptime_seconds`,
//! `snmp_if_admin_up`, `snmp_if_oper_up`, `snmp_if_down`, `snmp_if_speed_bits_per_second`,
//! `snmp_if_{in,out}_bits_per_second`, `snmp_if_{in,out}_{errors,discards}_per_second`,
//! `snmp_processor_load_percent`, `snmp_storage_{size,used}_bytes`,
//! `snmp_storage_used_percent`, `snmp_cpu_5min_percent`, `hw_temperature_celsius`,
//! `hw_fan_ok`, `hw_psu_ok`, plus custom metrics; all labelled `device`. See `README.md`.
//!
//! All devices of a section are polled concurrently in each round, each bounded by its own
//! timeout and retries, so a dead device costs its own `timeout × (retries + 1)` and never
//! serialises the others. Each device has its own UDP socket.

mod config;
mod custom;
/// Device facts (sysDescr, sysObjectID, sysName, chassis rows) for the agent's inventory.
pub mod inventory;
pub mod profile;
mod rates;
pub(crate) mod session;
mod table;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use patrol_proto::Sample;

use crate::{CollectContext, Probe, ProbeError};
pub use config::parse_oid;
pub use config::{AuthProto, CustomKind, CustomOid, DeviceConfig, PrivProto, SnmpConfig, Version};
pub use session::{DeviceError, val as wire_value};
pub use table::{Val, clean_text, dotted, parse_snmprec};

use config::{CustomSettings, DeviceSettings, Settings};
use profile::Out;
use rates::Counters;
use session::Session;
use table::Poll;

/// One device and what is remembered about it between rounds.
struct DeviceState {
    settings: DeviceSettings,
    session: Option<Session>,
    counters: Counters,
    /// The current failure, logged once when it starts or changes.
    failure: Option<DeviceError>,
    /// Walks cut short in the last round, logged once per change.
    truncated: Option<String>,
}

/// The running SNMP probe.
pub struct SnmpProbe {
    settings: Settings,
    devices: Vec<DeviceState>,
    started: Instant,
    /// Longest a device may take in one round before it counts as not answering.
    device_deadline: Duration,
}

impl std::fmt::Debug for SnmpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpProbe")
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl SnmpProbe {
    pub fn new(config: SnmpConfig) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        let devices = settings
            .devices
            .iter()
            .map(|d| DeviceState {
                settings: d.clone(),
                session: None,
                counters: Counters::default(),
                failure: None,
                truncated: None,
            })
            .collect();
        Ok(Self {
            settings,
            devices,
            started: Instant::now(),
            // Leaves the scheduler (which cuts the whole round at one interval) room to
            // collect what the other devices returned.
            device_deadline: config.interval.mul_f64(0.9),
        })
    }

    /// The current failure of each device (`None` when it answered), by device name.
    pub fn device_errors(&self) -> Vec<(String, Option<DeviceError>)> {
        self.devices
            .iter()
            .map(|d| (d.settings.name.clone(), d.failure.clone()))
            .collect()
    }
}

/// SNMPv2-MIB sysUpTime.0, read from every device: whether it answers, and whether it
/// restarted (counters reset).
pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];

/// Everything one device's poll reads: scalars by GET, columns by walk.
fn plan(device: &DeviceSettings, custom: &[CustomSettings]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut scalars: BTreeSet<Vec<u32>> = BTreeSet::new();
    let mut columns = BTreeSet::new();
    for p in &device.profiles {
        scalars.extend(p.scalar_oids().cloned());
        columns.extend(p.columns().cloned());
    }
    // sysUpTime first: the GET that tells whether the device answers at all.
    scalars.remove(SYS_UPTIME);
    let mut scalars: Vec<Vec<u32>> = std::iter::once(SYS_UPTIME.to_vec())
        .chain(scalars)
        .collect();
    for c in custom {
        if c.scalar {
            scalars.push(c.oid.clone());
        } else {
            columns.insert(c.oid.clone());
        }
        columns.extend(c.lookups.iter().map(|(_, o)| o.clone()));
    }
    (scalars, columns.into_iter().collect())
}

/// Reads everything the device's profiles need. The scalar GET goes first: a device that
/// does not answer it is down, and its walks are not tried.
async fn read_device(
    session: &Session,
    scalars: &[Vec<u32>],
    columns: &[Vec<u32>],
) -> Result<(Poll, Vec<String>), DeviceError> {
    let mut poll = Poll::default();
    let refs: Vec<&[u32]> = scalars.iter().map(Vec::as_slice).collect();
    for (oid, val) in session.get(&refs).await? {
        poll.scalars.insert(oid, val);
    }
    let walks = join_all(columns.iter().map(|c| session.walk(c))).await;
    let mut truncated = Vec::new();
    for (column, walked) in columns.iter().zip(walks) {
        let (rows, cut) = walked?;
        if let Some(why) = cut {
            truncated.push(format!("{}: {why}", table::dotted(column)));
        }
        poll.add_rows(column, rows);
    }
    Ok((poll, truncated))
}

impl DeviceState {
    async fn poll(
        &mut self,
        settings: &Settings,
        deadline: Duration,
        now_s: f64,
        now_ms: i64,
    ) -> Vec<Sample> {
        let started = Instant::now();
        let (scalars, columns) = plan(&self.settings, &settings.custom);
        let result = tokio::time::timeout(deadline, async {
            if self.session.is_none() {
                self.session = Some(
                    Session::open(&self.settings, settings.max_repetitions, settings.max_rows)
                        .await?,
                );
            }
            match &self.session {
                Some(session) => read_device(session, &scalars, &columns).await,
                None => Err(DeviceError::Other("no session".into())),
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(DeviceError::Other(format!(
                "poll took longer than {deadline:?} (0.9 × interval): lower max_repetitions' round trips, raise interval, or split the device's profiles"
            )))
        });
        let mut samples = Vec::new();
        let mut out = Out {
            out: &mut samples,
            device: &self.settings.name,
            now_ms,
        };
        match result {
            Ok((poll, truncated)) => {
                if let Some(previous) = self.failure.take() {
                    tracing::info!(probe = "snmp", device = %self.settings.name, %previous, "device answers again");
                }
                let truncated = (!truncated.is_empty()).then(|| truncated.join("; "));
                if truncated != self.truncated {
                    if let Some(t) = &truncated {
                        tracing::warn!(probe = "snmp", device = %self.settings.name, walks = %t, "walk cut short; rows after the cut are not reported");
                    }
                    self.truncated = truncated;
                }
                let uptime = match poll.scalar(SYS_UPTIME) {
                    Some(Val::Ticks(t)) => Some(*t),
                    _ => None,
                };
                self.counters.begin(now_s, uptime);
                out.push("snmp_up", &[], 1.0);
                for p in &self.settings.profiles {
                    profile::emit(p, &poll, &mut self.counters, &mut out);
                }
                custom::emit(&settings.custom, &poll, &mut self.counters, &mut out);
                self.counters.finish();
            }
            Err(error) => {
                if self.failure.as_ref() != Some(&error) {
                    tracing::warn!(
                        probe = "snmp",
                        address = %self.settings.address,
                        "snmp device '{}': {error}; snmp_up 0, logged again when this changes",
                        self.settings.name
                    );
                }
                // A socket that failed to open is retried next round; an open one is kept.
                if matches!(error, DeviceError::Setup { .. }) {
                    self.session = None;
                }
                self.failure = Some(error);
                self.counters.reset();
                out.push("snmp_up", &[], 0.0);
            }
        }
        out.push(
            "snmp_poll_duration_ms",
            &[],
            started.elapsed().as_secs_f64() * 1000.0,
        );
        samples
    }
}

#[async_trait]
impl Probe for SnmpProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let now_s = self.started.elapsed().as_secs_f64();
        let settings = &self.settings;
        let deadline = self.device_deadline;
        let rounds = join_all(
            self.devices
                .iter_mut()
                .map(|d| d.poll(settings, deadline, now_s, ctx.now_ms)),
        )
        .await;
        out.extend(rounds.into_iter().flatten());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
