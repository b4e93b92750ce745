//! [`TcpProxy`]: a loopback TCP proxy the test opens and closes, to make a database
//! unreachable for one server without touching the database server itself.
//!
//! Closed, the proxy does not listen (a connection is refused, as when PostgreSQL is
//! stopped) and every tunnel it carried is cut; opened again, it listens on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A proxy from a loopback port of its own to `target`.
#[derive(Debug)]
pub struct TcpProxy {
    pub address: SocketAddr,
    target: SocketAddr,
    /// The task accepting connections while the proxy is open.
    accepting: Mutex<Option<JoinHandle<()>>>,
    /// Every tunnel: cut when the proxy closes.
    tunnels: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// A proxy to `target`, listening.
    pub async fn open_to(target: SocketAddr) -> TcpProxy {
        let proxy = TcpProxy::closed_to(target).await;
        proxy.open().await;
        proxy
    }

    /// A proxy to `target` that does not listen yet: its port is drawn and let go again.
    pub async fn closed_to(target: SocketAddr) -> TcpProxy {
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0")
            .local_addr()
            .expect("local address");
        TcpProxy {
            address,
            target,
            accepting: Mutex::new(None),
            tunnels: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Listens on the proxy's port and carries every connection to the target.
    pub async fn open(&self) {
        // tokio sets SO_REUSEADDR, so the port is free again at once after `close`.
        let listener = TcpListener::bind(self.address)
            .await
            .unwrap_or_else(|err| panic!("listen again on {}: {err}", self.address));
        let (target, tunnels) = (self.target, self.tunnels.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let tunnel = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let mut client = client;
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tunnels.lock().expect("proxy tunnels").push(tunnel);
            }
        });
        *self.accepting.lock().expect("proxy listener") = Some(accepting);
    }

    /// Stops listening and cuts every tunnel; returns once the port refuses connections.
    pub async fn close(&self) {
        let accepting = self.accepting.lock().expect("proxy listener").take();
        if let Some(accepting) = accepting {
            accepting.abort();
            let _ = accepting.await;
        }
        let tunnels: Vec<JoinHandle<()>> = self
            .tunnels
            .lock()
            .expect("proxy tunnels")
            .drain(..)
            .collect();
        for tunnel in &tunnels {
            tunnel.abort();
        }
        for tunnel in tunnels {
            let _ = tunnel.await;
        }
    }

    /// `url` (a `postgres://` URL) with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let credentials = authority
            .rsplit_once('@')
            .map_or(String::new(), |(credentials, _)| format!("{credentials}@"));
        format!("{scheme}://{credentials}{}/{path}", self.address)
    }
}

/// The host and port a `postgres://` URL names, resolved.
pub fn target_of(url: &str) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://").expect("a URL with a scheme").1;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    host_port
        .to_socket_addrs()
        .expect("resolve the database host")
        .next()
        .expect("an address for the database host")
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Ok(Some(accepting)) = self.accepting.lock().map(|mut task| task.take()) {
            accepting.abort();
        }
        if let Ok(tunnels) = self.tunnels.lock() {
            for tunnel in tunnels.iter() {
                tunnel.abort();
            }
        }
    }
}
