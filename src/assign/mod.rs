//! Bulk assignment: an address list in, the same list with codes out, row for row, streamed.
//!
//! One engine for the HTTP route and the CLI. Three stages run at once so that neither the
//! parser, the registry nor the writer waits for the others, and a million-row list is never
//! held whole: a blocking thread reads rows ([`format`]) into batches, the registry decides
//! and commits each batch ([`Registry::assign_batch`]), and another blocking thread writes
//! the answers in the input's format. Batches are cut at fixed row counts from the start of
//! the list, so a list run again after a crash is cut the same way and gets the same codes.

pub mod format;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::point::LatLon;
use crate::progress::Progress;
use crate::registry::{AssignOptions, AssignOutcome, AssignRow, Registry, RegistryError};
use crate::store::AddressParts;
use format::{Format, FormatError, InputRow, RowFields, RowOutcome, RowWriter};

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
}

impl Default for AssignSettings {
    fn default() -> AssignSettings {
        AssignSettings {
            options: AssignOptions::default(),
            batch_rows: DEFAULT_BATCH_ROWS,
            max_rows: None,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AssignSummary {
    pub rows: u64,
    pub created: u64,
    pub existing: u64,
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
    #[error("reading or writing the list failed: {0}")]
    Format(#[from] FormatError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("assignment stopped: {0}")]
    Stopped(String),
}

/// A row's problem before it reaches the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    fn new(code: &'static str, message: impl Into<String>) -> RowError {
        RowError {
            code,
            message: message.into(),
        }
    }
}

fn parse_coordinate(name: &str, text: Option<&str>) -> Result<f64, RowError> {
    let Some(text) = text else {
        return Err(RowError::new(
            "missing_coordinate",
            format!("{name} is required"),
        ));
    };
    // Spreadsheets set to Vietnamese write a decimal comma (`10,7626` in a `;` file).
    let text = text.trim();
    let decimal = if text.contains(',') && !text.contains('.') {
        text.replacen(',', ".", 1)
    } else {
        text.to_owned()
    };
    match decimal.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(RowError::new(
            "invalid_coordinate",
            format!("{name} must be a decimal number of degrees, got {text:?}"),
        )),
    }
}

/// Checks one row and turns it into what the registry takes.
pub fn validate(fields: &RowFields, max_field_chars: usize) -> Result<AssignRow, RowError> {
    let lat = parse_coordinate("lat", fields.lat.as_deref())?;
    let lon = parse_coordinate("lon", fields.lon.as_deref())?;
    let location = LatLon::new(lat, lon)
        .map_err(|error| RowError::new("coordinate_out_of_range", error.to_string()))?;
    let texts = [
        ("id", &fields.id),
        ("house_number", &fields.house_number),
        ("alley", &fields.alley),
        ("street", &fields.street),
        ("unit", &fields.unit),
        ("ward", &fields.ward),
        ("district", &fields.district),
        ("province", &fields.province),
        ("address", &fields.address),
    ];
    for (name, value) in texts {
        if let Some(value) = value
            && value.chars().count() > max_field_chars
        {
            return Err(RowError::new(
                "field_too_long",
                format!(
                    "{name} is {} characters long, at most {max_field_chars} are allowed",
                    value.chars().count()
                ),
            ));
        }
    }
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

fn failed(code: &str, message: String) -> RowOutcome {
    RowOutcome {
        status: "error",
        error_code: Some(code.to_owned()),
        error_message: Some(message),
        ..RowOutcome::default()
    }
}

fn row_outcome(outcome: AssignOutcome) -> RowOutcome {
    match outcome {
        AssignOutcome::Created { code } => RowOutcome {
            code: Some(code.canonical()),
            status: "created",
            postcode: Some(code.postcode().to_string()),
            ..RowOutcome::default()
        },
        AssignOutcome::Existing { code, distance_m } => RowOutcome {
            code: Some(code.canonical()),
            status: "existing",
            postcode: Some(code.postcode().to_string()),
            distance_m: Some(distance_m),
            ..RowOutcome::default()
        },
        AssignOutcome::Failed {
            error_code,
            message,
        } => failed(error_code, message),
    }
}

/// Decides one batch: rows that fail validation (or come past `max_rows`) answer alone;
/// the rest go to the registry together.
async fn decide_batch(
    registry: &Registry,
    rows: &[InputRow],
    rows_before: u64,
    settings: &AssignSettings,
) -> Result<Vec<RowOutcome>, AssignError> {
    let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
    let mut valid = Vec::with_capacity(rows.len());
    let mut valid_positions = Vec::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        let row_index = rows_before + position as u64;
        if settings.max_rows.is_some_and(|max| row_index >= max) {
            let max = settings.max_rows.unwrap_or_default();
            outcomes[position] = Some(failed(
                "row_limit",
                format!(
                    "only the first {max} rows of a list are processed; send the rest in another request"
                ),
            ));
            continue;
        }
        let checked = match &row.fields {
            Ok(fields) => validate(fields, settings.max_field_chars),
            Err(read_error) => Err(RowError::new(read_error.code, read_error.message.clone())),
        };
        match checked {
            Ok(assign_row) => {
                valid.push(assign_row);
                valid_positions.push(position);
            }
            Err(error) => outcomes[position] = Some(failed(error.code, error.message)),
        }
    }
    let decided = registry.assign_batch(&valid, settings.options).await?;
    for (position, outcome) in valid_positions.into_iter().zip(decided) {
        outcomes[position] = Some(row_outcome(outcome));
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| failed("internal", "row was not decided".to_owned()))
        })
        .collect())
}

/// Assigns codes to every row of `input` and writes the answered list to `output`.
/// Returns the summary and the output writer once everything is written and flushed.
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
    let started = Instant::now();
    let batch_rows = settings.batch_rows.max(1);
    let (header_sender, header_receiver) = tokio::sync::oneshot::channel();
    let (batch_sender, mut batch_receiver) = tokio::sync::mpsc::channel::<Vec<InputRow>>(2);
    let (answer_sender, mut answer_receiver) =
        tokio::sync::mpsc::channel::<(Vec<InputRow>, Vec<RowOutcome>)>(2);

    let reader = tokio::task::spawn_blocking(move || -> Result<(), FormatError> {
        let rows = match format::read_rows(format, input) {
            Ok(rows) => rows,
            Err(error) => {
                let _ = header_sender.send(None);
                return Err(error);
            }
        };
        let _ = header_sender.send(rows.csv_header().cloned());
        let mut batch = Vec::with_capacity(batch_rows);
        for row in rows {
            batch.push(row?);
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
        let mut writer = RowWriter::new(format, header.as_ref(), output)?;
        while let Some((rows, outcomes)) = answer_receiver.blocking_recv() {
            for (row, outcome) in rows.iter().zip(&outcomes) {
                writer.write_row(row, outcome)?;
            }
            writer.flush()?;
        }
        writer.finish()
    });

    let mut summary = AssignSummary::default();
    let mut decide_error = None;
    while let Some(rows) = batch_receiver.recv().await {
        let outcomes = match decide_batch(&registry, &rows, summary.rows, &settings).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                decide_error = Some(error);
                break;
            }
        };
        for outcome in &outcomes {
            match outcome.status {
                "created" => summary.created += 1,
                "existing" => summary.existing += 1,
                _ => summary.errors += 1,
            }
        }
        summary.rows += rows.len() as u64;
        if let Some(progress) = &progress {
            progress.inc(rows.len() as u64);
        }
        if answer_sender.send((rows, outcomes)).await.is_err() {
            break;
        }
    }
    drop(batch_receiver);
    drop(answer_sender);
    let read_result = reader
        .await
        .map_err(|error| AssignError::Stopped(error.to_string()))?;
    let write_result = writer
        .await
        .map_err(|error| AssignError::Stopped(error.to_string()))?;
    if let Some(error) = decide_error {
        return Err(error);
    }
    read_result?;
    let output = write_result?;
    summary.duration = started.elapsed();
    Ok((summary, output))
}
