//! [`Server`]: `vmap serve` as a child process, or the router in this process, on port 0 of
//! the loopback; ready once `/readyz` answers 200; stopped when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Bytes;

use super::app::TestResponse;
use super::http::HttpClient;
use super::vmap_cli::vmap_command;

/// How often a waiting test asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// How long `vmap serve` may take to load its registry in a debug build.
const VMAP_READY_WITHIN: Duration = Duration::from_secs(120);

/// The line `vmap serve` logs, with the address it bound, before it loads the registry.
const LISTENING_LINE: &str = "listening; loading the registry";

/// A server on a loopback port of its own, with an [`HttpClient`] for it.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    pub address: SocketAddr,
    client: HttpClient,
    running: Running,
}

#[derive(Debug)]
enum Running {
    Process { child: Child, log: PathBuf },
    InProcess(Option<tokio::task::JoinHandle<()>>),
}

impl Server {
    /// `vmap serve --database-url DATABASE_URL --listen 127.0.0.1:0`, logging to
    /// `LOG_DIR/NAME.log`; returns once it is ready.
    pub async fn start_vmap(name: &str, database_url: &str, log_dir: &Path) -> Server {
        Server::start_vmap_with(name, database_url, log_dir, &[]).await
    }

    /// [`Server::start_vmap`] with settings in its environment (`VMAP_…` variables).
    pub async fn start_vmap_with(
        name: &str,
        database_url: &str,
        log_dir: &Path,
        env: &[(&str, &str)],
    ) -> Server {
        let mut server = Server::spawn_vmap(name, database_url, log_dir, env).await;
        server.wait_ready(VMAP_READY_WITHIN).await;
        server
    }

    /// [`Server::start_vmap_with`] that returns as soon as the server listens, ready or not.
    pub async fn spawn_vmap(
        name: &str,
        database_url: &str,
        log_dir: &Path,
        env: &[(&str, &str)],
    ) -> Server {
        let log = log_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = vmap_command(["serve", "--database-url", database_url])
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info,sqlx=error")
            .envs(env.iter().copied())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("start vmap serve");
        let mut running = Running::Process { child, log };
        let address = listening_address(name, &mut running).await;
        Server {
            name: name.to_owned(),
            address,
            client: HttpClient::new(address),
            running,
        }
    }

    /// `router` on a port of its own in this process, answering at once; ready or not is up
    /// to the router's state (see [`Server::wait_ready`]).
    pub async fn serve(router: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = vmap::api::serve(
                listener,
                router,
                vmap::api::ConnectionLimits::DEFAULT,
                vmap::api::Drain::new(),
            )
            .await;
        });
        Server {
            name: "in-process".to_owned(),
            address,
            client: HttpClient::new(address),
            running: Running::InProcess(Some(task)),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.client.get(path).await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> TestResponse {
        self.client.post(path, content_type, body).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.client.delete(path).await
    }

    /// Polls `/readyz` until it answers 200; fails the test after `within`, or as soon as a
    /// `vmap serve` child exits.
    pub async fn wait_ready(&mut self, within: Duration) {
        self.wait_for_status("/readyz", 200, within).await;
    }

    /// Polls `GET path` until it answers `status` and returns that answer; fails the test
    /// after `within`, or as soon as a `vmap serve` child exits.
    pub async fn wait_for_status(
        &mut self,
        path: &str,
        status: u16,
        within: Duration,
    ) -> TestResponse {
        let started = Instant::now();
        let mut poll = tokio::time::interval(POLL_EVERY);
        loop {
            poll.tick().await;
            self.assert_running();
            if let Ok(response) = self.client.try_get(path).await
                && response.status == status
            {
                return response;
            }
            assert!(
                started.elapsed() < within,
                "{} did not answer {status} to {path} within {within:?}:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// What a `vmap serve` child logged so far; empty for a server in this process.
    pub fn log_text(&self) -> String {
        match &self.running {
            Running::Process { log, .. } => std::fs::read_to_string(log).unwrap_or_default(),
            Running::InProcess(_) => String::new(),
        }
    }

    /// Sends SIGTERM to a `vmap serve` child (with `kill`, so the tests need no signal crate).
    pub fn terminate(&self) {
        let Running::Process { child, .. } = &self.running else {
            panic!("{} is not a child process", self.name);
        };
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", child.id());
    }

    /// Waits up to `within` for a `vmap serve` child to exit; its exit status, or `None`
    /// when it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let Running::Process { child, .. } = &mut self.running else {
            panic!("{} is not a child process", self.name);
        };
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = child.try_wait().expect("poll the child") {
                return Some(status);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        None
    }

    /// Stops the server and waits until its port is closed.
    pub async fn stop(mut self) {
        match &mut self.running {
            Running::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Running::InProcess(task) => {
                if let Some(task) = task.take() {
                    task.abort();
                    let _ = task.await;
                }
            }
        }
    }

    fn assert_running(&mut self) {
        if let Running::Process { child, log } = &mut self.running
            && let Some(status) = child.try_wait().expect("poll the child")
        {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{} exited with {status}:\n{log}", self.name);
        }
    }
}

/// The address a `vmap serve` child bound, read from its log.
async fn listening_address(name: &str, running: &mut Running) -> SocketAddr {
    let Running::Process { child, log } = running else {
        unreachable!("only a child process logs its address");
    };
    let started = Instant::now();
    let mut poll = tokio::time::interval(POLL_EVERY);
    loop {
        poll.tick().await;
        let text = std::fs::read_to_string(&*log).unwrap_or_default();
        let address = text
            .lines()
            .filter(|line| line.contains(LISTENING_LINE))
            .find_map(|line| {
                // `address=…` in text logs, `"address":"…"` in JSON ones.
                let text = match line.split_once("address=") {
                    Some((_, rest)) => rest.split_whitespace().next()?,
                    None => line.split_once("\"address\":\"")?.1.split('"').next()?,
                };
                text.parse().ok()
            });
        if let Some(address) = address {
            return address;
        }
        if let Some(status) = child.try_wait().expect("poll the child") {
            panic!("{name} exited with {status} before it listened:\n{text}");
        }
        assert!(
            started.elapsed() < VMAP_READY_WITHIN,
            "{name} has not said where it listens after {VMAP_READY_WITHIN:?}:\n{text}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.running {
            Running::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
                if std::thread::panicking() {
                    eprintln!("--- log of {} ---\n{}", self.name, self.log_text());
                }
            }
            Running::InProcess(task) => {
                if let Some(task) = task.take() {
                    task.abort();
                }
            }
        }
    }
}
