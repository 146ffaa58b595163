//! The collector under abuse, as an operator or an attacker would try it: two collectors on
//! one data directory, idle connections, label explosions, non-finite samples.

mod support;

use std::time::Duration;

use support::daemon::Daemon;
use support::procs;

/// A second collector on the same data directory is refused with a sentence naming the pid
/// of the one that holds it; the first keeps running.
#[test]
fn a_second_collector_on_the_same_data_directory_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let (first, _, http) = procs::collector(&rules, &data);
    let mut second = Daemon::spawn(
        "patrol-collector",
        &[
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
        ],
        "info",
    );
    let want = format!(
        "is in use by another patrol-collector (pid {})",
        first.pid()
    );
    second.wait_line(Duration::from_secs(30), |l| {
        assert!(
            !l.starts_with("patrol-collector listening"),
            "the second collector must not start: {l}"
        );
        l.contains(&want).then_some(())
    });
    let status = second.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", second.tail(10));
    let (status, _) = procs::http_get(&http, "/healthz");
    assert_eq!(status, 200, "the first collector keeps running");
}

mod limits {
    use std::time::Duration;

    use patrol_collector::server::Running;
    use tokio::io::AsyncReadExt;
    use tonic::Code;

    use super::support::inproc;
    use super::support::wire::{ScriptedAgent, def, hello, point};

    async fn collector(dir: &std::path::Path, rules: &str) -> Running {
        std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
        std::fs::write(dir.join("rules/t.toml"), rules).expect("rules");
        inproc::collector(dir, |s| {
            s.limits.max_series = 5_000;
            s.limits.max_series_per_agent = 1_000;
            s.limits.max_new_series_per_minute = 100_000;
            s.connections.max_connections = 40;
            s.connections.connection_reserve = 4;
            s.connections.max_http_connections = 16;
            s.connections.hello_timeout = Duration::from_secs(2);
        })
        .await
    }

    const RULE: &str = r#"
[[rule]]
name = "full"
expr = 'fill_percent > 90'
severity = "P2"
summary = "{{value}}% full"
"#;

    /// The stream's end status after sending `series` definitions in batch 1.
    async fn refusal(
        grpc: &str,
        agent: &str,
        series: Vec<patrol_proto::v1::SeriesDef>,
    ) -> tonic::Status {
        let mut a = ScriptedAgent::connect(grpc, hello(agent, 1))
            .await
            .expect("welcome");
        a.send(1, series, vec![point(0, 1.0, 1)]).await;
        a.next_ack(Duration::from_secs(10))
            .await
            .expect_err("the batch must be refused")
    }

    /// 2,000 series from one agent over a limit of 1,000: refused whole with a status naming the
    /// limit, counted for that agent; the table does not grow; another agent goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_label_explosion_is_refused_naming_the_limit_and_other_agents_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = collector(dir.path(), RULE).await;
        let grpc = c.grpc_addr.to_string();
        let series: Vec<_> = (0..2_000)
            .map(|i| def(i, "fill_percent", &[("request_id", &i.to_string())]))
            .collect();
        let s = refusal(&grpc, "boom", series).await;
        assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
        assert!(s.message().starts_with("max_series_per_agent: "), "{s:?}");
        let t = &c.core.telemetry;
        assert_eq!(t.refused.get("boom", "max_series_per_agent"), 1);
        assert_eq!(c.core.engine.lock().expect("engine").series_count(), 0);

        // 40 labels on one series, and an overlong value.
        let many: Vec<(String, String)> = (0..40).map(|i| (format!("l{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let s = refusal(&grpc, "wide", vec![def(0, "fill_percent", &many)]).await;
        assert!(s.message().starts_with("max_labels: "), "{s:?}");
        assert_eq!(t.refused.get("wide", "max_labels"), 1);
        let long = "x".repeat(2_000);
        let s = refusal(
            &grpc,
            "long",
            vec![def(0, "fill_percent", &[("path", &long)])],
        )
        .await;
        assert!(s.message().starts_with("max_label_value_bytes: "), "{s:?}");

        // A well-behaved agent is not held back.
        let mut good = ScriptedAgent::connect(&grpc, hello("good", 1))
            .await
            .expect("welcome");
        good.send_and_ack("fill_percent", 1..=3).await;
        assert_eq!(c.core.engine.lock().expect("engine").series_count(), 1);
        c.stop().await;
    }

    /// A +Inf sample (a probe that divided by zero) opens no "+Inf% full" incident: it is
    /// dropped and counted, and the rest of its batch is applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn non_finite_samples_are_dropped_and_counted_not_turned_into_incidents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = collector(dir.path(), RULE).await;
        let mut a = ScriptedAgent::connect(&c.grpc_addr.to_string(), hello("a", 1))
            .await
            .expect("welcome");
        a.send(
            1,
            vec![
                def(0, "fill_percent", &[("mount", "/inf")]),
                def(1, "fill_percent", &[("mount", "/nan")]),
                def(2, "fill_percent", &[("mount", "/real")]),
            ],
            vec![
                point(0, f64::INFINITY, 1),
                point(1, f64::NAN, 1),
                point(2, 95.0, 1),
            ],
        )
        .await;
        assert_eq!(a.next_ack(Duration::from_secs(10)).await.expect("ack"), 1);
        let open = c.core.store.open_incidents().expect("store");
        let summaries: Vec<&str> = open.iter().map(|i| i.summary.as_str()).collect();
        assert_eq!(summaries, ["95% full"]);
        assert_eq!(c.core.telemetry.samples_dropped.get("non_finite"), 2);
        c.stop().await;
    }

    /// Idle sockets (no hello, no request) beyond the budget cannot lock out an agent or
    /// `/healthz`: the oldest idle one makes room, the rest are closed after hello_timeout, and
    /// both are counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_cannot_lock_out_agents_or_healthz() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = collector(dir.path(), RULE).await;
        let mut idle = Vec::new();
        for _ in 0..60 {
            idle.push(
                tokio::net::TcpStream::connect(c.grpc_addr)
                    .await
                    .expect("connect"),
            );
        }
        for _ in 0..30 {
            idle.push(
                tokio::net::TcpStream::connect(c.http_addr)
                    .await
                    .expect("connect"),
            );
        }
        let mut a = ScriptedAgent::connect(&c.grpc_addr.to_string(), hello("late", 1))
            .await
            .expect("an agent gets in past the idle sockets");
        a.send_and_ack("fill_percent", 1..=1).await;
        let http = c.http_addr.to_string();
        let (status, body) =
            tokio::task::spawn_blocking(move || super::support::procs::http_get(&http, "/healthz"))
                .await
                .expect("join");
        assert_eq!(status, 200, "{body}");
        let t = &c.core.telemetry;
        assert!(t.connections_refused.get("grpc", "evicted_idle") >= 20);
        assert!(t.connections_refused.get("http", "evicted_idle") >= 14);
        // The idle ones still open are closed by the deadline: each reaches its end (after
        // the server's HTTP/2 preface, on the gRPC port).
        for mut s in idle {
            let closed = tokio::time::timeout(Duration::from_secs(10), async {
                let mut buf = [0u8; 256];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "an idle connection outlived hello_timeout");
        }
        // The agent, identified, is not closed by the deadline.
        a.send_and_ack("fill_percent", 2..=2).await;
        c.stop().await;
    }
}

mod watchers {
    use std::time::Duration;

    use patrol_proto::v1::{self, incidents_client::IncidentsClient};
    use tonic::Code;

    use super::support::inproc;

    async fn watch(
        addr: std::net::SocketAddr,
    ) -> Result<tonic::Streaming<v1::IncidentEvent>, tonic::Status> {
        let mut client = IncidentsClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let mut stream = client
            .watch(v1::WatchRequest::default())
            .await?
            .into_inner();
        // The status of a refused watch may come with the first message.
        match tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
            Ok(Err(status)) => Err(status),
            _ => Ok(stream),
        }
    }

    /// Watchers are bounded: past `max_watchers` a watch is refused naming the limit, and a
    /// watcher that hangs up gives its place back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watchers_past_the_limit_are_refused_and_a_closed_one_frees_its_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = inproc::collector(dir.path(), |s| s.connections.max_watchers = 2).await;
        let first = watch(c.grpc_addr).await.expect("first watcher");
        let _second = watch(c.grpc_addr).await.expect("second watcher");
        let refused = watch(c.grpc_addr).await.expect_err("a third is refused");
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(
            refused.message().starts_with("max_watchers: "),
            "{refused:?}"
        );
        assert_eq!(c.core.telemetry.watchers_refused.get(), 1);
        drop(first);
        let mut again = None;
        for _ in 0..100 {
            if let Ok(w) = watch(c.grpc_addr).await {
                again = Some(w);
                break;
            }
        }
        assert!(
            again.is_some(),
            "the closed watcher's place was not given back"
        );
        c.stop().await;
    }
}

mod forgetting {
    use std::time::Duration;

    use patrol_proto::model::now_ms;

    use super::support::inproc;
    use super::support::wire::{ScriptedAgent, def, hello, point};

    /// The series of an agent gone longer than forget_agent_after are freed (and leave
    /// /metrics); its open incident stays open and continues, not doubled, when it returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gone_agent_s_series_are_freed_and_its_incident_continues_when_it_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
        std::fs::write(
            dir.path().join("rules/t.toml"),
            "[[rule]]\nname = \"full\"\nexpr = 'fill_percent > 90'\nseverity = \"P2\"\nsummary = \"{{mount}} full\"\n",
        )
        .expect("rules");
        let c = inproc::collector(dir.path(), |_| {}).await;
        let grpc = c.grpc_addr.to_string();
        let series = || {
            vec![
                def(0, "fill_percent", &[("mount", "/a")]),
                def(1, "fill_percent", &[("mount", "/b")]),
            ]
        };
        let mut a = ScriptedAgent::connect(&grpc, hello("gone", 1))
            .await
            .expect("welcome");
        a.send(1, series(), vec![point(0, 95.0, 1), point(1, 10.0, 1)])
            .await;
        assert_eq!(a.next_ack(Duration::from_secs(10)).await.expect("ack"), 1);
        a.close(Duration::from_secs(10)).await;
        let series_now = || c.core.engine.lock().expect("engine").series_count();
        let before = series_now();
        // Two hours on (the time is an argument): the agent is disconnected by now.
        let freed = c.core.forget_gone_agents(now_ms() + 2 * 3_600_000);
        assert_eq!(freed, 2, "both series of the gone agent");
        assert_eq!(series_now(), before - 2);
        let mut text = String::new();
        c.core.latest.render(&mut text, |_| None);
        assert!(!text.contains("fill_percent"), "{text}");
        assert_eq!(c.core.telemetry.series_freed.get(), 2);

        // Back: the incident on /a is still the same one.
        let mut a = ScriptedAgent::connect(&grpc, hello("gone", 1))
            .await
            .expect("welcome");
        a.send(2, series(), vec![point(0, 96.0, 2)]).await;
        assert_eq!(a.next_ack(Duration::from_secs(10)).await.expect("ack"), 2);
        let all = c
            .core
            .store
            .list(&patrol_incident::IncidentState::ALL, 0)
            .expect("store");
        assert_eq!(all.len(), 1, "{all:?}");
        c.stop().await;
    }
}
