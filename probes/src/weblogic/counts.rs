//! What the WebLogic probe counts in a server log: totals saved with the read position, and
//! per-interval figures handed out (and reset) at each collection.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::parse::{self, STUCK_THREAD, Severity};
use crate::tail::Record;
use crate::tail::counted::Counter;

/// Distinct message ids tracked in one interval; more are counted together as overflow, so
/// a log full of made-up ids cannot grow memory.
const MAX_IDS_PER_INTERVAL: usize = 10_000;

/// Counts of one server log.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WeblogicCounts {
    /// Messages by severity, indexed like [`Severity::ALL`].
    pub messages: [u64; 10],
    /// BEA-000337 (STUCK thread) messages.
    pub stuck_threads: u64,
    /// Messages mentioning `OutOfMemoryError` (message or stack trace).
    pub out_of_memory: u64,
    /// Records not in the WebLogic format.
    pub unparsed: u64,
    #[serde(skip)]
    pub interval: IntervalCounts,
}

/// Counted since the last collection; never saved (see the probe's README on restarts).
#[derive(Debug, Default)]
pub struct IntervalCounts {
    pub stuck_threads: u64,
    pub out_of_memory: u64,
    pub ids: HashMap<Vec<u8>, u64>,
}

impl Counter for WeblogicCounts {
    fn count(&mut self, record: Record<'_>) {
        let Some(message) = parse::parse(record.bytes) else {
            self.unparsed += 1;
            return;
        };
        self.messages[message.severity as usize] += 1;
        if let Some(id) = message.msgid {
            if id == STUCK_THREAD {
                self.stuck_threads += 1;
                self.interval.stuck_threads += 1;
            }
            let ids = &mut self.interval.ids;
            if let Some(n) = ids.get_mut(id) {
                *n += 1;
            } else if ids.len() < MAX_IDS_PER_INTERVAL {
                ids.insert(id.to_vec(), 1);
            }
        }
        if parse::mentions_out_of_memory(record.bytes) {
            self.out_of_memory += 1;
            self.interval.out_of_memory += 1;
        }
    }
}

impl WeblogicCounts {
    pub fn by_severity(&self) -> impl Iterator<Item = (Severity, u64)> + '_ {
        Severity::ALL.into_iter().zip(self.messages)
    }

    /// Takes the interval's figures, leaving zeros for the next one.
    pub fn take_interval(&mut self) -> IntervalCounts {
        std::mem::take(&mut self.interval)
    }
}

impl IntervalCounts {
    /// The `n` most frequent ids, most frequent first (ties by id, so the order is stable).
    pub fn top_ids(&self, n: usize) -> Vec<(String, u64)> {
        let mut ids: Vec<_> = self.ids.iter().collect();
        ids.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        ids.into_iter()
            .take(n)
            .map(|(id, count)| (String::from_utf8_lossy(id).into_owned(), *count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bytes: &[u8]) -> Record<'_> {
        Record {
            bytes,
            truncated: false,
        }
    }

    #[test]
    fn counts_severity_stuck_oom_and_ids() {
        let mut c = WeblogicCounts::default();
        let stuck = b"####<t> <Error> <WebLogicServer> <m> <s> <t> <<WLS Kernel>> <> <> <1> <BEA-000337> <[STUCK] ExecuteThread: '12' ...>";
        let oom = b"####<t> <Error> <Kernel> <m> <s> <t> <> <> <> <1> <BEA-000802> <ExecuteRequest failed\njava.lang.OutOfMemoryError: Java heap space\n> ";
        let info = b"####<t> <Info> <Health> <m> <s> <t> <> <> <> <1> <BEA-310002> <62% free>";
        for r in [
            &stuck[..],
            stuck,
            oom,
            info,
            info,
            info,
            b"\tat x.y(Z.java:1)",
        ] {
            c.count(record(r));
        }
        assert_eq!(c.messages[Severity::Error as usize], 3);
        assert_eq!(c.messages[Severity::Info as usize], 3);
        assert_eq!((c.stuck_threads, c.out_of_memory, c.unparsed), (2, 1, 1));
        let interval = c.take_interval();
        assert_eq!(interval.stuck_threads, 2);
        assert_eq!(
            interval.top_ids(2),
            vec![("BEA-310002".to_owned(), 3), ("BEA-000337".to_owned(), 2)]
        );
        assert_eq!(c.take_interval().stuck_threads, 0, "reset after taking");
        assert_eq!(c.stuck_threads, 2, "totals stay");
    }

    #[test]
    fn made_up_ids_do_not_grow_memory_without_bound() {
        let mut c = WeblogicCounts::default();
        for i in 0..(MAX_IDS_PER_INTERVAL + 500) {
            let r = format!("####<t> <Info> <S> <m> <s> <t> <> <> <> <1> <BEA-{i}> <x>");
            c.count(record(r.as_bytes()));
        }
        assert_eq!(c.interval.ids.len(), MAX_IDS_PER_INTERVAL);
        assert_eq!(
            c.messages[Severity::Info as usize],
            MAX_IDS_PER_INTERVAL as u64 + 500
        );
    }

    #[test]
    fn saved_counts_round_trip_without_the_interval() {
        let mut c = WeblogicCounts::default();
        c.count(record(
            b"####<t> <Warning> <S> <m> <s> <t> <> <> <> <1> <BEA-000337> <x>",
        ));
        let json = serde_json::to_string(&c).expect("serialize");
        let back: WeblogicCounts = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.messages, c.messages);
        assert_eq!(back.stuck_threads, 1);
        assert_eq!(back.interval.stuck_threads, 0);
    }
}
