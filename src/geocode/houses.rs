//! Where a street is located when its house is not found: the registered house nearest in
//! number to the one asked for, or its middle house. Pure functions over a street's
//! postings; the caller says how far a place is and whether an address is active.

use super::text_index::Posting;

/// The active posting whose place is nearest `distance` (smallest first, then the lowest
/// id). Postings come sorted by place, so a place's distance is read once for its run of
/// houses, and a posting's activity (a read of its record, far in memory) is checked only
/// when it would be the nearest so far: the whole street is otherwise scanned in its own
/// short list.
pub fn nearest_house(
    postings: &[Posting],
    distance: impl Fn(u32) -> (u32, u32),
    is_active: impl Fn(u32) -> bool,
) -> Option<&Posting> {
    let mut best: Option<((u32, u32, u32), &Posting)> = None;
    let mut current: Option<(u32, (u32, u32))> = None;
    for posting in postings {
        let (other_alley, number_distance) = match current {
            Some((place, known)) if place == posting.place => known,
            _ => {
                let known = distance(posting.place);
                current = Some((posting.place, known));
                known
            }
        };
        let key = (other_alley, number_distance, posting.id);
        if best.is_none_or(|(best_key, _)| key < best_key) && is_active(posting.id) {
            best = Some((key, posting));
        }
    }
    best.map(|(_, posting)| posting)
}

/// A street's middle house: the active posting at the middle of its list (sorted by
/// place), else the nearest active one after it, else before it. Not the middle of the
/// active ones, which would read every house's record (far in memory) to count them: the
/// two are the same while none of the street's houses is retired.
pub fn middle_house(postings: &[Posting], is_active: impl Fn(u32) -> bool) -> Option<&Posting> {
    let middle = postings.len() / 2;
    postings[middle..]
        .iter()
        .chain(postings[..middle].iter().rev())
        .find(|posting| is_active(posting.id))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Postings as a street holds them: sorted by (place, id), ids distinct.
    fn street() -> impl Strategy<Value = (Vec<Posting>, Vec<bool>)> {
        prop::collection::vec((0u32..12, any::<bool>()), 0..60).prop_map(|houses| {
            let mut postings: Vec<Posting> = houses
                .iter()
                .enumerate()
                .map(|(id, &(place, _))| Posting {
                    place,
                    id: id as u32,
                })
                .collect();
            postings.sort();
            (postings, houses.iter().map(|&(_, active)| active).collect())
        })
    }

    proptest! {
        /// The run-wise scan answers what a minimum over every active posting answers.
        #[test]
        fn nearest_house_is_the_least_active_posting((postings, active) in street(), wanted in 0u32..14) {
            let distance = |place: u32| (u32::from(place.is_multiple_of(3)), place.abs_diff(wanted));
            let is_active = |id: u32| active[id as usize];
            let expected = postings
                .iter()
                .filter(|posting| is_active(posting.id))
                .min_by_key(|posting| {
                    let (other_alley, apart) = distance(posting.place);
                    (other_alley, apart, posting.id)
                });
            prop_assert_eq!(nearest_house(&postings, distance, is_active), expected);
        }

        /// The middle house is active, and is the list's middle when every house is.
        #[test]
        fn middle_house_is_active_and_the_middle_when_all_are((postings, active) in street()) {
            let found = middle_house(&postings, |id| active[id as usize]);
            prop_assert_eq!(found.is_some(), postings.iter().any(|p| active[p.id as usize]));
            if let Some(found) = found {
                prop_assert!(active[found.id as usize]);
            }
            prop_assert_eq!(
                middle_house(&postings, |_| true),
                postings.get(postings.len() / 2)
            );
        }
    }
}
