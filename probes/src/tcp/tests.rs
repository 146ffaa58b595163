//! The tcp probe against real listeners started by the tests, plain and TLS.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};
use crate::tls_peer::test_pki::pki;

/// A tiny SMTP-like server: a banner, then `PONG` for `PING`, then it closes on `QUIT`.
async fn serve_banner() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let _ = write.write_all(b"220 mail.test ESMTP ready\r\n").await;
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = match line.trim() {
                        "PING" => b"+PONG\r\n",
                        "QUIT" => return,
                        _ => b"500 what?\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    addr
}

/// Accepts and never says anything.
async fn serve_silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

async fn check(section: &str) -> Vec<Sample> {
    let config = match parse_section(section).unwrap() {
        crate::ProbeConfig::Tcp(c) => c,
        other => panic!("not tcp: {other:?}"),
    };
    let mut probe = TcpProbe::new(&config).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms }, &mut out)
        .await
        .unwrap();
    assert_cataloged(&out);
    out
}

fn value(out: &[Sample], name: &str) -> Option<f64> {
    out.iter().find(|s| s.name == name).map(|s| s.value)
}

#[tokio::test]
async fn banner_and_send_expect() {
    let addr = serve_banner().await;
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{addr}\"\nname = \"smtp\"\nexpect = '^220 '\n"
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(1.0));
    assert!(value(&out, "tcp_connect_ms").unwrap() >= 0.0);
    assert!(value(&out, "tcp_duration_ms").unwrap() >= value(&out, "tcp_connect_ms").unwrap());
    assert!(out.iter().all(|s| s.labels.get("target") == Some("smtp")));

    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{addr}\"\nsend = \"PING\\r\\n\"\nexpect = 'PONG'\n"
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(1.0));

    // The peer closes without the expected reply.
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{addr}\"\nsend = \"QUIT\\r\\n\"\nexpect = 'PONG'\n"
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(0.0));
}

#[tokio::test]
async fn refused_and_silent_peers_are_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = check(&format!("type = \"tcp\"\ntarget = \"{closed}\"\n")).await;
    assert_eq!(value(&out, "tcp_up"), Some(0.0));
    assert_eq!(value(&out, "tcp_connect_ms"), None, "never connected");

    let silent = serve_silent().await;
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{silent}\"\nexpect = 'hello'\ntimeout = \"300ms\"\n"
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(0.0));
    assert!(
        value(&out, "tcp_connect_ms").is_some(),
        "connected, then waited"
    );
    // A plain connect needs no reply.
    let out = check(&format!("type = \"tcp\"\ntarget = \"{silent}\"\n")).await;
    assert_eq!(value(&out, "tcp_up"), Some(1.0));
}

/// A TLS server that greets, like an LDAPS or SMTPS port.
async fn serve_tls_banner(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"* OK secure service ready\r\n").await;
                    let _ = tls.flush().await;
                    let mut buf = [0u8; 64];
                    let _ = tls.read(&mut buf).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tls_with_certificate_expiry() {
    let pki = pki(10);
    let addr = serve_tls_banner(pki.server.clone()).await;
    let target = format!("localhost:{}", addr.port());
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{target}\"\ntls = true\nexpect = 'OK secure'\nca_file = {:?}\n",
        pki.ca_file.display().to_string()
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(1.0), "{out:#?}");
    let days = value(&out, "tls_cert_expiry_days").unwrap();
    assert!((9.9..10.1).contains(&days), "{days}");

    // Untrusted: down, expiry still known.
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{target}\"\ntls = true\n"
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(0.0));
    assert!(value(&out, "tls_cert_expiry_days").is_some());

    // A name the certificate does not carry.
    let out = check(&format!(
        "type = \"tcp\"\ntarget = \"{target}\"\ntls = true\nserver_name = \"db.example\"\nca_file = {:?}\n",
        pki.ca_file.display().to_string()
    ))
    .await;
    assert_eq!(value(&out, "tcp_up"), Some(0.0));
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_configs_are_named() {
    let err = match parse_section(
        "type = \"tcp\"\ntarget = \"nohost\"\nexpect = '('\nca_file = \"/x\"\ntimeout = \"1m\"\n",
    )
    .unwrap()
    {
        crate::ProbeConfig::Tcp(c) => TcpProbe::new(&c).unwrap_err().to_string(),
        _ => unreachable!(),
    };
    for part in [
        "target: 'nohost'",
        "expect:",
        "only with tls = true",
        "timeout:",
    ] {
        assert!(err.contains(part), "{part} missing from {err}");
    }
    assert_eq!(split_target("[::1]:443"), Some(("::1", 443)));
    assert_eq!(split_target("db01:1521"), Some(("db01", 1521)));
    assert_eq!(split_target("db01:0"), None);
}
