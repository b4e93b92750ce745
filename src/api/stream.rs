//! Batch answers (`POST /v1/reverse`, `POST /v1/codes`) sent as `{"results":[…]}` (or, as
//! GeoJSON, `{"type":"FeatureCollection","features":[…]}`) a chunk of results at a time,
//! instead of built whole in memory first.
//!
//! Decisions:
//! - The bytes are the ones `Json(… { results })` gives: each result is serialized alone by
//!   serde_json and the results are joined with `,` inside `{"results":[` and `]}`, so a
//!   client cannot tell the streamed answer from a built one (a test compares them).
//! - A chunk holds about [`CHUNK_ANSWERS`] addresses: a batch then keeps a few hundred
//!   kilobytes in flight (the chunk being made and two waiting for the connection) however
//!   large it is, where the whole answer to 10 000 points × 100 addresses was 128 MB.
//! - The answer must be taken by the client within the request timeout, counted from when
//!   the handler started: a client that stops reading would otherwise hold its batch slot
//!   and its chunks for ever. Past it, or when a later chunk fails, the body ends in an
//!   error, so the connection is cut rather than the chunked answer ended as if complete.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::AppError;

/// About how many addresses one chunk of a batch reverse answer holds.
pub(super) const CHUNK_ANSWERS: usize = 4_096;
/// Most points in one chunk (at `limit` 1 each answer is about 450 bytes, zone included).
const MAX_CHUNK_POINTS: usize = 1_024;
/// Chunks made but not yet taken by the connection.
const CHUNKS_IN_FLIGHT: usize = 2;

/// The object a streamed batch answer's items are the array of, or the lines they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StreamShape {
    /// `{"results":[…]}`, `application/json`.
    Results,
    /// `{"type":"FeatureCollection","features":[…]}`, `application/geo+json`: each item
    /// is then a serialized Feature.
    FeatureCollection,
    /// One item per line, `application/x-ndjson`: each item ends with its `\n`.
    Ndjson,
    /// `text/csv` after this header line (`\n` included): each item is its rows.
    Csv(Vec<u8>),
}

impl StreamShape {
    /// `Results`, or `FeatureCollection` when `geojson`.
    pub(super) fn geojson_if(geojson: bool) -> StreamShape {
        if geojson {
            StreamShape::FeatureCollection
        } else {
            StreamShape::Results
        }
    }

    fn opening(&self) -> Vec<u8> {
        match self {
            StreamShape::Results => b"{\"results\":[".to_vec(),
            StreamShape::FeatureCollection => {
                b"{\"type\":\"FeatureCollection\",\"features\":[".to_vec()
            }
            StreamShape::Ndjson => Vec::new(),
            StreamShape::Csv(header) => header.clone(),
        }
    }

    /// Whether the items are the elements of a JSON array (joined by `,`, closed by `]}`)
    /// rather than lines.
    fn is_array(&self) -> bool {
        matches!(self, StreamShape::Results | StreamShape::FeatureCollection)
    }

    fn content_type(&self) -> &'static str {
        match self {
            StreamShape::Results => "application/json",
            StreamShape::FeatureCollection => super::geojson::GEOJSON_MEDIA_TYPE,
            StreamShape::Ndjson => "application/x-ndjson",
            StreamShape::Csv(_) => "text/csv; charset=utf-8",
        }
    }
}

/// Points per chunk of a batch reverse asking `limit` addresses per point.
pub(super) fn points_per_chunk(limit: usize) -> usize {
    (CHUNK_ANSWERS / limit.max(1)).clamp(1, MAX_CHUNK_POINTS)
}

/// Why a chunk could not be sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum StreamError {
    #[error("the client went away")]
    Closed,
    #[error("the client did not take the answer within the request timeout")]
    TimedOut,
}

/// The sending end of a streamed `{"results":[…]}` answer.
#[derive(Debug)]
pub(super) struct ResultsSender {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    deadline: Instant,
    opening: Vec<u8>,
    array: bool,
    opened: bool,
    results_sent: usize,
    complete: Arc<AtomicBool>,
    /// The batch slot the answer holds ([`ResultsSender::holding`]): given back just before
    /// the closing bytes go out, so that a client that has read the whole answer finds it
    /// free for its next request; on any other end, when the sender is dropped.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A 200 `application/json` answer whose body is what the returned sender sends, to be
/// taken by `deadline`.
pub(super) fn results_stream(deadline: Instant) -> (ResultsSender, Response) {
    batch_stream(deadline, StreamShape::Results)
}

/// A 200 answer shaped as `shape` says whose body is what the returned sender sends, to be
/// taken by `deadline`.
pub(super) fn batch_stream(deadline: Instant, shape: StreamShape) -> (ResultsSender, Response) {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let complete = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&complete);
    // After the last chunk: nothing when the answer was finished, else an error, which
    // makes hyper cut the connection instead of ending the answer cleanly.
    let tail = futures::stream::once(async move {
        (!finished.load(Ordering::Acquire))
            .then(|| Err(io::Error::other("the batch answer was cut short")))
    })
    .filter_map(std::future::ready);
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver).chain(tail));
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(shape.content_type()),
    );
    let sender = ResultsSender {
        sender,
        deadline,
        opening: shape.opening(),
        array: shape.is_array(),
        opened: false,
        results_sent: 0,
        complete,
        permit: None,
    };
    (sender, response)
}

impl ResultsSender {
    /// The sender, holding `permit` until the answer is closed.
    pub(super) fn holding(mut self, permit: tokio::sync::OwnedSemaphorePermit) -> ResultsSender {
        self.permit = Some(permit);
        self
    }

    /// Sends `results` (each one serialized JSON value) as one chunk.
    pub(super) async fn send(&mut self, results: &[Vec<u8>]) -> Result<(), StreamError> {
        if results.is_empty() {
            return Ok(());
        }
        let size = results.iter().map(|result| result.len() + 1).sum::<usize>();
        let mut chunk = Vec::with_capacity(size + self.opening.len());
        self.open(&mut chunk);
        for result in results {
            if self.array && self.results_sent > 0 {
                chunk.push(b',');
            }
            chunk.extend_from_slice(result);
            self.results_sent += 1;
        }
        self.send_chunk(chunk).await
    }

    /// Closes the answer: after this the body ends cleanly.
    pub(super) async fn finish(self) -> Result<(), StreamError> {
        self.finish_with_members(&[]).await
    }

    /// Closes the answer, adding `members` (`,"name":value…`) to the answer's object after
    /// the array: what is known only once every item is made. Lines take none.
    pub(super) async fn finish_with_members(mut self, members: &[u8]) -> Result<(), StreamError> {
        let mut chunk = Vec::with_capacity(self.opening.len() + members.len() + 2);
        self.open(&mut chunk);
        if self.array {
            chunk.push(b']');
            chunk.extend_from_slice(members);
            chunk.push(b'}');
        }
        drop(self.permit.take());
        self.send_chunk(chunk).await?;
        self.complete.store(true, Ordering::Release);
        Ok(())
    }

    fn open(&mut self, chunk: &mut Vec<u8>) {
        if !std::mem::replace(&mut self.opened, true) {
            chunk.extend_from_slice(&self.opening);
        }
    }

    async fn send_chunk(&mut self, chunk: Vec<u8>) -> Result<(), StreamError> {
        match tokio::time::timeout_at(self.deadline, self.sender.send(Ok(Bytes::from(chunk)))).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(StreamError::Closed),
            Err(_) => Err(StreamError::TimedOut),
        }
    }
}

/// Answers `items` a chunk of `per_chunk` at a time, each chunk turned into its items'
/// JSON by `work` (which runs it on the blocking pool). The first chunk is worked before
/// the answer starts, so its failure is the request's; a later failure cuts the answer
/// short (logged as `what`). `permit` is held until the answer is closed.
pub(super) async fn answer_in_chunks<T, F, Fut>(
    deadline: Instant,
    permit: tokio::sync::OwnedSemaphorePermit,
    mut items: Vec<T>,
    per_chunk: usize,
    what: &'static str,
    work: F,
) -> Result<Response, AppError>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<Vec<u8>>, AppError>> + Send,
{
    // Taken from the back, so the list is reversed once rather than shifted per chunk.
    items.reverse();
    let next_chunk = move |items: &mut Vec<T>| {
        let at = items.len().saturating_sub(per_chunk.max(1));
        let mut chunk = items.split_off(at);
        chunk.reverse();
        chunk
    };
    let first = work(next_chunk(&mut items)).await?;
    let (results, response) = results_stream(deadline);
    let mut results = results.holding(permit);
    tokio::spawn(async move {
        let mut chunk = first;
        loop {
            if let Err(error) = results.send(&chunk).await {
                tracing::debug!(%error, what, "answer stopped");
                return;
            }
            if items.is_empty() {
                break;
            }
            chunk = match work(next_chunk(&mut items)).await {
                Ok(chunk) => chunk,
                Err(error) => {
                    tracing::warn!(%error, what, "answer cut short");
                    return;
                }
            };
        }
        if let Err(error) = results.finish().await {
            tracing::debug!(%error, what, "answer stopped");
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::time::Duration;

    #[test]
    fn chunks_hold_a_bounded_number_of_answers() {
        assert_eq!(points_per_chunk(1), MAX_CHUNK_POINTS);
        assert_eq!(points_per_chunk(100), 40);
        assert_eq!(points_per_chunk(0), MAX_CHUNK_POINTS);
        assert_eq!(points_per_chunk(usize::MAX), 1);
    }

    async fn body_of(response: Response) -> Result<Vec<u8>, String> {
        response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes().to_vec())
            .map_err(|error| error.to_string())
    }

    #[tokio::test]
    async fn the_bytes_are_those_of_the_whole_answer() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut sender, response) = results_stream(deadline);
        let task = tokio::spawn(async move {
            sender.send(&[b"1".to_vec(), b"{}".to_vec()]).await?;
            sender.send(&[]).await?;
            sender.send(&[b"\"x\"".to_vec()]).await?;
            sender.finish().await
        });
        let body = body_of(response).await.expect("complete body");
        task.await.expect("task").expect("sent");
        let whole = serde_json::json!({"results": [1, {}, "x"]});
        assert_eq!(body, serde_json::to_vec(&whole).expect("json"));

        let (sender, response) = results_stream(deadline);
        tokio::spawn(sender.finish());
        assert_eq!(body_of(response).await.expect("body"), b"{\"results\":[]}");
    }

    #[tokio::test]
    async fn a_feature_collection_is_streamed_the_same_way() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut sender, response) = batch_stream(deadline, StreamShape::FeatureCollection);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("application/geo+json"))
        );
        let task = tokio::spawn(async move {
            sender.send(&[b"{}".to_vec()]).await?;
            sender.send(&[b"1".to_vec()]).await?;
            sender.finish().await
        });
        let body = body_of(response).await.expect("complete body");
        task.await.expect("task").expect("sent");
        let whole = serde_json::json!({"type": "FeatureCollection", "features": [{}, 1]});
        assert_eq!(body, serde_json::to_vec(&whole).expect("json"));
    }

    #[tokio::test]
    async fn an_unfinished_answer_ends_in_an_error() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut sender, response) = results_stream(deadline);
        tokio::spawn(async move {
            let _ = sender.send(&[b"1".to_vec()]).await;
        });
        assert!(body_of(response).await.is_err());
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_given_up_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(100);
        let (mut sender, response) = results_stream(deadline);
        let mut outcome = Ok(());
        for _ in 0..=CHUNKS_IN_FLIGHT {
            outcome = sender.send(&[b"1".to_vec()]).await;
        }
        assert!(matches!(outcome, Err(StreamError::TimedOut)), "{outcome:?}");
        drop(response);
    }
}
