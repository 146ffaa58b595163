//! Opening the gRPC channel to the collector, turning a failed connection into one line that
//! says what went wrong and how to point patrolctl elsewhere.

use crate::failure::Failure;
use patrol_proto::tls::{Pem, read_pem};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// How long to wait for the collector to accept the connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// TLS options for a collector that serves gRPC over TLS. With none given, patrolctl speaks
/// plaintext as before.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM CA certificate that signed the collector's certificate; turns TLS on
    /// (a bare `host:port` then gets `https://`)
    #[arg(long, global = true, env = "PATROL_CA_FILE", value_name = "FILE", help_heading = crate::cli::CONNECTION)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for a collector that requires one (mutual TLS)
    #[arg(long, global = true, env = "PATROL_CERT_FILE", value_name = "FILE", help_heading = crate::cli::CONNECTION)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of --cert-file (must not be readable by others)
    #[arg(long, global = true, env = "PATROL_KEY_FILE", value_name = "FILE", help_heading = crate::cli::CONNECTION)]
    pub key_file: Option<PathBuf>,
}

/// Set once from the command line by `main`, before any command connects.
static TLS: OnceLock<TlsArgs> = OnceLock::new();

/// Records the TLS options every later [`channel`] uses.
pub fn configure(tls: TlsArgs) {
    let _ = TLS.set(tls);
}

/// Connects to the collector at `url` (a bare `host:port` gets `http://`, or `https://` when
/// `--ca-file` is given).
pub async fn channel(url: &str) -> Result<Channel, Failure> {
    let tls = TLS.get().cloned().unwrap_or_default();
    let url = normalise(url, tls.ca_file.is_some());
    let mut endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| Failure::Usage(format!("invalid collector URL '{url}': {e}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(config) = client_tls(&url, &tls)? {
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| Failure::Usage(format!("TLS for {url}: {}", cause(&e))))?;
    }
    endpoint.connect().await.map_err(|e| Failure::Unreachable {
        cause: cause(&e),
        url,
    })
}

/// The client TLS configuration for `url`, or `None` for plaintext.
fn client_tls(url: &str, tls: &TlsArgs) -> Result<Option<ClientTlsConfig>, Failure> {
    let https = url.starts_with("https://");
    let Some(ca_file) = &tls.ca_file else {
        if https || tls.cert_file.is_some() || tls.key_file.is_some() {
            return Err(Failure::Usage(format!(
                "{url}: TLS needs --ca-file (or PATROL_CA_FILE) to verify the collector"
            )));
        }
        return Ok(None);
    };
    if !https {
        return Err(Failure::Usage(format!(
            "--ca-file is given but the collector URL {url} is not https://"
        )));
    }
    let ca = read_pem("--ca-file", ca_file, Pem::Certificate).map_err(Failure::Usage)?;
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert =
                read_pem("--cert-file", cert_file, Pem::Certificate).map_err(Failure::Usage)?;
            let key = read_pem("--key-file", key_file, Pem::PrivateKey).map_err(Failure::Usage)?;
            config = config.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => {
            return Err(Failure::Usage(
                "--cert-file and --key-file go together (a client certificate needs its key)"
                    .into(),
            ));
        }
    }
    Ok(Some(config))
}

/// Adds the scheme operators often leave out, so `--collector db01:7070` works: `https://`
/// with TLS, `http://` without.
pub fn normalise(url: &str, tls: bool) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else if tls {
        format!("https://{url}")
    } else {
        format!("http://{url}")
    }
}

/// The innermost cause of a transport error as a short phrase (`connection refused`): tonic's
/// own text ("transport error") says nothing an operator can act on.
fn cause(e: &tonic::transport::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    phrase(&inner.to_string())
}

/// `Connection refused (os error 111)` → `connection refused`.
fn phrase(text: &str) -> String {
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_get_a_scheme() {
        assert_eq!(normalise("db01:7070", false), "http://db01:7070");
        assert_eq!(normalise("http://db01:7070", false), "http://db01:7070");
        assert_eq!(normalise("db01:7070", true), "https://db01:7070");
    }

    #[test]
    fn https_without_ca_file_is_a_usage_error() {
        let err = client_tls("https://c:1", &TlsArgs::default()).unwrap_err();
        assert!(matches!(err, Failure::Usage(m) if m.contains("--ca-file")));
        let tls = TlsArgs {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsArgs::default()
        };
        match client_tls("https://c:1", &tls) {
            Err(Failure::Usage(m)) => assert!(
                m.starts_with("--ca-file /nonexistent/ca.pem: cannot read:"),
                "{m}"
            ),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn os_errors_become_short_phrases() {
        assert_eq!(
            phrase("Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(phrase("timed out"), "timed out");
        assert_eq!(phrase(""), "unknown error");
    }

    #[tokio::test]
    async fn refused_connection_is_reported_as_unreachable() {
        // Bind then drop a listener so the port is known to be closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind a local port");
        let url = format!("127.0.0.1:{port}");
        match channel(&url).await {
            Err(Failure::Unreachable { url, cause }) => {
                assert_eq!(url, format!("http://127.0.0.1:{port}"));
                assert_eq!(cause, "connection refused");
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
