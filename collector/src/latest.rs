//! What `/metrics` shows of the series table, kept apart from the engine so that a scrape never
//! holds the engine lock (at 2 M series a scrape copying the table under it held acks back for
//! 2.7 s).
//!
//! Whoever changes the table (ingest, the liveness sweep, forgetting) appends what changed to
//! a short log, under the engine lock it holds anyway; the publisher swaps the log out (the
//! only moment it touches a lock ingest uses, and only for a pointer swap) and applies it to
//! its own view, which scrapes render from. A scrape waits on the view, never on ingest, and
//! ingest never waits on a scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use patrol_proto::Labels;
use patrol_proto::exposition::format_value;

use crate::engine::SeriesId;

/// One change to the series table, in the order it happened.
#[derive(Debug, Clone)]
enum Delta {
    New {
        id: SeriesId,
        name: Arc<str>,
        labels: Arc<str>,
    },
    Freed(SeriesId),
    Value {
        id: SeriesId,
        value: f64,
        timestamp_ms: i64,
    },
}

#[derive(Debug)]
struct Entry {
    name: Arc<str>,
    /// The label set as the exposition writes it (`{a="b"}`, or empty).
    labels: Arc<str>,
    value: f64,
    timestamp_ms: i64,
    has_value: bool,
}

#[derive(Debug, Default)]
struct View {
    by_id: Vec<Option<Entry>>,
    /// Families together, sorted by name then label text: the order scrapes write.
    order: BTreeMap<(Arc<str>, Arc<str>), SeriesId>,
}

/// The log and the view.
#[derive(Debug, Default)]
pub struct Latest {
    log: Mutex<Vec<Delta>>,
    view: Mutex<View>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Latest {
    /// A series was created (or an id reused) in the table.
    pub fn created(&self, id: SeriesId, name: &str, labels: &Labels) {
        lock(&self.log).push(Delta::New {
            id,
            name: Arc::from(name),
            labels: Arc::from(labels.to_string().as_str()),
        });
    }

    /// A series was forgotten; its id may be reused by a later [`Latest::created`].
    pub fn freed(&self, id: SeriesId) {
        lock(&self.log).push(Delta::Freed(id));
    }

    /// Values recorded in the table (the engine keeps the newest by timestamp; so does the view).
    pub fn values(&self, values: impl IntoIterator<Item = (SeriesId, f64, i64)>) {
        let mut log = lock(&self.log);
        log.extend(
            values
                .into_iter()
                .map(|(id, value, timestamp_ms)| Delta::Value {
                    id,
                    value,
                    timestamp_ms,
                }),
        );
    }

    /// Changes waiting to be published.
    pub fn pending(&self) -> usize {
        lock(&self.log).len()
    }

    /// Applies what changed since the last call to the view.
    pub fn publish(&self) {
        let mut view = lock(&self.view);
        // The swap is the publisher's whole stay in the log's lock.
        let deltas = std::mem::take(&mut *lock(&self.log));
        for d in deltas {
            view.apply(d);
        }
    }

    /// Series in the view.
    pub fn len(&self) -> usize {
        lock(&self.view).order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes, then writes every series that has a value in the Prometheus text format,
    /// families grouped with `# HELP` (when `help` knows it) and `# TYPE`.
    pub fn render<'h>(&self, out: &mut String, help: impl Fn(&str) -> Option<&'h str>) {
        self.render_where(out, help, |_, _, _| true);
    }

    /// Publishes, then copies out every series with a value that `keep(name, label text,
    /// timestamp)` keeps, as (name, label text, value, timestamp): the inspection sheet's
    /// values at inspection time, read like a scrape, never from the engine.
    pub fn snapshot_where(
        &self,
        keep: impl Fn(&str, &str, i64) -> bool,
    ) -> Vec<(Arc<str>, Arc<str>, f64, i64)> {
        self.publish();
        let view = lock(&self.view);
        view.order
            .values()
            .filter_map(|id| view.by_id.get(*id as usize)?.as_ref())
            .filter(|e| e.has_value && keep(&e.name, &e.labels, e.timestamp_ms))
            .map(|e| {
                (
                    Arc::clone(&e.name),
                    Arc::clone(&e.labels),
                    e.value,
                    e.timestamp_ms,
                )
            })
            .collect()
    }

    /// [`Latest::render`], writing only the series `keep(name, label text, timestamp)` keeps.
    pub fn render_where<'h>(
        &self,
        out: &mut String,
        help: impl Fn(&str) -> Option<&'h str>,
        keep: impl Fn(&str, &str, i64) -> bool,
    ) {
        self.publish();
        let view = lock(&self.view);
        let mut family: Option<&str> = None;
        for ((name, labels), id) in &view.order {
            let Some(Some(e)) = view.by_id.get(*id as usize) else {
                continue;
            };
            if !e.has_value || !keep(name, labels, e.timestamp_ms) {
                continue;
            }
            if family != Some(name.as_ref()) {
                family = Some(name.as_ref());
                if let Some(text) = help(name) {
                    let text = text.replace('\\', "\\\\").replace('\n', "\\n");
                    let _ = writeln!(out, "# HELP {name} {text}");
                }
                let kind = if name.ends_with("_total") {
                    "counter"
                } else {
                    "gauge"
                };
                let _ = writeln!(out, "# TYPE {name} {kind}");
            }
            let _ = writeln!(out, "{name}{labels} {}", format_value(e.value));
        }
    }
}

impl View {
    fn apply(&mut self, d: Delta) {
        match d {
            Delta::New { id, name, labels } => {
                let i = id as usize;
                if self.by_id.len() <= i {
                    self.by_id.resize_with(i + 1, || None);
                }
                if let Some(old) = self.by_id[i].take() {
                    self.order.remove(&(old.name, old.labels));
                }
                self.order
                    .insert((Arc::clone(&name), Arc::clone(&labels)), id);
                self.by_id[i] = Some(Entry {
                    name,
                    labels,
                    value: f64::NAN,
                    timestamp_ms: 0,
                    has_value: false,
                });
            }
            Delta::Freed(id) => {
                if let Some(slot) = self.by_id.get_mut(id as usize)
                    && let Some(old) = slot.take()
                {
                    self.order.remove(&(old.name, old.labels));
                }
            }
            Delta::Value {
                id,
                value,
                timestamp_ms,
            } => {
                if let Some(Some(e)) = self.by_id.get_mut(id as usize)
                    && (!e.has_value || timestamp_ms >= e.timestamp_ms)
                {
                    e.value = value;
                    e.timestamp_ms = timestamp_ms;
                    e.has_value = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(mount: &str) -> Labels {
        Labels::from_pairs([("host", "db1"), ("mount", mount)])
    }

    #[test]
    fn the_view_follows_the_log_in_order_and_renders_families() {
        let l = Latest::default();
        l.created(0, "disk_used_percent", &labels("/"));
        l.created(1, "cpu_usage_percent", &Labels::new());
        l.created(2, "disk_used_percent", &labels("/data"));
        l.values([(0, 91.5, 10), (1, 3.0, 10), (0, 50.0, 5)]);
        let mut out = String::new();
        l.render(&mut out, |m| (m == "cpu_usage_percent").then_some("Busy."));
        assert_eq!(
            out,
            "# HELP cpu_usage_percent Busy.\n# TYPE cpu_usage_percent gauge\ncpu_usage_percent 3\n\
             # TYPE disk_used_percent gauge\n\
             disk_used_percent{host=\"db1\",mount=\"/\"} 91.5\n",
            "a series without a value is not shown; an older value does not win"
        );
        // Freed, then its id reused by another series within one publish.
        l.freed(0);
        l.created(0, "load_1m", &Labels::new());
        l.values([(0, 0.5, 20), (2, 70.0, 20)]);
        let mut out = String::new();
        l.render(&mut out, |_| None);
        assert_eq!(
            out,
            "# TYPE cpu_usage_percent gauge\ncpu_usage_percent 3\n\
             # TYPE disk_used_percent gauge\ndisk_used_percent{host=\"db1\",mount=\"/data\"} 70\n\
             # TYPE load_1m gauge\nload_1m 0.5\n"
        );
        assert_eq!(l.len(), 3);
        assert_eq!(l.pending(), 0);
    }
}
