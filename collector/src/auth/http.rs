//! The auth model on the HTTP port: the Prometheus query API (`/api/v1/...`) is a read, so it
//! needs the viewer role, like the History gRPC service. The caller is identified as on the
//! gRPC port — `authorization: Bearer` with an operator token, a verified client certificate
//! naming an operator (mutual TLS), or anonymous, with loopback keeping full access when there
//! is no `[auth]` — and a refusal is counted and logged by the same code
//! ([`super::layer::AuthLayer`]). `/metrics` and `/healthz` are not behind it (docs/security.md).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;

use super::identify::{Peer, cert_names};
use super::layer::AuthLayer;
use super::{Need, Role};
use crate::conn::HttpListener;
use crate::core::Core;
use crate::http_tls::TlsListener;

/// Who is at the other end of an HTTP connection: its address and, over TLS, the names of
/// the client certificate rustls verified.
#[derive(Debug, Clone)]
pub struct HttpPeer {
    remote: SocketAddr,
    tls: bool,
    names: Vec<String>,
}

impl Connected<IncomingStream<'_, HttpListener>> for HttpPeer {
    fn connect_info(stream: IncomingStream<'_, HttpListener>) -> Self {
        Self {
            remote: *stream.remote_addr(),
            tls: false,
            names: Vec::new(),
        }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for HttpPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let names = stream
            .io()
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first().map(|c| cert_names(c.as_ref())))
            .unwrap_or_default();
        Self {
            remote: *stream.remote_addr(),
            tls: true,
            names,
        }
    }
}

impl HttpPeer {
    fn peer(&self) -> Peer<'static> {
        if self.tls {
            Peer::Tls(Some(self.remote), self.names.clone())
        } else {
            Peer::Tcp(Some(self.remote))
        }
    }
}

/// Middleware for the query API's routes: admits callers with the viewer role, answers
/// everyone else with Prometheus' error shape (401 without a credential, 403 with one that
/// lacks the role), so Grafana and promtool show the sentence.
pub async fn require_viewer(
    State(core): State<Arc<Core>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Without connection info (a router served without it) the caller is not on loopback.
    let peer = request
        .extensions()
        .get::<ConnectInfo<HttpPeer>>()
        .map_or(Peer::Tcp(None), |c| c.0.peer());
    let path = request.uri().path();
    let what = if path.starts_with("/reports") {
        format!("the reports ({path})")
    } else if path.starts_with("/console") {
        format!("the console ({path})")
    } else {
        format!("the query API ({path})")
    };
    let gate = AuthLayer {
        auth: Arc::clone(&core.auth),
        telemetry: Arc::clone(&core.telemetry),
    };
    match gate.check(Need::Role(Role::Viewer), &what, request.headers(), &peer) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(status) => refusal(&status),
    }
}

/// Admits the caller of an HTTP request to `route`, a line of the roles table (the console's
/// writes, `POST /console/api/...`), with the same identification, counting and logging as
/// the gRPC layer; the refusal's status otherwise.
pub fn admit(
    core: &Core,
    route: &str,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Result<super::Caller, tonic::Status> {
    let peer = extensions
        .get::<ConnectInfo<HttpPeer>>()
        .map_or(Peer::Tcp(None), |c| c.0.peer());
    let (need, what) = super::roles::need(route);
    let gate = AuthLayer {
        auth: Arc::clone(&core.auth),
        telemetry: Arc::clone(&core.telemetry),
    };
    gate.check(need, what, headers, &peer)
}

/// A refusal in Prometheus' error shape.
fn refusal(status: &tonic::Status) -> Response {
    let (code, kind) = match status.code() {
        tonic::Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
        _ => (StatusCode::FORBIDDEN, "forbidden"),
    };
    let body = serde_json::json!({"status": "error", "errorType": kind, "error": status.message()});
    let mut response = (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if code == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
