//! The plain-text table of a geocode report: the runs' latency and throughput, then the
//! first result's level per style (and, with `--check`, top-1 and wrong codes), then the
//! verdict against the targets.

use super::report::{AnswerLevel, GeocodeReport};

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// The plain-text table of a geocode report: in process latencies in µs, over HTTP in ms,
/// as the other modes print them.
pub fn render_geocode_table(report: &GeocodeReport) -> String {
    let (unit, scale, decimals) = match report.mode.as_str() {
        "http" => ("ms", 1_000.0, 3),
        _ => ("µs", 1.0, 2),
    };
    let mut text = format!(
        "geocode {} {}: {} {} rendered from {} drawn addresses ({} skipped: no street or \
         house number), seed {}, limit {}; {} active addresses\n",
        report.endpoint,
        report.target,
        report.queries,
        if report.endpoint == "autocomplete" {
            "prefixes of texts"
        } else {
            "queries"
        },
        report.drawn,
        report.skipped,
        report.seed,
        report.limit,
        report.addresses
    );
    if let (Some(warmup), Some(duration)) = (report.warmup_s, report.duration_s) {
        text.push_str(&format!("{duration} s measured after {warmup} s warm-up\n"));
    }
    let heads = ["p50", "p90", "p99", "p99.9", "max"].map(|head| format!("{head} {unit}"));
    text.push_str(&format!(
        "{:<20} {:>7} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6}\n",
        "run",
        "workers",
        "queries",
        "queries/s",
        heads[0],
        heads[1],
        heads[2],
        heads[3],
        heads[4],
        "non-2xx",
        "errors"
    ));
    for run in &report.runs {
        let [p50, p90, p99, p999, max] =
            [run.p50_us, run.p90_us, run.p99_us, run.p999_us, run.max_us].map(|us| us / scale);
        text.push_str(&format!(
            "{:<20} {:>7} {:>9} {:>10.0} {p50:>9.decimals$} {p90:>9.decimals$} \
             {p99:>9.decimals$} {p999:>9.decimals$} {max:>9.1} {:>7} {:>6}\n",
            run.what, run.workers, run.queries, run.queries_per_s, run.non_2xx, run.errors
        ));
        if let Some(message) = &run.first_error {
            text.push_str(&format!("{}: first failure: {message}\n", run.what));
        }
    }
    let answers = &report.answers;
    if answers.answers == 0 && report.endpoint == "autocomplete" {
        // Prefixes name no one address: there is no level or accuracy to give.
        return text;
    }
    text.push_str(&format!(
        "first result's level, share of {} answers{}:\n{:<15} {:>8}",
        answers.answers,
        if answers.accuracy.is_some() {
            "; top-1 = the rendered address first, wrong = another code given as unambiguous"
        } else {
            ""
        },
        "style",
        "answers"
    ));
    for level in AnswerLevel::ALL {
        text.push_str(&format!(" {:>8}", level.name()));
    }
    if answers.accuracy.is_some() {
        text.push_str(&format!(" {:>8} {:>7}", "top-1", "wrong"));
    }
    text.push('\n');
    let rows = answers
        .styles
        .iter()
        .map(|style| {
            (
                style.style.as_str(),
                style.answers,
                &style.levels,
                style.accuracy,
            )
        })
        .chain(std::iter::once((
            "all",
            answers.answers,
            &answers.levels,
            answers.accuracy,
        )));
    for (name, count, levels, accuracy) in rows {
        text.push_str(&format!("{name:<15} {count:>8}"));
        for share in levels.in_order() {
            text.push_str(&format!(" {:>8}", percent(share)));
        }
        if let Some(accuracy) = accuracy {
            text.push_str(&format!(
                " {:>8} {:>7}",
                percent(accuracy.top1_rate),
                format!("{:.3}%", accuracy.wrong_unambiguous_rate * 100.0)
            ));
        }
        text.push('\n');
    }
    if let Some(check) = &report.check {
        text.push_str(&format!(
            "check (every answer's first result vs the address its text was rendered from): \
             targets top-1 ≥ {} %, wrong codes given as unambiguous ≤ {} %: {}\n",
            check.min_top1_rate * 100.0,
            check.max_wrong_unambiguous_rate * 100.0,
            match &check.missed {
                None => "met".to_owned(),
                Some(missed) => format!("MISSED: {missed}"),
            }
        ));
    }
    text
}
