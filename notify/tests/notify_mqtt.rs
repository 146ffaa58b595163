//! The MQTT channel against a real mosquitto: topics and payload as documented, the retained
//! open-state topic, and `deliver` returning Ok only once the broker acknowledged (PUBACK).

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod notify_support;

use std::time::Duration;

use notify_support::{Subscriber, channel_config, message, mosquitto, mosquitto_sub};
use patrol_notify::{Channel, ChannelKind, DeliveryError, mqtt::MqttChannel};

fn channel(port: u16, timeout: &str) -> MqttChannel {
    channel_from(
        port,
        &format!("timeout = \"{timeout}\"\nkeep_alive = \"5s\"\n"),
    )
}

/// Delivers until Ok (the connection comes up in the background), at most `tries` times.
async fn deliver_eventually(ch: &MqttChannel, msg: &patrol_notify::Message, tries: u32) {
    let mut last = None;
    for _ in 0..tries {
        match ch.deliver(msg).await {
            Ok(()) => return,
            Err(e) => {
                assert!(e.is_transient(), "{e}");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("not delivered after {tries} tries: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_subscribers_and_open_state_is_retained_until_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let port = notify_support::free_port();
    let _broker = mosquitto(dir.path(), port);
    let ch = channel(port, "5s");

    let live = Subscriber::start(port, "patrol/hq/#", 4, 30);

    let opened = message(501, 42, "opened", "open");
    deliver_eventually(&ch, &opened, 50).await;

    // A dashboard connecting now still sees the open incident (retained).
    let late = mosquitto_sub(port, "patrol/hq/open/#", 1, 10);
    assert_eq!(late.len(), 1, "late subscriber saw {late:?}");
    assert_eq!(late[0].0, "patrol/hq/open/42");
    let state: serde_json::Value = serde_json::from_str(&late[0].1).unwrap();
    assert_eq!(state["event_id"], 501);
    assert_eq!(state["state"], "open");

    let resolved = message(502, 42, "resolved", "resolved");
    ch.deliver(&resolved).await.expect("resolved delivered");

    let seen = live.collect();
    let topics: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "patrol/hq/incidents/P1/db1",
            "patrol/hq/open/42",
            "patrol/hq/incidents/P1/db1",
            "patrol/hq/open/42",
        ],
        "{seen:#?}"
    );
    assert_eq!(
        seen[0].1, opened.json,
        "the event topic carries the payload verbatim"
    );
    let payload: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(payload["schema"], "patrol.notify.v1");
    assert_eq!(payload["incident_id"], 42);
    assert_eq!(payload["kind"], "opened");
    assert_eq!(payload["deadlines"]["respond"]["ms"], 1_795_000_600_000_i64);
    assert_eq!(seen[2].1, resolved.json);
    assert_eq!(seen[3].1, "", "resolving clears the retained open state");

    // Cleared: a dashboard connecting now sees nothing open.
    let late = mosquitto_sub(port, "patrol/hq/open/#", 1, 2);
    assert!(late.is_empty(), "still retained: {late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_is_ok_only_after_puback() {
    let dir = tempfile::tempdir().unwrap();
    let port = notify_support::free_port();
    let mut broker = mosquitto(dir.path(), port);
    let ch = channel(port, "2s");
    deliver_eventually(&ch, &message(601, 7, "opened", "open"), 50).await;

    // A frozen broker keeps the TCP connection but never answers: publish() succeeds, no
    // PUBACK comes, and deliver must not claim success.
    broker.signal("-STOP");
    let r = ch
        .deliver(&message(602, 7, "acknowledged", "acknowledged"))
        .await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("PUBACK")),
        "{r:?}"
    );
    broker.signal("-CONT");

    // A stopped broker: refused connections, every try transient.
    broker.stop();
    for id in 603..606 {
        let r = ch
            .deliver(&message(id, 7, "commented", "acknowledged"))
            .await;
        assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
    }

    // Restarted on the same port: the channel reconnects by itself and the event goes through.
    let _broker = mosquitto(dir.path(), port);
    let sub = Subscriber::start(port, "patrol/hq/incidents/#", 1, 30);
    let again = message(606, 7, "resolved", "resolved");
    deliver_eventually(&ch, &again, 100).await;
    let seen = sub.collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1, again.json);
    assert!(ch.status().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_deliveries_are_each_matched_to_their_own_puback() {
    let dir = tempfile::tempdir().unwrap();
    let port = notify_support::free_port();
    let _broker = mosquitto(dir.path(), port);
    let ch = std::sync::Arc::new(channel(port, "10s"));
    deliver_eventually(&ch, &message(700, 1, "opened", "open"), 50).await;
    let sub = Subscriber::start(port, "patrol/hq/incidents/#", 200, 60);
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let ch = std::sync::Arc::clone(&ch);
            tokio::spawn(async move {
                ch.deliver(&message(1000 + i, 100 + i, "opened", "open"))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("delivered");
    }
    let seen = sub.collect();
    let mut ids: Vec<u64> = seen
        .iter()
        .map(|(_, p)| {
            serde_json::from_str::<serde_json::Value>(p).unwrap()["event_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1000..1200).collect::<Vec<_>>());
}

/// A channel from a site-file fragment (host and port are added; timeout 10 s unless given).
fn channel_from(port: u16, extra: &str) -> MqttChannel {
    let site = format!(
        "[notify]\nsite = \"hq\"\n\n[channel.noc]\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {port}\n{extra}"
    );
    let cfg = channel_config(&site, "noc");
    let ChannelKind::Mqtt(m) = &cfg.kind else {
        panic!("not mqtt")
    };
    MqttChannel::start("noc", m, cfg.timeout).expect("start the MQTT channel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_named_and_good_ones_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let made = std::process::Command::new(notify_support::tool(
        &["/usr/bin/mosquitto_passwd"],
        "mosquitto",
    ))
    .args(["-c", "-b"])
    .arg(&passwords)
    .args(["patrol", "right-password"])
    .status()
    .unwrap();
    assert!(made.success(), "mosquitto_passwd failed");
    let port = notify_support::free_port();
    let _broker = notify_support::mosquitto_with(
        dir.path(),
        port,
        &format!(
            "allow_anonymous false\npassword_file {}\n",
            passwords.display()
        ),
    );
    let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
    notify_support::write_secret(&wrong, "not-it\n");
    notify_support::write_secret(&right, "right-password\n");

    let refused = channel_from(
        port,
        &format!(
            "username = \"patrol\"\npassword_file = \"{}\"\n",
            wrong.display()
        ),
    );
    let r = refused.probe().await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("check username and password")),
        "{r:?}"
    );
    let r = refused.deliver(&message(801, 9, "opened", "open")).await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
    let status = refused.status();
    assert!(!status.connected);
    let why = status.last_error.unwrap_or_default();
    assert!(why.contains("check username and password"), "{why}");

    let accepted = channel_from(
        port,
        &format!(
            "username = \"patrol\"\npassword_file = \"{}\"\n",
            right.display()
        ),
    );
    assert_eq!(accepted.probe().await, Ok(()));
    deliver_eventually(&accepted, &message(802, 9, "opened", "open"), 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_file, cert_file, key_file) = notify_support::private_ca(dir.path());
    let port = notify_support::free_port();
    let _broker = notify_support::mosquitto_with(
        dir.path(),
        port,
        &format!(
            "allow_anonymous true\ncertfile {}\nkeyfile {}\n",
            cert_file.display(),
            key_file.display()
        ),
    );

    // Without the private CA the broker is not trusted.
    let untrusted = channel_from(port, "tls = \"tls\"\n");
    let r = untrusted.deliver(&message(851, 3, "opened", "open")).await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");

    let trusted = channel_from(
        port,
        &format!("tls = \"tls\"\nca_file = \"{}\"\n", ca_file.display()),
    );
    let sub_check = message(852, 3, "opened", "open");
    deliver_eventually(&trusted, &sub_check, 50).await;
    assert!(trusted.status().connected);
}
