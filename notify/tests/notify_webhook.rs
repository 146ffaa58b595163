//! The webhook channel against a real HTTP receiver (axum, in the test): 5xx and 429 are
//! transient, other 4xx permanent, 2xx delivered; the body is the payload JSON or the
//! channel's template; the event id travels as a header; secrets come from files; HTTPS with a
//! private CA and basic auth against a second, independent TLS stack (Python over OpenSSL).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod notify_support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use notify_support::{channel_config, message};
use patrol_notify::webhook::WebhookChannel;
use patrol_notify::{Channel, ChannelKind, DeliveryError};

/// What the receiver saw: (path, headers, body) per request.
type Seen = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

#[derive(Clone)]
struct Receiver {
    seen: Seen,
    /// Status codes to answer on /flaky, in order; then 200.
    script: Arc<Mutex<Vec<u16>>>,
}

async fn record(rx: &Receiver, path: &str, headers: HeaderMap, body: String) {
    rx.seen
        .lock()
        .unwrap()
        .push((path.to_owned(), headers, body));
}

async fn start_receiver(script: Vec<u16>) -> (String, Seen) {
    let rx = Receiver {
        seen: Arc::default(),
        script: Arc::new(Mutex::new(script)),
    };
    let app = Router::new()
        .route(
            "/flaky",
            post(
                |State(rx): State<Receiver>, h: HeaderMap, body: String| async move {
                    record(&rx, "/flaky", h, body).await;
                    let mut s = rx.script.lock().unwrap();
                    let code = if s.is_empty() { 200 } else { s.remove(0) };
                    (StatusCode::from_u16(code).unwrap(), "receiver says so")
                },
            ),
        )
        .route(
            "/bad",
            post(
                |State(rx): State<Receiver>, h: HeaderMap, body: String| async move {
                    record(&rx, "/bad", h, body).await;
                    (StatusCode::BAD_REQUEST, "missing field 'to'")
                },
            ),
        )
        .route(
            "/slow",
            post(
                |State(rx): State<Receiver>, h: HeaderMap, body: String| async move {
                    record(&rx, "/slow", h, body).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    StatusCode::OK
                },
            ),
        )
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx.seen)
}

fn channel(site_toml: &str) -> WebhookChannel {
    let cfg = channel_config(site_toml, "hook");
    let ChannelKind::Webhook(w) = &cfg.kind else {
        panic!("not a webhook")
    };
    WebhookChannel::new("hook", w, cfg.timeout).expect("build the webhook channel")
}

#[tokio::test]
async fn five_hundred_twice_then_ok_is_transient_transient_ok() {
    let (base, seen) = start_receiver(vec![500, 500]).await;
    let ch = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"{base}/flaky\"\ntimeout = \"5s\"\n"
    ));
    let msg = message(900, 42, "opened", "open");
    let first = ch.deliver(&msg).await;
    assert!(
        matches!(&first, Err(DeliveryError::Transient(why)) if why.contains("500") && why.contains("receiver says so")),
        "{first:?}"
    );
    assert!(matches!(
        ch.deliver(&msg).await,
        Err(DeliveryError::Transient(_))
    ));
    assert_eq!(ch.deliver(&msg).await, Ok(()));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let (_, headers, body) = &seen[2];
    assert_eq!(body, &msg.json, "the body is the payload JSON verbatim");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-patrol-event-id"], "900");
}

#[tokio::test]
async fn too_many_requests_is_transient_and_bad_request_permanent() {
    let (base, _seen) = start_receiver(vec![429]).await;
    let flaky = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"{base}/flaky\"\n"
    ));
    let msg = message(901, 42, "opened", "open");
    assert!(matches!(
        flaky.deliver(&msg).await,
        Err(DeliveryError::Transient(_))
    ));
    let bad = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"{base}/bad\"\n"
    ));
    let r = bad.deliver(&msg).await;
    assert!(
        matches!(&r, Err(DeliveryError::Permanent(why)) if why.contains("400") && why.contains("missing field 'to'")),
        "{r:?}"
    );
}

#[tokio::test]
async fn unreachable_and_slow_receivers_are_transient() {
    let port = notify_support::free_port(); // nothing listens there
    let refused = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/x\"\n"
    ));
    let r = refused.deliver(&message(902, 1, "opened", "open")).await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("failed")),
        "{r:?}"
    );
    let (base, _seen) = start_receiver(vec![]).await;
    let slow = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"{base}/slow\"\ntimeout = \"300ms\"\n"
    ));
    let r = slow.deliver(&message(903, 1, "opened", "open")).await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("timed out")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_template_feeds_an_sms_gateway_with_a_token_from_a_file() {
    let (base, seen) = start_receiver(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    notify_support::write_secret(&token, "tok-123\n");
    let ch = channel(&format!(
        r#"[channel.hook]
kind = "webhook"
url = "{base}/flaky"
token_file = "{}"
content_type = "application/json"
headers = {{ "X-Gateway-Account" = "noc" }}
body_template = '''{{"to": "+8613800000000", "text": {{{{ subject|tojson }}}}, "ref": "patrol-{{{{ event_id }}}}"}}'''
"#,
        token.display()
    ));
    let msg = message(904, 42, "opened", "open");
    assert_eq!(ch.deliver(&msg).await, Ok(()));
    let seen = seen.lock().unwrap();
    let (_, headers, body) = &seen[0];
    assert_eq!(
        body,
        r#"{"to": "+8613800000000", "text": "[P1] OPENED #42 db1: tablespace USERS 93% on db1/ORCL (limit 90%)", "ref": "patrol-904"}"#
    );
    assert_eq!(headers["authorization"], "Bearer tok-123");
    assert_eq!(headers["x-gateway-account"], "noc");
    assert_eq!(headers["x-patrol-event-id"], "904");
}

#[test]
fn a_missing_secret_stops_only_its_channel_with_an_error_naming_it() {
    let cfg = channel_config(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\ntoken_file = \"/nonexistent/token\"\n",
        "hook",
    );
    let err = patrol_notify::build(&cfg).err().expect("must fail");
    let text = err.to_string();
    assert!(
        text.starts_with("channel 'hook': cannot read secret file /nonexistent/token"),
        "{text}"
    );
}

#[tokio::test]
async fn probe_connects_without_posting_and_rejected_tokens_wait() {
    let (base, seen) = start_receiver(vec![401]).await;
    let ch = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"{base}/flaky\"\n"
    ));
    assert_eq!(ch.probe().await, Ok(()));
    assert!(seen.lock().unwrap().is_empty(), "probe must not POST");
    // A rejected token is the channel's configuration: transient, the event waits.
    let r = ch.deliver(&message(905, 42, "opened", "open")).await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("401")),
        "{r:?}"
    );

    let port = notify_support::free_port();
    let down = channel(&format!(
        "[channel.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/x\"\n"
    ));
    let r = down.probe().await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains(&format!("127.0.0.1:{port}"))),
        "{r:?}"
    );
}

#[tokio::test]
async fn https_with_a_private_ca_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, cert_file, key_file) = notify_support::private_ca(dir.path());
    let log = dir.path().join("received.jsonl");
    let port = notify_support::free_port();
    let _rx =
        notify_support::https_receiver(port, (&cert_file, &key_file), ("patrol", "s3cret"), &log);
    let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
    notify_support::write_secret(&wrong, "guess\n");
    notify_support::write_secret(&right, "s3cret\n");
    let site = |ca: bool, pw: &Path| {
        let ca = if ca {
            format!("ca_file = \"{}\"\n", ca_file.display())
        } else {
            String::new()
        };
        format!(
            "[channel.hook]\nkind = \"webhook\"\nurl = \"https://127.0.0.1:{port}/sms\"\n{ca}username = \"patrol\"\npassword_file = \"{}\"\ntimeout = \"5s\"\n",
            pw.display()
        )
    };
    let received = || std::fs::read_to_string(&log).unwrap_or_default();

    // A certificate from a CA nobody configured is not trusted: transient, nothing posted.
    let untrusted = channel(&site(false, &right));
    let r = untrusted.deliver(&message(910, 50, "opened", "open")).await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
    // Refused credentials are the channel's configuration: transient, the event waits.
    let refused = channel(&site(true, &wrong));
    let r = refused.deliver(&message(911, 50, "opened", "open")).await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("401") && why.contains("who are you?")),
        "{r:?}"
    );
    assert_eq!(received(), "");

    let trusted = channel(&site(true, &right));
    assert_eq!(trusted.probe().await, Ok(()));
    let msg = message(912, 50, "opened", "open");
    assert_eq!(trusted.deliver(&msg).await, Ok(()));
    let lines: Vec<serde_json::Value> = received()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], "/sms");
    assert_eq!(lines[0]["event_id"], "912");
    assert_eq!(lines[0]["body"], msg.json.as_str());
}
