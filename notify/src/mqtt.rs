//! The MQTT channel (`rumqttc`, MQTT 3.1.1, QoS 1).
//!
//! Topics (with `topic_prefix` defaulting to `patrol/<site>`):
//! - `<prefix>/incidents/<level>/<host>`: every change, not retained;
//! - `<prefix>/open/<incident id>`: retained current state of each live incident, cleared
//!   (empty retained message) when it resolves or closes, so a dashboard that connects late
//!   sees what is open.
//!
//! `publish()` returning only means rumqttc queued the packet. Delivery is confirmed by the
//! broker's PUBACK, so this module matches packet ids: rumqttc assigns a packet id when the
//! event loop takes a publish off its request queue, in queue order, and reports it as
//! `Outgoing::Publish(pkid)`; waiters are queued in that same order, moved to an in-flight map
//! under their packet id, and completed by `Incoming::PubAck(pkid)`. When the connection drops,
//! every waiter fails as transient and rumqttc's replay queue is emptied, so no later packet
//! id is ever matched to the wrong message; the outbox sends the failed ones again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::channel::{Channel, DeliveryError, Message};
use crate::secret::ReadSecret;
use crate::tls;
use patrol_site::notify::config::MqttConfig;

/// Largest packet the channel sends (payloads are a few KiB; bounded all the same).
const MAX_OUTGOING_PACKET: usize = 1024 * 1024;
/// Publishes queued towards rumqttc at most; beyond, deliveries fail fast as transient.
const REQUEST_QUEUE: usize = 1024;
/// Back-off between failed connection attempts: from this, doubling...
const RECONNECT_MIN: Duration = Duration::from_millis(200);
/// ...up to this.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

type Waiter = oneshot::Sender<Result<(), String>>;

/// Publishes waiting for their packet id, then for their PUBACK.
#[derive(Default)]
struct Waiters {
    queued: VecDeque<Waiter>,
    inflight: HashMap<u16, Waiter>,
}

impl Waiters {
    fn fail_all(&mut self, why: &str) {
        for w in self
            .queued
            .drain(..)
            .chain(self.inflight.drain().map(|(_, w)| w))
        {
            // A receiver that gave up (timed out) is fine to miss.
            let _ = w.send(Err(why.to_owned()));
        }
    }
}

/// Connection state, for status displays and start-up errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttStatus {
    /// Whether the broker accepted the connection and it is up.
    pub connected: bool,
    /// The last connection error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// An MQTT channel with its own connection, kept up in the background.
pub struct MqttChannel {
    name: String,
    client: AsyncClient,
    waiters: Arc<Mutex<Waiters>>,
    status: Arc<Mutex<MqttStatus>>,
    prefix: String,
    timeout: Duration,
    task: JoinHandle<()>,
}

/// An MQTT channel that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum MqttSetupError {
    /// TLS roots or CA file.
    #[error("channel '{0}': {1}")]
    Tls(String, #[source] tls::TlsError),
    /// The password cannot be read.
    #[error("channel '{0}': {1}")]
    Secret(String, String),
    /// Called outside a tokio runtime (the connection task needs one).
    #[error("channel '{0}': MQTT channels must be started inside a tokio runtime")]
    NoRuntime(String),
}

impl MqttChannel {
    /// Starts the connection (in the background: a broker that is down is retried, and
    /// deliveries fail as transient meanwhile). Needs a tokio runtime.
    pub fn start(
        name: &str,
        cfg: &MqttConfig,
        timeout: Duration,
    ) -> Result<MqttChannel, MqttSetupError> {
        let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
        opts.set_keep_alive(cfg.keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(64 * 1024, MAX_OUTGOING_PACKET);
        if let Some(c) = &cfg.credentials {
            let password = c
                .password
                .read()
                .map_err(|e| MqttSetupError::Secret(name.to_owned(), e))?;
            opts.set_credentials(c.username.clone(), password.expose().to_owned());
        }
        if let Some(ca) = &cfg.tls {
            let config = tls::client_config(ca.as_deref())
                .map_err(|e| MqttSetupError::Tls(name.to_owned(), e))?;
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        let (client, eventloop) = AsyncClient::new(opts, REQUEST_QUEUE);
        let waiters = Arc::new(Mutex::new(Waiters::default()));
        let status = Arc::new(Mutex::new(MqttStatus::default()));
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| MqttSetupError::NoRuntime(name.to_owned()))?;
        let task = runtime.spawn(drive(
            name.to_owned(),
            format!("{}:{}", cfg.host, cfg.port),
            eventloop,
            Arc::clone(&waiters),
            Arc::clone(&status),
        ));
        Ok(MqttChannel {
            name: name.to_owned(),
            client,
            waiters,
            status,
            prefix: cfg.topic_prefix.clone(),
            timeout,
            task,
        })
    }

    /// The connection's state now.
    pub fn status(&self) -> MqttStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues publishes (topic, retain, body) as one batch and returns their PUBACK waiters.
    fn enqueue(
        &self,
        publishes: Vec<(String, bool, Vec<u8>)>,
    ) -> Result<Vec<oneshot::Receiver<Result<(), String>>>, DeliveryError> {
        let mut w = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut receivers = Vec::new();
        for (topic, retain, body) in publishes {
            let (tx, rx) = oneshot::channel();
            // Under the lock, so the waiter order is the request-queue order.
            self.client
                .try_publish(topic, QoS::AtLeastOnce, retain, body)
                .map_err(|e| DeliveryError::Transient(format!("MQTT queue: {e}")))?;
            w.queued.push_back(tx);
            receivers.push(rx);
        }
        Ok(receivers)
    }
}

impl Drop for MqttChannel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `<prefix>/incidents/<level>/<host>`.
pub fn event_topic(prefix: &str, level: &str, host: &str) -> String {
    format!("{prefix}/incidents/{}/{}", segment(level), segment(host))
}

/// `<prefix>/open/<incident id>`.
pub fn open_topic(prefix: &str, incident_id: u64) -> String {
    format!("{prefix}/open/{incident_id}")
}

/// A value made safe as one topic level: `/`, `+`, `#` and NUL would split it or act as
/// wildcards, so they become `_`; an empty value becomes `_`.
pub fn segment(s: &str) -> String {
    if s.is_empty() {
        return "_".to_owned();
    }
    s.chars()
        .map(|c| match c {
            '/' | '+' | '#' | '\0' => '_',
            c => c,
        })
        .collect()
}

#[async_trait::async_trait]
impl Channel for MqttChannel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<(), DeliveryError> {
        // The connection task reports the broker's answer (or the failure) in the status.
        let waited = tokio::time::timeout(self.timeout, async {
            loop {
                let s = self.status();
                if s.connected {
                    return Ok(());
                }
                if let Some(e) = s.last_error {
                    return Err(DeliveryError::Transient(e));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(DeliveryError::Transient(format!(
                "no answer from the broker within {}",
                humantime::format_duration(self.timeout)
            )))
        })
    }

    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        let open_state = if msg.payload.is_live() {
            msg.json.clone().into_bytes()
        } else {
            Vec::new()
        };
        let receivers = self.enqueue(vec![
            (
                event_topic(&self.prefix, &msg.level, &msg.host),
                false,
                msg.json.clone().into_bytes(),
            ),
            (open_topic(&self.prefix, msg.incident_id), true, open_state),
        ])?;
        let acked = async {
            for rx in receivers {
                match rx.await {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => return Err(DeliveryError::Transient(why)),
                    Err(_) => {
                        return Err(DeliveryError::Transient(
                            "MQTT connection task stopped".to_owned(),
                        ));
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.timeout, acked).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Transient(format!(
                "no PUBACK within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }
}

/// Polls the event loop for the channel's life: matches PUBACKs, reconnects with back-off.
async fn drive(
    name: String,
    addr: String,
    mut eventloop: EventLoop,
    waiters: Arc<Mutex<Waiters>>,
    status: Arc<Mutex<MqttStatus>>,
) {
    let mut backoff = RECONNECT_MIN;
    let set_status = |connected: bool, err: Option<String>| {
        let mut s = status.lock().unwrap_or_else(PoisonError::into_inner);
        s.connected = connected;
        s.last_error = err;
    };
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = RECONNECT_MIN;
                let was = status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .last_error
                    .is_some();
                if was {
                    tracing::info!(channel = %name, broker = %addr, "MQTT channel connected again");
                }
                set_status(true, None);
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut w = waiters.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(tx) = w.queued.pop_front() {
                    w.inflight.insert(pkid, tx);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let mut w = waiters.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(tx) = w.inflight.remove(&ack.pkid) {
                    let _ = tx.send(Ok(()));
                }
            }
            Ok(_) => {}
            Err(e) => {
                let why = describe(&e);
                // Status first: a deliver() that fails below may read it at once.
                let previous = status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .last_error
                    .clone();
                set_status(false, Some(why.clone()));
                {
                    let mut w = waiters.lock().unwrap_or_else(PoisonError::into_inner);
                    // poll() already moved unacknowledged and queued publishes into its
                    // replay queue; a deliver() may have queued more since. Take them all
                    // back under the lock: their waiters fail now and the outbox resends.
                    eventloop.clean();
                    eventloop.pending.clear();
                    w.fail_all(&format!("no PUBACK: MQTT connection failed: {why}"));
                }
                // One line per change of error, not one per retry.
                if previous.as_deref() != Some(why.as_str()) {
                    tracing::error!(
                        channel = %name,
                        broker = %addr,
                        "MQTT channel cannot reach its broker: {why}; notifications wait and are retried"
                    );
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_MAX);
            }
        }
    }
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?}): check username and password")
        }
        other => other.to_string(),
    }
}
