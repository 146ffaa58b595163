//! The tower layer in front of every gRPC service: identify, check the method's need, refuse or
//! pass the request on with its [`Caller`] in the extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::identify::{Peer, identify, require};
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
        let path = req.uri().path();
        let (need, what) = need(path);
        let peer = Peer::of(req.extensions());
        let checked = identify(&self.auth, req.headers(), &peer).and_then(|caller| match need {
            // The agent stream is checked on its hello, which names the agent.
            Need::Agent => Ok(caller),
            Need::Role(role) => require(&self.auth, &caller, role, what).map(|()| caller),
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
