//! The customer-id dictionary of the store: ids are coded as the input is read (chunk by
//! chunk for CSV text), so the whole id column never exists as text; at the end of loading
//! the ids that are kept are numbered in id order ([`IdCoder::finish`]) and the columns
//! recoded, so that code order is id order (deterministic sums, sorted output).
//!
//! After loading, `customer_id` in the transactions and customers frames is a `UInt32`
//! code into [`IdNames`] (see `Dataset::ids`).

use polars::prelude::*;

/// The text of many ids in one buffer: id `i` is `bytes[starts[i]..starts[i + 1]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct IdNames {
    bytes: String,
    starts: Starts,
}

/// Where each id's text starts: 4 bytes an id while the text is under 4 GiB (every input
/// seen so far), else 8 (the offsets widened once, when the text passes 4 GiB).
#[derive(Clone, Debug, PartialEq)]
enum Starts {
    Narrow(Vec<u32>),
    Wide(Vec<usize>),
}

impl Starts {
    #[inline]
    fn get(&self, i: usize) -> usize {
        match self {
            Starts::Narrow(v) => v[i] as usize,
            Starts::Wide(v) => v[i],
        }
    }

    fn len(&self) -> usize {
        match self {
            Starts::Narrow(v) => v.len(),
            Starts::Wide(v) => v.len(),
        }
    }

    fn push(&mut self, at: usize) {
        match self {
            Starts::Narrow(v) => match u32::try_from(at) {
                Ok(at) => v.push(at),
                Err(_) => {
                    let mut wide: Vec<usize> = v.iter().map(|&x| x as usize).collect();
                    wide.push(at);
                    *self = Starts::Wide(wide);
                }
            },
            Starts::Wide(v) => v.push(at),
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Starts::Narrow(v) => v.reserve(n),
            Starts::Wide(v) => v.reserve(n),
        }
    }
}

impl Default for IdNames {
    fn default() -> Self {
        IdNames::new()
    }
}

impl IdNames {
    fn new() -> IdNames {
        IdNames {
            bytes: String::new(),
            starts: Starts::Narrow(vec![0]),
        }
    }

    /// Room for `n` ids (their text grows as pushed).
    pub fn with_capacity(n: usize) -> IdNames {
        let mut out = IdNames::new();
        out.starts.reserve(n);
        out
    }

    /// Add `id` as the next one (code `len()`).
    pub fn push(&mut self, id: &str) {
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
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        &self.bytes[self.starts.get(i)..self.starts.get(i + 1)]
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

impl std::ops::Index<usize> for IdNames {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        self.get(i)
    }
}

/// Ids numbered in order of appearance while reading; [`IdCoder::finish`] renumbers the
/// ones still used in id order.
///
/// The dictionary is split into [`SHARDS`] shards by a hash of the id, each with its own
/// text and table, so that a column's rows are coded by all threads at once, shard by
/// shard ([`IdCoder::code_values`]). A code read so far is `local << SHARD_BITS | shard`.
pub struct IdCoder {
    shards: Vec<Shard>,
    state: foldhash::fast::FixedState,
}

#[derive(Default)]
struct Shard {
    names: IdNames,
    table: hashbrown::HashTable<u32>,
}

const SHARD_BITS: u32 = 4;
/// Shards of the dictionary (enough to keep every thread busy on a few cores).
pub const SHARDS: usize = 1 << SHARD_BITS;

/// The shard of an id's hash: its top bits after a multiply, so that the bits the table
/// uses (its low bits and top seven) still spread the ids within a shard.
fn shard_of(h: u64) -> usize {
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SHARD_BITS)) as usize
}

/// `a == b`, inline for ids of 4 to 16 bytes (two overlapping word compares) instead of a
/// call to `memcmp`: for the ids compared as they are read (the coder's runs of one id and
/// its lookups, the order ids' check). In `perf` of `segment` on the 1M CSV, `memcmp` was
/// 7% of the samples before, below 1% after.
#[inline]
pub(crate) fn same_bytes(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        8..=16 => {
            bytes::<8>(a, 0) == bytes::<8>(b, 0) && bytes::<8>(a, n - 8) == bytes::<8>(b, n - 8)
        }
        4..=7 => {
            bytes::<4>(a, 0) == bytes::<4>(b, 0) && bytes::<4>(a, n - 4) == bytes::<4>(b, n - 4)
        }
        _ => a == b,
    }
}

/// The `N` bytes of `s` from `i`, as an array (compared as one word).
#[inline]
fn bytes<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
    let mut k = [0u8; N];
    k.copy_from_slice(&s[i..i + N]);
    k
}

/// `a.cmp(b)` (byte order), inline for two strings of the same length of 8 to 16 bytes:
/// their first 8 bytes, then their last 8 (which overlap bytes already found equal), each
/// read big-endian. Neighbouring order ids are compared this way as they are read.
#[inline]
pub(crate) fn fast_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let n = x.len();
    if n != y.len() || !(8..=16).contains(&n) {
        return x.cmp(y);
    }
    let word = |s: &[u8], i: usize| u64::from_be_bytes(bytes::<8>(s, i));
    word(x, 0)
        .cmp(&word(y, 0))
        .then_with(|| word(x, n - 8).cmp(&word(y, n - 8)))
}

impl Shard {
    fn code(&mut self, id: &str, h: u64, state: &foldhash::fast::FixedState) -> u32 {
        use std::hash::BuildHasher;
        let Shard { names, table } = self;
        if let Some(&c) = table.find(h, |&c| same_bytes(names.get(c as usize), id)) {
            return c;
        }
        let c = names.len() as u32;
        names.push(id);
        table.insert_unique(h, c, |&c| state.hash_one(names.get(c as usize)));
        c
    }
}

impl Default for IdCoder {
    fn default() -> Self {
        IdCoder::new()
    }
}

impl IdCoder {
    pub fn new() -> IdCoder {
        IdCoder {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            state: foldhash::fast::FixedState::with_seed(0x1d5_c0de),
        }
    }

    /// The number of ids coded so far.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.names.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One more than the largest code so far (the length of a vector indexed by code).
    pub fn code_bound(&self) -> usize {
        let most = self.shards.iter().map(|s| s.names.len()).max().unwrap_or(0);
        most << SHARD_BITS
    }

    /// The code of one id, numbering it when new.
    pub fn code(&mut self, id: &str) -> u32 {
        use std::hash::BuildHasher;
        let h = self.state.hash_one(id);
        let s = shard_of(h);
        let local = self.shards[s].code(id, h, &self.state);
        (local << SHARD_BITS) | s as u32
    }

    /// A column of ids (any type, read as text) as codes in order of appearance. Null,
    /// empty and blank ids are null codes (rows the loader drops as "an empty customer id").
    pub fn code_column(&mut self, c: &Column) -> Result<Column, PolarsError> {
        self.code_values(c, true)
    }

    /// [`IdCoder::code_column`]; only null ids are null codes when `blank_is_null` is
    /// false (order ids: a blank id is an id).
    ///
    /// In parallel. Exports usually list a customer's rows together, so the column is first
    /// cut into runs of one id (ranges of rows scanned at once); only the first row of each
    /// run is coded: those rows are hashed, dealt to their shards, and each shard codes its
    /// rows in row order; then every row takes its run's code.
    pub fn code_values(&mut self, c: &Column, blank_is_null: bool) -> Result<Column, PolarsError> {
        let s = c.cast(&DataType::String)?;
        let ca = s.str()?;
        let arrays: Vec<_> = ca.downcast_iter().collect();
        let lens: Vec<usize> = arrays.iter().map(|a| a.len()).collect();
        let out = self.code_by(&lens, |k, i| arrays[k].get(i), blank_is_null);
        Ok(Column::new(c.name().clone(), out))
    }

    /// [`IdCoder::code_values`] on ids held in parts (their lengths in `lens`; `get(k, i)`:
    /// row `i` of part `k`), in row order.
    pub fn code_by<'a>(
        &mut self,
        lens: &[usize],
        get: impl Fn(usize, usize) -> Option<&'a str> + Sync,
        blank_is_null: bool,
    ) -> Vec<Option<u32>> {
        let parts = self.code_by_parts(lens, get, blank_is_null);
        parts.into_iter().flatten().collect()
    }

    /// [`IdCoder::code_by`] in row ranges, in row order (joined by the caller, so that the
    /// codes need not be copied once more).
    pub fn code_by_parts<'a>(
        &mut self,
        lens: &[usize],
        get: impl Fn(usize, usize) -> Option<&'a str> + Sync,
        blank_is_null: bool,
    ) -> Vec<Vec<Option<u32>>> {
        use rayon::prelude::*;
        use std::hash::BuildHasher;
        let keep = |v: Option<&str>| -> bool {
            v.is_some_and(|id| !(blank_is_null && super::trim_field(id).is_empty()))
        };
        let ranges = row_ranges(lens.iter().copied());
        // Each range's run heads: (row in the range, id).
        let heads: Vec<Vec<(u32, &str)>> = ranges
            .par_iter()
            .map(|&(k, at, len)| {
                let mut heads = Vec::new();
                let mut prev: Option<&str> = None;
                for i in 0..len {
                    let v = get(k, at + i);
                    if !keep(v) {
                        prev = None;
                        continue;
                    }
                    let same = match (v, prev) {
                        (Some(a), Some(b)) => same_bytes(a, b),
                        (a, b) => a.is_none() && b.is_none(),
                    };
                    if !same {
                        if let Some(id) = v {
                            heads.push((i as u32, id));
                        }
                    }
                    prev = v;
                }
                heads
            })
            .collect();
        let all: Vec<&str> = heads.iter().flatten().map(|h| h.1).collect();
        let state = &self.state;
        let hashes: Vec<u64> = all
            .par_iter()
            .with_min_len(1 << 12)
            .map(|id| state.hash_one(id))
            .collect();
        // Each shard's heads, in row order, and their codes.
        let mut mine: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, h) in hashes.iter().enumerate() {
            mine[shard_of(*h)].push(i as u32);
        }
        let coded: Vec<Vec<u32>> = self
            .shards
            .par_iter_mut()
            .zip(&mine)
            .enumerate()
            .map(|(s, (shard, mine))| {
                let mut prev: Option<(&str, u32)> = None;
                mine.iter()
                    .map(|&i| {
                        let id = all[i as usize];
                        let local = match prev {
                            Some((p, c)) if same_bytes(p, id) => c,
                            _ => shard.code(id, hashes[i as usize], state),
                        };
                        prev = Some((id, local));
                        (local << SHARD_BITS) | s as u32
                    })
                    .collect()
            })
            .collect();
        let mut head_codes = vec![0u32; all.len()];
        for (mine, coded) in mine.iter().zip(&coded) {
            for (&i, &c) in mine.iter().zip(coded) {
                head_codes[i as usize] = c;
            }
        }
        // Every row takes its run's code.
        let mut first = Vec::with_capacity(heads.len());
        let mut k = 0;
        for h in &heads {
            first.push(k);
            k += h.len();
        }
        let parts: Vec<Vec<Option<u32>>> = ranges
            .par_iter()
            .zip(&heads)
            .zip(&first)
            .map(|((&(a, at, len), heads), &first)| {
                let mut out = Vec::with_capacity(len);
                let mut next = heads
                    .iter()
                    .map(|h| h.0)
                    .zip(&head_codes[first..])
                    .peekable();
                let mut cur = None;
                for i in 0..len {
                    if let Some((_, &c)) = next.next_if(|(r, _)| *r as usize == i) {
                        cur = Some(c);
                        out.push(cur);
                    } else if keep(get(a, at + i)) {
                        out.push(cur);
                    } else {
                        out.push(None);
                    }
                }
                out
            })
            .collect();
        parts
    }

    /// Number the ids that `used` marks (indexed by code) in id order: the sorted names,
    /// and each old code's new code (`u32::MAX` where unused).
    pub fn finish(self, used: &[bool]) -> (IdNames, Vec<u32>) {
        let shards = &self.shards;
        let name = |c: u32| {
            let s = c as usize & (SHARDS - 1);
            shards[s].names.get((c >> SHARD_BITS) as usize)
        };
        let order = sorted_codes(
            used.iter()
                .enumerate()
                .filter(|(_, u)| **u)
                .map(|(c, _)| c as u32)
                .collect(),
            name,
        );
        let mut rank = vec![u32::MAX; self.code_bound().max(used.len())];
        let mut names = IdNames::new();
        names
            .bytes
            .reserve(order.iter().map(|&c| name(c).len()).sum::<usize>());
        names.starts.reserve(order.len());
        for (new, &c) in order.iter().enumerate() {
            rank[c as usize] = new as u32;
            names.push(name(c));
        }
        (names, rank)
    }
}

/// `codes` sorted by their names (distinct: the order is total). Each code is sorted by a
/// key of the 8 bytes of its name after the prefix all names share (zero-padded, read
/// big-endian: a smaller key is a smaller name), and only codes whose keys are equal are
/// compared by name. Measured on 1M shuffled ids "C000001"…: 200–290 ms with a comparison
/// of the names (two lookups and a `memcmp` per comparison) against 35–50 ms, on 2 threads
/// (`benches/ids.md`).
fn sorted_codes<'n>(codes: Vec<u32>, name: impl Fn(u32) -> &'n str + Sync) -> Vec<u32> {
    use rayon::prelude::*;
    let Some(&first) = codes.first() else {
        return codes;
    };
    let first = name(first).as_bytes();
    let shared = codes.iter().fold(first.len(), |l, &c| {
        let b = name(c).as_bytes();
        first[..l].iter().zip(b).take_while(|(x, y)| x == y).count()
    });
    let key = |c: u32| {
        let rest = name(c).as_bytes().get(shared..).unwrap_or_default();
        let mut k = [0u8; 8];
        let m = rest.len().min(8);
        k[..m].copy_from_slice(&rest[..m]);
        u64::from_be_bytes(k)
    };
    let mut keyed: Vec<(u64, u32)> = codes
        .into_par_iter()
        .with_min_len(1 << 14)
        .map(|c| (key(c), c))
        .collect();
    keyed.par_sort_unstable();
    let by_name = |a: &(u64, u32), b: &(u64, u32)| name(a.1).cmp(name(b.1));
    let mut i = 0;
    while i < keyed.len() {
        let j = i + keyed[i..].iter().take_while(|k| k.0 == keyed[i].0).count();
        if j - i > 1 << 12 {
            keyed[i..j].par_sort_unstable_by(by_name);
        } else if j - i > 1 {
            keyed[i..j].sort_unstable_by(by_name);
        }
        i = j;
    }
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Ranges of rows of a column's arrays (their lengths in `lens`), for work done on ranges
/// at once: (array, first row in it, length), at most 64Ki rows each, in row order.
pub(crate) fn row_ranges(lens: impl Iterator<Item = usize>) -> Vec<(usize, usize, usize)> {
    const RANGE: usize = 1 << 16;
    let mut ranges = Vec::new();
    for (k, n) in lens.enumerate() {
        let mut at = 0;
        while at < n {
            let len = RANGE.min(n - at);
            ranges.push((k, at, len));
            at += len;
        }
    }
    ranges
}

/// Mark in `used` (indexed by code) the codes a column holds.
pub fn mark_used(c: &Column, used: &mut Vec<bool>) -> Result<(), PolarsError> {
    let mut mark = |code: u32| {
        let i = code as usize;
        if i >= used.len() {
            used.resize(i + 1, false);
        }
        used[i] = true;
    };
    let ca = c.u32()?;
    if ca.null_count() == 0 {
        // (the value slices: no Option per value)
        ca.downcast_iter()
            .for_each(|a| a.values().iter().for_each(|v| mark(*v)));
    } else {
        ca.iter().flatten().for_each(mark);
    }
    Ok(())
}

/// Renumber the code column `name` of `df` by `rank` (from [`IdCoder::finish`]), in place:
/// the column is taken out of the frame, so that its buffers are the only copy and are
/// written over (a new column beside the old was the load's peak: 33 MB more at 1M
/// customers' 8.3M rows), and put back at its position.
pub fn recode_in(df: &mut DataFrame, name: &str, rank: &[u32]) -> Result<(), PolarsError> {
    let Some(at) = df.get_column_index(name) else {
        return Err(PolarsError::ColumnNotFound(name.to_string().into()));
    };
    let c = df.drop_in_place(name)?;
    let mut ca = c.u32()?.clone();
    drop(c);
    // (a null's slot holds any value: looked up safely, and stays null; a buffer still
    // shared elsewhere is copied first)
    ca.apply_mut(|v| rank.get(v as usize).copied().unwrap_or(u32::MAX));
    df.insert_column(at, ca.with_name(name.into()).into_column())?;
    Ok(())
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

    /// Offsets past 4 GiB widen the starts once, keeping every earlier one.
    #[test]
    fn starts_widen_past_four_gib() {
        let mut s = Starts::Narrow(vec![0, 5]);
        s.push(9);
        assert!(matches!(s, Starts::Narrow(_)));
        let far = u32::MAX as usize + 10;
        s.push(far);
        assert!(matches!(s, Starts::Wide(_)));
        s.push(far + 3);
        assert_eq!(
            (0..s.len()).map(|i| s.get(i)).collect::<Vec<_>>(),
            [0, 5, 9, far, far + 3]
        );
    }

    #[test]
    fn codes_in_order_of_appearance_then_renumbers_in_id_order() {
        let mut coder = IdCoder::new();
        let c = Column::new(
            "customer_id".into(),
            [Some("z"), Some("a"), None, Some(" "), Some("z"), Some("m")],
        );
        let codes = coder.code_column(&c).unwrap();
        let got: Vec<Option<u32>> = codes.u32().unwrap().iter().collect();
        let (z, a, m) = (coder.code("z"), coder.code("a"), coder.code("m"));
        assert_eq!(got, [Some(z), Some(a), None, None, Some(z), Some(m)]);
        assert_eq!(coder.len(), 3);
        // "m" is not kept (its rows were dropped): z, a are renumbered a=0, z=1.
        let mut used = vec![false; coder.code_bound()];
        used[z as usize] = true;
        used[a as usize] = true;
        let (names, rank) = coder.finish(&used);
        assert_eq!(names.iter().collect::<Vec<_>>(), ["a", "z"]);
        assert_eq!(
            (rank[a as usize], rank[z as usize], rank[m as usize]),
            (0, 1, u32::MAX)
        );
        assert_eq!(names.position("z"), Some(1));
        assert_eq!(names.position("b"), None);
        let mut df = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), [Some(z), None, Some(a)]),
            Column::new("day".into(), [1i32, 2, 3]),
        ])
        .unwrap();
        recode_in(&mut df, "customer_id", &rank).unwrap();
        // (in place: the same position, nulls kept)
        assert_eq!(df.get_column_names(), ["customer_id", "day"]);
        assert_eq!(
            df.column("customer_id")
                .unwrap()
                .u32()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1), None, Some(0)]
        );
    }

    /// The keyed sort orders as comparing the names does: shared prefixes, names shorter
    /// and longer than the key, names that are prefixes of others, NUL bytes, ties of the
    /// key in long runs, multi-byte characters.
    #[test]
    fn sorted_codes_equal_sorting_by_name() {
        let mut state = 4242u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = ["a", "b", "\0", "z", "é", "0", "9"];
        for prefix in ["", "customer-", "C", "ab"] {
            let mut names: Vec<String> = (0..6000)
                .map(|_| {
                    let len = (next() % 14) as usize;
                    let tail: String = (0..len)
                        .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                        .collect();
                    format!("{prefix}{tail}")
                })
                .collect();
            // long runs of equal keys: a common 8 bytes after the shared prefix
            names.extend((0..5000).map(|i| format!("{prefix}12345678-{i}")));
            names.sort();
            names.dedup();
            // shuffled codes
            let mut codes: Vec<u32> = (0..names.len() as u32).collect();
            for i in (1..codes.len()).rev() {
                codes.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            let got = sorted_codes(codes, |c| names[c as usize].as_str());
            let want: Vec<u32> = (0..names.len() as u32).collect();
            assert_eq!(got, want, "prefix {prefix:?}");
        }
        assert!(sorted_codes(Vec::new(), |_| "").is_empty());
    }

    #[test]
    fn same_bytes_is_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "abcde",
            "bbcde",
            "abcdf",
            "C000001",
            "C000002",
            "D000001",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "abcdefghXjklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopr",
            "é",
            "日本語のid",
        ];
        for a in words {
            for b in words {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
                assert_eq!(fast_cmp(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn many_ids_keep_their_codes() {
        let mut coder = IdCoder::new();
        let codes: Vec<u32> = (0..10_000).map(|i| coder.code(&format!("c{i}"))).collect();
        let mut distinct = codes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10_000);
        assert!(codes.iter().all(|&c| (c as usize) < coder.code_bound()));
        for i in (0..10_000).rev() {
            assert_eq!(coder.code(&format!("c{i}")), codes[i]);
        }
        // A column codes as the ids one by one do, and renumbers in id order.
        let col = Column::new(
            "customer_id".into(),
            (0..10_000)
                .rev()
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>(),
        );
        let got: Vec<Option<u32>> = coder
            .code_column(&col)
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            got,
            codes.iter().rev().map(|&c| Some(c)).collect::<Vec<_>>()
        );
        assert_eq!(coder.len(), 10_000);
        let mut used = vec![false; coder.code_bound()];
        codes.iter().for_each(|&c| used[c as usize] = true);
        let (names, rank) = coder.finish(&used);
        let mut sorted: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        sorted.sort();
        assert_eq!(names.iter().collect::<Vec<_>>(), sorted);
        assert_eq!(names.get(rank[codes[42] as usize] as usize), "c42");
    }
}
