//! The e-mail channel against a real SMTP server (Debian's python3-aiosmtpd, storing each
//! message in a maildir): the message as received — headers, readable body, deadlines, how to
//! acknowledge — plain, over STARTTLS and over implicit TLS (SMTPS) with a private CA.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod notify_support;

use std::path::Path;

use notify_support::{SmtpTls, aiosmtpd, channel_config, message};
use patrol_notify::email::{Attachment, Document, EmailChannel};
use patrol_notify::{Channel, ChannelKind, DeliveryError};

fn channel(site_toml: &str) -> EmailChannel {
    let cfg = channel_config(site_toml, "mail");
    let ChannelKind::Email(e) = &cfg.kind else {
        panic!("not email")
    };
    EmailChannel::new("mail", e, cfg.timeout).expect("build the e-mail channel")
}

/// The messages in `maildir`/new, as text.
fn received(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// The value of header `name` in `mail` (unfolded).
fn header(mail: &str, name: &str) -> String {
    let head = mail
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace("\r\n", "\n");
    let mut value = None::<String>;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value.unwrap_or_else(|| panic!("no {name} header in:\n{mail}"))
}

fn body(mail: &str) -> String {
    let mail = mail.replace("\r\n", "\n");
    mail.split_once("\n\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_server_receives_a_readable_plain_text_mail() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = notify_support::free_port();
    let _smtp = aiosmtpd(&maildir, port, SmtpTls::None);
    let ch = channel(&format!(
        "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"Patrol <patrol@example.test>\"\nto = [\"noc@example.test\", \"Li Na <lina@example.test>\"]\n"
    ));
    let msg = message(1201, 42, "opened", "open");
    assert_eq!(ch.deliver(&msg).await, Ok(()));

    let mails = received(&maildir);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(
        header(mail, "Subject"),
        "[P1] OPENED #42 db1: tablespace USERS 93% on db1/ORCL (limit 90%)"
    );
    assert_eq!(header(mail, "From"), "Patrol <patrol@example.test>");
    assert_eq!(
        header(mail, "To"),
        "noc@example.test, \"Li Na\" <lina@example.test>"
    );
    assert_eq!(
        header(mail, "Message-ID"),
        "<patrol.event.1201.incident.42@hq>"
    );
    assert!(header(mail, "Content-Type").starts_with("text/plain"));
    let text = body(mail);
    for want in [
        "Incident #42 OPENED (P1, now open)",
        "Summary:  tablespace USERS 93% on db1/ORCL (limit 90%)",
        "respond by   2026-11-18T11:16:40Z  (in 10m)",
        "resolve by   2026-11-18T15:06:40Z  (in 4h)",
        "Note:     sample note",
        "patrolctl incidents ack 42 --by NAME",
        "Event 1201",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// A document (an inspection sheet) arrives as one mail: its text, and its page as an
/// attachment that decodes back to the bytes sent; the Message-ID is the document's.
#[tokio::test]
async fn a_document_arrives_with_its_page_attached() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = notify_support::free_port();
    let _smtp = aiosmtpd(&maildir, port, SmtpTls::None);
    let ch = channel(&format!(
        "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"Patrol <patrol@example.test>\"\nto = [\"noc@example.test\"]\n"
    ));
    let page = "<!DOCTYPE html>\n<html lang=\"zh-CN\"><body><h1>巡检记录表</h1></body></html>\n";
    let doc = Document {
        subject: "Inspection sheet: HQ daily 9 Oct 2026 16:00".to_owned(),
        text: "Inspection sheet #7\n\nTo sign it off:\n  patrolctl report sign 7 --by NAME\n"
            .to_owned(),
        attachment: Some(Attachment {
            filename: "inspection-2026-10-09-1600-daily.html".to_owned(),
            content_type: "text/html; charset=utf-8".to_owned(),
            body: page.as_bytes().to_vec(),
        }),
        id: "sheet.7.1791532800000".to_owned(),
        domain: "hq".to_owned(),
    };
    assert_eq!(ch.deliver_document(&doc).await, Ok(()));

    let mails = received(&maildir);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(header(mail, "Subject"), doc.subject);
    assert_eq!(
        header(mail, "Message-ID"),
        "<patrol.sheet.7.1791532800000@hq>"
    );
    assert!(header(mail, "Content-Type").starts_with("multipart/mixed"));
    let flat = mail.replace("\r\n", "\n");
    assert!(flat.contains("patrolctl report sign 7 --by NAME"), "{flat}");
    // lettre folds the parameter RFC 2231-style (`filename*0="..."`); clients join it.
    assert!(
        flat.contains("attachment;") && flat.contains("\"inspection-2026-10-09-1600-daily.html\""),
        "{flat}"
    );
    // The attachment is base64 (it is not ASCII): decoded, it is the page as sent.
    let part = flat
        .split("\"inspection-2026-10-09-1600-daily.html\"")
        .nth(1)
        .unwrap();
    let encoded: String = part
        .split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect();
    assert_eq!(base64_decode(&encoded), page.as_bytes());
}

/// Standard base64 (RFC 4648), padding optional.
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .map(value)
        .collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n =
            chunk.iter().fold(0u32, |acc, d| acc << 6 | u32::from(*d)) << (6 * (4 - chunk.len()));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[tokio::test]
async fn templates_shape_subject_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = notify_support::free_port();
    let _smtp = aiosmtpd(&maildir, port, SmtpTls::None);
    let ch = channel(&format!(
        "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"patrol@example.test\"\nto = [\"noc@example.test\"]\nsubject_template = \"{{{{ level }}}} {{{{ host }}}} {{{{ kind }}}}\"\nbody_template = '''Rule {{{{ rule }}}} on {{{{ labels.db }}}}\n{{{{ text }}}}'''\n"
    ));
    assert_eq!(
        ch.deliver(&message(1202, 43, "escalated", "open")).await,
        Ok(())
    );
    let mails = received(&maildir);
    assert_eq!(header(&mails[0], "Subject"), "P1 db1 escalated");
    let text = body(&mails[0]);
    assert!(
        text.starts_with("Rule tablespace_high on ORCL\nIncident #43 ESCALATED"),
        "{text}"
    );
}

#[tokio::test]
async fn starttls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let (ca_file, cert_file, key_file) = notify_support::private_ca(dir.path());

    let port = notify_support::free_port();
    let _smtp = aiosmtpd(&maildir, port, SmtpTls::StartTls(&cert_file, &key_file));
    let site = |ca: &str| {
        format!(
            "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"starttls\"\n{ca}from = \"patrol@example.test\"\nto = [\"noc@example.test\"]\n"
        )
    };
    // Without the CA the server's certificate is not trusted: no mail, a transient error.
    let untrusted = channel(&site(""));
    let r = untrusted
        .deliver(&message(1203, 44, "opened", "open"))
        .await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
    assert!(received(&maildir).is_empty());

    let trusted = channel(&site(&format!("ca_file = \"{}\"\n", ca_file.display())));
    assert_eq!(
        trusted.deliver(&message(1204, 44, "opened", "open")).await,
        Ok(())
    );
    let mails = received(&maildir);
    assert_eq!(mails.len(), 1);
    assert_eq!(
        header(&mails[0], "Message-ID"),
        "<patrol.event.1204.incident.44@hq>"
    );
}

#[tokio::test]
async fn implicit_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let (ca_file, cert_file, key_file) = notify_support::private_ca(dir.path());

    let port = notify_support::free_port();
    let _smtp = aiosmtpd(&maildir, port, SmtpTls::Implicit(&cert_file, &key_file));
    let site = |tls: &str| {
        format!(
            "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\nca_file = \"{}\"\nfrom = \"patrol@example.test\"\nto = [\"noc@example.test\"]\ntimeout = \"5s\"\n",
            ca_file.display()
        )
    };
    // Speaking plain SMTP to a TLS port gets no greeting: after the channel's timeout, a
    // transient failure that points at the setting, and no mail.
    let plain = channel(&site("none").replace("5s", "1s"));
    let r = plain.deliver(&message(1206, 47, "opened", "open")).await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("did not answer within 1s") && why.contains("`tls`")),
        "{r:?}"
    );

    let smtps = channel(&site("tls"));
    assert_eq!(smtps.probe().await, Ok(()));
    assert_eq!(
        smtps.deliver(&message(1207, 47, "opened", "open")).await,
        Ok(())
    );
    let mails = received(&maildir);
    assert_eq!(mails.len(), 1);
    assert_eq!(
        header(&mails[0], "Message-ID"),
        "<patrol.event.1207.incident.47@hq>"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let port = notify_support::free_port();
    let ch = channel(&format!(
        "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"patrol@example.test\"\nto = [\"noc@example.test\"]\ntimeout = \"2s\"\n"
    ));
    let r = ch.deliver(&message(1205, 45, "opened", "open")).await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
}

#[tokio::test]
async fn smtp_auth_with_a_password_file_and_refused_credentials_wait() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = notify_support::free_port();
    let _smtp = notify_support::aiosmtpd_auth(&maildir, port, "patrol", "s3cret");
    let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
    notify_support::write_secret(&wrong, "guess\n");
    notify_support::write_secret(&right, "s3cret\n");
    let site = |pw: &Path| {
        format!(
            "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"patrol\"\npassword_file = \"{}\"\nfrom = \"patrol@example.test\"\nto = [\"noc@example.test\"]\n",
            pw.display()
        )
    };
    // Refused credentials: named at start-up by probe(), and transient, so events wait.
    let refused = channel(&site(&wrong));
    let r = refused.probe().await;
    assert!(
        matches!(&r, Err(DeliveryError::Transient(why)) if why.contains("check username and password")),
        "{r:?}"
    );
    let r = refused.deliver(&message(1301, 46, "opened", "open")).await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
    assert!(received(&maildir).is_empty());

    let accepted = channel(&site(&right));
    assert_eq!(accepted.probe().await, Ok(()));
    assert_eq!(
        accepted.deliver(&message(1302, 46, "opened", "open")).await,
        Ok(())
    );
    assert_eq!(received(&maildir).len(), 1);
}

#[tokio::test]
async fn probe_names_an_unreachable_server() {
    let port = notify_support::free_port();
    let ch = channel(&format!(
        "[channel.mail]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"patrol@example.test\"\nto = [\"noc@example.test\"]\ntimeout = \"2s\"\n"
    ));
    let r = ch.probe().await;
    assert!(matches!(r, Err(DeliveryError::Transient(_))), "{r:?}");
}
