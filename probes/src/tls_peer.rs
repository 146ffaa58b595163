//! TLS for the service checks (http, tcp): a rustls client configuration (ring provider, the
//! system roots plus an optional CA file, or no verification when asked) whose verifier
//! records the peer's leaf certificate before judging it — so the certificate's days to
//! expiry are known even when verification fails (an expired or unknown certificate is the
//! case that matters most). Not a probe: the probes' shared TLS piece.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// The first leaf certificate the verifier saw since the last [`Recorder::take`].
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Option<Vec<u8>>>);

impl Recorder {
    /// The recorded certificate (DER), leaving the recorder empty for the next round.
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn record(&self, der: &[u8]) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The first one of a round is the configured target's; a redirect elsewhere is not.
        if slot.is_none() {
            *slot = Some(der.to_vec());
        }
    }
}

#[derive(Debug)]
struct RecordingVerifier {
    recorder: Arc<Recorder>,
    /// `None`: accept any certificate (`insecure_skip_verify`); signatures are still checked.
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.recorder.record(end_entity.as_ref());
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration for a check, and the recorder of its peer certificates.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    insecure_skip_verify: bool,
) -> Result<(Arc<rustls::ClientConfig>, Arc<Recorder>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = if insecure_skip_verify {
        None
    } else {
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped: a private CA file may be all it takes.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = ca_file {
            let shown = path.display();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file {shown}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("ca_file {shown}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("ca_file {shown}: holds no usable PEM certificate"));
            }
        }
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("TLS verifier: {e}"))?,
        )
    };
    let recorder = Arc::new(Recorder::default());
    let verifier = Arc::new(RecordingVerifier {
        recorder: recorder.clone(),
        inner,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((Arc::new(config), recorder))
}

/// Days from `now_s` (seconds since the epoch) to the certificate's notAfter; negative once
/// expired. `None` for DER that is not a certificate.
pub(crate) fn expiry_days(der: &[u8], now_s: f64) -> Option<f64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp() as f64;
    Some((not_after - now_s) / 86_400.0)
}

/// A test CA and server certificates from rcgen, for the http and tcp probes' tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_pki {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    /// A test CA and a server certificate for `localhost` valid for `days` from now (negative:
    /// expired that long ago).
    pub(crate) struct Pki {
        _dir: tempfile::TempDir,
        pub(crate) ca_file: PathBuf,
        pub(crate) server: Arc<rustls::ServerConfig>,
    }

    pub(crate) fn pki(days: i64) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let not_after = if days >= 0 {
            now + day * days.unsigned_abs() as u32
        } else {
            now - day * days.unsigned_abs() as u32
        };
        params.not_before = (not_after.min(now) - day * 10).into();
        params.not_after = not_after.into();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
        Pki {
            _dir: dir,
            ca_file,
            server: Arc::new(server),
        }
    }
}
