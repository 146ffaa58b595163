//! The running probe tasks, keyed by their config, so a reload restarts only the probes whose
//! config changed: an unchanged probe keeps its task and its state (rates, log positions,
//! failure counts).

use std::sync::Arc;

use patrol_probes::{BuildContext, ProbeConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::scheduler::{self, BuiltProbe};
use crate::{ReloadError, Shared};

pub(crate) struct Running {
    tasks: Vec<(ProbeConfig, JoinHandle<()>)>,
}

fn spawn(
    built: BuiltProbe,
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let (kind, interval, probe) = built;
    tokio::spawn(scheduler::run_probe(
        kind,
        interval,
        probe,
        Arc::clone(shared),
        shutdown.clone(),
    ))
}

impl Running {
    pub(crate) fn start(
        probes: impl IntoIterator<Item = (ProbeConfig, BuiltProbe)>,
        shared: &Arc<Shared>,
        shutdown: &watch::Receiver<bool>,
    ) -> Self {
        let tasks = probes
            .into_iter()
            .map(|(config, built)| (config, spawn(built, shared, shutdown)))
            .collect();
        Self { tasks }
    }

    /// Makes the running set match `wanted`: (added, removed, kept). Every new probe is built
    /// before anything stops, so a probe that cannot be built leaves the set as it was.
    pub(crate) fn apply(
        &mut self,
        wanted: &[ProbeConfig],
        ctx: &BuildContext,
        shared: &Arc<Shared>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(usize, usize, usize), ReloadError> {
        let mut keep = vec![false; self.tasks.len()];
        let mut to_build = Vec::new();
        for config in wanted {
            match (0..self.tasks.len()).find(|&i| !keep[i] && self.tasks[i].0 == *config) {
                Some(i) => keep[i] = true,
                None => to_build.push(config),
            }
        }
        let built = to_build
            .iter()
            .map(|c| {
                c.build(ctx)
                    .map(|probe| ((*c).clone(), (c.kind(), c.interval(), probe)))
                    .map_err(|error| ReloadError::Probe {
                        kind: c.kind(),
                        error,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let old = std::mem::take(&mut self.tasks);
        let mut removed = 0;
        for ((config, task), kept) in old.into_iter().zip(keep) {
            if kept {
                self.tasks.push((config, task));
            } else {
                task.abort();
                removed += 1;
            }
        }
        let kept = self.tasks.len();
        let added = built.len();
        for (config, b) in built {
            self.tasks.push((config, spawn(b, shared, shutdown)));
        }
        Ok((added, removed, kept))
    }

    pub(crate) fn stop_all(&mut self) {
        for (_, t) in self.tasks.drain(..) {
            t.abort();
        }
    }
}
