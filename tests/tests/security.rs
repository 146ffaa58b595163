//! Identities, roles and refusals with the real binaries: a collector with `[auth]` (operator
//! tokens, per-agent tokens, the operator socket), `patrolctl` as each identity, agents
//! speaking for their own id or another's; secret files open to others refused by every
//! binary; `patrolctl` at the wrong port or refused by mutual TLS saying what fixes it; daemon
//! logs without escape codes when stderr is not a terminal, and JSON on request.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use patrol_proto::v1::{self, agent_message, collector_message, ingest_client::IngestClient};
use serde_json::Value;
use support::procs::{Proc, binary, eventually, http_get, run};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const ANN: &str = "ann-operator-token-0123456789";
const VIC: &str = "vic-viewer-token-0123456789";
const ROOT: &str = "ada-admin-token-0123456789";
const WEB: &str = "web-01-agent-token-0123456789";

/// Writes `text` to `path` with `mode`.
fn write(path: &Path, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.to_path_buf()
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

/// A collector with `[auth]`: ann (operator), vic (viewer), ada (admin), the shared account
/// noc-desk (operator, certificate only here), the agent web-01 with its token, and the
/// operator socket. Returns (dir, collector, grpc URL, http address, socket path).
fn start_with_auth() -> (tempfile::TempDir, Proc, String, String, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).expect("rules dir");
    let tok = |name: &str, t: &str| s(&write(&d.join(name), &format!("{t}\n"), 0o600));
    let socket = d.join("ctl.sock");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nrules = \"{rules}\"\ndata = \"{data}\"\n\
         [auth]\noperator_socket = \"{socket}\"\n\
         [[auth.agent]]\nid = \"web-01\"\ntoken_file = \"{web}\"\n\
         [[auth.operator]]\nname = \"ann\"\nrole = \"operator\"\ntoken_file = \"{ann}\"\n\
         [[auth.operator]]\nname = \"vic\"\nrole = \"viewer\"\ntoken_file = \"{vic}\"\n\
         [[auth.operator]]\nname = \"ada\"\nrole = \"admin\"\ntoken_file = \"{ada}\"\n",
        rules = s(&d.join("rules")),
        data = s(&d.join("data")),
        socket = s(&socket),
        web = tok("web.token", WEB),
        ann = tok("ann.token", ANN),
        vic = tok("vic.token", VIC),
        ada = tok("ada.token", ROOT),
    );
    let file = write(&d.join("collector.toml"), &config, 0o644);
    let (proc, grpc, http) = listening(Proc::spawn("patrol-collector", &["--config", &s(&file)]));
    (dir, proc, format!("http://{grpc}"), http, socket)
}

/// Waits for the collector's `listening` line: (proc, grpc, http).
fn listening(p: Proc) -> (Proc, String, String) {
    let (grpc, http) = p.wait_line(Duration::from_secs(30), |l| {
        let rest = l.strip_prefix("patrol-collector listening ")?;
        let mut parts = rest.split_whitespace();
        let grpc = parts.next()?.strip_prefix("grpc=")?.to_owned();
        let http = parts.next()?.strip_prefix("http=")?.to_owned();
        Some((grpc, http))
    });
    (p, grpc, http)
}

/// `patrolctl --collector URL [--token-file F] ARGS...`: (code, stdout, stderr).
fn ctl(url: &str, token: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--collector".to_owned(), url.to_owned()];
    if let Some(t) = token {
        all.extend(["--token-file".to_owned(), s(t)]);
    }
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run("patrolctl", &refs)
}

fn create(by: Option<&str>) -> Vec<&str> {
    let mut a = vec![
        "incidents",
        "create",
        "--level",
        "P3",
        "--host",
        "db01",
        "--summary",
        "slow",
        "--source",
        "phone",
        "--json",
    ];
    if let Some(by) = by {
        a.extend(["--by", by]);
    }
    a
}

fn metric(http: &str, line_start: &str) -> u64 {
    let (_, body) = http_get(http, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn operators_act_as_themselves_and_refused_writes_name_the_role() {
    let (dir, _collector, url, http, socket) = start_with_auth();
    let d = dir.path();
    let (ann, vic, ada) = (
        d.join("ann.token"),
        d.join("vic.token"),
        d.join("ada.token"),
    );

    // No credential: even reading is refused, and the answer says what gives access.
    let (code, out, err) = ctl(&url, None, &["incidents", "list"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with(
            "patrolctl: incidents list needs the viewer role and you presented no credential: \
             present an operator token (patrolctl --token-file FILE, or PATROL_TOKEN_FILE), or \
             use the operator socket (--collector unix://"
        ),
        "{err}"
    );

    // A viewer reads, and a write names the role it needs.
    let (code, out, err) = ctl(&url, Some(&vic), &["incidents", "list"]);
    assert_eq!((code, out.trim()), (0, "no incidents"), "{err}");
    let (code, _, err) = ctl(&url, Some(&vic), &create(None));
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "patrolctl: incidents create needs the operator role; vic has the viewer role"
    );

    // An operator's write is journalled under the authenticated name; naming someone else
    // is refused.
    let (code, out, err) = ctl(&url, Some(&ann), &create(None));
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).expect("json");
    let id = created["id"].as_u64().expect("id").to_string();
    let (code, _, err) = ctl(&url, Some(&ann), &["incidents", "ack", &id, "--by", "bob"]);
    assert_eq!(code, 1);
    assert!(err.contains("you are authenticated as ann"), "{err}");
    let (code, _, err) = ctl(
        &url,
        Some(&ann),
        &["incidents", "ack", &id, "--note", "mine"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = ctl(&url, Some(&ann), &["rules", "reload"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "patrolctl: rules reload needs the admin role; ann has the operator role"
    );
    let (code, out, err) = ctl(&url, Some(&ada), &["rules", "reload"]);
    assert_eq!(code, 0, "{out}{err}");

    // The operator socket: the Unix user is the identity (root, shared: it must say who).
    let unix = format!("unix://{}", s(&socket));
    let (code, _, err) = ctl(&unix, None, &["incidents", "comment", &id, "--note", "n"]);
    let me = run_id_un();
    if me == "root" {
        assert_eq!(code, 1);
        assert!(
            err.contains("'by' is required (root is a shared identity)"),
            "{err}"
        );
        let (code, _, err) = ctl(
            &unix,
            None,
            &["incidents", "comment", &id, "--note", "n", "--by", "carol"],
        );
        assert_eq!(code, 0, "{err}");
    } else {
        assert_eq!(code, 0, "{err}");
    }

    // A token nobody has is refused outright.
    let wrong = write(
        &d.join("wrong.token"),
        "not-a-known-token-0123456789\n",
        0o600,
    );
    let (code, _, err) = ctl(&url, Some(&wrong), &["incidents", "list"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("this collector knows no identity with that token"),
        "{err}"
    );

    let (code, out, err) = ctl(&url, Some(&vic), &["incidents", "show", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("json");
    let actors: Vec<&str> = shown["journal"]
        .as_array()
        .expect("journal")
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    let socket_actor = if me == "root" {
        "carol via root".to_owned()
    } else {
        me.clone()
    };
    assert_eq!(actors, ["ann", "ann", socket_actor.as_str()], "{shown}");

    // Every refusal is counted by reason.
    assert!(metric(&http, "patrol_auth_refused_total{reason=\"no_credential\"}") >= 1);
    assert!(metric(&http, "patrol_auth_refused_total{reason=\"role\"}") >= 2);
    assert!(metric(&http, "patrol_auth_refused_total{reason=\"unknown_token\"}") >= 1);
}

/// The current Unix user's name, as `id -un` prints it.
fn run_id_un() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn hello(agent_id: &str, token: &str) -> v1::AgentMessage {
    v1::AgentMessage {
        msg: Some(agent_message::Msg::Hello(v1::Hello {
            agent_id: agent_id.into(),
            host: agent_id.into(),
            version: "test".into(),
            labels: vec![],
            token: token.into(),
            epoch: 1,
        })),
    }
}

/// Opens an agent stream with `hello`; Ok once welcomed, the refusal otherwise.
async fn stream(url: &str, agent_id: &str, token: &str) -> Result<(), tonic::Status> {
    let mut client = IngestClient::connect(url.to_owned())
        .await
        .expect("connect");
    let (tx, rx) = mpsc::channel(4);
    tx.send(hello(agent_id, token)).await.expect("queue hello");
    let mut answers = client.stream(ReceiverStream::new(rx)).await?.into_inner();
    match answers.message().await? {
        Some(v1::CollectorMessage {
            msg: Some(collector_message::Msg::Welcome(_)),
        }) => Ok(()),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_may_only_speak_for_its_own_id() {
    let (_dir, _collector, url, http, _socket) = start_with_auth();
    stream(&url, "web-01", WEB)
        .await
        .expect("web-01 with its own token");
    let other = stream(&url, "web-02", WEB).await.unwrap_err();
    assert_eq!(other.code(), tonic::Code::PermissionDenied, "{other:?}");
    assert!(
        other.message().contains("may not speak for 'web-02'"),
        "{other:?}"
    );
    let wrong = stream(&url, "web-01", "guess").await.unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(wrong.message(), "wrong token for agent 'web-01'");
    let unknown = stream(&url, "db-09", "").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
    // An operator token is no agent credential.
    assert!(stream(&url, "web-01", ANN).await.is_err());
    let http2 = http.clone();
    assert!(eventually(Duration::from_secs(5), move || {
        metric(&http2, "patrol_auth_refused_total{reason=\"other_agent\"}") == 1
            && metric(&http2, "patrol_auth_refused_total{reason=\"agent_token\"}") == 2
            && metric(
                &http2,
                "patrol_auth_refused_total{reason=\"unknown_agent\"}",
            ) == 1
    }));
}

#[test]
fn secret_files_open_to_others_are_refused_by_every_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).expect("rules");
    let open = write(&d.join("open.token"), "0123456789abcdef-token\n", 0o644);
    let fix = format!(
        "{0} is readable by others (mode 644): run `chmod 600 {0}` (or 640 with the service's group)",
        s(&open)
    );

    // The collector: the shared token_file and an [auth] token file alike.
    for section in [
        format!("token_file = \"{}\"\n", s(&open)),
        format!(
            "[auth]\n[[auth.operator]]\nname = \"ann\"\nrole = \"admin\"\ntoken_file = \"{}\"\n",
            s(&open)
        ),
    ] {
        let config = write(
            &d.join("collector.toml"),
            &format!(
                "listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nrules = \"{}\"\ndata = \"{}\"\n{section}",
                s(&d.join("rules")),
                s(&d.join("data"))
            ),
            0o644,
        );
        let (code, _, err) = run("patrol-collector", &["--config", &s(&config)]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&fix), "{err}");
    }

    // The agent.
    let agent = write(
        &d.join("agent.toml"),
        &format!(
            "[collector]\naddress = \"http://127.0.0.1:9\"\ntoken_file = \"{}\"\n[[probe]]\ntype = \"host\"\n",
            s(&open)
        ),
        0o644,
    );
    let (code, _, err) = run("patrol-agent", &["--config", &s(&agent), "--check"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("token_file {fix}")), "{err}");

    // patrolctl, before it connects anywhere.
    let (code, _, err) = ctl("http://127.0.0.1:9", Some(&open), &["incidents", "list"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim(), format!("patrolctl: --token-file {fix}"));
}

#[test]
fn patrolctl_at_the_http_port_says_so_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules");
    let (_collector, _grpc, http) =
        support::procs::collector(&dir.path().join("rules"), &dir.path().join("data"));
    let url = format!("http://{http}");
    let (code, out, err) = ctl(&url, None, &["incidents", "list"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!(
            "patrolctl: no Patrol collector answers at {url} (HTTP 404: is this the HTTP port?"
        )),
        "{err}"
    );
}

/// Spawns `name` with stderr piped and colour not disabled, waits for its `listening` line,
/// stops it and returns everything it wrote on stderr.
fn stderr_of_collector(extra: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules");
    let mut child = Command::new(binary("patrol-collector"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rules",
            &s(&dir.path().join("rules")),
            "--data",
            &s(&dir.path().join("data")),
        ])
        .args(extra)
        .env_remove("NO_COLOR")
        .env("PATROL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start patrol-collector");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    let mut byte = [0u8; 1];
    // The listening line comes after the store and rules are up and before the ready log.
    while !first.ends_with('\n') && stdout.read(&mut byte).unwrap_or(0) == 1 {
        first.push(byte[0] as char);
    }
    assert!(first.starts_with("patrol-collector listening"), "{first}");
    let status = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut err = Vec::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_end(&mut err)
        .expect("read stderr");
    let _ = child.wait();
    err
}

#[test]
fn daemon_logs_have_no_escape_codes_off_a_terminal_and_json_on_request() {
    let text = stderr_of_collector(&[]);
    let shown = String::from_utf8_lossy(&text);
    assert!(shown.contains("patrol-collector ready"), "{shown}");
    assert!(
        !text.contains(&0x1b),
        "escape codes in a non-terminal log:\n{shown}"
    );

    let json = stderr_of_collector(&["--log-format", "json"]);
    let shown = String::from_utf8_lossy(&json);
    let lines: Vec<Value> = shown
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "patrol-collector ready"),
        "{shown}"
    );
}

/// A CA and a leaf it signs, as PEM (cert, key).
fn pki_leaf(
    issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    names: &[&str],
    cn: &str,
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

fn pki_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("key"))
        .expect("ca")
}

#[test]
fn patrolctl_refused_by_mutual_tls_says_which_option_fixes_it() {
    use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).expect("rules");
    let ca = pki_ca("Patrol test CA");
    let other = pki_ca("Some other CA");
    write(&d.join("ca.crt"), &ca.pem(), 0o644);
    let (cert, key) = pki_leaf(&ca, &["localhost", "127.0.0.1"], "collector", ServerAuth);
    write(&d.join("collector.crt"), &cert, 0o644);
    write(&d.join("collector.key"), &key, 0o600);
    // An operator known by the name in its certificate.
    let (cert, key) = pki_leaf(&ca, &["ann"], "ann", ClientAuth);
    write(&d.join("ann.crt"), &cert, 0o644);
    write(&d.join("ann.key"), &key, 0o600);
    let (cert, key) = pki_leaf(&other, &["ann"], "ann", ClientAuth);
    write(&d.join("rogue.crt"), &cert, 0o644);
    write(&d.join("rogue.key"), &key, 0o600);
    let config = write(
        &d.join("collector.toml"),
        &format!(
            "listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nrules = \"{}\"\ndata = \"{}\"\n\
             [tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_file = \"{}\"\n\
             [auth]\n[[auth.operator]]\nname = \"ann\"\nrole = \"operator\"\n",
            s(&d.join("rules")),
            s(&d.join("data")),
            s(&d.join("collector.crt")),
            s(&d.join("collector.key")),
            s(&d.join("ca.crt")),
        ),
        0o644,
    );
    let (_collector, grpc, http) =
        listening(Proc::spawn("patrol-collector", &["--config", &s(&config)]));
    let url = format!("https://{grpc}");
    let tls = |cert: Option<&str>| {
        let mut a = vec!["--ca-file".to_owned(), s(&d.join("ca.crt"))];
        if let Some(c) = cert {
            a.extend([
                "--cert-file".to_owned(),
                s(&d.join(format!("{c}.crt"))),
                "--key-file".to_owned(),
                s(&d.join(format!("{c}.key"))),
            ]);
        }
        a.extend(["agents".to_owned(), "list".to_owned(), "--json".to_owned()]);
        a
    };
    let call = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ctl(&url, None, &refs)
    };

    let (code, out, err) = call(tls(None));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.starts_with(&format!(
            "patrolctl: TLS with the collector at {url} failed: the collector requires a client \
             certificate (mutual TLS) and none was given: pass --cert-file and --key-file"
        )),
        "{err}"
    );
    let (code, _, err) = call(tls(Some("rogue")));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the collector refused the client certificate"),
        "{err}"
    );
    // The certificate's name is the operator's identity.
    let (code, out, err) = call(tls(Some("ann")));
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");

    // The HTTP port takes the same TLS settings: HTTPS, and the client CA.
    let curl = |cert: Option<&str>, scheme: &str| {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "10", "--cacert", &s(&d.join("ca.crt"))]);
        if let Some(cert) = cert {
            c.args([
                "--cert",
                &s(&d.join(format!("{cert}.crt"))),
                "--key",
                &s(&d.join(format!("{cert}.key"))),
            ]);
        }
        c.arg(format!("{scheme}://{http}/healthz"));
        let out = c
            .output()
            .expect("curl not found: install Debian's curl package (scripts/setup.sh)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(curl(Some("ann"), "https"), (true, "ok\n".to_owned()));
    assert!(
        !curl(None, "https").0,
        "HTTPS without a client certificate must fail"
    );
    assert!(
        !curl(Some("rogue"), "https").0,
        "a certificate from another CA must fail"
    );
    assert!(!curl(Some("ann"), "http").0, "plaintext HTTP must fail");

    // The certificate's name is the operator's identity on the HTTP port too: the query API
    // (viewer role) answers ann, identified by her certificate alone.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", &s(&d.join("ca.crt"))])
        .args([
            "--cert",
            &s(&d.join("ann.crt")),
            "--key",
            &s(&d.join("ann.key")),
        ])
        .arg(format!("https://{http}/api/v1/status/buildinfo"))
        .output()
        .expect("curl not found: install Debian's curl package (scripts/setup.sh)");
    let body: Value = serde_json::from_slice(&out.stdout).expect("json from the query API");
    assert_eq!(body["status"], "success", "{body}");
}

/// `curl` on the plaintext HTTP port with an optional bearer token: (HTTP status, body).
fn curl_bearer(http: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    // -g: `match[]` is a parameter name, not a curl glob.
    c.args(["-sS", "-g", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = c
        .arg(format!("http://{http}{path}"))
        .output()
        .expect("curl not found: install Debian's curl package (scripts/setup.sh)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

#[test]
fn the_history_is_read_with_the_viewer_role_over_grpc_and_http() {
    let (dir, _collector, url, http, socket) = start_with_auth();
    let vic = dir.path().join("vic.token");

    // patrolctl query, series and history status: the viewer role, on the same connection
    // path (token, operator socket) and with the same exit codes as every other command.
    let (code, _, err) = ctl(&url, None, &["query", "up"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(
            "patrolctl: query needs the viewer role and you presented no credential: present \
             an operator token"
        ),
        "{err}"
    );
    let (code, _, err) = ctl(&url, None, &["history", "status"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("history status needs the viewer role"),
        "{err}"
    );
    for args in [
        &["query", "up", "--json"][..],
        &["series", "up", "--json"],
        &["history", "status"],
    ] {
        let (code, out, err) = ctl(&url, Some(&vic), args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let (code, out, err) = ctl(&url, Some(&vic), &["query", "up", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    let unix = format!("unix://{}", s(&socket));
    let (code, out, err) = ctl(&unix, None, &["history", "status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("series "), "{out}");

    // The Prometheus query API: the same role, refusals in Prometheus' error shape.
    let (status, body) = curl_bearer(&http, "/api/v1/query?query=up", None);
    assert_eq!(status, 401, "{body}");
    let refused: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["errorType"], "unauthorized");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the query API (/api/v1/query) needs the viewer role"),
        "{body}"
    );
    let (status, body) = curl_bearer(&http, "/api/v1/labels", Some("not-a-known-token-0123"));
    assert_eq!(status, 401, "{body}");
    for path in [
        "/api/v1/query?query=up",
        "/api/v1/query_range?query=up&start=0&end=60&step=15",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/label/host/values",
        "/api/v1/status/buildinfo",
    ] {
        let (status, body) = curl_bearer(&http, path, Some(VIC));
        assert_eq!(status, 200, "{path}: {body}");
        let ok: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(ok["status"], "success", "{path}: {body}");
    }
    // /metrics and /healthz stay outside the role check (docs/security.md).
    assert_eq!(http_get(&http, "/healthz").0, 200);
    assert_eq!(http_get(&http, "/metrics").0, 200);
    assert!(metric(&http, "patrol_auth_refused_total{reason=\"no_credential\"}") >= 3);
    assert!(metric(&http, "patrol_auth_refused_total{reason=\"unknown_token\"}") >= 1);
}

#[test]
fn the_in_process_agent_needs_no_auth_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).expect("rules");
    let ada = write(&d.join("ada.token"), &format!("{ROOT}\n"), 0o600);
    let config = write(
        &d.join("collector.toml"),
        &format!(
            "listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nrules = \"{}\"\ndata = \"{}\"\n\
             local_agent = true\n\
             [auth]\n[[auth.operator]]\nname = \"ada\"\nrole = \"admin\"\ntoken_file = \"{}\"\n",
            s(&d.join("rules")),
            s(&d.join("data")),
            s(&ada)
        ),
        0o644,
    );
    let (_collector, grpc, http) =
        listening(Proc::spawn("patrol-collector", &["--config", &s(&config)]));
    let url = format!("http://{grpc}");
    assert!(
        eventually(Duration::from_secs(20), || {
            let (code, out, _) = ctl(&url, Some(&ada), &["agents", "list", "--json"]);
            code == 0
                && serde_json::from_str::<Value>(&out)
                    .ok()
                    .and_then(|v| {
                        v.as_array()
                            .map(|a| a.iter().any(|x| x["connected"] == true))
                    })
                    .unwrap_or(false)
        }),
        "the local agent never connected"
    );
    assert_eq!(
        metric(&http, "patrol_auth_refused_total{reason=\"unknown_agent\"}"),
        0
    );
}
