//! TLS on the HTTP port (`/metrics`, `/healthz`, and what comes: the query API, the console)
//! with the gRPC port's `[tls]` files: the same certificate, and under mutual TLS the same
//! client CA. A listener wrapper, so the HTTP router does not know whether it is behind TLS.
//!
//! Connections come from the HTTP port's connection budget (`crate::conn::HttpListener`), so
//! the budget and its idle timeout count TLS connections too. Handshakes run beside each
//! other, each with a deadline, so a client that connects and says nothing holds up no one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use patrol_proto::tls::{Pem, read_pem};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::conn::{Guarded, HttpListener};
use crate::tls::TlsSection;

/// A client gets this long to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most; past it, new connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

/// The rustls acceptor for `[tls]`, its files read and checked as the gRPC side does; errors
/// name the key and file.
pub fn acceptor(tls: &TlsSection) -> Result<TlsAcceptor, String> {
    let chain = certs("tls.cert_file", &tls.cert_file)?;
    let key_pem = read_pem("tls.key_file", &tls.key_file, Pem::PrivateKey)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("tls.key_file {}: {e}", tls.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let builder = match &tls.client_ca_file {
        Some(ca_file) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs("tls.client_ca_file", ca_file)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("tls.client_ca_file {}: {e}", ca_file.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| format!("tls.client_ca_file {}: {e}", ca_file.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "tls.cert_file {} with tls.key_file {}: {e}",
            tls.cert_file.display(),
            tls.key_file.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certs(key: &str, path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_pem(key, path, Pem::Certificate)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key} {}: {e}", path.display()))
}

/// The budgeted HTTP listener whose connections are TLS streams, for `axum::serve`.
pub struct TlsListener {
    inner: HttpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<Guarded>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(inner: HttpListener, acceptor: TlsAcceptor) -> Self {
        Self {
            inner,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<Guarded>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                // The budgeted accept refuses, counts and retries by itself; it is cancel-safe
                // (a connection it admitted is returned without a further await).
                (tcp, peer) = self.inner.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => Some((tls, peer)),
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "HTTP TLS handshake failed");
                                None
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "HTTP TLS handshake timed out");
                                None
                            }
                        }
                    });
                }
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(ready)) = done {
                        return ready;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
