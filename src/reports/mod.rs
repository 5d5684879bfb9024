//! One module per command; each core is a pure function from input frames and typed
//! parameters to a [`Report`](crate::output::Report).

pub mod churn;
pub mod cohort;
pub mod describe;
pub mod ltv;
pub mod money;

pub mod segment;
pub mod subscriptions;
pub mod summary;
pub mod wallet;
pub mod whatif;

pub use money::Money;

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::load::amounts::Amounts;

/// An order's net amount counts as positive above this fraction of its gross amount (the
/// sum of its lines' absolute values): a fully refunded order (+57.98, +65.51, −123.49)
/// sums to ±1e-14 in floating point, in an order that depends on the engine, and must
/// stay a return (`retention sql` applies the same rule).
pub const NET_TOLERANCE: f64 = 1e-9;

/// Every row is its own order (no order ids, or distinct non-null ones: the usual
/// one-line-per-order export), so purchases need no grouping.
pub(crate) fn rows_are_orders(tx: &DataFrame) -> bool {
    tx.column("order_id")
        .map_or(true, crate::load::all_distinct)
}

/// The indexes of the set bits of `words` (bit `j` of word `i` is `64 i + j`), in order.
pub(crate) fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            (w != 0).then(|| {
                let j = w.trailing_zeros() as usize;
                w &= w - 1;
                i * 64 + j
            })
        })
    })
}

/// The purchases (docs/metrics.md "purchase"): every order that is not a return, free
/// orders included; a return is an order with a negative line and a net amount ≤ 0
/// (up to [`NET_TOLERANCE`] of its gross amount).
/// Columns `customer_id`, `date` (the order's first date), `amount` (its net amount). An
/// order is a distinct (customer, order_id), or one row where there is no order id (a
/// row is then a return when its amount is negative).
pub fn purchases(tx: &DataFrame) -> LazyFrame {
    let lf = crate::load::amounts::lazy_with_float(tx);
    if rows_are_orders(tx) {
        lf.select([col("customer_id"), col("date"), col("amount")])
            .filter(col("amount").gt_eq(lit(0.0)))
    } else {
        lf.with_row_index("__row", None)
            .with_column(
                when(col("order_id").is_null())
                    .then(col("__row"))
                    .otherwise(lit(NULL).cast(IDX_DTYPE))
                    .alias("__row"),
            )
            .group_by([col("customer_id"), col("order_id"), col("__row")])
            .agg([
                col("date").min(),
                col("amount").sum(),
                col("amount").min().alias("__min"),
                when(col("amount").lt(lit(0.0)))
                    .then(lit(0.0) - col("amount"))
                    .otherwise(col("amount"))
                    .sum()
                    .alias("__gross"),
            ])
            .filter(
                col("__min")
                    .gt_eq(lit(0.0))
                    .or(col("amount").gt(col("__gross") * lit(NET_TOLERANCE))),
            )
            .select([col("customer_id"), col("date"), col("amount")])
    }
}

/// Whether any order is a purchase: rows alone decide unless orders span rows (then
/// [`purchases`] groups them).
pub fn any_purchase(tx: &DataFrame) -> anyhow::Result<bool> {
    if !Amounts::of(tx)?.iter().flatten().any(|a| a >= 0.0) {
        return Ok(false);
    }
    if rows_are_orders(tx) {
        return Ok(true);
    }
    Ok(purchases(tx).limit(1).collect()?.height() > 0)
}

/// A fast, deterministic hash map (foldhash with a fixed seed).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Customer ids as dense `u32` codes numbered in id order, so that walking codes
/// 0..n walks the ids sorted (deterministic sums, sorted output) and per-customer state
/// lives in plain vectors instead of string-keyed maps.
pub struct Ids<'a> {
    /// Code → id, sorted.
    pub names: Names<'a>,
    lookup: Lookup<'a>,
}

/// Code → id, sorted: the store's names themselves where the codes are the store's (no
/// list of 16 bytes an id per report), else a list.
#[derive(Clone, Debug)]
pub enum Names<'a> {
    Store(&'a crate::load::ids::IdNames),
    List(Vec<&'a str>),
}

impl<'a> Names<'a> {
    pub fn len(&self) -> usize {
        match self {
            Names::Store(n) => n.len(),
            Names::List(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of code `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Names::Store(n) => (i < n.len()).then(|| n.get(i)),
            Names::List(v) => v.get(i).copied(),
        }
    }

    /// The id of code `i` (a code of these ids: `i < len()`).
    pub fn at(&self, i: usize) -> &'a str {
        match self {
            Names::Store(n) => n.get(i),
            Names::List(v) => v[i],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// The code of `id` (the names are sorted).
    pub fn position(&self, id: &str) -> Option<u32> {
        match self {
            Names::Store(n) => n.position(id),
            Names::List(v) => v.binary_search(&id).ok().map(|c| c as u32),
        }
    }

    pub fn to_vec(&self) -> Vec<&'a str> {
        self.iter().collect()
    }
}

impl<'a> From<Vec<&'a str>> for Names<'a> {
    fn from(v: Vec<&'a str>) -> Names<'a> {
        Names::List(v)
    }
}

/// How [`Ids`] finds the code of an id.
enum Lookup<'a> {
    /// Id → code, in [`SHARDS`] maps chosen by [`shard_of`] (ids coded here, from text).
    Maps(Vec<FastMap<&'a str, u32>>),
    /// The store's codes (`customer_id` as `UInt32`, see `Dataset::ids`): each store code's
    /// code here (`u32::MAX`: none), or None where they are the same.
    Store(Option<Vec<u32>>),
}

/// The id dictionary is built in this many shards, in parallel: each shard's map is
/// small enough to stay in cache while its rows are coded (`benches/ids.md`).
const SHARDS: usize = 256;

/// The shard of an id: the top bits of a hash with another seed than the maps' (so that
/// the keys of one shard still spread over their map).
fn shard_of(id: &str) -> usize {
    use std::hash::BuildHasher;
    (foldhash::fast::FixedState::with_seed(0x51ad_ed1d).hash_one(id) >> 56) as usize
}

impl<'a> Ids<'a> {
    /// The distinct non-null ids of `customer_id` in the transactions and, when given,
    /// the customers file.
    pub fn new(tx: &'a DataFrame, customers: Option<&'a DataFrame>) -> anyhow::Result<Ids<'a>> {
        Ok(Ids::with_codes(tx, customers)?.0)
    }

    /// [`Ids::new`], with each transaction row's code (None for a null id) from the same
    /// pass over the ids.
    pub fn with_codes(
        tx: &'a DataFrame,
        customers: Option<&'a DataFrame>,
    ) -> anyhow::Result<(Ids<'a>, Vec<Option<u32>>)> {
        let rows = customers.map_or(tx.height() / 4, |c| c.height());
        Ids::of(std::iter::once(tx).chain(customers), rows)
    }

    /// The distinct non-null ids of `customer_id` (a text column) in `frames`, and the
    /// codes of the first frame's rows; `capacity` is a guess of their number.
    ///
    /// In parallel: the rows are split by [`shard_of`] their id, each shard numbers its
    /// ids in a map of its own, and the ids are then renumbered in id order.
    pub fn of(
        frames: impl Iterator<Item = &'a DataFrame>,
        capacity: usize,
    ) -> anyhow::Result<(Ids<'a>, Vec<Option<u32>>)> {
        use rayon::prelude::*;
        // The text chunks of every frame, and where the first frame's rows end.
        let mut arrays = Vec::new();
        let mut first_len = None;
        for df in frames {
            let ca: &'a StringChunked = df.column("customer_id")?.str()?;
            arrays.extend(ca.downcast_iter());
            first_len.get_or_insert(ca.len());
        }
        let first_len = first_len.unwrap_or(0);
        // Pieces of ≤ 64Ki rows: (array, first row in it, length, row number overall).
        const PIECE: usize = 1 << 16;
        let mut pieces = Vec::new();
        let mut row = 0usize;
        for (a, arr) in arrays.iter().enumerate() {
            let mut at = 0;
            while at < arr.len() {
                let len = PIECE.min(arr.len() - at);
                pieces.push((a, at, len, row));
                at += len;
                row += len;
            }
        }
        // Per piece and shard, the positions (in the piece) of its rows with an id.
        let split: Vec<Vec<Vec<u32>>> = pieces
            .par_iter()
            .map(|&(a, at, len, _)| {
                let arr = arrays[a];
                let mut by = vec![Vec::new(); SHARDS];
                let mut prev: Option<(&str, usize)> = None;
                for i in 0..len {
                    let Some(id) = arr.get(at + i) else { continue };
                    // Exports usually list a customer's rows together.
                    let s = match prev {
                        Some((p, s)) if p == id => s,
                        _ => shard_of(id),
                    };
                    prev = Some((id, s));
                    by[s].push(i as u32);
                }
                by
            })
            .collect();
        // Each shard numbers its ids (in order of appearance) and codes its rows.
        let per_shard = capacity / SHARDS + 16;
        // (a shard's map, its ids in order of appearance, its rows' codes)
        #[allow(clippy::type_complexity)]
        let shards: Vec<(FastMap<&'a str, u32>, Vec<&'a str>, Vec<u32>)> = (0..SHARDS)
            .into_par_iter()
            .map(|s| {
                let mut map: FastMap<&'a str, u32> =
                    FastMap::with_capacity_and_hasher(per_shard, Default::default());
                let mut seen: Vec<&'a str> = Vec::with_capacity(per_shard);
                let mut codes = Vec::new();
                // A customer's rows listed together come here together too: a repeat of
                // the previous id costs a comparison instead of a lookup.
                let mut prev: Option<(&'a str, u32)> = None;
                for (p, &(a, at, _, row)) in pieces.iter().enumerate() {
                    let keep = row < first_len;
                    let arr = arrays[a];
                    for &i in &split[p][s] {
                        let id = arr.value(at + i as usize);
                        let c = match prev {
                            Some((q, c)) if q == id => c,
                            _ => *map.entry(id).or_insert_with(|| {
                                seen.push(id);
                                seen.len() as u32 - 1
                            }),
                        };
                        prev = Some((id, c));
                        if keep {
                            codes.push(c);
                        }
                    }
                }
                (map, seen, codes)
            })
            .collect();
        // Renumber in id order: shard s's local code c is global index base[s] + c.
        let mut base = Vec::with_capacity(SHARDS + 1);
        base.push(0usize);
        for (_, seen, _) in &shards {
            base.push(base.last().copied().unwrap_or(0) + seen.len());
        }
        let all: Vec<&'a str> = shards
            .iter()
            .flat_map(|(_, seen, _)| seen.iter().copied())
            .collect();
        let mut order: Vec<u32> = (0..all.len() as u32).collect();
        order.par_sort_unstable_by(|a, b| all[*a as usize].cmp(all[*b as usize]));
        let mut rank = vec![0u32; all.len()];
        for (new, old) in order.iter().enumerate() {
            rank[*old as usize] = new as u32;
        }
        let names: Vec<&'a str> = order.iter().map(|o| all[*o as usize]).collect();
        // The first frame's rows, shard by shard in the pieces' order.
        let mut rows: Vec<Option<u32>> = vec![None; first_len];
        let mut maps = Vec::with_capacity(SHARDS);
        for (s, (mut map, _, codes)) in shards.into_iter().enumerate() {
            let mut codes = codes.into_iter();
            for (p, &(_, _, _, row)) in pieces.iter().enumerate() {
                if row >= first_len {
                    break;
                }
                for &i in &split[p][s] {
                    if let Some(c) = codes.next() {
                        rows[row + i as usize] = Some(rank[base[s] + c as usize]);
                    }
                }
            }
            for v in map.values_mut() {
                *v = rank[base[s] + *v as usize];
            }
            maps.push(map);
        }
        Ok((
            Ids {
                names: Names::List(names),
                lookup: Lookup::Maps(maps),
            },
            rows,
        ))
    }

    /// The ids of the store's codes in `frames` (their `customer_id` is a `UInt32` code
    /// into `names`, the store's sorted ids), and the first frame's codes: the ids the
    /// frames use, numbered in id order as [`Ids::of`] numbers them from text. Where the
    /// frames use every id (a command's own input), the codes are the store's, and the
    /// first frame's column is shared, not copied.
    pub fn of_store(
        names: &'a crate::load::ids::IdNames,
        frames: &[&DataFrame],
    ) -> anyhow::Result<(Ids<'a>, UInt32Chunked)> {
        let mut used = vec![false; names.len()];
        for df in frames {
            crate::load::ids::mark_used(df.column("customer_id")?, &mut used)?;
        }
        let first = match frames.first() {
            Some(df) => df.column("customer_id")?.u32()?.clone(),
            None => UInt32Chunked::full_null("customer_id".into(), 0),
        };
        if used.len() == names.len() && used.iter().all(|u| *u) {
            return Ok((
                Ids {
                    names: Names::Store(names),
                    lookup: Lookup::Store(None),
                },
                first,
            ));
        }
        let mut rank = vec![u32::MAX; names.len()];
        let mut kept = Vec::new();
        for (c, _) in used.iter().enumerate().filter(|(_, u)| **u) {
            rank[c] = kept.len() as u32;
            kept.push(names.get(c));
        }
        let rows: UInt32Chunked =
            first.apply_values(|v| rank.get(v as usize).copied().unwrap_or(0));
        Ok((
            Ids {
                names: Names::List(kept),
                lookup: Lookup::Store(Some(rank)),
            },
            rows,
        ))
    }

    /// These ids and the text ids of `df`'s `customer_id` that are not among them,
    /// numbered in id order, and each code's new code.
    fn with_text_ids(&self, df: &'a DataFrame) -> anyhow::Result<(Ids<'a>, Vec<u32>)> {
        let ca: &'a StringChunked = df.column("customer_id")?.str()?;
        let mut more: Vec<&'a str> = ca
            .iter()
            .flatten()
            .filter(|id| self.code(id).is_none())
            .collect();
        more.sort_unstable();
        more.dedup();
        // Merge the two sorted lists.
        let mut names = Vec::with_capacity(self.names.len() + more.len());
        let mut new_of = Vec::with_capacity(self.names.len());
        let mut extra = more.iter().peekable();
        for n in self.names.iter() {
            while let Some(m) = extra.next_if(|m| **m < n) {
                names.push(*m);
            }
            new_of.push(names.len() as u32);
            names.push(n);
        }
        names.extend(extra);
        // Store codes → the codes here.
        let rank = match &self.lookup {
            Lookup::Store(None) => Some(new_of.clone()),
            Lookup::Store(Some(r)) => Some(
                r.iter()
                    .map(|&c| new_of.get(c as usize).copied().unwrap_or(u32::MAX))
                    .collect(),
            ),
            Lookup::Maps(_) => anyhow::bail!("ids coded from text cannot add ids (internal)"),
        };
        Ok((
            Ids {
                names: Names::List(names),
                lookup: Lookup::Store(rank),
            },
            new_of,
        ))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn code(&self, id: &str) -> Option<u32> {
        match &self.lookup {
            Lookup::Maps(maps) => maps[shard_of(id)].get(id).copied(),
            Lookup::Store(_) => self.names.position(id),
        }
    }

    /// Each row's code (None for a null or unknown id). Exports usually list a
    /// customer's rows together and customers in id order: a repeat of the previous id
    /// costs a comparison, and so does the id at or just after the last one coded (the
    /// names are sorted); other ids are looked up in the hash map.
    pub fn codes(&self, df: &DataFrame) -> anyhow::Result<Vec<Option<u32>>> {
        let col = df.column("customer_id")?;
        if let (DataType::UInt32, Lookup::Store(rank)) = (col.dtype(), &self.lookup) {
            // The store's codes (of the same input): renumbered where these ids are fewer.
            let codes = col.u32()?.iter();
            return Ok(match rank {
                None => codes.collect(),
                Some(rank) => codes
                    .map(|c| rank.get(c? as usize).copied().filter(|c| *c != u32::MAX))
                    .collect(),
            });
        }
        if col.dtype() == &DataType::UInt32 {
            anyhow::bail!("customer codes without the store's ids (internal)");
        }
        let col = col.cast(&DataType::String)?;
        let names = &self.names;
        let mut at = 0;
        let mut prev: Option<(&str, Option<u32>)> = None;
        Ok(col
            .str()?
            .iter()
            .map(|v| {
                let v = v?;
                if let Some((p, c)) = prev {
                    if p == v {
                        return c;
                    }
                }
                let near = (at..(at + 2).min(names.len())).find(|&i| names.at(i) == v);
                let c = match near {
                    Some(i) => Some(i as u32),
                    None => self.code(v),
                };
                // The cursor only moves forward: rows out of order (returns listed after
                // the other customers' orders) do not pull it back.
                if let Some(c) = c {
                    at = at.max(c as usize);
                }
                prev = Some((v, c));
                c
            })
            .collect())
    }
}

/// An output column computed row by row: `column("revenue", &rows, |r| r.revenue)`.
pub fn column<'a, T, V, P>(name: &str, rows: &'a [T], f: impl FnMut(&'a T) -> V) -> Column
where
    P: ?Sized,
    Series: NamedFrom<Vec<V>, P>,
{
    Column::new(name.into(), rows.iter().map(f).collect::<Vec<V>>())
}

/// Name of the grouping column that [`customer_groups`] produces.
pub const GROUP: &str = "__group";

/// Each customer's value of a grouping column (`--by`/`--group`): `customer_id`,
/// [`GROUP`]. A customers-file column wins; otherwise a transactions column is read from
/// the customer's first transaction that has a value. Empty values count as missing;
/// customers without a value become "(none)" in [`with_group`].
pub fn customer_groups(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    name: &str,
    flag: &str,
) -> anyhow::Result<LazyFrame> {
    if let Some(c) = customers.filter(|c| c.column(name).is_ok()) {
        return Ok(c
            .clone()
            .lazy()
            .select([col("customer_id"), non_empty(name).alias(GROUP)])
            .filter(col(GROUP).is_not_null())
            .unique_generic(Some(vec![col("customer_id")]), UniqueKeepStrategy::First));
    }
    if tx.column(name).is_ok() {
        return Ok(tx
            .clone()
            .lazy()
            .sort(
                ["date"],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .select([col("customer_id"), non_empty(name).alias(GROUP)])
            .filter(col(GROUP).is_not_null())
            .group_by([col("customer_id")])
            .agg([col(GROUP).first()]));
    }
    let mut cols: Vec<String> = tx
        .get_column_names()
        .iter()
        // (the category held as codes is the file's `category`)
        .map(|s| match s.as_str() {
            crate::load::CATEGORY_CODES => "category".to_string(),
            s if crate::load::amounts::is_amount_column(s) => "amount".to_string(),
            s => s.to_string(),
        })
        .collect();
    if let Some(c) = customers {
        cols.extend(c.get_column_names().iter().map(|s| s.to_string()));
    }
    Err(crate::error::bad(format!(
        "{flag} {name}: no such column in the customers or transactions file (columns: {})",
        cols.join(", ")
    )))
}

/// A column as strings, with empty strings as null.
fn non_empty(name: &str) -> Expr {
    let v = col(name).cast(DataType::String);
    when(v.clone().eq(lit("")))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(v)
}

/// Left-join `groups` (from [`customer_groups`]) onto `lf` by customer and make the group a
/// string, "(none)" where missing; without groups the group is "".
pub fn with_group(lf: LazyFrame, groups: Option<LazyFrame>) -> LazyFrame {
    match groups {
        None => lf.with_column(lit("").alias(GROUP)),
        Some(g) => lf
            .join(
                g,
                [col("customer_id")],
                [col("customer_id")],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(col(GROUP).cast(DataType::String).fill_null(lit("(none)"))),
    }
}

/// The transactions with their customers as [`Ids`] codes, so that the reports built on
/// purchase histories (cohort, churn, ltv) hash the string ids once and keep
/// per-customer state in vectors.
pub struct CodedTx<'a> {
    pub ids: Ids<'a>,
    /// Each transaction row's customer code (null: a null id).
    pub rows: UInt32Chunked,
    /// The purchases grouped by customer, built once for every report that reads them
    /// ([`CodedTx::keep_purchases`]; `report` runs several on one coding).
    purchases: Mutex<Option<Arc<ByCustomer>>>,
    /// The store's category names, when the transactions hold the category as codes
    /// (column [`crate::load::CATEGORY_CODES`]; `Dataset::categories`).
    pub categories: Option<&'a crate::load::ids::IdNames>,
}

impl<'a> CodedTx<'a> {
    /// Code the text ids of `tx` (and `customers`): frames built by hand (tests, and
    /// reports' own frames). Loaded input is coded already: see [`CodedTx::of_store`].
    pub fn new(tx: &'a DataFrame, customers: Option<&'a DataFrame>) -> anyhow::Result<Self> {
        // One pass over the ids numbers them and codes the rows.
        let (ids, rows) = Ids::with_codes(tx, customers)?;
        // (the per-shard row lists it freed go back to the system)
        crate::load::trim();
        Ok(CodedTx::from_parts(ids, rows))
    }

    /// The coding of loaded input (`customer_id` codes into the store's `names`,
    /// `Dataset::ids`): the ids of `tx` (and `customers`) without hashing them again.
    pub fn of_store(
        names: &'a crate::load::ids::IdNames,
        tx: &DataFrame,
        customers: Option<&DataFrame>,
    ) -> anyhow::Result<Self> {
        let frames: Vec<&DataFrame> = std::iter::once(tx).chain(customers).collect();
        let (ids, rows) = Ids::of_store(names, &frames)?;
        Ok(CodedTx {
            ids,
            rows,
            purchases: Mutex::new(None),
            categories: None,
        })
    }

    /// A loaded dataset's coding: its transactions' customers, and with `customers` those
    /// of its customers file too.
    /// Input whose ids are text (invoice lines, frames built by hand) is coded here.
    pub fn of(ds: &'a crate::load::Dataset, customers: bool) -> anyhow::Result<Self> {
        let c = ds.customers.as_ref().filter(|_| customers);
        if ds.tx.column("customer_id")?.dtype() != &DataType::UInt32 {
            return CodedTx::new(&ds.tx, c);
        }
        let mut coded = CodedTx::of_store(&ds.ids, &ds.tx, c)?;
        coded.categories = ds.categories.as_ref();
        Ok(coded)
    }

    /// This coding of the store's transactions with the text ids of another frame (a
    /// wallet file) added, renumbered in id order.
    pub fn with_more(&self, df: &'a DataFrame) -> anyhow::Result<CodedTx<'a>> {
        let (ids, new_of) = self.ids.with_text_ids(df)?;
        let rows: UInt32Chunked = self
            .rows
            .apply_values(|v| new_of.get(v as usize).copied().unwrap_or(0));
        Ok(CodedTx {
            ids,
            rows,
            purchases: Mutex::new(None),
            categories: self.categories,
        })
    }

    /// From [`Ids::of`] (ids of more frames than the transactions and customers).
    pub fn from_parts(ids: Ids<'a>, rows: Vec<Option<u32>>) -> Self {
        let rows: UInt32Chunked = rows.into_iter().collect();
        CodedTx {
            ids,
            rows: rows.with_name("customer_id".into()),
            purchases: Mutex::new(None),
            categories: None,
        }
    }

    /// Every transaction row as (code, day, amount), in row order, returns included.
    /// Rows with a null customer or date are left out; a null amount counts 0.
    pub fn tx_rows(&self, tx: &DataFrame) -> anyhow::Result<Vec<(u32, i32, f64)>> {
        let mut out = Vec::with_capacity(self.rows.len());
        self.each_tx_row(tx, |c, d, a| out.push((c, d, a)))?;
        Ok(out)
    }

    /// [`CodedTx::tx_rows`] one at a time, in row order (nothing collected).
    pub fn each_tx_row(
        &self,
        tx: &DataFrame,
        mut f: impl FnMut(u32, i32, f64),
    ) -> anyhow::Result<()> {
        let days = tx.column("date")?.cast(&DataType::Date)?;
        let amounts = Amounts::of(tx)?;
        for (c, d, a) in self.coded_rows(days.date()?.physical(), &amounts) {
            f(c, d, a.unwrap_or(0.0));
        }
        Ok(())
    }

    /// Every row with a customer and a date, as (code, day, amount), in row order. Where
    /// no column has a null and their chunks line up (loaded input), from the chunks'
    /// value slices, without an `Option` per value (polars' per-value iterators were
    /// about a tenth of `report`'s profile).
    fn coded_rows<'c>(
        &'c self,
        days: &'c Int32Chunked,
        amounts: &'c Amounts,
    ) -> impl Iterator<Item = (u32, i32, Option<f64>)> + 'c {
        match amounts {
            Amounts::Float(a) => OneOf::First(self.coded_rows_of(days, a, |v| v)),
            Amounts::Scaled(a, k) => {
                let p = crate::load::amounts::pow10(*k);
                OneOf::Second(self.coded_rows_of(days, a, move |m| m as f64 / p))
            }
        }
    }

    /// [`CodedTx::coded_rows`] of one amount column type, `to` giving each value as `f64`.
    fn coded_rows_of<'c, T: PolarsNumericType>(
        &'c self,
        days: &'c Int32Chunked,
        amounts: &'c ChunkedArray<T>,
        to: impl Fn(T::Native) -> f64 + Copy + 'c,
    ) -> impl Iterator<Item = (u32, i32, Option<f64>)> + 'c {
        if self.plain_with(days) && self.plain_with(amounts) {
            OneOf::First(
                self.rows
                    .downcast_iter()
                    .zip(days.downcast_iter())
                    .zip(amounts.downcast_iter())
                    .flat_map(move |((c, d), a)| {
                        c.values()
                            .iter()
                            .zip(d.values().iter())
                            .zip(a.values().iter())
                            .map(move |((c, d), a)| (*c, *d, Some(to(*a))))
                    }),
            )
        } else if self.no_nulls_with(days) && self.no_nulls_with(amounts) {
            // (chunks cut apart, as Parquet's row groups and the coder's pieces are)
            OneOf::Second(OneOf::First(
                values_of(&self.rows)
                    .zip(values_of(days))
                    .zip(values_of(amounts))
                    .map(move |((c, d), a)| (c, d, Some(to(a)))),
            ))
        } else {
            OneOf::Second(OneOf::Second(
                self.rows
                    .iter()
                    .zip(days.iter())
                    .zip(amounts.iter())
                    .filter_map(move |((c, d), a)| Some((c?, d?, a.map(to)))),
            ))
        }
    }

    /// Whether neither the codes nor `column` has a null (and they are as long).
    fn no_nulls_with<T: PolarsNumericType>(&self, column: &ChunkedArray<T>) -> bool {
        self.rows.null_count() == 0 && column.null_count() == 0 && self.rows.len() == column.len()
    }

    /// Whether the codes and `column` can be read from their value slices, chunk by
    /// chunk: neither has a null and their chunks line up.
    fn plain_with<T: PolarsNumericType>(&self, column: &ChunkedArray<T>) -> bool {
        self.rows.null_count() == 0
            && column.null_count() == 0
            && self.rows.chunk_lengths().eq(column.chunk_lengths())
    }

    /// Each row's code and amount, in row order (None for a null): from the value slices
    /// where neither column has a null and their chunks line up, as [`CodedTx::tx_rows`].
    pub fn code_amounts<'c>(
        &'c self,
        amounts: &'c Amounts,
    ) -> impl Iterator<Item = (Option<u32>, Option<f64>)> + 'c {
        match amounts {
            Amounts::Float(a) => OneOf::First(self.code_amounts_of(a, |v| v)),
            Amounts::Scaled(a, k) => {
                let p = crate::load::amounts::pow10(*k);
                OneOf::Second(self.code_amounts_of(a, move |m| m as f64 / p))
            }
        }
    }

    /// [`CodedTx::code_amounts`] of one amount column type, `to` giving each value as `f64`.
    fn code_amounts_of<'c, T: PolarsNumericType>(
        &'c self,
        amounts: &'c ChunkedArray<T>,
        to: impl Fn(T::Native) -> f64 + Copy + 'c,
    ) -> impl Iterator<Item = (Option<u32>, Option<f64>)> + 'c {
        if self.plain_with(amounts) {
            OneOf::First(
                self.rows
                    .downcast_iter()
                    .zip(amounts.downcast_iter())
                    .flat_map(move |(c, a)| {
                        c.values()
                            .iter()
                            .zip(a.values().iter())
                            .map(move |(c, a)| (Some(*c), Some(to(*a))))
                    }),
            )
        } else if self.no_nulls_with(amounts) {
            OneOf::Second(OneOf::First(
                values_of(&self.rows)
                    .zip(values_of(amounts))
                    .map(move |(c, a)| (Some(c), Some(to(a)))),
            ))
        } else {
            OneOf::Second(OneOf::Second(
                self.rows
                    .iter()
                    .zip(amounts.iter())
                    .map(move |(c, a)| (c, a.map(to))),
            ))
        }
    }

    /// Where every row is its own order, the rows that are purchases (amount ≥ 0).
    fn row_purchases<'c>(
        &'c self,
        days: &'c Int32Chunked,
        amounts: &'c Amounts,
    ) -> impl Iterator<Item = (u32, i32, f64)> + 'c {
        self.coded_rows(days, amounts)
            .filter_map(|(c, d, a)| Some((c, d, a.filter(|a| *a >= 0.0)?)))
    }

    /// The purchases ([`purchases`]): orders that span rows are grouped (by polars, on the
    /// codes) and collected; where every row is its own order (no order ids, or distinct
    /// ones) the rows are the orders, walked from the columns without collecting them.
    fn purchase_source(&self, tx: &DataFrame) -> anyhow::Result<PurchaseSource> {
        if rows_are_orders(tx) {
            let days = tx.column("date")?.cast(&DataType::Date)?;
            return Ok(PurchaseSource::Rows(
                days.date()?.physical().clone(),
                Amounts::of(tx)?,
            ));
        }
        // Grouping on integers: a copy of the transactions whose `customer_id` is the code.
        let mut df = tx.clone();
        df.with_column(
            self.rows
                .clone()
                .with_name("customer_id".into())
                .into_column(),
        )?;
        let p = purchases(&df).collect()?;
        let codes = p.column("customer_id")?.cast(&DataType::UInt32)?;
        let days = p.column("date")?.cast(&DataType::Date)?;
        let amounts = p.column("amount")?.cast(&DataType::Float64)?;
        // Grouped orders are purchases already (a net amount ≥ 0).
        let rows = codes
            .u32()?
            .iter()
            .zip(days.date()?.physical().iter())
            .zip(amounts.f64()?.iter())
            .filter_map(|((c, d), a)| Some((c?, d?, a.filter(|a| *a >= 0.0)?)))
            .collect();
        Ok(PurchaseSource::Grouped(rows))
    }

    /// [`purchases`] as (code, day, amount), in its row order. Rows with a null customer
    /// or date are left out.
    pub fn purchases(&self, tx: &DataFrame) -> anyhow::Result<Vec<(u32, i32, f64)>> {
        Ok(match self.purchase_source(tx)? {
            PurchaseSource::Grouped(rows) => rows,
            PurchaseSource::Rows(days, amounts) => self.row_purchases(&days, &amounts).collect(),
        })
    }

    /// [`CodedTx::purchases`] one at a time, in the same order (nothing collected where
    /// every row is its own order).
    pub fn each_purchase(
        &self,
        tx: &DataFrame,
        mut f: impl FnMut(u32, i32, f64),
    ) -> anyhow::Result<()> {
        match self.purchase_source(tx)? {
            PurchaseSource::Grouped(rows) => rows.into_iter().for_each(|(c, d, a)| f(c, d, a)),
            PurchaseSource::Rows(days, amounts) => self
                .row_purchases(&days, &amounts)
                .for_each(|(c, d, a)| f(c, d, a)),
        }
        Ok(())
    }

    /// [`CodedTx::purchases`] grouped by customer ([`ByCustomer`]), without collecting
    /// them first where every row is its own order.
    pub fn purchases_by_customer(&self, tx: &DataFrame) -> anyhow::Result<Purchases> {
        self.grouped_purchases(tx, true)
    }

    /// [`CodedTx::purchases_by_customer`] without the values: the purchase days only.
    pub fn purchase_days_by_customer(&self, tx: &DataFrame) -> anyhow::Result<Purchases> {
        self.grouped_purchases(tx, false)
    }

    /// Group the purchases of `tx` (the frame this coding was made of) by customer once:
    /// [`CodedTx::purchases_by_customer`] and [`CodedTx::purchase_days_by_customer`] of it
    /// then lend them instead of grouping again (the days are the same either way), until
    /// [`CodedTx::release_purchases`].
    pub fn keep_purchases(&self, tx: &DataFrame) -> anyhow::Result<()> {
        let kept = match self.grouped_purchases(tx, true)? {
            Purchases::Kept(k) => k,
            Purchases::Own(b) => Arc::new(b),
        };
        *self.kept() = Some(kept);
        Ok(())
    }

    /// The kept purchases ([`CodedTx::keep_purchases`]) when they are of `tx`.
    pub(crate) fn lent_purchases(&self, tx: &DataFrame) -> Option<Purchases> {
        let kept = self.kept();
        let k = kept.as_ref().filter(|_| tx.height() == self.rows.len())?;
        Some(Purchases::Kept(Arc::clone(k)))
    }

    /// Stop lending the kept purchases (their memory goes once no report holds them).
    pub fn release_purchases(&self) {
        *self.kept() = None;
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Option<Arc<ByCustomer>>> {
        // (a panic elsewhere cannot leave the slot half-written: it holds an Option)
        self.purchases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn grouped_purchases(&self, tx: &DataFrame, values: bool) -> anyhow::Result<Purchases> {
        // (kept for the frame the rows were coded from: the same height)
        if let Some(kept) = self.lent_purchases(tx) {
            return Ok(kept);
        }
        let n = self.ids.len();
        Ok(Purchases::Own(match self.purchase_source(tx)? {
            PurchaseSource::Grouped(rows) => {
                ByCustomer::build_with(n, || rows.iter().copied(), values)
            }
            PurchaseSource::Rows(days, amounts) => {
                ByCustomer::build_with(n, || self.row_purchases(&days, &amounts), values)
            }
        }))
    }

    /// Each row's code (None for a null or unknown id), as [`Ids::codes`].
    pub fn codes(&self, df: &DataFrame) -> anyhow::Result<Vec<Option<u32>>> {
        self.ids.codes(df)
    }

    /// Each code's group (an index into the returned names, sorted) from a
    /// [`customer_groups`] frame; customers without a value are "(none)", as in
    /// [`with_group`].
    pub fn groups(&self, groups: LazyFrame) -> anyhow::Result<(Vec<u32>, Vec<String>)> {
        let df = groups.collect()?;
        let vals = df.column(GROUP)?.cast(&DataType::String)?;
        let mut of: Vec<Option<&str>> = vec![None; self.ids.len()];
        for (c, v) in self.codes(&df)?.into_iter().zip(vals.str()?.iter()) {
            if let (Some(c), Some(v)) = (c, v) {
                of[c as usize] = Some(v);
            }
        }
        let labels: Vec<&str> = of.iter().map(|v| v.unwrap_or("(none)")).collect();
        let (codes, mut names) = label_codes(&labels);
        if names.is_empty() {
            names.push("(none)".to_string());
        }
        Ok((codes, names))
    }
}

/// Where [`CodedTx::purchases`] come from: orders grouped and collected, or the rows'
/// date and amount columns (every row its own order).
enum PurchaseSource {
    Grouped(Vec<(u32, i32, f64)>),
    Rows(Int32Chunked, Amounts),
}

/// The ids coded by the caller (`retention report` codes them once for all its sections),
/// or coded here: `given` must be the coding of the same transactions (and customers, where
/// the report codes them too).
pub enum Coded<'s, 'a> {
    Given(&'s CodedTx<'a>),
    Own(CodedTx<'a>),
}

impl<'a> std::ops::Deref for Coded<'_, 'a> {
    type Target = CodedTx<'a>;
    fn deref(&self) -> &CodedTx<'a> {
        match self {
            Coded::Given(c) => c,
            Coded::Own(c) => c,
        }
    }
}

impl<'s, 'a> Coded<'s, 'a> {
    pub fn or_new(
        given: Option<&'s CodedTx<'a>>,
        tx: &'a DataFrame,
        customers: Option<&'a DataFrame>,
    ) -> anyhow::Result<Coded<'s, 'a>> {
        Ok(match given {
            Some(c) => Coded::Given(c),
            None => Coded::Own(CodedTx::new(tx, customers)?),
        })
    }
}

/// The distinct labels, sorted, and each label's index among them.
pub fn label_codes(labels: &[&str]) -> (Vec<u32>, Vec<String>) {
    let names: Vec<&str> = labels
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let idx: FastMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u32))
        .collect();
    let codes = labels
        .iter()
        .map(|l| idx.get(l).copied().unwrap_or(0))
        .collect();
    (codes, names.into_iter().map(str::to_string).collect())
}

/// One label per customer out of few distinct ones (the groups of [`Histories`]): 4 bytes
/// a customer and each label once, not a `String` each.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    names: Vec<String>,
    index: FastMap<String, u32>,
    of: Vec<u32>,
}

impl Labels {
    /// Room for `n` labels.
    pub fn with_capacity(n: usize) -> Labels {
        Labels {
            of: Vec::with_capacity(n),
            ..Labels::default()
        }
    }

    fn code(&mut self, s: &str) -> u32 {
        if let Some(&k) = self.index.get(s) {
            return k;
        }
        let k = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), k);
        k
    }

    pub fn push(&mut self, s: &str) {
        let k = self.code(s);
        self.of.push(k);
    }

    /// Label `i` becomes `s`.
    pub fn set(&mut self, i: usize, s: &str) {
        let k = self.code(s);
        self.of[i] = k;
    }

    pub fn len(&self) -> usize {
        self.of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }

    /// Label `i` (`i < len()`).
    pub fn get(&self, i: usize) -> &str {
        &self.names[self.of[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.of.iter().map(|&k| self.names[k as usize].as_str())
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::ops::Index<usize> for Labels {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        self.get(i)
    }
}

/// Every purchasing customer's distinct purchase days, in order, with the net amount of
/// the purchases made that day: the input of churn, survival and the BG/NBD summary.
/// Customer `i` owns `days[offsets[i]..offsets[i + 1]]`; customers are in id order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histories {
    /// The customers' ids, in one buffer (the store's dictionary type: a few bytes an id
    /// besides its text, where a `Vec<String>` takes 24 and an allocation each).
    pub ids: crate::load::ids::IdNames,
    /// Each customer's [`Ids`] code (when built from coded transactions).
    pub codes: Vec<u32>,
    pub groups: Labels,
    pub offsets: Vec<usize>,
    /// Days since 1970-01-01.
    pub days: Vec<i32>,
    pub values: Vec<f64>,
}

impl Histories {
    /// Build from the transactions (purchases only, per docs/metrics.md), optionally grouped.
    pub fn from_tx(tx: &DataFrame, groups: Option<LazyFrame>) -> anyhow::Result<Histories> {
        let coded = CodedTx::new(tx, None)?;
        let groups = groups.map(|g| coded.groups(g)).transpose()?;
        let rows = coded.purchases_by_customer(tx)?;
        Ok(Histories::from_by_customer(
            &coded,
            &rows,
            groups.as_ref().map(|(c, n)| (c.as_slice(), n.as_slice())),
        ))
    }

    /// Build from a loaded dataset's transactions (its store coding), optionally grouped.
    pub fn of_dataset(
        ds: &crate::load::Dataset,
        groups: Option<LazyFrame>,
    ) -> anyhow::Result<Histories> {
        let coded = CodedTx::of(ds, false)?;
        let groups = groups.map(|g| coded.groups(g)).transpose()?;
        let rows = coded.purchases_by_customer(&ds.tx)?;
        Ok(Histories::from_by_customer(
            &coded,
            &rows,
            groups.as_ref().map(|(c, n)| (c.as_slice(), n.as_slice())),
        ))
    }

    /// Build from coded purchases ([`CodedTx::purchases`]); `groups` is each code's group
    /// index and the group names ([`CodedTx::groups`]); without groups the group is "".
    pub fn from_coded(
        coded: &CodedTx,
        rows: &[(u32, i32, f64)],
        groups: Option<(&[u32], &[String])>,
    ) -> Histories {
        Histories::from_by_customer(coded, &ByCustomer::new(coded.ids.len(), rows), groups)
    }

    /// [`Histories::from_coded`] from purchases already grouped by customer
    /// ([`CodedTx::purchases_by_customer`]).
    pub fn from_by_customer(
        coded: &CodedTx,
        rows: &ByCustomer,
        groups: Option<(&[u32], &[String])>,
    ) -> Histories {
        let mut h = Histories::default();
        // At most one day per purchase: reserved once, not grown by doubling (the peak).
        let n = coded.ids.len();
        h.days.reserve_exact(rows.days.len());
        h.values.reserve_exact(rows.values.len());
        let buyers = (0..n).filter(|&c| !rows.days(c).is_empty()).count();
        h.offsets.reserve_exact(buyers + 1);
        h.codes.reserve_exact(buyers);
        h.ids = crate::load::ids::IdNames::with_capacity(buyers);
        h.groups = Labels::with_capacity(buyers);
        for c in 0..n {
            let (days, values) = (rows.days(c), rows.values(c));
            if days.is_empty() {
                continue;
            }
            h.offsets.push(h.days.len());
            h.ids.push(coded.ids.names.at(c));
            h.codes.push(c as u32);
            h.groups.push(match groups {
                Some((of, names)) => &names[of[c] as usize],
                None => "",
            });
            // Same-day purchases summed in row order (as polars' group-by sums them).
            let mut last = None;
            for (&d, &v) in days.iter().zip(values) {
                if last == Some(d) {
                    if let Some(s) = h.values.last_mut() {
                        *s += v;
                    }
                } else {
                    h.days.push(d);
                    h.values.push(v);
                    last = Some(d);
                }
            }
        }
        h.offsets.push(h.days.len());
        h
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Customer `i`'s purchase days (sorted, distinct).
    pub fn days(&self, i: usize) -> &[i32] {
        &self.days[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Customer `i`'s purchase values per day.
    pub fn values(&self, i: usize) -> &[f64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// A null-free column's values, chunk after chunk (a null's slot would hold any value).
fn values_of<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> impl Iterator<Item = T::Native> + '_ {
    ca.downcast_iter().flat_map(|a| a.values().iter().copied())
}

/// One of two iterators of the same items (chosen once, not per item by a trait object).
enum OneOf<A, B> {
    First(A),
    Second(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for OneOf<A, B> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            OneOf::First(a) => a.next(),
            OneOf::Second(b) => b.next(),
        }
    }
}

/// A [`ByCustomer`] of a coding's purchases: lent from [`CodedTx::keep_purchases`], or
/// built for the caller.
pub enum Purchases {
    Kept(Arc<ByCustomer>),
    Own(ByCustomer),
}

impl std::ops::Deref for Purchases {
    type Target = ByCustomer;
    fn deref(&self) -> &ByCustomer {
        match self {
            Purchases::Kept(k) => k,
            Purchases::Own(b) => b,
        }
    }
}

/// Rows (code, day, value) grouped by customer code (a counting sort, so in row order
/// within a code) and then sorted by day within each code, stably (same-day rows stay in
/// row order).
#[derive(Debug)]
pub struct ByCustomer {
    start: Vec<usize>,
    days: Vec<i32>,
    values: Vec<f64>,
}

impl ByCustomer {
    /// `n` is the number of codes.
    pub fn new(n: usize, rows: &[(u32, i32, f64)]) -> ByCustomer {
        ByCustomer::build(n, || rows.iter().copied())
    }

    /// From rows given twice by `rows` (a count, then a fill), so that they need not be
    /// collected first: memory is the result only (12 bytes a row).
    pub fn build<I: Iterator<Item = (u32, i32, f64)>>(
        n: usize,
        rows: impl Fn() -> I,
    ) -> ByCustomer {
        ByCustomer::build_with(n, rows, true)
    }

    /// [`ByCustomer::build`], with the values only when `keep_values` (without: 4 bytes a
    /// row, for reports that use only the days, such as cohorts and LTV curves;
    /// [`ByCustomer::values`] is then empty).
    fn build_with<I: Iterator<Item = (u32, i32, f64)>>(
        n: usize,
        rows: impl Fn() -> I,
        keep_values: bool,
    ) -> ByCustomer {
        let mut start = vec![0usize; n + 1];
        for (c, _, _) in rows() {
            start[c as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let total = start[n];
        let mut next = start.clone();
        let mut days = vec![0i32; total];
        let mut values = if keep_values {
            vec![0f64; total]
        } else {
            Vec::new()
        };
        for (c, d, v) in rows() {
            let at = &mut next[c as usize];
            days[*at] = d;
            if keep_values {
                values[*at] = v;
            }
            *at += 1;
        }
        drop(next);
        let mut pairs = Vec::new();
        for c in 0..n {
            let (a, b) = (start[c], start[c + 1]);
            // Usually already in day order (exports list a customer's orders by date).
            if days[a..b].is_sorted() {
                continue;
            }
            if !keep_values {
                days[a..b].sort_unstable();
                continue;
            }
            pairs.clear();
            pairs.extend(days[a..b].iter().copied().zip(values[a..b].iter().copied()));
            pairs.sort_by_key(|p| p.0);
            for (k, (d, v)) in pairs.iter().enumerate() {
                days[a + k] = *d;
                values[a + k] = *v;
            }
        }
        ByCustomer {
            start,
            days,
            values,
        }
    }

    /// Code `c`'s days, sorted (a day once per row).
    pub fn days(&self, c: usize) -> &[i32] {
        &self.days[self.start[c]..self.start[c + 1]]
    }

    /// Code `c`'s values, in the order of its days (empty when built without them).
    pub fn values(&self, c: usize) -> &[f64] {
        self.values
            .get(self.start[c]..self.start[c + 1])
            .unwrap_or(&[])
    }
}

/// Whether sorted `days` hold a day in `[from, to)`.
pub fn any_in(days: &[i32], from: i32, to: i32) -> bool {
    let i = days.partition_point(|&d| d < from);
    i < days.len() && days[i] < to
}
/// Net revenue (every transaction, returns included) per customer code, summed as
/// [`Money`] in row order: the one per-customer revenue of every report.
pub fn net_revenue(coded: &CodedTx, tx: &DataFrame) -> anyhow::Result<Vec<f64>> {
    let amounts = Amounts::of(tx)?;
    let mut out = vec![Money::ZERO; coded.ids.len()];
    for (c, a) in coded.code_amounts(&amounts) {
        if let (Some(c), Some(a)) = (c, a) {
            out[c as usize] += a;
        }
    }
    Ok(out.into_iter().map(Money::total).collect())
}

pub mod report;

/// A fixed pseudo-random sequence for tests (a 64-bit LCG): each call, a number below `m`.
#[cfg(test)]
pub(crate) fn lcg(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |m| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    }
}

/// A transactions frame for tests: customer ids, days (since 1970-01-01) and amounts.
#[cfg(test)]
pub(crate) fn rows_frame<S: AsRef<str>>(
    ids: &[S],
    days: &[i32],
    amounts: &[Option<f64>],
) -> DataFrame {
    let ids: Vec<&str> = ids.iter().map(|s| s.as_ref()).collect();
    DataFrame::new_infer_height(vec![
        Column::new("customer_id".into(), ids),
        Column::new("date".into(), days)
            .cast(&DataType::Date)
            .unwrap(),
        Column::new("amount".into(), amounts),
    ])
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grouping by customer: days sorted within each code (stably, so same-day values
    /// keep row order), and the days-only build has the same days and no values.
    #[test]
    fn by_customer_groups_and_sorts() {
        let rows = [
            (2, 5, 1.0),
            (0, 3, 2.0),
            (2, 4, 3.0),
            (2, 5, 4.0),
            (0, 1, 5.0),
        ];
        let b = ByCustomer::new(3, &rows);
        assert_eq!((b.days(0), b.values(0)), (&[1, 3][..], &[5.0, 2.0][..]));
        assert!(b.days(1).is_empty());
        assert_eq!(
            (b.days(2), b.values(2)),
            (&[4, 5, 5][..], &[3.0, 1.0, 4.0][..])
        );
        let d = ByCustomer::build_with(3, || rows.iter().copied(), false);
        for c in 0..3 {
            assert_eq!(d.days(c), b.days(c));
            assert!(d.values(c).is_empty());
        }
    }

    /// `report`'s shared grouping: kept purchases are lent (to the days-only callers too)
    /// and equal a fresh grouping, until released; another frame is grouped afresh.
    #[test]
    fn kept_purchases_are_lent_until_released() {
        let tx = crate::reports::segment::tests::fixture();
        let coded = CodedTx::new(&tx, None).unwrap();
        let built = coded.purchases_by_customer(&tx).unwrap();
        assert!(matches!(built, Purchases::Own(_)));
        coded.keep_purchases(&tx).unwrap();
        let lent = coded.purchases_by_customer(&tx).unwrap();
        let days = coded.purchase_days_by_customer(&tx).unwrap();
        assert!(matches!(lent, Purchases::Kept(_)));
        assert!(matches!(days, Purchases::Kept(_)));
        for c in 0..coded.ids.len() {
            assert_eq!(lent.days(c), built.days(c));
            assert_eq!(lent.values(c), built.values(c));
            assert_eq!(days.days(c), built.days(c));
        }
        let other = tx.slice(0, 3);
        assert!(matches!(
            coded.purchases_by_customer(&other).unwrap(),
            Purchases::Own(_)
        ));
        coded.release_purchases();
        assert!(matches!(
            coded.purchases_by_customer(&tx).unwrap(),
            Purchases::Own(_)
        ));
    }

    /// The rows read from the value slices (no nulls, chunks aligned) equal those read
    /// value by value (a null, or chunks that do not line up); with the amounts as `f64`
    /// and as the store's counts ([`crate::load::amounts`]) alike.
    #[test]
    fn coded_rows_plain_and_by_value_agree() {
        for counts in [false, true] {
            let frame = |ids: &[&str], days: &[i32], amounts: &[Option<f64>]| {
                let mut df = rows_frame(ids, days, amounts);
                if counts {
                    crate::load::amounts::scale_frame(&mut df).unwrap();
                    assert!(df.column("amount").is_err(), "held as counts");
                }
                df
            };
            // (two chunks, stacked at one scale as the loader stacks them)
            let stack = |a: DataFrame, b: DataFrame| {
                let mut parts = vec![a, b];
                crate::load::amounts::unify(&mut parts).unwrap();
                let mut all = parts.remove(0);
                all.vstack_mut_owned(parts.remove(0)).unwrap();
                all
            };
            let tx = stack(
                frame(&["b", "a"], &[3, 1], &[Some(2.0), Some(-1.0)]),
                frame(&["a", "c"], &[2, 5], &[Some(4.0), Some(0.5)]),
            );
            let coded = CodedTx::new(&tx, None).unwrap();
            let want = vec![(1, 3, 2.0), (0, 1, -1.0), (0, 2, 4.0), (2, 5, 0.5)];
            assert_eq!(coded.tx_rows(&tx).unwrap(), want);
            // Codes in one chunk against two chunks of days and amounts: read value after
            // value from each column's slices.
            assert_eq!(coded.rows.chunks().len(), 1);
            assert_eq!(tx.column("date").unwrap().n_chunks(), 2);
            assert_eq!(coded.tx_rows(&tx).unwrap(), want);
            // The same frame in one chunk: read from the slices.
            let mut one = tx.clone();
            one.rechunk_mut_par();
            assert_eq!(coded.tx_rows(&one).unwrap(), want);
            let bought = vec![(1, 3, 2.0), (0, 2, 4.0), (2, 5, 0.5)];
            assert_eq!(coded.purchases(&one).unwrap(), bought);
            assert_eq!(
                purchases(&one)
                    .collect()
                    .unwrap()
                    .column("amount")
                    .unwrap()
                    .f64()
                    .unwrap()
                    .to_vec(),
                [Some(2.0), Some(4.0), Some(0.5)]
            );
            assert!(any_purchase(&one).unwrap());
            // Codes and amounts, both ways.
            let pairs = |t: &DataFrame| -> Vec<(Option<u32>, Option<f64>)> {
                let a = Amounts::of(t).unwrap();
                coded.code_amounts(&a).collect()
            };
            let want_pairs: Vec<_> = want.iter().map(|r| (Some(r.0), Some(r.2))).collect();
            assert_eq!(pairs(&tx), want_pairs);
            assert_eq!(pairs(&one), want_pairs);
            // A null amount counts 0 in the rows and is not a purchase.
            let mut nulls = stack(
                frame(&["b", "a"], &[3, 1], &[None, Some(1.0)]),
                frame(&["a", "c"], &[2, 5], &[Some(4.0), Some(0.5)]),
            );
            nulls.rechunk_mut_par();
            assert_eq!(
                coded.tx_rows(&nulls).unwrap(),
                vec![(1, 3, 0.0), (0, 1, 1.0), (0, 2, 4.0), (2, 5, 0.5)]
            );
            assert_eq!(
                coded.purchases(&nulls).unwrap(),
                vec![(0, 1, 1.0), (0, 2, 4.0), (2, 5, 0.5)]
            );
            assert_eq!(net_revenue(&coded, &one).unwrap(), [3.0, 2.0, 0.5]);
            assert_eq!(net_revenue(&coded, &nulls).unwrap(), [5.0, 0.0, 0.5]);
        }
    }

    /// The sharded, parallel coding equals a plain sorted dictionary: on 200,000 rows
    /// (several pieces, in two chunks), with nulls, repeats in a row, and ids only in the
    /// customers file.
    #[test]
    fn ids_equal_a_sorted_dictionary() {
        let n = 200_000;
        let id = |i: usize| -> Option<String> {
            (!i.is_multiple_of(97))
                .then(|| format!("c{}", (i * 7919) % 30_011 + i.is_multiple_of(3) as usize))
        };
        let ids: Vec<Option<String>> = (0..n).map(id).collect();
        let half = n / 2;
        let mut a = DataFrame::new_infer_height(vec![Column::new(
            "customer_id".into(),
            ids[..half].to_vec(),
        )])
        .unwrap();
        a.vstack_mut(
            &DataFrame::new_infer_height(vec![Column::new(
                "customer_id".into(),
                ids[half..].to_vec(),
            )])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            a.column("customer_id")
                .unwrap()
                .str()
                .unwrap()
                .chunks()
                .len(),
            2
        );
        let cust = DataFrame::new_infer_height(vec![Column::new(
            "customer_id".into(),
            ["zz_only_here", "c5", "a_first"],
        )])
        .unwrap();
        let (got, rows) = Ids::with_codes(&a, Some(&cust)).unwrap();
        let mut want: Vec<&str> = ids
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(["zz_only_here", "c5", "a_first"])
            .collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(got.names.to_vec(), want);
        for (i, v) in ids.iter().enumerate() {
            let want = v.as_deref().map(|v| want.binary_search(&v).unwrap() as u32);
            assert_eq!(rows[i], want, "row {i}");
        }
        assert_eq!(got.code("a_first"), Some(0));
        assert_eq!(got.code("zz_only_here"), Some(want.len() as u32 - 1));
        assert_eq!(got.code("nobody"), None);
    }

    fn tx(ids: &[&str]) -> DataFrame {
        DataFrame::new_infer_height(vec![Column::new("customer_id".into(), ids)]).unwrap()
    }

    /// Regression: a fully refunded order over several lines is a return even
    /// when its floating-point net is a few 1e-14 above 0 (here, summed in row order).
    #[test]
    fn refunded_orders_stay_returns_under_float_rounding() {
        let lines = [
            ("a", "o1", 27.06),
            ("a", "o1", -86.13),
            ("a", "o1", 59.07),
            ("b", "o2", -123.49),
            ("b", "o2", 65.51),
            ("b", "o2", 57.98),
            ("b", "o3", 10.0),
            ("c", "o4", 10.0),
            ("c", "o4", -9.99),
        ];
        let plain: f64 = lines[..3].iter().map(|l| l.2).sum();
        assert!(plain > 0.0, "the row-order sum is {plain}");
        let df = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), lines.map(|l| l.0).to_vec()),
            Column::new("order_id".into(), lines.map(|l| l.1).to_vec()),
            Column::new("date".into(), vec![19_800i32; lines.len()])
                .cast(&DataType::Date)
                .unwrap(),
            Column::new("amount".into(), lines.map(|l| l.2).to_vec()),
        ])
        .unwrap();
        let p = purchases(&df)
            .sort(["customer_id"], Default::default())
            .collect()
            .unwrap();
        let ids: Vec<&str> = p
            .column("customer_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        // o3 is a purchase; o4 (net 0.01 > 0) is a partly refunded purchase.
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn ids_are_numbered_in_id_order() {
        let t = tx(&["c", "a", "c", "b"]);
        let cust = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), ["z", "a"]),
            Column::new("channel".into(), ["ads", "seo"]),
        ])
        .unwrap();
        let ids = Ids::new(&t, Some(&cust)).unwrap();
        assert_eq!(ids.names.to_vec(), ["a", "b", "c", "z"]);
        assert_eq!(ids.code("c"), Some(2));
        assert_eq!(ids.code("nobody"), None);
        assert_eq!(ids.codes(&t).unwrap(), [Some(2), Some(0), Some(2), Some(1)]);
        // The same pass codes the rows.
        let coded = CodedTx::new(&t, Some(&cust)).unwrap();
        assert_eq!(
            coded.rows.iter().collect::<Vec<_>>(),
            [Some(2), Some(0), Some(2), Some(1)]
        );
        // Groups from the customers file; customers without one are "(none)".
        let groups = customer_groups(&t, Some(&cust), "channel", "--by").unwrap();
        let (of, names) = coded.groups(groups).unwrap();
        assert_eq!(names, ["(none)", "ads", "seo"]);
        assert_eq!(of, [2, 0, 0, 1]);
    }
}
