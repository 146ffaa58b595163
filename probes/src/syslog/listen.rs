//! The sockets: a UDP receiver (one message per datagram, RFC 5426) and a TCP listener with
//! one task per connection (RFC 6587 framing), all feeding [`Shared::handle`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use super::counts::{Dropped, Transport};
use super::framing::{Frame, Framer};
use super::{Shared, lock};

/// Kernel receive buffer asked for the UDP socket: bursts (a switch stack rebooting, a link
/// flapping) arrive faster than one task reads, and what the buffer cannot hold is lost
/// silently. Linux caps it at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;
/// Bytes read from a TCP connection at once.
const TCP_READ_CHUNK: usize = 16 * 1024;

/// A UDP socket bound to `address`.
pub fn bind_udp(address: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: a smaller buffer still works, it only drops sooner in a burst.
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    UdpSocket::from_std(socket.into())
}

/// A TCP listener on `address`; SO_REUSEADDR so a restart does not wait for old
/// connections in TIME_WAIT.
pub fn bind_tcp(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Receives datagrams until the task is aborted.
pub async fn run_udp(socket: UdpSocket, shared: Arc<Shared>) {
    let max = shared.settings.max_message_bytes;
    // One byte more than kept, to tell a datagram of exactly `max` from a longer one.
    let mut buf = vec![0u8; max + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let truncated = n > max;
                shared.handle(Transport::Udp, peer.ip(), &buf[..n.min(max)], truncated);
            }
            Err(e) => {
                if shared.io_errors.tick().is_some() {
                    tracing::warn!(probe = "syslog", error = %e, "UDP receive failed");
                }
            }
        }
    }
}

/// Accepts connections until the task is aborted; its connections end with it.
pub async fn run_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.io_errors.tick().is_some() {
                    tracing::warn!(probe = "syslog", error = %e, "TCP accept failed");
                }
                // Out of file descriptors: accepting again at once would spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if shared.connections.load(Ordering::Relaxed) >= shared.settings.max_connections {
            lock(&shared.counts).dropped(Transport::Tcp, Dropped::ConnectionLimit);
            if shared.refused.tick().is_some() {
                tracing::warn!(probe = "syslog", %peer, limit = shared.settings.max_connections,
                    "TCP connection refused: max_connections are open");
            }
            shared.progress.handled_one();
            continue;
        }
        let guard = Open::new(Arc::clone(&shared));
        connections.spawn(connection(stream, peer.ip(), guard));
    }
}

/// Counts an open connection for as long as it lives, however its task ends.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: Arc<Shared>) -> Self {
        shared.connections.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(mut stream: TcpStream, peer: IpAddr, open: Open) {
    let shared = &open.0;
    let mut framer = Framer::new(shared.settings.max_message_bytes);
    let mut buf = vec![0u8; TCP_READ_CHUNK];
    let mut frames = Vec::new();
    loop {
        let read = tokio::time::timeout(shared.settings.idle_timeout, stream.read(&mut buf)).await;
        let n = match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n], &mut frames);
        for frame in frames.drain(..) {
            deliver(shared, peer, frame);
        }
    }
    framer.finish(&mut frames);
    for frame in frames.drain(..) {
        deliver(shared, peer, frame);
    }
}

fn deliver(shared: &Shared, peer: IpAddr, frame: Frame) {
    match frame {
        Frame::Message { bytes, truncated } => {
            shared.handle(Transport::Tcp, peer, &bytes, truncated);
        }
        Frame::Error => {
            lock(&shared.counts).dropped(Transport::Tcp, Dropped::Framing);
            if let Some(n) = shared.bad_input.tick() {
                tracing::warn!(probe = "syslog", %peer, dropped = n,
                    "TCP bytes that are neither octet-counted nor LF-framed syslog skipped to the next line");
            }
            shared.progress.handled_one();
        }
    }
}
