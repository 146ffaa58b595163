//! The collector connection's secrets and certificates, read and checked when the config is
//! settled: the token file, `[collector.tls]`, and PEM files in general (the collector uses
//! [`read_pem`] too).

use std::path::Path;

use super::CollectorSection;

pub(super) fn read_token(path: &Path) -> Result<String, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            std::fs::metadata(path).map_err(|e| format!("token_file {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "token_file {} is readable by everyone: chmod o-r it",
                path.display()
            ));
        }
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("token_file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(format!("token_file {} is empty", path.display()));
    }
    Ok(token)
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

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pem {
    /// One or more `CERTIFICATE` blocks.
    Certificate,
    /// A PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key; the file must not be readable by
    /// others.
    PrivateKey,
}

/// Reads a PEM file for config key `key` and checks it holds what `kind` asks for. Errors name
/// the key and the file: `tls.cert_file /x: no PEM certificate found`.
pub fn read_pem(key: &str, path: &Path, kind: Pem) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if kind == Pem::PrivateKey && meta.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "{key} {shown} is readable by everyone: chmod o-r it"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let pem = std::fs::read(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    let (wanted, what): (fn(&str) -> bool, &str) = match kind {
        Pem::Certificate => (|l| l == "CERTIFICATE", "certificate"),
        Pem::PrivateKey => (
            |l| matches!(l, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"),
            "private key (PKCS#8, RSA or EC, unencrypted)",
        ),
    };
    let found = String::from_utf8_lossy(&pem).lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .is_some_and(wanted)
    });
    if !found {
        return Err(format!("{key} {shown}: no PEM {what} found"));
    }
    Ok(pem)
}
