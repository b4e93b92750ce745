//! The address: the registry's noun, as the domain knows it (no database, no wire format).
//!
//! `store` reads and writes these types, `registry` decides with them and `api` turns them into
//! its own JSON bodies. The checks every way in must make (a list row, `POST /v1/addresses`,
//! `PATCH /v1/addresses/{code}`) live here once, and say which field failed in a type rather
//! than in a message.
//!
//! Decisions:
//! - Text fields are trimmed; empty text means absent.
//! - A field is too long when it has more than the configured number of *characters*
//!   (not bytes): Vietnamese text is two or three bytes a letter in UTF-8.
//! - A coordinate given as text may use a decimal comma (`10,7626`), as spreadsheets set to
//!   Vietnamese write it, when it has no decimal point.

use crate::code::VmapCode;
use crate::point::{LatLon, PointError};

/// Row id in the `addresses` table; the index names points by it.
pub type AddressId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressStatus {
    Active,
    Retired,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressStatus::Active => "active",
            AddressStatus::Retired => "retired",
        }
    }

    /// The status stored as `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<AddressStatus> {
        match text {
            "active" => Some(AddressStatus::Active),
            "retired" => Some(AddressStatus::Retired),
            _ => None,
        }
    }
}

/// The descriptive parts of an address; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressParts {
    pub house_number: Option<String>,
    pub alley: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    /// Free text, as the client wrote the address.
    pub address: Option<String>,
    /// The client's own reference for the address.
    pub client_ref: Option<String>,
}

impl AddressParts {
    /// Each part with its field name, in the order problems are reported.
    pub fn named(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("house_number", self.house_number.as_deref()),
            ("alley", self.alley.as_deref()),
            ("street", self.street.as_deref()),
            ("unit", self.unit.as_deref()),
            ("address", self.address.as_deref()),
            ("client_ref", self.client_ref.as_deref()),
        ]
    }
}

/// An address to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAddress {
    pub code: VmapCode,
    pub location: LatLon,
    pub parts: AddressParts,
}

/// A registered address, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub id: AddressId,
    pub code: VmapCode,
    pub location: LatLon,
    pub parts: AddressParts,
    pub status: AddressStatus,
    pub successor: Option<VmapCode>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub change_seq: i64,
}

/// A change to a stored address. `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressChange {
    pub location: Option<LatLon>,
    pub house_number: Option<Option<String>>,
    pub alley: Option<Option<String>>,
    pub street: Option<Option<String>>,
    pub unit: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub client_ref: Option<Option<String>>,
    pub status: Option<AddressStatus>,
    pub successor: Option<Option<VmapCode>>,
}

impl AddressChange {
    /// The address after the change.
    pub fn apply_to(&self, address: &Address) -> Address {
        fn pick<T: Clone>(change: &Option<T>, current: &T) -> T {
            change.clone().unwrap_or_else(|| current.clone())
        }
        let parts = &address.parts;
        Address {
            location: self.location.unwrap_or(address.location),
            parts: AddressParts {
                house_number: pick(&self.house_number, &parts.house_number),
                alley: pick(&self.alley, &parts.alley),
                street: pick(&self.street, &parts.street),
                unit: pick(&self.unit, &parts.unit),
                address: pick(&self.address, &parts.address),
                client_ref: pick(&self.client_ref, &parts.client_ref),
            },
            status: self.status.unwrap_or(address.status),
            successor: pick(&self.successor, &address.successor),
            ..address.clone()
        }
    }

    /// The text fields the change sets, with their names.
    pub fn named_texts(&self) -> [(&'static str, Option<&str>); 6] {
        fn set(value: &Option<Option<String>>) -> Option<&str> {
            value.as_ref().and_then(Option::as_deref)
        }
        [
            ("house_number", set(&self.house_number)),
            ("alley", set(&self.alley)),
            ("street", set(&self.street)),
            ("unit", set(&self.unit)),
            ("address", set(&self.address)),
            ("client_ref", set(&self.client_ref)),
        ]
    }
}

/// What memory needs of a stored address: read for every address at start-up, and for
/// every change another writer makes, so kept small.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub id: AddressId,
    pub code: VmapCode,
    pub location: LatLon,
    pub status: AddressStatus,
    pub house_number: Option<String>,
    pub unit: Option<String>,
    pub change_seq: i64,
    /// For the text index.
    pub alley: Option<String>,
    pub street: Option<String>,
}

impl From<&Address> for IndexRow {
    fn from(address: &Address) -> IndexRow {
        IndexRow {
            id: address.id,
            code: address.code,
            location: address.location,
            status: address.status,
            house_number: address.parts.house_number.clone(),
            unit: address.parts.unit.clone(),
            change_seq: address.change_seq,
            alley: address.parts.alley.clone(),
            street: address.parts.street.clone(),
        }
    }
}

/// Why an address field given from outside was refused; the field is named in the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("{field} must be a decimal number of degrees, got {text:?}")]
    NotANumber { field: &'static str, text: String },
    #[error("{0}")]
    OutOfRange(PointError),
    #[error("{field} is {chars} characters long, at most {max} are allowed")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: usize,
    },
}

impl InputError {
    /// The name of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            InputError::Missing { field }
            | InputError::NotANumber { field, .. }
            | InputError::TooLong { field, .. } => field,
            InputError::OutOfRange(error) => error.field(),
        }
    }
}

/// A coordinate given as two texts (a list's cells): both present, decimal numbers, in range.
pub fn parse_location(lat: Option<&str>, lon: Option<&str>) -> Result<LatLon, InputError> {
    let lat = parse_degrees("lat", lat)?;
    let lon = parse_degrees("lon", lon)?;
    LatLon::new(lat, lon).map_err(InputError::OutOfRange)
}

fn parse_degrees(field: &'static str, text: Option<&str>) -> Result<f64, InputError> {
    let Some(text) = text else {
        return Err(InputError::Missing { field });
    };
    let text = text.trim();
    let decimal = if text.contains(',') && !text.contains('.') {
        text.replacen(',', ".", 1)
    } else {
        text.to_owned()
    };
    match decimal.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(InputError::NotANumber {
            field,
            text: text.to_owned(),
        }),
    }
}

/// The first of `texts` longer than `max_chars` characters.
pub fn check_lengths<'a>(
    texts: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
    max_chars: usize,
) -> Result<(), InputError> {
    match too_long(texts, max_chars).next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Every one of `texts` longer than `max_chars` characters, in order.
pub fn too_long<'a>(
    texts: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
    max_chars: usize,
) -> impl Iterator<Item = InputError> {
    texts.into_iter().filter_map(move |(field, text)| {
        let chars = text?.chars().count();
        (chars > max_chars).then_some(InputError::TooLong {
            field,
            chars,
            max: max_chars,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_texts_are_checked_field_by_field() {
        assert_eq!(
            parse_location(Some("10,7626"), Some(" 106.66 ")),
            Ok(LatLon {
                lat: 10.7626,
                lon: 106.66
            })
        );
        assert_eq!(
            parse_location(None, Some("1")),
            Err(InputError::Missing { field: "lat" })
        );
        assert_eq!(
            parse_location(Some("1"), Some("east")).map_err(|error| error.field()),
            Err("lon")
        );
        assert_eq!(
            parse_location(Some("1"), Some("inf")).map_err(|error| error.field()),
            Err("lon")
        );
        assert_eq!(
            parse_location(Some("91"), Some("1")),
            Err(InputError::OutOfRange(PointError::LatOutOfRange))
        );
    }

    #[test]
    fn lengths_count_characters_and_name_the_first_long_field() {
        let parts = AddressParts {
            street: Some("Đường".repeat(3)),
            unit: Some("x".repeat(20)),
            ..AddressParts::default()
        };
        // "Đường" is 5 characters but 9 bytes.
        assert_eq!(
            check_lengths(parts.named(), 15),
            Err(InputError::TooLong {
                field: "unit",
                chars: 20,
                max: 15
            })
        );
        assert_eq!(
            check_lengths(parts.named(), 10).map_err(|error| error.field()),
            Err("street")
        );
        assert_eq!(check_lengths(parts.named(), 20), Ok(()));
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_clears_what_it_nulls() {
        let before = Address {
            id: 7,
            code: VmapCode::parse("111162RWXP69").expect("valid code"),
            location: LatLon {
                lat: 21.0,
                lon: 105.8,
            },
            parts: AddressParts {
                house_number: Some("12".to_owned()),
                street: Some("Phố Huế".to_owned()),
                ..AddressParts::default()
            },
            status: AddressStatus::Active,
            successor: None,
            created_at_ms: 1,
            updated_at_ms: 2,
            change_seq: 3,
        };
        let change = AddressChange {
            house_number: Some(None),
            unit: Some(Some("A".to_owned())),
            ..AddressChange::default()
        };
        let after = change.apply_to(&before);
        assert_eq!(after.parts.house_number, None);
        assert_eq!(after.parts.street.as_deref(), Some("Phố Huế"));
        assert_eq!(after.parts.unit.as_deref(), Some("A"));
        assert_eq!(
            (after.id, after.code, after.location),
            (7, before.code, before.location)
        );
    }
}
