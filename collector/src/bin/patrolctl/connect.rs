//! Opening the gRPC channel to the collector, turning a failed connection into one line that
//! says what went wrong and how to point patrolctl elsewhere.

use crate::failure::Failure;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// How long to wait for the collector to accept the connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the collector at `url` (a bare `host:port` gets `http://`).
pub async fn channel(url: &str) -> Result<Channel, Failure> {
    let url = normalise(url);
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| Failure::Usage(format!("invalid collector URL '{url}': {e}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    endpoint.connect().await.map_err(|e| Failure::Unreachable {
        cause: cause(&e),
        url,
    })
}

/// Adds the scheme operators often leave out, so `--collector db01:7070` works.
pub fn normalise(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

/// The innermost cause of a transport error as a short phrase (`connection refused`): tonic's
/// own text ("transport error") says nothing an operator can act on.
fn cause(e: &tonic::transport::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    phrase(&inner.to_string())
}

/// `Connection refused (os error 111)` → `connection refused`.
fn phrase(text: &str) -> String {
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_get_a_scheme() {
        assert_eq!(normalise("db01:7070"), "http://db01:7070");
        assert_eq!(normalise("http://db01:7070"), "http://db01:7070");
    }

    #[test]
    fn os_errors_become_short_phrases() {
        assert_eq!(
            phrase("Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(phrase("timed out"), "timed out");
        assert_eq!(phrase(""), "unknown error");
    }

    #[tokio::test]
    async fn refused_connection_is_reported_as_unreachable() {
        // Bind then drop a listener so the port is known to be closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind a local port");
        let url = format!("127.0.0.1:{port}");
        match channel(&url).await {
            Err(Failure::Unreachable { url, cause }) => {
                assert_eq!(url, format!("http://127.0.0.1:{port}"));
                assert_eq!(cause, "connection refused");
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
