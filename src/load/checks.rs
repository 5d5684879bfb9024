//! Checks of loaded rows: whether order ids are all distinct (then every row is its own
//! order), whether any two rows could be exact duplicates, and the duplicate count kept
//! with a warning, dropped with `--dedupe` or refused with `--strict`.

use anyhow::Result;
use polars::prelude::*;

use crate::error::bad;

use super::source;
use super::values::par_map;
use super::LoadOptions;

/// Whether a column's values are all distinct and non-null: 64-bit hashes computed in
/// parallel and sorted; only equal hashes need polars' exact (and slower) count.
pub(crate) fn all_distinct(c: &Column) -> bool {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    if c.null_count() > 0 {
        return false;
    }
    if let Ok(codes) = c.u32() {
        // Codes (order ids coded at load): distinct when none repeats.
        let mut seen = vec![false; codes.max().map_or(0, |m| m as usize + 1)];
        return codes
            .iter()
            .flatten()
            .all(|v| !std::mem::replace(&mut seen[v as usize], true));
    }
    let Ok(s) = c.cast(&DataType::String) else {
        return false;
    };
    let Ok(ca) = s.str() else { return false };
    // Exports usually number their orders in sequence, maybe in a few interleaved series
    // (orders and returns): dealt into at most four increasing lanes, the values are
    // distinct when no two lanes share one (a merge), without hashing.
    // Ids increasing within each prefix (`O00000001`, … and `R00000001`, …: orders and
    // returns numbered in two series) are distinct, keeping one value per prefix.
    if source::PrefixRuns::default().feed_column(ca) {
        return true;
    }
    // Else each lane's first and last value: lanes whose ranges do not overlap are
    // distinct without keeping them.
    if let Some(ranges) = lane_ranges(ca.iter().flatten(), 4) {
        let apart = ranges
            .iter()
            .enumerate()
            .all(|(i, a)| ranges[i + 1..].iter().all(|b| a.1 < b.0 || b.1 < a.0));
        if apart {
            return true;
        }
        if let Some(lanes) = increasing_lanes(ca.iter().flatten(), 4) {
            return lanes
                .iter()
                .enumerate()
                .all(|(i, a)| lanes[i + 1..].iter().all(|b| disjoint(a, b)));
        }
    }
    let state = foldhash::fast::FixedState::with_seed(0x5eed);
    let Ok(mut h) = par_map(ca, |v| Ok::<u64, ()>(state.hash_one(v))) else {
        return false;
    };
    h.par_sort_unstable();
    if h.windows(2).all(|w| w[0] != w[1]) {
        return true;
    }
    c.n_unique().is_ok_and(|u| u == c.len())
}

/// The values dealt in order into strictly increasing lanes (each to the first lane it
/// extends), or None when that takes more than `max` lanes.
pub(super) fn increasing_lanes<'a>(
    values: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<Vec<Vec<&'a str>>> {
    let mut lanes: Vec<Vec<&str>> = Vec::new();
    for v in values {
        match lanes
            .iter()
            .position(|l| l.last().is_some_and(|last| *last < v))
        {
            Some(i) => lanes[i].push(v),
            None if lanes.len() < max => lanes.push(vec![v]),
            None => return None,
        }
    }
    Some(lanes)
}

/// [`increasing_lanes`] keeping only each lane's first and last value.
pub(super) fn lane_ranges<'a>(
    values: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<Vec<(&'a str, &'a str)>> {
    let mut lanes: Vec<(&str, &str)> = Vec::new();
    for v in values {
        match lanes.iter().position(|l| l.1 < v) {
            Some(i) => lanes[i].1 = v,
            None if lanes.len() < max => lanes.push((v, v)),
            None => return None,
        }
    }
    Some(lanes)
}

/// Whether two increasing sequences have no value in common.
pub(super) fn disjoint(a: &[&str], b: &[&str]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return false,
        }
    }
    true
}

/// Whether two rows could be equal: a 64-bit hash of every row, sorted; distinct hashes
/// prove there are no duplicates (the common case) without polars' row-wise `unique`.
pub(super) fn may_have_duplicates(tx: &DataFrame) -> Result<bool> {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    let state = foldhash::fast::FixedState::with_seed(0x5eed);
    let mix = |acc: &mut u64, v: u64| *acc = state.hash_one((*acc, v));
    // Columns other than dates, numbers and text are compared by their text.
    let cols: Vec<Column> = tx
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::Date
            | DataType::Float64
            | DataType::String
            | DataType::UInt32
            | DataType::Int32 => Ok(c.clone()),
            _ => c.cast(&DataType::String),
        })
        .collect::<PolarsResult<_>>()?;
    let mut h = vec![0u64; tx.height()];
    // Row ranges in parallel (each hashes its rows across every column).
    const ROWS: usize = 1 << 16;
    h.par_chunks_mut(ROWS)
        .enumerate()
        .try_for_each(|(k, part)| -> PolarsResult<()> {
            for c in &cols {
                let c = c.slice((k * ROWS) as i64, part.len());
                match c.dtype() {
                    DataType::Date => {
                        for (a, v) in part.iter_mut().zip(c.date()?.physical().iter()) {
                            mix(a, v.map_or(u64::MAX, |d| d as u32 as u64));
                        }
                    }
                    // (codes: the customer ids, the order ids)
                    DataType::UInt32 => {
                        for (a, v) in part.iter_mut().zip(c.u32()?.iter()) {
                            mix(a, v.map_or(u64::MAX, u64::from));
                        }
                    }
                    // (amounts held as counts)
                    DataType::Int32 => {
                        for (a, v) in part.iter_mut().zip(c.i32()?.iter()) {
                            mix(a, v.map_or(u64::MAX, |m| m as u32 as u64));
                        }
                    }
                    DataType::Float64 => {
                        for (a, v) in part.iter_mut().zip(c.f64()?.iter()) {
                            // 0.0 and -0.0 compare equal.
                            mix(
                                a,
                                v.map_or(u64::MAX, |x| if x == 0.0 { 0 } else { x.to_bits() }),
                            );
                        }
                    }
                    _ => {
                        for (a, v) in part.iter_mut().zip(c.str()?.iter()) {
                            mix(a, v.map_or(u64::MAX, |x| state.hash_one(x)));
                        }
                    }
                }
            }
            Ok(())
        })?;
    h.par_sort_unstable();
    Ok(h.windows(2).any(|w| w[0] == w[1]))
}

/// Count exact duplicate rows: kept with a warning, dropped with `--dedupe`, an error
/// under `--strict`.
pub(super) fn dedupe(
    tx: DataFrame,
    label: &str,
    opts: &LoadOptions,
    warnings: &mut Vec<String>,
    count: &mut usize,
) -> Result<DataFrame> {
    if !may_have_duplicates(&tx)? {
        return Ok(tx);
    }
    let unique = tx
        .clone()
        .lazy()
        .unique_stable_generic(None, UniqueKeepStrategy::First)
        .collect()?;
    let dups = tx.height() - unique.height();
    *count = dups;
    if dups == 0 {
        return Ok(tx);
    }
    if opts.dedupe {
        warnings.push(format!(
            "{label}: {dups} exact duplicate rows were dropped (--dedupe)"
        ));
        return Ok(unique);
    }
    if opts.strict {
        return Err(bad(format!(
            "{label}: {dups} exact duplicate rows (--strict refuses them; --dedupe drops them)"
        )));
    }
    warnings.push(format!(
        "{label}: {dups} exact duplicate rows were kept (use --dedupe to drop them)"
    ));
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ids: &[&str], days: &[i32], amounts: &[f64]) -> DataFrame {
        let amounts: Vec<Option<f64>> = amounts.iter().copied().map(Some).collect();
        crate::reports::rows_frame(ids, days, &amounts)
    }

    fn text(v: &[Option<&str>]) -> Column {
        Column::new("order_id".into(), v.to_vec())
    }

    #[test]
    fn distinct_order_ids() {
        let some = |v: &[&'static str]| text(&v.iter().map(|s| Some(*s)).collect::<Vec<_>>());
        // Increasing; two interleaved series; out of order; repeats across and within.
        assert!(all_distinct(&some(&["O1", "O2", "O3"])));
        assert!(all_distinct(&some(&["O1", "O2", "R1", "O3", "R2"])));
        assert!(all_distinct(&some(&["e", "d", "c", "b", "a", "f"])));
        assert!(!all_distinct(&some(&["O1", "O2", "R1", "O3", "O2"])));
        assert!(!all_distinct(&some(&["e", "d", "c", "b", "a", "c"])));
        assert!(!all_distinct(&some(&["a", "a"])));
        assert!(!all_distinct(&text(&[Some("a"), None])));
        assert!(all_distinct(&text(&[])));
        // Each value goes to the first lane it extends.
        let lanes = increasing_lanes(["O1", "O2", "R1", "O3", "R2", "O4"].into_iter(), 4);
        assert_eq!(
            lanes,
            Some(vec![vec!["O1", "O2", "R1", "R2"], vec!["O3", "O4"]])
        );
        assert!(increasing_lanes(["c", "b", "a"].into_iter(), 2).is_none());
        // Ranges only: lanes apart decide at once; overlapping ones go to the full check.
        assert_eq!(
            lane_ranges(["b1", "a1", "b2", "a2"].into_iter(), 4),
            Some(vec![("b1", "b2"), ("a1", "a2")])
        );
        assert!(all_distinct(&some(&["b1", "a1", "b2", "a2"])));
        assert!(!all_distinct(&some(&["b1", "a1", "b2", "a1"])));
        // Two series by prefix, interleaved; a repeat in one of them; too many prefixes.
        let runs = |v: &[&'static str]| source::PrefixRuns::default().feed(v.iter().copied());
        assert!(runs(&["O1", "R1", "O2", "O3", "R2"]));
        assert!(!runs(&["O1", "R1", "O2", "R1"]));
        assert!(!runs(&[
            "a1", "b1", "c1", "d1", "e1", "f1", "g1", "h1", "i1"
        ]));
        assert!(!runs(&["O2", "O1"]));
        // Fed chunk by chunk, as the loader reads: a repeat across chunks is seen.
        let mut r = source::PrefixRuns::default();
        assert!(r.feed(["O1", "R1"].into_iter()) && r.feed(["O2", "R2"].into_iter()));
        assert!(!r.feed(["O3", "R2"].into_iter()));
        // A column, checked by ranges of rows at once, agrees with the values one by one.
        let ids: Vec<String> = (0..200_000)
            .map(|i| format!("{}{:07}", if i % 3 == 0 { "R" } else { "O" }, i / 2))
            .collect();
        let col = StringChunked::from_iter_values("o".into(), ids.iter().map(String::as_str));
        let (mut a, mut b) = (source::PrefixRuns::default(), source::PrefixRuns::default());
        assert_eq!(a.feed_column(&col), b.feed(ids.iter().map(String::as_str)));
        let increasing: Vec<String> = (0..200_000).map(|i| format!("O{i:07}")).collect();
        let col =
            StringChunked::from_iter_values("o".into(), increasing.iter().map(String::as_str));
        assert!(source::PrefixRuns::default().feed_column(&col));
        let mut again = increasing.clone();
        again.push("O0100000".into());
        let col = StringChunked::from_iter_values("o".into(), again.iter().map(String::as_str));
        assert!(!source::PrefixRuns::default().feed_column(&col));
        assert!(disjoint(&["a", "c"], &["b", "d"]));
        assert!(!disjoint(&["a", "c"], &["b", "c"]));
    }
    #[test]
    fn duplicate_check_finds_exact_duplicates_only() {
        let distinct = frame(&["a", "a", "b"], &[1, 1, 1], &[5.0, 6.0, 5.0]);
        assert!(!may_have_duplicates(&distinct).unwrap());
        let dup = frame(&["a", "b", "a"], &[1, 1, 1], &[5.0, 6.0, 5.0]);
        assert!(may_have_duplicates(&dup).unwrap());
        // 0.0 and -0.0 are equal values.
        let zeros = frame(&["a", "a"], &[1, 1], &[0.0, -0.0]);
        assert!(may_have_duplicates(&zeros).unwrap());
    }
}
