//! The http probe against real servers started by the tests: axum over plain HTTP, and over
//! TLS (tokio-rustls, certificates from a CA generated with rcgen), with a login form whose
//! session lives in a cookie.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

/// The business system: a login form, a form post that opens a session, a page behind it.
fn app() -> Router {
    async fn login_form() -> impl IntoResponse {
        (
            [(header::SET_COOKIE, "JSESSIONID=anonymous; Path=/")],
            Html(
                "<form method=post action=/j_security_check><input name=j_username><input type=password name=j_password></form>",
            ),
        )
    }
    async fn check(headers: HeaderMap, body: String) -> axum::response::Response {
        let had_form_cookie = headers
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.contains("JSESSIONID=anonymous"));
        if had_form_cookie
            && body.contains("j_username=ops")
            && body.contains("j_password=s3cr%26t")
        {
            (
                [(header::SET_COOKIE, "JSESSIONID=ops-session; Path=/")],
                Redirect::to("/home"),
            )
                .into_response()
        } else {
            (StatusCode::UNAUTHORIZED, Html("<p>Login failed</p>")).into_response()
        }
    }
    async fn home(headers: HeaderMap) -> axum::response::Response {
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .unwrap_or("");
        if cookie.contains("JSESSIONID=ops-session") {
            Html("<h1>Welcome ops</h1>").into_response()
        } else {
            Redirect::to("/login").into_response()
        }
    }
    Router::new()
        .route("/ok", get(|| async { "hello Patrol" }))
        .route("/redirect", get(|| async { Redirect::to("/ok") }))
        .route("/loop", get(|| async { Redirect::to("/loop") }))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "gone") }),
        )
        .route(
            "/error-page",
            get(|| async { "ORA-12541: TNS:no listener" }),
        )
        .route("/hang", get(std::future::pending::<&'static str>))
        .route("/login", get(login_form))
        .route("/j_security_check", post(check))
        .route("/home", get(home))
}

async fn serve_plain() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    addr
}

use crate::tls_peer::test_pki::pki;

async fn serve_tls(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses our certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app());
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn check(section: &str) -> Vec<Sample> {
    let config = match parse_section(section).unwrap() {
        crate::ProbeConfig::Http(c) => c,
        other => panic!("not http: {other:?}"),
    };
    let mut probe = HttpProbe::new(&config).unwrap();
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: now_ms() }, &mut out)
        .await
        .unwrap();
    assert_cataloged(&out);
    out
}

fn value(out: &[Sample], name: &str) -> Option<f64> {
    out.iter().find(|s| s.name == name).map(|s| s.value)
}

fn step(out: &[Sample], name: &str, step: &str) -> Option<f64> {
    out.iter()
        .find(|s| s.name == name && s.labels.get("step") == Some(step))
        .map(|s| s.value)
}

#[tokio::test]
async fn status_body_and_redirects() {
    let addr = serve_plain().await;
    let out = check(&format!(
        "type = \"http\"\nname = \"portal\"\nurl = \"http://{addr}/redirect\"\nbody_regex = 'hello \\w+'\n"
    ))
    .await;
    assert_eq!(value(&out, "http_up"), Some(1.0));
    assert_eq!(value(&out, "http_status_code"), Some(200.0));
    assert_eq!(value(&out, "http_redirects"), Some(1.0));
    assert_eq!(value(&out, "http_body_bytes"), Some(12.0));
    assert!(value(&out, "http_duration_ms").unwrap() > 0.0);
    assert!(out.iter().all(|s| s.labels.get("target") == Some("portal")));
    assert_eq!(
        value(&out, "tls_cert_expiry_days"),
        None,
        "plain http has no certificate"
    );

    // Not following: the 303 (axum's Redirect::to) is the answer, and it is what was expected.
    let out = check(&format!(
        "type = \"http\"\nurl = \"http://{addr}/redirect\"\nfollow_redirects = false\nexpect_status = [303]\n"
    ))
    .await;
    assert_eq!(value(&out, "http_up"), Some(1.0));
    assert_eq!(value(&out, "http_status_code"), Some(303.0));
    assert_eq!(value(&out, "http_redirects"), Some(0.0));
    assert_eq!(
        out[0].labels.get("target"),
        Some(format!("http://{addr}/redirect").as_str()),
        "the URL is the default target"
    );
}

#[tokio::test]
async fn failures_are_http_up_zero() {
    let addr = serve_plain().await;
    let cases = [
        ("/missing", "", Some(404.0)),
        ("/ok", "body_regex = 'goodbye'", Some(200.0)),
        ("/error-page", "body_not_regex = 'ORA-\\d+'", Some(200.0)),
        ("/loop", "max_redirects = 3", Some(303.0)),
        ("/hang", "timeout = \"300ms\"", Some(0.0)),
    ];
    for (path, extra, status) in cases {
        let out = check(&format!(
            "type = \"http\"\nurl = \"http://{addr}{path}\"\n{extra}\n"
        ))
        .await;
        assert_eq!(value(&out, "http_up"), Some(0.0), "{path}");
        assert_eq!(value(&out, "http_status_code"), status, "{path}");
    }
    // Nothing listens: refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = check(&format!("type = \"http\"\nurl = \"http://{closed}/\"\n")).await;
    assert_eq!(value(&out, "http_up"), Some(0.0));
    assert_eq!(value(&out, "http_status_code"), Some(0.0));
}

fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join("portal.pw");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn login_section(addr: SocketAddr, password_file: &Path) -> String {
    format!(
        "type = \"http\"\nname = \"erp\"\npassword_file = {pw:?}\n\
         [[step]]\nname = \"form\"\nurl = \"http://{addr}/login\"\nbody_regex = 'name=j_password'\n\
         [[step]]\nname = \"login\"\nurl = \"http://{addr}/j_security_check\"\n\
         form = {{ j_username = \"ops\" }}\nsecret_field = \"j_password\"\nbody_regex = 'Welcome ops'\n\
         [[step]]\nname = \"again\"\nurl = \"http://{addr}/home\"\nbody_regex = 'Welcome'\n",
        pw = password_file.display().to_string()
    )
}

#[tokio::test]
async fn login_transaction_keeps_the_session() {
    let addr = serve_plain().await;
    let dir = tempfile::tempdir().unwrap();
    // '&' must arrive form-encoded: the server checks for s3cr%26t.
    let out = check(&login_section(addr, &password_file(dir.path(), "s3cr&t"))).await;
    assert_eq!(value(&out, "http_up"), Some(1.0), "{out:#?}");
    for s in ["form", "login", "again"] {
        assert_eq!(step(&out, "http_step_ok", s), Some(1.0), "{s}");
        assert!(step(&out, "http_step_duration_ms", s).unwrap() > 0.0);
    }
    assert_eq!(
        value(&out, "http_redirects"),
        Some(1.0),
        "the 303 after the login"
    );
    assert_eq!(value(&out, "http_status_code"), Some(200.0));
}

#[tokio::test]
async fn a_wrong_password_fails_its_step_and_skips_the_rest() {
    let addr = serve_plain().await;
    let dir = tempfile::tempdir().unwrap();
    let out = check(&login_section(addr, &password_file(dir.path(), "wrong"))).await;
    assert_eq!(value(&out, "http_up"), Some(0.0));
    assert_eq!(step(&out, "http_step_ok", "form"), Some(1.0));
    assert_eq!(step(&out, "http_step_ok", "login"), Some(0.0));
    assert_eq!(step(&out, "http_step_ok", "again"), Some(0.0));
    assert_eq!(
        step(&out, "http_step_duration_ms", "again"),
        Some(0.0),
        "never ran"
    );
    assert_eq!(value(&out, "http_status_code"), Some(401.0));
}

#[tokio::test]
async fn https_with_the_test_ca_reports_the_leaf_expiry() {
    let pki = pki(30);
    let addr = serve_tls(pki.server.clone()).await;
    let url = format!("https://localhost:{}/ok", addr.port());
    let out = check(&format!(
        "type = \"http\"\nurl = \"{url}\"\nca_file = {:?}\n",
        pki.ca_file.display().to_string()
    ))
    .await;
    assert_eq!(value(&out, "http_up"), Some(1.0), "{out:#?}");
    let days = value(&out, "tls_cert_expiry_days").unwrap();
    assert!((29.9..30.1).contains(&days), "{days}");

    // Without the CA the certificate is not trusted, but its expiry is still known.
    let out = check(&format!("type = \"http\"\nurl = \"{url}\"\n")).await;
    assert_eq!(value(&out, "http_up"), Some(0.0));
    assert_eq!(value(&out, "http_status_code"), Some(0.0));
    assert!(value(&out, "tls_cert_expiry_days").is_some());

    let out = check(&format!(
        "type = \"http\"\nurl = \"{url}\"\ninsecure_skip_verify = true\n"
    ))
    .await;
    assert_eq!(value(&out, "http_up"), Some(1.0));
}

#[tokio::test]
async fn an_expired_certificate_fails_with_negative_days() {
    let pki = pki(-3);
    let addr = serve_tls(pki.server.clone()).await;
    let out = check(&format!(
        "type = \"http\"\nurl = \"https://localhost:{}/ok\"\nca_file = {:?}\n",
        addr.port(),
        pki.ca_file.display().to_string()
    ))
    .await;
    assert_eq!(value(&out, "http_up"), Some(0.0));
    let days = value(&out, "tls_cert_expiry_days").unwrap();
    assert!((-3.1..-2.9).contains(&days), "{days}");
}

#[test]
fn sample_toml_parses_and_builds() {
    // The sample's password file does not exist here; building does not read it.
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_configs_are_named() {
    let err = |text: &str| match parse_section(text).unwrap() {
        crate::ProbeConfig::Http(c) => HttpProbe::new(&c).unwrap_err().to_string(),
        _ => unreachable!(),
    };
    let e = err(
        "type = \"http\"\nurl = \"ftp://x/\"\nbody_regex = '('\nmethod = \"FETCH\"\nexpect_status = [999]\ntimeout = \"2m\"\n",
    );
    for part in [
        "url:",
        "body_regex",
        "method:",
        "expect_status: 999",
        "timeout:",
    ] {
        assert!(e.contains(part), "{part} missing from {e}");
    }
    let e = err("type = \"http\"\n");
    assert!(e.contains("give url"), "{e}");
    let e = err("type = \"http\"\n[[step]]\nurl = \"http://x/\"\nsecret_field = \"pw\"\n");
    assert!(e.contains("secret_field: set password_file"), "{e}");
    let e = parse_section("type = \"http\"\nurl = \"http://x/\"\nbody_rgx = 'a'\n").unwrap_err();
    assert!(e.to_string().contains("body_rgx"), "{e}");
}
