//! The chunk database (`<data>/history/chunks.db`, SQLite): sealed chunks of both tiers (each
//! blob ends with the CRC-32C of its bytes, checked on every read), the
//! series they belong to, and small bookkeeping (remote-write positions). Chunks are
//! immutable blobs; retention and the disk cap delete whole chunks, oldest first, and
//! `auto_vacuum = INCREMENTAL` gives the space back to the file system.

use std::path::Path;

use patrol_proto::Labels;
use rusqlite::{Connection, OptionalExtension, params};

use crate::series::{Sealed, Tier};
use crate::wal::record::{self, Record, SeriesDef};

/// A chunk as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Its tier.
    pub tier: Tier,
    /// First timestamp or minute.
    pub min_ts: i64,
    /// Last timestamp or minute.
    pub max_ts: i64,
    /// Samples or minutes.
    pub count: u32,
    /// The newest sample the chunk includes.
    pub last_ts: i64,
    /// Encoded bytes.
    pub data: Vec<u8>,
}

impl From<Sealed> for Stored {
    fn from(s: Sealed) -> Self {
        Self {
            tier: s.tier,
            min_ts: s.min_ts,
            max_ts: s.max_ts,
            count: s.count,
            last_ts: s.last_ts,
            data: s.data,
        }
    }
}

/// What a deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Chunks.
    pub chunks: u64,
    /// Samples (raw) or minutes (aggregates) in them.
    pub points: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, def BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    series INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_series ON chunks (series, tier, max_ts);
CREATE INDEX IF NOT EXISTS chunks_by_age ON chunks (tier, max_ts);
";

/// Ids of the series that have at least one chunk.
pub fn series_with_chunks(conn: &Connection) -> rusqlite::Result<std::collections::HashSet<u32>> {
    let mut stmt = conn.prepare("SELECT DISTINCT series FROM chunks")?;
    let rows = stmt.query_map([], |r| r.get::<_, u32>(0))?;
    rows.collect()
}

/// Deletes series definitions and records the next id, so the removed ids are not reused
/// after a restart. One transaction.
pub fn remove_series(conn: &mut Connection, ids: &[u32], next: usize) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare("DELETE FROM series WHERE id = ?1")?;
        for id in ids {
            stmt.execute(params![id])?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![crate::open::NEXT_ID_META, next.to_string()],
    )?;
    tx.commit()
}

/// Opens (creating) the database with the settings every connection needs.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Must be set before the first table exists to take effect.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A checkpoint deletes log segments once their chunks are committed here, so a commit
    // must survive a power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Writes sealed chunks in one transaction.
pub fn insert(conn: &mut Connection, chunks: &[(u32, Stored)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO chunks (series, tier, min_ts, max_ts, count, last_ts, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut data = Vec::new();
        for (id, c) in chunks {
            data.clear();
            data.extend_from_slice(&c.data);
            data.extend_from_slice(&crc32c::crc32c(&c.data).to_le_bytes());
            stmt.execute(params![
                id,
                c.tier.code(),
                c.min_ts,
                c.max_ts,
                c.count,
                c.last_ts,
                data
            ])?;
        }
    }
    tx.commit()
}

/// Records series definitions (idempotent).
pub fn insert_series(conn: &mut Connection, defs: &[SeriesDef]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt =
            tx.prepare_cached("INSERT OR IGNORE INTO series (id, def) VALUES (?1, ?2)")?;
        let mut buf = Vec::new();
        for d in defs {
            buf.clear();
            record::encode_series(&mut buf, d);
            stmt.execute(params![d.id, buf])?;
        }
    }
    tx.commit()
}

/// Every stored series definition, by id; undecodable ones are returned as errors with their id.
pub fn load_series(conn: &Connection) -> rusqlite::Result<Vec<Result<SeriesDef, u32>>> {
    let mut stmt = conn.prepare("SELECT id, def FROM series ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, def) = row?;
        out.push(match record::decode(&def) {
            Ok(Record::Series(d)) if d.id == id => Ok(d),
            _ => Err(id),
        });
    }
    Ok(out)
}

/// The newest sample each series has stored in `tier`.
pub fn newest(conn: &Connection, tier: Tier) -> rusqlite::Result<Vec<(u32, i64)>> {
    let mut stmt =
        conn.prepare("SELECT series, MAX(last_ts) FROM chunks WHERE tier = ?1 GROUP BY series")?;
    let rows = stmt.query_map([tier.code()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Chunks of `series` in `tier` overlapping `[from, to]`, oldest first.
pub fn read(
    conn: &Connection,
    series: u32,
    tier: Tier,
    from: i64,
    to: i64,
) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT min_ts, max_ts, count, last_ts, data FROM chunks \
         WHERE series = ?1 AND tier = ?2 AND max_ts >= ?3 AND min_ts <= ?4 ORDER BY min_ts",
    )?;
    let rows = stmt.query_map(params![series, tier.code(), from, to], |r| {
        Ok(Stored {
            tier,
            min_ts: r.get(0)?,
            max_ts: r.get(1)?,
            count: r.get(2)?,
            last_ts: r.get(3)?,
            data: checked(r.get(4)?),
        })
    })?;
    rows.collect()
}

/// A stored chunk's bytes without their CRC-32C trailer; empty when the trailer does not match
/// (the reader then finds fewer samples than the chunk's count, and counts it as damaged).
fn checked(mut stored: Vec<u8>) -> Vec<u8> {
    let Some(split) = stored.len().checked_sub(4) else {
        return Vec::new();
    };
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&stored[split..]);
    stored.truncate(split);
    if crc32c::crc32c(&stored) == u32::from_le_bytes(crc) {
        stored
    } else {
        Vec::new()
    }
}

/// Deletes the chunks of `tier` that end before `cutoff`.
pub fn delete_before(conn: &Connection, tier: Tier, cutoff: i64) -> rusqlite::Result<Removed> {
    let (chunks, points): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM chunks WHERE tier = ?1 AND max_ts < ?2",
        params![tier.code(), cutoff],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if chunks > 0 {
        conn.execute(
            "DELETE FROM chunks WHERE tier = ?1 AND max_ts < ?2",
            params![tier.code(), cutoff],
        )?;
    }
    Ok(Removed {
        chunks: chunks as u64,
        points: points as u64,
    })
}

/// The end of the oldest chunk of `tier`, if any.
pub fn oldest_end(conn: &Connection, tier: Tier) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MIN(max_ts) FROM chunks WHERE tier = ?1",
        [tier.code()],
        |r| r.get(0),
    )
}

/// Bytes the database holds (pages in use, the free list excluded) plus its SQLite WAL.
pub fn size(conn: &Connection, path: &Path) -> rusqlite::Result<u64> {
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let wal = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    Ok(((count - free).max(0) * page) as u64 + wal)
}

/// Gives freed pages back to the file system.
pub fn vacuum(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
}

/// A bookkeeping value.
pub fn get_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Sets a bookkeeping value.
pub fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

/// Counts per tier: chunks and points.
pub fn totals(conn: &Connection) -> rusqlite::Result<[(u64, u64, u64); 2]> {
    let mut out = [(0, 0, 0); 2];
    let mut stmt = conn.prepare(
        "SELECT tier, COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(data)), 0) FROM chunks GROUP BY tier",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (tier, chunks, points, bytes) = row?;
        if let Some(slot) = out.get_mut(tier as usize) {
            *slot = (chunks as u64, points as u64, bytes as u64);
        }
    }
    Ok(out)
}

/// Labels as a series definition needs them.
pub fn def(id: u32, name: &str, labels: &Labels) -> SeriesDef {
    SeriesDef {
        id,
        name: name.to_owned(),
        labels: labels.clone(),
    }
}
