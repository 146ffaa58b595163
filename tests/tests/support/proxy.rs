//! A loopback TCP proxy whose connections a test can cut at will, to break agent streams the
//! way a flaky network does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct CuttableProxy {
    pub addr: SocketAddr,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl CuttableProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let p = Arc::clone(&pipes);
        let accept = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                p.lock().expect("pipes").push(handle);
            }
        });
        Self {
            addr,
            pipes,
            accept,
        }
    }

    /// Drops every live connection mid-stream (both directions at once).
    pub fn cut(&self) -> usize {
        let mut pipes = self.pipes.lock().expect("pipes");
        let n = pipes.iter().filter(|h| !h.is_finished()).count();
        for h in pipes.drain(..) {
            h.abort();
        }
        n
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
