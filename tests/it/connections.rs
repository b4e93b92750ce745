//! Connection timeouts of `vmap serve`: headers sent too slowly and idle connections are
//! cut; an upload that stalls is cut after the body-read timeout and gives its assignment
//! slot back; a client still uploading when the server answers 429 reads the 429.

use std::time::{Duration, Instant};

use hyper::Method;
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::harness::trials;
use crate::helpers::http::streamed_body;
use crate::helpers::{Backend, Server, TestDb, assert_problem, seeded_db};

trials! {
    tokio: [
        headers_sent_too_slowly_are_cut_after_the_header_timeout,
        idle_connections_are_closed_after_the_idle_timeout,
        stalled_assign_uploads_give_their_slots_back_after_the_body_timeout,
        a_client_still_uploading_reads_the_too_busy_answer,
    ],
}

/// The bound asserted on a cut: generous against timeouts of half a second or a second.
const CUT_WITHIN: Duration = Duration::from_secs(4);

/// How long a test waits for a cut that never comes before it fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

const ONE_ROW: &str = "id,lat,lon\na,21.0285,105.8542\n";

async fn start(name: &str, env: &[(&str, &str)]) -> (TestDb, Server) {
    let db = seeded_db(&Backend::Sqlite, 100).await;
    let server = Server::start_vmap_with(name, &db.url, db.dir.path(), env).await;
    (db, server)
}

/// Reads from `stream` until the server closes it; how long that took, or `None` when it
/// is still open after [`GIVE_UP_AFTER`].
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        let left = GIVE_UP_AFTER.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// A client that sends one header line every 100 ms never finishes its headers: the server
/// hangs up after the header-read timeout, and answers others meanwhile.
async fn headers_sent_too_slowly_are_cut_after_the_header_timeout() {
    let (_db, server) = start(
        "slow-headers",
        &[
            ("VMAP_HEADER_READ_TIMEOUT_MS", "500"),
            ("VMAP_IDLE_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let stream = TcpStream::connect(server.address).await.expect("connect");
    let (mut reading, mut writing) = stream.into_split();
    writing
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: vmap\r\n")
        .await
        .expect("write");
    let trickle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writing.write_all(b"x-slow: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let cut = read_until_closed(&mut reading).await;
    trickle.abort();
    assert!(
        cut.is_some_and(|after| after < CUT_WITHIN),
        "a client trickling headers was cut after {cut:?} (None: not within {GIVE_UP_AFTER:?})"
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

/// A connection that sends nothing, and a kept-alive one after its answer, are closed after
/// the idle timeout.
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (_db, server) = start(
        "idle",
        &[
            ("VMAP_IDLE_TIMEOUT_MS", "500"),
            ("VMAP_HEADER_READ_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let (mut silent, _keep) = TcpStream::connect(server.address)
        .await
        .expect("connect")
        .into_split();
    let cut = read_until_closed(&mut silent).await;
    assert!(
        cut.is_some_and(|after| after < CUT_WITHIN),
        "a silent connection was closed after {cut:?}"
    );

    let (mut reading, mut writing) = TcpStream::connect(server.address)
        .await
        .expect("connect")
        .into_split();
    writing
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: vmap\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"ok") {
        let n = tokio::time::timeout(GIVE_UP_AFTER, reading.read(&mut buffer))
            .await
            .expect("an answer")
            .expect("read");
        assert!(n > 0, "closed before the answer: {answer:?}");
        answer.extend_from_slice(&buffer[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    let cut = read_until_closed(&mut reading).await;
    assert!(
        cut.is_some_and(|after| after < CUT_WITHIN),
        "a kept-alive connection was closed {cut:?} after its answer"
    );
}

/// Four uploads that send their first row and stall hold all four assignment slots, so a
/// fifth list answers 429; once the body-read timeout cuts them, the fifth is assigned.
async fn stalled_assign_uploads_give_their_slots_back_after_the_body_timeout() {
    let (_db, server) = start(
        "stalled-uploads",
        &[
            ("VMAP_MAX_CONCURRENT_ASSIGN", "4"),
            ("VMAP_BODY_READ_TIMEOUT_MS", "1500"),
        ],
    )
    .await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let (sender, body) = streamed_body();
        sender
            .unbounded_send(Bytes::from_static(b"id,lat,lon\n"))
            .expect("send");
        let request = server
            .client()
            .request(Method::POST, "/v1/assign")
            .header("content-type", "text/csv")
            .body(body)
            .expect("request");
        // The answer starts once the first part is read: the slot is taken.
        let response = server.client().open(request).await.expect("an answer");
        assert_eq!(response.status(), 200);
        stalled.push((sender, response));
    }
    let response = server.post("/v1/assign", "text/csv", ONE_ROW).await;
    assert_problem(&response, 429, None);

    let started = Instant::now();
    loop {
        let response = server.post("/v1/assign", "text/csv", ONE_ROW).await;
        if response.status == 200 {
            assert!(response.text().contains(",created,"), "{}", response.text());
            break;
        }
        assert_problem(&response, 429, None);
        assert!(
            started.elapsed() < GIVE_UP_AFTER,
            "four stalled uploads still hold every slot after {GIVE_UP_AFTER:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(stalled);
}

/// With the one slot taken, a client that uploads its whole list before it reads the answer
/// (as simple clients do) still reads the 429: the server answers at once and then reads and
/// discards the rest of the upload instead of resetting the connection under the client.
async fn a_client_still_uploading_reads_the_too_busy_answer() {
    let (_db, server) = start("too-busy", &[("VMAP_MAX_CONCURRENT_ASSIGN", "1")]).await;
    let (holder, body) = streamed_body();
    holder
        .unbounded_send(Bytes::from_static(b"id,lat,lon\n"))
        .expect("send");
    let request = server
        .client()
        .request(Method::POST, "/v1/assign")
        .header("content-type", "text/csv")
        .body(body)
        .expect("request");
    let holding = server.client().open(request).await.expect("an answer");
    assert_eq!(holding.status(), 200);

    // More than the socket buffers of both ends hold, so the upload is still going when the
    // answer comes.
    const UPLOAD_BYTES: usize = 48 * 1024 * 1024;
    let chunk = ONE_ROW.repeat(64 * 1024 / ONE_ROW.len());
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    let head = format!(
        "POST /v1/assign HTTP/1.1\r\nhost: vmap\r\ncontent-type: text/csv\r\n\
         content-length: {UPLOAD_BYTES}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("write the head");
    let mut sent = 0;
    while sent < UPLOAD_BYTES {
        let part = &chunk.as_bytes()[..chunk.len().min(UPLOAD_BYTES - sent)];
        if let Err(err) = stream.write_all(part).await {
            panic!("the upload broke after {sent} of {UPLOAD_BYTES} bytes: {err}");
        }
        sent += part.len();
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(GIVE_UP_AFTER, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        matches!(read, Ok(Ok(_))) || answer.contains("\r\n\r\n"),
        "no answer read ({read:?}): {answer}"
    );
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    drop((holder, holding));
}
