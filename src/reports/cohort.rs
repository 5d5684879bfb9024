//! `retention cohort`: cohort retention matrices (docs/metrics.md, section cohort).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::charts::{Chart, Heatmap};
use crate::error::bad;
use crate::output::{num, pct, Report, View};
use crate::params::{CohortBy, CohortMetric, CohortMode};
use crate::period::{date_from_days, Period};
use crate::reports::{
    column, customer_groups, set_bits, Coded, CodedTx, FastMap, Money, Purchases,
};

#[derive(Clone, Debug)]
pub struct CohortParams {
    pub period: Period,
    pub by: CohortBy,
    pub mode: CohortMode,
    pub metric: CohortMetric,
    pub max_periods: Option<u32>,
    pub group: Option<String>,
}

impl CohortParams {
    /// The defaults (of the flags, `retention report` and `retention sql cohort`).
    pub const DEFAULT: CohortParams = CohortParams {
        period: Period::Month,
        by: CohortBy::FirstPurchase,
        mode: CohortMode::Classic,
        metric: CohortMetric::Customers,
        max_periods: None,
        group: None,
    };
}

impl Default for CohortParams {
    fn default() -> Self {
        CohortParams::DEFAULT
    }
}

/// One cell of the long output.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub group: String,
    pub cohort: i32,
    pub k: i32,
    pub size: i64,
    pub active: Option<i64>,
    pub retention: Option<f64>,
    pub revenue: Option<f64>,
    pub revenue_retention: Option<f64>,
    pub partial: bool,
}

/// Day → period index over a range of days: a table lookup per row instead of a date
/// conversion (days outside the range are converted).
pub(crate) struct PeriodTable {
    period: Period,
    first: i32,
    idx: Vec<i32>,
}

impl PeriodTable {
    /// A table for the days `lo..=hi`.
    pub(crate) fn new(period: Period, lo: i32, hi: i32) -> PeriodTable {
        let idx = (lo..=hi).map(|d| period.index(date_from_days(d))).collect();
        PeriodTable {
            period,
            first: lo,
            idx,
        }
    }

    pub(crate) fn get(&self, day: i32) -> i32 {
        usize::try_from(i64::from(day) - i64::from(self.first))
            .ok()
            .and_then(|i| self.idx.get(i))
            .copied()
            .unwrap_or_else(|| self.period.index(date_from_days(day)))
    }
}

/// Each customer's active periods: the periods (of a [`PeriodTable`]) that hold one of
/// their purchases, which is all cohorts read of the purchases. Where there are few
/// periods a bit per (customer, period) holds them (a month over five years: 8 bytes a
/// customer), instead of every purchase day grouped by customer (4 bytes a purchase and
/// 8 a customer); `report`'s kept grouping is read as it is.
pub(crate) enum ActivePeriods {
    Days(Purchases, PeriodTable),
    /// `stride` words per customer code; bit `j` of a code's words: period `base + j`.
    Bits {
        words: Vec<u64>,
        stride: usize,
        base: i32,
    },
}

impl ActivePeriods {
    /// The active periods of `tx`'s purchases, by `period`.
    pub(crate) fn of(coded: &CodedTx, tx: &DataFrame, period: Period) -> Result<ActivePeriods> {
        let (days, lo, hi) = tx_days(tx)?;
        let table = PeriodTable::new(period, lo, hi);
        if let Some(kept) = coded.lent_purchases(tx) {
            return Ok(ActivePeriods::Days(kept, table));
        }
        let (base, top) = (table.get(lo), table.get(hi));
        let stride = (top - base) as usize / 64 + 1;
        let n = coded.ids.len();
        // (orders that span rows are grouped first: the grouping's purchase days)
        let bits_bytes = n.saturating_mul(stride).saturating_mul(8);
        if !crate::reports::rows_are_orders(tx) || bits_bytes > tx.height().saturating_mul(4) {
            return Ok(ActivePeriods::Days(
                coded.purchase_days_by_customer(tx)?,
                table,
            ));
        }
        let mut words = vec![0u64; n * stride];
        let amounts = crate::load::amounts::Amounts::of(tx)?;
        for (c, d, _) in coded.row_purchases(days.date()?.physical(), &amounts) {
            let j = (table.get(d) - base) as usize;
            words[c as usize * stride + j / 64] |= 1 << (j % 64);
        }
        Ok(ActivePeriods::Bits {
            words,
            stride,
            base,
        })
    }

    /// Code `c`'s first active period.
    pub(crate) fn first(&self, c: usize) -> Option<i32> {
        match self {
            ActivePeriods::Days(b, table) => b.days(c).first().map(|&d| table.get(d)),
            ActivePeriods::Bits {
                words,
                stride,
                base,
            } => set_bits(&words[c * stride..(c + 1) * stride])
                .next()
                .map(|j| base + j as i32),
        }
    }

    /// Code `c`'s active periods, in order, each once.
    pub(crate) fn each(&self, c: usize, mut f: impl FnMut(i32)) {
        match self {
            ActivePeriods::Days(b, table) => {
                let mut prev = None;
                for &d in b.days(c) {
                    let p = table.get(d);
                    if prev != Some(p) {
                        prev = Some(p);
                        f(p);
                    }
                }
            }
            ActivePeriods::Bits {
                words,
                stride,
                base,
            } => set_bits(&words[c * stride..(c + 1) * stride]).for_each(|j| f(base + j as i32)),
        }
    }
}

/// The transactions' days (a `Date` column as days) and the smallest and largest day.
pub(crate) fn tx_days(tx: &DataFrame) -> Result<(Column, i32, i32)> {
    let c = tx.column("date")?.cast(&DataType::Date)?;
    let d = c.date()?.physical();
    let (lo, hi) = (d.min().unwrap_or(0), d.max().unwrap_or(0));
    Ok((c, lo, hi))
}

/// Compute the cohort cells (pure: frames and parameters in, cells out).
pub fn cohort_cells(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
    notes: &mut Vec<String>,
) -> Result<Vec<Cell>> {
    cohort_cells_shared(None, tx, customers, as_of, p, notes)
}

/// [`cohort_cells`] with the ids coded by the caller: the transactions' ids, and the
/// customers' too for signup cohorts.
pub fn cohort_cells_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
    notes: &mut Vec<String>,
) -> Result<Vec<Cell>> {
    // Signup cohorts hold customers who never bought: code the customers file too.
    let coded = match p.by {
        CohortBy::FirstPurchase => Coded::or_new(shared, tx, None)?,
        CohortBy::Signup => Coded::or_new(shared, tx, customers)?,
    };
    // (cohorts read the periods with a purchase only)
    let active = ActivePeriods::of(&coded, tx, p.period)?;
    let cohort = assign_cohorts(&coded, &active, customers, as_of, p, notes)?;
    let groups = match &p.group {
        Some(g) => Some(coded.groups(customer_groups(tx, customers, g, "--group")?)?),
        None => None,
    };
    let groups = groups.as_ref().map(|(c, n)| (c.as_slice(), n.as_slice()));
    coded_cells(&coded, &active, tx, &cohort, groups, as_of, p)
}

/// Each code's cohort period (None: in no cohort), from the periods with a purchase.
pub(crate) fn assign_cohorts(
    coded: &CodedTx,
    active: &ActivePeriods,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
    notes: &mut Vec<String>,
) -> Result<Vec<Option<i32>>> {
    let period = p.period;
    let mut cohort = vec![None; coded.ids.len()];
    match p.by {
        CohortBy::FirstPurchase => {
            for (c, cohort) in cohort.iter_mut().enumerate() {
                *cohort = active.first(c);
            }
        }
        CohortBy::Signup => {
            let c = customers
                .filter(|c| c.column("signup_date").is_ok())
                .ok_or_else(|| {
                    bad("--by signup needs a customers file (-c) with a signup date column")
                })?;
            let missing = c.column("signup_date")?.null_count();
            if missing > 0 {
                notes.push(format!(
                    "{missing} customers without a signup date are not in any cohort"
                ));
            }
            let asof_p = period.index(as_of);
            let days = c.column("signup_date")?.cast(&DataType::Date)?;
            for (code, d) in coded
                .codes(c)?
                .into_iter()
                .zip(days.date()?.physical().iter())
            {
                if let (Some(code), Some(d)) = (code, d) {
                    let ci = period.index(date_from_days(d));
                    if ci <= asof_p {
                        cohort[code as usize] = Some(ci);
                    }
                }
            }
        }
    }
    Ok(cohort)
}

/// The cells from each code's cohort and group (index into the sorted group names;
/// without groups the group is ""). Cohort sizes, active counts and revenue are counted
/// in one pass each over the customers, their purchase days and the transaction rows.
pub(crate) fn coded_cells(
    coded: &CodedTx,
    active: &ActivePeriods,
    tx: &DataFrame,
    cohort: &[Option<i32>],
    groups: Option<(&[u32], &[String])>,
    as_of: NaiveDate,
    p: &CohortParams,
) -> Result<Vec<Cell>> {
    let period = p.period;
    let asof_p = period.index(as_of);
    let no_group = [String::new()];
    let group_of = |code: usize| groups.map_or(0, |(of, _)| of[code]);
    let names = groups.map_or(&no_group[..], |(_, n)| n);
    // One slot per (group, cohort) with its size; each customer's slot.
    let mut slot_of: FastMap<(u32, i32), u32> = FastMap::default();
    let mut slots: Vec<(u32, i32, i64)> = Vec::new();
    let mut cust_slot = vec![u32::MAX; cohort.len()];
    for (code, c) in cohort.iter().enumerate() {
        let Some(c) = *c else { continue };
        let g = group_of(code);
        let s = *slot_of.entry((g, c)).or_insert_with(|| {
            slots.push((g, c, 0));
            (slots.len() - 1) as u32
        });
        slots[s as usize].2 += 1;
        cust_slot[code] = s;
    }
    let Some(first) = slots.iter().map(|s| s.1).min() else {
        return Ok(Vec::new());
    };
    let (days, lo, hi) = tx_days(tx)?;
    let table = PeriodTable::new(period, lo, hi);
    // k runs from 0 to the last period with data (or as-of).
    let last = table.get(hi).max(asof_p);
    let nk = (last - first + 1).max(1) as usize;
    let at = |s: u32, k: i32| s as usize * nk + k as usize;

    let mut count = vec![0i64; slots.len() * nk];
    for (code, &s) in cust_slot.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let c = slots[s as usize].1;
        // (periods come in order, each once)
        let mut latest = None;
        active.each(code, |period| {
            let k = period - c;
            if k < 0 {
                return;
            }
            match p.mode {
                CohortMode::Classic => count[at(s, k)] += 1,
                CohortMode::Rolling => latest = Some(k),
            }
        });
        // Rolling: count customers by their last active k; active at ≥ k is a suffix sum.
        if let Some(k) = latest {
            count[at(s, k)] += 1;
        }
    }
    // Net revenue (returns included) per cell, in transaction row order.
    let mut rev = vec![Money::ZERO; slots.len() * nk];
    let amounts = crate::load::amounts::Amounts::of(tx)?;
    for (code, d, a) in coded.coded_rows(days.date()?.physical(), &amounts) {
        let Some(a) = a else {
            continue;
        };
        let s = cust_slot[code as usize];
        if s == u32::MAX {
            continue;
        }
        let k = table.get(d) - slots[s as usize].1;
        if k >= 0 {
            rev[at(s, k)].add(a);
        }
    }

    let partial_asof = as_of < period.end(asof_p);
    let mut kmax = asof_p - first;
    if let Some(m) = p.max_periods {
        kmax = kmax.min(m as i32);
    }
    let mut order: Vec<u32> = (0..slots.len() as u32).collect();
    order.sort_unstable_by_key(|&s| (slots[s as usize].0, slots[s as usize].1));
    let mut cells = Vec::new();
    for s in order {
        let (g, c, n) = slots[s as usize];
        let inside = |k: i32| (0..nk as i32).contains(&k);
        let cnt = |k: i32| if inside(k) { count[at(s, k)] } else { 0 };
        let revenue_at = |k: i32| {
            if inside(k) {
                rev[at(s, k)].total()
            } else {
                0.0
            }
        };
        let rev0 = revenue_at(0);
        for k in 0..=kmax {
            let observed = c + k <= asof_p;
            let active = observed.then(|| match p.mode {
                CohortMode::Classic => cnt(k),
                CohortMode::Rolling => (k..=asof_p - c).map(cnt).sum(),
            });
            let revenue = observed.then(|| revenue_at(k));
            cells.push(Cell {
                group: names[g as usize].clone(),
                cohort: c,
                k,
                size: n,
                active,
                retention: active.filter(|_| n > 0).map(|a| a as f64 / n as f64),
                revenue,
                revenue_retention: revenue.filter(|_| rev0 > 0.0).map(|r| r / rev0),
                partial: partial_asof && c + k == asof_p,
            });
        }
    }
    Ok(cells)
}

/// The long/tidy frame of docs/metrics.md.
pub fn cells_frame(cells: &[Cell], period: Period, group: Option<&str>) -> Result<DataFrame> {
    let mut cols = Vec::new();
    if let Some(g) = group {
        cols.push(column(g, cells, |c| c.group.as_str()));
    }
    cols.extend([
        column("cohort", cells, |c| period.label(c.cohort)),
        column("period_index", cells, |c| c.k as i64),
        column("cohort_size", cells, |c| c.size),
        column("active", cells, |c| c.active),
        column("retention", cells, |c| c.retention),
        column("revenue", cells, |c| c.revenue),
        column("revenue_retention", cells, |c| c.revenue_retention),
        column("partial_period", cells, |c| c.partial),
    ]);
    Ok(DataFrame::new(cells.len(), cols)?)
}

/// The cohort × k matrices for people, shared by the reports that have them (cohort, ltv):
/// one view per group, a row per cohort with the `lead` cells (size, …) first, then one
/// cell per k. `key` gives an item's (group, cohort, k).
pub struct Matrix<'a> {
    pub period: Period,
    /// The grouping column's name, when grouped (a subtitle per group).
    pub by: Option<&'a str>,
    pub title: &'a str,
    /// Headers of the leading cells after "cohort".
    pub lead: &'a [&'a str],
}

impl Matrix<'_> {
    pub fn views<T>(
        &self,
        items: &[T],
        key: impl Fn(&T) -> (&str, i32, i32),
        lead: impl Fn(&T) -> Vec<String>,
        cell: impl Fn(&T) -> String,
    ) -> Vec<View> {
        let mut groups: BTreeMap<&str, BTreeMap<i32, Vec<&T>>> = BTreeMap::new();
        for x in items {
            let (g, c, _) = key(x);
            groups.entry(g).or_default().entry(c).or_default().push(x);
        }
        let ks: BTreeSet<i32> = items.iter().map(|x| key(x).2).collect();
        let mut header = vec!["cohort".to_string()];
        header.extend(self.lead.iter().map(|h| h.to_string()));
        header.extend(ks.iter().map(|k| k.to_string()));
        groups
            .into_iter()
            .enumerate()
            .map(|(i, (g, rows))| {
                let sub = self.by.map(|col| format!("{col} = {g}"));
                let title = match (i, sub) {
                    (0, Some(s)) => Some(format!("{}\n{s}", self.title)),
                    (0, None) => Some(self.title.to_string()),
                    (_, s) => s,
                };
                let rows = rows
                    .into_iter()
                    .map(|(c, xs)| {
                        let mut r = vec![self.period.label(c)];
                        r.extend(lead(xs[0]));
                        r.extend(xs.iter().map(|x| cell(x)));
                        r
                    })
                    .collect();
                View {
                    title,
                    header: header.clone(),
                    rows,
                    fixed_columns: 1 + self.lead.len(),
                }
            })
            .collect()
    }
}

/// A matrix cell: the value, marked `*` in the partial as-of period.
pub fn mark_partial(mut s: String, partial: bool) -> String {
    if partial && !s.is_empty() {
        s.push('*');
    }
    s
}

/// Matrices for people: one per group, rows cohorts, columns k.
fn views(cells: &[Cell], p: &CohortParams, title: &str) -> Vec<View> {
    let m = Matrix {
        period: p.period,
        by: p.group.as_deref(),
        title,
        lead: &["size"],
    };
    m.views(
        cells,
        |x| (x.group.as_str(), x.cohort, x.k),
        |x| vec![num(x.size as f64)],
        |x| {
            let v = match p.metric {
                CohortMetric::Customers => x.retention,
                CohortMetric::Revenue => x.revenue_retention,
            };
            mark_partial(pct(v), x.partial)
        },
    )
}

/// The `cohort` report.
pub fn run(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
) -> Result<Report> {
    Ok(run_cells(tx, customers, as_of, p)?.0)
}

/// [`run`], and its cells for [`chart`].
pub fn run_cells(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
) -> Result<(Report, Vec<Cell>)> {
    run_cells_shared(None, tx, customers, as_of, p)
}

/// [`run_cells`] with the ids coded by the caller (as [`cohort_cells_shared`]).
pub fn run_cells_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    as_of: NaiveDate,
    p: &CohortParams,
) -> Result<(Report, Vec<Cell>)> {
    let mut notes = Vec::new();
    let cells = cohort_cells_shared(shared, tx, customers, as_of, p, &mut notes)?;
    if cells.is_empty() {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let data = cells_frame(&cells, p.period, p.group.as_deref())?;
    let by = match p.by {
        CohortBy::FirstPurchase => "first purchase",
        CohortBy::Signup => "signup",
    };
    let what = match (p.metric, p.mode) {
        (CohortMetric::Customers, CohortMode::Classic) => "Customer retention",
        (CohortMetric::Customers, CohortMode::Rolling) => "Rolling customer retention",
        (CohortMetric::Revenue, _) => "Revenue retention",
    };
    let title = format!(
        "{what} by {} of {by} (k = {}s since), as of {as_of}",
        p.period.name(),
        p.period.name()
    );
    let asof_p = p.period.index(as_of);
    if as_of < p.period.end(asof_p) {
        notes.push(format!(
            "* {} is a partial period (data up to {as_of})",
            p.period.label(asof_p)
        ));
    }
    let report = Report {
        data,
        views: views(&cells, p, &title),
        percent_columns: vec!["retention", "revenue_retention"],
        notes,
    };
    Ok((report, cells))
}

/// `cohort --chart`: cohorts × k heatmap of the metric the table shows, from the cells.
pub fn chart(cells: &[Cell], p: &CohortParams, data: &str, as_of: &str) -> Chart {
    let revenue = p.metric == CohortMetric::Revenue;
    let labels: Vec<String> = cells
        .iter()
        .map(|c| match &p.group {
            Some(_) => format!("{} · {}", c.group, p.period.label(c.cohort)),
            None => p.period.label(c.cohort),
        })
        .collect();
    let rows = crate::charts::ordered_unique(&labels);
    let max_k = cells.iter().map(|c| c.k).max().unwrap_or(0).max(0) as usize;
    let mut values = vec![vec![None; max_k + 1]; rows.len()];
    let index: std::collections::HashMap<&String, usize> =
        rows.iter().enumerate().map(|(i, r)| (r, i)).collect();
    for (c, label) in cells.iter().zip(&labels) {
        if let (true, Some(&r)) = (c.k >= 0, index.get(label)) {
            values[r][c.k as usize] = if revenue {
                c.revenue_retention
            } else {
                c.retention
            };
        }
    }
    let what = if revenue {
        "revenue in period k / revenue in period 0"
    } else {
        "share of the cohort's customers active in period k"
    };
    Chart::Heatmap(Heatmap {
        title: format!("Cohort retention — {data}, as of {as_of}"),
        x_desc: format!("k (periods since the cohort's start) — {what}"),
        y_desc: "cohort".into(),
        rows,
        columns: (0..=max_k).map(|k| k.to_string()).collect(),
        values,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::period::days_since_epoch;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The active periods held as bits (few periods, rows are orders) equal those read
    /// from the purchase days grouped by customer: first period and every period, by
    /// week, month and quarter, on pseudo-random rows with returns and free orders.
    #[test]
    fn active_period_bits_equal_the_grouped_days() {
        let mut next = crate::reports::lcg(7);
        let base = days_since_epoch(d("2022-01-01"));
        let rows: Vec<(String, String, f64, String)> = (0..3000)
            .map(|i| {
                let c = format!("c{:03}", next(40));
                let day = date_from_days(base + next(900) as i32).to_string();
                let a = next(50) as f64 - 10.0;
                (c, day, a, format!("o{i}"))
            })
            .collect();
        let refs: Vec<(&str, &str, f64, &str)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2, r.3.as_str()))
            .collect();
        let tx = tx(&refs);
        let coded = CodedTx::new(&tx, None).unwrap();
        let (_, lo, hi) = tx_days(&tx).unwrap();
        for period in [Period::Day, Period::Week, Period::Month, Period::Year] {
            let bits = ActivePeriods::of(&coded, &tx, period).unwrap();
            assert!(matches!(bits, ActivePeriods::Bits { .. }), "{period:?}");
            let days = ActivePeriods::Days(
                coded.purchase_days_by_customer(&tx).unwrap(),
                PeriodTable::new(period, lo, hi),
            );
            for c in 0..coded.ids.len() {
                assert_eq!(bits.first(c), days.first(c));
                let (mut a, mut b) = (Vec::new(), Vec::new());
                bits.each(c, |p| a.push(p));
                days.each(c, |p| b.push(p));
                assert_eq!(a, b);
                assert!(!a.is_empty() && a.is_sorted());
            }
        }
        // A customer a row, by day: more bits than purchase days, so the grouped days.
        let one_each = tx
            .clone()
            .with_column(Column::new(
                "customer_id".into(),
                (0..rows.len()).map(|i| format!("u{i}")).collect::<Vec<_>>(),
            ))
            .unwrap()
            .clone();
        let coded = CodedTx::new(&one_each, None).unwrap();
        let by_day = ActivePeriods::of(&coded, &one_each, Period::Day).unwrap();
        assert!(matches!(by_day, ActivePeriods::Days(..)));
    }

    /// customer, date, amount, order
    pub(crate) fn tx(rows: &[(&str, &str, f64, &str)]) -> DataFrame {
        let days: Vec<i32> = rows.iter().map(|r| days_since_epoch(d(r.1))).collect();
        DataFrame::new_infer_height(vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new("date".into(), days)
                .cast(&DataType::Date)
                .unwrap(),
            Column::new(
                "amount".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "order_id".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
        ])
        .unwrap()
    }

    /// Hand-checked: cohort 2024-01 = {a, b, c}, cohort 2024-02 = {d}.
    /// a buys Jan, Feb, Apr; b buys Jan, Mar; c buys Jan only; d buys Feb, Mar.
    /// e only returns (never a purchase): in no cohort.
    fn fixture() -> DataFrame {
        tx(&[
            ("a", "2024-01-05", 10.0, "o1"),
            ("a", "2024-02-10", 20.0, "o2"),
            ("a", "2024-04-01", 30.0, "o3"),
            ("b", "2024-01-20", 40.0, "o4"),
            ("b", "2024-03-03", 10.0, "o5"),
            ("b", "2024-03-04", -10.0, "r5"),
            ("c", "2024-01-31", 50.0, "o6"),
            ("d", "2024-02-01", 5.0, "o7"),
            ("d", "2024-03-15", 5.0, "o8"),
            ("e", "2024-02-02", -5.0, "r9"),
        ])
    }

    fn grid(cells: &[Cell], f: impl Fn(&Cell) -> Option<f64>) -> Vec<Vec<Option<f64>>> {
        let mut out: BTreeMap<i32, Vec<Option<f64>>> = BTreeMap::new();
        for c in cells {
            out.entry(c.cohort).or_default().push(f(c));
        }
        out.into_values().collect()
    }

    #[test]
    fn classic_retention_by_hand() {
        let cells = cohort_cells(
            &fixture(),
            None,
            d("2024-04-15"),
            &CohortParams::default(),
            &mut vec![],
        )
        .unwrap();
        let r = grid(&cells, |c| c.retention);
        let third = 1.0 / 3.0;
        assert_eq!(r[0], vec![Some(1.0), Some(third), Some(third), Some(third)]);
        // Cohort 2024-02: k=3 is after as-of (2024-05 > 2024-04): null, not 0.
        assert_eq!(r[1], vec![Some(1.0), Some(1.0), Some(0.0), None]);
        assert_eq!(cells[0].size, 3);
        // The as-of month April is partial: cells in 2024-04 are marked.
        let partial: Vec<(i32, i32)> = cells
            .iter()
            .filter(|c| c.partial)
            .map(|c| (c.cohort - cells[0].cohort, c.k))
            .collect();
        assert_eq!(partial, vec![(0, 3), (1, 2)]);
    }

    #[test]
    fn rolling_retention_by_hand() {
        let p = CohortParams {
            mode: CohortMode::Rolling,
            ..Default::default()
        };
        let cells = cohort_cells(&fixture(), None, d("2024-04-30"), &p, &mut vec![]).unwrap();
        let r = grid(&cells, |c| c.active.map(|a| a as f64));
        // Jan cohort: last active k: a=3, b=2, c=0 → active at ≥k: 3, 2, 2, 1.
        assert_eq!(r[0], vec![Some(3.0), Some(2.0), Some(2.0), Some(1.0)]);
        assert_eq!(r[1], vec![Some(1.0), Some(1.0), Some(0.0), None]);
        assert!(cells.iter().all(|c| !c.partial), "April 30 ends the month");
    }

    #[test]
    fn revenue_retention_counts_returns() {
        let cells = cohort_cells(
            &fixture(),
            None,
            d("2024-04-30"),
            &CohortParams::default(),
            &mut vec![],
        )
        .unwrap();
        let rev = grid(&cells, |c| c.revenue);
        // Jan cohort: period 0 = 10+40+50 = 100; Feb = 20; Mar = 10-10 = 0; Apr = 30.
        assert_eq!(rev[0], vec![Some(100.0), Some(20.0), Some(0.0), Some(30.0)]);
        let rr = grid(&cells, |c| c.revenue_retention);
        assert_eq!(rr[0], vec![Some(1.0), Some(0.2), Some(0.0), Some(0.3)]);
        assert_eq!(rr[1], vec![Some(1.0), Some(1.0), Some(0.0), None]);
    }

    #[test]
    fn signup_cohorts_include_non_buyers() {
        let customers = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), ["a", "b", "z"]),
            Column::new(
                "signup_date".into(),
                [d("2024-01-01"), d("2023-12-15"), d("2024-01-10")]
                    .map(days_since_epoch)
                    .to_vec(),
            )
            .cast(&DataType::Date)
            .unwrap(),
            Column::new("channel".into(), ["ads", "seo", "ads"]),
        ])
        .unwrap();
        let p = CohortParams {
            by: CohortBy::Signup,
            group: Some("channel".into()),
            ..Default::default()
        };
        let cells = cohort_cells(
            &fixture(),
            Some(&customers),
            d("2024-04-30"),
            &p,
            &mut vec![],
        )
        .unwrap();
        // ads / 2024-01: a and z (z never buys); a active at k = 0, 1, 3.
        let ads: Vec<Option<f64>> = cells
            .iter()
            .filter(|c| c.group == "ads")
            .map(|c| c.retention)
            .collect();
        assert_eq!(ads, vec![Some(0.5), Some(0.5), Some(0.0), Some(0.5), None]);
        // seo / 2023-12: b; first purchase in January = k 1, March = k 3.
        let seo: Vec<Option<f64>> = cells
            .iter()
            .filter(|c| c.group == "seo")
            .map(|c| c.retention)
            .collect();
        assert_eq!(
            seo,
            vec![Some(0.0), Some(1.0), Some(0.0), Some(1.0), Some(0.0)]
        );
    }

    #[test]
    fn period_table_matches_period_index() {
        for period in [
            Period::Day,
            Period::Week,
            Period::Month,
            Period::Quarter,
            Period::Year,
        ] {
            let t = PeriodTable::new(period, 19_700, 19_800);
            // Days outside the table are converted directly.
            for day in 19_650..19_850 {
                assert_eq!(t.get(day), period.index(date_from_days(day)), "{day}");
            }
        }
    }

    #[test]
    fn max_periods_and_quarters() {
        let p = CohortParams {
            period: Period::Quarter,
            max_periods: Some(0),
            ..Default::default()
        };
        let cells = cohort_cells(&fixture(), None, d("2024-04-30"), &p, &mut vec![]).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!((cells[0].size, cells[0].active), (4, Some(4)));
        let df = cells_frame(&cells, Period::Quarter, None).unwrap();
        assert_eq!(
            df.column("cohort").unwrap().str().unwrap().get(0),
            Some("2024-Q1")
        );
    }
}
