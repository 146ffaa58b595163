//! `patrol-loadgen`: simulates N agents streaming to a collector over `patrol.v1.Ingest/Stream`
//! and reports how many samples per second the collector acknowledges (applied, rules evaluated,
//! durable), plus ack latency.
//!
//! Each simulated agent opens one stream, sends a hello with a fresh epoch, waits for the
//! welcome, then sends numbered batches as fast as acks allow, keeping at most `--window`
//! batches unacknowledged. Series are cycled round robin; a series' definition rides along with
//! the first batch that uses it on the stream, as a real agent does.
//!
//! Exit codes: 0 success, 1 a stream failed or stalled during the run, 2 collector unreachable
//! or bad arguments.

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use patrol_proto::v1::{self, agent_message, collector_message, ingest_client::IngestClient};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

const METRIC: &str = "disk_used_percent";
/// No ack for this long while batches are outstanding counts as a stall.
const STALL: Duration = Duration::from_secs(15);
/// How long to wait for the outstanding acks after the sending phase ends.
const DRAIN: Duration = Duration::from_secs(30);

/// Load generator for the Patrol collector's ingest path.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
struct Cli {
    /// gRPC address of the collector.
    #[arg(long, default_value = "http://127.0.0.1:7070")]
    collector: String,
    /// HTTP address of the collector; when given, /metrics counters are read before and after.
    #[arg(long)]
    http: Option<String>,
    /// Simulated agents, one stream (and connection) each.
    #[arg(long, default_value_t = 10)]
    agents: usize,
    /// Series per agent.
    #[arg(long, default_value_t = 1000)]
    series: u32,
    /// Points per batch.
    #[arg(long, default_value_t = 5000)]
    batch_points: usize,
    /// Unacknowledged batches allowed per agent.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// How long to keep sending (humantime: 20s, 1m).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Share of series whose value is above 90 (breaching `disk_used_percent > 90`).
    #[arg(long, default_value_t = 0.01)]
    breach_ratio: f64,
    /// Prefix of the simulated agent ids (`<prefix>-<n>`).
    #[arg(long, default_value = "loadgen")]
    agent_prefix: String,
}

/// What one simulated agent measured.
#[derive(Default)]
struct AgentReport {
    batches_acked: u64,
    samples_acked: u64,
    latencies: Vec<Duration>,
    /// From the welcome to the last ack.
    elapsed: Duration,
    error: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("patrol-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.agents == 0 || cli.series == 0 || cli.batch_points == 0 || cli.window == 0 {
        bail!("--agents, --series, --batch-points and --window must be at least 1");
    }
    if !(0.0..=1.0).contains(&cli.breach_ratio) {
        bail!("--breach-ratio must be between 0 and 1");
    }
    let endpoint = Endpoint::from_shared(cli.collector.clone())
        .with_context(|| format!("invalid collector address '{}'", cli.collector))?
        .connect_timeout(Duration::from_secs(3));
    // One probe connection up front, so an unreachable collector is one clear line.
    endpoint.connect().await.map_err(|e| {
        anyhow!(
            "cannot reach collector at {}: {}",
            cli.collector,
            source_chain(&e)
        )
    })?;

    let before = match &cli.http {
        Some(h) => Some(
            scrape(h)
                .await
                .with_context(|| format!("cannot read {h}/metrics"))?,
        ),
        None => None,
    };

    let cli = Arc::new(cli);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..cli.agents {
        let cli = Arc::clone(&cli);
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut report = AgentReport::default();
            if let Err(e) = agent(n, &cli, endpoint, &mut report).await {
                report.error = Some(format!("{e:#}"));
            }
            report
        }));
    }
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await.context("agent task panicked")?);
    }
    let wall = started.elapsed();

    let after = match &cli.http {
        Some(h) => Some(
            scrape(h)
                .await
                .with_context(|| format!("cannot read {h}/metrics"))?,
        ),
        None => None,
    };

    // Report.
    let samples: u64 = reports.iter().map(|r| r.samples_acked).sum();
    let batches: u64 = reports.iter().map(|r| r.batches_acked).sum();
    let mut lat: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.clone()).collect();
    lat.sort();
    let secs = wall.as_secs_f64();
    let sps = samples as f64 / secs;
    let bps = batches as f64 / secs;
    let p50 = percentile(&lat, 0.50);
    let p90 = percentile(&lat, 0.90);
    let p99 = percentile(&lat, 0.99);
    // Linux delays a TCP ACK by up to 40 ms; acks that slow usually mean a Nagle/delayed-ACK
    // interaction rather than work.
    let slow = lat
        .iter()
        .filter(|d| **d >= Duration::from_millis(35))
        .count();
    let pmax = lat.last().copied().unwrap_or_default();
    println!(
        "patrol-loadgen: {} agents x {} series, {} points/batch, window {}, {:?} sending, breach ratio {}",
        cli.agents, cli.series, cli.batch_points, cli.window, cli.duration, cli.breach_ratio
    );
    println!(
        "  wall {:.2}s (sending + draining acks); acked {} samples in {} batches",
        secs, samples, batches
    );
    println!(
        "  samples/s {:.0} total, {:.0} per agent; batches/s {:.1}",
        sps,
        sps / cli.agents as f64,
        bps
    );
    println!(
        "  ack latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} of {} acks took >= 35 ms",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(pmax),
        slow,
        lat.len()
    );
    let mut per_agent = reports
        .iter()
        .map(|r| r.samples_acked as f64 / r.elapsed.as_secs_f64().max(1e-9))
        .collect::<Vec<_>>();
    per_agent.sort_by(f64::total_cmp);
    if cli.agents > 1 {
        println!(
            "  per-agent samples/s min {:.0}, max {:.0}",
            per_agent.first().copied().unwrap_or(0.0),
            per_agent.last().copied().unwrap_or(0.0)
        );
    }
    let mut deltas = BTreeMap::new();
    if let (Some(b), Some(a)) = (&before, &after) {
        for name in [
            "patrol_ingest_samples_total",
            "patrol_rule_evaluations_total",
            "patrol_ingest_batches_applied_total",
            "patrol_incident_changes_total",
            "patrol_ingest_rejected_total",
            "patrol_store_errors_total",
        ] {
            let d = a.get(name).copied().unwrap_or(0.0) - b.get(name).copied().unwrap_or(0.0);
            deltas.insert(name, d);
            println!("  /metrics {name} +{d:.0}");
        }
    }
    let failed: Vec<(usize, &String)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.error.as_ref().map(|e| (i, e)))
        .collect();
    for (i, e) in &failed {
        eprintln!("patrol-loadgen: agent {}-{i}: {e}", cli.agent_prefix);
    }
    // One machine-readable line for scripts.
    let mut summary = format!(
        "SUMMARY agents={} series={} batch_points={} window={} wall_s={:.2} samples={} batches={} samples_per_s={:.0} per_agent_per_s={:.0} batches_per_s={:.1} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} slow_acks={} failed_agents={}",
        cli.agents,
        cli.series,
        cli.batch_points,
        cli.window,
        secs,
        samples,
        batches,
        sps,
        sps / cli.agents as f64,
        bps,
        ms(p50),
        ms(p90),
        ms(p99),
        ms(pmax),
        slow,
        failed.len()
    );
    for (k, v) in &deltas {
        summary.push_str(&format!(" {k}={v:.0}"));
    }
    println!("{summary}");
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One simulated agent: hello, welcome, then windowed batches until the deadline, then drain.
async fn agent(
    n: usize,
    cli: &Cli,
    endpoint: Endpoint,
    report: &mut AgentReport,
) -> anyhow::Result<()> {
    let channel: Channel = endpoint
        .connect()
        .await
        .map_err(|e| anyhow!("cannot connect: {}", source_chain(&e)))?;
    let mut client = IngestClient::new(channel);
    let (tx, rx) = mpsc::channel::<v1::AgentMessage>(cli.window + 2);
    let epoch = rand::rng().random_range(1..=i64::MAX as u64);
    let hello = v1::Hello {
        agent_id: format!("{}-{n}", cli.agent_prefix),
        // Named after the agent, so runs with different prefixes define different series.
        host: format!("{}-host-{n}", cli.agent_prefix),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        labels: vec![v1::Label {
            name: "role".into(),
            value: "bench".into(),
        }],
        token: String::new(),
        epoch,
    };
    tx.send(v1::AgentMessage {
        msg: Some(agent_message::Msg::Hello(hello)),
    })
    .await
    .map_err(|_| anyhow!("stream closed before the hello"))?;
    let mut inbound = client
        .stream(ReceiverStream::new(rx))
        .await
        .map_err(|s| anyhow!("collector refused the stream: {}", status_line(&s)))?
        .into_inner();
    match tokio::time::timeout(Duration::from_secs(10), inbound.message()).await {
        Ok(Ok(Some(v1::CollectorMessage {
            msg: Some(collector_message::Msg::Welcome(w)),
        }))) => {
            if (w.max_batch_points as usize) < cli.batch_points {
                bail!(
                    "collector accepts at most {} points per batch, --batch-points is {}",
                    w.max_batch_points,
                    cli.batch_points
                );
            }
        }
        Ok(Ok(other)) => bail!("expected a welcome, got {other:?}"),
        Ok(Err(s)) => bail!("stream failed before the welcome: {}", status_line(&s)),
        Err(_) => bail!("no welcome within 10s"),
    }

    let breaching = (cli.series as f64 * cli.breach_ratio).round() as u32;
    let mut generator = Generator {
        series: cli.series,
        breaching,
        next_series: 0,
        defined: vec![false; cli.series as usize],
        rng: rand::rngs::StdRng::from_rng(&mut rand::rng()),
        round_ts: i64::MIN,
    };
    let start = Instant::now();
    let deadline = start + cli.duration;
    let mut outstanding: VecDeque<(u64, Instant, u64)> = VecDeque::new();
    let mut next_seq = 1u64;
    let mut last_progress = Instant::now();
    let mut sending = true;
    loop {
        if sending && Instant::now() >= deadline {
            sending = false;
        }
        if !sending && outstanding.is_empty() {
            break;
        }
        // Fill the window.
        while sending && outstanding.len() < cli.window {
            let batch = generator.batch(next_seq, cli.batch_points);
            let points = batch.points.len() as u64;
            outstanding.push_back((next_seq, Instant::now(), points));
            tx.send(v1::AgentMessage {
                msg: Some(agent_message::Msg::Batch(batch)),
            })
            .await
            .map_err(|_| anyhow!("the stream closed while sending batch {next_seq}"))?;
            next_seq += 1;
        }
        let wait = if sending {
            STALL
        } else {
            DRAIN.saturating_sub(Instant::now().saturating_duration_since(deadline))
        };
        let wait = wait.min(STALL.saturating_sub(last_progress.elapsed()));
        let msg = match tokio::time::timeout(wait, inbound.message()).await {
            Ok(m) => m,
            Err(_) => bail!(
                "stall: no ack for {:.1}s with {} batches unacknowledged (oldest seq {}, sent {:.1}s ago)",
                last_progress.elapsed().as_secs_f64(),
                outstanding.len(),
                outstanding.front().map(|o| o.0).unwrap_or(0),
                outstanding
                    .front()
                    .map(|o| o.1.elapsed().as_secs_f64())
                    .unwrap_or(0.0)
            ),
        };
        match msg {
            Ok(Some(v1::CollectorMessage {
                msg: Some(collector_message::Msg::Ack(a)),
            })) => {
                let now = Instant::now();
                while let Some(&(seq, sent, points)) = outstanding.front() {
                    if seq > a.seq {
                        break;
                    }
                    outstanding.pop_front();
                    report.batches_acked += 1;
                    report.samples_acked += points;
                    report.latencies.push(now - sent);
                }
                last_progress = now;
                report.elapsed = start.elapsed();
            }
            Ok(Some(other)) => bail!("unexpected message from the collector: {other:?}"),
            Ok(None) => bail!(
                "collector ended the stream with {} batches unacknowledged",
                outstanding.len()
            ),
            Err(s) => bail!(
                "stream failed with {} batches unacknowledged: {}",
                outstanding.len(),
                status_line(&s)
            ),
        }
    }
    report.elapsed = start.elapsed();
    Ok(())
}

/// Builds batches: series cycled round robin, definitions on first use, `breaching` series
/// (the first ones) above 90 and the rest well below the rule's clear level (85).
struct Generator {
    series: u32,
    breaching: u32,
    next_series: u32,
    defined: Vec<bool>,
    rng: rand::rngs::StdRng,
    /// Timestamp of the current round over the series: at least 1 ms after the previous one,
    /// so every sample is newer than its series' last (the history keeps only those) even
    /// when rounds come faster than the clock ticks.
    round_ts: i64,
}

impl Generator {
    fn batch(&mut self, seq: u64, points: usize) -> v1::Batch {
        let mut defs = Vec::new();
        let mut pts = Vec::with_capacity(points);
        for _ in 0..points {
            let i = self.next_series;
            if i == 0 {
                self.round_ts = patrol_proto::model::now_ms().max(self.round_ts + 1);
            }
            let ts = self.round_ts;
            self.next_series = (self.next_series + 1) % self.series;
            if !self.defined[i as usize] {
                self.defined[i as usize] = true;
                defs.push(v1::SeriesDef {
                    id: i,
                    name: METRIC.to_owned(),
                    labels: vec![
                        v1::Label {
                            name: "i".into(),
                            value: i.to_string(),
                        },
                        v1::Label {
                            name: "mount".into(),
                            value: format!("/bench/{i}"),
                        },
                    ],
                });
            }
            let value = if i < self.breaching {
                self.rng.random_range(91.0..99.0)
            } else {
                self.rng.random_range(10.0..80.0)
            };
            pts.push(v1::Point {
                series: i,
                value,
                timestamp_ms: ts,
            });
        }
        v1::Batch {
            seq,
            series: defs,
            points: pts,
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn status_line(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// GET `<base>/metrics` over plain HTTP/1.0 and sums every sample of each metric name.
async fn scrape(base: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let hostport = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .trim_end_matches('/');
    if base.starts_with("https://") {
        bail!("only plain http is supported for --http");
    }
    let mut stream = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(hostport),
    )
    .await
    .map_err(|_| anyhow!("connect timed out"))??;
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .map_err(|_| anyhow!("read timed out"))??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response"))?;
    let status = head.lines().next().unwrap_or("");
    if !status.contains(" 200") {
        bail!("HTTP status '{status}'");
    }
    let mut out = BTreeMap::new();
    for line in body.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        if let Ok(v) = value.parse::<f64>() {
            *out.entry(name.to_owned()).or_insert(0.0) += v;
        }
    }
    Ok(out)
}
