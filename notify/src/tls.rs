//! The rustls client configuration the MQTT and webhook channels share: ring as the crypto
//! provider (no C toolchain for aws-lc), the system roots, plus an operator's CA file for
//! private brokers and gateways.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A TLS setup that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file is unreadable or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// As configured.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the setup.
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Client config trusting the system roots and, when given, the certificates in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped: a private CA file may be all that is needed.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let bad = |reason: String| TlsError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".to_owned()));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(bad("no usable CA certificate in it".to_owned()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
