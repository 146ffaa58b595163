//! The gRPC listener's optional TLS: the `[tls]` section and loading its PEM files into a
//! [`ServerTlsConfig`], with errors that name the key and file at fault.
//!
//! Everything is checked before the listener starts, so a broken `[tls]` stops the collector
//! instead of letting it serve plaintext or fail each handshake later.

use std::path::PathBuf;
use std::time::Duration;

use patrol_agent::stream::error_chain;
use patrol_proto::tls::{Pem, read_pem};
use serde::Deserialize;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// A client that opens a connection gets this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[tls]` in the collector's file: TLS on the gRPC listener, and with the same files on the
/// HTTP listener (`http_tls.rs`) unless `plain_http` is set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain the collector presents, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf certificate. Must not be readable by others.
    pub key_file: PathBuf,
    /// PEM CA certificate(s). Set: every client (agent, patrolctl, and HTTP clients such as
    /// Prometheus) must present a certificate signed by one of them (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
    /// Keep the HTTP port (`/metrics`, `/healthz`) plaintext while gRPC speaks TLS, e.g. for a
    /// Prometheus on the same host. Default false: HTTP speaks TLS with the same files.
    #[serde(default)]
    pub plain_http: bool,
}

/// Reads and checks the files of `[tls]` and builds the listener's TLS configuration.
pub fn server_config(tls: &TlsSection) -> Result<ServerTlsConfig, String> {
    let cert = read_pem("tls.cert_file", &tls.cert_file, Pem::Certificate)?;
    let key = read_pem("tls.key_file", &tls.key_file, Pem::PrivateKey)?;
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(ca_file) = &tls.client_ca_file {
        let ca = read_pem("tls.client_ca_file", ca_file, Pem::Certificate)?;
        config = config.client_ca_root(Certificate::from_pem(ca));
    }
    // Build the rustls configuration once now: a key that does not match the certificate, or
    // a malformed block, is reported here rather than at the first handshake.
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| {
            format!(
                "tls.cert_file {} with tls.key_file {}: {}",
                tls.cert_file.display(),
                tls.key_file.display(),
                error_chain(&e)
            )
        })?;
    Ok(config)
}
