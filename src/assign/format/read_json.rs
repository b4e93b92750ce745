//! JSON rows: the elements of an array, scanned one at a time so a bad element fails alone, and
//! NDJSON lines.

use serde_json::{Map, Value};
use std::io::{self, BufRead};

use super::{
    BoxedInput, FIELD_COUNT, Field, InputRow, ListKind, Original, ReadError, ReadLimits,
    RowErrorCode, RowFields, UTF8_BOM, clean_text, describe_byte, fill_buffer,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonState {
    Start,
    FirstElementOrEnd,
    SeparatorOrEnd,
    AfterEnd,
    Ended,
}

/// serde_json has no streaming reader for the elements of one array (its `StreamDeserializer`
/// reads a sequence of top-level values), so this scanner finds each element's byte span by
/// tracking nesting depth, strings and escapes, and hands that span to `serde_json::from_slice`.
/// Only one element is in memory at a time.
pub(super) struct JsonRows<'a> {
    input: BoxedInput<'a>,
    /// Bytes consumed so far, for messages.
    position: u64,
    state: JsonState,
    element: Vec<u8>,
    row_number: u64,
    kind: ListKind,
    limits: ReadLimits,
}

impl<'a> JsonRows<'a> {
    pub(super) fn new(input: BoxedInput<'a>, kind: ListKind, limits: ReadLimits) -> JsonRows<'a> {
        JsonRows {
            input,
            position: 0,
            state: JsonState::Start,
            element: Vec::new(),
            row_number: 0,
            kind,
            limits,
        }
    }

    fn consume(&mut self, count: usize) {
        self.input.consume(count);
        self.position += count as u64;
    }

    /// Skips JSON whitespace; returns the next byte without consuming it, None at the end.
    fn peek_after_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            fill_buffer(&mut self.input)?;
            let chunk = self.input.buffer();
            if chunk.is_empty() {
                return Ok(None);
            }
            let whitespace = chunk
                .iter()
                .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let next = chunk.get(whitespace).copied();
            self.consume(whitespace);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    pub(super) fn next_row(&mut self) -> io::Result<Option<InputRow>> {
        loop {
            match self.state {
                JsonState::Ended => return Ok(None),
                JsonState::Start => {
                    let bom_bytes_read = skip_utf8_bom(&mut self.input)?;
                    self.position += bom_bytes_read as u64;
                    if bom_bytes_read > 0 && bom_bytes_read < UTF8_BOM.len() {
                        // Part of a BOM is neither a BOM nor the start of an array.
                        let message =
                            "expected a JSON array ('[') at byte offset 0, found byte 0xEF"
                                .to_owned();
                        return Ok(Some(self.final_error(message)));
                    }
                    match self.peek_after_whitespace()? {
                        Some(b'[') => {
                            self.consume(1);
                            self.state = JsonState::FirstElementOrEnd;
                        }
                        Some(byte) => {
                            let message = format!(
                                "expected a JSON array ('[') at byte offset {}, found {}",
                                self.position,
                                describe_byte(byte)
                            );
                            return Ok(Some(self.final_error(message)));
                        }
                        None => {
                            let message =
                                "the input is empty, expected a JSON array of objects".to_owned();
                            return Ok(Some(self.final_error(message)));
                        }
                    }
                }
                JsonState::FirstElementOrEnd => match self.peek_after_whitespace()? {
                    Some(b']') => {
                        self.consume(1);
                        self.state = JsonState::AfterEnd;
                    }
                    Some(_) => return self.read_element().map(Some),
                    None => return Ok(Some(self.truncated())),
                },
                JsonState::SeparatorOrEnd => match self.peek_after_whitespace()? {
                    Some(b',') => {
                        self.consume(1);
                        return match self.peek_after_whitespace()? {
                            Some(b']') => {
                                let message = format!(
                                    "invalid JSON at byte offset {}: ']' after ',' (trailing comma)",
                                    self.position
                                );
                                Ok(Some(self.final_error(message)))
                            }
                            Some(_) => self.read_element().map(Some),
                            None => Ok(Some(self.truncated())),
                        };
                    }
                    Some(b']') => {
                        self.consume(1);
                        self.state = JsonState::AfterEnd;
                    }
                    Some(byte) => {
                        let message = format!(
                            "invalid JSON at byte offset {}: expected ',' or ']' after row {}, found {}",
                            self.position,
                            self.row_number,
                            describe_byte(byte)
                        );
                        return Ok(Some(self.final_error(message)));
                    }
                    None => return Ok(Some(self.truncated())),
                },
                JsonState::AfterEnd => match self.peek_after_whitespace()? {
                    None => {
                        self.state = JsonState::Ended;
                        return Ok(None);
                    }
                    Some(byte) => {
                        let message = format!(
                            "invalid JSON at byte offset {}: {} after the closing ']'",
                            self.position,
                            describe_byte(byte)
                        );
                        return Ok(Some(self.final_error(message)));
                    }
                },
            }
        }
    }

    /// Reads one element, starting at the (non-whitespace) byte under the cursor.
    fn read_element(&mut self) -> io::Result<InputRow> {
        let start = self.position;
        fill_buffer(&mut self.input)?;
        let Some(&first) = self.input.buffer().first() else {
            return Ok(self.truncated());
        };
        if matches!(first, b',' | b']' | b'}' | b':') {
            let message = format!(
                "invalid JSON at byte offset {start}: expected a value, found {}",
                describe_byte(first)
            );
            return Ok(self.final_error(message));
        }
        self.element.clear();
        self.element.push(first);
        self.consume(1);
        let mut scan = ValueScan::new(first);
        // An element over the row limit is scanned to its end but not kept.
        let mut size = 1_usize;
        let complete = loop {
            fill_buffer(&mut self.input)?;
            let chunk = self.input.buffer();
            if chunk.is_empty() {
                break scan.is_complete_at_end();
            }
            let (used, complete) = scan.feed(chunk);
            size = size.saturating_add(used);
            if size <= self.limits.max_row_bytes {
                self.element.extend_from_slice(&chunk[..used]);
            } else {
                self.element = Vec::new();
            }
            self.consume(used);
            if complete {
                break true;
            }
        };
        if !complete {
            return Ok(self.truncated());
        }
        self.row_number += 1;
        self.state = JsonState::SeparatorOrEnd;
        let row_number = self.row_number;
        if size > self.limits.max_row_bytes {
            return Ok(row_too_large(
                row_number,
                format!("row {row_number} (from byte offset {start})"),
                self.limits,
            ));
        }
        let parsed = serde_json::from_slice::<Value>(&self.element).map_err(|error| ReadError {
            code: RowErrorCode::InvalidJson,
            message: format!(
                "row {row_number} (from byte offset {start}) is not valid JSON: {error}"
            ),
        });
        Ok(row_from_json(row_number, parsed, self.kind, self.limits))
    }

    fn truncated(&mut self) -> InputRow {
        let message = format!(
            "invalid JSON: the input ends at byte offset {} before the array is closed",
            self.position
        );
        self.final_error(message)
    }

    /// The row that reports a fault in the array itself; nothing after it can be read.
    fn final_error(&mut self, message: String) -> InputRow {
        self.state = JsonState::Ended;
        InputRow {
            row_number: self.row_number + 1,
            fields: Err(ReadError {
                code: RowErrorCode::InvalidJson,
                message,
            }),
            original: Original::Absent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// An object or array: ends where the nesting depth returns to zero.
    Container,
    /// A string: ends at its closing quote.
    String,
    /// A number, literal or garbage: ends before the next delimiter.
    Scalar,
}

/// Where a value ends, fed chunk by chunk after its first byte.
#[derive(Debug)]
pub(super) struct ValueScan {
    kind: ValueKind,
    depth: u64,
    in_string: bool,
    escaped: bool,
}

impl ValueScan {
    pub(super) fn new(first: u8) -> ValueScan {
        let kind = match first {
            b'{' | b'[' => ValueKind::Container,
            b'"' => ValueKind::String,
            _ => ValueKind::Scalar,
        };
        ValueScan {
            kind,
            depth: u64::from(kind == ValueKind::Container),
            in_string: kind == ValueKind::String,
            escaped: false,
        }
    }

    /// How many bytes of `chunk` belong to the value, and whether the value ends there.
    fn feed(&mut self, chunk: &[u8]) -> (usize, bool) {
        for (offset, &byte) in chunk.iter().enumerate() {
            if self.kind == ValueKind::Scalar {
                if is_scalar_end(byte) {
                    return (offset, true);
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                    if self.kind == ValueKind::String {
                        return (offset + 1, true);
                    }
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (offset + 1, true);
                    }
                }
                _ => {}
            }
        }
        (chunk.len(), false)
    }

    fn is_complete_at_end(&self) -> bool {
        self.kind == ValueKind::Scalar
    }
}

pub(super) fn is_scalar_end(byte: u8) -> bool {
    matches!(
        byte,
        b',' | b']' | b'}' | b'[' | b'{' | b'"' | b':' | b' ' | b'\t' | b'\n' | b'\r'
    )
}

pub(super) fn row_from_json(
    row_number: u64,
    parsed: Result<Value, ReadError>,
    kind: ListKind,
    limits: ReadLimits,
) -> InputRow {
    let (fields, original) = match parsed {
        Ok(Value::Object(mut object)) if has_output_key(&object, kind) => {
            let reserved: Vec<String> = kind
                .output_columns()
                .iter()
                .filter_map(|key| object.shift_remove(*key).map(|_| format!("{key:?}")))
                .collect();
            let error = ReadError {
                code: RowErrorCode::ReservedColumn,
                message: format!(
                    "row {row_number} has {} {}, which the answer adds; rename or remove it",
                    if reserved.len() == 1 {
                        "the key"
                    } else {
                        "the keys"
                    },
                    reserved.join(", ")
                ),
            };
            // Answered with its other keys; the answer's own come after them.
            (Err(error), Original::Json(object))
        }
        Ok(Value::Object(mut object)) => match oversized_keys(&object, limits) {
            oversized if oversized.is_empty() => (
                fields_from_object(&object, row_number),
                Original::Json(object),
            ),
            oversized => {
                let (key, size) = &oversized[0];
                let error = ReadError {
                    code: RowErrorCode::CellTooLarge,
                    message: format!(
                        "row {row_number}, key {key:?}: {size} bytes, at most {} per cell",
                        limits.max_cell_bytes
                    ),
                };
                // Answered with the over-large values as null: the rest, its id included,
                // is carried through.
                for (key, _) in &oversized {
                    if let Some(value) = object.get_mut(key) {
                        *value = Value::Null;
                    }
                }
                (Err(error), Original::Json(object))
            }
        },
        Ok(other) => (
            Err(ReadError {
                code: RowErrorCode::NotAnObject,
                message: format!(
                    "row {row_number} is {}, expected an object",
                    json_kind(&other)
                ),
            }),
            Original::Absent,
        ),
        Err(error) => (Err(error), Original::Absent),
    };
    InputRow {
        row_number,
        fields,
        original,
    }
}

/// Whether `object` has a key the answer adds (spelled exactly).
fn has_output_key(object: &Map<String, Value>, kind: ListKind) -> bool {
    kind.output_columns()
        .iter()
        .any(|key| object.contains_key(*key))
}

/// The `row_too_large` row; `what` names the row and where it began.
fn row_too_large(row_number: u64, what: String, limits: ReadLimits) -> InputRow {
    InputRow {
        row_number,
        fields: Err(ReadError {
            code: RowErrorCode::RowTooLarge,
            message: format!("{what} is larger than {} bytes", limits.max_row_bytes),
        }),
        original: Original::Absent,
    }
}

/// The keys whose values are over the cell limit, with their sizes as JSON text.
fn oversized_keys(object: &Map<String, Value>, limits: ReadLimits) -> Vec<(String, usize)> {
    object
        .iter()
        .filter_map(|(key, value)| {
            let size = json_size(value);
            (size > limits.max_cell_bytes).then(|| (key.clone(), size))
        })
        .collect()
}

/// The size of `value` as JSON text (a string's own bytes, without quotes or escapes).
fn json_size(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::Array(_) | Value::Object(_) => {
            let mut counter = ByteCounter(0);
            // Writing to a counter cannot fail.
            let _ = serde_json::to_writer(&mut counter, value);
            counter.0
        }
    }
}

/// Counts the bytes written to it.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buffer.len());
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) fn fields_from_object(
    object: &Map<String, Value>,
    row_number: u64,
) -> Result<RowFields, ReadError> {
    let mut fields = RowFields::default();
    let mut seen: [Option<&str>; FIELD_COUNT] = [None; FIELD_COUNT];
    for (key, value) in object {
        let Some(field) = Field::from_name(key) else {
            continue;
        };
        if let Some(first) = seen[field.index()].replace(key) {
            return Err(ReadError {
                code: RowErrorCode::InvalidField,
                message: format!(
                    "row {row_number}: the keys {first:?} and {key:?} both name {:?}; keep one",
                    field.name()
                ),
            });
        }
        let text = match value {
            Value::Null => None,
            Value::String(text) => clean_text(text),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                return Err(ReadError {
                    code: RowErrorCode::InvalidField,
                    message: format!(
                        "row {row_number}: \"{key}\" must be a string or a number, not {}",
                        json_kind(value)
                    ),
                });
            }
        };
        *fields.slot(field) = text;
    }
    Ok(fields)
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// NDJSON

pub(super) struct NdjsonRows<'a> {
    input: BoxedInput<'a>,
    line: Vec<u8>,
    line_number: u64,
    row_number: u64,
    kind: ListKind,
    limits: ReadLimits,
}

impl<'a> NdjsonRows<'a> {
    pub(super) fn new(input: BoxedInput<'a>, kind: ListKind, limits: ReadLimits) -> NdjsonRows<'a> {
        NdjsonRows {
            input,
            line: Vec::new(),
            line_number: 0,
            row_number: 0,
            kind,
            limits,
        }
    }

    pub(super) fn next_row(&mut self) -> io::Result<Option<InputRow>> {
        loop {
            let Some(size) = self.read_line()? else {
                return Ok(None);
            };
            self.line_number += 1;
            let mut line = self.line.as_slice();
            if self.line_number == 1 {
                line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
            }
            let line = line.trim_ascii();
            if line.is_empty() && size <= self.limits.max_row_bytes {
                continue;
            }
            self.row_number += 1;
            let (row_number, line_number) = (self.row_number, self.line_number);
            if size > self.limits.max_row_bytes {
                let what = format!("row {row_number} (line {line_number})");
                return Ok(Some(row_too_large(row_number, what, self.limits)));
            }
            let parsed = serde_json::from_slice::<Value>(line).map_err(|error| ReadError {
                code: RowErrorCode::InvalidJson,
                message: format!(
                    "row {row_number} (line {line_number}) is not valid JSON: {error}"
                ),
            });
            return Ok(Some(row_from_json(
                row_number,
                parsed,
                self.kind,
                self.limits,
            )));
        }
    }

    /// Reads the next line into `self.line`, or as much of it as the row limit allows (the
    /// rest is read and dropped); returns its whole size, `None` at the end of the input.
    fn read_line(&mut self) -> io::Result<Option<usize>> {
        self.line.clear();
        let mut size = 0_usize;
        loop {
            fill_buffer(&mut self.input)?;
            let chunk = self.input.buffer();
            if chunk.is_empty() {
                return Ok((size > 0).then_some(size));
            }
            let (used, ends) = match chunk.iter().position(|&byte| byte == b'\n') {
                Some(newline) => (newline + 1, true),
                None => (chunk.len(), false),
            };
            size = size.saturating_add(used);
            if size <= self.limits.max_row_bytes.saturating_add(1) {
                self.line.extend_from_slice(&chunk[..used]);
            } else {
                self.line.clear();
            }
            self.input.consume(used);
            if ends {
                // The line end itself does not count.
                return Ok(Some(size - 1));
            }
        }
    }
}

/// Consumes a leading UTF-8 BOM. Returns how many bytes of it were there: fewer than three
/// means the input does not start with a BOM and those bytes are content.
fn skip_utf8_bom(input: &mut BoxedInput<'_>) -> io::Result<usize> {
    for (matched, &expected) in UTF8_BOM.iter().enumerate() {
        fill_buffer(input)?;
        if input.buffer().first() != Some(&expected) {
            return Ok(matched);
        }
        input.consume(1);
    }
    Ok(UTF8_BOM.len())
}
