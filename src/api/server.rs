//! Serving the router on HTTP/1.1 connections (hyper), with vmap's connection timeouts.
//!
//! Each connection has a [`Clock`] that knows whether it is idle (open, or its last answer
//! sent), receiving a request's headers (bytes came while idle), or busy (a request is being
//! answered). A watchdog closes an idle connection after the idle timeout and drops one
//! whose headers take longer than the header-read timeout; a request body that sends
//! nothing for the body-read timeout fails, which ends an assignment and gives its slot
//! back.
//!
//! Decisions:
//! - hyper's own `header_read_timeout` is not used: its timer starts as soon as a
//!   connection falls idle, so it would also close kept-alive connections after the header
//!   timeout, and the two limits could not differ.
//! - An answer given while the request body is still unread (429 for too many assignments,
//!   401, 413, 415…) carries `Connection: close`; the connection is then half-closed and
//!   what the client still sends is read and dropped for a while ([`LINGER_FOR`], or until
//!   it stops for [`LINGER_IDLE`]) before it is closed. Closing at once would reset the
//!   connection under a client that is still uploading, and a client that reads only once
//!   its upload is sent would see a broken pipe instead of the answer. Reading the rest of
//!   the body before answering was the alternative, but it would take in up to 512 MiB only
//!   to refuse it. A body dropped after its answer began (an assignment that stopped
//!   reading a list over its limit) makes the connection linger the same way once the
//!   answer is sent; it cannot say `Connection: close` any more, so it just closes.
//! - On SIGTERM the listener is kept open through the drain, and each connection opened
//!   then serves one request (`/readyz` answers 503 `shutting_down`, see `drain.rs`): with
//!   the listener closed at once, a load balancer could not learn of the drain from
//!   `/readyz`. The server exits once every connection has closed, or after the grace.
//! - The body-read timeout is a limit on silence, not on the whole body: a large list on a
//!   slow link keeps going as long as it keeps coming.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// How long a connection that answered before reading its request body goes on reading
/// (and dropping) what the client still sends, at most…
const LINGER_FOR: Duration = Duration::from_secs(30);
/// …and how long it waits for more before it closes.
const LINGER_IDLE: Duration = Duration::from_secs(2);

/// The timeouts of a connection; every one a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers, from their first byte.
    pub header_read_timeout: Duration,
    /// Longest a connection may stay open without a request: after it opens, and between
    /// an answer and the next request.
    pub idle_timeout: Duration,
    /// Longest a request body may send nothing while the server waits for it.
    pub body_read_timeout: Duration,
    /// Longest the server drains after SIGTERM before it exits anyway.
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(30),
    };
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits::DEFAULT
    }
}

/// Serves `router` on an already bound listener until ctrl-c/SIGTERM, then drains: `drain`
/// is started (the router answers by it, see `drain.rs`), the open connections finish the
/// answers they began and close, and new connections are answered one request each, until
/// every connection has closed or `limits.shutdown_grace` has passed (or a second signal
/// comes). Returns `Ok` either way: a drain cut short by its grace is logged.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    drain: super::Drain,
) -> io::Result<()> {
    // Every connection holds a receiver; `closed()` is how the server waits for them.
    let (closing, closing_receiver) = watch::channel(false);
    let mut shutdown = std::pin::pin!(super::shutdown_signal());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::error!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits,
            closing_receiver.clone(),
            Requests::Many,
        ));
    }
    drain.start();
    tracing::info!(
        grace_s = limits.shutdown_grace.as_secs_f64(),
        "draining: finishing the requests in flight, /readyz answers 503"
    );
    drop(closing_receiver);
    let _ = closing.send(true);
    let mut grace = std::pin::pin!(tokio::time::sleep(limits.shutdown_grace));
    let mut second_signal = std::pin::pin!(super::shutdown_signal());
    loop {
        tokio::select! {
            () = closing.closed() => {
                tracing::info!("drained; exiting");
                break;
            }
            () = &mut grace => {
                tracing::warn!(
                    connections = closing.receiver_count(),
                    "the shutdown grace ran out; closing the connections still open"
                );
                break;
            }
            () = &mut second_signal => {
                tracing::warn!("a second signal; exiting without waiting for the drain");
                break;
            }
            accepted = listener.accept() => {
                // Answered once (`/readyz` 503, new work 503 `shutting_down`), then closed.
                if let Ok((stream, peer)) = accepted {
                    tokio::spawn(serve_connection(
                        stream,
                        peer,
                        router.clone(),
                        limits,
                        closing.subscribe(),
                        Requests::One,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// How many requests a connection serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requests {
    /// As many as the client sends (keep-alive).
    Many,
    /// One, then the connection closes: a connection opened during the drain.
    One,
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
    requests: Requests,
) {
    let clock = Arc::new(Clock::new());
    let io = TokioIo::new(Watched {
        stream,
        clock: clock.clone(),
    });
    let service = ConnectionService {
        router,
        clock: clock.clone(),
        body_read_timeout: limits.body_read_timeout,
        peer,
    };
    let mut connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(requests == Requests::Many)
        .serve_connection(io, service);
    let mut shutting_down = false;
    let served = loop {
        let deadline = clock.deadline(&limits);
        tokio::select! {
            served = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break served,
            () = sleep_until(deadline) => match clock.expired(&limits) {
                Some(Phase::Head) => return,
                Some(Phase::Idle) if !shutting_down => {
                    Pin::new(&mut connection).graceful_shutdown();
                    shutting_down = true;
                }
                _ => {}
            },
            () = clock.changed.notified() => {}
            _ = closing.changed(), if !shutting_down => {
                Pin::new(&mut connection).graceful_shutdown();
                shutting_down = true;
            }
        }
    };
    if served.is_err() {
        return;
    }
    let mut stream = connection.into_parts().io.into_inner().stream;
    let _ = stream.shutdown().await;
    if clock.left_a_body_unread.load(Ordering::Relaxed) {
        linger(stream).await;
    }
}

/// Reads and drops what the client still sends after the answer (see the Decisions).
async fn linger(mut stream: TcpStream) {
    let until = Instant::now() + LINGER_FOR;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let wait = until.min(Instant::now() + LINGER_IDLE);
        match tokio::time::timeout_at(wait, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request: the connection just opened, or its last answer was sent.
    Idle,
    /// Bytes of a request came, its headers are not complete yet.
    Head,
}

#[derive(Debug)]
struct Clock {
    state: Mutex<ClockState>,
    /// Told when a deadline moves (a request's first bytes come; the last request in flight
    /// ends), so that the watchdog looks again.
    changed: Notify,
    /// A request's body was dropped before its end: the client may still be sending.
    left_a_body_unread: AtomicBool,
}

#[derive(Debug)]
struct ClockState {
    in_flight: usize,
    idle_since: Instant,
    head_since: Option<Instant>,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            state: Mutex::new(ClockState {
                in_flight: 0,
                idle_since: Instant::now(),
                head_since: None,
            }),
            changed: Notify::new(),
            left_a_body_unread: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // Every update leaves the state whole, so a poisoned lock still holds a sound one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes came in.
    fn read(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request's headers are complete: it is in flight until its answer is sent.
    fn begin(self: &Arc<Clock>) -> InFlight {
        let mut state = self.lock();
        state.in_flight += 1;
        state.head_since = None;
        InFlight(self.clone())
    }

    /// The phase that times out next and when; `None` while a request is in flight.
    fn next(&self, limits: &ConnectionLimits) -> Option<(Phase, Instant)> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_since {
            Some(since) => (Phase::Head, since + limits.header_read_timeout),
            None => (Phase::Idle, state.idle_since + limits.idle_timeout),
        })
    }

    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        self.next(limits).map(|(_, deadline)| deadline)
    }

    /// The phase whose timeout has passed, if any.
    fn expired(&self, limits: &ConnectionLimits) -> Option<Phase> {
        self.next(limits)
            .filter(|&(_, deadline)| deadline <= Instant::now())
            .map(|(phase, _)| phase)
    }
}

/// A request in flight; its answer's body holds it until hyper has sent it.
#[derive(Debug)]
struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.0.changed.notify_one();
        }
    }
}

/// The socket, telling the clock when bytes come in.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The router as hyper's service for one connection.
#[derive(Debug, Clone)]
struct ConnectionService {
    router: Router,
    clock: Arc<Clock>,
    body_read_timeout: Duration,
    /// The client's address, for the rate limit (`ConnectInfo`).
    peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<AnswerBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.clock.begin();
        let unread = Arc::new(AtomicBool::new(false));
        let timeout = self.body_read_timeout;
        let mut request = request.map(|body| {
            Body::new(tower_http::timeout::TimeoutBody::new(
                timeout,
                RequestBody {
                    body,
                    ended: false,
                    unread: unread.clone(),
                    clock: self.clock.clone(),
                },
            ))
        });
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let mut router = self.router.clone();
        Box::pin(async move {
            let mut response = match tower_service::Service::call(&mut router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // The body was dropped unread (which also makes the connection linger).
            if unread.load(Ordering::Relaxed) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response.map(|body| HeldBody {
                body,
                _guard: in_flight,
            }))
        })
    }
}

/// A request body that notes whether it was dropped before its end: for its answer (if
/// not sent yet) and for the connection, which then lingers once its last answer is sent.
#[derive(Debug)]
struct RequestBody {
    body: Incoming,
    ended: bool,
    unread: Arc<AtomicBool>,
    clock: Arc<Clock>,
}

impl hyper::body::Body for RequestBody {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if !self.ended && !hyper::body::Body::is_end_stream(&self.body) {
            self.unread.store(true, Ordering::Relaxed);
            // Also when the answer has begun already (an assignment that stopped reading a
            // list over its limit): the client may still be sending.
            self.clock.left_a_body_unread.store(true, Ordering::Relaxed);
        }
    }
}

/// An answer's body holding `guard` until the body is sent (or dropped): a request in
/// flight, a metric's timer.
#[derive(Debug)]
pub(super) struct HeldBody<G> {
    pub(super) body: Body,
    /// Held only to be dropped with the body.
    pub(super) _guard: G,
}

/// The request in flight until hyper has sent its answer.
type AnswerBody = HeldBody<InFlight>;

impl<G: Unpin> hyper::body::Body for HeldBody<G> {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
