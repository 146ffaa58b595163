//! The tower layer in front of every gRPC service: identify, check the method's need, refuse or
//! pass the request on with its [`Caller`] in the extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::identify::{Peer, identify, require};
use super::refusals::Reason;
use super::roles::{Need, need};
use super::{Auth, Caller};
use crate::telemetry::Telemetry;

/// What the layer needs: the checked `[auth]` and where refusals are counted.
#[derive(Clone)]
pub struct AuthLayer {
    pub auth: Arc<Auth>,
    pub telemetry: Arc<Telemetry>,
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            gate: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: AuthLayer,
}

impl AuthLayer {
    /// The caller of `req` if it may call the method it asks for; the refusal otherwise,
    /// already counted and (rate-limited) logged.
    pub fn admit<B>(&self, req: &http::Request<B>) -> Result<Caller, tonic::Status> {
        let (need, what) = need(req.uri().path());
        self.check(need, what, req.headers(), &Peer::of(req.extensions()))
    }

    /// The same check for a request that is not a gRPC method (the HTTP query API), whose
    /// `need` and name `what` the caller supplies.
    pub(super) fn check(
        &self,
        need: Need,
        what: &str,
        headers: &http::HeaderMap,
        peer: &Peer<'_>,
    ) -> Result<Caller, tonic::Status> {
        let checked = identify(&self.auth, headers, peer).and_then(|caller| match need {
            // The agent stream is checked on its hello, which names the agent.
            Need::Agent => Ok(caller),
            Need::Role(role) => require(&self.auth, &caller, role, what).map(|()| caller),
            Need::Unlisted => Err((
                Reason::UnknownMethod,
                tonic::Status::unimplemented(format!(
                    "{what} is not a method this collector serves"
                )),
            )),
        });
        checked.map_err(|(reason, status)| {
            self.telemetry.auth_refused.refuse(
                reason,
                Instant::now(),
                &peer.shown(),
                what,
                status.message(),
            );
            status
        })
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower_service::Service<http::Request<B>> for AuthService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        match self.gate.admit(&req) {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
                Box::pin(self.inner.call(req))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::{Operator, Role};

    fn gate(role: Role) -> AuthLayer {
        let op = Operator {
            name: "ada".into(),
            role,
            shared: false,
        };
        AuthLayer {
            auth: Arc::new(Auth {
                configured: true,
                operators: vec![("ada-token-0123456789".into(), op.clone())],
                operator_names: [("ada".to_owned(), op)].into(),
                ..Auth::default()
            }),
            telemetry: Arc::new(Telemetry::default()),
        }
    }

    fn call(path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .header(http::header::AUTHORIZATION, "Bearer ada-token-0123456789")
            .body(())
            .unwrap()
    }

    #[test]
    fn a_method_missing_from_the_table_is_refused_even_to_an_admin() {
        let admin = gate(Role::Admin);
        let refused = admin.admit(&call("/patrol.v1.History/Delete")).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unimplemented);
        assert_eq!(
            refused.message(),
            "/patrol.v1.History/Delete is not a method this collector serves"
        );
        assert_eq!(admin.telemetry.auth_refused.count(Reason::UnknownMethod), 1);
        // What the table lists, the admin may call.
        assert_eq!(
            admin.admit(&call("/patrol.v1.Rules/Reload")).unwrap().name,
            "ada"
        );
    }

    #[test]
    fn the_history_is_read_by_a_viewer_but_reload_is_not() {
        let viewer = gate(Role::Viewer);
        for read in [
            "/patrol.v1.History/Query",
            "/patrol.v1.History/Series",
            "/patrol.v1.History/Status",
        ] {
            assert!(viewer.admit(&call(read)).is_ok(), "{read}");
        }
        let refused = viewer.admit(&call("/patrol.v1.Rules/Reload")).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(viewer.telemetry.auth_refused.count(Reason::Role), 1);
    }
}
