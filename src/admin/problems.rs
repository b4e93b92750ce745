//! What can go wrong reading the administrative maps: which file, a fatal [`AdminError`],
//! or a [`LoadProblem`] (a row skipped or corrected, reported, never fatal).

use crate::code::Postcode;

use super::types::UnitType;

/// Which of the four source files a problem or error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFile {
    /// `vn_wards_63.csv`
    LegacyWards,
    /// `vn_wards_34.csv`
    Wards2025,
    /// `vn_postcodes_2025.csv`
    Postcodes2025,
    /// `vn_wards_63_to_34.csv`
    Links,
}

impl SourceFile {
    pub fn file_name(self) -> &'static str {
        match self {
            SourceFile::LegacyWards => "vn_wards_63.csv",
            SourceFile::Wards2025 => "vn_wards_34.csv",
            SourceFile::Postcodes2025 => "vn_postcodes_2025.csv",
            SourceFile::Links => "vn_wards_63_to_34.csv",
        }
    }
}

impl std::fmt::Display for SourceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

/// A file that cannot be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("{file} line {line}: {source}")]
    Csv {
        file: SourceFile,
        line: u64,
        source: csv::Error,
    },
    #[error("{file} has no column {column:?}")]
    MissingColumn {
        file: SourceFile,
        column: &'static str,
    },
    #[error("{file} holds no usable row")]
    Empty { file: SourceFile },
}

/// A row that was loaded only in part, or skipped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadProblem {
    pub file: SourceFile,
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// The ward (or district) code of the row, as written.
    pub code: String,
    pub kind: ProblemKind,
}

/// What was wrong with a row.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// No postal code (kept, without one).
    MissingPostcode,
    /// A postal code that is not 5 digits (kept, without one).
    BadPostcode(String),
    /// No usable centroid (kept, without one).
    MissingCentroid,
    /// The name's prefix and the `ward_type` column disagree; the name's prefix is used.
    TypeMismatch { from_name: UnitType, column: String },
    /// Neither the name nor the type column gives a type this level allows (skipped).
    UnknownType(String),
    /// A code that an earlier row already used (skipped).
    DuplicateCode,
    /// A row whose parent code carries another name than on its first row (kept; the
    /// first name wins).
    ParentNameMismatch { expected: String, found: String },
    /// A code that the file it refers to does not hold (skipped).
    UnknownCode(String),
    /// A 2025 postal code that starts with none of its province's prefixes (kept).
    PrefixMismatch { postcode: Postcode },
    /// A postal code another 2025 ward already has (kept on the first ward only).
    DuplicatePostcode { postcode: Postcode },
    /// A legacy ward with no link, or a link count that disagrees with `n_targets` (kept).
    LinkCount { expected: usize, found: usize },
    /// A 2025 ward that no link row reaches (kept).
    Unreached,
}

impl std::fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {} ({}): ", self.file, self.line, self.code)?;
        match &self.kind {
            ProblemKind::MissingPostcode => f.write_str("no postal code"),
            ProblemKind::BadPostcode(text) => write!(f, "postal code {text:?} is not 5 digits"),
            ProblemKind::MissingCentroid => f.write_str("no centroid"),
            ProblemKind::TypeMismatch { from_name, column } => write!(
                f,
                "name says {} but ward_type says {column:?}; the name wins",
                from_name.prefix()
            ),
            ProblemKind::UnknownType(name) => write!(f, "no unit type in {name:?}"),
            ProblemKind::DuplicateCode => f.write_str("code already used by an earlier row"),
            ProblemKind::ParentNameMismatch { expected, found } => {
                write!(f, "parent named {found:?} here, {expected:?} before")
            }
            ProblemKind::UnknownCode(code) => write!(f, "unknown code {code}"),
            ProblemKind::PrefixMismatch { postcode } => {
                write!(f, "postal code {postcode} outside the province's prefixes")
            }
            ProblemKind::DuplicatePostcode { postcode } => {
                write!(f, "postal code {postcode} already belongs to another ward")
            }
            ProblemKind::LinkCount { expected, found } => {
                write!(f, "{found} 2025 targets linked, {expected} expected")
            }
            ProblemKind::Unreached => f.write_str("no legacy ward links to it"),
        }
    }
}
