//! The connection budget of a listener, applied at accept: at most `max_connections` open;
//! a connection that has not identified itself (an agent's accepted hello, or any other gRPC
//! call such as `patrolctl`'s) within `hello_timeout` is closed; agents may hold at most
//! `max_connections - connection_reserve`, so `patrolctl` always finds room; and when the
//! budget is full the oldest unidentified connection makes room for the newcomer, so idle
//! sockets cannot lock anyone out. The HTTP port has a budget of its own (so `/healthz` never
//! competes with agents), where every connection is closed after `hello_timeout` without a byte.
//!
//! Every refusal and eviction is counted (`patrol_connections_refused_total`) and logged,
//! rate-limited.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use crate::ratelog::RateLog;
use crate::telemetry::Telemetry;

/// `[connections]` in the collector's file. Every key is optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsSection {
    /// Connections open at once on the gRPC port (agents and `patrolctl`). Default 4096. The
    /// process needs as many file descriptors and more: the packaged unit sets
    /// `LimitNOFILE=65536`.
    pub max_connections: Option<NonZeroUsize>,
    /// Of `max_connections`, how many agents can never take: room for `patrolctl`. Default 64.
    pub connection_reserve: Option<usize>,
    /// Connections on the HTTP port (`/metrics`, `/healthz`). Default 256.
    pub max_http_connections: Option<NonZeroUsize>,
    /// How long a new gRPC connection may stay without an accepted hello or a call, and an HTTP
    /// connection without a byte, before it is closed. Default 10s; between 1s and 5m.
    #[serde(default, with = "humantime_serde")]
    pub hello_timeout: Option<Duration>,
    /// Incident watchers (`patrolctl tail`) connected at once; more are refused. Default 64.
    pub max_watchers: Option<NonZeroUsize>,
}

/// Checked connection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    pub max_connections: usize,
    pub connection_reserve: usize,
    pub max_http_connections: usize,
    pub hello_timeout: Duration,
    pub max_watchers: usize,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            connection_reserve: 64,
            max_http_connections: 256,
            hello_timeout: Duration::from_secs(10),
            max_watchers: 64,
        }
    }
}

impl ConnectionsSection {
    pub fn settle(self) -> Result<Connections, String> {
        let d = Connections::default();
        let c = Connections {
            max_connections: self
                .max_connections
                .map_or(d.max_connections, NonZeroUsize::get),
            connection_reserve: self.connection_reserve.unwrap_or(d.connection_reserve),
            max_http_connections: self
                .max_http_connections
                .map_or(d.max_http_connections, NonZeroUsize::get),
            hello_timeout: self.hello_timeout.unwrap_or(d.hello_timeout),
            max_watchers: self.max_watchers.map_or(d.max_watchers, NonZeroUsize::get),
        };
        if c.connection_reserve >= c.max_connections {
            return Err(format!(
                "[connections] connection_reserve {} leaves no room for agents in max_connections \
                 {}: make it smaller than max_connections",
                c.connection_reserve, c.max_connections
            ));
        }
        if c.hello_timeout < Duration::from_secs(1) || c.hello_timeout > Duration::from_secs(300) {
            return Err(format!(
                "[connections] hello_timeout {} is out of range: give it between 1s and 5m",
                humantime_serde::re::humantime::format_duration(c.hello_timeout)
            ));
        }
        Ok(c)
    }
}

const WAITING: u8 = 0;
const CLIENT: u8 = 1;
const AGENT: u8 = 2;

/// One connection's standing, shared between its socket and the requests on it.
#[derive(Debug, Default)]
pub struct ConnState {
    role: AtomicU8,
    evicted: AtomicBool,
    /// The reader parked on the socket, woken to close it at once on eviction.
    waker: Mutex<Option<Waker>>,
}

/// What requests find in their extensions (tonic's `ConnectInfo` of [`Guarded`]).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: Option<SocketAddr>,
    pub state: Arc<ConnState>,
    budget: Arc<Budget>,
}

impl ConnInfo {
    /// A call other than an agent's stream: the connection is a client's (`patrolctl`).
    pub fn identify_client(&self) {
        self.budget.identify(&self.state, CLIENT);
    }

    /// An agent's hello was accepted; refused when agents already hold their share.
    pub fn identify_agent(&self) -> Result<(), tonic::Status> {
        if self.budget.identify(&self.state, AGENT) {
            return Ok(());
        }
        let b = &self.budget;
        b.telemetry.connection_refused(b.listener, "agent_share");
        b.log.warn("agent_share", || {
            format!(
                "agent refused: agents hold {} connections, their share of max_connections {} \
                 less connection_reserve {}",
                b.max_agents,
                b.max,
                b.max - b.max_agents
            )
        });
        Err(tonic::Status::resource_exhausted(format!(
            "max_connections: agents already hold {} connections, all the collector gives them \
             ({} less the {} kept for patrolctl); raise [connections] max_connections on the \
             collector",
            b.max_agents,
            b.max,
            b.max - b.max_agents
        )))
    }
}

/// The connection info of a tonic request, plaintext or TLS.
pub fn info<T>(request: &tonic::Request<T>) -> Option<&ConnInfo> {
    request.extensions().get::<ConnInfo>().or_else(|| {
        request
            .extensions()
            .get::<tonic::transport::server::TlsConnectInfo<ConnInfo>>()
            .map(|t| t.get_ref())
    })
}

/// A tonic interceptor for the services `patrolctl` calls: the connection is a client's.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
pub fn client_call(request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    if let Some(i) = info(&request) {
        i.identify_client();
    }
    Ok(request)
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    waiting: usize,
    agents: usize,
    /// Connections not identified yet, oldest first (dead and identified ones are skipped).
    queue: VecDeque<Weak<ConnState>>,
}

/// The budget of one listener.
#[derive(Debug)]
pub struct Budget {
    listener: &'static str,
    max: usize,
    max_agents: usize,
    /// Most unidentified connections at once.
    max_waiting: usize,
    timeout: Duration,
    /// HTTP: the timeout is an idle timeout, renewed by every read; nothing is identified.
    idle_mode: bool,
    counts: Mutex<Counts>,
    telemetry: Arc<Telemetry>,
    log: RateLog,
}

impl Budget {
    pub fn grpc(c: &Connections, telemetry: Arc<Telemetry>) -> Arc<Self> {
        let share = c.max_connections - c.connection_reserve;
        Arc::new(Self {
            listener: "grpc",
            max: c.max_connections,
            max_agents: share,
            max_waiting: share,
            timeout: c.hello_timeout,
            idle_mode: false,
            counts: Mutex::default(),
            telemetry,
            log: RateLog::default(),
        })
    }

    pub fn http(c: &Connections, telemetry: Arc<Telemetry>) -> Arc<Self> {
        Arc::new(Self {
            listener: "http",
            max: c.max_http_connections,
            max_agents: 0,
            max_waiting: c.max_http_connections,
            timeout: c.hello_timeout,
            idle_mode: true,
            counts: Mutex::default(),
            telemetry,
            log: RateLog::default(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.counts().open
    }

    /// Admits a new connection, evicting the oldest unidentified one when the budget is full;
    /// `None` (counted and logged) when there is none to evict.
    fn admit(self: &Arc<Self>, stream: TcpStream, remote: Option<SocketAddr>) -> Option<Guarded> {
        let state = Arc::new(ConnState::default());
        {
            let mut c = self.counts();
            if (c.open >= self.max || c.waiting >= self.max_waiting) && !self.evict_oldest(&mut c) {
                drop(c);
                self.telemetry
                    .connection_refused(self.listener, "max_connections");
                self.log.warn("refused", || {
                    format!(
                        "{} connection from {} refused: {} connections open, max_connections \
                         {} (every one of them identified)",
                        self.listener,
                        remote.map(|a| a.to_string()).unwrap_or_default(),
                        self.max,
                        self.max
                    )
                });
                return None;
            }
            c.open += 1;
            c.waiting += 1;
            c.queue.push_back(Arc::downgrade(&state));
            self.telemetry.connections_open(self.listener, c.open);
        }
        let _ = stream.set_nodelay(true);
        Some(Guarded {
            inner: stream,
            info: ConnInfo {
                remote,
                state,
                budget: Arc::clone(self),
            },
            deadline: Box::pin(tokio::time::sleep(self.timeout)),
        })
    }

    fn evict_oldest(&self, c: &mut Counts) -> bool {
        while let Some(weak) = c.queue.pop_front() {
            let Some(state) = weak.upgrade() else {
                continue;
            };
            if state.role.load(Ordering::Acquire) != WAITING
                || state.evicted.swap(true, Ordering::AcqRel)
            {
                continue;
            }
            // Counted closed now: it closes at its next poll, woken here.
            c.open -= 1;
            c.waiting -= 1;
            if let Some(w) = state
                .waker
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
            {
                w.wake();
            }
            self.telemetry
                .connection_refused(self.listener, "evicted_idle");
            self.log.warn("evicted", || {
                format!(
                    "{} budget full ({} connections): closed the oldest connection that had not \
                     identified itself to make room",
                    self.listener, self.max
                )
            });
            return true;
        }
        false
    }

    /// Moves a waiting connection to `role`; false when agents already hold their share.
    fn identify(&self, state: &ConnState, role: u8) -> bool {
        if self.idle_mode {
            return true;
        }
        let mut c = self.counts();
        let was = state.role.load(Ordering::Acquire);
        if was == role || was == AGENT {
            return true;
        }
        if role == AGENT && c.agents >= self.max_agents {
            return false;
        }
        state.role.store(role, Ordering::Release);
        if role == AGENT {
            c.agents += 1;
        }
        if was == WAITING && !state.evicted.load(Ordering::Acquire) {
            c.waiting -= 1;
        }
        true
    }

    fn closed(&self, state: &ConnState) {
        let mut c = self.counts();
        let role = state.role.load(Ordering::Acquire);
        if !state.evicted.load(Ordering::Acquire) {
            c.open -= 1;
            if role == WAITING {
                c.waiting -= 1;
            }
        }
        if role == AGENT {
            c.agents -= 1;
        }
        // Identified and closed connections leave the queue lazily; keep it from growing with
        // them when nothing is ever evicted.
        if c.queue.len() > 2 * c.waiting + 64 {
            c.queue.retain(|w| {
                w.upgrade()
                    .is_some_and(|s| s.role.load(Ordering::Acquire) == WAITING)
            });
        }
        self.telemetry.connections_open(self.listener, c.open);
    }

    /// Accepts connections on `listener` forever, yielding the admitted ones.
    pub fn incoming(
        self: Arc<Self>,
        listener: TcpListener,
    ) -> impl futures::Stream<Item = io::Result<Guarded>> + Send + 'static {
        futures::stream::unfold(listener, move |listener| {
            let budget = Arc::clone(&self);
            async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, remote)) => {
                            if let Some(g) = budget.admit(stream, Some(remote)) {
                                return Some((Ok(g), listener));
                            }
                        }
                        Err(e) => {
                            // Out of descriptors (EMFILE) and the like: say so, wait, go on.
                            budget
                                .telemetry
                                .connection_refused(budget.listener, "accept_error");
                            budget.log.warn("accept", || {
                                format!(
                                    "{} accept failed: {e} (out of file descriptors? see \
                                     LimitNOFILE and [connections] max_connections)",
                                    budget.listener
                                )
                            });
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        })
    }
}

/// The HTTP listener for axum, under a budget.
pub struct HttpListener {
    pub listener: TcpListener,
    pub budget: Arc<Budget>,
}

impl axum::serve::Listener for HttpListener {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => {
                    if let Some(g) = self.budget.admit(stream, Some(remote)) {
                        return (g, remote);
                    }
                }
                Err(e) => {
                    self.budget
                        .telemetry
                        .connection_refused(self.budget.listener, "accept_error");
                    self.budget.log.warn("accept", || {
                        format!("http accept failed: {e} (out of file descriptors?)")
                    });
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A socket under its listener's budget: closed (reads fail) when its deadline passes while
/// unidentified, or when it is evicted.
pub struct Guarded {
    inner: TcpStream,
    info: ConnInfo,
    deadline: Pin<Box<Sleep>>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.info.budget.closed(&self.info.state);
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let state = &this.info.state;
        if state.evicted.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "evicted: the connection budget is full",
            )));
        }
        let watched = this.info.budget.idle_mode || state.role.load(Ordering::Acquire) == WAITING;
        if watched && this.deadline.as_mut().poll(cx).is_ready() {
            let b = &this.info.budget;
            b.telemetry.connection_refused(b.listener, "hello_timeout");
            b.log.info("timeout", || {
                format!(
                    "{} connection from {} closed: nothing {} within {}",
                    b.listener,
                    this.info.remote.map(|a| a.to_string()).unwrap_or_default(),
                    if b.idle_mode {
                        "received"
                    } else {
                        "identified it (no accepted hello, no call)"
                    },
                    humantime_serde::re::humantime::format_duration(b.timeout)
                )
            });
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no hello within the deadline",
            )));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &r {
            Poll::Pending => {
                *state
                    .waker
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cx.waker().clone());
            }
            Poll::Ready(Ok(())) if this.info.budget.idle_mode && buf.filled().len() > before => {
                let next = Instant::now() + this.info.budget.timeout;
                this.deadline.as_mut().reset(next);
            }
            Poll::Ready(_) => {}
        }
        r
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises the soft descriptor limit as far as the hard one allows when the budgets need more,
/// and warns when even that is too little.
pub fn check_descriptors(c: &Connections) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    // Beyond the connections: the store, its WAL, the rule and site watchers, log files.
    let need = (c.max_connections + c.max_http_connections + 256) as u64;
    let mut limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= need {
        return;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    limit.current = Some(need.min(hard));
    let raised = setrlimit(Resource::Nofile, limit).is_ok();
    let now = if raised {
        limit.current.unwrap_or(soft)
    } else {
        soft
    };
    if now < need {
        tracing::warn!(
            limit = now,
            need,
            "the file descriptor limit is below what [connections] allows: connections will be \
             refused before the budget is reached; set LimitNOFILE={need} or more (the packaged \
             unit sets 65536) or lower max_connections"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_reserve_as_large_as_the_budget_is_refused() {
        let s = ConnectionsSection {
            max_connections: NonZeroUsize::new(10),
            connection_reserve: Some(10),
            ..ConnectionsSection::default()
        };
        assert!(s.settle().unwrap_err().contains("leaves no room"));
        let s = ConnectionsSection {
            hello_timeout: Some(Duration::ZERO),
            ..ConnectionsSection::default()
        };
        assert!(s.settle().unwrap_err().contains("between 1s and 5m"));
    }
}
