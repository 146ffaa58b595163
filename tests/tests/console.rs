//! The web console in a real browser: Debian's Chromium driven over WebDriver
//! (`support::webdriver`), against the real collector (with `[auth]`: an anonymous viewer for
//! the wall screen, operator ann, viewer vic), the real agent reporting its host, and a
//! scripted agent whose sample fires a rule at a moment the test chooses. Checked:
//!
//! - the board shows the incident within one second of the rule firing (measured from the
//!   sample's send to the row appearing, with a MutationObserver in the page: no polling);
//! - the deadline countdown ticks in the page;
//! - a `<script>` in an incident's summary is shown as text, never run;
//! - every page (board, incident, host, status, inspection sheet, monthly summary) renders
//!   with no SEVERE entry in the browser's console; a screenshot of each is written under
//!   `target/test-artifacts/console/`; the monthly summary prints to PDF;
//! - an operator signed in with a token acknowledges from the page and the journal shows the
//!   operator's name; a viewer sees no write buttons, and a forged POST as the viewer gets
//!   403 (401 without a credential, 403 from a foreign origin);
//! - live-update browsers are bounded: one past `max_watchers` gets 503 with a sentence.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::procs::{Proc, eventually, http_get};
use support::webdriver::{Driver, Session, http};
use support::wire::{ScriptedAgent, def, hello, point};

const ANN: &str = "ann-operator-token-0123456789";
const VIC: &str = "vic-viewer-token-0123456789";
const LAB: &str = "lab-01-agent-token-0123456789";
const PROBE: &str = "probe-agent-token-0123456789";

/// A summary an agent could send: the board must show it as text.
const HOSTILE: &str = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";

const RULES: &str = r#"
[[rule]]
name = "console_disk_full"
expr = 'disk_used_percent{mount="/u01"} > 90'
severity = "P2"
summary = "Disk {{mount}} on {{host}} at {{value}}%"

[[rule]]
name = "console_hostile"
expr = 'disk_used_percent{mount="/x"} > 90'
severity = "P4"
summary = "Tag {{tag}}"
"#;

const SITE: &str = r#"
[report]
title = "Console lab"

[[level]]
name = "P1"
meaning = "outage"
respond = "10m"
resolve = "4h"

[[level]]
name = "P2"
meaning = "severe"
respond = "10m"
resolve = "6h"

[[level]]
name = "P3"
meaning = "warning"
respond = "20m"
resolve = "12h"

[[level]]
name = "P4"
meaning = "minor"
respond = "30m"
resolve = "24h"

[[inspection]]
name = "daily"
calendar = "24x7"
at = ["09:00", "16:00"]
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

fn secret(path: &Path, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("{text}\n")).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    s(path)
}

/// `target/test-artifacts/console/` (this binary runs from `target/<profile>/deps/`).
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    let dir = target.join("test-artifacts/console");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// Fails on any SEVERE entry in the browser's console since the last look; writes the page's
/// screenshot as `name.png`.
fn clean_and_shot(b: &Session, name: &str) {
    let severe: Vec<Value> = b
        .browser_log()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(
        severe.is_empty(),
        "{name}: console errors in the browser: {severe:#?}"
    );
    let png = b.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(artifacts().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Waits in the page until `#live` says the event stream is open.
fn wait_live(b: &Session) {
    let state = b.execute_async(
        "const done = arguments[arguments.length - 1];
         const el = document.getElementById('live');
         const ok = () => el.getAttribute('data-state') === 'live';
         if (ok()) { done('live'); return; }
         new MutationObserver((m, o) => { if (ok()) { o.disconnect(); done('live'); } })
           .observe(el, {attributes: true});",
        json!([]),
    );
    assert_eq!(state, "live");
}

fn metric(http_addr: &str, name: &str) -> f64 {
    let (_, body) = http_get(http_addr, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(-1.0)
}

fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    http(addr, "POST", path, &all, Some(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).expect("rules dir");
    std::fs::write(d.join("rules/console.toml"), RULES).expect("rules");
    std::fs::write(d.join("site.toml"), SITE).expect("site");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nrules = \"{rules}\"\ndata = \"{data}\"\nsite = \"{site}\"\n\
         [connections]\nmax_watchers = 2\n\
         [auth]\nanonymous = \"viewer\"\n\
         [[auth.agent]]\nid = \"lab-01\"\ntoken_file = \"{lab}\"\n\
         [[auth.agent]]\nid = \"probe\"\ntoken_file = \"{probe}\"\n\
         [[auth.operator]]\nname = \"ann\"\nrole = \"operator\"\ntoken_file = \"{ann}\"\n\
         [[auth.operator]]\nname = \"vic\"\nrole = \"viewer\"\ntoken_file = \"{vic}\"\n",
        rules = s(&d.join("rules")),
        data = s(&d.join("data")),
        site = s(&d.join("site.toml")),
        lab = secret(&d.join("lab.token"), LAB),
        probe = secret(&d.join("probe.token"), PROBE),
        ann = secret(&d.join("ann.token"), ANN),
        vic = secret(&d.join("vic.token"), VIC),
    );
    std::fs::write(d.join("collector.toml"), config).expect("config");
    let collector = Proc::spawn(
        "patrol-collector",
        &["--config", &s(&d.join("collector.toml"))],
    );
    let (grpc, web) = collector.wait_line(Duration::from_secs(60), |l| {
        let rest = l.strip_prefix("patrol-collector listening ")?;
        let mut parts = rest.split_whitespace();
        let grpc = parts.next()?.strip_prefix("grpc=")?.to_owned();
        let http = parts.next()?.strip_prefix("http=")?.to_owned();
        Some((grpc, http))
    });

    // The real agent, reporting its host every second.
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "agent_id = \"lab-01\"\nhost = \"lab-01\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://{grpc}\"\ntoken_file = {token:?}\n\
             [[probe]]\ntype = \"host\"\ninterval = \"1s\"\n",
            state = d.join("agent-state"),
            token = d.join("lab.token"),
        ),
    )
    .expect("agent config");
    let _agent = Proc::agent(&d.join("agent.toml"));

    let driver = Driver::start();
    let b = driver.session();
    let base = format!("http://{web}");

    // The board, empty, following the live stream.
    b.navigate(&format!("{base}/"));
    b.wait_for("#board", Duration::from_secs(10));
    wait_live(&b);
    assert_eq!(metric(&web, "patrol_console_sse_clients"), 1.0);

    // The page watches for the row; then the scripted agent's sample fires the rule.
    b.execute(
        "window.__seen = new Promise(resolve => {
           const body = document.getElementById('board-rows');
           const check = () => { const r = body.querySelector('tr[data-rule=\"console_disk_full\"]');
                                 if (r) { resolve(Date.now()); return true; } return false; };
           if (!check()) { new MutationObserver((m, o) => { if (check()) o.disconnect(); })
                             .observe(body, {childList: true}); }
         });",
        json!([]),
    );
    let mut probe = hello("probe", 1);
    probe.token = PROBE.to_owned();
    probe.host = "db-07".to_owned();
    let mut agent = ScriptedAgent::connect(&grpc, probe).await.expect("welcome");
    let fired_at = now_ms();
    agent
        .send(
            1,
            vec![
                def(0, "disk_used_percent", &[("mount", "/u01")]),
                def(1, "disk_used_percent", &[("mount", "/x"), ("tag", HOSTILE)]),
            ],
            vec![point(0, 97.0, fired_at), point(1, 99.0, fired_at)],
        )
        .await;
    let appeared = b
        .execute_async(
            "window.__seen.then(arguments[arguments.length - 1]);",
            json!([]),
        )
        .as_i64()
        .expect("a time");
    let latency = appeared - fired_at;
    println!("board: the incident appeared {latency} ms after its sample was sent");
    assert!(
        latency < 1000,
        "the board showed the incident {latency} ms after the rule fired"
    );
    assert_eq!(
        agent.next_ack(Duration::from_secs(20)).await.expect("ack"),
        1
    );

    let row = b.find("tr[data-rule=\"console_disk_full\"]");
    let text = b.text(&row);
    assert!(text.contains("Disk /u01 on db-07 at 97%"), "{text}");
    assert!(text.contains("P2") && text.contains("open"), "{text}");
    let id = b
        .execute(
            "return document.querySelector('tr[data-rule=\"console_disk_full\"]').dataset.id;",
            json!([]),
        )
        .as_str()
        .expect("row id")
        .to_owned();

    // Hostile text arrived by the live stream: shown, not run.
    let hostile = b.wait_for("tr[data-rule=\"console_hostile\"]", Duration::from_secs(5));
    assert!(
        b.text(&hostile).contains("<script>window.__xss=1</script>"),
        "{}",
        b.text(&hostile)
    );
    assert_eq!(
        b.execute("return window.__xss === undefined;", json!([])),
        true
    );

    // The countdown ticks.
    let before = b.text(&b.find("tr[data-rule=\"console_disk_full\"] .clock"));
    assert!(
        before.starts_with("respond ") && before.ends_with(" left"),
        "{before}"
    );
    let after = b.execute_async(
        "const done = arguments[arguments.length - 1];
         const el = document.querySelector('tr[data-rule=\"console_disk_full\"] .clock');
         const first = el.textContent;
         new MutationObserver((m, o) => { if (el.textContent !== first) { o.disconnect(); done(el.textContent); } })
           .observe(el, {childList: true, characterData: true, subtree: true});",
        json!([]),
    );
    assert_ne!(after.as_str(), Some(before.as_str()));
    clean_and_shot(&b, "board");

    // Live browsers are bounded (max_watchers = 2): the board is one, a second is let in,
    // a third is refused with a sentence.
    let mut second = std::net::TcpStream::connect(&web).expect("connect");
    write!(
        second,
        "GET /console/events HTTP/1.1\r\nHost: {web}\r\n\r\n"
    )
    .expect("write");
    let mut first_bytes = [0u8; 12];
    second.read_exact(&mut first_bytes).expect("answer");
    assert_eq!(&first_bytes, b"HTTP/1.1 200");
    let (code, body) = http(&web, "GET", "/console/events", &[], None);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("browsers already follow the board's live updates"),
        "{body}"
    );
    assert_eq!(metric(&web, "patrol_console_sse_refused_total"), 1.0);
    drop(second);

    // The incident page: fields, deadlines, journal.
    b.navigate(&format!("{base}/console/incidents/{id}"));
    let deadlines = b.wait_for("#deadlines", Duration::from_secs(10));
    let dl = b.text(&deadlines);
    assert!(dl.contains("respond") && dl.contains("running"), "{dl}");
    assert!(dl.contains("resolve"), "{dl}");
    assert!(b.text(&b.find("#journal")).contains("opened"));
    // Read-only for the anonymous viewer.
    assert_eq!(
        b.execute(
            "return document.getElementById('actions').hidden;",
            json!([])
        ),
        true
    );
    clean_and_shot(&b, "incident");

    // The operator signs in with a token and acknowledges.
    b.type_into(&b.find("#token"), ANN);
    b.click(&b.find("#signin button"));
    let who = b.execute_async(
        "const done = arguments[arguments.length - 1];
         const a = document.getElementById('actions');
         if (!a.hidden) { done(document.getElementById('who').textContent); return; }
         new MutationObserver((m, o) => { if (!a.hidden) { o.disconnect(); done(document.getElementById('who').textContent); } })
           .observe(a, {attributes: true});",
        json!([]),
    );
    assert_eq!(who, "ann (operator)");
    b.type_into(&b.find("#note"), "on it");
    b.click(&b.find("#do-ack"));
    let acked = b.wait_for(
        "#journal tr[data-kind=\"acknowledged\"] td.actor",
        Duration::from_secs(10),
    );
    assert_eq!(b.text(&acked), "ann");
    let fields = b.text(&b.find("#fields"));
    assert!(
        fields.contains("acknowledged") && fields.contains("ann"),
        "{fields}"
    );
    clean_and_shot(&b, "incident-acknowledged");

    // A viewer signed in sees no write buttons.
    b.click(&b.find("#signout"));
    let token = b.wait_for("#signin:not([hidden]) #token", Duration::from_secs(10));
    b.type_into(&token, VIC);
    b.click(&b.find("#signin button"));
    let who = b.execute_async(
        "const done = arguments[arguments.length - 1];
         const w = document.getElementById('who');
         const ok = () => w.textContent.startsWith('vic');
         if (ok()) { done(w.textContent); return; }
         new MutationObserver((m, o) => { if (ok()) { o.disconnect(); done(w.textContent); } })
           .observe(w, {childList: true, characterData: true, subtree: true});",
        json!([]),
    );
    assert_eq!(who, "vic (viewer)");
    assert_eq!(
        b.execute(
            "return document.getElementById('actions').hidden;",
            json!([])
        ),
        true
    );

    // Forged writes.
    let path = format!("/console/api/incidents/{id}/comment");
    let vic = format!("Bearer {VIC}");
    let (code, body) = post(
        &web,
        &path,
        &[("Authorization", &vic), ("X-Patrol-Console", "1")],
        r#"{"note":"x"}"#,
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body.trim(),
        "console comment needs the operator role; vic has the viewer role"
    );
    let (code, body) = post(&web, &path, &[("X-Patrol-Console", "1")], r#"{"note":"x"}"#);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("you presented no credential"), "{body}");
    let ann = format!("Bearer {ANN}");
    let (code, body) = post(
        &web,
        &path,
        &[
            ("Authorization", &ann),
            ("X-Patrol-Console", "1"),
            ("Origin", "http://evil.example"),
        ],
        r#"{"note":"x"}"#,
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("another origin"), "{body}");
    let (code, body) = post(
        &web,
        &path,
        &[("Authorization", &ann), ("X-Patrol-Console", "1")],
        r#"{"note":"x","by":"bob"}"#,
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("you are authenticated as ann"), "{body}");

    // The host page: the real agent's current values and the day's charts.
    b.navigate(&format!("{base}/console/hosts/lab-01"));
    let values = b.wait_for("#values", Duration::from_secs(10));
    assert!(
        b.text(&values).contains("memory_used_percent"),
        "{}",
        b.text(&values)
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            b.navigate(&format!(
                "{base}/console/hosts/lab-01?metric=memory_used_percent"
            ));
            b.execute(
                "return document.querySelectorAll('svg.chart path.line').length;",
                json!([]),
            ) == 1
        }),
        "no chart of memory_used_percent for lab-01"
    );
    clean_and_shot(&b, "host");
    b.navigate(&format!("{base}/console/hosts"));
    assert!(
        b.text(&b.wait_for("#hosts", Duration::from_secs(10)))
            .contains("lab-01")
    );
    clean_and_shot(&b, "hosts");

    // Status: rules, site, agents.
    b.navigate(&format!("{base}/console/status"));
    let count = b.wait_for("#rules-count", Duration::from_secs(10));
    assert!(
        b.text(&count).starts_with("2 rules in force"),
        "{}",
        b.text(&count)
    );
    assert!(
        b.text(&b.find("#rules-reload"))
            .starts_with("Loaded at start")
    );
    assert!(b.text(&b.find("#inspections")).contains("09:00, 16:00"));
    assert!(
        b.text(&b.find("#agents-count")).starts_with("2 connected"),
        "{}",
        b.text(&b.find("#agents-count"))
    );
    clean_and_shot(&b, "status");

    // The records: the inspection sheet as of now and the monthly summary, printed.
    b.navigate(&format!("{base}/reports/sheets?now=1"));
    b.wait_for("table", Duration::from_secs(20));
    clean_and_shot(&b, "inspection-sheet");
    b.navigate(&format!("{base}/reports/monthly"));
    b.wait_for("h1", Duration::from_secs(20));
    clean_and_shot(&b, "monthly-summary");
    let pdf = b.print_pdf();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(pdf.len() > 2_000, "a {} byte PDF", pdf.len());
    std::fs::write(artifacts().join("monthly-summary.pdf"), &pdf).expect("write pdf");
    println!("monthly summary PDF: {} bytes", pdf.len());
    drop(collector);
}
