//! `vmap bench geocode --url`: the queries as `GET /v1/search?q=TEXT&limit=L` against a
//! running `vmap serve`, from C keep-alive connections, with the timed-load machinery of
//! the http mode (`load.rs`: warm-up, measured window, one worker per connection walking
//! the queries with stride C, wrapping around).
//!
//! Each 2xx answer is read (its first result's level and code, and `ambiguous`) and counted
//! by the worker that received it, so the level shares and `--check` cover what the server
//! answered under load; an answer that is not the search's JSON counts as an error.

use std::sync::Arc;

use serde::Deserialize;

use super::super::http::{Connection, Target};
use super::super::{BenchError, LoadSpec, Outcome, Requester, run_load};
use super::{AnswerCounts, AnswerLevel, GeocodeQueries, GeocodeQuery, GeocodeReport, GeocodeRun};
use super::{GeocodeSettings, TopAnswer};
use crate::code::VmapCode;

/// What the HTTP load is asked beyond [`GeocodeSettings`].
#[derive(Debug, Clone)]
pub struct HttpGeocodeSettings {
    /// `http://host:port`, optionally with a path prefix before `/v1/search`.
    pub url: String,
    /// Connections, one worker each.
    pub concurrency: usize,
    pub warmup: std::time::Duration,
    pub duration: std::time::Duration,
}

/// `text` percent-encoded for a query string: everything but RFC 3986's unreserved
/// characters, as UTF-8 bytes.
pub fn encode_query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[derive(Deserialize)]
struct ResultIn {
    level: String,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct AnswerIn {
    results: Vec<ResultIn>,
    ambiguous: bool,
}

/// The first result of a `GET /v1/search` answer.
pub fn parse_answer(body: &[u8]) -> Result<TopAnswer, String> {
    let answer: AnswerIn = serde_json::from_slice(body)
        .map_err(|error| format!("answer is not the search's JSON: {error}"))?;
    let Some(first) = answer.results.first() else {
        return Ok(TopAnswer {
            level: AnswerLevel::None,
            code: None,
            ambiguous: answer.ambiguous,
        });
    };
    let level = AnswerLevel::from_name(&first.level)
        .filter(|level| *level != AnswerLevel::None)
        .ok_or_else(|| format!("unknown level {:?}", first.level))?;
    Ok(TopAnswer {
        level,
        code: first
            .code
            .as_deref()
            .and_then(|code| VmapCode::parse(code).ok()),
        ambiguous: answer.ambiguous,
    })
}

/// One worker: its connection, the prepared request paths, the shared counts.
struct SearchRequester {
    connection: Connection,
    target: Arc<Target>,
    paths: Arc<Vec<String>>,
    queries: Arc<Vec<GeocodeQuery>>,
    /// None for the autocomplete, whose answers are not judged.
    counts: Option<Arc<AnswerCounts>>,
}

impl Requester for SearchRequester {
    async fn connect(&mut self) -> Result<(), String> {
        self.connection.open().await
    }

    async fn request(&mut self, item: usize) -> Outcome {
        let (Some(path), Some(query)) = (self.paths.get(item), self.queries.get(item)) else {
            return Outcome::Failed("no query".to_owned());
        };
        let request = match self.target.get(path) {
            Ok(request) => request,
            Err(message) => return Outcome::Failed(message),
        };
        match self.connection.exchange(request).await {
            Ok((status, body)) if status.is_success() => {
                let Some(counts) = &self.counts else {
                    return Outcome::Answered { points: 1 };
                };
                match parse_answer(&body) {
                    Ok(top) => {
                        counts.record(query.style, query.code, &top);
                        Outcome::Answered { points: 1 }
                    }
                    Err(message) => Outcome::Failed(message),
                }
            }
            Ok((status, _body)) => Outcome::Status(status.as_u16()),
            Err(message) => Outcome::Failed(message),
        }
    }
}

/// Runs the search load against `http.url` and reports it.
pub async fn run(
    http: &HttpGeocodeSettings,
    queries: GeocodeQueries,
    settings: GeocodeSettings,
) -> Result<GeocodeReport, BenchError> {
    settings.validate()?;
    if queries.queries.is_empty() {
        return Err(BenchError::NoQueries);
    }
    let target = Arc::new(Target::resolve(&http.url).await?);
    let endpoint = target.path(&format!("/v1/{}", settings.endpoint()));
    let paths: Arc<Vec<String>> = Arc::new(
        queries
            .queries
            .iter()
            .map(|query| {
                format!(
                    "{endpoint}?q={}&limit={}",
                    encode_query_value(&query.text),
                    settings.limit
                )
            })
            .collect(),
    );
    let texts = Arc::new(queries.queries);
    let counts = Arc::new(AnswerCounts::default());
    let spec = LoadSpec {
        what: format!("GET /v1/{}", settings.endpoint()),
        points_per_request: 1,
        items: texts.len(),
    };
    let figures = run_load(&spec, http.concurrency, http.warmup, http.duration, || {
        SearchRequester {
            connection: Connection::new(target.clone()),
            target: target.clone(),
            paths: paths.clone(),
            queries: texts.clone(),
            counts: (!settings.autocomplete).then(|| counts.clone()),
        }
    })
    .await;
    let run = GeocodeRun {
        what: figures.what,
        workers: figures.connections,
        queries: figures.requests,
        queries_per_s: figures.requests_per_s,
        p50_us: figures.p50_us,
        p90_us: figures.p90_us,
        p99_us: figures.p99_us,
        p999_us: figures.p999_us,
        max_us: figures.max_us,
        non_2xx: figures.non_2xx,
        errors: figures.errors,
        first_error: figures.first_error,
    };
    let mut report = GeocodeReport {
        mode: "http".to_owned(),
        endpoint: settings.endpoint().to_owned(),
        target: http.url.clone(),
        addresses: queries.addresses,
        seed: queries.seed,
        limit: settings.limit,
        drawn: queries.drawn,
        skipped: queries.skipped,
        queries: texts.len(),
        warmup_s: Some(http.warmup.as_secs_f64()),
        duration_s: Some(http.duration.as_secs_f64()),
        runs: vec![run],
        answers: counts.figures(settings.check),
        check: None,
    };
    report.judge();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded_as_utf8() {
        assert_eq!(encode_query_value("Số 9, P.7"), "S%E1%BB%91%209%2C%20P.7");
        assert_eq!(encode_query_value("a&b=c/d?"), "a%26b%3Dc%2Fd%3F");
        assert_eq!(encode_query_value("ok-_.~"), "ok-_.~");
    }

    #[test]
    fn answers_give_their_first_result() {
        let body = br#"{"results":[{"level":"address","code":"111162RWXP69","confidence":1.0},
            {"level":"street"}],"ambiguous":true}"#;
        let top = parse_answer(body).expect("parses");
        assert_eq!(top.level, AnswerLevel::Address);
        assert!(top.code.is_some() && top.ambiguous);
        let none = parse_answer(br#"{"results":[],"ambiguous":false}"#).expect("parses");
        assert_eq!((none.level, none.code), (AnswerLevel::None, None));
        let ward = parse_answer(br#"{"results":[{"level":"ward"}],"ambiguous":false}"#);
        assert_eq!(ward.map(|top| top.level), Ok(AnswerLevel::Ward));
        assert!(parse_answer(br#"{"results":[{"level":"none"}],"ambiguous":false}"#).is_err());
        assert!(parse_answer(b"<html>").is_err());
    }
}
