//! What went wrong talking to a database, in words an operator can act on.
//!
//! Oracle reports failures as `ORA-nnnnn` (database / network layer) or `DPI-nnnn` (the ODPI-C
//! layer inside the `oracle` crate). The probe turns each into a [`FailureKind`] whose hint says
//! what to do; the codes and their meanings are from Oracle's *Database Error Messages*
//! reference and ODPI-C's error list (`dpiErrorMessages.h`).

use std::fmt;

/// The class of a failure, which decides `oracle_up` and the advice in the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// DPI-1047: the Oracle client library (`libclntsh.so`) could not be loaded.
    ClientLibraryMissing,
    /// ORA-12541: nothing listens on the host/port of the connect string.
    ListenerDown,
    /// ORA-12514 / ORA-12505: the listener answered but does not know the service / SID.
    ServiceUnknown,
    /// ORA-12170, ORA-12535, ORA-12543, ORA-12545, ORA-12560, ORA-12154: the host cannot be
    /// reached or the name cannot be resolved.
    Unreachable,
    /// ORA-01017 (bad user/password), ORA-28000 (locked), ORA-28001 (expired).
    BadCredentials,
    /// ORA-01033, ORA-01034, ORA-01089: the instance is starting, down, or shutting down.
    NotOpen,
    /// ORA-00942 / ORA-01031: a view the probe reads is not granted to the monitoring user.
    MissingPrivilege,
    /// DPI-1067 / ORA-03156 (call timeout), or the probe's own round timeout.
    Timeout,
    /// ORA-03113, ORA-03114, ORA-03135, DPI-1010, DPI-1080: the connection broke.
    ConnectionLost,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Whether the connection should be dropped and opened anew next round.
    pub fn breaks_connection(self) -> bool {
        !matches!(self, Self::MissingPrivilege | Self::Other)
    }

    /// One sentence saying what to do.
    pub fn hint(self) -> &'static str {
        match self {
            Self::ClientLibraryMissing => {
                "install Oracle Instant Client (Basic or Basic Light, 64-bit) and make it findable: \
                 set client_lib_dir in the probe config, or add its directory to LD_LIBRARY_PATH / \
                 ldconfig (see docs/oracle.md)"
            }
            Self::ListenerDown => {
                "no listener on the connect string's host and port: start it (lsnrctl start) or \
                 fix host/port in 'connect'"
            }
            Self::ServiceUnknown => {
                "the listener does not know this service name or SID: check 'connect' against \
                 lsnrctl services"
            }
            Self::Unreachable => {
                "the database host cannot be reached or the name does not resolve: check \
                 'connect', DNS, routes and firewalls (or the TNS alias in tnsnames.ora)"
            }
            Self::BadCredentials => {
                "the database refused the login: check 'user' and the password source, and that \
                 the account is neither locked nor expired"
            }
            Self::NotOpen => {
                "the instance is not open (down, mounted, starting or shutting down): check the \
                 database with the DBA"
            }
            Self::MissingPrivilege => {
                "the monitoring user lacks a grant: run docs/oracle-grants.sql as a DBA"
            }
            Self::Timeout => {
                "the database did not answer in time (query_timeout / timeout): it may be hung \
                 or overloaded; a stuck round is not repeated until it returns"
            }
            Self::ConnectionLost => "the connection broke; the probe reconnects next round",
            Self::Other => "see the Oracle error text",
        }
    }

    /// A short stable name, used in logs and docs.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientLibraryMissing => "client_library_missing",
            Self::ListenerDown => "listener_down",
            Self::ServiceUnknown => "service_unknown",
            Self::Unreachable => "unreachable",
            Self::BadCredentials => "bad_credentials",
            Self::NotOpen => "not_open",
            Self::MissingPrivilege => "missing_privilege",
            Self::Timeout => "timeout",
            Self::ConnectionLost => "connection_lost",
            Self::Other => "other",
        }
    }
}

/// A failure with the text it came with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message} ({})", kind.name(), kind.hint())]
pub struct OracleFailure {
    pub kind: FailureKind,
    /// The original error text (first line), e.g. `ORA-12541: TNS:no listener`.
    pub message: String,
}

impl OracleFailure {
    /// Classifies an error from its text: ODPI-C and OCI put the code at the front
    /// (`DPI-1047: ...`, `ORA-12541: ...`), and wrapped errors still contain it.
    pub fn from_text(text: &str) -> Self {
        let first_line = text.lines().next().unwrap_or_default().trim();
        // The crate prefixes its Display with the layer; the code that follows says it better.
        let first_line = ["DPI Error: ", "OCI Error: "]
            .iter()
            .find_map(|p| first_line.strip_prefix(p))
            .unwrap_or(first_line);
        let message = truncate(first_line, 300);
        Self {
            kind: classify(text),
            message,
        }
    }

    /// The probe's own timeout (no Oracle error to quote).
    pub fn round_timeout(limit: std::time::Duration) -> Self {
        Self {
            kind: FailureKind::Timeout,
            message: format!(
                "no answer within {} (timeout)",
                humantime_serde::re::humantime::format_duration(limit)
            ),
        }
    }
}

impl From<oracle::Error> for OracleFailure {
    fn from(e: oracle::Error) -> Self {
        Self::from_text(&e.to_string())
    }
}

/// The first `ORA-` / `DPI-` code in `text` decides; a text without one is `Other`.
pub fn classify(text: &str) -> FailureKind {
    for (prefix, code) in codes(text) {
        let kind = match (prefix, code) {
            ("DPI", 1047) => FailureKind::ClientLibraryMissing,
            ("DPI", 1067) | ("ORA", 3156) => FailureKind::Timeout,
            ("DPI", 1010 | 1080) | ("ORA", 3113 | 3114 | 3135) => FailureKind::ConnectionLost,
            ("ORA", 12541) => FailureKind::ListenerDown,
            ("ORA", 12514 | 12505) => FailureKind::ServiceUnknown,
            ("ORA", 12170 | 12535 | 12543 | 12545 | 12560 | 12154) => FailureKind::Unreachable,
            ("ORA", 1017 | 28000 | 28001 | 1005) => FailureKind::BadCredentials,
            ("ORA", 1033 | 1034 | 1089 | 1090) => FailureKind::NotOpen,
            ("ORA", 942 | 1031) => FailureKind::MissingPrivilege,
            _ => continue,
        };
        return kind;
    }
    FailureKind::Other
}

/// Every `ORA-n` / `DPI-n` in `text`, in order of appearance.
fn codes(text: &str) -> Vec<(&'static str, u32)> {
    let mut found: Vec<(usize, &'static str, u32)> = Vec::new();
    for prefix in ["ORA", "DPI"] {
        for (at, _) in text.match_indices(prefix) {
            let rest = &text[at + prefix.len()..];
            let Some(rest) = rest.strip_prefix('-') else {
                continue;
            };
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if let Ok(code) = rest[..end.min(6)].parse() {
                found.push((at, prefix, code));
            }
        }
    }
    found.sort_unstable_by_key(|(at, _, _)| *at);
    found.into_iter().map(|(_, p, c)| (p, c)).collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Error texts as the oracle crate prints them (`Display` of `oracle::Error`), in the
    // wording of Oracle's error reference; DPI-1047 is also produced for real in mod.rs tests.
    #[test]
    fn each_documented_failure_is_classified() {
        let cases = [
            (
                "DPI-1047: Cannot locate a 64-bit Oracle Client library: \"libclntsh.so: cannot open shared object file: No such file or directory\". See https://oracle.github.io/odpi/doc/installation.html#linux for help",
                FailureKind::ClientLibraryMissing,
            ),
            ("ORA-12541: TNS:no listener", FailureKind::ListenerDown),
            (
                "ORA-12541: Cannot connect. No listener at host 10.0.0.5 port 1521. (CONNECTION_ID=abc)",
                FailureKind::ListenerDown,
            ),
            (
                "ORA-01017: invalid username/password; logon denied",
                FailureKind::BadCredentials,
            ),
            (
                "ORA-28000: The account is locked.",
                FailureKind::BadCredentials,
            ),
            (
                "DPI-1067: call timeout of 5000 ms exceeded with ORA-3156",
                FailureKind::Timeout,
            ),
            ("ORA-03156: OCI call timed out", FailureKind::Timeout),
            (
                "ORA-12514: TNS:listener does not currently know of service requested in connect descriptor",
                FailureKind::ServiceUnknown,
            ),
            (
                "ORA-12170: TNS:Connect timeout occurred",
                FailureKind::Unreachable,
            ),
            (
                "ORA-01034: ORACLE not available\nORA-27101: shared memory realm does not exist",
                FailureKind::NotOpen,
            ),
            (
                "ORA-00942: table or view does not exist",
                FailureKind::MissingPrivilege,
            ),
            (
                "ORA-03113: end-of-file on communication channel",
                FailureKind::ConnectionLost,
            ),
            ("ORA-00600: internal error code", FailureKind::Other),
            ("something without a code", FailureKind::Other),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text), kind, "{text}");
        }
    }

    #[test]
    fn the_first_known_code_in_order_of_appearance_decides() {
        // DPI-1067 wraps ORA-3156; both mean timeout, but order matters for mixed texts.
        assert_eq!(
            classify("ORA-12170: TNS:Connect timeout occurred ... ORA-12541"),
            FailureKind::Unreachable
        );
        assert_eq!(
            classify("ORA-00600 first, then ORA-01017"),
            FailureKind::BadCredentials
        );
    }

    #[test]
    fn message_keeps_the_first_line_and_is_bounded() {
        let f = OracleFailure::from_text("ORA-01034: ORACLE not available\nORA-27101: ...");
        assert_eq!(f.message, "ORA-01034: ORACLE not available");
        let long = "ORA-00600: ".to_owned() + &"é".repeat(500);
        assert!(OracleFailure::from_text(&long).message.len() <= 303);
        let shown = f.to_string();
        assert!(shown.starts_with("not_open: ORA-01034"), "{shown}");
        assert!(shown.contains("check the database"), "{shown}");
    }
}
