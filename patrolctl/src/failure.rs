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

    fn code(&self) -> u8 {
        match self {
            Self::Unreachable { .. } | Self::Usage(_) => 2,
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
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
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
    fn broken_pipe_ends_quietly() {
        let f = Failure::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(f.code(), 0);
    }
}
