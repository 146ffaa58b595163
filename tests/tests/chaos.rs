//! Chaos: agents stream while the real collector is killed with SIGKILL every second or two
//! and restarted on the same data. A checker that knows every batch sent shows, from the
//! collector's own database afterwards:
//! - every acknowledged batch applied exactly once (each carries a breach and its clearing on
//!   a series of its own: applied once is one incident opened once; lost is none; twice is a
//!   second incident or a reopening);
//! - no incident duplicated;
//! - every notification confirmed by the webhook peer marked sent, none left behind, and a
//!   notification delivered twice only when a kill fell between the peer's answer and the
//!   collector recording it (at most one per kill: the channel delivers one at a time).
//!
//! One agent restarts half-way with a *smaller* epoch (old agents pick epochs at random), the
//! case that once made a restarted collector apply batches a second time.
//!
//! Short here (`PATROL_CHAOS_SECS`, default 10); bench/chaos.sh runs it for many minutes and
//! reports the figures (docs/benchmarks.md).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patrol_proto::v1;
use support::procs::{self, Proc, collector_with_site, free_port};
use support::wire::{ScriptedAgent, def, hello, point};

const RULES: &str = r#"
[[rule]]
name = "chaos_flip"
expr = 'chaos_flip > 50'
severity = "P3"
summary = "{{life}} {{batch}}"
"#;

const SITE: &str = r#"
[channel.hook]
kind = "webhook"
url = "http://127.0.0.1:HOOK/hook"
timeout = "2s"
retry = { initial = "100ms", max = "1s", factor = 2.0, jitter = 0.1 }

[[route]]
name = "everything"
channels = ["hook"]
"#;

/// Unacknowledged batches an agent keeps in flight.
const WINDOW: usize = 8;
/// One new batch per agent this often.
const PACE: Duration = Duration::from_millis(25);

fn secs() -> u64 {
    std::env::var("PATROL_CHAOS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// Event ids the webhook peer answered 200 to, with how many times.
type Hits = Arc<Mutex<HashMap<String, u32>>>;

fn webhook() -> (u16, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let port = listener.local_addr().expect("addr").port();
    let hits: Hits = Arc::default();
    let seen = Arc::clone(&hits);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).unwrap_or(0) == 0 {
                continue;
            }
            let (mut len, mut event_id) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-patrol-event-id:") {
                    event_id = line["x-patrol-event-id:".len()..].trim().to_owned();
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            *seen.lock().expect("hits").entry(event_id).or_default() += 1;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, hits)
}

/// What one agent did: per life (label), the batches acknowledged and those given up at a
/// restart.
#[derive(Debug, Default)]
struct AgentLog {
    acked: BTreeSet<(String, u64)>,
    abandoned: BTreeSet<(String, u64)>,
    reconnects: u64,
}

fn batch_of(life: &str, seq: u64) -> (Vec<v1::SeriesDef>, Vec<v1::Point>) {
    // Wire ids are per stream; the batch number keeps them apart within a life.
    let id = seq as u32;
    let t = seq as i64 * 10;
    (
        vec![def(
            id,
            "chaos_flip",
            &[("life", life), ("batch", &seq.to_string())],
        )],
        vec![point(id, 100.0, t), point(id, 0.0, t + 1)],
    )
}

/// One life of an agent: epoch `epoch`, batches labelled `life`; creates batches while
/// `creating` holds, ends when all it created are acknowledged or when `restart` turns true
/// (then the unacknowledged ones are given up, as an agent without a spool loses them).
async fn life(
    grpc: &str,
    agent: &str,
    epoch: u64,
    life: &str,
    creating: &AtomicBool,
    restart: Option<&AtomicBool>,
    log: &mut AgentLog,
) {
    let mut next = 1u64;
    let mut unacked: BTreeSet<u64> = BTreeSet::new();
    let mut pace = tokio::time::interval(PACE);
    let restarting = || restart.is_some_and(|r| r.load(Ordering::SeqCst));
    'connection: loop {
        if restarting() {
            break;
        }
        let Ok(mut a) = ScriptedAgent::connect(grpc, hello(agent, epoch)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        log.reconnects += 1;
        // Everything up to the welcome's number is durable on the collector.
        let done: Vec<u64> = unacked.range(..=a.welcome_seq).copied().collect();
        for s in done {
            unacked.remove(&s);
            log.acked.insert((life.to_owned(), s));
        }
        for &s in &unacked {
            let (series, points) = batch_of(life, s);
            if !a.try_send(s, series, points).await {
                continue 'connection;
            }
        }
        loop {
            if restarting() {
                break 'connection;
            }
            let may_create = creating.load(Ordering::SeqCst);
            if unacked.is_empty() && !may_create {
                return;
            }
            tokio::select! {
                _ = pace.tick(), if may_create && unacked.len() < WINDOW => {
                    let (series, points) = batch_of(life, next);
                    unacked.insert(next);
                    next += 1;
                    if !a.try_send(next - 1, series, points).await {
                        continue 'connection;
                    }
                }
                ack = a.next_ack(Duration::from_millis(500)) => match ack {
                    Ok(seq) => {
                        unacked.remove(&seq);
                        log.acked.insert((life.to_owned(), seq));
                    }
                    Err(s) if s.code() == tonic::Code::DeadlineExceeded => {}
                    Err(_) => continue 'connection,
                },
            }
        }
    }
    for s in unacked {
        log.abandoned.insert((life.to_owned(), s));
    }
}

/// Starts the collector on `port` with `dir`'s rules, data and site.
fn start(dir: &std::path::Path, port: u16) -> (Proc, String) {
    collector_with_site(dir, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_chaos_applies_every_acknowledged_batch_once_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    std::fs::write(dir.path().join("rules/chaos.toml"), RULES).expect("rules");
    let (hook, hits) = webhook();
    std::fs::write(
        dir.path().join("site.toml"),
        SITE.replace("HOOK", &hook.to_string()),
    )
    .expect("site");
    let port = free_port();
    let grpc = format!("127.0.0.1:{port}");
    let (first, _) = start(dir.path(), port);

    let creating = Arc::new(AtomicBool::new(true));
    let restart_b = Arc::new(AtomicBool::new(false));
    let mut agents = Vec::new();
    {
        let (grpc, creating) = (grpc.clone(), Arc::clone(&creating));
        agents.push(tokio::spawn(async move {
            let mut log = AgentLog::default();
            life(&grpc, "a", 5_000, "a-1", &creating, None, &mut log).await;
            log
        }));
    }
    {
        let (grpc, creating, restart) =
            (grpc.clone(), Arc::clone(&creating), Arc::clone(&restart_b));
        agents.push(tokio::spawn(async move {
            let mut log = AgentLog::default();
            life(
                &grpc,
                "b",
                9_000,
                "b-1",
                &creating,
                Some(&restart),
                &mut log,
            )
            .await;
            // Restarted without a spool, with a smaller epoch.
            life(&grpc, "b", 3_000, "b-2", &creating, None, &mut log).await;
            log
        }));
    }

    // The chaos: SIGKILL every 0.7-2 s, restart at once.
    let run = Duration::from_secs(secs());
    let chaos = {
        let dir = dir.path().to_path_buf();
        let restart_b = Arc::clone(&restart_b);
        tokio::task::spawn_blocking(move || {
            let mut collector = first;
            let started = Instant::now();
            let mut kills = 0u64;
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            while started.elapsed() < run {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let wait = Duration::from_millis(700 + seed % 1300);
                // The collector runs meanwhile; this thread has nothing to wait on but time.
                std::thread::sleep(wait);
                if started.elapsed() > run / 2 {
                    restart_b.store(true, Ordering::SeqCst);
                }
                collector.kill();
                kills += 1;
                collector = start(&dir, port).0;
            }
            (collector, kills)
        })
    };
    let (collector, kills) = chaos.await.expect("chaos driver");
    creating.store(false, Ordering::SeqCst);
    let mut logs = Vec::new();
    for a in agents {
        logs.push(
            tokio::time::timeout(Duration::from_secs(60), a)
                .await
                .expect("agents finish once the collector stays up")
                .expect("agent task"),
        );
    }

    // Every notification delivered before the check.
    let mut collector = collector;
    let db = dir.path().join("data/patrol.db");
    // The webhook delivers one notification at a time: after a long run the backlog takes a
    // while. It must keep shrinking (no 30 s without progress) until it is empty.
    let pending = || -> Option<i64> {
        let c =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        c.query_row(
            "SELECT COUNT(*) FROM notify_outbox WHERE state = 'pending'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .ok()
    };
    let drain_started = Instant::now();
    let mut last = i64::MAX;
    loop {
        let progressed = procs::eventually(Duration::from_secs(30), || {
            pending().is_some_and(|n| n == 0 || n < last)
        });
        let now = pending().unwrap_or(i64::MAX);
        assert!(
            progressed,
            "{now} notifications pending, none delivered for 30 s"
        );
        if now == 0 {
            break;
        }
        last = now;
    }
    let drained = drain_started.elapsed();
    collector.kill();

    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the collector's database");
    let count_by = |sql: &str| -> BTreeMap<String, i64> {
        let mut stmt = c.prepare(sql).expect("prepare");
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    let incidents = count_by(
        "SELECT summary, COUNT(*) FROM incidents WHERE rule = 'chaos_flip' GROUP BY summary",
    );
    let openings = count_by(
        "SELECT i.summary, COUNT(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id \
         WHERE i.rule = 'chaos_flip' AND e.kind IN ('opened', 'reopened') GROUP BY i.summary",
    );
    let mut acked = BTreeSet::new();
    let mut abandoned = BTreeSet::new();
    let mut reconnects = 0;
    for l in &logs {
        acked.extend(l.acked.iter().cloned());
        abandoned.extend(l.abandoned.iter().cloned());
        reconnects += l.reconnects;
    }
    let key = |(life, seq): &(String, u64)| format!("{life} {seq}");
    let mut lost = Vec::new();
    let mut twice = Vec::new();
    for b in &acked {
        let k = key(b);
        match (incidents.get(&k), openings.get(&k)) {
            (Some(1), Some(1)) => {}
            (None, _) => lost.push(k),
            _ => twice.push(k),
        }
    }
    for b in &abandoned {
        let k = key(b);
        if incidents.get(&k).copied().unwrap_or(0) > 1 || openings.get(&k).copied().unwrap_or(0) > 1
        {
            twice.push(k);
        }
    }
    let known: BTreeSet<String> = acked.iter().chain(&abandoned).map(key).collect();
    let strangers: Vec<&String> = incidents.keys().filter(|k| !known.contains(*k)).collect();

    let outbox = count_by(
        "SELECT CAST(event_id AS TEXT), COUNT(*) FROM notify_outbox \
         WHERE channel = 'hook' AND state = 'sent' GROUP BY event_id",
    );
    let not_sent: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM notify_outbox WHERE channel = 'hook' AND state <> 'sent'",
            [],
            |r| r.get(0),
        )
        .expect("outbox");
    let hits = hits.lock().expect("hits").clone();
    let unseen: Vec<&String> = outbox.keys().filter(|e| !hits.contains_key(*e)).collect();
    let delivered_twice: u64 = hits.values().map(|n| u64::from(n.saturating_sub(1))).sum();

    println!(
        "chaos: {}s, {kills} SIGKILLs, {reconnects} agent connections, {} batches acknowledged \
         ({} samples), {} given up at the restart, {} incidents, {} notifications sent, {} \
         delivered twice, outbox drained {:.1}s after the chaos",
        run.as_secs(),
        acked.len(),
        acked.len() * 2,
        abandoned.len(),
        incidents.len(),
        outbox.len(),
        delivered_twice,
        drained.as_secs_f64()
    );
    assert!(
        kills >= 3,
        "the chaos must kill the collector a few times ({kills})"
    );
    assert!(lost.is_empty(), "acknowledged but never applied: {lost:?}");
    assert!(
        twice.is_empty(),
        "applied twice (duplicate incident or reopening): {twice:?}"
    );
    assert!(
        strangers.is_empty(),
        "incidents of batches never sent: {strangers:?}"
    );
    assert!(
        acked.iter().any(|(l, _)| l == "b-2"),
        "the agent restarted with a smaller epoch got batches through"
    );
    assert_eq!(not_sent, 0, "notifications not sent");
    assert!(
        unseen.is_empty(),
        "marked sent but never received: {unseen:?}"
    );
    assert!(
        delivered_twice <= kills,
        "{delivered_twice} notifications delivered twice for {kills} kills"
    );
}
