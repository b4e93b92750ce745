//! A streamed assign answer says how it ended: what can be checked before the first byte
//! is answered with a status (413, 422), and a list that fails after the answer began ends
//! with one `stream_aborted` record in the list's own format and the trailer
//! `vmap-status: aborted`; a complete list ends with `vmap-status: complete` and nothing
//! else. Every server here runs on a real socket (hyper), so trailers and the chunked end
//! are what a client sees.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::Bytes;

use vmap::api::{self, AppState, Limits};
use vmap::registry::Registry;
use vmap::store::{Store, StoreOptions};

use crate::helpers::harness::trials;
use crate::helpers::http::{HttpClient, RequestBody, full_body, streamed_body};
use crate::helpers::proxy::target_of;
use crate::helpers::{
    Backend, Server, TcpProxy, TestResponse, assert_problem, column, parse_csv, seeded_db,
    seeded_registry, synth_csv, zones,
};

trials! {
    tokio: [
        a_read_only_database_ends_each_format_with_the_abort_record,
        a_chunked_body_over_the_limit_ends_after_the_rows_it_read,
        a_client_uploading_past_the_limit_reads_the_whole_answer,
        a_declared_length_over_the_limit_answers_413_before_any_byte,
        a_list_refused_at_its_start_answers_422_before_any_byte,
        a_complete_list_ends_with_the_complete_trailer_and_nothing_else,
    ],
    postgres: [
        postgres_going_away_mid_list_ends_with_the_abort_record,
    ],
}

/// The answer's machine-readable end, in the last record and in the trailer.
const ABORTED: &str = "stream_aborted";

/// How long the head of an answer may take when it must come before the body is sent.
const HEAD_WITHIN: Duration = Duration::from_secs(10);

/// The router over `registry` with `limits`, on a real socket.
async fn serve(registry: std::sync::Arc<Registry>, limits: Limits) -> Server {
    Server::serve(api::app(AppState::ready(registry, limits))).await
}

/// A POST of `body` to `path` as `content_type`, asking for trailers.
fn assign_request(
    client: &HttpClient,
    path: &str,
    content_type: &str,
    body: RequestBody,
) -> hyper::Request<RequestBody> {
    client
        .request(Method::POST, path)
        .header("content-type", content_type)
        .header("te", "trailers")
        .body(body)
        .expect("request")
}

async fn post_list(server: &Server, path: &str, content_type: &str, list: &str) -> TestResponse {
    let request = assign_request(
        server.client(),
        path,
        content_type,
        full_body(list.to_owned()),
    );
    server.client().send(request).await
}

/// The last record of a CSV answer, after checking that every record lines up with the
/// header and that it is the abort record: every input column empty, `status=error`,
/// `error_code=stream_aborted`. Returns its message.
#[track_caller]
fn csv_abort_message(response: &TestResponse, input_columns: usize) -> String {
    let (header, rows) = parse_csv(&response.text());
    assert!(
        rows.iter().all(|row| row.len() == header.len()),
        "{}",
        response.text()
    );
    let last = rows.last().expect("an abort record");
    assert!(
        last[..input_columns].iter().all(String::is_empty),
        "{last:?}"
    );
    assert_eq!(column(&header, last, "status"), "error", "{last:?}");
    assert_eq!(column(&header, last, "error_code"), ABORTED, "{last:?}");
    assert!(column(&header, last, "code").is_empty(), "{last:?}");
    column(&header, last, "error_message").to_owned()
}

/// The abort object of the JSON formats; returns its message.
#[track_caller]
fn json_abort_message(record: &serde_json::Value) -> String {
    assert_eq!(record["status"], "error", "{record}");
    assert_eq!(record["error_code"], ABORTED, "{record}");
    assert!(record["code"].is_null(), "{record}");
    assert!(record.get("id").is_none(), "{record}");
    record["error_message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

#[track_caller]
fn assert_trailer(response: &TestResponse, status: &str) {
    let declared = response.header("trailer").unwrap_or_default();
    assert!(
        declared.eq_ignore_ascii_case("vmap-status"),
        "Trailer: {declared:?}"
    );
    assert_eq!(
        response.trailer("vmap-status"),
        Some(status),
        "trailers {:?}",
        response.trailers
    );
}

/// A registry on a SQLite database opened read-only, as a read-only file or filesystem
/// would be: it loads, and nothing has told it yet that writes fail.
async fn read_only_server(db_url: &str) -> Server {
    let store = Store::connect(&format!("{db_url}?mode=ro"))
        .await
        .expect("open read-only");
    let registry = Registry::load(store, zones()).await.expect("load");
    serve(std::sync::Arc::new(registry), Limits::default()).await
}

/// The first batch cannot be committed: each format answers 200 (the answer had begun),
/// and its body is a valid document whose last record says the answer stopped, with the
/// trailer `aborted`. The registry then knows the database is away, and the next list is
/// refused 503 before any byte.
async fn a_read_only_database_ends_each_format_with_the_abort_record() {
    let db = seeded_db(&Backend::Sqlite, 300).await;
    let csv = synth_csv(40, 11);

    let server = read_only_server(&db.url).await;
    let response = post_list(&server, "/v1/assign", "text/csv", &csv).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let input_columns = csv.lines().next().expect("header").split(',').count();
    let message = csv_abort_message(&response, input_columns);
    assert!(message.contains("after 0 rows"), "{message}");
    assert!(message.contains("database"), "{message}");
    assert_trailer(&response, "aborted");
    let again = post_list(&server, "/v1/assign", "text/csv", &csv).await;
    let problem = assert_problem(&again, 503, None);
    assert_eq!(problem["code"], "database_unavailable", "{problem}");

    let json =
        r#"[{"id":"a","lat":21.0285,"lon":105.8542},{"id":"b","lat":21.0286,"lon":105.8543}]"#;
    let server = read_only_server(&db.url).await;
    let response = post_list(&server, "/v1/assign", "application/json", json).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let rows = response.json();
    let rows = rows.as_array().expect("a JSON array");
    json_abort_message(rows.last().expect("an abort record"));
    assert_trailer(&response, "aborted");

    let ndjson = "{\"id\":\"a\",\"lat\":21.0285,\"lon\":105.8542}\n{\"id\":\"b\",\"lat\":21.0286,\"lon\":105.8543}\n";
    let server = read_only_server(&db.url).await;
    let response = post_list(&server, "/v1/assign", "application/x-ndjson", ndjson).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    assert!(text.ends_with('\n'), "{text}");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("a JSON line");
    json_abort_message(&last);
    assert_trailer(&response, "aborted");
}

/// A list sent chunked, without `Content-Length`, that grows past `--max-assign-bytes`:
/// the rows read before the limit are answered, then the abort record says how many and
/// why. The server stops reading: the answer ends while the client has not ended its body.
async fn a_chunked_body_over_the_limit_ends_after_the_rows_it_read() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let limit = 4_096;
    let server = serve(
        registry,
        Limits {
            max_assign_bytes: limit,
            ..Limits::default()
        },
    )
    .await;
    let mut first = String::from("id,lat,lon,note\n");
    for n in 0..20 {
        first.push_str(&format!("r{n},21.{:04},105.8542,\n", 200 + n));
    }
    assert!(first.len() < limit as usize);
    // One long row next: whatever part of it arrives under the limit holds no whole row, so
    // exactly the first 20 rows are read.
    let second = format!("long,21.0300,105.8542,{}\n", "x".repeat(limit as usize));

    let (sender, body) = streamed_body();
    sender.unbounded_send(Bytes::from(first)).expect("send");
    let request = assign_request(server.client(), "/v1/assign", "text/csv", body);
    let response = server.client().open(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    sender.unbounded_send(Bytes::from(second)).expect("send");
    let response = HttpClient::read_rest(response)
        .await
        .expect("the answer ends while the body is still open");
    drop(sender);

    let (header, rows) = parse_csv(&response.text());
    assert_eq!(rows.len(), 21, "{}", response.text());
    for (n, row) in rows[..20].iter().enumerate() {
        assert_eq!(column(&header, row, "id"), format!("r{n}"));
        assert_eq!(column(&header, row, "status"), "created", "{row:?}");
    }
    let message = csv_abort_message(&response, 4);
    assert!(message.contains("after 20 rows"), "{message}");
    assert!(
        message.contains(&format!("larger than {limit} bytes")),
        "{message}"
    );
    assert_trailer(&response, "aborted");
}

/// A client that uploads its whole list before it reads the answer (as simple clients do),
/// far past the limit: the server stops at the limit, answers, and reads and drops the rest
/// of the upload before it closes, so the client's upload goes through and it reads the
/// whole answer, its last chunk included, rather than a reset connection.
async fn a_client_uploading_past_the_limit_reads_the_whole_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let limit = 64 * 1024;
    let server = serve(
        registry,
        Limits {
            max_assign_bytes: limit,
            ..Limits::default()
        },
    )
    .await;
    const UPLOAD_BYTES: usize = 16 * 1024 * 1024;
    let rows = "x,21.0285,105.8542\n".repeat(1_000);
    let chunk = format!("{:x}\r\n{rows}\r\n", rows.len());
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /v1/assign HTTP/1.1\r\nhost: vmap\r\ncontent-type: text/csv\r\n\
              transfer-encoding: chunked\r\n\r\nb\r\nid,lat,lon\n\r\n",
        )
        .await
        .expect("write the head");
    let mut sent = 0;
    while sent < UPLOAD_BYTES {
        if let Err(err) = stream.write_all(chunk.as_bytes()).await {
            panic!("the upload broke after {sent} of {UPLOAD_BYTES} bytes: {err}");
        }
        sent += rows.len();
    }
    stream.write_all(b"0\r\n\r\n").await.expect("end the body");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .expect("the answer ends");
    let text = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "{read:?}: {text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = dechunk(&answer);
    let (header, rows) = parse_csv(&body);
    assert_eq!(header[..3], ["id", "lat", "lon"]);
    let read_rows = rows.len() - 1;
    assert!(
        read_rows > 0 && read_rows < 64 * 1024 / 19,
        "{read_rows} rows"
    );
    let last = rows.last().expect("rows");
    assert_eq!(column(&header, last, "error_code"), ABORTED);
    let message = column(&header, last, "error_message");
    assert!(
        message.contains(&format!("after {read_rows} rows")),
        "{message}"
    );
    assert!(
        message.contains(&format!("larger than {limit} bytes")),
        "{message}"
    );
}

/// The body of a raw HTTP/1.1 answer in chunked encoding; fails the test unless it ends
/// with its last chunk (and no trailer: none was asked for). Read as bytes: a chunk may end
/// inside a character.
#[track_caller]
fn dechunk(answer: &[u8]) -> String {
    fn split_crlf(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let at = bytes.windows(2).position(|pair| pair == b"\r\n")?;
        Some((&bytes[..at], &bytes[at + 2..]))
    }
    let head_end = answer
        .windows(4)
        .position(|four| four == b"\r\n\r\n")
        .expect("a head");
    let mut rest = &answer[head_end + 4..];
    let mut body = Vec::new();
    loop {
        let (size, after) = split_crlf(rest).expect("a chunk size line");
        let size = std::str::from_utf8(size).expect("a size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a hexadecimal size");
        if size == 0 {
            assert_eq!(after, b"\r\n", "the answer ends after its last chunk");
            return String::from_utf8(body).expect("a UTF-8 body");
        }
        body.extend_from_slice(&after[..size]);
        rest = after[size..].strip_prefix(b"\r\n").expect("a chunk end");
    }
}

/// A declared length over the limit is refused before the body is sent.
async fn a_declared_length_over_the_limit_answers_413_before_any_byte() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let server = serve(
        registry,
        Limits {
            max_assign_bytes: 1_000,
            ..Limits::default()
        },
    )
    .await;
    let (sender, body) = streamed_body();
    let request = server
        .client()
        .request(Method::POST, "/v1/assign")
        .header("content-type", "text/csv")
        .header("content-length", 5_000)
        .body(body)
        .expect("request");
    let response = tokio::time::timeout(HEAD_WITHIN, server.client().open(request))
        .await
        .expect("the answer comes before the body")
        .expect("an answer");
    let response = HttpClient::read_rest(response).await.expect("the answer");
    assert_problem(&response, 413, None);
    drop(sender);
}

/// A list refused at its start is refused 422 as soon as its start has come, before the body
/// ends: a CSV header without `lat` or `lon` (or an alias), naming what is missing, one with a
/// column the answer adds or two columns for one thing, naming the later, and a UTF-16 list
/// of any format. With `lat` and `lon`, a header-only list answers 200 with the header only.
async fn a_list_refused_at_its_start_answers_422_before_any_byte() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let server = serve(registry, Limits::default()).await;
    for (header, missing) in [
        ("id,note,lon\n", vec!["lat"]),
        ("\u{feff}id;Latitude;Note\r\n", vec!["lon"]),
        ("id,house_number\n", vec!["lat", "lon"]),
    ] {
        let (sender, body) = streamed_body();
        sender
            .unbounded_send(Bytes::from(header.to_owned()))
            .expect("send");
        let request = assign_request(server.client(), "/v1/assign", "text/csv", body);
        let response = tokio::time::timeout(HEAD_WITHIN, server.client().open(request))
            .await
            .unwrap_or_else(|_| panic!("{header:?}: no answer before the body ended"))
            .expect("an answer");
        let response = HttpClient::read_rest(response).await.expect("the answer");
        let problem = assert_problem(&response, 422, None);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|error| error["field"].as_str())
            .collect();
        assert_eq!(fields, missing, "{header:?}: {problem}");
        assert!(
            problem["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .all(|error| error["code"] == "missing_column"),
            "{problem}"
        );
        drop(sender);
    }
    for (content_type, start, field, code) in [
        (
            "text/csv",
            &b"id,lat,lon,Code\n"[..],
            "Code",
            "reserved_column",
        ),
        (
            "text/csv",
            b"lat,lon,Latitude\r\n",
            "Latitude",
            "duplicate_column",
        ),
        ("text/csv", b"\xFE\xFF\0i", "body", "encoding"),
        ("application/json", b"\xFF\xFE[\0", "body", "encoding"),
    ] {
        let (sender, body) = streamed_body();
        sender
            .unbounded_send(Bytes::from_static(start))
            .expect("send");
        let request = assign_request(server.client(), "/v1/assign", content_type, body);
        let response = tokio::time::timeout(HEAD_WITHIN, server.client().open(request))
            .await
            .unwrap_or_else(|_| panic!("{start:?}: no answer before the body ended"))
            .expect("an answer");
        let response = HttpClient::read_rest(response).await.expect("the answer");
        let problem = assert_problem(&response, 422, Some(field));
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
        drop(sender);
    }
    let empty = post_list(&server, "/v1/assign", "text/csv", "").await;
    assert_problem(&empty, 422, Some("lat"));

    let response = post_list(&server, "/v1/assign", "text/csv", "id,Latitude,Lng\n").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        "id,Latitude,Lng,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n"
    );
    assert_trailer(&response, "complete");
}

/// The answers to these lists (a new registry: 2025 codes, the 2025 columns); a complete
/// list answers them byte for byte, the trailer adding nothing to the body.
const CSV_LIST: &str = "id,lat,lon,house_number,note\n\
                        a,21.0285,105.8542,12,gate 2\n\
                        b,north,105.85,1,\n\
                        c,10.7769,106.7009,,\"x, y\"\n";
const CSV_ANSWER: &str = "id,lat,lon,house_number,note,code,status,postcode,distance_m,error_code,error_message,postcode_2025,ward_2025,province_2025,warning,match_level,confidence,matched_label\n\
    a,21.0285,105.8542,12,gate 2,110242VH3CM4,created,11024,,,,11024,Phường Hoàn Kiếm,Thành phố Hà Nội,,,,\n\
    b,north,105.85,1,,,error,,,invalid_coordinate,\"lat must be a decimal number of degrees, got \"\"north\"\"\",,,,,,,\n\
    c,10.7769,106.7009,,\"x, y\",71016QPG2Q96,created,71016,,,,71016,Phường Sài Gòn,Thành phố Hồ Chí Minh,,,,\n";
const JSON_LIST: &str = r#"[{"id":"a","lat":21.0285,"lon":105.8542,"crm":{"tier":1}},{"id":"b","lat":true,"lon":1},[1]]"#;
const JSON_ANSWER: &str = "[{\"id\":\"a\",\"lat\":21.0285,\"lon\":105.8542,\"crm\":{\"tier\":1},\"code\":\"110242VH3CM4\",\"status\":\"created\",\"postcode\":\"11024\",\"distance_m\":null,\"error_code\":null,\"error_message\":null,\"postcode_2025\":\"11024\",\"ward_2025\":\"Phường Hoàn Kiếm\",\"province_2025\":\"Thành phố Hà Nội\",\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null},\n\
    {\"id\":\"b\",\"lat\":true,\"lon\":1,\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"invalid_field\",\"error_message\":\"row 2: \\\"lat\\\" must be a string or a number, not a boolean\",\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null},\n\
    {\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"not_an_object\",\"error_message\":\"row 3 is an array, expected an object\",\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}]\n";
const NDJSON_LIST: &str = "{\"id\":\"a\",\"lat\":16.0544,\"lon\":108.2022}\n\nnot json\n{\"id\":\"b\",\"lat\":95,\"lon\":1}\n";
const NDJSON_ANSWER: &str = "{\"id\":\"a\",\"lat\":16.0544,\"lon\":108.2022,\"code\":\"502193632QV8\",\"status\":\"created\",\"postcode\":\"50219\",\"distance_m\":null,\"error_code\":null,\"error_message\":null,\"postcode_2025\":\"50219\",\"ward_2025\":\"Phường Hòa Cường\",\"province_2025\":\"Thành phố Đà Nẵng\",\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}\n\
    {\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"invalid_json\",\"error_message\":\"row 2 (line 3) is not valid JSON: expected ident at line 1 column 2\",\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}\n\
    {\"id\":\"b\",\"lat\":95,\"lon\":1,\"code\":null,\"status\":\"error\",\"postcode\":null,\"distance_m\":null,\"error_code\":\"coordinate_out_of_range\",\"error_message\":\"lat must be a finite number of degrees between -90 and 90\",\"postcode_2025\":null,\"ward_2025\":null,\"province_2025\":null,\"warning\":null,\"match_level\":null,\"confidence\":null,\"matched_label\":null}\n";

/// A complete list: the trailer says `complete`, and the body is what it was before, with
/// no record added. A client that does not ask for trailers gets the same body.
async fn a_complete_list_ends_with_the_complete_trailer_and_nothing_else() {
    let (_db, registry) = seeded_registry(&Backend::Sqlite, 300).await;
    let server = serve(registry, Limits::default()).await;
    for (content_type, list, answer) in [
        ("text/csv", CSV_LIST, CSV_ANSWER),
        ("application/json", JSON_LIST, JSON_ANSWER),
        ("application/x-ndjson", NDJSON_LIST, NDJSON_ANSWER),
    ] {
        let response = post_list(&server, "/v1/assign?dry_run=true", content_type, list).await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.text(), answer, "{content_type}");
        assert_trailer(&response, "complete");
        let plain = server
            .post("/v1/assign?dry_run=true", content_type, list.to_owned())
            .await;
        assert_eq!(plain.text(), answer, "{content_type} without TE: trailers");
        assert_eq!(plain.trailers, None);
    }
}

/// PostgreSQL goes away (its connections cut, new ones refused) while a long list streams:
/// the rows committed before are answered, then the abort record says how many.
async fn postgres_going_away_mid_list_ends_with_the_abort_record(backend: &Backend) {
    let db = seeded_db(backend, 300).await;
    let proxy = TcpProxy::open_to(target_of(&db.url)).await;
    let options = StoreOptions {
        db_timeout: Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let store = Store::connect_with(&proxy.url_for(&db.url), &options)
        .await
        .expect("connect through the proxy");
    let registry = Registry::load(store, zones()).await.expect("load");
    let server = serve(std::sync::Arc::new(registry), Limits::default()).await;

    let batch = vmap::assign::DEFAULT_BATCH_ROWS;
    let list = synth_csv(3 * batch as u64, 21);
    let lines: Vec<&str> = list.lines().collect();
    let input_columns = lines[0].split(',').count();
    let part = |range: std::ops::Range<usize>| Bytes::from(lines[range].join("\n") + "\n");
    let (sender, body) = streamed_body();
    sender
        .unbounded_send(part(0..batch + 101))
        .expect("send the first batch");
    let request = assign_request(server.client(), "/v1/assign", "text/csv", body);
    let response = server.client().open(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    let trailer_declared = response
        .headers()
        .get("trailer")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();

    // Read until the first batch is answered, then take the database away.
    let mut body = response.into_body();
    let mut text = Vec::new();
    let mut trailers = None;
    while text.iter().filter(|&&byte| byte == b'\n').count() < batch + 1 {
        let frame = tokio::time::timeout(Duration::from_secs(60), body.frame())
            .await
            .expect("the first batch is answered")
            .expect("the answer goes on")
            .expect("a frame");
        text.extend_from_slice(frame.data_ref().expect("data before the end"));
    }
    proxy.close().await;
    sender
        .unbounded_send(part(batch + 101..lines.len()))
        .expect("send the rest");
    drop(sender);
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(60), body.frame())
        .await
        .expect("the answer ends")
    {
        let frame = frame.expect("the answer ends without a fault");
        match frame.into_data() {
            Ok(data) => text.extend_from_slice(&data),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let response = TestResponse {
        status: axum::http::StatusCode::OK,
        content_type: "text/csv; charset=utf-8".to_owned(),
        headers: axum::http::HeaderMap::from_iter([(
            axum::http::header::TRAILER,
            axum::http::HeaderValue::from_str(&trailer_declared).expect("a header value"),
        )]),
        body: text,
        trailers,
    };
    let (header, rows) = parse_csv(&response.text());
    assert_eq!(
        rows.len(),
        batch + 1,
        "the first batch and the abort record"
    );
    assert!(
        rows[..batch]
            .iter()
            .all(|row| column(&header, row, "status") == "created")
    );
    let message = csv_abort_message(&response, input_columns);
    assert!(
        message.contains(&format!("after {batch} rows")),
        "{message}"
    );
    assert!(message.contains("database"), "{message}");
    assert_trailer(&response, "aborted");
}
