//! `retention wallet`: share of wallet, share of customer, breadth, cross-sell and depth
//! (docs/metrics.md, section wallet).

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::bad;
use crate::load::ids::IdNames;
use crate::output::{num, pct, Report, View};
use crate::reports::segment::{col_f64, frame_of, rfm_grouped, Rules};
use crate::reports::{column, customer_groups, ByCustomer, Coded, CodedTx, FastMap, Ids, Money};
use rayon::slice::ParallelSliceMut;

/// Where the wallet comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum WalletSource {
    /// No wallet: share of wallet is left out.
    None,
    /// A wallet file: customer_id, optional category, wallet.
    File(DataFrame),
    /// Each wallet = the P90 of spend among customers of the same group (and category).
    Estimate,
}

#[derive(Clone, Debug)]
pub struct WalletParams {
    pub wallet: WalletSource,
    pub by: Option<String>,
    pub per_customer: bool,
}

impl WalletParams {
    /// The defaults (of the flags and `retention report`): no wallet, per RFM segment.
    pub const DEFAULT: WalletParams = WalletParams {
        wallet: WalletSource::None,
        by: None,
        per_customer: false,
    };
}

/// The customers' group label when no `--by` is given: their RFM segment.
pub const NO_PURCHASE: &str = "No purchase";

/// Quantile with linear interpolation between order statistics (type 7, as numpy and
/// pandas by default) of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// One customer (× category) of the per-customer output. Customers, categories and
/// groups are codes into [`Computed`]'s name tables; the shares, breadth and depth are
/// derived from it by [`Computed`]'s methods (40 bytes a row, not 104: a customer's
/// breadth and depth are kept once, not on each of its categories).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRow {
    pub customer: u32,
    pub group: u32,
    /// The category code; the empty category ("", code 0) when there are none.
    pub category: u32,
    /// Net spend with us in the window (returns included).
    pub spend: f64,
    pub wallet: Option<f64>,
}

/// Share of wallet: positive spend over the wallet, capped at 1 (the bool: it was capped;
/// a spend against a wallet of 0 is 1, capped). None without a wallet, or with neither.
fn wallet_share(spend: f64, wallet: Option<f64>) -> Option<(f64, bool)> {
    let w = wallet?;
    let s = spend.max(0.0);
    if w > 0.0 {
        let v = s / w;
        Some((v.min(1.0), v > 1.0))
    } else if s > 0.0 {
        Some((1.0, true))
    } else {
        None
    }
}

/// A customer's depth: mean purchase amount of the second half of their purchases minus
/// that of the first half (in date order; the middle purchase of an odd count is in
/// neither half). None for fewer than 2 purchases.
pub fn depth(amounts_in_date_order: &[f64]) -> Option<f64> {
    let n = amounts_in_date_order.len();
    if n < 2 {
        return None;
    }
    let h = n / 2;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    Some(mean(&amounts_in_date_order[n - h..]) - mean(&amounts_in_date_order[..h]))
}

/// Everything per customer, before grouping.
pub struct Computed<'a> {
    /// Rows sorted by (customer id, category).
    pub rows: Vec<CustomerRow>,
    /// Customer code → id (sorted).
    pub customers: Vec<&'a str>,
    /// Category code → name (sorted; code 0 is "", no category).
    pub categories: Vec<&'a str>,
    /// Group code → label.
    pub groups: Vec<String>,
    pub has_categories: bool,
    pub has_wallet: bool,
    /// Shares above 1 that were capped.
    pub capped: usize,
    /// Customers with purchases but no wallet row.
    pub without_wallet: usize,
    /// Group codes in report order (RFM segments best to worst; else sorted).
    pub group_order: Vec<u32>,
    /// Share of customer of every (customer with positive spend, category): (group,
    /// category, share), zeros included, whatever the wallet's granularity.
    pub soc: Vec<(u32, u32, f64)>,
    /// Customers with at least one purchase.
    pub buyers: usize,
    /// Per customer code: distinct categories bought (with categories, for buyers).
    breadth_of: Vec<Option<i64>>,
    /// Per customer code: depth ([`depth`]; None for fewer than 2 purchases).
    depth_of: Vec<Option<f64>>,
    /// Per customer code: positive spend over categories (share of customer's
    /// denominator; None when the customer has no (customer, category) spend).
    positive_total: Vec<Option<f64>>,
    /// Spend is per (customer, category), so share of customer applies.
    by_category: bool,
}

impl Computed<'_> {
    pub fn customer_id(&self, r: &CustomerRow) -> &str {
        self.customers[r.customer as usize]
    }
    pub fn category(&self, r: &CustomerRow) -> &str {
        self.categories[r.category as usize]
    }
    pub fn group(&self, r: &CustomerRow) -> &str {
        &self.groups[r.group as usize]
    }
    /// The row's spend over the customer's positive spend in all categories.
    pub fn share_of_customer(&self, r: &CustomerRow) -> Option<f64> {
        if !self.by_category {
            return None;
        }
        self.positive_total[r.customer as usize]
            .filter(|t| *t > 0.0)
            .map(|t| r.spend.max(0.0) / t)
    }
    pub fn share_of_wallet(&self, r: &CustomerRow) -> Option<f64> {
        wallet_share(r.spend, r.wallet).map(|x| x.0)
    }
    pub fn breadth(&self, r: &CustomerRow) -> Option<i64> {
        self.breadth_of[r.customer as usize]
    }
    pub fn depth(&self, r: &CustomerRow) -> Option<f64> {
        self.depth_of[r.customer as usize]
    }
}

/// A text column's values (null → "") borrowed from the frame.
fn texts<'a>(df: &'a DataFrame, name: &str) -> Result<Vec<&'a str>> {
    let c = df.column(name)?;
    let ca = c
        .str()
        .map_err(|_| bad(format!("column '{name}' must be text, not {}", c.dtype())))?;
    Ok(ca.iter().map(Option::unwrap_or_default).collect())
}

/// Net spend per customer, and per (customer, category) code pair (sorted, only the
/// pairs with a row), each summed in row order; distinct categories bought per customer.
struct CategorySpend {
    spend: Vec<f64>,
    in_tx: Vec<bool>,
    cat_spend: Vec<((u32, u32), f64)>,
    bought: Vec<i64>,
}

/// [`CategorySpend`] of the rows' amounts and category codes (`cats`, one per row, below
/// `nk`; None: no categories). `dense`: a cell per (customer, category), folded in one
/// pass (for few categories: no bigger than grouping the rows); else the rows are grouped
/// by customer and category. Both give the same bits: each pair sums its rows in row
/// order. A category counts as bought on a line that is not a return (amount ≥ 0).
fn category_spend(
    coded: &CodedTx,
    amounts: &crate::load::amounts::Amounts,
    cats: Option<&[u32]>,
    nk: usize,
    dense: bool,
) -> CategorySpend {
    let n = coded.ids.len();
    let mut spend = vec![Money::ZERO; n];
    let mut in_tx = vec![false; n];
    let mut cat_spend: Vec<((u32, u32), f64)> = Vec::new();
    let mut bought = vec![0i64; n];
    match cats {
        Some(row_cat) if dense => {
            // bits: 1 = a row, 2 = a purchase
            let mut cell = vec![Money::ZERO; n * nk];
            let mut seen = vec![0u8; n * nk];
            for ((c, a), k) in coded.code_amounts(amounts).zip(row_cat) {
                let Some(c) = c else { continue };
                let a = a.unwrap_or(0.0);
                spend[c as usize] += a;
                in_tx[c as usize] = true;
                let i = c as usize * nk + *k as usize;
                cell[i] += a;
                seen[i] |= 1 | (u8::from(a >= 0.0) << 1);
            }
            for (c, bought) in bought.iter_mut().enumerate() {
                for k in 0..nk {
                    let i = c * nk + k;
                    if seen[i] == 0 {
                        continue;
                    }
                    cat_spend.push(((c as u32, k as u32), cell[i].total()));
                    if k != 0 && seen[i] & 2 != 0 {
                        *bought += 1;
                    }
                }
            }
        }
        _ => {
            for (c, a) in coded.code_amounts(amounts) {
                let Some(c) = c else { continue };
                spend[c as usize] += a.unwrap_or(0.0);
                in_tx[c as usize] = true;
            }
            // (customer, category code, amount) per row, walked twice by ByCustomer (its
            // "day" is the category): grouped by customer, then category, stably.
            let by_cat = match cats {
                Some(row_cat) => ByCustomer::build(n, || {
                    coded
                        .code_amounts(amounts)
                        .zip(row_cat)
                        .filter_map(|((c, a), k)| Some((c?, *k as i32, a.unwrap_or(0.0))))
                }),
                None => ByCustomer::new(n, &[]),
            };
            for (c, bought) in bought.iter_mut().enumerate() {
                let (ks, vs) = (by_cat.days(c), by_cat.values(c));
                let mut i = 0;
                while i < ks.len() {
                    let j = i + ks[i..].iter().take_while(|k| **k == ks[i]).count();
                    let k = ks[i] as u32;
                    cat_spend.push(((c as u32, k), Money::of(vs[i..j].iter().copied())));
                    if k != 0 && vs[i..j].iter().any(|a| *a >= 0.0) {
                        *bought += 1;
                    }
                    i = j;
                }
            }
        }
    }
    CategorySpend {
        spend: spend.into_iter().map(Money::total).collect(),
        in_tx,
        cat_spend,
        bought,
    }
}

/// Compute the per-customer rows (pure).
pub fn compute<'a>(
    tx: &'a DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &'a WalletParams,
) -> Result<Computed<'a>> {
    compute_shared(None, tx, customers, as_of, p)
}

/// The categories, sorted, "" (no category) first, and each transaction row's category
/// as an index into them (a null category is "").
struct CategoryCoding<'a> {
    names: Vec<&'a str>,
    rows: Vec<u32>,
}

impl<'a> CategoryCoding<'a> {
    /// From text: each row hashed once (codes in order of appearance, "" is 0), then
    /// renumbered so that codes follow the sorted names (no text: no rows). `more`: names of
    /// the wallet file.
    fn of_text(text: Option<&'a StringChunked>, more: &[&'a str]) -> CategoryCoding<'a> {
        let mut seen: FastMap<&str, u32> = FastMap::default();
        seen.insert("", 0);
        let mut names: Vec<&str> = vec![""];
        let mut code_of = |k: &'a str| -> u32 {
            *seen.entry(k).or_insert_with(|| {
                names.push(k);
                names.len() as u32 - 1
            })
        };
        let mut rows: Vec<u32> = match text {
            Some(t) => t.iter().map(|k| code_of(k.unwrap_or_default())).collect(),
            None => Vec::new(),
        };
        for k in more {
            code_of(k);
        }
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by_key(|&i| names[i as usize]);
        let mut rank = vec![0u32; names.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        for k in rows.iter_mut() {
            *k = rank[*k as usize];
        }
        CategoryCoding {
            names: order.iter().map(|&i| names[i as usize]).collect(),
            rows,
        }
    }

    /// From the store's codes (into `stored`, sorted): no text is hashed; the names of
    /// `more` are merged in.
    fn of_codes(
        stored: &'a IdNames,
        codes: &UInt32Chunked,
        more: &[&'a str],
    ) -> CategoryCoding<'a> {
        let mut names: Vec<&str> = std::iter::once("")
            .chain(stored.iter())
            .chain(more.iter().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        let at = |k: &str| names.binary_search(&k).map_or(0, |i| i as u32);
        let rank: Vec<u32> = stored.iter().map(at).collect();
        let of = |c: u32| rank.get(c as usize).copied().unwrap_or(0);
        let rows = if codes.null_count() == 0 {
            codes
                .downcast_iter()
                .flat_map(|a| a.values().iter().map(|&c| of(c)))
                .collect()
        } else {
            codes.iter().map(|c| c.map_or(0, of)).collect()
        };
        CategoryCoding { names, rows }
    }
}

/// [`compute`] with the transactions' ids coded by the caller (used unless there is a
/// wallet file, whose ids are coded with the transactions').
pub fn compute_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &'a WalletParams,
) -> Result<Computed<'a>> {
    // The category held as codes by the store (wallet and report read it so), else the
    // text column of a frame built by hand.
    let stored = match tx.column(crate::load::CATEGORY_CODES) {
        Ok(c) => {
            let names = shared.and_then(|s| s.categories).ok_or_else(|| {
                anyhow::anyhow!("category codes without the store's category names")
            })?;
            Some((names, c.u32()?))
        }
        Err(_) => None,
    };
    let has_categories = stored.is_some() || tx.column("category").is_ok();
    let wallet_file = match &p.wallet {
        WalletSource::File(w) => Some(w),
        _ => None,
    };
    let wallet_has_cat = wallet_file.is_some_and(|w| w.column("category").is_ok());
    if wallet_has_cat && !has_categories {
        return Err(bad(
            "the wallet file has a category column but the transactions have none; \
             map it with --category-col NAME or drop the wallet file's category",
        ));
    }
    let by_category = has_categories && (wallet_file.is_none() || wallet_has_cat);

    // Customers (transactions and wallet file) and categories as codes in sorted order,
    // so that walking codes walks ids and names sorted, as the output is.
    // Without a wallet file, the transactions' own coding (which `report` shares).
    let coded = match (shared, wallet_file) {
        (Some(c), None) => Coded::Given(c),
        (Some(c), Some(w)) => Coded::Own(c.with_more(w)?),
        (None, _) => {
            let (ids, codes) = Ids::of(std::iter::once(tx).chain(wallet_file), tx.height() / 4)?;
            Coded::Own(CodedTx::from_parts(ids, codes))
        }
    };
    let ids = &coded.ids;
    let n = ids.len();
    let w_cats = if wallet_has_cat {
        texts(wallet_file.unwrap_or(tx), "category")?
    } else {
        Vec::new()
    };
    let CategoryCoding {
        names: categories,
        rows: row_cat,
    } = match stored {
        Some((names, codes)) => CategoryCoding::of_codes(names, codes, &w_cats),
        None if has_categories => {
            let c = tx.column("category")?;
            let text = c
                .str()
                .map_err(|_| bad(format!("column 'category' must be text, not {}", c.dtype())))?;
            CategoryCoding::of_text(Some(text), &w_cats)
        }
        None => CategoryCoding::of_text(None, &w_cats),
    };
    let kc = |k: &str| categories.binary_search(&k).map_or(0, |i| i as u32);

    let amounts = crate::load::amounts::Amounts::of(tx)?;
    let nk = categories.len();
    let dense = n.saturating_mul(nk) <= tx.height().max(1 << 16);
    let cats = has_categories.then_some(row_cat.as_slice());
    let CategorySpend {
        spend,
        in_tx,
        cat_spend,
        bought,
    } = category_spend(&coded, &amounts, cats, nk, dense);
    drop(row_cat);

    // Purchases in date order per customer (depth); same-day purchases by amount.
    let seq = coded.purchases_by_customer(tx)?;
    let mut depth_of: Vec<Option<Option<f64>>> = vec![None; n];
    let mut buyers = 0;
    for (c, d) in depth_of.iter_mut().enumerate() {
        let (days, values) = (seq.days(c), seq.values(c));
        if days.is_empty() {
            continue;
        }
        if days.windows(2).any(|w| w[0] == w[1]) {
            let mut pairs: Vec<(i32, f64)> =
                days.iter().copied().zip(values.iter().copied()).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let amounts: Vec<f64> = pairs.into_iter().map(|p| p.1).collect();
            *d = Some(depth(&amounts));
        } else {
            *d = Some(depth(values));
        }
        buyers += 1;
    }

    // Groups: --by, else the RFM segment (built-in table, 5 bins).
    let (group_of, mut groups) = match &p.by {
        Some(b) => coded.groups(customer_groups(tx, customers, b, "--by")?)?,
        None => {
            let mut names: Vec<String> = vec![NO_PURCHASE.to_string()];
            let rules = Rules::builtin();
            // segment position -> group, numbered in order of first appearance
            let mut index: Vec<Option<u32>> = vec![None; rules.report_order.len()];
            let mut of = vec![0u32; n];
            for x in rfm_grouped(&coded, tx, &seq, as_of, 5, &rules)? {
                let g = *index[x.segment as usize].get_or_insert_with(|| {
                    names.push(x.segment_name(&rules).to_string());
                    names.len() as u32 - 1
                });
                of[x.code as usize] = g;
            }
            (of, names)
        }
    };
    drop(seq);

    // Wallet lookup.
    let mut wallet: FastMap<(u32, u32), f64> = FastMap::default();
    let mut wallet_customers = vec![false; n];
    if let Some(w) = wallet_file {
        let wv = col_f64(w, "wallet")?;
        for (i, (c, v)) in ids.codes(w)?.into_iter().zip(wv).enumerate() {
            let Some(c) = c else { continue };
            let k = if wallet_has_cat { kc(w_cats[i]) } else { 0 };
            wallet_customers[c as usize] = true;
            wallet.insert((c, k), v.unwrap_or(0.0));
        }
    }

    // The (customer, category) cells: every category a customer spent in, plus every
    // wallet row (a wallet customer who never bought with us has spend 0).
    let mut cells: Vec<(u32, u32)> = if by_category {
        cat_spend.iter().map(|x| x.0).collect()
    } else {
        (0..n as u32)
            .filter(|c| in_tx[*c as usize])
            .map(|c| (c, 0))
            .collect()
    };
    cells.extend(wallet.keys().copied());
    cells.par_sort_unstable();
    cells.dedup();

    // A cell's spend. The cells are walked in their (sorted) order, as is `cat_spend`:
    // one pointer per walk instead of a search per cell.
    let spend_walk = || {
        let (cat_spend, spend) = (&cat_spend, &spend);
        let mut at = 0;
        move |c: u32, k: u32| -> f64 {
            if !by_category {
                return spend[c as usize];
            }
            while at < cat_spend.len() && cat_spend[at].0 < (c, k) {
                at += 1;
            }
            match cat_spend.get(at) {
                Some((key, v)) if *key == (c, k) => *v,
                _ => 0.0,
            }
        }
    };
    // Positive spend per customer over categories (share of customer's denominator).
    let mut positive_total: Vec<Option<Money>> = vec![None; n];
    for ((c, _), v) in &cat_spend {
        *positive_total[*c as usize].get_or_insert(Money::ZERO) += v.max(0.0);
    }
    let positive_total: Vec<Option<f64>> = positive_total
        .into_iter()
        .map(|t| t.map(Money::total))
        .collect();

    // Estimated wallets: P90 of positive spend per (group, category).
    let mut estimate: FastMap<(u32, u32), f64> = FastMap::default();
    if p.wallet == WalletSource::Estimate {
        let mut pools: FastMap<(u32, u32), Vec<f64>> = FastMap::default();
        let mut spend_of = spend_walk();
        for &(c, k) in &cells {
            let s = spend_of(c, k);
            if s > 0.0 {
                pools.entry((group_of[c as usize], k)).or_default().push(s);
            }
        }
        for (key, mut v) in pools {
            v.sort_by(f64::total_cmp);
            if let Some(q) = quantile(&v, 0.9) {
                estimate.insert(key, q);
            }
        }
    }

    let mut capped = 0;
    let mut rows = Vec::with_capacity(cells.len());
    let mut spend_of = spend_walk();
    for &(c, k) in &cells {
        let g = group_of[c as usize];
        let s = spend_of(c, k);
        let w = match &p.wallet {
            WalletSource::None => None,
            WalletSource::File(_) => wallet.get(&(c, k)).copied(),
            WalletSource::Estimate => estimate.get(&(g, k)).copied(),
        };
        if wallet_share(s, w).is_some_and(|x| x.1) {
            capped += 1;
        }
        rows.push(CustomerRow {
            customer: c,
            group: g,
            category: k,
            spend: s,
            wallet: w,
        });
    }
    let breadth_of: Vec<Option<i64>> = depth_of
        .iter()
        .zip(&bought)
        .map(|(d, b)| (has_categories && d.is_some()).then_some(*b))
        .collect();
    let depth_of: Vec<Option<f64>> = depth_of.into_iter().map(Option::flatten).collect();
    let without_wallet = match &p.wallet {
        WalletSource::File(_) => (0..n).filter(|&c| in_tx[c] && !wallet_customers[c]).count(),
        _ => 0,
    };
    // Groups that have rows, in report order.
    let mut used = vec![false; groups.len()];
    for r in &rows {
        used[r.group as usize] = true;
    }
    let mut group_order: Vec<u32> = (0..groups.len() as u32)
        .filter(|g| used[*g as usize])
        .collect();
    group_order.sort_by(|a, b| groups[*a as usize].cmp(&groups[*b as usize]));
    if p.by.is_none() {
        let mut rank: Vec<String> = Rules::builtin().report_order;
        rank.push(NO_PURCHASE.to_string());
        group_order.sort_by_key(|g| {
            rank.iter()
                .position(|x| *x == groups[*g as usize])
                .unwrap_or(rank.len())
        });
    }
    // Categories (non-empty) with transactions.
    let mut in_cats = vec![false; categories.len()];
    for ((_, k), _) in &cat_spend {
        in_cats[*k as usize] = true;
    }
    let all_cats: Vec<u32> = (1..categories.len() as u32)
        .filter(|k| in_cats[*k as usize])
        .collect();
    let mut soc = Vec::new();
    let mut at = 0;
    for (c, t) in positive_total.iter().enumerate() {
        let Some(t) = t.filter(|t| *t > 0.0) else {
            continue;
        };
        let g = group_of[c];
        for &k in &all_cats {
            // cat_spend is sorted: advance to (c, k).
            while at < cat_spend.len() && cat_spend[at].0 < (c as u32, k) {
                at += 1;
            }
            let v = match cat_spend.get(at) {
                Some(((cc, kk), v)) if (*cc, *kk) == (c as u32, k) => *v,
                _ => 0.0,
            };
            soc.push((g, k, v.max(0.0) / t));
        }
    }
    groups.shrink_to_fit();
    Ok(Computed {
        buyers,
        soc,
        group_order,
        rows,
        customers: coded.ids.names.to_vec(),
        categories,
        groups,
        has_categories,
        has_wallet: p.wallet != WalletSource::None,
        capped,
        without_wallet,
        breadth_of,
        depth_of,
        positive_total,
        by_category,
    })
}

/// One line of the overview: a metric's distribution over the customers of a group (and
/// category, for the category-level metrics; "(all)" otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Dist {
    pub group: String,
    pub category: String,
    pub metric: &'static str,
    pub customers: i64,
    pub mean: Option<f64>,
    pub p25: Option<f64>,
    pub median: Option<f64>,
    pub p75: Option<f64>,
}

pub const ALL: &str = "(all)";

fn dist(
    group: &str,
    category: &str,
    metric: &'static str,
    mut v: Vec<f64>,
    quartiles: bool,
) -> Dist {
    // Values equal by `total_cmp` are the same bits, so any sort gives the same order:
    // a long one in parallel.
    if v.len() > 1 << 16 {
        v.par_sort_unstable_by(f64::total_cmp);
    } else {
        v.sort_by(f64::total_cmp);
    }
    let q = |x: f64| if quartiles { quantile(&v, x) } else { None };
    Dist {
        group: group.to_string(),
        category: category.to_string(),
        metric,
        customers: v.len() as i64,
        mean: (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
        p25: q(0.25),
        median: q(0.5),
        p75: q(0.75),
    }
}

/// The overview: per group, share_of_wallet (per category and overall), share_of_customer
/// per category, breadth, cross_sell (mean = the cross-sell rate) and depth.
pub fn overview(c: &Computed) -> Vec<Dist> {
    let ng = c.groups.len();
    let nk = c.categories.len();
    let mut by_group: Vec<Vec<&CustomerRow>> = vec![Vec::new(); ng];
    for r in &c.rows {
        by_group[r.group as usize].push(r);
    }
    // Share of customer per (group, category).
    let mut soc: Vec<Vec<Vec<f64>>> = vec![Vec::new(); ng];
    if c.has_categories {
        for &(g, k, v) in &c.soc {
            let per = &mut soc[g as usize];
            if per.is_empty() {
                per.resize(nk, Vec::new());
            }
            per[k as usize].push(v);
        }
    }
    let mut in_rows = vec![false; nk];
    for r in &c.rows {
        in_rows[r.category as usize] = true;
    }
    // Non-empty categories of the rows, sorted.
    let cats: Vec<usize> = (1..nk).filter(|k| in_rows[*k]).collect();
    let mut out = Vec::new();
    for &gi in &c.group_order {
        let rows = &by_group[gi as usize];
        if rows.is_empty() {
            continue;
        }
        let g = c.groups[gi as usize].as_str();
        if c.has_wallet {
            let mut per_cat: Vec<Vec<f64>> = vec![Vec::new(); nk];
            for r in rows {
                if let Some(v) = c.share_of_wallet(r) {
                    per_cat[r.category as usize].push(v);
                }
            }
            for &k in &cats {
                let v = std::mem::take(&mut per_cat[k]);
                out.push(dist(g, c.categories[k], "share_of_wallet", v, true));
            }
            // Overall: the customer's spend over their wallet, summed over categories
            // (rows are sorted by customer, so a customer's rows are adjacent).
            let v = rows
                .chunk_by(|a, b| a.customer == b.customer)
                .filter_map(|rs| {
                    let (mut spend, mut wallet, mut any) = (Money::ZERO, Money::ZERO, false);
                    for r in rs {
                        if let Some(w) = r.wallet {
                            spend += r.spend.max(0.0);
                            wallet += w;
                            any = true;
                        }
                    }
                    let x = (spend.total(), wallet.total(), any);
                    (x.2 && (x.1 > 0.0 || x.0 > 0.0)).then(|| {
                        if x.1 > 0.0 {
                            (x.0 / x.1).min(1.0)
                        } else {
                            1.0
                        }
                    })
                })
                .collect();
            out.push(dist(g, ALL, "share_of_wallet", v, true));
        }
        if c.has_categories {
            // Customers of the group who spent but not in a category count as 0 there.
            for (k, v) in std::mem::take(&mut soc[gi as usize])
                .into_iter()
                .enumerate()
            {
                if !v.is_empty() {
                    out.push(dist(g, c.categories[k], "share_of_customer", v, true));
                }
            }
        }
        // Customer-level metrics: one value per customer (its first row).
        let first: Vec<&CustomerRow> = rows
            .chunk_by(|a, b| a.customer == b.customer)
            .map(|rs| rs[0])
            .collect();
        if c.has_categories {
            let breadth: Vec<f64> = first
                .iter()
                .filter_map(|r| c.breadth(r))
                .map(|b| b as f64)
                .collect();
            let cross: Vec<f64> = breadth
                .iter()
                .map(|b| if *b >= 2.0 { 1.0 } else { 0.0 })
                .collect();
            out.push(dist(g, ALL, "breadth", breadth, true));
            out.push(dist(g, ALL, "cross_sell", cross, false));
        }
        let depth: Vec<f64> = first.iter().filter_map(|r| c.depth(r)).collect();
        out.push(dist(g, ALL, "depth", depth, true));
    }
    // A metric no customer of the group has (e.g. a category nobody in it buys) is not a row.
    out.retain(|d| d.customers > 0);
    out
}

fn customers_frame(c: &Computed, by: Option<&str>, estimated: bool) -> Result<DataFrame> {
    let rows = &c.rows;
    let mut cols = Vec::new();
    cols.push(column("customer_id", rows, |r| c.customer_id(r)));
    cols.push(column(by.unwrap_or("segment"), rows, |r| c.group(r)));
    if c.has_categories && rows.iter().any(|r| r.category != 0) {
        cols.push(column("category", rows, |r| c.category(r)));
        cols.push(column("share_of_customer", rows, |r| {
            c.share_of_customer(r)
        }));
    }
    cols.push(column("spend", rows, |r| r.spend));
    if c.has_wallet {
        cols.push(column("wallet", rows, |r| r.wallet));
        cols.push(column("share_of_wallet", rows, |r| c.share_of_wallet(r)));
        cols.push(column("wallet_estimated", rows, |_| estimated));
    }
    if c.has_categories {
        cols.push(column("breadth", rows, |r| c.breadth(r)));
        cols.push(column("cross_sell", rows, |r| c.breadth(r).map(|b| b >= 2)));
    }
    cols.push(column("depth", rows, |r| c.depth(r)));
    frame_of(cols, Some(1), rows.len())
}

fn overview_frame(
    d: &[Dist],
    by: Option<&str>,
    wallet: bool,
    estimated: bool,
) -> Result<DataFrame> {
    let mut cols = vec![
        column(by.unwrap_or("segment"), d, |r| r.group.as_str()),
        column("category", d, |r| r.category.as_str()),
        column("metric", d, |r| r.metric),
        column("customers", d, |r| r.customers),
        column("mean", d, |r| r.mean),
        column("p25", d, |r| r.p25),
        column("median", d, |r| r.median),
        column("p75", d, |r| r.p75),
    ];
    if wallet {
        cols.push(column("wallet_estimated", d, |_| estimated));
    }
    frame_of(cols, Some(0), d.len())
}

fn overview_view(d: &[Dist], by: Option<&str>, title: String) -> View {
    let fmt = |metric: &str, v: Option<f64>| match metric {
        "share_of_wallet" | "share_of_customer" | "cross_sell" => pct(v),
        _ => v.map(num).unwrap_or_default(),
    };
    View {
        title: Some(title),
        header: [
            by.unwrap_or("segment"),
            "category",
            "metric",
            "customers",
            "mean",
            "p25",
            "median",
            "p75",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: d
            .iter()
            .map(|r| {
                vec![
                    r.group.clone(),
                    r.category.clone(),
                    r.metric.to_string(),
                    num(r.customers as f64),
                    fmt(r.metric, r.mean),
                    fmt(r.metric, r.p25),
                    fmt(r.metric, r.median),
                    fmt(r.metric, r.p75),
                ]
            })
            .collect(),
        fixed_columns: 3,
    }
}

/// The `wallet` report; `warnings` receives the stderr notes (capped shares, estimated
/// wallet, metrics left out).
pub fn run(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &WalletParams,
    warnings: &mut Vec<String>,
) -> Result<Report> {
    run_shared(None, tx, customers, as_of, p, warnings)
}

/// [`run`] with the transactions' ids coded by the caller (as [`compute_shared`]).
pub fn run_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &WalletParams,
    warnings: &mut Vec<String>,
) -> Result<Report> {
    let c = compute_shared(shared, tx, customers, as_of, p)?;
    let estimated = p.wallet == WalletSource::Estimate;
    let mut notes = Vec::new();
    if estimated {
        let m = "the wallet is ESTIMATED: each customer's wallet is the P90 of spend among \
                 customers of the same group and category (--estimate-wallet), not measured";
        notes.push(m.to_string());
        warnings.push(m.to_string());
    }
    if c.capped > 0 {
        warnings.push(format!(
            "{} share-of-wallet values above 1 (spend with us above the wallet) were capped at 1",
            c.capped
        ));
    }
    if c.without_wallet > 0 {
        warnings.push(format!(
            "{} customers with transactions have no row in the wallet file: no share of wallet",
            c.without_wallet
        ));
    }
    let mut left_out = Vec::new();
    if !c.has_wallet {
        left_out.push("share_of_wallet (give --wallet FILE or --estimate-wallet)");
    }
    if !c.has_categories {
        left_out.push(
            "share_of_customer, breadth and cross_sell (the transactions have no category column)",
        );
    }
    if !left_out.is_empty() {
        warnings.push(format!("left out: {}", left_out.join("; ")));
    }
    if c.buyers == 0 {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let grouping = match &p.by {
        Some(b) => format!("by {b}"),
        None => "by RFM segment".to_string(),
    };
    if p.per_customer {
        if c.has_categories && c.rows.iter().all(|r| r.category == 0) {
            warnings.push(
                "the wallet file has no category column: one row per customer; share_of_customer \
                 per category is in the overview (without --per-customer)"
                    .to_string(),
            );
        }
        let data = customers_frame(&c, p.by.as_deref(), estimated)?;
        return Ok(Report {
            data,
            views: vec![],
            percent_columns: vec!["share_of_wallet", "share_of_customer"],
            notes,
        });
    }
    let d = overview(&c);
    let title = format!(
        "Share of wallet, share of customer, breadth, cross-sell and depth {grouping}, as of {as_of}{}",
        if estimated { " (wallet ESTIMATED)" } else { "" }
    );
    notes.push(
        "cross_sell: mean = share of customers buying 2 or more categories; depth = change in \
         average order value from the first to the second half of a customer's purchases"
            .to_string(),
    );
    Ok(Report {
        views: vec![overview_view(&d, p.by.as_deref(), title)],
        data: overview_frame(&d, p.by.as_deref(), c.has_wallet, estimated)?,
        percent_columns: vec![],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::segment::tests::{d, fixture};
    use std::collections::BTreeSet;

    fn wallet(rows: &[(&str, &str, f64)]) -> DataFrame {
        DataFrame::new_infer_height(vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "category".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new(
                "wallet".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
        ])
        .unwrap()
    }

    fn params(w: WalletSource) -> WalletParams {
        WalletParams {
            wallet: w,
            by: None,
            per_customer: true,
        }
    }

    fn row<'a>(c: &'a Computed, id: &str, cat: &str) -> &'a CustomerRow {
        c.rows
            .iter()
            .find(|r| c.customer_id(r) == id && c.category(r) == cat)
            .unwrap()
    }

    #[test]
    fn quantiles_and_depth_by_hand() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        // P90 of 10, 20, …, 100: h = 8.1 → 90 + 0.1·10 = 91.
        let v: Vec<f64> = (1..=10).map(|i| i as f64 * 10.0).collect();
        assert!((quantile(&v, 0.9).unwrap() - 91.0).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
        // 10, 20, 30: halves {10} and {30} (20 is the middle) → +20.
        assert_eq!(depth(&[10.0, 20.0, 30.0]), Some(20.0));
        assert_eq!(depth(&[40.0, 10.0]), Some(-30.0));
        assert_eq!(depth(&[50.0]), None);
    }

    #[test]
    fn share_of_wallet_from_a_file() {
        let w = wallet(&[
            ("a", "apparel", 80.0),
            ("a", "shoes", 10.0),
            ("b", "home", 100.0),
            ("z", "home", 30.0),
        ]);
        let (tx, p) = (fixture(), params(WalletSource::File(w)));
        let c = compute(&tx, None, d("2024-04-01"), &p).unwrap();
        // a apparel: 40 / 80. a shoes: 20 / 10 → capped at 1. b home: 40 / 100.
        assert_eq!(c.share_of_wallet(row(&c, "a", "apparel")), Some(0.5));
        assert_eq!(c.share_of_wallet(row(&c, "a", "shoes")), Some(1.0));
        assert_eq!(c.capped, 1);
        assert_eq!(c.share_of_wallet(row(&c, "b", "home")), Some(0.4));
        // z never bought: spend 0, share 0, group "No purchase".
        let z = row(&c, "z", "home");
        assert_eq!((z.spend, c.share_of_wallet(z)), (0.0, Some(0.0)));
        assert_eq!(c.group(z), NO_PURCHASE);
        // c, d, e have transactions but no wallet rows.
        assert_eq!(c.share_of_wallet(row(&c, "c", "beauty")), None);
        assert_eq!(c.without_wallet, 3);
        // Share of customer: a spends 40 apparel, 20 shoes.
        assert_eq!(
            c.share_of_customer(row(&c, "a", "apparel")),
            Some(40.0 / 60.0)
        );
        // e (only returns, net −5) has no share of customer.
        assert_eq!(c.share_of_customer(row(&c, "e", "shoes")), None);
    }

    /// The one-pass cells (few categories) and the grouping of rows (many) give the same
    /// bits: every (customer, category) sums its rows in row order, returns included.
    /// Categories from the store's codes equal those hashed from text: the same sorted
    /// names ("" first) and row indexes, a null row and an empty text both "", with the
    /// wallet file's names merged in (one of them only in the wallet file).
    #[test]
    fn category_codes_and_text_agree() {
        let text: Vec<Option<&str>> = vec![
            Some("toys"),
            None,
            Some("books"),
            Some("toys"),
            Some(""),
            Some("garden"),
        ];
        let more = ["books", "music"];
        let ca: StringChunked = text.iter().copied().collect();
        let want = CategoryCoding::of_text(Some(&ca), &more);
        assert_eq!(want.names, vec!["", "books", "garden", "music", "toys"]);
        assert_eq!(want.rows, vec![4, 0, 1, 4, 0, 2]);
        // The store: codes numbered in name order by the loader's coder.
        let mut coder = crate::load::ids::IdCoder::new();
        let first: Vec<Option<u32>> = text.iter().map(|t| t.map(|k| coder.code(k))).collect();
        let mut used = vec![false; coder.code_bound()];
        first
            .iter()
            .flatten()
            .for_each(|&c| used[c as usize] = true);
        let (names, rank) = coder.finish(&used);
        let codes: UInt32Chunked = first.iter().map(|c| c.map(|c| rank[c as usize])).collect();
        let got = CategoryCoding::of_codes(&names, &codes, &more);
        assert_eq!(got.names, want.names);
        assert_eq!(got.rows, want.rows);
        // Without nulls (read from the value slices).
        let some: UInt32Chunked = codes.iter().map(|c| Some(c.unwrap_or(0))).collect();
        let got = CategoryCoding::of_codes(&names, &some, &[]);
        assert_eq!(got.names, vec!["", "books", "garden", "toys"]);
        assert_eq!(got.rows, vec![3, 0, 1, 3, 0, 2]);
    }

    #[test]
    fn category_spend_cells_and_grouping_agree() {
        let (mut ids, mut cats, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
        let mut x: u64 = 7;
        for _ in 0..2_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ids.push(format!("c{}", (x >> 33) % 97));
            cats.push((x >> 20) as u32 % 6);
            // cents from −20.00 to 79.99, a return one row in five
            amounts.push(((x >> 40) % 10_000) as f64 / 100.0 - 20.0);
        }
        let tx = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), &ids),
            Column::new("amount".into(), &amounts),
        ])
        .unwrap();
        let coded = CodedTx::new(&tx, None).unwrap();
        let a = crate::load::amounts::Amounts::of(&tx).unwrap();
        let one_pass = category_spend(&coded, &a, Some(&cats), 6, true);
        let grouped = category_spend(&coded, &a, Some(&cats), 6, false);
        assert_eq!(one_pass.cat_spend, grouped.cat_spend);
        assert_eq!(one_pass.spend, grouped.spend);
        assert_eq!(one_pass.in_tx, grouped.in_tx);
        assert_eq!(one_pass.bought, grouped.bought);
        assert!(one_pass.bought.iter().any(|b| *b >= 4));
        assert!(one_pass.cat_spend.windows(2).all(|w| w[0].0 < w[1].0));
        // Without categories: the customers' spend only.
        let none = category_spend(&coded, &a, None, 1, true);
        assert_eq!(none.spend, grouped.spend);
        assert!(none.cat_spend.is_empty());
    }

    #[test]
    fn breadth_cross_sell_depth_by_hand() {
        let (tx, p) = (fixture(), params(WalletSource::None));
        let c = compute(&tx, None, d("2024-04-01"), &p).unwrap();
        assert_eq!(c.breadth(row(&c, "a", "shoes")), Some(2));
        assert_eq!(c.breadth(row(&c, "b", "home")), Some(1));
        // e made no purchase: no breadth.
        assert_eq!(c.breadth(row(&c, "e", "shoes")), None);
        // a: 10, 20, 30 → +20. b: purchases 40, 10 (the return is not a purchase) → −30.
        // c: one purchase → none. d: 5, 5 → 0.
        assert_eq!(c.depth(row(&c, "a", "apparel")), Some(20.0));
        assert_eq!(c.depth(row(&c, "b", "home")), Some(-30.0));
        assert_eq!(c.depth(row(&c, "c", "beauty")), None);
        assert_eq!(c.depth(row(&c, "d", "shoes")), Some(0.0));
        // Overview with a single group: cross-sell = 1 of 4 buyers.
        let by = WalletParams {
            by: Some("nothing".into()),
            ..params(WalletSource::None)
        };
        assert!(compute(&fixture(), None, d("2024-04-01"), &by).is_err());
        let mut one = c;
        for r in &mut one.rows {
            r.group = 0;
        }
        one.groups = vec!["all".into()];
        one.group_order = vec![0];
        for x in &mut one.soc {
            x.0 = 0;
        }
        let o = overview(&one);
        let get = |m: &str, k: &str| o.iter().find(|x| x.metric == m && x.category == k).unwrap();
        let cs = get("cross_sell", ALL);
        assert_eq!((cs.customers, cs.mean), (4, Some(0.25)));
        assert_eq!(cs.median, None);
        let b = get("breadth", ALL);
        assert_eq!(b.mean, Some(5.0 / 4.0));
        // depth over a, b, d: 20, −30, 0 → mean −10/3, median 0.
        let dp = get("depth", ALL);
        assert_eq!((dp.customers, dp.median), (3, Some(0.0)));
        // Share of customer for shoes over the 4 customers with positive spend:
        // a 1/3, b 0, c 0, d 1 → mean 1/3.
        let sc = get("share_of_customer", "shoes");
        assert_eq!(sc.customers, 4);
        assert!((sc.mean.unwrap() - (1.0 / 3.0 + 1.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn estimated_wallet_is_the_p90_of_the_group() {
        let mut p = params(WalletSource::Estimate);
        p.by = Some("category_free".into());
        // Group everyone together through a customers column.
        let customers = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), ["a", "b", "c", "d", "e"]),
            Column::new("category_free".into(), ["g", "g", "g", "g", "g"]),
        ])
        .unwrap();
        let tx = fixture();
        let c = compute(&tx, Some(&customers), d("2024-04-01"), &p).unwrap();
        // Shoes spenders: a 20, d 10 → P90 = 10 + 0.9·10 = 19; a capped at 1, d 10/19.
        assert_eq!(row(&c, "a", "shoes").wallet, Some(19.0));
        assert_eq!(c.share_of_wallet(row(&c, "a", "shoes")), Some(1.0));
        assert_eq!(c.share_of_wallet(row(&c, "d", "shoes")), Some(10.0 / 19.0));
        let mut w = Vec::new();
        let r = run(&fixture(), Some(&customers), d("2024-04-01"), &p, &mut w).unwrap();
        assert!(w.iter().any(|x| x.contains("ESTIMATED")), "{w:?}");
        assert!(r.notes.iter().any(|x| x.contains("ESTIMATED")));
        let est = r.data.column("wallet_estimated").unwrap().bool().unwrap();
        assert!(est.iter().all(|v| v == Some(true)));
    }

    #[test]
    fn without_categories_or_wallet_metrics_are_left_out() {
        let t = fixture().drop("category").unwrap();
        let mut w = Vec::new();
        let p = WalletParams {
            per_customer: false,
            ..params(WalletSource::None)
        };
        let r = run(&t, None, d("2024-04-01"), &p, &mut w).unwrap();
        let metrics: BTreeSet<String> = (r.data.column("metric").unwrap().str().unwrap())
            .iter()
            .flatten()
            .map(String::from)
            .collect();
        assert_eq!(metrics.into_iter().collect::<Vec<_>>(), ["depth"]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("share_of_wallet") && w[0].contains("breadth"),
            "{w:?}"
        );
    }
}
