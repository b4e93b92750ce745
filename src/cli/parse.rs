//! `vmap parse TEXT`: one address read against both administrative maps, printed as the
//! JSON `GET /v1/parse` answers.

use std::io::Write;
use std::sync::Arc;

use super::CliError;
use super::args::ParseArgs;
use crate::admin::AdminMaps;
use crate::api::ParseBody;
use crate::parse::Parser;

pub(super) fn parse(args: ParseArgs) -> Result<(), CliError> {
    let maps = Arc::new(AdminMaps::load_embedded()?);
    let parser = Parser::new(Arc::clone(&maps));
    let body = ParseBody::new(&maps, &parser.parse(&args.text));
    let text = if args.compact {
        serde_json::to_string(&body)
    } else {
        serde_json::to_string_pretty(&body)
    }
    .map_err(|error| CliError::Usage(format!("cannot write the answer as JSON: {error}")))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|source| CliError::File {
        path: "stdout".to_owned(),
        source,
    })
}
