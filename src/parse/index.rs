//! Folded names of every unit of both maps, for exact lookup and for lookup within one
//! edit.
//!
//! Decisions:
//! - A name's key is its folded words without spaces ("Bà Rịa - Vũng Tàu" → "bariavungtau"),
//!   so "LangBiang"/"Lang Biang" and "Daklak"/"Đắk Lắk" meet; the key of a run of text
//!   words is one slice of the tokenizer's key buffer. Every proper prefix of a name at a
//!   word boundary is in the map too, marked as a prefix only, so a scan over a text stops
//!   as soon as its words lead to no name.
//! - One edit (a wrong, missing, extra or swapped letter) is found with a deletion index:
//!   each key of 5+ letters is stored under itself and under every key with one byte
//!   deleted; a query looks up itself and its own one-byte deletions, and every hit is
//!   checked with a linear "within one edit" test (optimal string alignment, so a swap of
//!   neighbours is one edit). Hand-written because the candidates crates do not fit:
//!   `fst`'s Levenshtein automaton counts a swap as two edits and builds an automaton per
//!   query; `strsim` compares pairs (the deletion index is what makes it a lookup, and its
//!   distance allocates a matrix where "at most one?" needs a scan).
//! - Keys are short ASCII strings looked up dozens of times per address, so the maps use a
//!   multiply-rotate hash (FxHash's) instead of SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::admin::{AdminMaps, UnitId, UnitType};

use super::lexicon::PROVINCE_ALIASES;
use super::token::{TokenKind, Tokens, combine_sig};

/// The hash of rustc's FxHasher: fast on short keys, fine where keys are not hostile
/// (ours are names from the shipped data; a text only ever looks them up).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &byte in chunks.remainder() {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// One unit a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub unit: UnitId,
    pub unit_type: UnitType,
    /// Signature of the name's marks (see `token`), to prefer the name written exactly.
    pub sig: u32,
    /// Reached through an alias ("HCM"), not the name.
    pub alias: bool,
    /// The name is a number alone ("Phường 7"): only read after a unit marker.
    pub numeric: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Node {
    entries_start: u32,
    entries_end: u32,
    /// Some longer key starts with this one at a word boundary.
    prefix: bool,
}

/// What a key leads to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup<'a> {
    pub entries: &'a [Entry],
    pub prefix: bool,
}

#[derive(Debug)]
pub(crate) struct NameIndex {
    nodes: HashMap<Box<str>, Node, FxBuild>,
    entries: Vec<Entry>,
    /// Full keys in id order, for the deletion index.
    keys: Vec<Box<str>>,
    /// (hash of a key or of a one-byte deletion of it, key id), sorted.
    deletions: Vec<(u64, u32)>,
    /// Where each run of `deletions` sharing the top `DIRECTORY_BITS` bits of the hash
    /// starts (one more entry for the end): a lookup reads one short run instead of
    /// binary-searching the whole list, whose ~20 probes missed the cache.
    directory: Vec<u32>,
    /// The most words any name has.
    max_words: usize,
}

/// Keys shorter than this many letters are only ever matched exactly: one edit in a short
/// name makes another name too often.
pub(crate) const FUZZY_MIN_LETTERS: usize = 5;

/// Bits of a deletion hash that pick its run in [`NameIndex::directory`]: about as many
/// runs as deletions.
const DIRECTORY_BITS: u32 = 18;

fn hash_skipping(bytes: &[u8], skip: Option<usize>) -> u64 {
    let mut hasher = FxHasher::default();
    for (idx, &byte) in bytes.iter().enumerate() {
        if Some(idx) != skip {
            hasher.add(u64::from(byte));
        }
    }
    hasher.add(0xff);
    hasher.finish()
}

/// Whether `a` and `b` are at most one edit apart: a substitution, an insertion, a
/// deletion or a swap of two neighbours.
pub(crate) fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let Some(first) = short.iter().zip(long).position(|(x, y)| x != y) else {
                return true;
            };
            if short[first + 1..] == long[first + 1..] {
                return true;
            }
            first + 1 < short.len()
                && short[first] == long[first + 1]
                && short[first + 1] == long[first]
                && short[first + 2..] == long[first + 2..]
        }
        1 => {
            let first = short
                .iter()
                .zip(long)
                .position(|(x, y)| x != y)
                .unwrap_or(short.len());
            short[first..] == long[first + 1..]
        }
        _ => false,
    }
}

struct Builder {
    by_key: HashMap<String, Vec<Entry>, FxBuild>,
    prefixes: Vec<String>,
    max_words: usize,
}

impl Builder {
    fn add(&mut self, text: &str, unit: UnitId, unit_type: UnitType, alias: bool) {
        let tokens = Tokens::tokenize(text);
        let n = tokens.tokens.len();
        if n == 0 {
            return;
        }
        let key = tokens.span_key(0, n).to_owned();
        let numeric = n == 1 && tokens.tokens[0].kind == TokenKind::Number;
        let sig = tokens
            .tokens
            .iter()
            .fold(0, |acc, token| combine_sig(acc, token.sig));
        for end in 1..n {
            self.prefixes.push(tokens.span_key(0, end).to_owned());
        }
        self.max_words = self.max_words.max(n);
        let entries = self.by_key.entry(key).or_default();
        let entry = Entry {
            unit,
            unit_type,
            sig,
            alias,
            numeric,
        };
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
}

impl NameIndex {
    pub fn new(maps: &AdminMaps) -> NameIndex {
        let mut builder = Builder {
            by_key: HashMap::default(),
            prefixes: Vec::new(),
            max_words: 1,
        };
        for id in maps.legacy_province_ids() {
            let unit = UnitId::LegacyProvince(id);
            builder.add(
                maps.short_name(unit),
                unit,
                maps.unit(unit).unit_type,
                false,
            );
        }
        for id in maps.legacy_district_ids() {
            let unit = UnitId::LegacyDistrict(id);
            builder.add(
                maps.short_name(unit),
                unit,
                maps.unit(unit).unit_type,
                false,
            );
        }
        for id in maps.legacy_ward_ids() {
            let unit = UnitId::LegacyWard(id);
            builder.add(
                maps.short_name(unit),
                unit,
                maps.unit(unit).unit_type,
                false,
            );
        }
        for id in maps.province_ids() {
            let unit = UnitId::Province(id);
            builder.add(
                maps.short_name(unit),
                unit,
                maps.unit(unit).unit_type,
                false,
            );
        }
        for id in maps.ward_ids() {
            let unit = UnitId::Ward(id);
            builder.add(
                maps.short_name(unit),
                unit,
                maps.unit(unit).unit_type,
                false,
            );
        }
        for &(alias, province_name) in PROVINCE_ALIASES {
            let legacy = maps
                .legacy_province_ids()
                .map(UnitId::LegacyProvince)
                .filter(|&unit| maps.short_name(unit) == province_name);
            let current = maps
                .province_ids()
                .map(UnitId::Province)
                .filter(|&unit| maps.short_name(unit) == province_name);
            for unit in legacy.chain(current) {
                builder.add(alias, unit, maps.unit(unit).unit_type, true);
            }
        }

        let mut nodes: HashMap<Box<str>, Node, FxBuild> = HashMap::default();
        let mut entries = Vec::new();
        let mut keys: Vec<Box<str>> = Vec::new();
        let mut deletions = Vec::new();
        let mut by_key: Vec<(String, Vec<Entry>)> = builder.by_key.into_iter().collect();
        by_key.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, key_entries) in by_key {
            let start = entries.len() as u32;
            entries.extend(key_entries);
            let letters = key.bytes().filter(u8::is_ascii_alphabetic).count();
            if letters >= FUZZY_MIN_LETTERS {
                let key_id = keys.len() as u32;
                let bytes = key.as_bytes();
                deletions.push((hash_skipping(bytes, None), key_id));
                for skip in 0..bytes.len() {
                    deletions.push((hash_skipping(bytes, Some(skip)), key_id));
                }
                keys.push(key.clone().into_boxed_str());
            }
            nodes.insert(
                key.into_boxed_str(),
                Node {
                    entries_start: start,
                    entries_end: entries.len() as u32,
                    prefix: false,
                },
            );
        }
        for prefix in builder.prefixes {
            nodes.entry(prefix.into_boxed_str()).or_default().prefix = true;
        }
        deletions.sort_unstable();
        deletions.dedup();
        let mut directory = Vec::with_capacity((1 << DIRECTORY_BITS) + 1);
        let mut run_start = 0;
        for run in 0..=(1u64 << DIRECTORY_BITS) {
            while run_start < deletions.len()
                && deletions[run_start].0 >> (64 - DIRECTORY_BITS) < run
            {
                run_start += 1;
            }
            directory.push(run_start as u32);
        }
        NameIndex {
            nodes,
            entries,
            keys,
            deletions,
            directory,
            max_words: builder.max_words,
        }
    }

    pub fn max_words(&self) -> usize {
        self.max_words
    }

    /// What `key` leads to; `None` when it is neither a name nor the start of one.
    pub fn lookup(&self, key: &str) -> Option<Lookup<'_>> {
        let node = self.nodes.get(key)?;
        Some(Lookup {
            entries: &self.entries[node.entries_start as usize..node.entries_end as usize],
            prefix: node.prefix,
        })
    }

    /// Names one edit away from `query` (not `query` itself), appended to `out` as their
    /// entries. Only names of [`FUZZY_MIN_LETTERS`] letters or more are found.
    pub fn lookup_one_edit<'a>(&'a self, query: &str, out: &mut Vec<&'a [Entry]>) {
        let bytes = query.as_bytes();
        let mut key_ids: Vec<u32> = Vec::new();
        // The hash of the query without byte `skip` continues the hash of the bytes
        // before it, kept as they are added: as `hash_skipping`, in half the work.
        let mut before = FxHasher::default();
        for skip in std::iter::once(None).chain((0..bytes.len()).map(Some)) {
            let mut hasher = before;
            let rest = match skip {
                None => bytes,
                Some(skip) => &bytes[skip + 1..],
            };
            for &byte in rest {
                hasher.add(u64::from(byte));
            }
            hasher.add(0xff);
            let hash = hasher.finish();
            if let Some(skip) = skip {
                before.add(u64::from(bytes[skip]));
            }
            let run = (hash >> (64 - DIRECTORY_BITS)) as usize;
            let run =
                &self.deletions[self.directory[run] as usize..self.directory[run + 1] as usize];
            for &(h, key_id) in run {
                if h == hash && !key_ids.contains(&key_id) {
                    key_ids.push(key_id);
                }
            }
        }
        for key_id in key_ids {
            let key = &self.keys[key_id as usize];
            if key.as_bytes() != bytes
                && within_one_edit(key.as_bytes(), bytes)
                && let Some(found) = self.lookup(key)
            {
                out.push(found.entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_means_one_substitution_insertion_deletion_or_swap() {
        let check = |a: &str, b: &str| within_one_edit(a.as_bytes(), b.as_bytes());
        assert!(check("phucxa", "phucxa"));
        assert!(check("phucxa", "phucza"));
        assert!(check("phucxa", "phcxa"));
        assert!(check("phucxa", "phuucxa"));
        assert!(check("phucxa", "puhcxa"));
        assert!(check("phucxa", "phucax"));
        assert!(!check("phucxa", "phcuxz"));
        assert!(!check("phucxa", "hpucax"));
        assert!(!check("phucxa", "phuc"));
        assert!(!check("ab", "ba c"));
    }

    #[test]
    fn exact_prefix_and_one_edit_lookups() {
        let maps = AdminMaps::load_embedded().expect("maps");
        let index = NameIndex::new(&maps);
        let found = index.lookup("phucxa").expect("Phúc Xá");
        assert!(
            found
                .entries
                .iter()
                .any(|entry| maps.unit(entry.unit).name == "Phường Phúc Xá")
        );
        assert!(index.lookup("ba").expect("prefix of Bà Rịa…").prefix);
        assert!(index.lookup("zzz").is_none());
        let hcm = index.lookup("tphcm").expect("alias");
        assert!(hcm.entries.iter().all(|entry| entry.alias));
        assert_eq!(hcm.entries.len(), 2, "legacy and 2025 Hồ Chí Minh");
        let mut out = Vec::new();
        index.lookup_one_edit("phcxa", &mut out);
        assert!(
            out.iter()
                .flat_map(|entries| entries.iter())
                .any(|entry| { maps.unit(entry.unit).name == "Phường Phúc Xá" })
        );
        out.clear();
        index.lookup_one_edit("hochimnih", &mut out);
        assert!(!out.is_empty());
        out.clear();
        index.lookup_one_edit("zzzzzzzz", &mut out);
        assert!(out.is_empty());
        assert!(index.max_words() >= 4);
    }
}
