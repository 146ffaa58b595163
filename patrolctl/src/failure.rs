//! How a command fails and which exit status that means: 2 when patrolctl could not even talk
//! to the collector (or was misused), 1 when the command ran and failed.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The collector could not be reached; `cause` is one short phrase.
    Unreachable { url: String, cause: String },
    /// Something answered at the address, but not a Patrol collector's gRPC port (an HTTP
    /// server answered with this status code). `url` is filled in by [`Failure::at`].
    NotCollector { url: String, http: String },
    /// The TLS connection was refused; `why` says what is wrong and which option fixes it.
    TlsRefused { url: String, why: String },
    /// The connection broke during the request (`cause`: the innermost error).
    Broken { url: String, cause: String },
    /// The command line was unusable in a way clap cannot see (e.g. a malformed URL).
    Usage(String),
    /// The collector refused the request; its message says why.
    Status(tonic::Status),
    /// Already reported on stderr (rule errors, a lost stream); only the exit status is left.
    Reported(u8),
    /// Anything else.
    Other(anyhow::Error),
}

impl Failure {
    /// Prints the failure (unless already reported) and returns the exit status.
    pub fn report(self) -> ExitCode {
        let code = self.code();
        if !matches!(self, Self::Reported(_)) {
            eprintln!("patrolctl: {self}");
        }
        ExitCode::from(code)
    }

    /// Names the collector URL in a failure that learned of it only from a status.
    pub fn at(self, url: &str) -> Self {
        match self {
            Self::NotCollector { url: u, http } if u.is_empty() => Self::NotCollector {
                url: url.to_owned(),
                http,
            },
            Self::TlsRefused { url: u, why } if u.is_empty() => Self::TlsRefused {
                url: url.to_owned(),
                why,
            },
            Self::Broken { url: u, cause } if u.is_empty() => Self::Broken {
                url: url.to_owned(),
                cause,
            },
            other => other,
        }
    }

    /// Whether the connection broke under the request (worth a TLS diagnosis on https).
    pub fn is_broken(&self) -> bool {
        matches!(self, Self::Broken { .. })
    }

    fn code(&self) -> u8 {
        match self {
            Self::Unreachable { .. }
            | Self::NotCollector { .. }
            | Self::TlsRefused { .. }
            | Self::Broken { .. }
            | Self::Usage(_) => 2,
            Self::Status(_) | Self::Other(_) => 1,
            Self::Reported(code) => *code,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { url, cause } => write!(
                f,
                "cannot reach the collector at {url}: {cause} \
                 (is patrol-collector running? set --collector or PATROL_COLLECTOR)"
            ),
            Self::NotCollector { url, http } => write!(
                f,
                "no Patrol collector answers at {url} (HTTP {http}: is this the HTTP port? \
                 the gRPC port is the collector's `listen`, 7070 by default; set --collector or \
                 PATROL_COLLECTOR)"
            ),
            Self::TlsRefused { url, why } => {
                write!(f, "TLS with the collector at {url} failed: {why}")
            }
            Self::Broken { url, cause } => {
                write!(f, "the connection to the collector at {url} broke: {cause}")
            }
            Self::Usage(msg) => f.write_str(msg),
            Self::Status(status) if status.message().is_empty() => {
                write!(f, "the collector answered: {}", status.code().description())
            }
            Self::Status(status) => f.write_str(status.message()),
            Self::Reported(code) => write!(f, "failed with exit status {code}"),
            Self::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<tonic::Status> for Failure {
    /// A status that came from the connection rather than a collector (an HTTP server's
    /// answer, a refused TLS handshake) says so, with the fix; a collector's refusal is
    /// printed as it is.
    fn from(status: tonic::Status) -> Self {
        if let Some(http) = status
            .message()
            .split("mapped from HTTP status code ")
            .nth(1)
        {
            return Self::NotCollector {
                url: String::new(),
                http: http.trim().to_owned(),
            };
        }
        let mut texts = vec![status.message().to_owned()];
        texts.extend(chain(&status));
        if let Some(why) = tls_refusal(&texts) {
            return Self::TlsRefused {
                url: String::new(),
                why,
            };
        }
        // Statuses tonic makes up when the connection fails carry the failure as their source;
        // a collector's own refusals never have one.
        if std::error::Error::source(&status).is_some() {
            return Self::Broken {
                url: String::new(),
                cause: texts.last().cloned().unwrap_or_default(),
            };
        }
        Self::Status(status)
    }
}

/// The texts of `e` and every error under it.
pub fn chain(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut inner = e.source();
    while let Some(next) = inner {
        out.push(next.to_string());
        inner = next.source();
    }
    out
}

/// What a TLS failure found in an error chain means, and the option that fixes it.
pub fn tls_refusal(texts: &[String]) -> Option<String> {
    let all = texts.join(" | ");
    let has = |needle: &str| all.contains(needle);
    let why = if has("CertificateRequired") {
        "the collector requires a client certificate (mutual TLS) and none was given: pass \
         --cert-file and --key-file (or PATROL_CERT_FILE and PATROL_KEY_FILE) with a \
         certificate signed by a CA in the collector's tls.client_ca_file"
    } else if has("UnknownCA") || has("BadCertificate") || has("CertificateUnknown") {
        "the collector refused the client certificate: it is not signed by a CA in the \
         collector's tls.client_ca_file; pass --cert-file and --key-file from that CA"
    } else if has("UnknownIssuer") {
        "the collector's certificate is not signed by the CA in --ca-file (UnknownIssuer): \
         pass the CA that signed it with --ca-file (PATROL_CA_FILE)"
    } else if has("NotValidForName") {
        "the collector's certificate does not name the host in the URL (NotValidForName): \
         connect by a name or address its certificate carries"
    } else if has("InvalidContentType") || has("corrupt message") {
        "the collector does not speak TLS on this port: drop --ca-file and use http://"
    } else {
        return None;
    };
    Some(why.to_owned())
}

impl From<io::Error> for Failure {
    /// A closed stdout (`patrolctl tail | head`) is the reader's choice to stop, not an error.
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Self::Reported(0)
        } else {
            Self::Other(anyhow::Error::new(e).context("cannot write output"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_one_clear_line_and_exit_2() {
        let f = Failure::Unreachable {
            url: "http://127.0.0.1:7070".to_owned(),
            cause: "connection refused".to_owned(),
        };
        assert_eq!(
            f.to_string(),
            "cannot reach the collector at http://127.0.0.1:7070: connection refused \
             (is patrol-collector running? set --collector or PATROL_COLLECTOR)"
        );
        assert_eq!(f.code(), 2);
    }

    #[test]
    fn status_prints_the_server_message_and_exits_1() {
        let f = Failure::from(tonic::Status::not_found("incident #9 not found"));
        assert_eq!(f.to_string(), "incident #9 not found");
        assert_eq!(f.code(), 1);
    }

    #[test]
    fn an_http_answer_means_the_wrong_port_and_exit_2() {
        let f = Failure::from(tonic::Status::unknown(
            "grpc-status header missing, mapped from HTTP status code 404",
        ))
        .at("http://127.0.0.1:7071");
        assert_eq!(f.code(), 2);
        assert_eq!(
            f.to_string(),
            "no Patrol collector answers at http://127.0.0.1:7071 (HTTP 404: is this the HTTP \
             port? the gRPC port is the collector's `listen`, 7070 by default; set --collector \
             or PATROL_COLLECTOR)"
        );
    }

    #[test]
    fn tls_alerts_say_which_option_fixes_them() {
        let why = |t: &str| tls_refusal(&[t.to_owned()]).unwrap_or_default();
        assert!(why("received fatal alert: CertificateRequired").contains("--cert-file"));
        assert!(why("received fatal alert: UnknownCA").contains("client_ca_file"));
        assert!(why("invalid peer certificate: UnknownIssuer").contains("--ca-file"));
        assert_eq!(tls_refusal(&["connection refused".to_owned()]), None);
    }

    #[test]
    fn broken_pipe_ends_quietly() {
        let f = Failure::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(f.code(), 0);
    }
}
