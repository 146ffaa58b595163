#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use super::*;
use crate::{Site, parse_site};

const EXAMPLE: &str = include_str!("../../../../packaging/examples/site.toml");

fn errors(src: &str) -> Vec<String> {
    parse_site("site.toml", src)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn site(src: &str) -> Site {
    match parse_site("site.toml", src) {
        Ok(s) => s,
        Err(e) => panic!("{e:#?}"),
    }
}

#[test]
fn the_example_defines_the_channels_its_targets_use() {
    let s = site(EXAMPLE);
    assert_eq!(s.notify.site, "hq");
    let names: Vec<&str> = s.notify.channels.keys().map(String::as_str).collect();
    assert_eq!(names, ["email", "noc-mqtt", "phone", "sms"]);
    let ChannelKind::Mqtt(m) = &s.notify.channels["noc-mqtt"].kind else {
        panic!("noc-mqtt is not mqtt");
    };
    assert_eq!(m.topic_prefix, "patrol/hq");
    assert_eq!(m.client_id, "patrol-hq-noc-mqtt");
    assert_eq!(
        m.credentials.as_ref().map(|c| &c.password),
        Some(&SecretSource::File(
            "/etc/patrol/secrets/mqtt-password".into()
        ))
    );
    let sms = &s.notify.channels["sms"];
    assert_eq!(sms.retry.initial, Duration::from_secs(2));
    assert_eq!(sms.timeout, Duration::from_secs(5));
    let ChannelKind::Webhook(w) = &sms.kind else {
        panic!("sms is not a webhook");
    };
    assert!(w.templates.has("body"));
    assert_eq!(w.content_type, "application/json");
    let ChannelKind::Email(e) = &s.notify.channels["email"].kind else {
        panic!("email is not email");
    };
    assert_eq!((e.security, e.port), (SmtpSecurity::StartTls, 587));
    assert_eq!(e.to, ["noc@example.internal"]);
}

#[test]
fn a_target_naming_an_undefined_channel_is_an_error_at_its_position() {
    let src = "[target.duty]\nmembers = [\"a\"]\nchannels = [\"noc-mqtt\", \"pager\"]\n\n[channel.noc-mqtt]\nkind = \"mqtt\"\nhost = \"localhost\"\n";
    assert_eq!(
        errors(src),
        [
            "site.toml:3:25: target 'duty' uses channel 'pager', which is not defined (add a [channel.pager] table)"
        ]
    );
}

#[test]
fn a_template_that_does_not_render_is_refused_with_both_positions() {
    let src = r#"
[channel.sms]
kind = "webhook"
url = "http://127.0.0.1:9/send"
body_template = """
{"to": "duty",
 "text": "{{ incident.summary }}"}"""
"#;
    assert_eq!(
        errors(src),
        [
            "site.toml:5:17: channel 'sms': 'body_template' does not render against a sample event (line 2 of the template): undefined value: `incident` is undefined"
        ]
    );
    let src = "[channel.mail]\nkind = \"email\"\nhost = \"h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nsubject_template = \"{{ level|yell }}\"\n";
    let errs = errors(src);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("site.toml:6:20: channel 'mail': 'subject_template' does not render against a sample event (line 1 of the template): unknown filter"),
        "{errs:?}"
    );
}

#[test]
fn unknown_and_misplaced_keys_are_refused() {
    // An inline password is not a key at all: secrets come from files or the environment.
    let errs = errors("[channel.m]\nkind = \"mqtt\"\nhost = \"h\"\npassword = \"hunter2\"\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("site.toml:4:1: unknown field `password`"),
        "{errs:?}"
    );
    assert_eq!(
        errors(
            "[channel.m]\nkind = \"mqtt\"\nhost = \"h\"\nurl = \"http://x\"\nto = [\"a@b.c\"]\n"
        ),
        [
            "site.toml:4:7: channel 'm': 'url' does not apply to a mqtt channel",
            "site.toml:5:6: channel 'm': 'to' does not apply to a mqtt channel",
        ]
    );
    assert_eq!(
        errors("[channel.m]\nkind = \"pigeon\"\n"),
        ["site.toml:2:8: channel 'm': unknown kind 'pigeon': expected mqtt, webhook or email"]
    );
}

#[test]
fn missing_and_invalid_settings_are_named() {
    let errs = errors(
        "[channel.w]\nkind = \"webhook\"\nurl = \"ftp://x/y\"\ntimeout = \"soon\"\n\n[channel.e]\nkind = \"email\"\nhost = \"h\"\nfrom = \"not an address\"\ntls = \"ssl\"\n",
    );
    assert_eq!(
        errs,
        [
            "site.toml:3:7: channel 'w': 'url' must be http:// or https://, not ftp://",
            "site.toml:4:11: channel 'w': invalid duration 'soon' for 'timeout': expected number at 0 (write e.g. \"10s\", \"1m 30s\")",
            "site.toml:6:1: channel 'e': 'to' is missing",
            "site.toml:9:8: channel 'e': 'from' is not a mail address: 'not an address'",
            "site.toml:10:7: channel 'e': unknown tls mode 'ssl': expected none, starttls, tls",
        ],
        "{errs:#?}"
    );
    let errs = errors("[channel.e]\nkind = \"email\"\nhost = \"h\"\nfrom = \"x\"\n");
    assert!(
        errs.contains(&"site.toml:4:8: channel 'e': 'from' is not a mail address: 'x'".to_owned()),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.ends_with("channel 'e': 'to' is missing")),
        "{errs:#?}"
    );
}

#[test]
fn credentials_need_both_halves_from_one_source() {
    assert_eq!(
        errors("[channel.m]\nkind = \"mqtt\"\nhost = \"h\"\nusername = \"u\"\n"),
        [
            "site.toml:4:12: channel 'm': 'username' needs a password: set 'password_file' or 'password_env' (passwords are never written inline)"
        ]
    );
    assert_eq!(
        errors(
            "[channel.m]\nkind = \"mqtt\"\nhost = \"h\"\nusername = \"u\"\npassword_file = \"/p\"\npassword_env = \"P\"\n"
        ),
        ["site.toml:6:16: channel 'm': give either 'password_file' or 'password_env', not both"]
    );
}

#[test]
fn retry_settings_are_checked() {
    let s = site(
        "[channel.w]\nkind = \"webhook\"\nurl = \"http://x/\"\nretry = { initial = \"500ms\", max = \"1m\", factor = 3.0, jitter = 0.0 }\n",
    );
    let r = s.notify.channels["w"].retry;
    assert_eq!(r.delay(3), Duration::from_millis(4500));
    assert_eq!(
        errors("[channel.w]\nkind = \"webhook\"\nurl = \"http://x/\"\nretry = { factor = 0.5 }\n"),
        ["site.toml:4:9: channel 'w': retry 'factor' must be 1 or more (got 0.5)"]
    );
}

#[test]
fn max_backlog_defaults_and_is_checked() {
    let s = site("[channel.w]\nkind = \"webhook\"\nurl = \"http://x/\"\nmax_backlog = 500\n");
    assert_eq!(s.notify.channels["w"].max_backlog, 500);
    let s = site("[channel.w]\nkind = \"webhook\"\nurl = \"http://x/\"\n");
    assert_eq!(s.notify.channels["w"].max_backlog, DEFAULT_MAX_BACKLOG);
    assert_eq!(
        errors("[channel.w]\nkind = \"webhook\"\nurl = \"http://x/\"\nmax_backlog = 0\n"),
        [
            "site.toml:4:15: channel 'w': max_backlog must be a positive number of notifications, not 0"
        ]
    );
}
