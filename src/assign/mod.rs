//! Bulk assignment: an address list in, the same list with codes out, row for row, streamed.
//!
//! One engine for the HTTP route and the CLI. Three stages run at once so that neither the
//! parser, the registry nor the writer waits for the others, and a million-row list is never
//! held whole: a blocking thread reads rows ([`format`]) into batches, the registry decides
//! and commits each batch ([`Registry::assign_batch`]), and another blocking thread writes
//! the answers in the input's format. Batches are cut at fixed row counts from the start of
//! the list, so a list run again after a crash is cut the same way and gets the same codes.
//!
//! Decisions: a list that stops early (the database goes away, the input fails or passes
//! its byte limit) still ends as a valid document in its own format — the rows decided so
//! far, then one `stream_aborted` record saying after how many rows and why — rather than
//! breaking off: a CSV cut between rows, or a JSON array closed early, would read as a
//! complete list. The rows read before an input fault are decided, so the count is exact.

mod columns;
pub mod format;
mod outcome;
mod text;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::address::{self, AddressParts, InputError};
use crate::code::CodeError;
use crate::progress::Progress;
use crate::registry::{
    AssignFailure, AssignOptions, AssignOutcome, AssignRow, Registry, RegistryError,
};
use columns::{PlacedRow, add_columns_2025, columns_2025_of, written_of};
use format::{Format, FormatError, InputRow, ReadLimits, RowFields, RowWriter, WriterOptions};
pub use outcome::{RowErrorCode, RowOutcome, RowStatus, RowWarning};

/// Rows decided and committed together: one database transaction each.
pub const DEFAULT_BATCH_ROWS: usize = 4_096;
/// Longest text accepted in any one field, in characters.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssignSettings {
    pub options: AssignOptions,
    pub batch_rows: usize,
    /// Rows past this many answer `row_limit` without being processed.
    pub max_rows: Option<u64>,
    pub max_field_chars: usize,
    /// Byte limits of every cell and row, whatever the column.
    pub read_limits: ReadLimits,
    /// How the answer is written (`csv_safe`).
    pub writer: WriterOptions,
}

impl Default for AssignSettings {
    fn default() -> AssignSettings {
        AssignSettings {
            options: AssignOptions::default(),
            batch_rows: DEFAULT_BATCH_ROWS,
            max_rows: None,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
            read_limits: ReadLimits::DEFAULT,
            writer: WriterOptions::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AssignSummary {
    pub rows: u64,
    pub created: u64,
    pub existing: u64,
    /// Rows without coordinates whose text found no one registered address.
    pub unmatched: u64,
    pub errors: u64,
    pub duration: Duration,
}

impl AssignSummary {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssignError {
    /// Its own text says what failed (an I/O error, a refused list).
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("assignment stopped: {0}")]
    Stopped(String),
    /// Its caller asked it to stop ([`run_until`]): the server is shutting down.
    #[error("assignment stopped: the server is shutting down")]
    ShuttingDown,
}

/// Checks that no text field of a row is longer than `max_field_chars` characters.
pub fn check_field_lengths(fields: &RowFields, max_field_chars: usize) -> Result<(), InputError> {
    address::check_lengths(
        [
            ("id", fields.id.as_deref()),
            ("house_number", fields.house_number.as_deref()),
            ("alley", fields.alley.as_deref()),
            ("street", fields.street.as_deref()),
            ("unit", fields.unit.as_deref()),
            ("ward", fields.ward.as_deref()),
            ("district", fields.district.as_deref()),
            ("province", fields.province.as_deref()),
            ("address", fields.address.as_deref()),
        ],
        max_field_chars,
    )
}

/// What a valid row asks.
#[derive(Debug, Clone, PartialEq)]
pub enum RowRequest {
    /// A point to code.
    Point(AssignRow),
    /// No coordinates: the registered address this text names (`text.rs`).
    Text(String),
}

/// Checks one row: a point to code or, without `lat` and `lon`, address text to find.
pub fn validate_request(
    fields: &RowFields,
    max_field_chars: usize,
) -> Result<RowRequest, InputError> {
    if fields.lat.is_none()
        && fields.lon.is_none()
        && let Some(text) = text::row_text(fields)
    {
        check_field_lengths(fields, max_field_chars)?;
        return Ok(RowRequest::Text(text));
    }
    validate(fields, max_field_chars).map(RowRequest::Point)
}

/// Checks one row with a point and turns it into what the registry takes.
pub fn validate(fields: &RowFields, max_field_chars: usize) -> Result<AssignRow, InputError> {
    let location = address::parse_location(fields.lat.as_deref(), fields.lon.as_deref())?;
    check_field_lengths(fields, max_field_chars)?;
    Ok(AssignRow {
        location,
        parts: AddressParts {
            house_number: fields.house_number.clone(),
            alley: fields.alley.clone(),
            street: fields.street.clone(),
            unit: fields.unit.clone(),
            address: fields.address.clone(),
            client_ref: fields.id.clone(),
        },
    })
}

impl From<&InputError> for RowErrorCode {
    fn from(error: &InputError) -> RowErrorCode {
        match error {
            InputError::Missing { .. } => RowErrorCode::MissingCoordinate,
            InputError::NotANumber { .. } => RowErrorCode::InvalidCoordinate,
            InputError::OutOfRange(_) => RowErrorCode::CoordinateOutOfRange,
            InputError::TooLong { .. } => RowErrorCode::FieldTooLong,
        }
    }
}

impl From<&AssignFailure> for RowErrorCode {
    fn from(failure: &AssignFailure) -> RowErrorCode {
        match failure {
            AssignFailure::OutsideCoverage { .. } => RowErrorCode::OutsideCoverage,
            AssignFailure::Code(CodeError::TooFarFromReference) => {
                RowErrorCode::TooFarFromReference
            }
            AssignFailure::Code(CodeError::SuffixOutOfRange { .. }) => RowErrorCode::InvalidSuffix,
            _ => RowErrorCode::Internal,
        }
    }
}

fn row_outcome(outcome: AssignOutcome) -> RowOutcome {
    match outcome {
        AssignOutcome::Created { code } => RowOutcome {
            code: Some(code.canonical()),
            status: RowStatus::Created,
            postcode: Some(code.postcode().to_string()),
            ..RowOutcome::default()
        },
        AssignOutcome::Existing { code, distance_m } => RowOutcome {
            code: Some(code.canonical()),
            status: RowStatus::Existing,
            postcode: Some(code.postcode().to_string()),
            distance_m: Some(distance_m),
            ..RowOutcome::default()
        },
        AssignOutcome::Failed(failure) => {
            RowOutcome::failed(RowErrorCode::from(&failure), failure.to_string())
        }
    }
}

/// Decides one batch: rows that fail validation (or come past `max_rows`) answer alone;
/// the rest go to the registry together.
async fn decide_batch(
    registry: &Arc<Registry>,
    rows: &[InputRow],
    rows_before: u64,
    settings: &AssignSettings,
) -> Result<Vec<RowOutcome>, AssignError> {
    let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
    let mut valid = Vec::with_capacity(rows.len());
    let mut valid_positions = Vec::with_capacity(rows.len());
    let mut texts = Vec::new();
    let mut text_positions = Vec::new();
    for (position, row) in rows.iter().enumerate() {
        let row_index = rows_before + position as u64;
        if settings.max_rows.is_some_and(|max| row_index >= max) {
            let max = settings.max_rows.unwrap_or_default();
            outcomes[position] = Some(RowOutcome::failed(
                RowErrorCode::RowLimit,
                format!(
                    "only the first {max} rows of a list are processed; send the rest in another request"
                ),
            ));
            continue;
        }
        let checked = match &row.fields {
            Ok(fields) => validate_request(fields, settings.max_field_chars)
                .map_err(|error| RowOutcome::failed(RowErrorCode::from(&error), error.to_string())),
            Err(read_error) => Err(RowOutcome::failed(
                read_error.code,
                read_error.message.clone(),
            )),
        };
        match checked {
            Ok(RowRequest::Point(assign_row)) => {
                valid.push(assign_row);
                valid_positions.push(position);
            }
            Ok(RowRequest::Text(text)) => {
                let written = row
                    .fields
                    .as_ref()
                    .map_or_else(|_| Default::default(), written_of);
                texts.push((text, written));
                text_positions.push(position);
            }
            Err(failed) => outcomes[position] = Some(failed),
        }
    }
    for (position, outcome) in text_positions
        .into_iter()
        .zip(text::find_rows(registry, texts).await)
    {
        outcomes[position] = Some(outcome);
    }
    // One per valid row, in order.
    let placed: Vec<Option<PlacedRow>> = valid_positions
        .iter()
        .zip(&valid)
        .map(|(&position, row)| {
            let fields = rows[position].fields.as_ref().ok()?;
            Some((row.location, written_of(fields)))
        })
        .collect();
    let (decided, columns) = tokio::join!(
        registry.assign_batch(&valid, settings.options),
        columns_2025_of(registry, placed)
    );
    for ((position, outcome), row_columns) in valid_positions.into_iter().zip(decided?).zip(columns)
    {
        let mut outcome = row_outcome(outcome);
        if outcome.status != RowStatus::Error {
            add_columns_2025(&mut outcome, row_columns);
        }
        outcomes[position] = Some(outcome);
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| {
                RowOutcome::failed(RowErrorCode::Internal, "row was not decided")
            })
        })
        .collect())
}

/// The metric of rows decided, by `status` (`GET /metrics`).
pub const ROWS_METRIC: &str = "vmap_assign_rows_total";

/// Adds a batch's rows to the [`ROWS_METRIC`] metric (a no-op without a recorder,
/// as in `vmap assign`).
fn count_rows(before: &AssignSummary, after: &AssignSummary) {
    for (status, n) in [
        ("created", after.created - before.created),
        ("existing", after.existing - before.existing),
        ("unmatched", after.unmatched - before.unmatched),
        ("error", after.errors - before.errors),
    ] {
        if n > 0 {
            metrics::counter!(ROWS_METRIC, "status" => status).increment(n);
        }
    }
}

/// What the engine hands the writer thread.
enum ToWriter {
    Rows(Vec<InputRow>, Vec<RowOutcome>),
    /// The list is complete: close the document.
    Complete,
    /// The list stops here: write the abort record with this message, then close.
    Aborted(String),
}

/// The abort record's message: how many rows are answered above it, and why it stops.
fn abort_message(rows: u64, cause: &str) -> String {
    format!(
        "the answer stops after {rows} rows: {cause}. The rows above are answered; later rows \
         were not processed: send them again"
    )
}

/// Why a list stopped, in words fit for the answer (details of a server failure go to the
/// log only).
fn decide_cause(error: &AssignError) -> String {
    match error {
        AssignError::Registry(error) if error.is_database_unavailable() => {
            "the database became unavailable (unreachable, locked or read-only)".to_owned()
        }
        AssignError::ShuttingDown => "the server is shutting down".to_owned(),
        _ => "the server failed (the cause is logged)".to_owned(),
    }
}

/// Why reading the list stopped: the input's own fault (a body over its limit, a client
/// that went silent), so it is told as it is.
fn read_cause(error: &FormatError) -> String {
    match error {
        FormatError::Io(error) => format!("reading the list failed: {error}"),
        FormatError::Csv(error) => format!("reading the list failed: {error}"),
        FormatError::List(refusal) => format!("the list is refused: {refusal}"),
    }
}

/// Assigns codes to every row of `input` and writes the answered list to `output`.
/// Returns the summary and the output writer once everything is written and flushed.
///
/// A list that cannot be finished — the registry fails (the database went away), or
/// reading `input` fails — still ends as a valid document: the rows decided so far, then
/// one abort record ([`RowWriter::write_abort`]) saying after how many rows and why; then
/// the error is returned. So does a run whose engine stops without saying how the list
/// ended (a panic): the writer never closes a list as complete unless told so. A list
/// refused at its start ([`format::ListError`]) is refused before anything is answered by a
/// caller that judges its start first ([`format::ListPeeker`], [`format::peek_list`]), with
/// the reader's own code; here it could only end in the abort record.
pub async fn run<R, W>(
    registry: Arc<Registry>,
    format: Format,
    input: R,
    output: W,
    settings: AssignSettings,
    progress: Option<Arc<Progress>>,
) -> Result<(AssignSummary, W), AssignError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    run_until(
        registry,
        format,
        input,
        output,
        settings,
        progress,
        std::future::pending(),
    )
    .await
}

/// [`run`] that stops once `stop` resolves (the server drains): the batch being decided is
/// finished and answered, then the list ends with the abort record, as after a registry
/// failure, and [`AssignError::ShuttingDown`] is returned.
pub async fn run_until<R, W>(
    registry: Arc<Registry>,
    format: Format,
    input: R,
    output: W,
    settings: AssignSettings,
    progress: Option<Arc<Progress>>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(AssignSummary, W), AssignError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let mut stop = std::pin::pin!(stop);
    let started = Instant::now();
    let batch_rows = settings.batch_rows.max(1);
    let (header_sender, header_receiver) = tokio::sync::oneshot::channel();
    let (batch_sender, mut batch_receiver) = tokio::sync::mpsc::channel::<Vec<InputRow>>(2);
    let (answer_sender, mut answer_receiver) = tokio::sync::mpsc::channel::<ToWriter>(2);

    let read_limits = settings.read_limits;
    let reader = tokio::task::spawn_blocking(move || -> Result<(), FormatError> {
        let rows = match format::read_rows_with(format, input, read_limits) {
            Ok(rows) => rows,
            Err(error) => {
                let _ = header_sender.send(None);
                return Err(error);
            }
        };
        let _ = header_sender.send(rows.csv_header().cloned());
        let mut batch = Vec::with_capacity(batch_rows);
        for row in rows {
            // The engine stopped (the registry failed): read no further.
            if batch_sender.is_closed() {
                return Ok(());
            }
            let row = match row {
                Ok(row) => row,
                Err(error) => {
                    // The rows read before the fault are answered: the answer then says
                    // exactly where the list stopped.
                    if !batch.is_empty() {
                        let _ = batch_sender.blocking_send(batch);
                    }
                    return Err(error);
                }
            };
            batch.push(row);
            if batch.len() == batch_rows {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                if batch_sender.blocking_send(full).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = batch_sender.blocking_send(batch);
        }
        Ok(())
    });

    let writer = tokio::task::spawn_blocking(move || -> Result<W, FormatError> {
        let header = header_receiver.blocking_recv().ok().flatten();
        let mut writer = RowWriter::with_options(format, header.as_ref(), output, settings.writer)?;
        let mut rows_written = 0_u64;
        loop {
            match answer_receiver.blocking_recv() {
                Some(ToWriter::Rows(rows, outcomes)) => {
                    for (row, outcome) in rows.iter().zip(&outcomes) {
                        writer.write_row(row, outcome)?;
                    }
                    rows_written += rows.len() as u64;
                    writer.flush()?;
                }
                Some(ToWriter::Complete) => break,
                Some(ToWriter::Aborted(message)) => {
                    writer.write_abort(&message)?;
                    break;
                }
                // The engine went away without saying how the list ended: it did not end
                // well, and the document must not look complete.
                None => {
                    writer.write_abort(&abort_message(
                        rows_written,
                        "the server failed (the cause is logged)",
                    ))?;
                    break;
                }
            }
        }
        writer.finish()
    });

    let mut summary = AssignSummary::default();
    let mut decide_error = None;
    loop {
        // A stop is only seen between batches, so a batch begun is always answered.
        let rows = tokio::select! {
            biased;
            () = &mut stop => {
                decide_error = Some(AssignError::ShuttingDown);
                break;
            }
            rows = batch_receiver.recv() => match rows {
                Some(rows) => rows,
                None => break,
            },
        };
        let outcomes = match decide_batch(&registry, &rows, summary.rows, &settings).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                decide_error = Some(error);
                break;
            }
        };
        let before = summary;
        for outcome in &outcomes {
            match outcome.status {
                RowStatus::Created => summary.created += 1,
                RowStatus::Existing => summary.existing += 1,
                RowStatus::Unmatched => summary.unmatched += 1,
                RowStatus::Error => summary.errors += 1,
            }
        }
        count_rows(&before, &summary);
        summary.rows += rows.len() as u64;
        if let Some(progress) = &progress {
            progress.inc(rows.len() as u64);
        }
        if answer_sender
            .send(ToWriter::Rows(rows, outcomes))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(batch_receiver);
    // After a registry failure the ending is known at once, and the reader is left to stop
    // by itself at its next row (the batch channel is closed): it may be waiting for input
    // that the client sends slowly, and the answer must not wait for it. Otherwise the
    // batch channel closed because the reader is done, and its result says how the list
    // ended.
    let read_result = match &decide_error {
        Some(_) => None,
        None => Some(
            reader
                .await
                .map_err(|error| AssignError::Stopped(error.to_string()))?,
        ),
    };
    let cause = match (&decide_error, &read_result) {
        (Some(error), _) => Some(decide_cause(error)),
        (None, Some(Err(error))) => Some(read_cause(error)),
        _ => None,
    };
    let ending = match cause {
        Some(cause) => ToWriter::Aborted(abort_message(summary.rows, &cause)),
        None => ToWriter::Complete,
    };
    // A writer already gone has failed, and says so below.
    let _ = answer_sender.send(ending).await;
    drop(answer_sender);
    let write_result = writer
        .await
        .map_err(|error| AssignError::Stopped(error.to_string()))?;
    if let Some(error) = decide_error {
        return Err(error);
    }
    read_result.unwrap_or(Ok(()))?;
    let output = write_result?;
    summary.duration = started.elapsed();
    Ok((summary, output))
}
