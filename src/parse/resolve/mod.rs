//! From tokens to readings: unit candidates (`candidates`), the consistent choices of a
//! ward, district and province they make and their order (`choice`), and the answer in
//! both maps with its alternatives and conflicts (`answer`).
//!
//! [`Work`] holds one parse's state: the tokens, the markers around each, and the
//! candidates. Each step is a method in the file of its concept; `run` chains them.

mod answer;
mod candidates;
mod choice;

use std::collections::HashSet;

use crate::admin::{AdminMaps, UnitId};

use super::Parse;
use super::Parser;
use super::index::FxBuild;
use super::lexicon::{Marker, MarkerKind};
use super::token::{SEP_HARD, TokenKind, Tokens};
use candidates::Cand;
use choice::compare_choices;

/// Tokens beyond this many are not read (an address has a few dozen).
pub(crate) const MAX_TOKENS: usize = 160;

pub(crate) struct Work<'p> {
    parser: &'p Parser,
    text: &'p str,
    tokens: Tokens,
    /// The marker starting at each token.
    markers: Vec<Option<Marker>>,
    /// The longest marker ending right before each token.
    marker_before: Vec<Option<Marker>>,
    /// Whether the token lies in a street part (see `candidates::Q_IN_STREET_PART`).
    in_street_part: Vec<bool>,
    cands: Vec<Cand<'p>>,
    /// Tokens beyond [`MAX_TOKENS`], as text.
    overflow: Option<String>,
}

impl<'p> Work<'p> {
    pub fn new(parser: &'p Parser, text: &'p str, mut tokens: Tokens) -> Work<'p> {
        let mut overflow = None;
        if tokens.tokens.len() > MAX_TOKENS {
            let cut = tokens.tokens[MAX_TOKENS].start as usize;
            overflow = Some(text[cut..].trim().to_owned());
            tokens.tokens.truncate(MAX_TOKENS);
        }
        let n = tokens.tokens.len();
        let markers: Vec<Option<Marker>> = (0..n)
            .map(|idx| parser.lexicon.marker_at(&tokens, idx))
            .collect();
        let mut marker_before: Vec<Option<Marker>> = vec![None; n + 1];
        for marker in markers.iter().flatten() {
            let slot = &mut marker_before[marker.end()];
            if slot.is_none_or(|known| known.len < marker.len) {
                *slot = Some(*marker);
            }
        }
        let mut in_street_part = vec![false; n];
        let mut inside = false;
        for (idx, token) in tokens.tokens.iter().enumerate() {
            if token.sep & SEP_HARD != 0 {
                inside = false;
            }
            let marker_here = markers[idx].map(|marker| marker.kind);
            if matches!(marker_here, Some(MarkerKind::Unit(_))) {
                inside = false;
            }
            in_street_part[idx] = inside;
            let unit_number = matches!(marker_before[idx], Some(m) if m.kind.is_unit());
            let starts_street_part = match marker_here {
                Some(MarkerKind::Street | MarkerKind::Alley(_) | MarkerKind::Hamlet)
                | Some(MarkerKind::House) => true,
                _ => token.kind == TokenKind::Number && !unit_number,
            };
            inside |= starts_street_part;
        }
        Work {
            parser,
            text,
            tokens,
            markers,
            marker_before,
            in_street_part,
            cands: Vec::with_capacity(32),
            overflow,
        }
    }

    fn maps(&self) -> &'p AdminMaps {
        &self.parser.maps
    }

    fn n(&self) -> usize {
        self.tokens.tokens.len()
    }

    fn slice(&self, first: usize, last_exclusive: usize) -> &'p str {
        let start = self.tokens.tokens[first].start as usize;
        let end = self.tokens.tokens[last_exclusive - 1].end as usize;
        &self.text[start..end]
    }

    pub fn run(mut self) -> Parse {
        self.exact_candidates();
        self.one_edit_candidates();
        self.demote_inner_names();
        let mut choices = self.choices();
        // Only the choices the answer can use are ordered: those tied with the best or
        // above its share for an alternative (`answer::least_useful_score`). A place's
        // best choice is among them whenever any of its choices is, so keeping the best
        // per place below gives the same list as over all choices.
        let best = choices
            .iter()
            .map(|choice| choice.score)
            .fold(f32::NEG_INFINITY, f32::max);
        let floor = answer::least_useful_score(best);
        choices.retain(|choice| choice.score >= floor);
        // A total order (`compare_choices` ends on the candidates' indices): unstable is
        // deterministic.
        choices.sort_unstable_by(compare_choices);
        // One choice per place: the best one.
        let cands = &self.cands;
        let mut places: HashSet<UnitId, FxBuild> =
            HashSet::with_capacity_and_hasher(choices.len(), FxBuild::default());
        choices.retain(|choice| {
            choice
                .place(cands)
                .is_some_and(|place| places.insert(place))
        });
        self.answer(&choices)
    }
}
