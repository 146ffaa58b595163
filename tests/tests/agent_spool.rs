//! The agent's disk spool with the real binaries: the collector goes away for a long outage
//! (time compressed: six probes every 100 ms make in 12 s the 720 batches two probes make in
//! an hour at 10 s; the spool rolls over several segments), the agent is restarted in the middle of it, the
//! collector comes back, and every batch the agent made reaches the collector exactly once,
//! in order, under the epoch the agent kept across its restart.

mod support;

use std::path::Path;
use std::time::Duration;

use support::daemon::{Daemon, num, queued_batches};
use support::procs::{eventually, free_port, patrolctl_json};

const AGENT: &str = "spool-agent";
/// Batches made on each side of the agent's restart during the outage.
const OUTAGE_HALF: usize = 360;

fn collector(dir: &Path, port: u16) -> (Daemon, String) {
    let s = |p: std::path::PathBuf| p.to_str().expect("utf-8 path").to_owned();
    let mut c = Daemon::spawn(
        "patrol-collector",
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--http",
            "127.0.0.1:0",
            "--rules",
            &s(dir.join("rules")),
            "--data",
            &s(dir.join("data")),
        ],
        "info",
    );
    let http = c.wait_line(Duration::from_secs(30), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|p| p.strip_prefix("http="))
            .map(str::to_owned)
    });
    (c, http)
}

/// (batches, samples) the collector applied for the agent since it started.
fn applied(port: u16) -> (u64, u64) {
    let list = patrolctl_json(
        &format!("http://127.0.0.1:{port}"),
        &["agents", "list", "--json"],
    );
    list.as_array()
        .and_then(|a| a.iter().find(|x| x["agent_id"] == AGENT))
        .map(|a| {
            (
                a["batches"].as_u64().unwrap_or(0),
                a["samples"].as_u64().unwrap_or(0),
            )
        })
        .unwrap_or((0, 0))
}

/// The (epoch, seq) the collector's store holds as durably applied for the agent.
fn durable_seq(data: &Path) -> (u64, u64) {
    let db = rusqlite::Connection::open(data.join("patrol.db")).expect("open the store");
    db.query_row(
        "SELECT epoch, seq FROM agent_seq WHERE agent_id = ?1",
        [AGENT],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .expect("the collector recorded the agent's applied batches")
}

/// Waits until the agent has queued `n` more batches than it had.
fn wait_batches(agent: &mut Daemon, n: usize) {
    let mut count = 0;
    agent.wait_line(Duration::from_secs(60), |l| {
        if l.contains("batch queued") {
            count += 1;
        }
        (count >= n).then_some(())
    });
}

#[test]
fn an_outage_with_an_agent_restart_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    let watched = dir.path().join("watched");
    std::fs::create_dir_all(&watched).expect("watched dir");
    std::fs::write(watched.join("f"), vec![7u8; 4096]).expect("a file to measure");
    let port = free_port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "agent_id = \"{AGENT}\"\nhost = \"spool-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://127.0.0.1:{port}\"\nbackoff_min = \"20ms\"\nbackoff_max = \"200ms\"\n\
             [spool]\nmax_bytes = 1048576\ncatch_up_rate = 100000\n\
             {probes}",
            state = dir.path().join("state"),
            probes = (1..=6)
                .map(|q| format!(
                    "[[probe]]\ntype = \"dir\"\ninterval = \"100ms\"\npath = {watched:?}\nquota_bytes = {}\n",
                    q * 1_000_000
                ))
                .collect::<String>(),
        ),
    )
    .expect("agent config");

    // Collector up, agent delivering.
    let (mut first, _) = collector(dir.path(), port);
    let mut agent = Daemon::agent(&config);
    let epoch = agent.wait_line(Duration::from_secs(30), |l| {
        l.contains("spool opened")
            .then(|| num(l, "epoch"))
            .flatten()
    });
    assert!(
        eventually(Duration::from_secs(30), || applied(port).0 >= 5),
        "the collector never applied the agent's batches"
    );

    // The outage: the collector stops (gracefully, so what it applied is durable), the agent
    // keeps measuring.
    assert!(first.stop(Duration::from_secs(30)).success());
    let (stored_epoch, s1) = durable_seq(&dir.path().join("data"));
    assert_eq!(stored_epoch, epoch);
    agent.drain();
    wait_batches(&mut agent, OUTAGE_HALF);

    // The agent restarts in the middle of the outage: everything unacknowledged is on disk.
    assert!(agent.stop(Duration::from_secs(30)).success());
    let stopped = agent
        .seen
        .iter()
        .rev()
        .find(|l| l.contains("patrol-agent stopped"))
        .cloned()
        .expect("the agent says what it leaves behind");
    let kept = num(&stopped, "kept_in_spool").expect("kept_in_spool");
    assert!(kept >= OUTAGE_HALF as u64, "{stopped}");
    assert_eq!(num(&stopped, "dropped_samples"), Some(0), "{stopped}");
    let mut made = queued_batches(&agent.seen);

    let mut agent = Daemon::agent(&config);
    let reopened = agent.wait_line(Duration::from_secs(30), |l| {
        l.contains("spool opened").then(|| l.to_owned())
    });
    assert_eq!(num(&reopened, "epoch"), Some(epoch), "{reopened}");
    assert_eq!(num(&reopened, "pending_batches"), Some(kept), "{reopened}");
    agent.drain();
    wait_batches(&mut agent, OUTAGE_HALF);

    // The collector comes back: the backlog is replayed, then live rounds follow.
    let (mut second, http) = collector(dir.path(), port);
    assert!(
        eventually(Duration::from_secs(60), || {
            let (batches, _) = applied(port);
            batches > kept + OUTAGE_HALF as u64
        }),
        "the backlog never arrived: {:?}",
        applied(port)
    );
    // Stop the agent while it is connected: the drain delivers what is left.
    assert!(agent.stop(Duration::from_secs(30)).success());
    let stopped = agent
        .seen
        .iter()
        .rev()
        .find(|l| l.contains("patrol-agent stopped"))
        .cloned()
        .expect("stop line");
    assert_eq!(num(&stopped, "kept_in_spool"), Some(0), "{stopped}");
    assert_eq!(num(&stopped, "unacked_in_memory"), Some(0), "{stopped}");
    assert_eq!(num(&stopped, "dropped_samples"), Some(0), "{stopped}");
    made.extend(queued_batches(&agent.seen));

    // Every batch made after what the first collector had durably applied arrived at the
    // second collector, once: its counts of applied batches and samples are exactly theirs.
    let seqs: Vec<u64> = made.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "batch numbers only grow, across the restart too"
    );
    let owed: Vec<&(u64, u64)> = made.iter().filter(|(s, _)| *s > s1).collect();
    let want = (owed.len() as u64, owed.iter().map(|(_, p)| p).sum::<u64>());
    assert_eq!(
        applied(port),
        want,
        "(batches, samples) applied after the outage"
    );
    let dup = support::procs::http_get(&http, "/metrics")
        .1
        .lines()
        .find_map(|l| l.strip_prefix("patrol_ingest_batches_duplicate_total "))
        .map(str::to_owned);
    eprintln!(
        "outage: {} batches made, {} owed after seq {s1}, {kept} kept across the restart; \
         duplicates dropped by the collector: {dup:?}",
        made.len(),
        owed.len()
    );
    assert!(second.stop(Duration::from_secs(30)).success());
    let (e, last) = durable_seq(&dir.path().join("data"));
    assert_eq!((e, last), (epoch, *seqs.last().expect("batches")));
}
