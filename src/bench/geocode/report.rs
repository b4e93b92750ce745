//! The geocode bench's arithmetic and output: each answer's first result classified
//! ([`TopAnswer`]), counted per style ([`AnswerCounts`]), turned into level shares and
//! accuracy ([`AnswerFigures`]), judged against the issue's targets, and serialised as JSON
//! ([`GeocodeReport`]; `table.rs` prints it).
//!
//! Decisions:
//! - Shares and accuracy are over answers, each answer once; a query answered twice (the
//!   HTTP load cycles through its queries) counts twice, as the load sent it.
//! - Top-1 is over every answer (a text answered at level street or with nothing is a
//!   miss); a wrong code given as unambiguous is the first result at level `address`, not
//!   ambiguous, with another code than the rendered address's. Both are rates of all
//!   answers, so the two targets read as the issue states them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::super::BenchError;
use crate::code::VmapCode;
use crate::parse::render::Style;
use crate::registry::{MatchLevel, SearchAnswer};

/// `--check` fails below this share of answers whose first result is the rendered address.
pub const MIN_TOP1_RATE: f64 = 0.99;
/// `--check` fails above this share of answers giving another code as unambiguous.
pub const MAX_WRONG_UNAMBIGUOUS_RATE: f64 = 0.001;

/// Where an answer's first result got: a [`MatchLevel`], or no result at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerLevel {
    Address,
    Street,
    Ward,
    District,
    Province,
    None,
}

const LEVELS: usize = 6;
const STYLES: usize = Style::ALL.len();

impl AnswerLevel {
    pub const ALL: [AnswerLevel; LEVELS] = [
        AnswerLevel::Address,
        AnswerLevel::Street,
        AnswerLevel::Ward,
        AnswerLevel::District,
        AnswerLevel::Province,
        AnswerLevel::None,
    ];

    pub fn of(level: Option<MatchLevel>) -> AnswerLevel {
        match level {
            Some(MatchLevel::Address) => AnswerLevel::Address,
            Some(MatchLevel::Street) => AnswerLevel::Street,
            Some(MatchLevel::Ward) => AnswerLevel::Ward,
            Some(MatchLevel::District) => AnswerLevel::District,
            Some(MatchLevel::Province) => AnswerLevel::Province,
            None => AnswerLevel::None,
        }
    }

    /// As `GET /v1/search` writes it (`none` for an answer without results).
    pub fn name(self) -> &'static str {
        match self {
            AnswerLevel::Address => "address",
            AnswerLevel::Street => "street",
            AnswerLevel::Ward => "ward",
            AnswerLevel::District => "district",
            AnswerLevel::Province => "province",
            AnswerLevel::None => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<AnswerLevel> {
        AnswerLevel::ALL
            .into_iter()
            .find(|level| level.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An answer's first result, as far as the counts and the check need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopAnswer {
    pub level: AnswerLevel,
    /// The first result's code (level `address` only); `None` also for a code the answer
    /// wrote that does not parse, which is then never the rendered one.
    pub code: Option<VmapCode>,
    /// The answer's `ambiguous`.
    pub ambiguous: bool,
}

impl TopAnswer {
    pub fn of(answer: &SearchAnswer) -> TopAnswer {
        let first = answer.results.first();
        TopAnswer {
            level: AnswerLevel::of(first.map(|result| result.level)),
            code: first.and_then(|result| result.code),
            ambiguous: answer.ambiguous,
        }
    }

    /// The rendered address is the first result.
    pub fn is_top1(&self, rendered: VmapCode) -> bool {
        self.level == AnswerLevel::Address && self.code == Some(rendered)
    }

    /// Another code than the rendered address's, given as unambiguous.
    pub fn is_wrong_unambiguous(&self, rendered: VmapCode) -> bool {
        self.level == AnswerLevel::Address && !self.ambiguous && self.code != Some(rendered)
    }
}

fn style_index(style: Style) -> usize {
    Style::ALL
        .iter()
        .position(|&known| known == style)
        .unwrap_or(0)
}

/// Answers counted by style and level, with top-1 and wrong codes: atomics, because the
/// HTTP load's workers record into one set as their answers arrive.
#[derive(Debug)]
pub struct AnswerCounts {
    levels: [[AtomicU64; LEVELS]; STYLES],
    top1: [AtomicU64; STYLES],
    wrong: [AtomicU64; STYLES],
}

impl Default for AnswerCounts {
    fn default() -> AnswerCounts {
        AnswerCounts {
            levels: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            top1: std::array::from_fn(|_| AtomicU64::new(0)),
            wrong: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl AnswerCounts {
    /// Counts the answer to a text rendered in `style` from the address holding `rendered`.
    pub fn record(&self, style: Style, rendered: VmapCode, top: &TopAnswer) {
        let at = style_index(style);
        self.levels[at][top.level.index()].fetch_add(1, Ordering::Relaxed);
        if top.is_top1(rendered) {
            self.top1[at].fetch_add(1, Ordering::Relaxed);
        }
        if top.is_wrong_unambiguous(rendered) {
            self.wrong[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The shares and (with `check`) accuracy, overall and for each style answered.
    pub fn figures(&self, check: bool) -> AnswerFigures {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut all_levels = [0u64; LEVELS];
        let (mut all_top1, mut all_wrong) = (0, 0);
        let mut styles = Vec::new();
        for (at, style) in Style::ALL.into_iter().enumerate() {
            let levels: [u64; LEVELS] = std::array::from_fn(|level| load(&self.levels[at][level]));
            let answers: u64 = levels.iter().sum();
            if answers == 0 {
                continue;
            }
            let (top1, wrong) = (load(&self.top1[at]), load(&self.wrong[at]));
            for (total, count) in all_levels.iter_mut().zip(levels) {
                *total += count;
            }
            all_top1 += top1;
            all_wrong += wrong;
            styles.push(StyleFigures {
                style: style.name().to_owned(),
                answers,
                levels: LevelShares::of(&levels),
                accuracy: check.then(|| Accuracy::of(answers, top1, wrong)),
            });
        }
        let answers = all_levels.iter().sum();
        AnswerFigures {
            answers,
            levels: LevelShares::of(&all_levels),
            accuracy: check.then(|| Accuracy::of(answers, all_top1, all_wrong)),
            styles,
        }
    }
}

/// The share of answers whose first result is at each level (`none`: no result); they
/// sum to 1 when anything was answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelShares {
    pub address: f64,
    pub street: f64,
    pub ward: f64,
    pub district: f64,
    pub province: f64,
    pub none: f64,
}

impl LevelShares {
    fn of(counts: &[u64; LEVELS]) -> LevelShares {
        let total: u64 = counts.iter().sum();
        let share = |level: AnswerLevel| ratio(counts[level.index()], total);
        LevelShares {
            address: share(AnswerLevel::Address),
            street: share(AnswerLevel::Street),
            ward: share(AnswerLevel::Ward),
            district: share(AnswerLevel::District),
            province: share(AnswerLevel::Province),
            none: share(AnswerLevel::None),
        }
    }

    /// In [`AnswerLevel::ALL`]'s order.
    pub fn in_order(&self) -> [f64; LEVELS] {
        [
            self.address,
            self.street,
            self.ward,
            self.district,
            self.province,
            self.none,
        ]
    }
}

/// `part / whole`, 0 for nothing counted.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// What `--check` found over some answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Answers whose first result is the rendered address.
    pub top1: u64,
    /// Answers giving another code at level `address` as unambiguous.
    pub wrong_unambiguous: u64,
    pub top1_rate: f64,
    pub wrong_unambiguous_rate: f64,
}

impl Accuracy {
    pub fn of(answers: u64, top1: u64, wrong_unambiguous: u64) -> Accuracy {
        Accuracy {
            top1,
            wrong_unambiguous,
            top1_rate: ratio(top1, answers),
            wrong_unambiguous_rate: ratio(wrong_unambiguous, answers),
        }
    }

    /// `None` when both targets are met, else what missed.
    pub fn missed_targets(&self, answers: u64) -> Option<String> {
        if answers == 0 {
            return Some("no answers were counted".to_owned());
        }
        let mut missed = Vec::new();
        if self.top1_rate < MIN_TOP1_RATE {
            missed.push(format!(
                "top-1 {:.2} % ({} of {answers}) is below the {} % target",
                self.top1_rate * 100.0,
                self.top1,
                MIN_TOP1_RATE * 100.0
            ));
        }
        if self.wrong_unambiguous_rate > MAX_WRONG_UNAMBIGUOUS_RATE {
            missed.push(format!(
                "wrong codes given as unambiguous {:.3} % ({} of {answers}) are above the {} % target",
                self.wrong_unambiguous_rate * 100.0,
                self.wrong_unambiguous,
                MAX_WRONG_UNAMBIGUOUS_RATE * 100.0
            ));
        }
        (!missed.is_empty()).then(|| missed.join("; "))
    }
}

/// One style's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StyleFigures {
    /// [`Style::name`].
    pub style: String,
    pub answers: u64,
    pub levels: LevelShares,
    /// With `--check` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
}

/// Every answer counted, overall and per style.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerFigures {
    pub answers: u64,
    pub levels: LevelShares,
    /// With `--check` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    pub styles: Vec<StyleFigures>,
}

/// Latency and throughput of one run (in process: threads; http: connections).
#[derive(Debug, Clone, Serialize)]
pub struct GeocodeRun {
    /// `search` (in process) or `GET /v1/search`.
    pub what: String,
    /// Threads or connections.
    pub workers: usize,
    pub queries: u64,
    pub queries_per_s: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub non_2xx: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// The targets `--check` holds the answers to, and whether they were met.
#[derive(Debug, Clone, Serialize)]
pub struct CheckVerdict {
    pub min_top1_rate: f64,
    pub max_wrong_unambiguous_rate: f64,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed: Option<String>,
}

/// All figures of a geocode bench.
#[derive(Debug, Clone, Serialize)]
pub struct GeocodeReport {
    /// `in_process` or `http`.
    pub mode: String,
    /// `search` or `autocomplete` (`--autocomplete`: prefixes, answers not judged).
    pub endpoint: String,
    /// `in process`, or the server's URL.
    pub target: String,
    /// Active addresses of the registry the queries were drawn from.
    pub addresses: u64,
    pub seed: u64,
    /// Results asked per query (the answer's first one is judged).
    pub limit: usize,
    /// Addresses drawn, and those left out (no street or no house number to write).
    pub drawn: usize,
    pub skipped: usize,
    /// Query texts, one per address kept.
    pub queries: usize,
    /// http mode: warm-up and measured window, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    pub runs: Vec<GeocodeRun>,
    /// Level shares (and accuracy) over the answers counted: in process the one-thread
    /// run's, every query once; over HTTP every 2xx answer, warm-up included.
    pub answers: AnswerFigures,
    /// With `--check` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckVerdict>,
}

impl GeocodeReport {
    /// Judges the answers against the targets when `--check` asked for accuracy.
    pub(crate) fn judge(&mut self) {
        self.check = self.answers.accuracy.map(|accuracy| {
            let missed = accuracy.missed_targets(self.answers.answers);
            CheckVerdict {
                min_top1_rate: MIN_TOP1_RATE,
                max_wrong_unambiguous_rate: MAX_WRONG_UNAMBIGUOUS_RATE,
                passed: missed.is_none(),
                missed,
            }
        });
    }

    /// An error when a request failed or `--check` found the targets missed: the command
    /// then exits non-zero, after printing the report.
    pub fn verdict(&self) -> Result<(), BenchError> {
        let (non_2xx, errors) = self.runs.iter().fold((0, 0), |(non_2xx, errors), run| {
            (non_2xx + run.non_2xx, errors + run.errors)
        });
        if non_2xx + errors > 0 {
            let first = self
                .runs
                .iter()
                .find_map(|run| run.first_error.as_ref())
                .map(|message| format!("; first: {message}"))
                .unwrap_or_default();
            return Err(BenchError::RequestsFailed {
                failed: non_2xx + errors,
                non_2xx,
                errors,
                first,
            });
        }
        match self.check.as_ref().and_then(|check| check.missed.clone()) {
            Some(missed) => Err(BenchError::GeocodeCheck(missed)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::render_geocode_table;
    use super::*;

    fn code(text: &str) -> VmapCode {
        VmapCode::parse(text).expect("a code")
    }

    #[test]
    fn top1_and_wrong_codes_are_told_apart() {
        let (mine, other) = (code("111162RWXP69"), code("111162RWXP7C"));
        let found = TopAnswer {
            level: AnswerLevel::Address,
            code: Some(mine),
            ambiguous: false,
        };
        assert!(found.is_top1(mine) && !found.is_wrong_unambiguous(mine));
        assert!(!found.is_top1(other) && found.is_wrong_unambiguous(other));
        let ambiguous = TopAnswer {
            ambiguous: true,
            ..found
        };
        assert!(
            !ambiguous.is_wrong_unambiguous(other),
            "ambiguous is not wrong"
        );
        let street = TopAnswer {
            level: AnswerLevel::Street,
            code: None,
            ambiguous: false,
        };
        assert!(!street.is_top1(mine) && !street.is_wrong_unambiguous(mine));
        let unparsed = TopAnswer {
            code: None,
            ..found
        };
        assert!(
            unparsed.is_wrong_unambiguous(mine),
            "an unreadable code is wrong"
        );
    }

    #[test]
    fn shares_sum_to_one_and_accuracy_is_per_answer() {
        let counts = AnswerCounts::default();
        let (mine, other) = (code("111162RWXP69"), code("111162RWXP7C"));
        let at = |level, code, ambiguous| TopAnswer {
            level,
            code,
            ambiguous,
        };
        // Full: 3 found, 1 wrong unambiguous; Typo: 1 street, 1 nothing, 1 ambiguous wrong.
        for _ in 0..3 {
            counts.record(
                Style::Full,
                mine,
                &at(AnswerLevel::Address, Some(mine), false),
            );
        }
        counts.record(
            Style::Full,
            mine,
            &at(AnswerLevel::Address, Some(other), false),
        );
        counts.record(Style::Typo, mine, &at(AnswerLevel::Street, None, false));
        counts.record(Style::Typo, mine, &at(AnswerLevel::None, None, false));
        counts.record(
            Style::Typo,
            mine,
            &at(AnswerLevel::Address, Some(other), true),
        );
        let figures = counts.figures(true);
        assert_eq!(figures.answers, 7);
        let sum: f64 = figures.levels.in_order().iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        assert!((figures.levels.address - 5.0 / 7.0).abs() < 1e-12);
        let accuracy = figures.accuracy.expect("checked");
        assert_eq!((accuracy.top1, accuracy.wrong_unambiguous), (3, 1));
        assert!((accuracy.top1_rate - 3.0 / 7.0).abs() < 1e-12);
        assert!((accuracy.wrong_unambiguous_rate - 1.0 / 7.0).abs() < 1e-12);
        let styles: Vec<(&str, u64)> = figures
            .styles
            .iter()
            .map(|style| (style.style.as_str(), style.answers))
            .collect();
        assert_eq!(
            styles,
            [("full", 4), ("typo", 3)],
            "unanswered styles left out"
        );
        let typo = &figures.styles[1];
        assert_eq!(
            typo.accuracy.map(|a| (a.top1, a.wrong_unambiguous)),
            Some((0, 0))
        );
        assert!((typo.levels.none - 1.0 / 3.0).abs() < 1e-12);
        assert!(counts.figures(false).accuracy.is_none());
    }

    #[test]
    fn targets_are_the_issues() {
        assert!(Accuracy::of(1000, 990, 1).missed_targets(1000).is_none());
        let low = Accuracy::of(1000, 989, 0)
            .missed_targets(1000)
            .expect("missed");
        assert!(low.contains("top-1 98.90 %"), "{low}");
        let wrong = Accuracy::of(1000, 1000, 2)
            .missed_targets(1000)
            .expect("missed");
        assert!(wrong.contains("unambiguous 0.200 %"), "{wrong}");
        assert!(Accuracy::of(0, 0, 0).missed_targets(0).is_some());
        let empty = AnswerCounts::default().figures(true);
        assert_eq!(empty.levels.in_order(), [0.0; LEVELS]);
        assert_eq!(empty.accuracy.map(|a| a.top1_rate), Some(0.0));
    }

    fn report(answers: AnswerFigures, errors: u64) -> GeocodeReport {
        let run = GeocodeRun {
            what: "GET /v1/search".to_owned(),
            workers: 2,
            queries: 10,
            queries_per_s: 5.0,
            p50_us: 1.0,
            p90_us: 2.0,
            p99_us: 3.0,
            p999_us: 4.0,
            max_us: 5.0,
            non_2xx: 0,
            errors,
            first_error: (errors > 0).then(|| "reset".to_owned()),
        };
        let mut report = GeocodeReport {
            mode: "http".to_owned(),
            endpoint: "search".to_owned(),
            target: "http://127.0.0.1:1".to_owned(),
            addresses: 100,
            seed: 1,
            limit: 5,
            drawn: 10,
            skipped: 0,
            queries: 10,
            warmup_s: Some(0.0),
            duration_s: Some(1.0),
            runs: vec![run],
            answers,
            check: None,
        };
        report.judge();
        report
    }

    #[test]
    fn the_verdict_fails_on_missed_targets_and_failed_requests() {
        let (mine, other) = (code("111162RWXP69"), code("111162RWXP7C"));
        let counts = AnswerCounts::default();
        for _ in 0..98 {
            let found = TopAnswer {
                level: AnswerLevel::Address,
                code: Some(mine),
                ambiguous: false,
            };
            counts.record(Style::Bare, mine, &found);
        }
        let wrong = TopAnswer {
            level: AnswerLevel::Address,
            code: Some(other),
            ambiguous: false,
        };
        counts.record(Style::Bare, mine, &wrong);
        counts.record(Style::Bare, mine, &wrong);
        let missed = report(counts.figures(true), 0);
        let check = missed.check.as_ref().expect("judged");
        assert!(!check.passed);
        let Err(BenchError::GeocodeCheck(message)) = missed.verdict() else {
            panic!("passed: {missed:?}")
        };
        assert!(
            message.contains("top-1 98.00 %") && message.contains("2.000 %"),
            "{message}"
        );
        let table = render_geocode_table(&missed);
        assert!(table.contains("MISSED: top-1 98.00 %"), "{table}");
        assert!(table.contains("p90 ms"), "{table}");

        // Without --check only failed requests fail.
        let unchecked = report(counts.figures(false), 0);
        assert!(unchecked.check.is_none() && unchecked.verdict().is_ok());
        assert!(matches!(
            report(counts.figures(false), 1).verdict(),
            Err(BenchError::RequestsFailed { errors: 1, .. })
        ));
        let json = serde_json::to_value(&missed).expect("serialises");
        assert_eq!(json["answers"]["styles"][0]["style"], "bare");
        assert_eq!(json["answers"]["accuracy"]["wrong_unambiguous"], 2);
        assert_eq!(json["check"]["passed"], false);
    }

    #[test]
    fn level_names_read_back() {
        for level in AnswerLevel::ALL {
            assert_eq!(AnswerLevel::from_name(level.name()), Some(level));
        }
        assert_eq!(AnswerLevel::from_name("house"), None);
    }
}
