//! The one HTTP client of the tests, for a server on a real socket: hyper-util's client,
//! which reads chunked (streamed) answers and checks `Content-Length` itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use futures::channel::mpsc;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::app::{TestResponse, content_type};

pub type RequestBody = BoxBody<Bytes, Infallible>;

pub type HttpError = Box<dyn std::error::Error + Send + Sync>;

/// No request of the tests takes a minute; a server that hangs fails the test instead.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP/1.1 client for the server at one address.
#[derive(Debug, Clone)]
pub struct HttpClient {
    address: SocketAddr,
    client: Client<HttpConnector, RequestBody>,
}

impl HttpClient {
    pub fn new(address: SocketAddr) -> HttpClient {
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build_http();
        HttpClient { address, client }
    }

    /// A client for the same server with no pooled connection: what a request after SIGTERM
    /// needs, since the server closes its idle kept-alive connections as the drain begins,
    /// and a pooled one may be picked just as it closes (a client retries that elsewhere).
    pub fn unpooled(&self) -> HttpClient {
        HttpClient::new(self.address)
    }

    /// A request to `path` on this client's server.
    pub fn request(&self, method: Method, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address))
    }

    /// Sends `request` and returns the answer as soon as its head has come, its body unread.
    pub async fn open(
        &self,
        request: Request<RequestBody>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, HttpError> {
        tokio::time::timeout(ANSWER_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {ANSWER_TIMEOUT:?}"))?
            .map_err(Into::into)
    }

    /// Reads the rest of an answer [`HttpClient::open`] returned.
    pub async fn read_rest(
        response: hyper::Response<hyper::body::Incoming>,
    ) -> Result<TestResponse, HttpError> {
        let read = async {
            let status = response.status();
            let content_type = content_type(response.headers());
            let headers = response.headers().clone();
            let collected = response.into_body().collect().await?;
            let trailers = collected.trailers().cloned();
            let body = collected.to_bytes().to_vec();
            Ok::<_, HttpError>(TestResponse {
                status,
                content_type,
                headers,
                body,
                trailers,
            })
        };
        tokio::time::timeout(ANSWER_TIMEOUT, read)
            .await
            .map_err(|_| format!("the answer did not end within {ANSWER_TIMEOUT:?}"))?
    }

    /// Sends `request` and reads the whole answer, or says why it could not. Trailer fields
    /// come only when the request says it takes them (`TE: trailers`).
    pub async fn try_send(&self, request: Request<RequestBody>) -> Result<TestResponse, HttpError> {
        let response = self.open(request).await?;
        HttpClient::read_rest(response).await
    }

    /// Sends `request` and reads the whole answer; fails the test when there is none.
    pub async fn send(&self, request: Request<RequestBody>) -> TestResponse {
        let what = format!("{} {}", request.method(), request.uri());
        self.try_send(request)
            .await
            .unwrap_or_else(|err| panic!("{what}: {err}"))
    }

    pub async fn try_get(&self, path: &str) -> Result<TestResponse, HttpError> {
        self.try_send(self.without_body(Method::GET, path)).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.without_body(Method::GET, path)).await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> TestResponse {
        let request = self
            .request(Method::POST, path)
            .header("content-type", content_type)
            .body(full_body(body))
            .expect("request");
        self.send(request).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(self.without_body(Method::DELETE, path)).await
    }

    fn without_body(&self, method: Method, path: &str) -> Request<RequestBody> {
        self.request(method, path)
            .body(empty_body())
            .expect("request")
    }
}

pub fn empty_body() -> RequestBody {
    full_body(Bytes::new())
}

pub fn full_body(bytes: impl Into<Bytes>) -> RequestBody {
    Full::new(bytes.into()).boxed()
}

/// A body sent a part at a time, whenever the test pushes one into the sender; it ends when
/// the sender is dropped.
pub fn streamed_body() -> (mpsc::UnboundedSender<Bytes>, RequestBody) {
    let (sender, receiver) = mpsc::unbounded::<Bytes>();
    let frames = futures::StreamExt::map(receiver, |bytes| Ok(Frame::data(bytes)));
    (sender, StreamBody::new(frames).boxed())
}
