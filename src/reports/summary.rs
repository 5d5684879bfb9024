//! `retention summary`: the KPI table (docs/metrics.md, section summary), over the whole window
//! or one row per period, optionally per group.

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::output::{num, pct, Report, View};
use crate::params::SubsPeriod;
use crate::period::{date_from_days, days_since_epoch, Period};
use crate::reports::segment::{col_days, col_f64};
use crate::reports::subscriptions::{self, Movement, SubsParams, SubsView};
use crate::reports::{column, customer_groups, Coded, CodedTx, FastMap, Money};

#[derive(Clone, Debug)]
pub struct SummaryParams {
    /// One row per period; None = the whole window.
    pub period: Option<Period>,
    pub by: Option<String>,
    /// Margin as a fraction of revenue, for the historical LTV.
    pub margin: f64,
    /// Days after signup within which a first purchase counts as a conversion.
    pub convert_within: u32,
}

impl SummaryParams {
    /// The defaults (of the flags and `retention report`).
    pub const DEFAULT: SummaryParams = SummaryParams {
        period: None,
        by: None,
        margin: 1.0,
        convert_within: 30,
    };
}

impl Default for SummaryParams {
    fn default() -> Self {
        SummaryParams::DEFAULT
    }
}

/// One KPI row. `None` is a KPI undefined for the row (no base); KPIs whose inputs are
/// missing altogether are left out of the frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub group: String,
    pub period: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub customers: i64,
    pub active: i64,
    pub new: i64,
    pub retention_rate: Option<f64>,
    pub churn_rate: Option<f64>,
    pub repeat_purchase_rate: Option<f64>,
    pub orders: i64,
    pub revenue: f64,
    pub aov: Option<f64>,
    pub purchase_frequency: Option<f64>,
    pub conversion_rate: Option<f64>,
    pub cac: Option<f64>,
    pub ltv: Option<f64>,
    pub ltv_cac: Option<f64>,
    /// Invoice lines with a service period: the row's subscription KPIs.
    pub subs: Option<SubsKpis>,
}

/// The subscription KPIs of one summary row (invoice lines with a service period;
/// docs/metrics.md, "summary"). Per period: that period's MRR movements as
/// `subscriptions --period` computes them. The whole window: MRR, subscribers and the
/// 12-month retention as of the as-of day, the rates of the last complete month.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SubsKpis {
    /// MRR at the row's end (a period's last day, or as-of).
    pub mrr: f64,
    /// Customers with MRR at the row's end.
    pub subscribers: u64,
    pub logo_churn_rate: Option<f64>,
    pub gross_mrr_churn_rate: Option<f64>,
    pub net_mrr_churn_rate: Option<f64>,
    pub quick_ratio: Option<f64>,
    pub nrr_12m: Option<f64>,
    pub grr_12m: Option<f64>,
}

impl SubsKpis {
    fn of(end: &Movement, rates: Option<&Movement>) -> SubsKpis {
        SubsKpis {
            mrr: end.mrr_end,
            subscribers: end.customers_end,
            logo_churn_rate: rates.and_then(Movement::logo_churn_rate),
            gross_mrr_churn_rate: rates.and_then(Movement::gross_mrr_churn_rate),
            net_mrr_churn_rate: rates.and_then(Movement::net_mrr_churn_rate),
            quick_ratio: rates.and_then(Movement::quick_ratio),
            nrr_12m: end.nrr_12m(),
            grr_12m: end.grr_12m(),
        }
    }

    pub fn arr(&self) -> f64 {
        12.0 * self.mrr
    }

    /// Average revenue per account: MRR per subscriber.
    pub fn arpa(&self) -> Option<f64> {
        (self.subscribers > 0).then(|| self.mrr / self.subscribers as f64)
    }
}

/// Put the subscription KPIs of the invoice lines `invoices` into the summary rows
/// (pure). Returns a note saying what the whole-window figures are taken at, or why they
/// are left out.
pub fn add_subscriptions(
    rows: &mut [Row],
    invoices: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
) -> Result<String> {
    let Some(sp) = p
        .period
        .map_or(Some(SubsPeriod::Month), SubsPeriod::from_period)
    else {
        return Ok(format!(
            "subscription KPIs are computed per month, quarter or year, not per {}: left out",
            p.period.map_or("", |x| x.name())
        ));
    };
    let moves = subscriptions::movements(
        invoices,
        customers,
        as_of,
        &SubsParams {
            period: sp,
            by: p.by.clone(),
            view: SubsView::Movements,
        },
    )?;
    if p.period.is_some() {
        let at: FastMap<(&str, &str), &Movement> = moves
            .iter()
            .map(|m| ((m.group.as_str(), m.period.as_str()), &m.m))
            .collect();
        for r in rows.iter_mut() {
            r.subs = Some(match at.get(&(r.group.as_str(), r.period.as_str())) {
                Some(m) => SubsKpis::of(m, Some(m)),
                // A period before the first service period: no MRR yet.
                None => SubsKpis::default(),
            });
        }
        return Ok(
            "subscription KPIs: each period's MRR movements, MRR taken at its last \
                   day (at as-of for the last)"
                .to_string(),
        );
    }
    // The whole window: per group, the as-of snapshot and the last complete month.
    let mut last = String::new();
    for r in rows.iter_mut() {
        let group: Vec<&subscriptions::PeriodRow> =
            moves.iter().filter(|m| m.group == r.group).collect();
        let Some(end) = group.last() else {
            r.subs = Some(SubsKpis::default());
            continue;
        };
        let complete = group.iter().rev().find(|m| !m.partial);
        if let Some(c) = complete {
            last.clone_from(&c.period);
        }
        r.subs = Some(SubsKpis::of(&end.m, complete.map(|c| &c.m)));
    }
    Ok(if last.is_empty() {
        format!(
            "subscription KPIs: MRR, subscribers, nrr_12m and grr_12m as of {as_of}; no \
             complete month for the churn rates and quick ratio"
        )
    } else {
        format!(
            "subscription KPIs: MRR, subscribers, nrr_12m and grr_12m as of {as_of}; the churn \
             rates and quick ratio of {last}, the last complete month"
        )
    })
}

/// Which optional KPIs the inputs support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    pub conversion: bool,
    pub cac: bool,
}

#[derive(Default, Clone)]
struct Acc {
    /// The customer code of every purchase in the window, in purchase order (only where
    /// the windows are too many for [`WindowBits`]).
    orders: Vec<u32>,
    /// Purchases in the window.
    purchases: i64,
    revenue: Money,
    new: i64,
    /// The net revenue to date of the window's new customers (× margin when shown).
    ltv_revenue: Money,
    spend: Money,
    /// Customers with a recorded acquisition cost attributed to the window.
    costed: i64,
    signups: i64,
    converted: i64,
}

/// A window's customers: distinct active, with two purchases or more, and also active in
/// the window before.
#[derive(Clone, Copy)]
struct Counted {
    active: i64,
    repeaters: i64,
    kept: i64,
}

/// Count window `stamp` (1-based, windows in order) from the customer of each of its
/// purchases. `last[c]` is the last window `c` bought in (0: none yet), `count[c]` its
/// purchases in it (up to 2).
fn counted(orders: &[u32], stamp: u32, last: &mut [u32], count: &mut [u8]) -> Counted {
    let mut k = Counted {
        active: 0,
        repeaters: 0,
        kept: 0,
    };
    for &c in orders {
        let c = c as usize;
        if last[c] != stamp {
            if last[c] != 0 && last[c] + 1 == stamp {
                k.kept += 1;
            }
            last[c] = stamp;
            count[c] = 1;
            k.active += 1;
        } else if count[c] == 1 {
            count[c] = 2;
            k.repeaters += 1;
        }
    }
    k
}

/// Each customer's windows with a purchase and with two or more, a bit per (customer,
/// window): what [`counted`] finds from the windows' lists of purchases, without the lists
/// (4 bytes a purchase; these are 16 bytes a customer for up to 64 windows).
struct WindowBits {
    words: usize,
    active: Vec<u64>,
    repeat: Vec<u64>,
}

impl WindowBits {
    /// The bits for `n` customers and `nw` windows, when they are smaller than the lists
    /// of `purchases` purchases.
    fn fitting(n: usize, nw: usize, purchases: usize) -> Option<WindowBits> {
        let words = nw.div_ceil(64).max(1);
        let bytes = n.saturating_mul(words).saturating_mul(16);
        (bytes <= purchases.saturating_mul(4)).then(|| WindowBits {
            words,
            active: vec![0; n * words],
            repeat: vec![0; n * words],
        })
    }

    fn purchase(&mut self, c: u32, w: usize) {
        let (i, b) = (c as usize * self.words + w / 64, 1u64 << (w % 64));
        if self.active[i] & b != 0 {
            self.repeat[i] |= b;
        } else {
            self.active[i] |= b;
        }
    }

    /// Per group and window: the distinct active customers, those with two purchases or
    /// more, and those also active in the window before.
    fn counted(&self, group: &[u32], groups: usize, nw: usize) -> Vec<Vec<Counted>> {
        let zero = Counted {
            active: 0,
            repeaters: 0,
            kept: 0,
        };
        let mut out = vec![vec![zero; nw]; groups];
        for (c, &g) in group.iter().enumerate() {
            let at = c * self.words;
            let (act, rep) = (
                &self.active[at..at + self.words],
                &self.repeat[at..at + self.words],
            );
            let bit = |v: &[u64], w: usize| v[w / 64] >> (w % 64) & 1 != 0;
            for w in crate::reports::set_bits(act) {
                let x = &mut out[g as usize][w];
                x.active += 1;
                x.repeaters += i64::from(bit(rep, w));
                x.kept += i64::from(w > 0 && bit(act, w - 1));
            }
        }
        out
    }
}

/// Day → window index, from a table over the windows' days (the windows are contiguous
/// and in order; over more than [`DayWindows::MAX_TABLE`] days, searched instead).
/// `whole`: the one window takes any day up to its end (earlier signups and costs count).
struct DayWindows<'w> {
    lo: i32,
    hi: i32,
    whole: bool,
    table: Vec<u32>,
    /// (label, start, end) per window, for the search.
    windows: &'w [(String, i32, i32)],
}

impl<'w> DayWindows<'w> {
    fn new(windows: &'w [(String, i32, i32)], whole: bool) -> DayWindows<'w> {
        let lo = windows.iter().map(|w| w.1).min().unwrap_or(0);
        let hi = windows.iter().map(|w| w.2).max().unwrap_or(-1);
        let len = (i64::from(hi) - i64::from(lo) + 1).max(0) as usize;
        let mut table = Vec::new();
        if len <= Self::MAX_TABLE {
            table = vec![u32::MAX; len];
            for (i, w) in windows.iter().enumerate() {
                for d in w.1..=w.2 {
                    table[(d - lo) as usize] = i as u32;
                }
            }
        }
        DayWindows {
            lo,
            hi,
            whole,
            table,
            windows,
        }
    }

    /// Days (about 11,000 years: 16 MB).
    const MAX_TABLE: usize = 4_000_000;

    fn of(&self, d: i32) -> Option<usize> {
        if d > self.hi {
            None
        } else if d < self.lo {
            self.whole.then_some(0)
        } else if self.table.is_empty() {
            self.windows.iter().position(|w| d >= w.1 && d <= w.2)
        } else {
            match self.table[(d - self.lo) as usize] {
                u32::MAX => None,
                w => Some(w as usize),
            }
        }
    }
}

/// Compute the KPI rows (pure). `warnings` receives the note on KPIs left out.
pub fn summary_rows(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
) -> Result<(Vec<Row>, Available)> {
    summary_rows_shared(None, tx, customers, as_of, p)
}

/// [`summary_rows`] with the ids coded by the caller (transactions and customers).
pub fn summary_rows_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
) -> Result<(Vec<Row>, Available)> {
    summary_rows_by(shared, tx, customers, as_of, p, true)
}

/// [`summary_rows_shared`]; with `bits`, the windows' customers are counted by
/// [`WindowBits`] where they fit (else, as always without, from lists of purchases).
fn summary_rows_by<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
    bits: bool,
) -> Result<(Vec<Row>, Available)> {
    let asof = days_since_epoch(as_of);
    // Customers as codes in id order: per-customer state in vectors, sums in id order.
    let coded = Coded::or_new(shared, tx, customers)?;
    let ids = &coded.ids;
    let n = ids.len();
    let (group, group_names) = match p.by.as_deref() {
        Some(b) => coded.groups(customer_groups(tx, customers, b, "--by")?)?,
        None => (vec![0; n], vec![String::new()]),
    };

    // Customers file: signup day and acquisition cost.
    let mut signup: Vec<Option<i32>> = vec![None; n];
    let mut cost: Vec<(u32, Option<i32>, f64)> = Vec::new();
    let mut avail = Available {
        conversion: false,
        cac: false,
    };
    let mut cust_codes: Vec<Option<u32>> = Vec::new();
    if let Some(c) = customers {
        cust_codes = ids.codes(c)?;
        if c.column("signup_date").is_ok() {
            avail.conversion = true;
            for (id, d) in cust_codes.iter().zip(col_days(c, "signup_date")?) {
                if let (Some(id), Some(d)) = (id, d) {
                    signup[*id as usize] = Some(d);
                }
            }
        }
        if c.column("acquisition_cost").is_ok() {
            avail.cac = true;
            for (id, v) in cust_codes.iter().zip(col_f64(c, "acquisition_cost")?) {
                if let (Some(id), Some(v)) = (id, v) {
                    cost.push((*id, None, v));
                }
            }
        }
    }

    // The rows are walked twice and the purchases once, from the columns (nothing
    // collected): net revenue per customer and the first day, then per window. Rows after
    // as-of do not count (loading drops them; `report` asks for the figures as of the
    // previous period's end on the same rows).
    let mut total_rev: Vec<Money> = vec![Money::ZERO; n];
    let mut first_tx = asof;
    coded.each_tx_row(tx, |c, d, a| {
        if d <= asof {
            total_rev[c as usize] += a;
            first_tx = first_tx.min(d);
        }
    })?;

    // Windows: (label, start day, end day), inclusive.
    let windows: Vec<(String, i32, i32)> = match p.period {
        // The whole window: first transaction to as-of (signups and costs: any date up to
        // as-of, so that earlier signups still count).
        None => vec![("all".to_string(), first_tx, asof)],
        Some(per) => {
            let a = per.index(date_from_days(first_tx));
            let b = per.index(as_of);
            (a..=b)
                .map(|i| {
                    (
                        per.label(i),
                        days_since_epoch(per.start(i)),
                        days_since_epoch(per.end(i)).min(asof),
                    )
                })
                .collect()
        }
    };
    let nw = windows.len();
    let win = DayWindows::new(&windows, p.period.is_none());

    // Per group (index into group_names), per window; created on first use.
    let mut acc: Vec<Option<Vec<Acc>>> = vec![None; group_names.len()];
    fn slot<'a>(
        acc: &'a mut [Option<Vec<Acc>>],
        group: &[u32],
        c: u32,
        nw: usize,
    ) -> &'a mut [Acc] {
        acc[group[c as usize] as usize].get_or_insert_with(|| vec![Acc::default(); nw])
    }
    coded.each_tx_row(tx, |c, d, a| {
        if let Some(w) = win.of(d) {
            slot(&mut acc, &group, c, nw)[w].revenue += a;
        }
    })?;
    // Purchases: the first day per customer, the customer of each purchase per window,
    // and (whole window) in which halves a customer bought.
    let mut first: Vec<Option<i32>> = vec![None; n];
    let (s, e) = (windows[0].1, windows[0].2);
    let mid = s + (e - s) / 2;
    let mut seen = vec![0u8; if p.period.is_none() { n } else { 0 }];
    let mut bits = bits
        .then(|| WindowBits::fitting(n, nw, tx.height()))
        .flatten();
    coded.each_purchase(tx, |c, d, _| {
        if d > asof {
            return;
        }
        let f = &mut first[c as usize];
        *f = Some(f.map_or(d, |f| f.min(d)));
        if let Some(w) = win.of(d) {
            let a = &mut slot(&mut acc, &group, c, nw)[w];
            a.purchases += 1;
            match bits.as_mut() {
                Some(b) => b.purchase(c, w),
                None => a.orders.push(c),
            }
        }
        if !seen.is_empty() && d >= s && d <= e {
            seen[c as usize] |= 1 << u8::from(d > mid);
        }
    })?;
    // Cost attribution date: signup, else first purchase; undated costs count only in
    // the whole-window row.
    for (id, when, _) in cost.iter_mut() {
        *when = signup[*id as usize].or(first[*id as usize]);
    }
    for (c, f) in first.iter().enumerate() {
        let Some(d) = *f else { continue };
        if let Some(w) = win.of(d) {
            let s = &mut slot(&mut acc, &group, c as u32, nw)[w];
            s.new += 1;
            s.ltv_revenue += total_rev[c];
        }
    }
    for &(id, when, v) in &cost {
        let w = match (when, p.period) {
            (Some(d), _) => win.of(d),
            (None, None) => Some(0),
            (None, Some(_)) => None,
        };
        if let Some(w) = w {
            let a = &mut slot(&mut acc, &group, id, nw)[w];
            a.spend += v;
            a.costed += 1;
        }
    }
    let within = p.convert_within as i32;
    for id in cust_codes.iter().flatten() {
        let Some(s) = signup[*id as usize] else {
            continue;
        };
        // Only signups whose conversion window has ended by as-of count.
        if s + within > asof {
            continue;
        }
        if let Some(w) = win.of(s) {
            let converted = first[*id as usize].is_some_and(|f| f <= s + within);
            let a = &mut slot(&mut acc, &group, *id, nw)[w];
            a.signups += 1;
            if converted {
                a.converted += 1;
            }
        }
    }
    // Whole window: retention between its two halves (per group: customers active in
    // the first half, and of those, active in the second).
    let halves: Option<Vec<(i64, i64)>> = if p.period.is_none() {
        let mut h = vec![(0i64, 0i64); group_names.len()];
        for (c, &bits) in seen.iter().enumerate() {
            let g = &mut h[group[c] as usize];
            if bits & 1 != 0 {
                g.0 += 1;
                if bits & 2 != 0 {
                    g.1 += 1;
                }
            }
        }
        Some(h)
    } else {
        None
    };

    // Per window, in order: the distinct active customers, those with two purchases or
    // more, and those also active in the window before. A customer is in one group, so
    // its last window and its purchases in it are one stamp and one count.
    let mut by_bits = bits.map(|b| b.counted(&group, group_names.len(), nw));
    let (mut last, mut count) = match by_bits {
        Some(_) => (Vec::new(), Vec::new()),
        None => (vec![0u32; n], vec![0u8; n]),
    };
    let mut out = Vec::new();
    for (gi, a) in acc.iter().enumerate() {
        let Some(a) = a else { continue };
        let counted: Vec<Counted> = match by_bits.as_mut() {
            Some(k) => std::mem::take(&mut k[gi]),
            None => a
                .iter()
                .enumerate()
                .map(|(w, x)| counted(&x.orders, w as u32 + 1, &mut last, &mut count))
                .collect(),
        };
        let g = &group_names[gi];
        let mut base = 0i64;
        for (w, (label, start, end)) in windows.iter().enumerate() {
            let x = &a[w];
            base += x.new;
            let Counted {
                active,
                repeaters,
                kept,
            } = counted[w];
            let orders = x.purchases;
            let ratio = |n: f64, d: f64| (d > 0.0).then(|| n / d);
            let retention_rate = match &halves {
                Some(h) => ratio(h[gi].1 as f64, h[gi].0 as f64),
                None if w == 0 => None,
                None => ratio(kept as f64, counted[w - 1].active as f64),
            };
            // No recorded cost in the row: unknown, not 0.
            let cac = if avail.cac && x.costed > 0 {
                ratio(x.spend.total(), x.new as f64)
            } else {
                None
            };
            let ltv = ratio(x.ltv_revenue.total() * p.margin, x.new as f64);
            out.push(Row {
                group: g.clone(),
                period: label.clone(),
                start: date_from_days(*start),
                end: date_from_days(*end),
                customers: base,
                active,
                new: x.new,
                retention_rate,
                churn_rate: retention_rate.map(|r| 1.0 - r),
                repeat_purchase_rate: ratio(repeaters as f64, active as f64),
                orders,
                revenue: x.revenue.total(),
                aov: ratio(x.revenue.total(), orders as f64),
                purchase_frequency: ratio(orders as f64, active as f64),
                conversion_rate: if avail.conversion {
                    ratio(x.converted as f64, x.signups as f64)
                } else {
                    None
                },
                cac,
                ltv,
                ltv_cac: match (ltv, cac) {
                    (Some(l), Some(c)) if c > 0.0 => Some(l / c),
                    _ => None,
                },
                subs: None,
            });
        }
    }
    Ok((out, avail))
}

fn frame(
    rows: &[Row],
    by: Option<&str>,
    avail: Available,
    partial: Option<&str>,
) -> Result<DataFrame> {
    let mut cols = Vec::new();
    if let Some(b) = by {
        cols.push(column(b, rows, |r| r.group.as_str()));
    }
    cols.push(column("period", rows, |r| r.period.as_str()));
    cols.push(column("start", rows, |r| r.start.to_string()));
    cols.push(column("end", rows, |r| r.end.to_string()));
    cols.push(column("customers", rows, |r| r.customers));
    cols.push(column("active", rows, |r| r.active));
    cols.push(column("new", rows, |r| r.new));
    cols.push(column("retention_rate", rows, |r| r.retention_rate));
    cols.push(column("churn_rate", rows, |r| r.churn_rate));
    cols.push(column("repeat_purchase_rate", rows, |r| {
        r.repeat_purchase_rate
    }));
    cols.push(column("orders", rows, |r| r.orders));
    cols.push(column("revenue", rows, |r| r.revenue));
    cols.push(column("aov", rows, |r| r.aov));
    cols.push(column("purchase_frequency", rows, |r| r.purchase_frequency));
    if avail.conversion {
        cols.push(column("conversion_rate", rows, |r| r.conversion_rate));
    }
    if avail.cac {
        cols.push(column("cac", rows, |r| r.cac));
    }
    cols.push(column("ltv", rows, |r| r.ltv));
    if avail.cac {
        cols.push(column("ltv_cac", rows, |r| r.ltv_cac));
    }
    if rows.iter().any(|r| r.subs.is_some()) {
        let s = |r: &Row| r.subs.unwrap_or_default();
        cols.push(column("mrr", rows, |r| s(r).mrr));
        cols.push(column("arr", rows, |r| s(r).arr()));
        cols.push(column("subscribers", rows, |r| s(r).subscribers as i64));
        cols.push(column("arpa", rows, |r| s(r).arpa()));
        cols.push(column("logo_churn_rate", rows, |r| s(r).logo_churn_rate));
        cols.push(column("gross_mrr_churn_rate", rows, |r| {
            s(r).gross_mrr_churn_rate
        }));
        cols.push(column("net_mrr_churn_rate", rows, |r| {
            s(r).net_mrr_churn_rate
        }));
        cols.push(column("quick_ratio", rows, |r| s(r).quick_ratio));
        cols.push(column("nrr_12m", rows, |r| s(r).nrr_12m));
        cols.push(column("grr_12m", rows, |r| s(r).grr_12m));
    }
    // Per-period rows: the as-of period is usually partial (as in cohort).
    if let Some(last) = partial {
        cols.push(column("partial_period", rows, |r| r.period == last));
    }
    crate::reports::segment::frame_of(cols, by.map(|_| 0), rows.len())
}

const PERCENT: [&str; 9] = [
    "retention_rate",
    "churn_rate",
    "repeat_purchase_rate",
    "conversion_rate",
    "logo_churn_rate",
    "gross_mrr_churn_rate",
    "net_mrr_churn_rate",
    "nrr_12m",
    "grr_12m",
];

/// The `summary` report; `warnings` receives one note naming the KPIs left out.
/// `invoices`: the same input read as invoice lines, when it has a service period (the
/// subscription KPIs are added).
pub fn run(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    invoices: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
    warnings: &mut Vec<String>,
) -> Result<Report> {
    run_shared(None, tx, customers, invoices, as_of, p, warnings)
}

/// [`run`] with the ids coded by the caller (transactions and customers).
pub fn run_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    invoices: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SummaryParams,
    warnings: &mut Vec<String>,
) -> Result<Report> {
    crate::params::check_margin(p.margin)?;
    let (mut rows, avail) = summary_rows_shared(shared, tx, customers, as_of, p)?;
    if let Some(inv) = invoices {
        warnings.push(add_subscriptions(&mut rows, inv, customers, as_of, p)?);
    }
    let mut left_out = Vec::new();
    if !avail.conversion {
        left_out.push("conversion_rate (needs a customers file with signup_date)");
    }
    if !avail.cac {
        left_out.push("cac and ltv_cac (need a customers file with acquisition_cost)");
    }
    if !left_out.is_empty() {
        warnings.push(format!("left out: {}", left_out.join("; ")));
    }
    let partial = p
        .period
        .filter(|per| as_of < per.end(per.index(as_of)))
        .map(|per| per.label(per.index(as_of)));
    let data = match p.period {
        Some(_) => frame(
            &rows,
            p.by.as_deref(),
            avail,
            Some(partial.as_deref().unwrap_or("")),
        )?,
        None => frame(&rows, p.by.as_deref(), avail, None)?,
    };
    let mut notes = Vec::new();
    if p.period.is_none() {
        notes.push(
            "retention_rate: of the customers active in the first half of the window, the \
             share also active in the second half"
                .to_string(),
        );
    } else if let Some(per) = p.period {
        if as_of < per.end(per.index(as_of)) {
            notes.push(format!(
                "{} is a partial period (data up to {as_of})",
                per.label(per.index(as_of))
            ));
        }
    }
    let views = if p.period.is_none() && p.by.is_none() && rows.len() == 1 {
        // One row: show it as a KPI list.
        let names: Vec<String> = data
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut vrows = Vec::new();
        for (n, c) in names.iter().zip(data.columns()) {
            let v = c.get(0)?;
            let text = match v {
                AnyValue::Float64(f) if PERCENT.contains(&n.as_str()) => pct(Some(f)),
                AnyValue::Float64(f) => num(f),
                AnyValue::Int64(i) => num(i as f64),
                AnyValue::Null => String::new(),
                AnyValue::String(s) => s.to_string(),
                other => other.to_string(),
            };
            vrows.push(vec![n.clone(), text]);
        }
        vec![View {
            title: Some(format!("KPIs as of {as_of}")),
            header: vec!["kpi".into(), "value".into()],
            rows: vrows,
            fixed_columns: 2,
        }]
    } else {
        vec![]
    };
    Ok(Report {
        data,
        views,
        percent_columns: PERCENT.to_vec(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::segment::tests::{d, fixture};

    fn customers() -> DataFrame {
        DataFrame::new_infer_height(vec![
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
            Column::new("acquisition_cost".into(), [20.0, 0.0, 25.0]),
        ])
        .unwrap()
    }

    #[test]
    fn day_windows_by_table_and_by_search() {
        let w = |a, b| (String::new(), a, b);
        let windows = [w(10, 19), w(20, 29), w(30, 35)];
        let t = DayWindows::new(&windows, false);
        let got: Vec<Option<usize>> = [9, 10, 19, 20, 35, 36].map(|d| t.of(d)).to_vec();
        assert_eq!(got, [None, Some(0), Some(0), Some(1), Some(2), None]);
        // The search (a span too long for a table) gives the same.
        let mut s = DayWindows::new(&windows, false);
        s.table.clear();
        assert_eq!([9, 10, 19, 20, 35, 36].map(|d| s.of(d)).to_vec(), got);
        // The whole window takes earlier days, not later ones.
        let one = [w(10, 35)];
        let whole = DayWindows::new(&one, true);
        assert_eq!(
            [-5, 10, 35, 36].map(|d| whole.of(d)),
            [Some(0), Some(0), Some(0), None]
        );
        let long = [w(-3_000_000, 3_000_000)];
        let far = DayWindows::new(&long, true);
        assert!(far.table.is_empty());
        assert_eq!(far.of(0), Some(0));
    }

    #[test]
    fn window_counts_by_hand() {
        // Customers 0..4; window 1: 0, 1, 0 (0 twice); window 2: 1, 2, 2, 2; window 3: 2, 3.
        let (mut last, mut count) = (vec![0u32; 4], vec![0u8; 4]);
        let k1 = counted(&[0, 1, 0], 1, &mut last, &mut count);
        assert_eq!((k1.active, k1.repeaters, k1.kept), (2, 1, 0));
        let k2 = counted(&[1, 2, 2, 2], 2, &mut last, &mut count);
        assert_eq!((k2.active, k2.repeaters, k2.kept), (2, 1, 1));
        let k3 = counted(&[2, 3], 3, &mut last, &mut count);
        assert_eq!((k3.active, k3.repeaters, k3.kept), (2, 0, 1));
        // A window skipped: 1 was last active in window 2, not in window 3.
        let k5 = counted(&[1], 5, &mut last, &mut count);
        assert_eq!((k5.active, k5.repeaters, k5.kept), (1, 0, 0));
    }

    #[test]
    fn whole_window_by_hand() {
        let (rows, avail) =
            summary_rows(&fixture(), None, d("2024-04-01"), &SummaryParams::default()).unwrap();
        assert_eq!(
            avail,
            Available {
                conversion: false,
                cac: false
            }
        );
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        // Buyers a, b, c, d (e never purchased).
        assert_eq!((r.customers, r.active, r.new), (4, 4, 4));
        // 8 purchases (170) and returns of 10 (b) and 5 (e): net revenue 155.
        assert_eq!((r.orders, r.revenue), (8, 155.0));
        assert_eq!(r.aov, Some(155.0 / 8.0));
        assert_eq!(r.purchase_frequency, Some(2.0));
        // a, b, d have ≥ 2 purchases: 3 of 4.
        assert_eq!(r.repeat_purchase_rate, Some(0.75));
        // Window 2024-01-05..2024-04-01 (87 days), mid = Jan 5 + 43 = Feb 17.
        // First half active {a, b, c, d}; second half {a (Apr 1), b (Mar 3), d (Mar 15)}.
        assert_eq!(r.retention_rate, Some(0.75));
        assert_eq!(r.churn_rate, Some(0.25));
        assert_eq!((r.start, r.end), (d("2024-01-05"), d("2024-04-01")));
        // Historical LTV: net revenue of the 4 buyers (60 + 40 + 50 + 10; e is not a
        // customer) / 4.
        assert_eq!(r.ltv, Some(40.0));
        assert_eq!(r.cac, None);
    }

    #[test]
    fn monthly_rows_by_hand() {
        let p = SummaryParams {
            period: Some(Period::Month),
            ..Default::default()
        };
        let (rows, _) = summary_rows(&fixture(), None, d("2024-04-01"), &p).unwrap();
        let labels: Vec<&str> = rows.iter().map(|r| r.period.as_str()).collect();
        assert_eq!(labels, ["2024-01", "2024-02", "2024-03", "2024-04"]);
        let got: Vec<(i64, i64, i64, i64, f64)> = rows
            .iter()
            .map(|r| (r.customers, r.active, r.new, r.orders, r.revenue))
            .collect();
        // Jan: a, b, c new (60). Feb: a, d active, d new; revenue 20 + 5 − 5 (e) = 20.
        // Mar: b, d (10 − 10 + 5 = 5). Apr: a (30).
        assert_eq!(
            got,
            vec![
                (3, 3, 3, 3, 100.0),
                (4, 2, 1, 2, 20.0),
                (4, 2, 0, 2, 5.0),
                (4, 1, 0, 1, 30.0)
            ]
        );
        let ret: Vec<Option<f64>> = rows.iter().map(|r| r.retention_rate).collect();
        // Feb: of {a, b, c}, a → 1/3. Mar: of {a, d}, d → 1/2. Apr: of {b, d}, none → 0.
        assert_eq!(ret, vec![None, Some(1.0 / 3.0), Some(0.5), Some(0.0)]);
        assert_eq!(rows[3].churn_rate, Some(1.0));
        // LTV of the January cohort: (60 + 40 + 50) / 3 = 50; February (d): 10.
        assert_eq!(rows[0].ltv, Some(50.0));
        assert_eq!(rows[1].ltv, Some(10.0));
        assert_eq!(rows[2].ltv, None);
    }

    #[test]
    fn customers_file_kpis_by_hand() {
        let p = SummaryParams {
            by: Some("channel".into()),
            convert_within: 30,
            margin: 0.5,
            ..Default::default()
        };
        let (rows, avail) =
            summary_rows(&fixture(), Some(&customers()), d("2024-04-01"), &p).unwrap();
        assert_eq!(
            avail,
            Available {
                conversion: true,
                cac: true
            }
        );
        let g: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(g, ["(none)", "ads", "seo"]);
        let ads = &rows[1];
        // ads: a (signup Jan 1, first purchase Jan 5: converted), z (never buys).
        assert_eq!(ads.conversion_rate, Some(0.5));
        // Spend 20 + 25 over 1 new buyer (a): cac 45; ltv 0.5 · 60 = 30; ltv/cac = 2/3.
        assert_eq!((ads.new, ads.cac), (1, Some(45.0)));
        assert_eq!(ads.ltv, Some(30.0));
        assert_eq!(ads.ltv_cac, Some(30.0 / 45.0));
        let seo = &rows[2];
        // b: signup Dec 15, first purchase Jan 20 = 36 days > 30: not converted.
        assert_eq!(seo.conversion_rate, Some(0.0));
        // Cost 0 → cac 0 and no ltv_cac (division by zero is not a KPI).
        assert_eq!((seo.cac, seo.ltv_cac), (Some(0.0), None));
        // The whole window starts at the first transaction (b's earlier signup counts).
        assert_eq!(rows[0].start, d("2024-01-05"));
        // (none): c, d, e; no customers-file row, so no signups and no spend.
        assert_eq!(rows[0].conversion_rate, None);
        assert_eq!(rows[0].cac, None);
    }

    #[test]
    fn missing_inputs_leave_kpis_out_with_one_note() {
        let mut w = Vec::new();
        let r = run(
            &fixture(),
            None,
            None,
            d("2024-04-01"),
            &SummaryParams::default(),
            &mut w,
        )
        .unwrap();
        let names: Vec<String> = r
            .data
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(!names.contains(&"cac".to_string()));
        assert!(!names.contains(&"conversion_rate".to_string()));
        assert!(!names.contains(&"ltv_cac".to_string()));
        assert!(names.contains(&"ltv".to_string()));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("conversion_rate") && w[0].contains("cac"),
            "{w:?}"
        );
        let mut w = Vec::new();
        run(
            &fixture(),
            Some(&customers()),
            None,
            d("2024-04-01"),
            &SummaryParams::default(),
            &mut w,
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
    }

    /// The windows' customers counted from bits equal those counted from the lists of
    /// purchases: whole window, by month and by week, with and without groups, on
    /// pseudo-random rows (returns, repeat purchases in a window, customers in two groups).
    #[test]
    fn window_bits_equal_the_lists() {
        let mut next = crate::reports::lcg(5);
        let n = 3000;
        let ids: Vec<String> = (0..n).map(|_| format!("c{:02}", next(60))).collect();
        let days: Vec<i32> = (0..n).map(|_| 19000 + next(400) as i32).collect();
        let amounts: Vec<Option<f64>> = (0..n).map(|_| Some(next(100) as f64 - 15.0)).collect();
        let tx = crate::reports::rows_frame(&ids, &days, &amounts);
        let names: Vec<String> = (0..60).map(|i| format!("c{i:02}")).collect();
        let channels: Vec<&str> = (0..60).map(|i| ["web", "shop"][i % 2]).collect();
        let cust = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), &names),
            Column::new("channel".into(), &channels),
        ])
        .unwrap();
        let coded = CodedTx::new(&tx, Some(&cust)).unwrap();
        let as_of = date_from_days(19400);
        for period in [None, Some(Period::Month), Some(Period::Week)] {
            for by in [None, Some("channel".to_string())] {
                let p = SummaryParams {
                    period,
                    by,
                    ..SummaryParams::default()
                };
                let (a, _) =
                    summary_rows_by(Some(&coded), &tx, Some(&cust), as_of, &p, true).unwrap();
                let (b, _) =
                    summary_rows_by(Some(&coded), &tx, Some(&cust), as_of, &p, false).unwrap();
                assert_eq!(a, b, "{period:?}");
                assert!(a
                    .iter()
                    .any(|r| r.repeat_purchase_rate.is_some_and(|x| x > 0.0)));
                assert!(a.iter().any(|r| r.retention_rate.is_some_and(|x| x > 0.0)));
            }
        }
        // The bits are used here: 60 customers × 16 bytes against 3,000 purchases.
        assert!(WindowBits::fitting(60, 60, n).is_some());
        assert!(WindowBits::fitting(60, 65, 100).is_none());
    }

    /// `report`'s previous period: the rows after as-of do not count, so the figures as
    /// of a day equal those of a copy of the rows up to it (whole window and per period,
    /// with the customers file's costs and signups).
    #[test]
    fn rows_after_as_of_do_not_count() {
        let all = fixture();
        let cut = d("2024-02-10");
        let kept = all
            .clone()
            .lazy()
            .filter(
                col("date")
                    .cast(DataType::Int32)
                    .lt_eq(lit(days_since_epoch(cut))),
            )
            .collect()
            .unwrap();
        assert!(kept.height() < all.height());
        for period in [None, Some(Period::Month)] {
            let p = SummaryParams {
                period,
                ..SummaryParams::default()
            };
            let (a, _) = summary_rows(&all, Some(&customers()), cut, &p).unwrap();
            let (b, _) = summary_rows(&kept, Some(&customers()), cut, &p).unwrap();
            assert_eq!(a, b);
            assert!(a.iter().any(|r| r.ltv_cac.is_some()));
        }
    }

    #[test]
    fn immature_signups_are_not_counted() {
        // z signed up Jan 10: as of Jan 20 with 30 days, its window is still open.
        let p = SummaryParams::default();
        let (rows, _) = summary_rows(&fixture(), Some(&customers()), d("2024-01-20"), &p).unwrap();
        // a (Jan 1 + 30 = Jan 31 > Jan 20) and z are immature; b (Dec 15 + 30 = Jan 14) is
        // mature and not converted by Jan 14.
        assert_eq!(rows[0].conversion_rate, Some(0.0));
    }

    /// Invoice lines: a pays 10 a month from January to March, b 20 for February only;
    /// as-of March 15 (March partial).
    fn invoices() -> DataFrame {
        let rows = [
            ("a", "2024-01-01", 10.0, "2024-02-01"),
            ("a", "2024-02-01", 10.0, "2024-03-01"),
            ("a", "2024-03-01", 10.0, "2024-04-01"),
            ("b", "2024-02-01", 20.0, "2024-03-01"),
        ];
        let dates =
            |name: &str, v: Vec<i32>| Column::new(name.into(), v).cast(&DataType::Date).unwrap();
        DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), rows.map(|r| r.0).to_vec()),
            dates("date", rows.map(|r| days_since_epoch(d(r.1))).to_vec()),
            Column::new("amount".into(), rows.map(|r| r.2).to_vec()),
            dates(
                "period_start",
                rows.map(|r| days_since_epoch(d(r.1))).to_vec(),
            ),
            dates(
                "period_end",
                rows.map(|r| days_since_epoch(d(r.3))).to_vec(),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn subscription_kpis_per_period_by_hand() {
        let inv = invoices();
        let p = SummaryParams {
            period: Some(Period::Month),
            ..Default::default()
        };
        let as_of = d("2024-03-15");
        let (mut rows, _) = summary_rows(&inv, None, as_of, &p).unwrap();
        add_subscriptions(&mut rows, &inv, None, as_of, &p).unwrap();
        let s: Vec<SubsKpis> = rows.iter().map(|r| r.subs.unwrap()).collect();
        assert_eq!(
            rows.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(),
            ["2024-01", "2024-02", "2024-03"]
        );
        assert_eq!(
            s.iter().map(|k| (k.mrr, k.subscribers)).collect::<Vec<_>>(),
            [(10.0, 1), (30.0, 2), (10.0, 1)]
        );
        // March: b's 20 churned of 30 at the start; nothing new.
        assert_eq!(s[2].logo_churn_rate, Some(0.5));
        assert_eq!(s[2].gross_mrr_churn_rate, Some(20.0 / 30.0));
        assert_eq!(s[2].net_mrr_churn_rate, Some(20.0 / 30.0));
        assert_eq!(s[2].quick_ratio, Some(0.0));
        assert_eq!(s[2].arr(), 120.0);
        assert_eq!(s[1].arpa(), Some(15.0));
        // February: 20 new, nothing lost: no quick ratio (no loss to divide by).
        assert_eq!(s[1].quick_ratio, None);
        assert_eq!(s[1].logo_churn_rate, Some(0.0));
        // No customer had MRR a year before.
        assert_eq!(s[2].nrr_12m, None);
    }

    #[test]
    fn subscription_kpis_whole_window_by_hand() {
        let inv = invoices();
        let p = SummaryParams::default();
        let as_of = d("2024-03-15");
        let (mut rows, _) = summary_rows(&inv, None, as_of, &p).unwrap();
        let note = add_subscriptions(&mut rows, &inv, None, as_of, &p).unwrap();
        let k = rows[0].subs.unwrap();
        // MRR and subscribers as of March 15; the rates of February (the last complete
        // month): nothing churned of a's 10.
        assert_eq!((k.mrr, k.subscribers), (10.0, 1));
        assert_eq!(k.logo_churn_rate, Some(0.0));
        assert_eq!(k.gross_mrr_churn_rate, Some(0.0));
        assert!(note.contains("2024-02, the last complete month"), "{note}");
        // Per week: left out with a note.
        let p = SummaryParams {
            period: Some(Period::Week),
            ..Default::default()
        };
        let (mut rows, _) = summary_rows(&inv, None, as_of, &p).unwrap();
        let note = add_subscriptions(&mut rows, &inv, None, as_of, &p).unwrap();
        assert!(rows.iter().all(|r| r.subs.is_none()));
        assert!(note.contains("not per week"), "{note}");
    }
}
