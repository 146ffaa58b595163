//! Escalations and incident changes reach people through the real collector: a webhook (an
//! SMS gateway's HTTP API) that fails its first tries gets the escalation after retries, with
//! the same event id each time; a webhook that rejects the message keeps it as a dead letter;
//! an SMTP server (aiosmtpd) receives the e-mail.

mod support;

#[path = "../../notify/tests/notify_support/mod.rs"]
mod notify_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector_with_site, eventually, free_port, patrolctl_json};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Hit {
    event_id: String,
    body: Value,
}

/// An HTTP receiver answering with `statuses` in turn (the last one from then on).
fn receiver(statuses: Vec<u16>) -> (u16, Arc<Mutex<Vec<Hit>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&hits);
    std::thread::spawn(move || {
        let mut n = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            // The channel's start-up probe only connects: no request, not a hit.
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
            let _ = reader.read_exact(&mut body);
            let status = *statuses.get(n).or(statuses.last()).unwrap_or(&200);
            n += 1;
            seen.lock().expect("hits").push(Hit {
                event_id,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, hits)
}

const SITE: &str = r#"
[[level]]
name = "P2"
respond = "1s"
resolve = "1h"
escalation = "noc"

[target.manager]
members = ["Li Na", "+8613800000000"]
channels = ["sms"]

[[escalation.noc.step]]
name = "not_acknowledged"
when = "unacknowledged"
after = "1s"
notify = ["manager"]

[notify]
site = "lab"

[channel.sms]
kind = "webhook"
url = "http://127.0.0.1:SMS/send"
timeout = "2s"
retry = { initial = "100ms", max = "500ms", factor = 2.0, jitter = 0.1 }

[channel.chat]
kind = "webhook"
url = "http://127.0.0.1:CHAT/hook"
timeout = "2s"

# Nothing listens here: the channel fails, the others do not notice.
[channel.pager]
kind = "webhook"
url = "http://127.0.0.1:PAGER/page"
timeout = "1s"

[channel.mail]
kind = "email"
host = "127.0.0.1"
port = SMTP
from = "Patrol <patrol@lab.test>"
to = ["noc@lab.test"]

[[route]]
name = "openings"
kinds = ["opened"]
channels = ["chat", "mail", "pager"]
"#;

/// A directory for one test's collector: `rules/` (empty) beside the data and site file.
fn lab_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    dir
}

/// Writes `site` into `dir` and starts the collector on it; its gRPC URL.
fn start_with(dir: &std::path::Path, site: &str) -> (Proc, String) {
    std::fs::write(dir.join("site.toml"), site).expect("site");
    let port = free_port();
    let (collector, _http) = collector_with_site(dir, port);
    (collector, format!("http://127.0.0.1:{port}"))
}

/// The `channels status --json` entry of channel `name`.
fn channel_status(status: &Value, name: &str) -> Value {
    status
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {status}"))
}

#[test]
fn escalations_reach_a_flaky_gateway_after_retries_mail_arrives_and_rejections_are_dead_letters() {
    let dir = lab_dir();
    let (sms_port, sms) = receiver(vec![500, 503, 200]);
    let (chat_port, chat) = receiver(vec![400]);
    let maildir = dir.path().join("mail");
    let smtp_port = notify_support::free_port();
    let _smtp = notify_support::aiosmtpd(&maildir, smtp_port, notify_support::SmtpTls::None);
    let site = SITE
        .replace("SMS", &sms_port.to_string())
        .replace("CHAT", &chat_port.to_string())
        .replace("SMTP", &smtp_port.to_string())
        .replace("PAGER", &free_port().to_string());
    let (_collector, url) = start_with(dir.path(), &site);

    let created = patrolctl_json(
        &url,
        &[
            "incidents",
            "create",
            "--level",
            "P2",
            "--host",
            "core-sw1",
            "--summary",
            "uplink down, reported by phone",
            "--source",
            "phone",
            "--by",
            "ann",
            "--json",
        ],
    );
    let id = created["id"].as_u64().expect("id").to_string();

    // Nobody acknowledges: the step fires and the gateway gets it on the third try.
    assert!(
        eventually(Duration::from_secs(30), || sms.lock().expect("hits").len()
            >= 3),
        "the gateway is tried three times: {:?}",
        sms.lock().expect("hits")
    );
    let hits = sms.lock().expect("hits").clone();
    let first = &hits[0];
    assert_eq!(first.body["kind"], "escalated", "{first:?}");
    assert_eq!(first.body["detail"]["step"], "not_acknowledged");
    assert_eq!(
        first.body["detail"]["targets"][0]["members"][1],
        "+8613800000000"
    );
    // Every try is the same event: a receiver can drop copies by this id.
    let first_id = first.body["event_id"].as_u64().map(|n| n.to_string());
    assert!(
        hits.iter()
            .all(|h| Some(h.event_id.as_str()) == first_id.as_deref()),
        "{hits:?}"
    );
    let shown = |id: &str| patrolctl_json(&url, &["incidents", "show", id, "--json"]);
    let notified = |outcome: &str, channel: &str| {
        shown(&id)["journal"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                e["kind"] == "notified"
                    && e["detail"]["outcome"] == outcome
                    && e["detail"]["channel"] == channel
            })
            .count()
    };
    assert!(eventually(Duration::from_secs(10), || notified(
        "sent", "sms"
    ) == 1));
    let sent = shown(&id)["journal"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["kind"] == "notified" && e["detail"]["channel"] == "sms")
        .cloned()
        .expect("the delivery is in the journal");
    assert_eq!(sent["detail"]["attempts"], 3, "{sent}");

    // The chat hook rejects the message itself (400): kept as a dead letter, not retried.
    assert!(eventually(Duration::from_secs(10), || notified(
        "dead", "chat"
    ) == 1));
    assert_eq!(chat.lock().expect("hits").len(), 1);
    let status = patrolctl_json(&url, &["channels", "status", "--json"]);
    let chat_status = channel_status(&status, "chat");
    assert_eq!(chat_status["dead"], 1, "{status}");
    // The unreachable pager: named with its error, its notification waiting in the outbox.
    let pager = channel_status(&status, "pager");
    assert_eq!(pager["pending"], 1, "{status}");
    assert_eq!(pager["sent"], 0, "{status}");
    assert!(pager["last_error"].is_string(), "{status}");

    // The e-mail of the opening reached the SMTP server, with how to acknowledge it.
    assert!(eventually(Duration::from_secs(10), || notified(
        "sent", "mail"
    ) == 1));
    let mails: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .expect("maildir")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains(&format!("OPENED #{id} core-sw1")),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains(&format!("patrolctl incidents ack {id}")),
        "{}",
        mails[0]
    );
    // Confirmed: never sent again, though the worker has delivered everything since.
    assert_eq!(sms.lock().expect("hits").len(), 3);
}

const GROUPING_SITE: &str = r#"
[notify]
site = "lab"

[channel.mail]
kind = "email"
host = "127.0.0.1"
port = SMTP
from = "Patrol <patrol@lab.test>"
to = ["noc@lab.test"]

[channel.hook]
kind = "webhook"
url = "http://127.0.0.1:HOOK/hook"

[[route]]
name = "digest"
kinds = ["opened"]
channels = ["mail"]
group_by = ["rule"]
group_wait = "3s"

[[route]]
name = "limited"
kinds = ["opened"]
channels = ["hook"]
rate_limit = "2/1h"
"#;

/// Five reports at once are one e-mail; a route limited to two messages an hour sends two and
/// keeps the rest waiting, visible in `channels status`.
#[test]
fn a_burst_is_one_grouped_mail_and_a_rate_limited_route_holds_the_rest() {
    let dir = lab_dir();
    let (hook_port, hook) = receiver(vec![200]);
    let maildir = dir.path().join("mail");
    let smtp_port = notify_support::free_port();
    let _smtp = notify_support::aiosmtpd(&maildir, smtp_port, notify_support::SmtpTls::None);
    let site = GROUPING_SITE
        .replace("SMTP", &smtp_port.to_string())
        .replace("HOOK", &hook_port.to_string());
    let (_collector, url) = start_with(dir.path(), &site);

    let ids: Vec<String> = (1..=5)
        .map(|n| {
            let host = format!("disk-host-{n}");
            let i = patrolctl_json(
                &url,
                &[
                    "incidents",
                    "create",
                    "--level",
                    "P3",
                    "--host",
                    &host,
                    "--summary",
                    "disk filling",
                    "--source",
                    "inspection",
                    "--by",
                    "ann",
                    "--json",
                ],
            );
            i["id"].as_u64().expect("id").to_string()
        })
        .collect();

    let mails = || -> Vec<String> {
        std::fs::read_dir(maildir.join("new"))
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        eventually(Duration::from_secs(30), || !mails().is_empty()),
        "the digest arrives"
    );
    // Every change of the burst is recorded as delivered by the mail channel: whatever it sent
    // for them is in the maildir by then.
    let mailed = |id: &str| {
        patrolctl_json(&url, &["incidents", "show", id, "--json"])["journal"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| {
                e["kind"] == "notified"
                    && e["detail"]["channel"] == "mail"
                    && e["detail"]["outcome"] == "sent"
            })
    };
    assert!(
        eventually(Duration::from_secs(30), || ids.iter().all(|id| mailed(id))),
        "every change of the burst is mailed"
    );
    let got = mails();
    assert_eq!(got.len(), 1, "one e-mail for the burst: {got:?}");
    assert!(got[0].contains("5 changes (digest)"), "{}", got[0]);
    for id in &ids {
        assert!(got[0].contains(&format!("#{id} ")), "{id} in {}", got[0]);
    }

    // The limited route: two messages, three waiting.
    assert!(eventually(Duration::from_secs(10), || hook
        .lock()
        .expect("hits")
        .len()
        == 2));
    let status = patrolctl_json(&url, &["channels", "status", "--json"]);
    let hook_status = channel_status(&status, "hook");
    assert_eq!(
        (
            hook_status["sent"].as_u64(),
            hook_status["pending"].as_u64()
        ),
        (Some(2), Some(3)),
        "{status}"
    );
    assert_eq!(hook.lock().expect("hits").len(), 2);
}

const HOLDING_SITE: &str = r#"
[notify]
site = "lab"

[channel.hook]
kind = "webhook"
url = "http://127.0.0.1:HOOK/hook"

# Minor openings wait an hour to be sent as one digest.
[[route]]
name = "digest"
kinds = ["opened"]
levels = ["P4"]
channels = ["hook"]
group_by = ["level"]
group_wait = "1h"

[[route]]
name = "changes"
kinds = ["opened", "acknowledged"]
channels = ["hook"]
"#;

/// A change waiting for its group holds back the later changes of its own incident, never
/// another incident's: a P1 goes out while a P4 digest on the same channel still waits.
#[test]
fn a_change_waiting_for_its_group_does_not_hold_back_other_incidents() {
    let dir = lab_dir();
    let (hook_port, hook) = receiver(vec![200]);
    let site = HOLDING_SITE.replace("HOOK", &hook_port.to_string());
    let (_collector, url) = start_with(dir.path(), &site);
    let create = |level: &str, host: &str| {
        let i = patrolctl_json(
            &url,
            &[
                "incidents",
                "create",
                "--level",
                level,
                "--host",
                host,
                "--summary",
                "reported by phone",
                "--source",
                "phone",
                "--by",
                "ann",
                "--json",
            ],
        );
        i["id"].as_u64().expect("id")
    };

    let minor = create("P4", "printer-3");
    let acked = patrolctl_json(
        &url,
        &[
            "incidents",
            "ack",
            &minor.to_string(),
            "--by",
            "ann",
            "--json",
        ],
    );
    assert_eq!(acked["state"], "acknowledged", "{acked}");
    let major = create("P1", "core-sw1");

    assert!(
        eventually(Duration::from_secs(20), || !hook
            .lock()
            .expect("hits")
            .is_empty()),
        "the P1 opening goes out while the P4 digest waits"
    );
    let hits = hook.lock().expect("hits").clone();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (
            hits[0].body["kind"].as_str(),
            hits[0].body["incident_id"].as_u64()
        ),
        (Some("opened"), Some(major)),
        "{hits:?}"
    );
    // The P4's acknowledgement is not sent ahead of its opening: both wait for the digest.
    // (The receiver answers before the collector records the delivery, hence the wait.)
    let mut status = Value::Null;
    let counted = eventually(Duration::from_secs(10), || {
        status = patrolctl_json(&url, &["channels", "status", "--json"]);
        let hook_status = channel_status(&status, "hook");
        (
            hook_status["sent"].as_u64(),
            hook_status["pending"].as_u64(),
        ) == (Some(1), Some(2))
    });
    assert!(counted, "one sent, two waiting: {status}");
    assert_eq!(hook.lock().expect("hits").len(), 1);
}
