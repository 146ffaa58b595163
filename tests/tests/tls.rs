//! TLS and mutual TLS on the gRPC link, in-process over real loopback TCP, with certificates
//! generated here: a CA, a collector certificate for `localhost`/127.0.0.1, client
//! certificates, and a second CA nobody should trust.

use std::path::{Path, PathBuf};
use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_collector::config::{Settings, TlsSection};
use patrol_collector::server::{self, Running};
use patrol_proto::model::now_ms;
use patrol_proto::v1::{self, agent_message, ingest_client::IngestClient};
use patrol_proto::{Labels, Sample};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// PEM files of one test PKI, written into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = mode;
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca cert")
}

/// Writes `<stem>.crt` and `<stem>.key` (mode 0600) signed by `issuer`.
fn leaf(
    dir: &Path,
    stem: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, stem);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("leaf cert");
    write(&dir.join(format!("{stem}.crt")), &cert.pem(), 0o644);
    write(
        &dir.join(format!("{stem}.key")),
        &key.serialize_pem(),
        0o600,
    );
}

/// ca.crt, collector.{crt,key} (localhost, 127.0.0.1), agent.{crt,key} from the same CA;
/// other-ca.crt and rogue.{crt,key} from a second CA.
fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca("Patrol test CA");
    write(&dir.path().join("ca.crt"), &ca.pem(), 0o644);
    leaf(
        dir.path(),
        "collector",
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
    );
    leaf(
        dir.path(),
        "agent",
        &["agent01"],
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca,
    );
    let other = ca_other();
    write(&dir.path().join("other-ca.crt"), &other.pem(), 0o644);
    leaf(
        dir.path(),
        "rogue",
        &["rogue"],
        ExtendedKeyUsagePurpose::ClientAuth,
        &other,
    );
    Pki { dir }
}

fn ca_other() -> CertifiedIssuer<'static, KeyPair> {
    ca("Some other CA")
}

fn tls_section(pki: &Pki, mutual: bool) -> TlsSection {
    TlsSection {
        cert_file: pki.path("collector.crt"),
        key_file: pki.path("collector.key"),
        client_ca_file: mutual.then(|| pki.path("ca.crt")),
        plain_http: false,
    }
}

fn settings(dir: &Path, tls: Option<TlsSection>) -> Settings {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        rules,
        data: dir.join("data"),
        tls,
        ..Settings::default()
    }
}

async fn collector(dir: &Path, tls: TlsSection) -> Running {
    match server::start(settings(dir, Some(tls))).await {
        Ok(c) => c,
        Err(e) => panic!("collector does not start: {e}"),
    }
}

async fn start_error(dir: &Path, tls: TlsSection) -> String {
    match server::start(settings(dir, Some(tls))).await {
        Ok(_) => panic!("collector started with a broken [tls]"),
        Err(e) => e.to_string(),
    }
}

/// The agent's `[collector]` section with `[collector.tls]` as given.
fn agent_config(
    id: &str,
    address: String,
    ca: PathBuf,
    client: Option<(PathBuf, PathBuf)>,
) -> AgentConfig {
    let mut cfg = AgentConfig {
        agent_id: Some(id.into()),
        host: Some(format!("{id}-host")),
        ..AgentConfig::default()
    };
    cfg.collector.address = address;
    // Memory-only delivery of exactly the test's batches is what this test exercises: no
    // spool (it has tests of its own, agent_spool.rs; a default state_dir would be shared
    // between tests) and none of the agent's own counters.
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
    cfg.collector.backoff_min = Duration::from_millis(20);
    cfg.collector.backoff_max = Duration::from_millis(100);
    let (cert_file, key_file) = client.unzip();
    cfg.collector.tls = Some(patrol_agent::config::ClientTlsSection {
        ca_file: ca,
        cert_file,
        key_file,
        domain: None,
    });
    cfg
}

fn start_agent(cfg: AgentConfig) -> Agent {
    Agent::start(cfg.settle("test").expect("agent settings")).expect("agent starts")
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::new(
                "tls_test",
                Labels::from_pairs([("i", i.to_string())]),
                i as f64,
                now_ms(),
            )
        })
        .collect()
}

async fn wait_delivered(agent: &Agent) {
    let done = agent
        .wait_for(Duration::from_secs(10), |s| {
            s.connected && s.pending_batches == 0 && s.batches_acked > 0
        })
        .await;
    assert!(done, "agent never delivered over TLS: {:?}", agent.stats());
}

/// Asserts that the agent never gets as far as a welcome within `window` (a non-event, so
/// the window is the point).
async fn assert_never_connects(agent: &Agent, window: Duration) {
    let connected = agent.wait_for(window, |s| s.connects > 0).await;
    assert!(
        !connected,
        "agent connected when it must not: {:?}",
        agent.stats()
    );
}

/// A raw Ingest stream over TLS: connect, hello, first answer. Err carries the whole error
/// chain (handshake failures hide in the sources).
async fn raw_hello(addr: &str, tls: ClientTlsConfig) -> Result<(), String> {
    let chain = |e: &dyn std::error::Error| {
        let mut text = e.to_string();
        let mut next = e.source();
        while let Some(s) = next {
            text.push_str(": ");
            text.push_str(&s.to_string());
            next = s.source();
        }
        text
    };
    let channel = Endpoint::from_shared(addr.to_owned())
        .map_err(|e| chain(&e))?
        .connect_timeout(Duration::from_secs(5))
        .tls_config(tls)
        .map_err(|e| chain(&e))?
        .connect()
        .await
        .map_err(|e| chain(&e))?;
    let mut client = IngestClient::new(channel);
    let (tx, rx) = mpsc::channel(4);
    tx.send(v1::AgentMessage {
        msg: Some(agent_message::Msg::Hello(v1::Hello {
            agent_id: "raw".into(),
            host: "raw".into(),
            version: "test".into(),
            labels: vec![],
            token: String::new(),
            epoch: 1,
        })),
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut inbound = client
        .stream(ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("{s}"))?
        .into_inner();
    match tokio::time::timeout(Duration::from_secs(5), inbound.message()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err("closed".into()),
        Ok(Err(s)) => Err(format!("{s}")),
        Err(_) => Err("no answer within 5s".into()),
    }
}

/// How many `tls_test` series from agent `id` the collector holds a value for.
fn held_from(c: &Running, id: &str) -> usize {
    let host = format!("{id}-host");
    let latest = c.core.engine.lock().expect("engine").latest();
    latest
        .iter()
        .filter(|s| s.name == "tls_test" && s.labels.get("host") == Some(host.as_str()))
        .count()
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(path).expect("read pem")
}

#[tokio::test]
async fn agent_delivers_over_tls() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector(dir.path(), tls_section(&pki, false)).await;

    // By IP (the certificate has 127.0.0.1) and by name through the `domain` override.
    let by_ip = start_agent(agent_config(
        "tls-ip",
        format!("https://{}", c.grpc_addr),
        pki.path("ca.crt"),
        None,
    ));
    let mut cfg = agent_config(
        "tls-name",
        format!("https://{}", c.grpc_addr),
        pki.path("ca.crt"),
        None,
    );
    if let Some(t) = cfg.collector.tls.as_mut() {
        t.domain = Some("localhost".into());
    }
    let by_name = start_agent(cfg);
    by_ip.push(&samples(7));
    by_name.push(&samples(5));
    wait_delivered(&by_ip).await;
    wait_delivered(&by_name).await;
    assert!(by_ip.stats().batches_acked >= 1);
    assert_eq!((held_from(&c, "tls-ip"), held_from(&c, "tls-name")), (7, 5));
    // At least: the collector may ingest samples of its own (agent liveness).
    assert!(c.core.telemetry.samples_ingested.get() >= 12);

    // Plaintext against the TLS listener gets nowhere.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", c.grpc_addr))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(channel) = plain {
        let (_tx, rx) = mpsc::channel::<v1::AgentMessage>(1);
        let r = IngestClient::new(channel)
            .stream(ReceiverStream::new(rx))
            .await;
        assert!(r.is_err(), "plaintext stream accepted by a TLS collector");
    }

    by_ip.shutdown(Duration::from_secs(1)).await;
    by_name.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector(dir.path(), tls_section(&pki, true)).await;
    let address = format!("https://{}", c.grpc_addr);

    let with_cert = start_agent(agent_config(
        "with-cert",
        address.clone(),
        pki.path("ca.crt"),
        Some((pki.path("agent.crt"), pki.path("agent.key"))),
    ));
    let without = start_agent(agent_config(
        "without-cert",
        address.clone(),
        pki.path("ca.crt"),
        None,
    ));
    let rogue = start_agent(agent_config(
        "rogue-cert",
        address.clone(),
        pki.path("ca.crt"),
        Some((pki.path("rogue.crt"), pki.path("rogue.key"))),
    ));
    with_cert.push(&samples(3));
    without.push(&samples(4));
    rogue.push(&samples(4));
    wait_delivered(&with_cert).await;
    // The agents without an acceptable certificate have been retrying every ≤100 ms all
    // along; give them a little longer, then none may have got in.
    assert_never_connects(&without, Duration::from_millis(500)).await;
    assert_never_connects(&rogue, Duration::from_millis(100)).await;
    assert_eq!(without.stats().pending_points, 4, "samples kept for later");
    assert_eq!(held_from(&c, "with-cert"), 3);
    assert_eq!(
        held_from(&c, "without-cert") + held_from(&c, "rogue-cert"),
        0
    );

    let ca = Certificate::from_pem(read(pki.path("ca.crt")));
    let err = raw_hello(&address, ClientTlsConfig::new().ca_certificate(ca.clone()))
        .await
        .expect_err("stream without a client certificate accepted");
    assert!(!err.is_empty());
    raw_hello(
        &address,
        ClientTlsConfig::new()
            .ca_certificate(ca)
            .identity(Identity::from_pem(
                read(pki.path("agent.crt")),
                read(pki.path("agent.key")),
            )),
    )
    .await
    .expect("stream with a client certificate");

    with_cert.shutdown(Duration::from_secs(1)).await;
    without.shutdown(Duration::from_millis(10)).await;
    rogue.shutdown(Duration::from_millis(10)).await;
    c.stop().await;
}

#[tokio::test]
async fn agent_trusting_another_ca_does_not_connect() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let c = collector(dir.path(), tls_section(&pki, false)).await;
    let address = format!("https://{}", c.grpc_addr);

    let agent = start_agent(agent_config(
        "wrong-ca",
        address.clone(),
        pki.path("other-ca.crt"),
        None,
    ));
    agent.push(&samples(2));
    let err = raw_hello(
        &address,
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(pki.path("other-ca.crt")))),
    )
    .await
    .expect_err("connected while trusting the wrong CA");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_never_connects(&agent, Duration::from_millis(300)).await;
    assert_eq!(held_from(&c, "wrong-ca"), 0);
    assert_eq!(c.core.telemetry.samples_ingested.get(), 0);
    agent.shutdown(Duration::from_millis(10)).await;
    c.stop().await;
}

#[tokio::test]
async fn broken_tls_config_stops_the_start_with_the_file_named() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");

    let mut t = tls_section(&pki, false);
    t.cert_file = pki.path("missing.crt");
    let err = start_error(dir.path(), t).await;
    let shown = pki.path("missing.crt").display().to_string();
    assert!(
        err.starts_with(&format!("tls.cert_file {shown}: cannot read:")),
        "{err}"
    );

    // A key file others can read is refused, as the token file is.
    write(
        &pki.path("open.key"),
        &String::from_utf8_lossy(&read(pki.path("collector.key"))),
        0o644,
    );
    let mut t = tls_section(&pki, false);
    t.key_file = pki.path("open.key");
    let err = start_error(dir.path(), t).await;
    let shown = pki.path("open.key").display().to_string();
    assert_eq!(
        err,
        format!(
            "tls.key_file {shown} is readable by others (mode 644): run `chmod 600 {shown}` \
             (or 640 with the service's group)"
        )
    );

    // The key where the certificate belongs, and the other way round.
    let mut t = tls_section(&pki, false);
    t.cert_file = pki.path("collector.key");
    let err = start_error(dir.path(), t).await;
    assert!(err.ends_with(": no PEM certificate found"), "{err}");
    let mut t = tls_section(&pki, true);
    t.client_ca_file = Some(pki.path("agent.key"));
    let err = start_error(dir.path(), t).await;
    assert!(err.starts_with("tls.client_ca_file "), "{err}");
    let mut t = tls_section(&pki, false);
    t.key_file = pki.path("agent.key");
    let err = start_error(dir.path(), t).await;
    assert!(err.starts_with("tls.cert_file "), "{err}");

    // The agent side: https needs a CA, a CA needs https, files are checked at settle.
    let agent_err = |cfg: AgentConfig| {
        cfg.settle("agent.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let mut cfg = AgentConfig::default();
    cfg.collector.address = "https://collector:7070".into();
    assert!(
        agent_err(cfg).contains("is https: set ca_file in [collector.tls]"),
        "https without a CA"
    );
    let cfg = agent_config(
        "a",
        "http://collector:7070".into(),
        pki.path("ca.crt"),
        None,
    );
    assert!(agent_err(cfg).contains("is not https://"));
    let cfg = agent_config(
        "a",
        "https://collector:7070".into(),
        pki.path("nope.crt"),
        None,
    );
    let shown = pki.path("nope.crt").display().to_string();
    assert!(agent_err(cfg).starts_with(&format!(
        "agent.toml: collector.tls.ca_file {shown}: cannot read"
    )),);
    let cfg = agent_config(
        "a",
        "https://collector:7070".into(),
        pki.path("ca.crt"),
        Some((pki.path("agent.crt"), pki.path("open.key"))),
    );
    assert!(agent_err(cfg).contains("is readable by others (mode 644): run `chmod 600"));
}
