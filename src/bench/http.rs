//! `vmap bench http`: a load generator against a running `vmap serve`.
//!
//! Two loads, one after the other, each for `--duration` after a `--warmup` that is not
//! measured: `GET /v1/reverse?lat=..&lon=..` (one point per request) and `POST /v1/reverse`
//! with `{"points":[{"lat":..,"lon":..},...]}` (`--batch-size` points per request). Each of
//! C workers is a tokio task with its own keep-alive HTTP/1.1 connection (hyper's client
//! connection API, no pool), sending one request at a time and reading the whole answer
//! before the next. A worker walks the query points (or the batches made from them) with
//! stride C from its own offset, wrapping around, so C workers cover the set together.
//!
//! Latency is per request, from sending to the last byte of the answer. Only answers that
//! complete inside the measured window count; what is in flight when the window closes is
//! abandoned. Non-2xx answers and transport errors count in every phase, warm-up included,
//! and any of them makes the command fail.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::Serialize;

use super::{
    Answered, BenchError, LoadContext, LoadFigures, LoadReport, LoadSpec, Outcome, Requester,
    compare_answers, run_load,
};
use crate::code::VmapCode;
use crate::point::LatLon;
use crate::registry::{Registry, ReverseQuery};

/// Most mismatching answers quoted in a report.
const MISMATCH_EXAMPLES: usize = 5;

/// What `vmap bench http` was asked to do.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `http://host:port`, optionally with a path prefix before `/v1/...`.
    pub url: String,
    /// Workers (connections) of the GET load.
    pub concurrency: usize,
    /// Workers (connections) of the batch load.
    pub batch_concurrency: usize,
    /// Points per `POST /v1/reverse`; 0 skips the batch load.
    pub batch_size: usize,
    /// The batch requests' query strings, one batch load each (none: one load, no query).
    pub batch_queries: Vec<String>,
    /// Compare this many GET answers with an in-process brute-force scan (needs a registry).
    pub check: usize,
    pub context: LoadContext,
}

/// Where requests go (the geocode bench's HTTP load sends through it too).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    address: SocketAddr,
    /// The `Host` header.
    host: String,
    /// The URL's path without its trailing slash, put before `/v1/reverse`.
    base_path: String,
}

impl Target {
    pub(crate) async fn resolve(url: &str) -> Result<Target, BenchError> {
        let invalid = |message: String| BenchError::Invalid(format!("--url {url:?}: {message}"));
        let uri: hyper::Uri = url.parse().map_err(|error| invalid(format!("{error}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "only http:// is supported, not {other}:// (put a TLS proxy's plain side here)"
                )));
            }
            None => return Err(invalid("expected http://HOST:PORT".to_owned())),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("expected http://HOST:PORT".to_owned()))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let address = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| invalid(format!("cannot resolve: {error}")))?
            .next()
            .ok_or_else(|| invalid("the host name resolves to no address".to_owned()))?;
        Ok(Target {
            address,
            host: authority.as_str().to_owned(),
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    fn reverse_path(&self) -> String {
        self.path("/v1/reverse")
    }

    /// `tail` (e.g. `/v1/search`) under the URL's path.
    pub(crate) fn path(&self, tail: &str) -> String {
        format!("{}{tail}", self.base_path)
    }

    /// A GET of `path_and_query` (made by [`Target::path`]).
    pub(crate) fn get(&self, path_and_query: &str) -> Result<Request<Full<Bytes>>, String> {
        Request::get(path_and_query)
            .header(header::HOST, &self.host)
            .body(Full::new(Bytes::new()))
            .map_err(|error| format!("cannot build the request: {error}"))
    }

    fn get_request(
        &self,
        point: LatLon,
        limit: usize,
        radius_m: f64,
    ) -> Result<Request<Full<Bytes>>, String> {
        Request::get(format!(
            "{}?lat={}&lon={}&limit={limit}&radius_m={radius_m}",
            self.reverse_path(),
            point.lat,
            point.lon
        ))
        .header(header::HOST, &self.host)
        .body(Full::new(Bytes::new()))
        .map_err(|error| format!("cannot build the request: {error}"))
    }

    fn post_request(&self, body: Bytes, query: &str) -> Result<Request<Full<Bytes>>, String> {
        let path = match query {
            "" => self.reverse_path(),
            query => format!("{}?{query}", self.reverse_path()),
        };
        Request::post(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|error| format!("cannot build the request: {error}"))
    }
}

/// One keep-alive HTTP/1.1 connection, opened when first needed and again after a failure.
pub(crate) struct Connection {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub(crate) fn new(target: Arc<Target>) -> Connection {
        Connection {
            target,
            sender: None,
        }
    }

    pub(crate) async fn open(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.target.address)
            .await
            .map_err(|error| format!("connect to {}: {error}", self.target.address))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP handshake: {error}"))?;
        // Drives the connection until it closes; its error, if any, surfaces on the sender.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// A sender ready for a request: the open connection, or a new one when it was closed
    /// in between (a closed idle connection is not a failed request).
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let reusable = match self.sender.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.sender = None;
            self.open().await?;
        }
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| "no connection".to_owned())?;
        sender
            .ready()
            .await
            .map_err(|error| format!("connection not ready: {error}"))?;
        Ok(sender)
    }

    /// Sends one request and reads the whole answer.
    pub(crate) async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), String> {
        let result = async {
            let sender = self.ready().await?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|error| format!("request failed: {error}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| format!("reading the answer failed: {error}"))?
                .to_bytes();
            Ok((status, body))
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

/// What one load sends.
#[derive(Debug)]
enum Load {
    /// One GET per point.
    Single {
        points: Arc<Vec<LatLon>>,
        limit: usize,
        radius_m: f64,
    },
    /// One POST per prepared body, with this query string.
    Batch {
        bodies: Arc<Vec<(Bytes, u64)>>,
        query: String,
    },
}

impl Load {
    fn items(&self) -> usize {
        match self {
            Load::Single { points, .. } => points.len(),
            Load::Batch { bodies, .. } => bodies.len(),
        }
    }

    fn request(&self, target: &Target, item: usize) -> Result<(Request<Full<Bytes>>, u64), String> {
        match self {
            Load::Single {
                points,
                limit,
                radius_m,
            } => {
                let point = points
                    .get(item)
                    .ok_or_else(|| "no query point".to_owned())?;
                Ok((target.get_request(*point, *limit, *radius_m)?, 1))
            }
            Load::Batch { bodies, query } => {
                let (body, n_points) =
                    bodies.get(item).ok_or_else(|| "no batch body".to_owned())?;
                Ok((target.post_request(body.clone(), query)?, *n_points))
            }
        }
    }
}

/// One worker of an http load.
struct HttpRequester {
    connection: Connection,
    load: Arc<Load>,
}

impl Requester for HttpRequester {
    async fn connect(&mut self) -> Result<(), String> {
        self.connection.open().await
    }

    async fn request(&mut self, item: usize) -> Outcome {
        let (request, points) = match self.load.request(&self.connection.target, item) {
            Ok(built) => built,
            Err(message) => return Outcome::Failed(message),
        };
        match self.connection.exchange(request).await {
            Ok((status, _body)) if status.is_success() => Outcome::Answered { points },
            Ok((status, _body)) => Outcome::Status(status.as_u16()),
            Err(message) => Outcome::Failed(message),
        }
    }
}

/// Runs `load` from `connections` workers, each with its own connection.
async fn http_load(
    target: &Arc<Target>,
    load: Load,
    connections: usize,
    context: &LoadContext,
    what: &str,
    points_per_request: usize,
) -> LoadFigures {
    let load = Arc::new(load);
    let spec = LoadSpec {
        what: what.to_owned(),
        points_per_request,
        items: load.items(),
    };
    run_load(&spec, connections, context.warmup, context.duration, || {
        HttpRequester {
            connection: Connection::new(target.clone()),
            load: load.clone(),
        }
    })
    .await
}

#[derive(Serialize)]
struct BatchPointBody {
    lat: f64,
    lon: f64,
}

#[derive(Serialize)]
struct BatchBody {
    points: Vec<BatchPointBody>,
    limit: usize,
    radius_m: f64,
}

/// The bodies of the batch load: consecutive runs of `batch_size` query points, wrapping
/// around at the end so that every body holds exactly `batch_size` points.
fn batch_bodies(
    points: &[LatLon],
    batch_size: usize,
    limit: usize,
    radius_m: f64,
) -> Result<Vec<(Bytes, u64)>, BenchError> {
    if points.is_empty() || batch_size == 0 {
        return Ok(Vec::new());
    }
    let n_bodies = points.len().div_ceil(batch_size);
    (0..n_bodies)
        .map(|body_idx| {
            let body = BatchBody {
                points: (0..batch_size)
                    .map(|at| {
                        let point = points[(body_idx * batch_size + at) % points.len()];
                        BatchPointBody {
                            lat: point.lat,
                            lon: point.lon,
                        }
                    })
                    .collect(),
                limit,
                radius_m,
            };
            let bytes = serde_json::to_vec(&body)
                .map_err(|error| BenchError::Invalid(format!("batch body: {error}")))?;
            Ok((Bytes::from(bytes), batch_size as u64))
        })
        .collect()
}

/// The addresses of one `GET /v1/reverse` answer.
fn parse_answer(body: &[u8]) -> Result<Vec<Answered>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("answer is not JSON: {error}"))?;
    let addresses = value
        .get("addresses")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| "answer has no addresses array".to_owned())?;
    addresses
        .iter()
        .map(|address| {
            let raw_code = address
                .get("code")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| "an address has no code".to_owned())?;
            let distance_m = address
                .get("distance_m")
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| "an address has no distance_m".to_owned())?;
            Ok(Answered {
                code: VmapCode::parse(raw_code).ok(),
                raw_code: raw_code.to_owned(),
                distance_m,
            })
        })
        .collect()
}

/// Asks the server for the first `n` points one by one and compares each answer with a
/// brute-force scan of the registry (the server answers from its index, so the reference
/// must not be the same index code).
async fn check_answers(
    target: &Arc<Target>,
    registry: Arc<Registry>,
    points: &[LatLon],
    n: usize,
    query: ReverseQuery,
) -> Result<(usize, usize, Vec<String>), BenchError> {
    let (limit, radius_m) = (query.limit(), query.radius_m());
    let points: Vec<LatLon> = points.iter().take(n).copied().collect();
    let mut connection = Connection::new(target.clone());
    let mut remote = Vec::with_capacity(points.len());
    for &point in &points {
        let request = target
            .get_request(point, limit, radius_m)
            .map_err(|message| BenchError::Http {
                what: "check".to_owned(),
                message,
            })?;
        let (status, body) =
            connection
                .exchange(request)
                .await
                .map_err(|message| BenchError::Http {
                    what: "check".to_owned(),
                    message,
                })?;
        if !status.is_success() {
            return Err(BenchError::Http {
                what: "check".to_owned(),
                message: format!("GET answered {status}: {}", String::from_utf8_lossy(&body)),
            });
        }
        remote.push(parse_answer(&body).map_err(|message| BenchError::Http {
            what: "check".to_owned(),
            message,
        })?);
    }
    let checked = points.len();
    let differences = tokio::task::spawn_blocking(move || {
        points
            .iter()
            .zip(&remote)
            .filter_map(|(&point, answer)| {
                let reference = registry.nearest_addresses_brute_force(point, query);
                compare_answers(point, answer, &reference)
            })
            .collect::<Vec<String>>()
    })
    .await
    .map_err(|error| BenchError::Invalid(format!("check failed: {error}")))?;
    let mismatches = differences.len();
    Ok((
        checked,
        mismatches,
        differences.into_iter().take(MISMATCH_EXAMPLES).collect(),
    ))
}

/// Runs the GET load, then the batch load, then the check; the report says what failed
/// (see [`LoadReport::verdict`]).
pub async fn run(
    settings: &HttpSettings,
    points: Vec<LatLon>,
    registry: Option<Arc<Registry>>,
) -> Result<LoadReport, BenchError> {
    let context = &settings.context;
    if settings.check > 0 && registry.is_none() {
        return Err(BenchError::Invalid(
            "--check in http mode needs --database-url (the database the server serves)".to_owned(),
        ));
    }
    if points.is_empty() {
        return Err(BenchError::NoQueries);
    }
    let target = Arc::new(Target::resolve(&settings.url).await?);
    let mut report = LoadReport::new(
        "http",
        settings.url.clone(),
        registry.as_deref(),
        points.len(),
        context,
    );
    let bodies = batch_bodies(
        &points,
        settings.batch_size,
        context.query.limit(),
        context.query.radius_m(),
    )?;
    let points = Arc::new(points);

    let single = Load::Single {
        points: points.clone(),
        limit: context.query.limit(),
        radius_m: context.query.radius_m(),
    };
    report.runs.push(
        http_load(
            &target,
            single,
            settings.concurrency,
            context,
            "GET /v1/reverse",
            1,
        )
        .await,
    );
    let bodies = Arc::new(bodies);
    let queries = match settings.batch_queries.as_slice() {
        [] => vec![String::new()],
        queries => queries.to_vec(),
    };
    for query in queries.into_iter().filter(|_| !bodies.is_empty()) {
        let what = match query.as_str() {
            "" => "POST /v1/reverse".to_owned(),
            query => format!("POST ?{query}"),
        };
        let batch = Load::Batch {
            bodies: bodies.clone(),
            query,
        };
        report.runs.push(
            http_load(
                &target,
                batch,
                settings.batch_concurrency,
                context,
                &what,
                settings.batch_size,
            )
            .await,
        );
    }

    if let Some(registry) = registry
        && settings.check > 0
    {
        let outcome =
            check_answers(&target, registry, &points, settings.check, context.query).await;
        report.record_check(settings.check.min(points.len()), outcome);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_bodies_wrap_around_to_a_full_batch() {
        let points = vec![
            LatLon {
                lat: 21.0,
                lon: 105.0,
            },
            LatLon {
                lat: 10.5,
                lon: 106.5,
            },
            LatLon {
                lat: 16.0,
                lon: 108.0,
            },
        ];
        let bodies = batch_bodies(&points, 2, 1, 1000.0).expect("bodies");
        assert_eq!(bodies.len(), 2);
        let second: serde_json::Value = serde_json::from_slice(&bodies[1].0).expect("json");
        assert_eq!(second["points"].as_array().map(Vec::len), Some(2));
        assert_eq!(second["points"][1]["lat"], 21.0);
        assert_eq!(second["limit"], 1);
        assert!(
            batch_bodies(&points, 0, 1, 1000.0)
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn answers_parse_and_malformed_ones_are_refused() {
        let body = br#"{"query":{"lat":1,"lon":2},"addresses":[{"code":"111162RWXP69","postcode":"11116","lat":1.0,"lon":2.0,"distance_m":12.5}],"zone":null,"grid_code":null}"#;
        let answer = parse_answer(body).expect("parses");
        assert_eq!(answer.len(), 1);
        assert_eq!(answer[0].distance_m, 12.5);
        assert!(answer[0].code.is_some());
        assert!(parse_answer(b"{}").is_err());
        assert!(parse_answer(b"not json").is_err());
    }

    #[tokio::test]
    async fn urls_must_be_plain_http() {
        let target = Target::resolve("http://127.0.0.1:8080/prefix/")
            .await
            .expect("resolves");
        assert_eq!(target.reverse_path(), "/prefix/v1/reverse");
        assert_eq!(target.host, "127.0.0.1:8080");
        assert!(Target::resolve("https://127.0.0.1:8443").await.is_err());
        assert!(Target::resolve("127.0.0.1:8080").await.is_err());
    }
}
