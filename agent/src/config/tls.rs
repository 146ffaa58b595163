//! The collector connection's secrets and certificates, read and checked when the config is
//! settled: the token file and `[collector.tls]` (PEM files through `patrol_proto::tls`, which
//! the collector and patrolctl use too).

use std::path::Path;

use patrol_proto::tls::{Pem, read_pem};

use super::CollectorSection;

/// The token the collector requires, from the first line of `path` (refused when others can
/// read it, as every secret file is: `patrol_proto::secret`).
pub(super) fn read_token(path: &Path) -> Result<String, String> {
    patrol_proto::secret::read_first_line("token_file", path)
}

/// Checks the address's scheme against `[collector.tls]` and loads its files.
/// The TLS client configuration for `[collector.tls]` (None for `http://`), with the bytes of
/// the files it read.
pub(super) fn client_tls(
    collector: &CollectorSection,
) -> Result<(Option<tonic::transport::ClientTlsConfig>, Vec<u8>), String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let address = collector.address.trim();
    let https = address
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let Some(tls) = &collector.tls else {
        if https {
            return Err(format!(
                "collector.address {address} is https: set ca_file in [collector.tls] to verify the collector"
            ));
        }
        return Ok((None, Vec::new()));
    };
    if !https {
        return Err(format!(
            "[collector.tls] is set but collector.address {address} is not https://: use https://"
        ));
    }
    let ca = read_pem("collector.tls.ca_file", &tls.ca_file, Pem::Certificate)?;
    let mut files = ca.clone();
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert = read_pem("collector.tls.cert_file", cert_file, Pem::Certificate)?;
            let key = read_pem("collector.tls.key_file", key_file, Pem::PrivateKey)?;
            files.extend_from_slice(&cert);
            files.extend_from_slice(&key);
            config = config.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => {
            return Err(
                "[collector.tls] needs both cert_file and key_file for a client certificate, or neither"
                    .into(),
            );
        }
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok((Some(config), files))
}
