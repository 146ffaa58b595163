//! A scripted agent over the real wire: hello with a chosen epoch, numbered batches, acks read
//! one by one. What the real agent does, with every number under the test's control.

use std::time::Duration;

use patrol_proto::v1::{self, agent_message, collector_message, ingest_client::IngestClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

pub struct ScriptedAgent {
    tx: mpsc::Sender<v1::AgentMessage>,
    inbound: Streaming<v1::CollectorMessage>,
    /// What the collector's welcome said was already applied for this epoch.
    pub welcome_seq: u64,
}

pub fn hello(agent_id: &str, epoch: u64) -> v1::Hello {
    v1::Hello {
        agent_id: agent_id.into(),
        host: format!("{agent_id}-host"),
        version: "scripted".into(),
        labels: vec![],
        token: String::new(),
        epoch,
    }
}

/// One series definition with labels.
pub fn def(id: u32, name: &str, labels: &[(&str, &str)]) -> v1::SeriesDef {
    v1::SeriesDef {
        id,
        name: name.into(),
        labels: labels
            .iter()
            .map(|(n, v)| v1::Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
    }
}

pub fn point(series: u32, value: f64, timestamp_ms: i64) -> v1::Point {
    v1::Point {
        series,
        value,
        timestamp_ms,
    }
}

impl ScriptedAgent {
    /// Opens a stream with `hello` and waits for the welcome; the status if refused.
    pub async fn connect(grpc: &str, hello: v1::Hello) -> Result<Self, Status> {
        let mut client = IngestClient::connect(format!("http://{grpc}"))
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let (tx, rx) = mpsc::channel(1024);
        tx.send(v1::AgentMessage {
            msg: Some(agent_message::Msg::Hello(hello)),
        })
        .await
        .map_err(|_| Status::internal("queue"))?;
        let mut inbound = client.stream(ReceiverStream::new(rx)).await?.into_inner();
        let welcome = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no welcome within 10s"))??;
        match welcome.and_then(|m| m.msg) {
            Some(collector_message::Msg::Welcome(w)) => Ok(Self {
                tx,
                inbound,
                welcome_seq: w.applied_seq,
            }),
            other => Err(Status::internal(format!(
                "expected a welcome, got {other:?}"
            ))),
        }
    }

    /// Queues batch `seq`.
    pub async fn send(&self, seq: u64, series: Vec<v1::SeriesDef>, points: Vec<v1::Point>) {
        self.tx
            .send(v1::AgentMessage {
                msg: Some(agent_message::Msg::Batch(v1::Batch {
                    seq,
                    series,
                    points,
                })),
            })
            .await
            .expect("stream open");
    }

    /// Queues batch `seq`; false when the stream is gone (the collector died).
    pub async fn try_send(
        &self,
        seq: u64,
        series: Vec<v1::SeriesDef>,
        points: Vec<v1::Point>,
    ) -> bool {
        self.tx
            .send(v1::AgentMessage {
                msg: Some(agent_message::Msg::Batch(v1::Batch {
                    seq,
                    series,
                    points,
                })),
            })
            .await
            .is_ok()
    }

    /// Ends the stream from the agent's side and waits until the collector has ended its side,
    /// which it does only after it marked the agent disconnected.
    #[allow(dead_code)]
    pub async fn close(self, within: Duration) {
        let Self {
            tx, mut inbound, ..
        } = self;
        drop(tx);
        tokio::time::timeout(within, async {
            while let Ok(Some(_)) = inbound.message().await {}
        })
        .await
        .expect("the collector ends the stream");
    }

    /// The next acknowledged sequence number, or the status that ended the stream.
    pub async fn next_ack(&mut self, within: Duration) -> Result<u64, Status> {
        loop {
            let m = tokio::time::timeout(within, self.inbound.message())
                .await
                .map_err(|_| Status::deadline_exceeded(format!("no ack within {within:?}")))??;
            match m.and_then(|m| m.msg) {
                Some(collector_message::Msg::Ack(a)) => return Ok(a.seq),
                Some(_) => continue,
                None => return Err(Status::aborted("stream ended")),
            }
        }
    }

    /// Sends batches `seqs` (one point each on series 0, defined in every batch) and waits for
    /// each one's ack, in order.
    pub async fn send_and_ack(&mut self, name: &str, seqs: std::ops::RangeInclusive<u64>) {
        for seq in seqs.clone() {
            self.send(
                seq,
                vec![def(0, name, &[])],
                vec![point(0, seq as f64, seq as i64)],
            )
            .await;
        }
        for seq in seqs {
            let acked = self.next_ack(Duration::from_secs(20)).await.expect("ack");
            assert_eq!(acked, seq, "acks come in order");
        }
    }
}

/// The value of an unlabeled counter or gauge `name` in a `/metrics` body (0 when absent).
pub fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(' ')?;
            rest.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

/// The value of `name{label="value"}` in a `/metrics` body (0 when absent).
pub fn labeled(body: &str, name: &str, label: &str, value: &str) -> f64 {
    let key = format!("{name}{{{label}=\"{value}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&key)?.trim().parse().ok())
        .unwrap_or(0.0)
}
