//! PEM files for the wire's TLS, read the same way by every binary: the agent's
//! `[collector.tls]`, the collector's `[tls]` and patrolctl's `--ca-file`/`--cert-file`/
//! `--key-file`. A private key readable by others is refused, as every secret file is.

use std::path::Path;

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pem {
    /// One or more `CERTIFICATE` blocks.
    Certificate,
    /// A PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key; the file must not be readable by
    /// others ([`crate::secret::check_private`]).
    PrivateKey,
}

/// Reads a PEM file for config key `key` and checks it holds what `kind` asks for. Errors name
/// the key and the file: `tls.cert_file /x: no PEM certificate found`.
pub fn read_pem(key: &str, path: &Path, kind: Pem) -> Result<Vec<u8>, String> {
    let shown = path.display();
    if kind == Pem::PrivateKey {
        crate::secret::check_private(key, path)?;
    }
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
