//! The customer-id dictionary of the store: ids are coded as the input is read (chunk by
//! chunk for CSV text), so the whole id column never exists as text; at the end of loading
//! the ids that are kept are numbered in id order ([`IdCoder::finish`]) and the columns
//! recoded, so that code order is id order (deterministic sums, sorted output).
//!
//! After loading, `customer_id` in the transactions and customers frames is a `UInt32`
//! code into [`IdNames`] (see `Dataset::ids`).

use polars::prelude::*;

/// The text of many ids in one buffer: id `i` is `bytes[starts[i]..starts[i + 1]]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdNames {
    bytes: String,
    starts: Vec<usize>,
}

impl IdNames {
    fn new() -> IdNames {
        IdNames {
            bytes: String::new(),
            starts: vec![0],
        }
    }

    fn push(&mut self, id: &str) {
        self.bytes.push_str(id);
        self.starts.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of code `i` (`i < len()`).
    pub fn get(&self, i: usize) -> &str {
        &self.bytes[self.starts[i]..self.starts[i + 1]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The code of `id`, when the names are sorted (as [`IdCoder::finish`] leaves them).
    pub fn position(&self, id: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }
}

/// Ids numbered in order of appearance while reading; [`IdCoder::finish`] renumbers the
/// ones still used in id order.
pub struct IdCoder {
    names: IdNames,
    table: hashbrown::HashTable<u32>,
    state: foldhash::fast::FixedState,
}

impl Default for IdCoder {
    fn default() -> Self {
        IdCoder::new()
    }
}

impl IdCoder {
    pub fn new() -> IdCoder {
        IdCoder {
            names: IdNames::new(),
            table: hashbrown::HashTable::new(),
            state: foldhash::fast::FixedState::with_seed(0x1d5_c0de),
        }
    }

    /// The number of ids coded so far.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The code of one id, numbering it when new.
    pub fn code(&mut self, id: &str) -> u32 {
        use std::hash::BuildHasher;
        let h = self.state.hash_one(id);
        let IdCoder {
            names,
            table,
            state,
        } = self;
        if let Some(&c) = table.find(h, |&c| names.get(c as usize) == id) {
            return c;
        }
        let c = names.len() as u32;
        names.push(id);
        table.insert_unique(h, c, |&c| state.hash_one(names.get(c as usize)));
        c
    }

    /// A column of ids (any type, read as text) as codes in order of appearance. Null,
    /// empty and blank ids are null codes (rows the loader drops as "an empty customer id").
    pub fn code_column(&mut self, c: &Column) -> Result<Column, PolarsError> {
        self.code_values(c, true)
    }

    /// [`IdCoder::code_column`]; only null ids are null codes when `blank_is_null` is
    /// false (order ids: a blank id is an id).
    pub fn code_values(&mut self, c: &Column, blank_is_null: bool) -> Result<Column, PolarsError> {
        let s = c.cast(&DataType::String)?;
        let ca = s.str()?;
        let mut out: Vec<Option<u32>> = Vec::with_capacity(ca.len());
        // Exports usually list a customer's rows together: a repeat of the previous id
        // costs a comparison instead of a lookup.
        let mut prev: Option<(&str, u32)> = None;
        for v in ca.iter() {
            let code = match v {
                Some(id) if !(blank_is_null && id.trim().is_empty()) => match prev {
                    Some((p, c)) if p == id => Some(c),
                    _ => {
                        let c = self.code(id);
                        prev = Some((id, c));
                        Some(c)
                    }
                },
                _ => None,
            };
            out.push(code);
        }
        Ok(Column::new(c.name().clone(), out))
    }

    /// Number the ids that `used` marks (indexed by code of appearance) in id order: the
    /// sorted names, and each old code's new code (`u32::MAX` where unused).
    pub fn finish(self, used: &[bool]) -> (IdNames, Vec<u32>) {
        use rayon::prelude::*;
        let old = &self.names;
        let mut order: Vec<u32> = (0..old.len() as u32)
            .filter(|&c| used.get(c as usize).copied().unwrap_or(false))
            .collect();
        order.par_sort_unstable_by(|a, b| old.get(*a as usize).cmp(old.get(*b as usize)));
        let mut rank = vec![u32::MAX; old.len()];
        let mut names = IdNames::new();
        names.bytes.reserve(
            order
                .iter()
                .map(|&c| old.get(c as usize).len())
                .sum::<usize>(),
        );
        names.starts.reserve(order.len());
        for (new, &c) in order.iter().enumerate() {
            rank[c as usize] = new as u32;
            names.push(old.get(c as usize));
        }
        (names, rank)
    }
}

/// Mark in `used` (indexed by code) the codes a column holds.
pub fn mark_used(c: &Column, used: &mut Vec<bool>) -> Result<(), PolarsError> {
    for code in c.u32()?.iter().flatten() {
        let i = code as usize;
        if i >= used.len() {
            used.resize(i + 1, false);
        }
        used[i] = true;
    }
    Ok(())
}

/// A code column renumbered by `rank` (from [`IdCoder::finish`]).
pub fn recode(c: &Column, rank: &[u32]) -> Result<Column, PolarsError> {
    let ca = c.u32()?;
    // (a null's slot holds any value: looked up safely, and stays null)
    let out: UInt32Chunked = ca.apply_values(|v| rank.get(v as usize).copied().unwrap_or(u32::MAX));
    Ok(out.with_name(c.name().clone()).into_column())
}

/// A code column as the ids' text.
pub fn decode(c: &Column, names: &IdNames) -> Result<Column, PolarsError> {
    let ca = c.u32()?;
    let out: StringChunked = ca
        .iter()
        .map(|v| {
            v.filter(|v| (*v as usize) < names.len())
                .map(|v| names.get(v as usize))
        })
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_order_of_appearance_then_renumbers_in_id_order() {
        let mut coder = IdCoder::new();
        let c = Column::new(
            "customer_id".into(),
            [Some("z"), Some("a"), None, Some(" "), Some("z"), Some("m")],
        );
        let codes = coder.code_column(&c).unwrap();
        let got: Vec<Option<u32>> = codes.u32().unwrap().iter().collect();
        assert_eq!(got, [Some(0), Some(1), None, None, Some(0), Some(2)]);
        // "m" is not kept (its rows were dropped): z, a are renumbered a=0, z=1.
        let (names, rank) = coder.finish(&[true, true, false]);
        assert_eq!(names.iter().collect::<Vec<_>>(), ["a", "z"]);
        assert_eq!(rank, [1, 0, u32::MAX]);
        assert_eq!(names.position("z"), Some(1));
        assert_eq!(names.position("b"), None);
        let kept = Column::new("customer_id".into(), [Some(0u32), None, Some(1)]);
        let re = recode(&kept, &rank).unwrap();
        assert_eq!(
            re.u32().unwrap().iter().collect::<Vec<_>>(),
            [Some(1), None, Some(0)]
        );
    }

    #[test]
    fn many_ids_keep_their_codes() {
        let mut coder = IdCoder::new();
        for i in 0..10_000 {
            assert_eq!(coder.code(&format!("c{i}")), i);
        }
        for i in (0..10_000).rev() {
            assert_eq!(coder.code(&format!("c{i}")), i);
        }
        assert_eq!(coder.len(), 10_000);
    }
}
