//! The patterns the OpenAPI document declares for codes and postal codes in paths and
//! query strings, and the one check that makes the server accept exactly what they match.
//!
//! Decisions: `VmapCode::parse` reads a code as people type it (any case, spaces and
//! hyphens anywhere, one '+'), and the document must say so exactly — a client generating
//! requests from the document (schemathesis does) expects every string the pattern matches
//! to be accepted and every other to be refused. Two differences are closed on the server's
//! side rather than in the pattern: in a URL only space, tab and no-break space count as
//! spaces (a newline or other Unicode space in a path is refused), because regex engines
//! disagree on what `\s` holds; everything else follows from the parser's grammar, and a
//! property test holds the two together.

use std::sync::OnceLock;

use utoipa::openapi::path::Parameter;
use utoipa::openapi::{OpenApi, RefOr, Schema};

use super::AppError;

/// The spaces a code or postal code in a URL may hold.
const SPACES: &str = r"[ \t\u00a0]";
/// Spaces and hyphens, as found between a code's characters.
const SEPARATORS: &str = r"[ \t\u00a0-]*";
/// One character of the grid part, in either case.
const GRID_CHARACTER: &str = "[2-9CFGHJMPQRVWXcfghjmpqrvwx]";
/// Grid characters after the postal code.
const GRID_CHARACTERS: usize = 7;

/// A 2025 ward code (path) and a province code (query), exactly.
pub(super) const WARD_CODE_PATTERN: &str = "^[0-9]{5}$";
pub(super) const PROVINCE_CODE_PATTERN: &str = "^[0-9]{2}$";

/// A postal code: 5 digits, spaces around.
pub(super) const POSTCODE_PATTERN: &str = r"^[ \t\u00a0]*[0-9]{5}[ \t\u00a0]*$";

/// A code as `VmapCode::parse` reads it: 5 digits (hyphens and spaces between them), 7 grid
/// characters (spaces and hyphens between, at most one '+' before the last), then
/// optionally `-N` with N from 2 to 99 999 without a leading zero.
pub(super) fn code_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(|| format!("^{}$", code_expression()))
}

/// [`code_pattern`], or nothing but spaces (no successor).
pub(super) fn successor_pattern() -> &'static str {
    static PATTERN: OnceLock<String> = OnceLock::new();
    PATTERN.get_or_init(|| format!("^(?:{SPACES}*|{})$", code_expression()))
}

fn code_expression() -> String {
    {
        let grid = |n: usize| match n {
            0 => String::new(),
            n => format!("(?:{SEPARATORS}{GRID_CHARACTER}){{{n}}}"),
        };
        // No '+', or one before the k-th grid character (a '+' after the last one is read
        // as part of the suffix, which refuses it).
        let mut forms = vec![grid(GRID_CHARACTERS)];
        forms.extend((0..GRID_CHARACTERS).map(|before| {
            format!(
                r"{}{SEPARATORS}\+{}",
                grid(before),
                grid(GRID_CHARACTERS - before)
            )
        }));
        format!(
            r"{SPACES}*[0-9](?:{SEPARATORS}[0-9]){{4}}(?:{}){SPACES}*(?:-{SPACES}*(?:[2-9]|[1-9][0-9]{{1,4}}){SPACES}*)?",
            forms.join("|")
        )
    }
}

/// `text` from a URL, refused when it holds a space other than those [`SPACES`] allows.
pub(super) fn url_text<'a>(field: &str, text: &'a str) -> Result<&'a str, AppError> {
    match text
        .chars()
        .find(|&character| character.is_whitespace() && !matches!(character, ' ' | '\t' | '\u{a0}'))
    {
        None => Ok(text),
        Some(character) => Err(AppError::BadRequest {
            detail: format!(
                "{field}: {character:?} is not allowed in a URL; spaces may be space, tab or no-break space"
            ),
            errors: vec![super::FieldError::new(
                field,
                "invalid_character",
                format!("{character:?} is not allowed here"),
            )],
        }),
    }
}

/// Declares [`code_pattern`] on every `code` and `successor` parameter and
/// [`POSTCODE_PATTERN`] on every `postcode` one (utoipa takes only literal patterns, and
/// the code's is built).
#[derive(Debug)]
pub(super) struct Patterns;

impl utoipa::Modify for Patterns {
    fn modify(&self, document: &mut OpenApi) {
        for item in document.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    set_pattern(parameter);
                }
            }
        }
    }
}

fn set_pattern(parameter: &mut Parameter) {
    let pattern = match parameter.name.as_str() {
        "code" => code_pattern(),
        "successor" => successor_pattern(),
        "postcode" => POSTCODE_PATTERN,
        "ward_code" => WARD_CODE_PATTERN,
        "province" => PROVINCE_CODE_PATTERN,
        _ => return,
    };
    if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() {
        object.pattern = Some(pattern.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::code::{Postcode, VmapCode};

    fn accepted(text: &str) -> bool {
        url_text("code", text).is_ok() && VmapCode::parse(text).is_ok()
    }

    fn code_regex() -> regex::Regex {
        regex::Regex::new(code_pattern()).expect("the pattern compiles")
    }

    #[test]
    fn the_pattern_matches_what_people_type() {
        let regex = code_regex();
        for text in [
            "111162RWXP69",
            "11116 2RWX P69",
            "11116 2rwx p69-2",
            "1111-6-2RWX+P69",
            "11116+2RWXP69",
            " 11116 2RWX P69 - 99999 ",
        ] {
            assert!(regex.is_match(text), "{text:?}");
            assert!(accepted(text), "{text:?}");
        }
        for text in [
            "111162RWXP69+",
            "11116 2RWX P69-1",
            "11116 2RWX P69-02",
            "11116 2RWX P69-100000",
            "11116 2R+WX+P69",
            "-111162RWXP69",
            "11116\n2RWXP69",
            "111162RWXP6",
        ] {
            assert!(!regex.is_match(text), "{text:?}");
            assert!(!accepted(text), "{text:?}");
        }
    }

    fn near_codes() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "1", "2", "9", "0", "C", "c", "X", "P", "A", "I", "O", "+", "-", " ", "\t", "\u{a0}",
            "\n", "\u{2003}",
        ]);
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    fn shaped_codes() -> impl Strategy<Value = String> {
        let separator = prop::sample::select(vec!["", "", "", " ", "-", "+", " - ", "\t"]);
        let digit = prop::sample::select(vec!['0', '1', '5', '9']);
        let grid = prop::sample::select(vec!['2', '9', 'C', 'x', 'W', 'A', '0']);
        let suffix = prop::sample::select(vec![
            "", "", "-2", "-1", "-0", "-02", "-99999", "-100000", " - 7 ", "-", "-2-",
        ]);
        (
            prop::collection::vec((separator.clone(), digit), 5),
            prop::collection::vec((separator, grid), 7),
            suffix,
        )
            .prop_map(|(digits, grid, suffix)| {
                let mut text = String::new();
                for (separator, character) in digits.into_iter().chain(grid) {
                    text.push_str(separator);
                    text.push(character);
                }
                text.push_str(suffix);
                text
            })
    }

    proptest! {
        #[test]
        fn the_code_pattern_matches_exactly_what_the_server_accepts(
            text in prop_oneof![near_codes(), shaped_codes()]
        ) {
            prop_assert_eq!(code_regex().is_match(&text), accepted(&text), "{:?}", text);
        }

        #[test]
        fn the_postcode_pattern_matches_exactly_what_the_server_accepts(
            text in prop::collection::vec(
                prop::sample::select(vec!["1", "0", "9", " ", "\t", "\u{a0}", "\n", "a", "-"]),
                0..9,
            ).prop_map(|pieces| pieces.concat())
        ) {
            let regex = regex::Regex::new(POSTCODE_PATTERN).expect("compiles");
            let accepted = url_text("postcode", &text).is_ok() && Postcode::parse(&text).is_ok();
            prop_assert_eq!(regex.is_match(&text), accepted, "{:?}", text);
        }
    }
}
