//! Hostile and broken agents: each is refused with a status and counted, and a well-behaved
//! agent streaming beside them is not disturbed.

mod support;

use std::io::Write;
use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_collector::server::Running;
use patrol_proto::v1::{self, agent_message, ingest_client::IngestClient};
use patrol_proto::{Labels, Sample};
use support::inproc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const MAX_POINTS: u32 = 100;

async fn collector(dir: &std::path::Path) -> Running {
    inproc::collector(dir, |s| s.max_batch_points = MAX_POINTS).await
}

fn hello(agent_id: &str) -> v1::AgentMessage {
    v1::AgentMessage {
        msg: Some(agent_message::Msg::Hello(v1::Hello {
            agent_id: agent_id.into(),
            host: "h".into(),
            version: "test".into(),
            labels: vec![],
            token: String::new(),
            epoch: 1,
        })),
    }
}

fn batch(seq: u64, series: Vec<v1::SeriesDef>, points: Vec<v1::Point>) -> v1::AgentMessage {
    v1::AgentMessage {
        msg: Some(agent_message::Msg::Batch(v1::Batch {
            seq,
            series,
            points,
        })),
    }
}

fn def(id: u32, name: &str) -> v1::SeriesDef {
    v1::SeriesDef {
        id,
        name: name.into(),
        labels: vec![],
    }
}

fn point(series: u32) -> v1::Point {
    v1::Point {
        series,
        value: 1.0,
        timestamp_ms: 1,
    }
}

/// Opens a raw stream, sends `messages` and returns the status that ends the stream.
async fn refused_with(
    addr: std::net::SocketAddr,
    messages: Vec<v1::AgentMessage>,
) -> tonic::Status {
    let mut client = IngestClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let (tx, rx) = mpsc::channel(16);
    for m in messages {
        tx.send(m).await.expect("queue");
    }
    let response = client.stream(ReceiverStream::new(rx)).await;
    let mut inbound = match response {
        Ok(r) => r.into_inner(),
        Err(status) => return status,
    };
    loop {
        match tokio::time::timeout(Duration::from_secs(10), inbound.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => panic!("stream ended without a status"),
            Ok(Err(status)) => return status,
            Err(_) => panic!("no refusal within 10s"),
        }
    }
}

fn rejected(c: &Running, reason: &str) -> u64 {
    c.core.telemetry.rejected.get(reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_refused_counted_and_harmless_to_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector(dir.path()).await;
    let addr = c.grpc_addr;

    // A good agent streams all along.
    let mut cfg = AgentConfig {
        agent_id: Some("good".into()),
        host: Some("good-host".into()),
        ..AgentConfig::default()
    };
    cfg.collector.address = format!("http://{addr}");
    // Memory-only delivery of exactly the test's batches is what this test exercises: no
    // spool (it has tests of its own, agent_spool.rs; a default state_dir would be shared
    // between tests) and none of the agent's own counters.
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
    let good = Agent::start(cfg.settle("test").expect("settings")).expect("agent");
    let push = |n: u64| {
        good.push(&[Sample::new("good_round", Labels::new(), n as f64, n as i64)]);
    };
    push(1);

    // No hello first.
    let s = refused_with(addr, vec![batch(1, vec![], vec![])]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(
        s.message().contains("first message must be a hello"),
        "{s:?}"
    );
    assert_eq!(rejected(&c, "no_hello"), 1);

    // An empty agent id.
    let s = refused_with(addr, vec![hello("")]).await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(rejected(&c, "bad_hello"), 1);

    // More points than the collector accepts.
    let points = (0..=MAX_POINTS).map(|_| point(0)).collect();
    let s = refused_with(
        addr,
        vec![hello("big"), batch(1, vec![def(0, "m")], points)],
    )
    .await;
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert!(s.message().contains("exceeds the limit of 100"), "{s:?}");
    assert_eq!(rejected(&c, "oversized"), 1);

    // A point referring to a series never defined.
    let s = refused_with(addr, vec![hello("liar"), batch(1, vec![], vec![point(7)])]).await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert!(s.message().contains("series 7"), "{s:?}");
    assert_eq!(rejected(&c, "undefined_series"), 1);

    // An invalid metric name and an invalid label name.
    let s = refused_with(
        addr,
        vec![hello("names"), batch(1, vec![def(0, "bad-name")], vec![])],
    )
    .await;
    assert_eq!(s.code(), Code::InvalidArgument);
    let mut bad_label = def(0, "ok_name");
    bad_label.labels.push(v1::Label {
        name: "0bad".into(),
        value: "v".into(),
    });
    let s = refused_with(
        addr,
        vec![hello("labels"), batch(1, vec![bad_label], vec![])],
    )
    .await;
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(rejected(&c, "bad_series"), 2);

    // Bytes that are not HTTP/2 at all, straight onto the gRPC port.
    let mut raw = std::net::TcpStream::connect(addr).expect("raw connect");
    raw.write_all(b"\x00\x01garbage that is not a gRPC request\r\n\r\n")
        .expect("write garbage");
    drop(raw);

    // A gRPC frame whose body is not a valid AgentMessage (field 1 with the wrong wire type).
    let s = send_undecodable(addr).await;
    assert_eq!(s.code(), Code::Internal, "{s:?}");
    assert!(rejected(&c, "decode") >= 1);

    // Nothing reached the series table from the refused streams, and the good agent still
    // gets every round through.
    for n in 2..=5 {
        push(n);
    }
    let delivered = good
        .wait_for(Duration::from_secs(10), |s| {
            s.pending_batches == 0 && s.batches_acked >= 5
        })
        .await;
    assert!(
        delivered,
        "the good agent keeps delivering: {:?}",
        good.stats()
    );
    // The collector's own per-agent liveness series aside, only the good agent's data exists.
    let latest: Vec<_> = c
        .core
        .engine
        .lock()
        .expect("engine")
        .latest()
        .into_iter()
        .filter(|s| s.name != patrol_collector::core::AGENT_UP)
        .collect();
    let names: Vec<_> = latest.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["good_round"],
        "only the good agent's series exist"
    );
    assert_eq!(latest[0].value, 5.0);
    assert_eq!(c.core.telemetry.samples_ingested.get(), 5);
    good.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

/// Sends a hello and then a message whose field 1 is a varint where AgentMessage has a
/// length-delimited `hello`: a well-framed gRPC message that does not decode.
async fn send_undecodable(addr: std::net::SocketAddr) -> tonic::Status {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Bogus {
        #[prost(uint64, tag = "1")]
        hello: u64,
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<Bogus, v1::CollectorMessage>::default();
    let path = http::uri::PathAndQuery::from_static("/patrol.v1.Ingest/Stream");
    let messages = tokio_stream::iter(vec![Bogus { hello: 42 }]);
    match grpc
        .streaming(tonic::Request::new(messages), path, codec)
        .await
    {
        Err(status) => status,
        Ok(r) => {
            let mut inbound = r.into_inner();
            loop {
                match inbound.message().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("stream ended without a status"),
                    Err(status) => return status,
                }
            }
        }
    }
}
