//! Opening the history: the series from the chunk database, then the log replayed into the
//! series' heads. Each tier takes from the log only what its stored chunks do not hold, so a
//! crash between a chunk write and the removal of the log it came from duplicates nothing.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use patrol_proto::Labels;
use tokio::sync::watch;

use crate::chunks;
use crate::series::{Table, Tier};
use crate::wal::record::{self, Record, SeriesDef};
use crate::wal::segment::{self, Damage};
use crate::wal::{Appender, Pos};
use crate::{HistoryConfig, HistoryError, Shared};

/// Name given to a series whose definition was lost, so ids stay dense.
pub const LOST_SERIES: &str = "patrol_history_lost_series";

/// The meta key holding the next series id, so ids of removed series are not reused.
pub(crate) const NEXT_ID_META: &str = "next_series_id";

/// Meta key of the marks whose log segments were removed.
pub(crate) const MARKS_META: &str = "marks";

type Marks = std::collections::BTreeMap<String, (u64, u64)>;

/// Marks as stored: one `epoch seq source` per line.
pub(crate) fn marks_text(marks: &Marks) -> String {
    marks
        .iter()
        .map(|(source, (epoch, seq))| format!("{epoch} {seq} {source}\n"))
        .collect()
}

fn marks_parse(text: &str) -> Marks {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ' ');
            let epoch = it.next()?.parse().ok()?;
            let seq = it.next()?.parse().ok()?;
            Some((it.next()?.to_owned(), (epoch, seq)))
        })
        .collect()
}

pub(crate) struct Opened {
    pub shared: Arc<Shared>,
    pub appender: Appender,
    pub last_ts: Vec<i64>,
    pub db: rusqlite::Connection,
}

/// Adds `def` to the table; ids below it nobody defined stay empty (removed series).
fn define(table: &mut Table, def: SeriesDef) -> bool {
    if let Some(e) = table.get(def.id) {
        return e.name == def.name && e.labels == def.labels;
    }
    table.reserve_to(def.id);
    table.insert(def.id, &def.name, def.labels)
}

pub(crate) fn open(dir: &Path, cfg: HistoryConfig) -> Result<Opened, HistoryError> {
    let wal_dir = dir.join("wal");
    std::fs::create_dir_all(&wal_dir)?;
    let db_path = dir.join("chunks.db");
    let db = chunks::open(&db_path)?;
    let reader = chunks::open(&db_path)?;

    let mut table = Table::default();
    let mut lost = 0u64;
    for def in chunks::load_series(&db)? {
        match def {
            Ok(d) => {
                if !define(&mut table, d) {
                    lost += 1;
                }
            }
            Err(id) => {
                lost += 1;
                define(
                    &mut table,
                    SeriesDef {
                        id,
                        name: LOST_SERIES.into(),
                        labels: Labels::from_pairs([("id", id.to_string())]),
                    },
                );
            }
        }
    }
    // Ids of removed series are never given out again.
    if let Some(next) = chunks::get_meta(&db, NEXT_ID_META)?.and_then(|t| t.parse().ok()) {
        table.reserve_to(next);
    }
    let newest = |tier| -> Result<Vec<(u32, i64)>, HistoryError> { Ok(chunks::newest(&db, tier)?) };
    let raw_newest = newest(Tier::Raw)?;
    let agg_newest = newest(Tier::Minute)?;

    let stats = crate::stats::Stats::default();
    let segments = segment::list(&wal_dir)?;
    let sizes = crate::series::ChunkSizes {
        samples: cfg.chunk_samples,
        minutes: cfg.chunk_minutes,
    };
    let mut stored_raw = vec![i64::MIN; table.len()];
    let mut stored_agg = vec![i64::MIN; table.len()];
    for &(id, ts) in &raw_newest {
        if let Some(s) = stored_raw.get_mut(id as usize) {
            *s = ts;
        }
    }
    for &(id, ts) in &agg_newest {
        if let Some(s) = stored_agg.get_mut(id as usize) {
            *s = ts;
        }
    }
    let mut marks = chunks::get_meta(&db, MARKS_META)?
        .map(|t| marks_parse(&t))
        .unwrap_or_default();
    let mut replayed = 0u64;
    for (n, &index) in segments.iter().enumerate() {
        let path = segment::path(&wal_dir, index);
        let bytes = std::fs::read(&path)?;
        let scan = segment::scan(&bytes);
        for d in &scan.damage {
            stats.wal_records_damaged.add(1);
            match *d {
                Damage::Checksum { offset } => tracing::error!(
                    file = %path.display(), offset,
                    "history log: a damaged record (checksum mismatch) was skipped"
                ),
                Damage::Frame { offset, lost } => {
                    stats.wal_bytes_damaged.add(lost as u64);
                    tracing::error!(
                        file = %path.display(), offset, bytes = lost,
                        "history log: the rest of this segment cannot be read (a torn last write, or damage); dropped"
                    );
                }
            }
        }
        if n + 1 == segments.len() && scan.valid_end < bytes.len() {
            // Cut the torn tail so the next reader does not trip over it again.
            let f = std::fs::OpenOptions::new().write(true).open(&path)?;
            f.set_len(scan.valid_end as u64)?;
            f.sync_all()?;
        }
        for (offset, payload) in scan.records {
            match record::decode(payload) {
                Ok(Record::Series(def)) => {
                    let id = def.id;
                    if !define(&mut table, def) {
                        stats.wal_records_damaged.add(1);
                        tracing::error!(file = %path.display(), offset, series = id,
                            "history log: a series definition contradicts an earlier one; skipped");
                    }
                }
                Ok(Record::Mark(m)) => crate::note_mark(&mut marks, &m),
                Ok(Record::Samples(samples)) => {
                    for s in samples {
                        let Some(entry) = table.get(s.id) else {
                            continue;
                        };
                        let i = s.id as usize;
                        let raw = s.ts > stored_raw.get(i).copied().unwrap_or(i64::MIN);
                        let agg = s.ts > stored_agg.get(i).copied().unwrap_or(i64::MIN);
                        let mut head = entry.head();
                        if (raw || agg) && s.ts > head.last_ts {
                            head.append_to(s.ts, s.value, index, sizes, raw, agg);
                            replayed += 1;
                        }
                    }
                }
                Err(e) => {
                    stats.wal_records_damaged.add(1);
                    tracing::error!(file = %path.display(), offset, "history log: {e}; skipped");
                }
            }
        }
    }
    if replayed > 0 {
        tracing::info!(
            samples = replayed,
            segments = segments.len(),
            "history: log replayed"
        );
    }
    // Chunks whose series nobody defines (a damaged database) stay readable under a
    // placeholder name rather than vanish.
    for &(id, _) in raw_newest.iter().chain(&agg_newest) {
        if table.get(id).is_none() {
            lost += 1;
            table.reserve_to(id);
            table.insert(
                id,
                LOST_SERIES,
                Labels::from_pairs([("id", id.to_string())]),
            );
        }
    }
    if lost > 0 {
        tracing::error!(
            file = %db_path.display(),
            series = lost,
            "history: series definitions in the chunk database are unreadable; their data is kept under {LOST_SERIES}"
        );
    }
    let last_ts: Vec<i64> = table
        .slots()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.as_ref().map_or(i64::MIN, |e| {
                e.head()
                    .last_ts
                    .max(stored_raw.get(i).copied().unwrap_or(i64::MIN))
            })
        })
        .collect();
    let next = segments.last().map_or(1, |i| i + 1);
    let appender = Appender::create(&wal_dir, next, cfg.fsync)?;
    stats.series.set(table.live() as u64);
    let (durable, _) = watch::channel(Pos {
        segment: next,
        offset: 0,
    });
    let shared = Arc::new(Shared {
        dir: dir.to_owned(),
        wal_dir,
        db_path,
        cfg,
        // Every known series is written to the database at the first checkpoint.
        pending: Mutex::new(Vec::new()),
        table: RwLock::new(table),
        reader: Mutex::new(reader),
        stats,
        durable,
        floors: Mutex::new(Default::default()),
        marks: Mutex::new(marks),
        limbo: Mutex::new(Vec::new()),
        removals: std::sync::atomic::AtomicU64::new(0),
    });
    Ok(Opened {
        shared,
        appender,
        last_ts,
        db,
    })
}
