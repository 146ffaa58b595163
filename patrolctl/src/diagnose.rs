//! Why a TLS connection broke. Under TLS 1.3 a collector that refuses the client's certificate
//! (or its absence) says so with an alert *after* the client's handshake has finished, while
//! the client is already writing its request: gRPC then sees only "broken pipe" or "operation
//! was canceled", depending on who loses the race. To tell the operator what is wrong,
//! patrolctl repeats the handshake on its own connection with the same files, sends nothing,
//! and reads: the collector's alert is then the first thing that arrives.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncReadExt;

use crate::connect::TlsArgs;

/// How long the repeated handshake and the read after it may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The error the collector at `url` (https) answers a bare TLS connection with, as text, or
/// `None` when the connection holds (the failure was something else) or cannot be tried.
pub async fn tls_failure(url: &str, tls: &TlsArgs) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let config = client_config(tls).ok()?;
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let probe = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut stream = match connector.connect(name, tcp).await {
            Ok(s) => s,
            Err(e) => return Some(e.to_string()),
        };
        let mut buf = [0u8; 1];
        match stream.read(&mut buf).await {
            Err(e) => Some(e.to_string()),
            // The collector waits for the client's HTTP/2 preface; data or a clean close means
            // the handshake was accepted.
            Ok(_) => None,
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
}

fn client_config(tls: &TlsArgs) -> Result<rustls::ClientConfig, String> {
    let ca_file = tls.ca_file.as_deref().ok_or("no --ca-file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca_file)? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(certs(cert)?, key)
                .map_err(|e| e.to_string())
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}
