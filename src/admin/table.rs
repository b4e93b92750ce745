//! A CSV source file read by column name, so that column order does not matter.

use super::problems::{AdminError, SourceFile};

/// A CSV file read by column name, so that column order does not matter.
pub(super) struct Table {
    columns: Vec<(&'static str, usize)>,
    pub(super) rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    pub(super) fn read(
        file: SourceFile,
        text: &str,
        wanted: &[&'static str],
    ) -> Result<Table, AdminError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|source| AdminError::Csv {
                file,
                line: 1,
                source,
            })?
            .clone();
        let mut columns = Vec::with_capacity(wanted.len());
        for &column in wanted {
            let idx = headers
                .iter()
                .position(|header| header.trim().trim_start_matches('\u{feff}') == column)
                .ok_or(AdminError::MissingColumn { file, column })?;
            columns.push((column, idx));
        }
        let mut rows = Vec::new();
        for (row_idx, record) in reader.records().enumerate() {
            let line = row_idx as u64 + 2;
            let record = record.map_err(|source| AdminError::Csv { file, line, source })?;
            rows.push((line, record));
        }
        if rows.is_empty() {
            return Err(AdminError::Empty { file });
        }
        Ok(Table { columns, rows })
    }

    /// The trimmed field of `column` (which must be one of the wanted columns); "" when
    /// the row is short.
    pub(super) fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.columns
            .iter()
            .find(|(name, _)| *name == column)
            .and_then(|&(_, idx)| record.get(idx))
            .map(str::trim)
            .unwrap_or("")
    }
}
