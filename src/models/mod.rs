//! Predictive customer-value models: BG/NBD, MBG/NBD and Pareto/NBD (purchase counts and
//! survival in continuous time), BG/BB (discrete transaction opportunities) and
//! Gamma-Gamma (spend per purchase), as in Fader, Hardie & Lee (2005), Batislam et al.
//! (2007), Schmittlein, Morrison & Colombo (1987), Fader, Hardie & Shang (2010) and
//! Python's `lifetimes` 0.11.3, whose conventions they follow (see `tests/reference/`);
//! standard errors and parameter draws in [`se`].
//!
//! Plain numerics: no data frames and no I/O. Times are in the caller's unit (day, week,
//! …); the fitted `alpha` is in that unit.

pub mod bgbb;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod pnbd;
pub mod purchase;
pub mod sbg;
pub mod se;
pub mod special;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use anyhow::{bail, Result};

/// One customer's (or one group of identical customers') BG/NBD summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rfm {
    /// x: number of repeat purchases (a non-negative integer, stored as f64).
    pub x: f64,
    /// t_x: time from the first to the last purchase (0 when x = 0).
    pub t_x: f64,
    /// T: time from the first purchase to the end of the calibration period.
    pub t: f64,
    /// How many customers share this (x, t_x, T); 1 for a single customer.
    pub weight: f64,
}

impl Rfm {
    /// A single customer (weight 1).
    pub fn new(x: f64, t_x: f64, t: f64) -> Self {
        Rfm {
            x,
            t_x,
            t,
            weight: 1.0,
        }
    }
}

/// murmur3's 64-bit finaliser: every input bit reaches every output bit.
#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A small multiplicative hasher for the (x, t_x, T) bit patterns (std's SipHash is
/// several times slower and needs no DoS resistance here).
#[derive(Default)]
pub(crate) struct TripleHasher(u64);

impl Hasher for TripleHasher {
    fn finish(&self) -> u64 {
        // the bucket index comes from the low bits, and f64 bit patterns of small numbers
        // carry their information in the high bits
        fmix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type TripleMap = HashMap<(u64, u64, u64), usize, BuildHasherDefault<TripleHasher>>;

/// Maps f64 values (by bit pattern, −0.0 as 0.0) to dense indexes in order of first
/// appearance. Whole numbers below [`ValueIndex::DIRECT`] (counts, ages in whole days,
/// weeks or opportunities: the usual values) are looked up in a plain array, the others
/// hashed; the indexes are the same either way.
#[derive(Default)]
pub(crate) struct ValueIndex {
    map: HashMap<u64, u32, BuildHasherDefault<TripleHasher>>,
    /// 1 + the index of each whole number below `DIRECT` seen so far (0: not seen)
    direct: Vec<u32>,
    pub values: Vec<f64>,
}

impl ValueIndex {
    /// Whole numbers below this are indexed directly (at most 256 KiB of table).
    const DIRECT: usize = 1 << 16;

    #[inline]
    pub fn index(&mut self, v: f64) -> u32 {
        let v = v + 0.0;
        // (v as usize) as f64 == v: whole (the cast truncates); NaN and negatives fail
        if (0.0..Self::DIRECT as f64).contains(&v) && (v as usize) as f64 == v {
            let i = v as usize;
            if i >= self.direct.len() {
                self.direct
                    .resize((i + 1).next_power_of_two().clamp(64, Self::DIRECT), 0);
            }
            let slot = &mut self.direct[i];
            if *slot == 0 {
                self.values.push(v);
                *slot = self.values.len() as u32;
            }
            return *slot - 1;
        }
        let values = &mut self.values;
        *self.map.entry(v.to_bits()).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    }
}

fn triple_key(d: &Rfm) -> (u64, u64, u64) {
    // +0.0 so that −0.0 and 0.0 fall in the same group
    (
        (d.x + 0.0).to_bits(),
        (d.t_x + 0.0).to_bits(),
        (d.t + 0.0).to_bits(),
    )
}

/// The distinct triples of `data` (weights summed, in order of first appearance) and,
/// for each row of `data`, the index of its triple. (As u32: half the memory of a million
/// customers' indexes; a frame, and so a summary, has fewer than 2^32 rows, and there are
/// no more triples than rows.)
pub fn group_with_index(data: &[Rfm]) -> (Vec<Rfm>, Vec<u32>) {
    if let Some(grouped) = group_few_in_parallel(data) {
        return grouped;
    }
    let mut which = Vec::with_capacity(data.len());
    let out = group_rows(data, |k| which.push(k as u32));
    (out, which)
}

/// Rows below which [`group_with_index`] stays sequential.
const PARALLEL_GROUP_ROWS: usize = 1 << 18;
/// Distinct histories (of whole-number triples) up to which [`group_with_index`] groups in
/// parallel chunks.
const FEW_HISTORIES: usize = 1 << 12;

/// [`group_with_index`] in parallel, when the rows are many and their histories few (a
/// discrete-time summary: a handful of opportunities, a few dozen histories), or None
/// (then the sequential grouping runs). The sequential table is bound by one dependent
/// weight update per row when the same few slots repeat; here each chunk groups into its
/// own small table and the chunks' groups are merged in chunk order, which gives the
/// groups of the sequential grouping in the same first-appearance order. The weights are
/// the same bits: whole-number weights (counts, 1 per customer) add exactly in any order;
/// any other weight makes them summed again row by row, in row order.
///
/// It answers None, having looked at a few thousand rows, when the first rows
/// already hold more than [`FEW_HISTORIES`] histories (the 1M-customer summary in days:
/// 177,585 histories; a parallel grouping of those was measured slower, see [`group`]),
/// and also when a value is not a whole number below 2^21 or a chunk finds more.
fn group_few_in_parallel(data: &[Rfm]) -> Option<(Vec<Rfm>, Vec<u32>)> {
    use rayon::prelude::*;
    if data.len() < PARALLEL_GROUP_ROWS || rayon::current_num_threads() < 2 {
        return None;
    }
    const CHUNK: usize = 1 << 16;
    // A quick look at the first rows: give up as soon as they hold too many histories.
    let mut probe = PackedTable::new();
    for d in &data[..CHUNK / 4] {
        probe.add(packed_key(d)?, 0.0, || 0);
        if probe.len > FEW_HISTORIES {
            return None;
        }
    }
    /// One chunk's groups: (key, first row) in order of first appearance and summed
    /// weights; whether every weight was a whole number (and the sum of their sizes).
    struct Chunk {
        firsts: Vec<(u64, usize)>,
        weights: Vec<f64>,
        whole: bool,
        abs_sum: u64,
    }
    let mut which = vec![0u32; data.len()];
    let chunks: Option<Vec<Chunk>> = data
        .par_chunks(CHUNK)
        .zip(which.par_chunks_mut(CHUNK))
        .enumerate()
        .map(|(c, (rows, which))| {
            let mut table = PackedTable::new();
            let mut firsts = Vec::new();
            let (mut whole, mut abs_sum) = (true, 0u64);
            for (i, (d, w)) in rows.iter().zip(which.iter_mut()).enumerate() {
                let key = packed_key(d)?;
                let k = table.add(key, d.weight, || {
                    firsts.push((key, c * CHUNK + i));
                    firsts.len() - 1
                });
                if table.len > FEW_HISTORIES {
                    return None;
                }
                // (by casts, not fract(): that is a libm call per row on baseline x86-64;
                // a weight beyond i64 saturates and counts as not whole)
                let wi = d.weight as i64;
                whole &= wi as f64 == d.weight;
                abs_sum = abs_sum.saturating_add(wi.unsigned_abs());
                *w = k as u32;
            }
            let mut weights = vec![0.0; firsts.len()];
            for (k, w) in table.groups() {
                weights[k] = w;
            }
            Some(Chunk {
                firsts,
                weights,
                whole,
                abs_sum,
            })
        })
        .collect();
    let chunks = chunks?;
    // merge in chunk order: each chunk's groups get their global index
    let mut global = PackedTable::new();
    let mut out: Vec<Rfm> = Vec::new();
    let maps: Vec<Vec<u32>> = chunks
        .iter()
        .map(|ch| {
            ch.firsts
                .iter()
                .zip(&ch.weights)
                .map(|(&(key, first), &w)| {
                    let g = global.add(key, 0.0, || {
                        out.push(Rfm {
                            weight: 0.0,
                            ..data[first]
                        });
                        out.len() - 1
                    });
                    out[g].weight += w;
                    g as u32
                })
                .collect()
        })
        .collect();
    which
        .par_chunks_mut(CHUNK)
        .zip(&maps)
        .for_each(|(which, map)| which.iter_mut().for_each(|k| *k = map[*k as usize]));
    // 2^53: every partial sum of whole numbers below it is exact
    let exact = chunks.iter().all(|c| c.whole)
        && chunks
            .iter()
            .try_fold(0u64, |a, c| a.checked_add(c.abs_sum))
            .is_some_and(|t| t < 1 << 53);
    if !exact {
        out.iter_mut().for_each(|g| g.weight = 0.0);
        for (d, &k) in data.iter().zip(&which) {
            out[k as usize].weight += d.weight;
        }
    }
    Some((out, which))
}

/// Group identical (x, t_x, T) triples, summing their weights. The likelihood is
/// unchanged; the work of each likelihood evaluation shrinks to the distinct triples.
/// The order of the output is the order of first appearance. (Sequential: a parallel
/// version over hash partitions was measured slower on 1M rows with 2 cores, and one
/// over chunks merged in order, 2026-12-03, saved 10 ms on the 1M summary but raised
/// the peak of `ltv --model bgnbd` on the 1M transactions by 40 MB: two chunks' tables
/// at once.)
pub fn group(data: &[Rfm]) -> Vec<Rfm> {
    group_rows(data, |_| {})
}

/// The packed key of a triple of whole numbers below 2^21 (counts and ages in whole days,
/// weeks or opportunities: the usual summary), or None.
#[inline]
fn packed_key(d: &Rfm) -> Option<u64> {
    const LIMIT: f64 = (1u64 << 21) as f64;
    // (v as u64) as f64 == v: whole (the cast truncates); NaN is outside the range; −0.0 is 0
    let small = |v: f64| ((0.0..LIMIT).contains(&v) && (v as u64) as f64 == v).then_some(v as u64);
    Some((small(d.x)? << 42) | (small(d.t_x)? << 21) | small(d.t)?)
}

/// An open-addressing table (linear probing) of packed keys → (group, weight so far).
/// The weight lives in the key's slot, so a row touches one cache line; rows look their
/// slot up a few rows ahead ([`PackedTable::prefetch`]), so the misses of a table bigger
/// than the cache overlap instead of following one another. (Measured on the 1M
/// summary's 177,585 distinct triples: hashbrown's table and a separate weight update were
/// two dependent cache misses per row, more than half the grouping's time.)
struct PackedTable {
    slots: Vec<PackedSlot>,
    len: usize,
}

#[derive(Clone, Copy)]
struct PackedSlot {
    key: u64,
    group: usize,
    weight: f64,
}

impl PackedTable {
    /// Never a packed key (those are below 2^63).
    const EMPTY: u64 = u64::MAX;

    fn new() -> Self {
        PackedTable {
            slots: vec![Self::empty(); 1024],
            len: 0,
        }
    }

    fn empty() -> PackedSlot {
        PackedSlot {
            key: Self::EMPTY,
            group: 0,
            weight: 0.0,
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (fmix64(key) as usize) & (self.slots.len() - 1)
    }

    /// Ask the processor for the cache line of `key`'s home slot.
    #[inline]
    fn prefetch(&self, key: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.slots[self.home(key)..].as_ptr();
            // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p.cast::<i8>(),
                )
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }

    /// Add `weight` to `key`'s group (made by `new_group` on the key's first row); its
    /// group index.
    #[inline]
    fn add(&mut self, key: u64, weight: f64, new_group: impl FnOnce() -> usize) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = &mut self.slots[i];
            if s.key == key {
                s.weight += weight;
                return s.group;
            }
            if s.key == Self::EMPTY {
                let group = new_group();
                *s = PackedSlot {
                    key,
                    group,
                    weight: 0.0 + weight,
                };
                self.len += 1;
                // at most 70% full: short probes
                if self.len * 10 > self.slots.len() * 7 {
                    self.grow();
                }
                return group;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bigger = vec![Self::empty(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.key != Self::EMPTY) {
            let mut i = self.home(s.key);
            while self.slots[i].key != Self::EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// (group, summed weight) of every key.
    fn groups(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.key != Self::EMPTY)
            .map(|s| (s.group, s.weight))
    }
}

/// Group the rows of `data` in order; `on_row(k)` is told that the next row is in group k.
fn group_rows(data: &[Rfm], mut on_row: impl FnMut(usize)) -> Vec<Rfm> {
    // Whole numbers below 2^21 are packed as they are, into one key with one lookup. Other
    // values: each of x, t_x and T usually takes few distinct values: give each value a
    // small id (small tables that stay in cache), then group on the packed ids, which
    // keeps the big table small. Fall back on the full bit patterns when the ids do not
    // fit in 21 bits.
    let (mut xi, mut txi, mut ti) = (
        ValueIndex::default(),
        ValueIndex::default(),
        ValueIndex::default(),
    );
    let mut packed: HashMap<u64, usize, BuildHasherDefault<TripleHasher>> = HashMap::default();
    let mut direct = PackedTable::new();
    let mut wide = TripleMap::default();
    let mut out: Vec<Rfm> = Vec::new();
    const LIMIT: u32 = 1 << 21;
    // the keys of the next AHEAD rows, their slots prefetched
    const AHEAD: usize = 16;
    let mut ring = [None; AHEAD];
    for (i, slot) in ring.iter_mut().enumerate() {
        if let Some(d) = data.get(i) {
            *slot = packed_key(d);
        }
    }
    for (i, d) in data.iter().enumerate() {
        let key = ring[i % AHEAD];
        let next = data.get(i + AHEAD).and_then(packed_key);
        if let Some(k) = next {
            direct.prefetch(k);
        }
        ring[i % AHEAD] = next;
        let mut push = || {
            out.push(Rfm { weight: 0.0, ..*d });
            out.len() - 1
        };
        if let Some(key) = key {
            let k = direct.add(key, d.weight, push);
            on_row(k);
            continue;
        }
        let (a, b, c) = (xi.index(d.x), txi.index(d.t_x), ti.index(d.t));
        let k = if a < LIMIT && b < LIMIT && c < LIMIT {
            let key = (u64::from(a) << 42) | (u64::from(b) << 21) | u64::from(c);
            *packed.entry(key).or_insert_with(&mut push)
        } else {
            *wide.entry(triple_key(d)).or_insert_with(&mut push)
        };
        out[k].weight += d.weight;
        on_row(k);
    }
    // the packed groups' weights, summed in row order in their slots as above
    for (k, w) in direct.groups() {
        out[k].weight = w;
    }
    out
}

/// Σ over `rows` of `part(chunk)` for chunks of `chunk` rows, the chunks in parallel and
/// their results added (`add(left, right)`) in a fixed tree: halves split at half the
/// chunks, as rayon splits them, down to single chunks. Unlike rayon's `reduce`, whose
/// tree follows the work stealing, the sum is the same on every run (and, up to 8 chunks,
/// what `reduce` gives on two threads).
pub(crate) fn par_chunk_sum<T, A>(
    rows: &[T],
    chunk: usize,
    part: &(impl Fn(&[T]) -> A + Sync),
    add: &(impl Fn(A, A) -> A + Sync),
) -> A
where
    T: Sync,
    A: Send,
{
    let chunks = rows.len().div_ceil(chunk.max(1));
    if chunks <= 1 {
        return part(rows);
    }
    let (left, right) = rows.split_at(chunks / 2 * chunk);
    let (a, b) = rayon::join(
        || par_chunk_sum(left, chunk, part, add),
        || par_chunk_sum(right, chunk, part, add),
    );
    add(a, b)
}

/// Above this many distinct rows, a fit first runs on a systematic sample of a quarter
/// of this size and starts the full fit from that optimum.
pub(crate) const WARM_START_ROWS: usize = 20_000;

/// The warm-start sample of the continuous-time fits (BG/NBD, MBG/NBD, Pareto/NBD) when there
/// are more than [`WARM_START_ROWS`] distinct triples: every x = 0 triple, and every k-th
/// of the others with its weight times k (so that the sample's totals estimate the full
/// ones without bias). None when the input is small enough to fit directly.
pub(crate) fn warm_start_sample(grouped: &[Rfm]) -> Option<Vec<Rfm>> {
    if grouped.len() <= WARM_START_ROWS {
        return None;
    }
    let step = (grouped.len() / (WARM_START_ROWS / 4)).max(1);
    let sub: Vec<Rfm> = grouped
        .iter()
        .filter(|d| d.x == 0.0)
        .copied()
        .chain(
            grouped
                .iter()
                .filter(|d| d.x > 0.0)
                .step_by(step)
                .map(|d| Rfm {
                    weight: d.weight * step as f64,
                    ..*d
                }),
        )
        .collect();
    sub.iter().any(|d| d.x > 0.0).then_some(sub)
}

/// The rows a count model is fitted on: as given (grouped by the fit), or known to be
/// distinct triples already (the groups of [`group`] or [`group_with_index`]), which the
/// fit and the standard errors take as they are. (Grouping the groups again gives them
/// back unchanged, at the cost of a fresh hash table: on the 1M benchmark summary's
/// 177,585 distinct triples, two regroupings were about a tenth of `ltv --summary`'s page
/// faults.)
#[derive(Clone, Copy, Debug)]
pub enum Rows<'a> {
    Any(&'a [Rfm]),
    Distinct(&'a [Rfm]),
}

impl<'a> Rows<'a> {
    /// The rows themselves.
    pub fn rows(self) -> &'a [Rfm] {
        match self {
            Rows::Any(r) | Rows::Distinct(r) => r,
        }
    }

    /// The distinct triples (weights summed, in order of first appearance).
    pub(crate) fn grouped(self) -> std::borrow::Cow<'a, [Rfm]> {
        match self {
            Rows::Any(r) => std::borrow::Cow::Owned(group(r)),
            Rows::Distinct(r) => std::borrow::Cow::Borrowed(r),
        }
    }
}

/// Validate and group the rows of a continuous-time count model (BG/NBD conventions, see
/// [`bgnbd::check_row`]); returns the groups with positive weight, their total weight and
/// max T. `name` prefixes the errors.
pub(crate) fn prepare_counts(name: &str, rows: Rows) -> Result<(Vec<Rfm>, f64, f64)> {
    prepare_counts_with(name, rows, |i, d| {
        bgnbd::check_row(i, d).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    })
}

/// [`prepare_counts`] with each row checked by `check` (BG/NBD's own row errors carry no
/// prefix).
pub(crate) fn prepare_counts_with(
    name: &str,
    rows: Rows,
    check: impl Fn(usize, &Rfm) -> Result<()>,
) -> Result<(Vec<Rfm>, f64, f64)> {
    let data = rows.rows();
    if data.is_empty() {
        bail!("{name}: no customers to fit");
    }
    for (i, d) in data.iter().enumerate() {
        check(i, d)?;
    }
    let grouped: Vec<Rfm> = rows
        .grouped()
        .iter()
        .filter(|d| d.weight > 0.0)
        .copied()
        .collect();
    let total_w: f64 = grouped.iter().map(|d| d.weight).sum();
    if grouped.is_empty() || total_w <= 0.0 || !total_w.is_finite() {
        bail!("{name}: the customers' weights sum to {total_w}");
    }
    if !grouped.iter().any(|d| d.x > 0.0) {
        bail!("{name}: nobody made a repeat purchase (x = 0 for every customer), so the model cannot be identified");
    }
    let max_t = grouped.iter().map(|d| d.t).fold(0.0, f64::max);
    if max_t <= 0.0 {
        bail!("{name}: every customer has age T = 0");
    }
    Ok((grouped, total_w, max_t))
}

/// Error if a fitted log parameter ran off (|ln θ| > ln 1e5): the data do not identify
/// the model.
pub(crate) fn check_identified(model: &str, names: &[&str], log_params: &[f64]) -> Result<()> {
    for (name, &v) in names.iter().zip(log_params) {
        if v.abs() > 1e5f64.ln() {
            bail!(
                "{model}: the data do not identify the model: {name} runs off to {:.3e}; a penalizer coefficient (e.g. 0.001) may help",
                v.exp()
            );
        }
    }
    Ok(())
}

/// ln(1 + e^v) without overflow (the reference of [`softplus_sigmoid`]).
#[cfg(test)]
pub(crate) fn softplus(v: f64) -> f64 {
    if v > 0.0 {
        v + (-v).exp().ln_1p()
    } else {
        v.exp().ln_1p()
    }
}

/// ([`softplus`]`(v)`, [`sigmoid`]`(v)`) with one exponential, bit for bit the two
/// functions' values. Without a branch on the sign of v (selects instead): in a
/// likelihood's row loop that sign follows the data, and its mispredictions cost a
/// fifth of the loop (measured on random signs: 17 → 11–15 ns a call).
#[inline]
pub(crate) fn softplus_sigmoid(v: f64) -> (f64, f64) {
    let e = (-v.abs()).exp();
    // v > 0: v + ln(1 + e^−v) and 1 / (1 + e^−v); else ln(1 + e^v) and e^v / (1 + e^v)
    // (max(v, 0) is 0 for NaN, and then ln_1p(NaN) makes it NaN as before)
    let num = if v > 0.0 { 1.0 } else { e };
    (v.max(0.0) + e.ln_1p(), num / (1.0 + e))
}

/// 1 / (1 + e^(−v)) without overflow.
pub(crate) fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// Per-customer outputs of a purchase-count model (MBG/NBD, Pareto/NBD scoring).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountScore {
    pub p_alive: f64,
    /// Conditional expected number of purchases in the next `horizon` time units.
    pub expected_purchases: f64,
}

/// For each customer, the index of its distinct (x, t) pair with `t = time(customer)`,
/// and the pairs in order of first appearance.
pub(crate) fn pair_index(
    customers: &[Rfm],
    time: impl Fn(&Rfm) -> f64,
) -> (Vec<(f64, f64)>, Vec<usize>) {
    let mut index: HashMap<(u64, u64), usize, BuildHasherDefault<TripleHasher>> =
        HashMap::default();
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    let which = customers
        .iter()
        .map(|c| {
            let t = time(c);
            *index
                .entry(((c.x + 0.0).to_bits(), (t + 0.0).to_bits()))
                .or_insert_with(|| {
                    pairs.push((c.x, t));
                    pairs.len() - 1
                })
        })
        .collect();
    (pairs, which)
}

/// Options of the maximum-likelihood fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// L2 penalty coefficient on the parameters, as lifetimes' `penalizer_coef`
    /// (BG/NBD: on (r, α/max T, a, b), since lifetimes fits on time scaled to max T = 1).
    pub penalizer: f64,
    /// Maximum number of optimiser iterations.
    pub max_iters: u64,
    /// Convergence: the gradient norm of the objective (mean negative log-likelihood
    /// per customer, on log parameters) must fall below this.
    pub grad_tol: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer: 0.0,
            max_iters: 1000,
            grad_tol: 1e-6,
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<()> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            bail!(
                "the penalizer coefficient must be finite and >= 0, got {}",
                self.penalizer
            );
        }
        if !(self.grad_tol.is_finite() && self.grad_tol > 0.0) {
            bail!(
                "the gradient tolerance must be finite and > 0, got {}",
                self.grad_tol
            );
        }
        if self.max_iters == 0 {
            bail!("max_iters must be at least 1");
        }
        Ok(())
    }
}

/// The outcome of the optimiser on log parameters.
pub(crate) struct Optimum {
    pub log_params: Vec<f64>,
    pub objective: f64,
    pub grad_norm: f64,
    pub iterations: u64,
}

/// Minimise a model's `objective` (value and gradient over log parameters, the penalty
/// included) on its rows prepared for fitting (`full`), from 0.1 in each of its `k` log
/// parameters, warm-started on the prepared `sample` when there is one (big inputs: a
/// systematic sample of a few thousand rows, see [`warm_start_sample`]): [`minimise`] on
/// the sample first; if its optimum is `usable` (no parameter running off),
/// [`newton_polish`] on all the rows with the sample's Hessian (8 gradients of the
/// sample), and [`minimise`] on all the rows from the warm start when the polish does not
/// converge. `iterations` counts both stages.
pub(crate) fn fit_warm<P>(
    k: usize,
    full: &P,
    sample: Option<&P>,
    objective: impl Fn(&P, &[f64]) -> (f64, Vec<f64>),
    opts: &FitOptions,
    usable: impl Fn(&[f64]) -> bool,
) -> Result<Optimum> {
    let on_full = |th: &[f64]| objective(full, th);
    let mut start = vec![0.1; k];
    let mut warm_iters = 0;
    if let Some(sample) = sample {
        let on_sample = |th: &[f64]| objective(sample, th);
        if let Ok(o) = minimise(on_sample, start.clone(), opts) {
            if usable(&o.log_params) {
                start = o.log_params;
                warm_iters = o.iterations;
                let grad = |th: &[f64]| on_sample(th).1;
                let polished = se::hessian_from_gradient(&grad, &start)
                    .ok()
                    .and_then(|h| newton_polish(on_full, &start, &h));
                if let Some(mut o) = polished {
                    o.iterations += warm_iters;
                    return Ok(o);
                }
            }
        }
    }
    let mut o = minimise(on_full, start, opts)?;
    o.iterations += warm_iters;
    Ok(o)
}

/// |ln θ| < ln 1e5 for every log parameter: none ran off to 0 or ∞.
pub(crate) fn all_bounded(log_params: &[f64]) -> bool {
    log_params.iter().all(|v| v.abs() < 1e5f64.ln())
}

/// Newton steps on the full data from a warm start fitted on a sample, starting from the
/// sample objective's Hessian `hessian` (at the warm start): the sample is a reweighted
/// systematic one (see [`warm_start_sample`]), so its mean objective's curvature is the
/// full one's up to sampling error. After each step the curvature is corrected by the
/// BFGS update from the full data's change of gradient (the sampling error is largest
/// along a weakly identified parameter, such as Pareto/NBD's β, where plain Newton steps
/// with the sample's Hessian shrink the gradient slowly). Measured on the 1M summary:
/// MBG/NBD reaches a gradient norm below 1e-7 in three to four steps from the warm start,
/// against some 15 L-BFGS iterations with their line-search evaluations. Steps are halved
/// (up to 8 times) until the objective decreases by 1e-4 of the predicted amount
/// (Armijo). None when the Hessian is not positive definite, a value is not finite, a
/// step finds no decrease, or 12 steps do not reach the gradient norm of 1e-7:
/// [`fit_warm`] then runs [`minimise`] from the warm start.
pub(crate) fn newton_polish(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: &[f64],
    hessian: &[Vec<f64>],
) -> Option<Optimum> {
    let k = start.len();
    if hessian.len() != k {
        return None;
    }
    let mut b = hessian.to_vec();
    let mut l = se::cholesky(&b).ok()?;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let norm = |g: &[f64]| dot(g, g).sqrt();
    let mut x = start.to_vec();
    let (mut v, mut g) = f(&x);
    for step in 0..12u64 {
        if !(v.is_finite() && g.iter().all(|d| d.is_finite())) {
            return None;
        }
        if norm(&g) < 1e-7 {
            return Some(Optimum {
                log_params: x,
                objective: v,
                grad_norm: norm(&g),
                iterations: step,
            });
        }
        // d = −B⁻¹ g
        let minus_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let d = se::solve_cholesky(&l, &minus_g);
        let slope = dot(&d, &g);
        // (not a descent direction, or NaN: the sample's curvature does not fit here)
        if slope.is_nan() || slope >= 0.0 {
            return None;
        }
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..8 {
            let trial: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let (tv, tg) = f(&trial);
            if tv.is_finite() && tv <= v + 1e-4 * t * slope {
                accepted = Some((trial, tv, tg));
                break;
            }
            t *= 0.5;
        }
        let (nx, nv, ng) = accepted?;
        // BFGS: B ← B − (B s)(B s)ᵀ / sᵀB s + y yᵀ / yᵀ s, kept only while it stays
        // positive definite (yᵀ s > 0, and its Cholesky factor exists)
        let s_: Vec<f64> = nx.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y_: Vec<f64> = ng.iter().zip(&g).map(|(a, b)| a - b).collect();
        let bs: Vec<f64> = b.iter().map(|row| dot(row, &s_)).collect();
        let (sbs, ys) = (dot(&s_, &bs), dot(&y_, &s_));
        if sbs > 0.0 && ys > 1e-12 * norm(&y_) * norm(&s_) {
            let nb: Vec<Vec<f64>> = (0..k)
                .map(|i| {
                    (0..k)
                        .map(|j| b[i][j] - bs[i] * bs[j] / sbs + y_[i] * y_[j] / ys)
                        .collect()
                })
                .collect();
            if let Ok(nl) = se::cholesky(&nb) {
                (b, l) = (nb, nl);
            }
        }
        (x, v, g) = (nx, nv, ng);
    }
    None
}

/// Minimise `f` (which returns value and gradient) over log parameters with L-BFGS and a
/// More–Thuente line search (argmin), starting at `start`. Restarts (up to three times)
/// from the best point if L-BFGS stops before the gradient norm is below
/// `opts.grad_tol` (its memory can go stale near the optimum).
pub(crate) fn minimise<F>(f: F, start: Vec<f64>, opts: &FitOptions) -> Result<Optimum>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let f = std::sync::Arc::new(f);
    let cache: std::sync::Arc<std::sync::Mutex<Option<optim::Eval>>> =
        std::sync::Arc::new(std::sync::Mutex::new(None));
    // value and gradient at x, from the optimiser's last evaluation when it was there
    let eval_at = |x: &[f64]| -> (f64, Vec<f64>) {
        if let Ok(guard) = cache.lock() {
            if let Some((q, v, g)) = guard.as_ref() {
                if q.as_slice() == x {
                    return (*v, g.clone());
                }
            }
        }
        f(x)
    };
    let mut x = start;
    let mut iterations = 0;
    let mut last_err = None;
    for _attempt in 0..4 {
        let problem = optim::Problem::new(f.clone(), cache.clone());
        match optim::run_lbfgs(
            problem,
            x.clone(),
            opts.max_iters.saturating_sub(iterations),
        ) {
            Ok((p, iters)) => {
                iterations += iters;
                if p.iter().all(|v| v.is_finite()) {
                    x = p;
                }
            }
            Err(e) => last_err = Some(e),
        }
        let (v, g) = eval_at(&x);
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if v.is_finite()
            && norm.is_finite()
            && g.iter().all(|d| d.is_finite())
            && norm < opts.grad_tol
        {
            return Ok(Optimum {
                log_params: x,
                objective: v,
                grad_norm: norm,
                iterations,
            });
        }
        if iterations >= opts.max_iters {
            break;
        }
    }
    let (v, g) = eval_at(&x);
    let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let why = match last_err {
        Some(e) => format!(" (optimiser: {e})"),
        None => String::new(),
    };
    // (a generic reason: the optimiser cannot tell why the optimum is not reached)
    let hint = if opts.penalizer > 0.0 {
        "the data may not identify the model: too few customers, or no sign of customers \
         dropping out; a larger penalizer coefficient may help"
    } else {
        "the data may not identify the model: too few customers, or no sign of customers \
         dropping out; a penalizer coefficient (e.g. 0.001) may help"
    };
    bail!(
        "the fit did not converge after {iterations} iterations: gradient norm {norm:.3e} > {:.1e} at objective {v}{why} ({hint})",
        opts.grad_tol
    )
}

mod optim {
    use std::sync::{Arc, Mutex};

    use argmin::core::{CostFunction, Executor, Gradient, State};
    use argmin::solver::linesearch::MoreThuenteLineSearch;
    use argmin::solver::quasinewton::LBFGS;

    pub type Eval = (Vec<f64>, f64, Vec<f64>);

    /// Wraps a value-and-gradient function, caching the last evaluation so that the line
    /// search's separate cost and gradient calls at one point cost one pass over the data.
    pub struct Problem<F> {
        f: Arc<F>,
        cache: Arc<Mutex<Option<Eval>>>,
    }

    impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Problem<F> {
        pub fn new(f: Arc<F>, cache: Arc<Mutex<Option<Eval>>>) -> Self {
            Problem { f, cache }
        }

        /// Value and gradient at p; the cache keeps them as computed (non-finite
        /// included), the optimiser sees a non-finite value (parameters running off) as
        /// a wall: f64::MAX with a zero gradient.
        fn eval(&self, p: &[f64]) -> (f64, Vec<f64>) {
            let mut hit = None;
            if let Ok(guard) = self.cache.lock() {
                if let Some((q, v, g)) = guard.as_ref() {
                    if q.as_slice() == p {
                        hit = Some((*v, g.clone()));
                    }
                }
            }
            let (v, g) = match hit {
                Some(vg) => vg,
                None => {
                    let (v, g) = (self.f)(p);
                    if let Ok(mut guard) = self.cache.lock() {
                        *guard = Some((p.to_vec(), v, g.clone()));
                    }
                    (v, g)
                }
            };
            if v.is_finite() && g.iter().all(|x| x.is_finite()) {
                (v, g)
            } else {
                (f64::MAX, vec![0.0; p.len()])
            }
        }
    }

    impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Problem<F> {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
            Ok(self.eval(p).0)
        }
    }

    impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Problem<F> {
        type Param = Vec<f64>;
        type Gradient = Vec<f64>;
        fn gradient(&self, p: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
            Ok(self.eval(p).1)
        }
    }

    pub fn run_lbfgs<F: Fn(&[f64]) -> (f64, Vec<f64>)>(
        problem: Problem<F>,
        start: Vec<f64>,
        max_iters: u64,
    ) -> anyhow::Result<(Vec<f64>, u64)> {
        let ls = MoreThuenteLineSearch::new();
        // stop at a gradient norm of 1e-7 or a cost change below 1e-13: the objective is a
        // mean log-likelihood per customer, of order 1, whose value carries rounding noise
        // of ~1e-15 and whose gradient ~1e-8 (sums over many customers); beyond that the
        // line search only chases rounding
        let solver = LBFGS::new(ls, 10)
            .with_tolerance_grad(1e-7)?
            .with_tolerance_cost(1e-13)?;
        let res = Executor::new(problem, solver)
            .configure(|s| s.param(start).max_iters(max_iters.max(1)))
            .run()?;
        let state = res.state();
        let iters = state.get_iter();
        match state.get_best_param() {
            Some(p) => Ok((p.clone(), iters)),
            None => anyhow::bail!("L-BFGS returned no parameters"),
        }
    }
}

/// Customer lifetime value as lifetimes' `GammaGammaFitter.customer_lifetime_value`:
/// Σ_{i=1..months} (E[Y(step·i)] − E[Y(step·(i−1))]) · margin · E[M | x, m] / (1+d)^i,
/// with E[Y(t)] the BG/NBD conditional expected purchases and E[M | x, m] the
/// Gamma-Gamma expected average value (the population mean when x = 0).
pub fn customer_lifetime_value(
    bg: &bgnbd::BgNbdParams,
    gg: &gamma_gamma::GammaGammaParams,
    customer: Rfm,
    monetary: f64,
    opts: &ClvOptions,
) -> f64 {
    let em = gg.conditional_expected_average_profit(customer.x, monetary);
    opts.margin * em * discounted_purchases(bg, customer, opts)
}

/// Σ_{i=1..months} (E[Y(step·i)] − E[Y(step·(i−1))]) / (1+d)^i: the CLV of a customer
/// per unit of (margin × expected value per purchase); depends on (x, t_x, T) only.
pub fn discounted_purchases(bg: &bgnbd::BgNbdParams, customer: Rfm, opts: &ClvOptions) -> f64 {
    bg.p_alive(customer.x, customer.t_x, customer.t)
        * discounted_purchases_if_alive(bg, customer.x, customer.t, opts)
}

/// `discounted_purchases` of a customer alive at T (it depends on (x, T) only).
pub fn discounted_purchases_if_alive(
    bg: &bgnbd::BgNbdParams,
    x: f64,
    big_t: f64,
    opts: &ClvOptions,
) -> f64 {
    let bgnbd::BgNbdParams { r, alpha, a, b } = *bg;
    let c = a + b + x - 1.0;
    discounted_2f1_steps(opts, r + x, b + x, c, c / (a - 1.0), alpha + big_t, |t| {
        bg.expected_purchases_if_alive(t, x, big_t)
    })
}

/// The CLV's discounted expected purchases of a customer alive at T, for the models whose
/// expected purchases in (0, t] are `k` · [1 − 2F1(rx, b1; c1; z) · (αT/(αT+t))^rx] with
/// z = t/(αT+t) and αT = α + T (BG/NBD, MBG/NBD): over `opts.months` steps of `opts.step`,
/// step i's purchases discounted by (1 + rate)^i. The 2F1 of every step come from one
/// series when it converges there ([`special::hyp2f1_many`]: twelve values for little
/// more than the price of one), else from `one(t)` (the model's own expected purchases)
/// per step.
pub(crate) fn discounted_2f1_steps(
    opts: &ClvOptions,
    rx: f64,
    b1: f64,
    c1: f64,
    k: f64,
    alpha_t: f64,
    one: impl Fn(f64) -> f64,
) -> f64 {
    let months = opts.months as usize;
    let mut total = 0.0;
    let mut prev = 0.0;
    let mut discount = 1.0;
    let ts: Vec<f64> = (1..=months).map(|i| opts.step * i as f64).collect();
    let zs: Vec<f64> = ts.iter().map(|t| t / (alpha_t + t)).collect();
    let mut hyp = vec![0.0; months];
    let shared = months > 1 && special::hyp2f1_many(rx, b1, c1, &zs, &mut hyp);
    let ln_at = alpha_t.ln();
    for (i, &t) in ts.iter().enumerate() {
        let cur = if shared {
            // 1 − 2F1 · (αT/(αT+t))^rx, accurately when the product is close to 1 (2F1 > 0)
            let ln_term = hyp[i].ln() + rx * (ln_at - (alpha_t + t).ln());
            k * -ln_term.exp_m1()
        } else {
            one(t)
        };
        discount /= 1.0 + opts.discount_rate;
        total += (cur - prev) * discount;
        prev = cur;
    }
    total
}

/// How the CLV sum is taken: `months` steps of `step` time units each (30 for daily
/// data, 30/7 for weekly data in this project's convention; lifetimes' `freq='W'` uses
/// 4.345), each discounted by (1 + discount_rate)^i, revenue multiplied by `margin`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvOptions {
    pub months: u32,
    pub discount_rate: f64,
    pub step: f64,
    pub margin: f64,
}

impl Default for ClvOptions {
    fn default() -> Self {
        ClvOptions {
            months: 12,
            discount_rate: 0.01,
            step: 30.0,
            margin: 1.0,
        }
    }
}

/// Per-customer outputs of the two models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerScore {
    pub p_alive: f64,
    /// Conditional expected number of purchases in the next `horizon` units.
    pub expected_purchases: f64,
    /// Gamma-Gamma E[M | x, m] (the population mean when x = 0); NaN without a
    /// Gamma-Gamma model.
    pub expected_average_value: f64,
    /// CLV (see `customer_lifetime_value`); NaN without a Gamma-Gamma model.
    pub clv: f64,
}

/// Score many customers with BG/NBD and Gamma-Gamma, in parallel (rayon), through their
/// distinct histories ([`bgnbd_histories`]). `monetary[i]` is m of `customers[i]` (ignored
/// without a Gamma-Gamma model, and may be empty then; ignored for x = 0).
pub fn score_customers(
    bg: &bgnbd::BgNbdParams,
    gg: Option<&gamma_gamma::GammaGammaParams>,
    customers: &[Rfm],
    monetary: &[f64],
    horizon: f64,
    clv: &ClvOptions,
) -> Result<Vec<CustomerScore>> {
    let (distinct, which) = group_with_index(customers);
    let per = bgnbd_histories(bg, &distinct, gg.is_some(), horizon, clv);
    purchase::spread_scores(
        purchase::Kind::BgNbd,
        &per,
        gg,
        customers,
        &which,
        monetary,
        clv,
    )
}

/// BG/NBD per distinct history: p_alive, expected purchases over `horizon`, and with
/// `discount` the discounted expected purchases of a customer alive at T, the CLV per unit
/// of margin × expected value × p_alive (else NaN). The horizon and CLV expectations of a
/// customer alive at T depend on (x, T) only: computed once per pair (the 2F1 series are
/// the costly part), in parallel.
pub(crate) fn bgnbd_histories(
    bg: &bgnbd::BgNbdParams,
    distinct: &[Rfm],
    discount: bool,
    horizon: f64,
    clv: &ClvOptions,
) -> Vec<purchase::HistoryScore> {
    use rayon::prelude::*;
    let (pairs, pair_of) = pair_index(distinct, |c| c.t);
    let per_pair: Vec<(f64, f64)> = pairs
        .par_iter()
        .with_min_len(64)
        .map(|&(x, t)| {
            let h = bg.expected_purchases_if_alive(horizon, x, t);
            let d = if discount {
                discounted_purchases_if_alive(bg, x, t, clv)
            } else {
                f64::NAN
            };
            (h, d)
        })
        .collect();
    distinct
        .par_iter()
        .zip(pair_of.par_iter())
        .with_min_len(1024)
        .map(|(c, &k)| {
            let (h, d) = per_pair[k];
            let p_alive = bg.p_alive(c.x, c.t_x, c.t);
            purchase::HistoryScore {
                p_alive,
                expected_purchases: h * p_alive,
                discounted: d,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sums_weights_and_indexes_rows() {
        let data = [
            Rfm::new(1.0, 2.0, 3.0),
            Rfm::new(0.0, 0.0, 3.0),
            Rfm {
                weight: 2.0,
                ..Rfm::new(1.0, 2.0, 3.0)
            },
            Rfm::new(0.0, -0.0, 3.0),
        ];
        let (g, which) = group_with_index(&data);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].weight, 3.0);
        assert_eq!(g[1].weight, 2.0);
        assert_eq!(which, vec![0, 1, 0, 1]);
        assert_eq!(group(&data), g);
    }

    /// Whole, fractional, large and signed-zero values, on every path of the grouping
    /// (packed whole numbers, value indexes, full bit patterns), group as their bit
    /// patterns do (−0.0 as 0.0), in order of first appearance.
    #[test]
    fn group_equals_grouping_by_bit_patterns() {
        let big = f64::from(1u32 << 21);
        let vals = [0.0, -0.0, 1.0, 2.5, 7.0, big - 1.0, big, big + 3.0, 1e300];
        let mut state = 12345u64;
        let data: Vec<Rfm> = (0..4000)
            .map(|_| {
                let mut pick = || vals[(se::splitmix64(&mut state) % vals.len() as u64) as usize];
                let (x, t_x, t) = (pick(), pick(), pick());
                let weight = 1.0 + (se::splitmix64(&mut state) % 3) as f64;
                Rfm {
                    weight,
                    ..Rfm::new(x, t_x, t)
                }
            })
            .collect();
        let (g, which) = group_with_index(&data);
        let key = |d: &Rfm| triple_key(d);
        let mut want: Vec<Rfm> = Vec::new();
        let mut want_which = Vec::new();
        for d in &data {
            let k = match want.iter().position(|w| key(w) == key(d)) {
                Some(k) => k,
                None => {
                    want.push(Rfm { weight: 0.0, ..*d });
                    want.len() - 1
                }
            };
            want[k].weight += d.weight;
            want_which.push(k as u32);
        }
        assert_eq!(which, want_which);
        assert_eq!(g.len(), want.len());
        for (a, b) in g.iter().zip(&want) {
            assert_eq!(key(a), key(b));
            assert_eq!(a.weight, b.weight);
        }
    }

    /// Many distinct whole-number triples (the packed table grows several times), with
    /// repeats and weights: the same groups, order and weights as a plain map.
    #[test]
    fn packed_grouping_grows_and_equals_a_map() {
        let mut state = 777u64;
        let data: Vec<Rfm> = (0..60_000)
            .map(|_| {
                let mut pick = |n: u64| (se::splitmix64(&mut state) % n) as f64;
                let (x, t_x, t) = (pick(40), pick(300), pick(300));
                Rfm {
                    weight: 0.5 + pick(4),
                    ..Rfm::new(x, t_x, t)
                }
            })
            .collect();
        let (g, which) = group_with_index(&data);
        let mut seen: HashMap<(u64, u64, u64), usize> = HashMap::new();
        let mut want: Vec<Rfm> = Vec::new();
        for (d, &k) in data.iter().zip(&which) {
            let j = *seen.entry(triple_key(d)).or_insert_with(|| {
                want.push(Rfm { weight: 0.0, ..*d });
                want.len() - 1
            });
            want[j].weight += d.weight;
            assert_eq!(k as usize, j);
        }
        assert!(want.len() > 20_000, "{} groups", want.len());
        assert_eq!(g, want);
    }

    /// Σ (e^θ_i − c_i θ_i): minimum at θ_i = ln c_i, Hessian diag(c_i) there.
    fn convex(c: &[f64]) -> impl Fn(&[f64]) -> (f64, Vec<f64>) + '_ {
        move |th: &[f64]| {
            let v = th.iter().zip(c).map(|(t, c)| t.exp() - c * t).sum();
            let g = th.iter().zip(c).map(|(t, c)| t.exp() - c).collect();
            (v, g)
        }
    }

    #[test]
    fn newton_polish_converges_from_a_wrong_curvature() {
        let c = [2.0, 0.5, 30.0];
        let f = convex(&c);
        let start = [0.5, -0.5, 3.0];
        // the true curvature at the start is diag(e^θ); give it 2× too flat on one axis
        // and 1.5× too steep on another (a sample's Hessian is only near the full one's)
        let h = vec![
            vec![0.5f64.exp() / 2.0, 0.0, 0.0],
            vec![0.0, (-0.5f64).exp() * 1.5, 0.0],
            vec![0.0, 0.0, 3.0f64.exp()],
        ];
        let o = newton_polish(&f, &start, &h).expect("converges");
        for (t, c) in o.log_params.iter().zip(&c) {
            assert!((t - c.ln()).abs() < 1e-7, "{t} vs {}", c.ln());
        }
        assert!(o.grad_norm < 1e-7);
        assert!(o.iterations > 0 && o.iterations <= 12);
        // at the optimum already: no step
        let at: Vec<f64> = c.iter().map(|c| c.ln()).collect();
        assert_eq!(newton_polish(&f, &at, &h).map(|o| o.iterations), Some(0));
    }

    #[test]
    fn newton_polish_refuses_what_it_cannot_use() {
        let c = [2.0, 0.5];
        let f = convex(&c);
        // not positive definite: no Cholesky factor
        let bad = vec![vec![1.0, 0.0], vec![0.0, -1.0]];
        assert!(newton_polish(&f, &[0.0, 0.0], &bad).is_none());
        // the wrong size
        assert!(newton_polish(&f, &[0.0, 0.0], &[vec![1.0]]).is_none());
        // a value that is not finite
        let nan = |_: &[f64]| (f64::NAN, vec![0.0, 0.0]);
        let id = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert!(newton_polish(nan, &[0.0, 0.0], &id).is_none());
    }

    /// The parallel grouping of many rows with few histories: the sequential grouping's
    /// groups, order, indexes and weight bits, for whole weights (summed chunk by chunk)
    /// and fractional ones (summed again in row order); None where it must not apply.
    #[test]
    fn few_histories_group_in_parallel_as_in_sequence() {
        let n = PARALLEL_GROUP_ROWS + 12_345;
        for (seed, fractional) in [(1u64, false), (2, true)] {
            let mut state = seed;
            let data: Vec<Rfm> = (0..n)
                .map(|_| {
                    let mut pick = |n: u64| (se::splitmix64(&mut state) % n) as f64;
                    // skewed like a summary: most customers never come back
                    let x = if pick(3) == 0.0 { pick(7) } else { 0.0 };
                    let t_x = if x > 0.0 { x + pick(3) } else { 0.0 };
                    let weight = if fractional {
                        0.1 + pick(3) * 0.7
                    } else {
                        1.0 + pick(2)
                    };
                    Rfm {
                        weight,
                        ..Rfm::new(x, t_x, 6.0 + pick(4))
                    }
                })
                .collect();
            let par = group_few_in_parallel(&data).expect("few histories: the parallel path");
            let mut which = Vec::new();
            let seq = group_rows(&data, |k| which.push(k as u32));
            assert_eq!(par.1, which);
            assert_eq!(par.0.len(), seq.len());
            for (a, b) in par.0.iter().zip(&seq) {
                assert_eq!(triple_key(a), triple_key(b));
                assert_eq!(a.weight.to_bits(), b.weight.to_bits());
            }
            assert_eq!(group_with_index(&data), par);
        }
        // too few rows, too many histories, a value that is not a whole number
        let mut state = 5u64;
        let many: Vec<Rfm> = (0..n)
            .map(|_| {
                let mut pick = |n: u64| (se::splitmix64(&mut state) % n) as f64;
                Rfm::new(pick(50), pick(400), 400.0 + pick(400))
            })
            .collect();
        assert!(group_few_in_parallel(&many[..1000]).is_none());
        assert!(group_few_in_parallel(&many).is_none());
        let mut halves = vec![Rfm::new(1.0, 2.0, 3.0); n];
        halves[n - 1].t = 3.5;
        assert!(group_few_in_parallel(&halves).is_none());
        let (g, which) = group_with_index(&halves);
        assert_eq!((g.len(), which[n - 1]), (2, 1));
    }

    #[test]
    fn softplus_sigmoid_is_the_two_functions_bit_for_bit() {
        let mut state = 99u64;
        let mut vals = vec![
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            700.0,
            -700.0,
            800.0,
            -800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for _ in 0..20_000 {
            let u = se::splitmix64(&mut state) as f64 / u64::MAX as f64;
            vals.push((u - 0.5) * 80.0);
        }
        for v in vals {
            let (sp, sg) = softplus_sigmoid(v);
            assert_eq!(sp.to_bits(), softplus(v).to_bits(), "softplus({v})");
            assert_eq!(sg.to_bits(), sigmoid(v).to_bits(), "sigmoid({v})");
        }
        let (sp, sg) = softplus_sigmoid(f64::NAN);
        assert!(sp.is_nan() && sg.is_nan());
    }

    #[test]
    fn par_chunk_sum_adds_in_a_fixed_tree() {
        let rows: Vec<f64> = (0..10).map(|i| 0.1 * f64::from(i)).collect();
        let sum = |r: &[f64]| r.iter().sum::<f64>();
        let got = par_chunk_sum(&rows, 2, &sum, &|a, b| a + b);
        // 5 chunks: (c0 + c1) + (c2 + (c3 + c4)).
        let c: Vec<f64> = rows.chunks(2).map(sum).collect();
        assert_eq!(got, (c[0] + c[1]) + (c[2] + (c[3] + c[4])));
        assert_eq!(par_chunk_sum(&rows[..0], 2, &sum, &|a, b| a + b), 0.0);
    }

    #[test]
    fn score_customers_matches_the_scalar_functions() {
        let bg = bgnbd::BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let gg = gamma_gamma::GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let customers: Vec<Rfm> = (0..5000)
            .map(|i| {
                let x = (i % 7) as f64;
                let t = 10.0 + (i % 29) as f64;
                let tx = if x > 0.0 { (i % 10) as f64 } else { 0.0 };
                Rfm::new(x, tx, t)
            })
            .collect();
        let m: Vec<f64> = (0..5000).map(|i| 10.0 + (i % 13) as f64).collect();
        let opts = ClvOptions {
            months: 6,
            discount_rate: 0.02,
            step: 4.345,
            margin: 0.3,
        };
        let s = score_customers(&bg, Some(&gg), &customers, &m, 10.0, &opts).unwrap();
        for (i, c) in customers.iter().enumerate().step_by(37) {
            assert_eq!(s[i].p_alive, bg.p_alive(c.x, c.t_x, c.t));
            assert_eq!(
                s[i].expected_purchases,
                bg.expected_purchases(10.0, c.x, c.t_x, c.t)
            );
            let want = customer_lifetime_value(&bg, &gg, *c, m[i], &opts);
            assert!(((s[i].clv - want) / want).abs() < 1e-14);
        }
        assert!(score_customers(&bg, Some(&gg), &customers, &m[1..], 10.0, &opts).is_err());
        let s = score_customers(&bg, None, &customers, &[], 10.0, &opts).unwrap();
        assert!(s[0].clv.is_nan());
    }

    /// Speed check on a summary written by benches/lifetimes_speed.py:
    /// RETENTION_BENCH_SUMMARY=/tmp/retention-bench/summary_1000000.csv \
    ///   cargo test --release -- --ignored bench_from_csv --nocapture
    #[test]
    #[ignore]
    fn bench_from_csv() {
        use std::time::Instant;
        let Ok(path) = std::env::var("RETENTION_BENCH_SUMMARY") else {
            eprintln!("set RETENTION_BENCH_SUMMARY to a summary CSV (x,t_x,T,m)");
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut customers = Vec::new();
        let mut m = Vec::new();
        for line in text.lines().skip(1) {
            let v: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
            customers.push(Rfm::new(v[0], v[1], v[2]));
            m.push(v[3]);
        }
        let n = customers.len();
        let opts = FitOptions::default();
        let t0 = Instant::now();
        let f = bgnbd::fit(&customers, &opts).unwrap();
        let t_fit = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let (fx, fm): (Vec<f64>, Vec<f64>) = customers
            .iter()
            .zip(&m)
            .filter(|(c, _)| c.x > 0.0)
            .map(|(c, &mm)| (c.x, mm))
            .unzip();
        let g = gamma_gamma::fit(&fx, &fm, None, &opts).unwrap();
        let t_gg = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let clv_opts = ClvOptions {
            months: 12,
            discount_rate: 0.01,
            step: 30.0,
            margin: 1.0,
        };
        let s =
            score_customers(&f.params, Some(&g.params), &customers, &m, 30.0, &clv_opts).unwrap();
        let t_score = t2.elapsed().as_secs_f64();
        let sum_pa: f64 = s.iter().map(|c| c.p_alive).sum();
        let sum_ep: f64 = s.iter().map(|c| c.expected_purchases).sum();
        let sum_clv: f64 = s.iter().map(|c| c.clv).sum();
        eprintln!(
            "n={n} groups={} bgnbd_fit={t_fit:.3}s ({} iters) gg_fit={t_gg:.3}s score+clv={t_score:.3}s total={:.3}s",
            f.n_groups,
            f.iterations,
            t_fit + t_gg + t_score
        );
        eprintln!("bgnbd {:?} ll={}", f.params, f.log_likelihood);
        eprintln!("gg {:?}", g.params);
        eprintln!("sum_p_alive={sum_pa} sum_expected_30={sum_ep} sum_clv={sum_clv}");
    }
}
