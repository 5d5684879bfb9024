//! `retention wallet`: share of wallet, share of customer, breadth, cross-sell and depth
//! (METRICS.md, section wallet).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::bad;
use crate::output::{num, pct, Report, View};
use crate::reports::column;
use crate::reports::segment::{
    col_f64, col_str, frame_of, group_map, group_of, purchase_rows, rfm_table, Rules,
};

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

/// One customer (× category) of the per-customer output.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRow {
    pub customer_id: String,
    pub group: String,
    /// "" when there are no categories.
    pub category: String,
    /// Net spend with us in the window (returns included).
    pub spend: f64,
    pub share_of_customer: Option<f64>,
    pub wallet: Option<f64>,
    pub share_of_wallet: Option<f64>,
    pub breadth: Option<i64>,
    pub depth: Option<f64>,
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
pub struct Computed {
    pub rows: Vec<CustomerRow>,
    pub has_categories: bool,
    pub has_wallet: bool,
    /// Shares above 1 that were capped.
    pub capped: usize,
    /// Customers with purchases but no wallet row.
    pub without_wallet: usize,
    /// Group labels in report order (RFM segments best to worst; else sorted).
    pub group_order: Vec<String>,
    /// Share of customer of every (customer with positive spend, category): (group,
    /// category, share), zeros included, whatever the wallet's granularity.
    pub soc: Vec<(String, String, f64)>,
    /// Customers with at least one purchase.
    pub buyers: usize,
}

/// Compute the per-customer rows (pure).
pub fn compute(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &WalletParams,
) -> Result<Computed> {
    let has_categories = tx.column("category").is_ok();
    if let WalletSource::File(w) = &p.wallet {
        if w.column("category").is_ok() && !has_categories {
            return Err(bad(
                "the wallet file has a category column but the transactions have none; \
                 map it with --category-col NAME or drop the wallet file's category",
            ));
        }
    }
    let by_category = has_categories
        && match &p.wallet {
            WalletSource::File(w) => w.column("category").is_ok(),
            _ => true,
        };

    // Net spend per customer and per (customer, category).
    let ids = col_str(tx, "customer_id")?;
    let amounts = col_f64(tx, "amount")?;
    let cats = if has_categories {
        Some(col_str(tx, "category")?)
    } else {
        None
    };
    let mut spend: BTreeMap<String, f64> = BTreeMap::new();
    let mut cat_spend: BTreeMap<(String, String), f64> = BTreeMap::new();
    // Distinct categories with a positive amount (bought), per customer.
    let mut bought: HashMap<String, BTreeSet<String>> = HashMap::new();
    for i in 0..ids.len() {
        let a = amounts[i].unwrap_or(0.0);
        *spend.entry(ids[i].clone()).or_default() += a;
        if let Some(c) = &cats {
            *cat_spend.entry((ids[i].clone(), c[i].clone())).or_default() += a;
            if a > 0.0 && !c[i].is_empty() {
                bought
                    .entry(ids[i].clone())
                    .or_default()
                    .insert(c[i].clone());
            }
        }
    }
    // Purchases in date order per customer (depth).
    let mut seq: HashMap<String, Vec<(i32, f64)>> = HashMap::new();
    for (c, d, a) in purchase_rows(tx)? {
        seq.entry(c).or_default().push((d, a));
    }
    let depth_of: HashMap<String, Option<f64>> = seq
        .iter_mut()
        .map(|(c, v)| {
            v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let amounts: Vec<f64> = v.iter().map(|x| x.1).collect();
            (c.clone(), depth(&amounts))
        })
        .collect();

    // Groups: --by, else the RFM segment (built-in table, 5 bins).
    let groups: HashMap<String, String> = match &p.by {
        Some(b) => {
            let m = group_map(tx, customers, b)?;
            spend.keys().map(|c| (c.clone(), group_of(&m, c))).collect()
        }
        None => rfm_table(tx, as_of, 5, &Rules::builtin())?
            .into_iter()
            .map(|x| (x.customer_id, x.segment))
            .collect(),
    };
    let by_map = match &p.by {
        Some(b) => Some(group_map(tx, customers, b)?),
        None => None,
    };
    let group = |c: &str| -> String {
        match &by_map {
            Some(m) => group_of(m, c),
            None => groups
                .get(c)
                .cloned()
                .unwrap_or_else(|| NO_PURCHASE.to_string()),
        }
    };

    // Wallet lookup.
    let mut wallet: HashMap<(String, String), f64> = HashMap::new();
    let mut wallet_customers: BTreeSet<String> = BTreeSet::new();
    if let WalletSource::File(w) = &p.wallet {
        let wid = col_str(w, "customer_id")?;
        let wcat = if w.column("category").is_ok() {
            col_str(w, "category")?
        } else {
            vec![String::new(); wid.len()]
        };
        let wv = col_f64(w, "wallet")?;
        for ((c, k), v) in wid.into_iter().zip(wcat).zip(wv) {
            wallet_customers.insert(c.clone());
            wallet.insert((c, k), v.unwrap_or(0.0));
        }
    }

    // The (customer, category) cells: every category a customer spent in, plus every
    // wallet row (a wallet customer who never bought with us has spend 0).
    let mut cells: BTreeSet<(String, String)> = BTreeSet::new();
    if by_category {
        cells.extend(cat_spend.keys().cloned());
    } else {
        cells.extend(spend.keys().map(|c| (c.clone(), String::new())));
    }
    cells.extend(wallet.keys().cloned());

    let spend_of = |c: &str, k: &str| -> f64 {
        if by_category {
            cat_spend
                .get(&(c.to_string(), k.to_string()))
                .copied()
                .unwrap_or(0.0)
        } else {
            spend.get(c).copied().unwrap_or(0.0)
        }
    };
    // Positive spend per customer over categories (share of customer's denominator).
    let mut positive_total: BTreeMap<&str, f64> = BTreeMap::new();
    for ((c, _), v) in &cat_spend {
        *positive_total.entry(c.as_str()).or_default() += v.max(0.0);
    }

    // Estimated wallets: P90 of positive spend per (group, category).
    let mut estimate: HashMap<(String, String), f64> = HashMap::new();
    if p.wallet == WalletSource::Estimate {
        let mut pools: HashMap<(String, String), Vec<f64>> = HashMap::new();
        for (c, k) in &cells {
            let s = spend_of(c, k);
            if s > 0.0 {
                pools.entry((group(c), k.clone())).or_default().push(s);
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
    for (c, k) in &cells {
        let g = group(c);
        let s = spend_of(c, k);
        let w = match &p.wallet {
            WalletSource::None => None,
            WalletSource::File(_) => wallet.get(&(c.clone(), k.clone())).copied(),
            WalletSource::Estimate => estimate.get(&(g.clone(), k.clone())).copied(),
        };
        let share_of_wallet = w.and_then(|w| {
            let s = s.max(0.0);
            if w > 0.0 {
                let v = s / w;
                if v > 1.0 {
                    capped += 1;
                }
                Some(v.min(1.0))
            } else if s > 0.0 {
                capped += 1;
                Some(1.0)
            } else {
                None
            }
        });
        let share_of_customer = if has_categories && by_category {
            positive_total
                .get(c.as_str())
                .filter(|t| **t > 0.0)
                .map(|t| s.max(0.0) / t)
        } else {
            None
        };
        rows.push(CustomerRow {
            customer_id: c.clone(),
            group: g,
            category: k.clone(),
            spend: s,
            share_of_customer,
            wallet: w,
            share_of_wallet,
            breadth: (has_categories && depth_of.contains_key(c.as_str()))
                .then(|| bought.get(c.as_str()).map_or(0, |b| b.len() as i64)),
            depth: depth_of.get(c.as_str()).copied().flatten(),
        });
    }
    let without_wallet = match &p.wallet {
        WalletSource::File(_) => spend
            .keys()
            .filter(|c| !wallet_customers.contains(*c))
            .count(),
        _ => 0,
    };
    let mut group_order: Vec<String> = rows
        .iter()
        .map(|r| r.group.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if p.by.is_none() {
        let mut rank: Vec<String> = Rules::builtin().report_order;
        rank.push(NO_PURCHASE.to_string());
        group_order.sort_by_key(|g| rank.iter().position(|x| x == g).unwrap_or(rank.len()));
    }
    let all_cats: BTreeSet<&str> = cat_spend
        .keys()
        .map(|(_, k)| k.as_str())
        .filter(|k| !k.is_empty())
        .collect();
    let mut soc = Vec::new();
    for (c, t) in &positive_total {
        if *t <= 0.0 {
            continue;
        }
        let g = group(c);
        for k in &all_cats {
            let v = cat_spend
                .get(&(c.to_string(), k.to_string()))
                .copied()
                .unwrap_or(0.0);
            soc.push((g.clone(), k.to_string(), v.max(0.0) / t));
        }
    }
    Ok(Computed {
        buyers: seq.len(),
        soc,
        group_order,
        rows,
        has_categories,
        has_wallet: p.wallet != WalletSource::None,
        capped,
        without_wallet,
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
    v.sort_by(f64::total_cmp);
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
    let mut by_group: BTreeMap<&str, Vec<&CustomerRow>> = BTreeMap::new();
    for r in &c.rows {
        by_group.entry(r.group.as_str()).or_default().push(r);
    }
    let groups = c
        .group_order
        .iter()
        .filter_map(|g| by_group.remove(g.as_str()).map(|rows| (g.as_str(), rows)));
    let mut out = Vec::new();
    let cats: BTreeSet<&str> = c
        .rows
        .iter()
        .map(|r| r.category.as_str())
        .filter(|k| !k.is_empty())
        .collect();
    for (g, rows) in groups {
        if c.has_wallet {
            for k in &cats {
                let v = rows
                    .iter()
                    .filter(|r| r.category == *k)
                    .filter_map(|r| r.share_of_wallet)
                    .collect();
                out.push(dist(g, k, "share_of_wallet", v, true));
            }
            // Overall: the customer's spend over their wallet, summed over categories.
            let mut per: BTreeMap<&str, (f64, f64, bool)> = BTreeMap::new();
            for r in &rows {
                if let Some(w) = r.wallet {
                    let e = per.entry(r.customer_id.as_str()).or_default();
                    e.0 += r.spend.max(0.0);
                    e.1 += w;
                    e.2 = true;
                }
            }
            let v = per
                .values()
                .filter(|x| x.2 && (x.1 > 0.0 || x.0 > 0.0))
                .map(|x| if x.1 > 0.0 { (x.0 / x.1).min(1.0) } else { 1.0 })
                .collect();
            out.push(dist(g, ALL, "share_of_wallet", v, true));
        }
        if c.has_categories {
            // Customers of the group who spent but not in a category count as 0 there.
            let mut per_cat: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for (_, k, v) in c.soc.iter().filter(|x| x.0 == g) {
                per_cat.entry(k.as_str()).or_default().push(*v);
            }
            for (k, v) in per_cat {
                out.push(dist(g, k, "share_of_customer", v, true));
            }
        }
        // Customer-level metrics: one value per customer.
        let mut seen: BTreeMap<&str, &CustomerRow> = BTreeMap::new();
        for r in &rows {
            seen.entry(r.customer_id.as_str()).or_insert(r);
        }
        if c.has_categories {
            let breadth: Vec<f64> = seen
                .values()
                .filter_map(|r| r.breadth)
                .map(|b| b as f64)
                .collect();
            let cross: Vec<f64> = breadth
                .iter()
                .map(|b| if *b >= 2.0 { 1.0 } else { 0.0 })
                .collect();
            out.push(dist(g, ALL, "breadth", breadth, true));
            out.push(dist(g, ALL, "cross_sell", cross, false));
        }
        let depth: Vec<f64> = seen.values().filter_map(|r| r.depth).collect();
        out.push(dist(g, ALL, "depth", depth, true));
    }
    // A metric no customer of the group has (e.g. a category nobody in it buys) is not a row.
    out.retain(|d| d.customers > 0);
    out
}

fn customers_frame(c: &Computed, by: Option<&str>, estimated: bool) -> Result<DataFrame> {
    let rows = &c.rows;
    let mut cols = Vec::new();
    cols.push(column("customer_id", rows, |r| r.customer_id.as_str()));
    cols.push(column(by.unwrap_or("segment"), rows, |r| r.group.as_str()));
    if c.has_categories && rows.iter().any(|r| !r.category.is_empty()) {
        cols.push(column("category", rows, |r| r.category.as_str()));
        cols.push(column("share_of_customer", rows, |r| r.share_of_customer));
    }
    cols.push(column("spend", rows, |r| r.spend));
    if c.has_wallet {
        cols.push(column("wallet", rows, |r| r.wallet));
        cols.push(column("share_of_wallet", rows, |r| r.share_of_wallet));
        cols.push(column("wallet_estimated", rows, |_| estimated));
    }
    if c.has_categories {
        cols.push(column("breadth", rows, |r| r.breadth));
        cols.push(column("cross_sell", rows, |r| r.breadth.map(|b| b >= 2)));
    }
    cols.push(column("depth", rows, |r| r.depth));
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
    let c = compute(tx, customers, as_of, p)?;
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
        return Err(bad(
            "no customer made a purchase (an order with a positive net amount)",
        ));
    }
    let grouping = match &p.by {
        Some(b) => format!("by {b}"),
        None => "by RFM segment".to_string(),
    };
    if p.per_customer {
        if c.has_categories && c.rows.iter().all(|r| r.category.is_empty()) {
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
            .find(|r| r.customer_id == id && r.category == cat)
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
        let c = compute(
            &fixture(),
            None,
            d("2024-04-01"),
            &params(WalletSource::File(w)),
        )
        .unwrap();
        // a apparel: 40 / 80. a shoes: 20 / 10 → capped at 1. b home: 40 / 100.
        assert_eq!(row(&c, "a", "apparel").share_of_wallet, Some(0.5));
        assert_eq!(row(&c, "a", "shoes").share_of_wallet, Some(1.0));
        assert_eq!(c.capped, 1);
        assert_eq!(row(&c, "b", "home").share_of_wallet, Some(0.4));
        // z never bought: spend 0, share 0, group "No purchase".
        let z = row(&c, "z", "home");
        assert_eq!((z.spend, z.share_of_wallet), (0.0, Some(0.0)));
        assert_eq!(z.group, NO_PURCHASE);
        // c, d, e have transactions but no wallet rows.
        assert_eq!(row(&c, "c", "beauty").share_of_wallet, None);
        assert_eq!(c.without_wallet, 3);
        // Share of customer: a spends 40 apparel, 20 shoes.
        assert_eq!(row(&c, "a", "apparel").share_of_customer, Some(40.0 / 60.0));
        // e (only returns, net −5) has no share of customer.
        assert_eq!(row(&c, "e", "shoes").share_of_customer, None);
    }

    #[test]
    fn breadth_cross_sell_depth_by_hand() {
        let c = compute(
            &fixture(),
            None,
            d("2024-04-01"),
            &params(WalletSource::None),
        )
        .unwrap();
        assert_eq!(row(&c, "a", "shoes").breadth, Some(2));
        assert_eq!(row(&c, "b", "home").breadth, Some(1));
        // e made no purchase: no breadth.
        assert_eq!(row(&c, "e", "shoes").breadth, None);
        // a: 10, 20, 30 → +20. b: purchases 40, 10 (the return is not a purchase) → −30.
        // c: one purchase → none. d: 5, 5 → 0.
        assert_eq!(row(&c, "a", "apparel").depth, Some(20.0));
        assert_eq!(row(&c, "b", "home").depth, Some(-30.0));
        assert_eq!(row(&c, "c", "beauty").depth, None);
        assert_eq!(row(&c, "d", "shoes").depth, Some(0.0));
        // Overview with a single group: cross-sell = 1 of 4 buyers.
        let by = WalletParams {
            by: Some("nothing".into()),
            ..params(WalletSource::None)
        };
        assert!(compute(&fixture(), None, d("2024-04-01"), &by).is_err());
        let mut one = c;
        for r in &mut one.rows {
            r.group = "all".into();
        }
        one.group_order = vec!["all".into()];
        for x in &mut one.soc {
            x.0 = "all".into();
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
        let c = compute(&fixture(), Some(&customers), d("2024-04-01"), &p).unwrap();
        // Shoes spenders: a 20, d 10 → P90 = 10 + 0.9·10 = 19; a capped at 1, d 10/19.
        assert_eq!(row(&c, "a", "shoes").wallet, Some(19.0));
        assert_eq!(row(&c, "a", "shoes").share_of_wallet, Some(1.0));
        assert_eq!(row(&c, "d", "shoes").share_of_wallet, Some(10.0 / 19.0));
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
        let metrics: BTreeSet<String> = col_str(&r.data, "metric").unwrap().into_iter().collect();
        assert_eq!(metrics.into_iter().collect::<Vec<_>>(), ["depth"]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("share_of_wallet") && w[0].contains("breadth"),
            "{w:?}"
        );
    }
}
