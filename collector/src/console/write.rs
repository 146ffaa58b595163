//! The console's writes: `POST /console/api/incidents/{id}/{ack|assign|comment|resolve}`
//! with a JSON body (`note`, `to`, and `by` for a shared identity), and `GET
//! /console/api/whoami`, which tells the page who it is signed in as.
//!
//! Who acts is the caller the auth code identifies — an operator token sent by the page as
//! `Authorization: Bearer` (kept in `sessionStorage`, never a cookie), a client certificate,
//! or the anonymous caller where the configuration lets it write — never a name typed in the
//! form: the journal entry is made by the same store operation and the same
//! `Caller::actor` rule as the gRPC API's. The need comes from the roles table
//! (`auth::roles`, operator). A write must also carry `X-Patrol-Console: 1` and, when the
//! browser sends an `Origin`, come from this collector's own origin: a page elsewhere cannot
//! add that header without a CORS preflight this server never grants, so an ambient
//! credential (a client certificate, loopback without `[auth]`) cannot be ridden by another
//! site (docs/security.md, "The console").

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use patrol_proto::model::now_ms;
use patrol_store::Op;
use serde::Deserialize;

use super::Refusal;
use crate::auth::{Caller, Role};
use crate::core::Core;

/// The header every console write carries.
pub const CONSOLE_HEADER: &str = "x-patrol-console";

/// Largest body a write may have: the longest note and names, as JSON, with room.
const MAX_BODY: usize = 64 << 10;

/// A write's body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    /// The note (required for a comment).
    #[serde(default)]
    note: String,
    /// Whom to assign to.
    #[serde(default)]
    to: String,
    /// Who acts, for a shared identity only (a personal identity is the actor).
    #[serde(default)]
    by: String,
}

/// What the console can do to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Ack,
    Assign,
    Comment,
    Resolve,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "ack" => Action::Ack,
            "assign" => Action::Assign,
            "comment" => Action::Comment,
            "resolve" => Action::Resolve,
            _ => return None,
        })
    }

    /// The line of the roles table this write is checked against.
    fn route(self) -> &'static str {
        match self {
            Action::Ack => "POST /console/api/incidents/{id}/ack",
            Action::Assign => "POST /console/api/incidents/{id}/assign",
            Action::Comment => "POST /console/api/incidents/{id}/comment",
            Action::Resolve => "POST /console/api/incidents/{id}/resolve",
        }
    }
}

/// A refused admission as an HTTP answer: 401 without a (valid) credential, 403 with one that
/// lacks the role.
fn refused(status: &tonic::Status) -> Refusal {
    let code = match status.code() {
        tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    Refusal(code, status.message().to_owned())
}

/// Refuses a write that could come from another site's page: it must carry
/// [`CONSOLE_HEADER`], and an `Origin`, when sent, must be this server's.
pub fn same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.get(CONSOLE_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "a console write must carry the header X-Patrol-Console: 1 (the console's own page \
             sends it; a form or script on another site cannot)"
                .to_owned(),
        ));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let theirs = url::Url::parse(origin).ok().and_then(|u| {
        let host = u.host_str()?.to_owned();
        Some(match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        })
    });
    if theirs.as_deref() == Some(host) && !host.is_empty() {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::FORBIDDEN,
            format!(
                "a console write from another origin ({}) is refused: open the console from \
                 this collector",
                origin.chars().take(200).collect::<String>()
            ),
        ))
    }
}

pub async fn act(
    State(core): State<Arc<Core>>,
    Path((id, op)): Path<(String, String)>,
    request: Request,
) -> Response {
    match act_inner(&core, &id, &op, request).await {
        Ok(r) => r,
        Err(r) => r.into_response(),
    }
}

async fn act_inner(
    core: &Arc<Core>,
    id: &str,
    op: &str,
    request: Request,
) -> Result<Response, Refusal> {
    let action = Action::parse(op).ok_or_else(|| {
        Refusal(
            StatusCode::NOT_FOUND,
            "no such console action: ack, assign, comment or resolve".to_owned(),
        )
    })?;
    let (parts, body) = request.into_parts();
    let caller = crate::auth::http::admit(core, action.route(), &parts.headers, &parts.extensions)
        .map_err(|s| refused(&s))?;
    same_origin(&parts.headers)?;
    let id: u64 = id.parse().map_err(|_| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "'{}' is not an incident number",
                id.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {MAX_BODY} bytes"),
        )
    })?;
    let body: Body = if bytes.is_empty() {
        Body::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!(
                    "the request body is not the console's JSON ({{\"note\", \"to\", \"by\"}}): {e}"
                ),
            )
        })?
    };
    let by = caller.actor(&body.by).map_err(|s| refused(&s))?;
    crate::api::name("by", &by).map_err(|s| refused(&s))?;
    let note = crate::api::note(&body.note).map_err(|s| refused(&s))?;
    let now = now_ms();
    let store = &core.store;
    let done = match action {
        Action::Ack => store.acknowledge(id, &by, note, now).await,
        Action::Resolve => store.resolve(id, &by, note, now).await,
        Action::Comment => store.act(id, Op::Comment, &by, note, now).await,
        Action::Assign => {
            let to = body.to.trim();
            if to.is_empty() {
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    "say whom to assign it to".to_owned(),
                ));
            }
            crate::api::name("to", to).map_err(|s| refused(&s))?;
            store
                .act(id, Op::Assign(to.to_owned()), &by, note, now)
                .await
        }
    };
    let i = done.map_err(Refusal::from)?;
    core.telemetry.console.writes.inc();
    tracing::info!(incident = id, action = op, actor = %by, peer = %caller.peer, "console write");
    let out = serde_json::json!({"id": i.id, "state": i.state.as_str(), "actor": by});
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out.to_string(),
    )
        .into_response())
}

/// Who the page is signed in as, and whether it may write: `{name, role, shared, how,
/// can_write}`. Behind the viewer check, which put the caller in the extensions.
pub async fn whoami(caller: Option<Extension<Caller>>) -> Response {
    let Some(Extension(c)) = caller else {
        return Refusal(StatusCode::UNAUTHORIZED, "not signed in".to_owned()).into_response();
    };
    let how = match c.how {
        crate::auth::How::Token => "token",
        crate::auth::How::Certificate => "certificate",
        crate::auth::How::Socket => "socket",
        crate::auth::How::Anonymous => "anonymous",
    };
    let out = serde_json::json!({
        "name": c.name,
        "role": c.role.map(Role::as_str),
        "shared": c.shared,
        "how": how,
        "can_write": c.role.is_some_and(|r| r >= Role::Operator),
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out.to_string(),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_write_needs_the_console_header_and_this_origin() {
        let ok = headers(&[("x-patrol-console", "1"), ("host", "127.0.0.1:7071")]);
        assert!(same_origin(&ok).is_ok());
        let same = headers(&[
            ("x-patrol-console", "1"),
            ("host", "127.0.0.1:7071"),
            ("origin", "http://127.0.0.1:7071"),
        ]);
        assert!(same_origin(&same).is_ok());
        let foreign = headers(&[
            ("x-patrol-console", "1"),
            ("host", "127.0.0.1:7071"),
            ("origin", "http://evil.example"),
        ]);
        let r = same_origin(&foreign).unwrap_err();
        assert_eq!(r.0, StatusCode::FORBIDDEN);
        assert!(
            r.1.contains("another origin (http://evil.example)"),
            "{}",
            r.1
        );
        let bare = headers(&[("host", "127.0.0.1:7071")]);
        assert!(
            same_origin(&bare)
                .unwrap_err()
                .1
                .contains("X-Patrol-Console")
        );
        let null = headers(&[
            ("x-patrol-console", "1"),
            ("host", "127.0.0.1:7071"),
            ("origin", "null"),
        ]);
        assert!(same_origin(&null).is_err());
    }

    #[test]
    fn every_action_has_a_line_in_the_roles_table() {
        for op in ["ack", "assign", "comment", "resolve"] {
            let a = Action::parse(op).unwrap();
            assert_eq!(
                crate::auth::roles::need(a.route()).0,
                crate::auth::Need::Role(Role::Operator),
                "{op}"
            );
        }
        assert_eq!(Action::parse("close"), None);
    }
}
