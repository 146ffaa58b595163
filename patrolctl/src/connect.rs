//! Opening the gRPC channel to the collector — over TCP (plaintext or TLS) or the collector's
//! operator socket (`unix:///run/patrol/ctl.sock`) — with the operator token on every request,
//! and turning a failed connection into one line that says what went wrong and how to fix it.

use crate::failure::Failure;
use patrol_proto::tls::{Pem, read_pem};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The connection every client uses: the channel with the operator token added to each request.
pub type Conn = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer TOKEN` to every request when a token was given.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

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
    /// File holding your operator token (first line; must not be readable by others), for a
    /// collector with [auth]
    #[arg(long, global = true, env = "PATROL_TOKEN_FILE", value_name = "FILE", help_heading = crate::cli::CONNECTION)]
    pub token_file: Option<PathBuf>,
}

/// Set once from the command line by `main`, before any command connects.
static TLS: OnceLock<TlsArgs> = OnceLock::new();

/// Records the TLS options every later [`channel`] uses.
pub fn configure(tls: TlsArgs) {
    let _ = TLS.set(tls);
}

/// Connects to the collector at `url` (a bare `host:port` gets `http://`, or `https://` when
/// `--ca-file` is given; `unix:///PATH` is the operator socket).
pub async fn channel(url: &str) -> Result<Conn, Failure> {
    let tls = TLS.get().cloned().unwrap_or_default();
    let bearer = match &tls.token_file {
        Some(file) => {
            let token = patrol_proto::secret::read_first_line("--token-file", file)
                .map_err(Failure::Usage)?;
            let value = format!("Bearer {token}").parse().map_err(|_| {
                Failure::Usage(format!(
                    "--token-file {}: the token must be printable ASCII",
                    file.display()
                ))
            })?;
            Bearer(Some(value))
        }
        None => Bearer(None),
    };
    if let Some(path) = url.trim().strip_prefix("unix://") {
        return unix(path).await.map(|c| InterceptedService::new(c, bearer));
    }
    let url = normalise(url, tls.ca_file.is_some());
    let mut endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| Failure::Usage(format!("invalid collector URL '{url}': {e}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(config) = client_tls(&url, &tls)? {
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| Failure::Usage(format!("TLS for {url}: {}", cause(&e))))?;
    }
    let channel = endpoint.connect().await.map_err(|e| Failure::Unreachable {
        cause: cause(&e),
        url,
    })?;
    Ok(InterceptedService::new(channel, bearer))
}

/// A channel over the Unix socket at `path` (the collector's `auth.operator_socket`).
async fn unix(path: &str) -> Result<Channel, Failure> {
    let url = format!("unix://{path}");
    let socket = std::path::PathBuf::from(path);
    // The URI is only a placeholder: the connector ignores it and dials the socket.
    let endpoint = Endpoint::from_static("http://operator.socket").connect_timeout(CONNECT_TIMEOUT);
    endpoint
        .connect_with_connector(UnixConnector(socket))
        .await
        .map_err(|e| Failure::Unreachable {
            cause: cause(&e),
            url,
        })
}

/// Dials the socket at its path for every connection tonic opens.
#[derive(Clone)]
struct UnixConnector(PathBuf);

impl tower_service::Service<tonic::transport::Uri> for UnixConnector {
    type Response = hyper_util::rt::TokioIo<tokio::net::UnixStream>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: tonic::transport::Uri) -> Self::Future {
        let path = self.0.clone();
        Box::pin(async move {
            tokio::net::UnixStream::connect(path)
                .await
                .map(hyper_util::rt::TokioIo::new)
        })
    }
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
    let chain = crate::failure::chain(e);
    if let Some(tls) = crate::failure::tls_refusal(&chain) {
        return tls;
    }
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
