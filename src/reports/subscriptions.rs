//! `retention subscriptions`: MRR movements, logo and MRR churn rates, quick ratio,
//! NRR/GRR, MRR cohorts and the sBG retention projection, from invoice lines
//! (docs/metrics.md, section subscriptions).
//!
//! The loaded transactions are invoice lines with `period_start` and `period_end` (days,
//! end exclusive; the loader fills them in for lines without a service period). A line's
//! monthly value is amount / n, n = max(1, round(days / 30.4375)); a customer's MRR at a
//! day is the sum of the monthly values of the lines serving that day, and 0 when that sum
//! is not positive. MRR is taken at each period's last day (as-of for the last period),
//! and every figure follows from those snapshots, one vector per customer (and group).

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::bad;
use crate::models::sbg::{self, SbgFit, SbgParams, SurvivalCounts};
use crate::models::se::StandardErrors;
use crate::models::FitOptions;
use crate::output::{pct, Report, View};
use crate::params::SubsPeriod;
use crate::period::{date_from_days, days_since_epoch, Period};
use crate::reports::cohort::{mark_partial, Matrix};
use crate::reports::{column, customer_groups, label_codes, CodedTx, Money};

/// Sums and differences of money within this of zero count as zero (rounding noise of
/// sums in a different order, e.g. a charge and its refund).
pub const EPS: f64 = 1e-9;

/// Days per month in a line's number of months (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// What the command shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SubsView {
    /// One row per period: MRR movements, customers, rates.
    Movements,
    /// MRR cohorts: logo, net and gross MRR retention per cohort and k.
    Cohort,
    /// The sBG fit on the cohorts' survival and its projection.
    Sbg(SbgOptions),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SbgOptions {
    /// Project up to this period index (None: 12 periods past the oldest cohort's age).
    pub horizon: Option<u32>,
    /// Annual discount rate of DERL, compounded per period.
    pub discount_rate: f64,
}

impl SbgOptions {
    /// `--discount-rate` by default.
    pub const DEFAULT_DISCOUNT_RATE: f64 = 0.10;
}

#[derive(Clone, Debug)]
pub struct SubsParams {
    pub period: SubsPeriod,
    /// Group by a customers column (per customer) or an invoice-lines column such as
    /// `plan` (per line: a customer's MRR is split by the lines' values).
    pub by: Option<String>,
    pub view: SubsView,
}

impl SubsParams {
    /// The defaults (of the flags and `retention report`).
    pub const DEFAULT: SubsParams = SubsParams {
        period: SubsPeriod::Month,
        by: None,
        view: SubsView::Movements,
    };
}

impl Default for SubsParams {
    fn default() -> Self {
        SubsParams::DEFAULT
    }
}

/// A line's monthly value: amount / max(1, round(days / 30.4375)).
pub fn monthly_value(amount: f64, start: i32, end: i32) -> f64 {
    let months = (f64::from(end - start) / DAYS_PER_MONTH).round().max(1.0);
    amount / months
}

/// The movements and counts of one period (and group).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Movement {
    pub mrr_start: f64,
    pub new: f64,
    pub expansion: f64,
    pub contraction: f64,
    pub churn: f64,
    pub reactivation: f64,
    pub mrr_end: f64,
    pub customers_start: u64,
    pub customers_new: u64,
    pub customers_churned: u64,
    pub customers_reactivated: u64,
    pub customers_end: u64,
    /// MRR one year earlier of the customers who had MRR then, their MRR now, and it
    /// capped at the earlier MRR (nrr_12m, grr_12m).
    pub year_ago: f64,
    pub year_now: f64,
    pub year_capped: f64,
}

/// One period's (and group's) movements while they are summed: money in [`Money`] (the
/// one summation rule of every report), counts as integers.
#[derive(Clone, Copy, Debug, Default)]
struct MoveSums {
    mrr_start: Money,
    new: Money,
    expansion: Money,
    contraction: Money,
    churn: Money,
    reactivation: Money,
    mrr_end: Money,
    customers_start: u64,
    customers_new: u64,
    customers_churned: u64,
    customers_reactivated: u64,
    customers_end: u64,
    year_ago: Money,
    year_now: Money,
    year_capped: Money,
}

impl MoveSums {
    fn add(&mut self, o: &MoveSums) {
        self.mrr_start += o.mrr_start;
        self.new += o.new;
        self.expansion += o.expansion;
        self.contraction += o.contraction;
        self.churn += o.churn;
        self.reactivation += o.reactivation;
        self.mrr_end += o.mrr_end;
        self.customers_start += o.customers_start;
        self.customers_new += o.customers_new;
        self.customers_churned += o.customers_churned;
        self.customers_reactivated += o.customers_reactivated;
        self.customers_end += o.customers_end;
        self.year_ago += o.year_ago;
        self.year_now += o.year_now;
        self.year_capped += o.year_capped;
    }

    fn movement(&self) -> Movement {
        Movement {
            mrr_start: self.mrr_start.total(),
            new: self.new.total(),
            expansion: self.expansion.total(),
            contraction: self.contraction.total(),
            churn: self.churn.total(),
            reactivation: self.reactivation.total(),
            mrr_end: self.mrr_end.total(),
            customers_start: self.customers_start,
            customers_new: self.customers_new,
            customers_churned: self.customers_churned,
            customers_reactivated: self.customers_reactivated,
            customers_end: self.customers_end,
            year_ago: self.year_ago.total(),
            year_now: self.year_now.total(),
            year_capped: self.year_capped.total(),
        }
    }
}

impl Movement {
    pub fn logo_churn_rate(&self) -> Option<f64> {
        ratio(self.customers_churned as f64, self.customers_start as f64)
    }
    pub fn gross_mrr_churn_rate(&self) -> Option<f64> {
        ratio(self.churn + self.contraction, self.mrr_start)
    }
    pub fn net_mrr_churn_rate(&self) -> Option<f64> {
        ratio(
            self.churn + self.contraction - self.expansion - self.reactivation,
            self.mrr_start,
        )
    }
    pub fn quick_ratio(&self) -> Option<f64> {
        ratio(
            self.new + self.expansion + self.reactivation,
            self.churn + self.contraction,
        )
    }
    pub fn nrr_12m(&self) -> Option<f64> {
        ratio(self.year_now, self.year_ago)
    }
    pub fn grr_12m(&self) -> Option<f64> {
        ratio(self.year_capped, self.year_ago)
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den.abs() > EPS).then(|| num / den)
}

/// One cohort cell's sums: customers with MRR at c+k, their MRR, the MRR capped at each
/// customer's MRR in the cohort period, and the customers with MRR in every period c..=c+k.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct CohortSums {
    active: u64,
    mrr: Money,
    capped: Money,
    survivors: u64,
}

impl CohortSums {
    fn add(&mut self, o: &CohortSums) {
        self.active += o.active;
        self.mrr += o.mrr;
        self.capped += o.capped;
        self.survivors += o.survivors;
    }
}

/// The snapshots: period p0 + s is snapshot s, taken at `days[s]`.
#[derive(Clone, Debug)]
struct Snapshots {
    period: Period,
    first: i32,
    days: Vec<i32>,
    /// The last snapshot is as-of, before its period's last day.
    partial: bool,
}

impl Snapshots {
    fn len(&self) -> usize {
        self.days.len()
    }
    fn label(&self, s: usize) -> String {
        self.period.label(self.first + s as i32)
    }
}

/// Everything computed from the customers' MRR vectors.
struct Computed {
    snaps: Snapshots,
    groups: Vec<String>,
    /// `moves[g * S + s]`.
    moves: Vec<Movement>,
    /// `cohorts[(g * S + c) * S + k]` (empty unless asked for).
    cohorts: Vec<CohortSums>,
}

/// Each line's group index and the sorted group names (one "" without `by`).
fn line_groups(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    coded: &CodedTx,
    by: Option<&str>,
) -> Result<(Vec<u32>, Vec<String>)> {
    let Some(name) = by else {
        return Ok((vec![0; tx.height()], vec![String::new()]));
    };
    let in_customers = customers.is_some_and(|c| c.column(name).is_ok());
    if !in_customers && tx.column(name).is_ok() {
        let vals = tx.column(name)?.cast(&DataType::String)?;
        let vals = vals.str()?;
        let labels: Vec<&str> = vals
            .iter()
            .map(|v| match v.map(str::trim) {
                Some(s) if !s.is_empty() => s,
                _ => "(none)",
            })
            .collect();
        return Ok(label_codes(&labels));
    }
    let (of, names) = coded.groups(customer_groups(tx, customers, name, "--by")?)?;
    let rows = coded
        .rows
        .iter()
        .map(|c| c.map_or(0, |c| of[c as usize]))
        .collect();
    Ok((rows, names))
}

/// The MRR vectors of every (customer, group) and what the report needs from them.
fn compute(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SubsParams,
    with_cohorts: bool,
) -> Result<Computed> {
    use rayon::prelude::*;
    let period = p.period.period();
    let coded = CodedTx::new(tx, None)?;
    let (group_of, groups) = line_groups(tx, customers, &coded, p.by.as_deref())?;
    let days_of = |name: &str| -> Result<Vec<Option<i32>>> {
        let c = tx
            .column(name)
            .map_err(|_| bad(format!("the invoice lines have no {name} column")))?;
        if let Some(days) = crate::load::temporal_days(c)? {
            return Ok(days);
        }
        let c = c.cast(&DataType::Date)?;
        Ok(c.date()?.physical().iter().collect())
    };
    let starts = days_of("period_start")?;
    let ends = days_of("period_end")?;
    let amounts: Vec<Option<f64>> = crate::load::amounts::Amounts::of(tx)?.iter().collect();
    let asof_day = days_since_epoch(as_of);
    let first_day = starts
        .iter()
        .flatten()
        .copied()
        .filter(|d| *d <= asof_day)
        .min()
        .ok_or_else(|| {
            bad(format!(
                "no service period starts on or before as-of {as_of}"
            ))
        })?;
    let p0 = period.index(date_from_days(first_day));
    let last = period.index(as_of);
    let snaps = Snapshots {
        period,
        first: p0,
        days: (p0..=last)
            .map(|i| days_since_epoch(period.end(i)).min(asof_day))
            .collect(),
        partial: as_of < period.end(last),
    };
    let ns = snaps.len();
    let ng = groups.len();

    // Lines by customer (a counting sort): (group, first snapshot, end snapshot, value).
    let n = coded.ids.len();
    let mut start = vec![0usize; n + 1];
    // Each line's snapshots and value, in parallel (in row order).
    let rows: Vec<Option<u32>> = coded.rows.iter().collect();
    let keep: Vec<(u32, u32, u32, u32, f64)> = (0..rows.len())
        .into_par_iter()
        .with_min_len(1 << 14)
        .filter_map(|i| {
            let (Some(c), Some(s), Some(e), Some(a)) = (rows[i], starts[i], ends[i], amounts[i])
            else {
                return None;
            };
            let lo = snaps.days.partition_point(|&t| t < s);
            let hi = snaps.days.partition_point(|&t| t < e);
            (lo < hi && a != 0.0)
                .then(|| (c, group_of[i], lo as u32, hi as u32, monthly_value(a, s, e)))
        })
        .collect();
    for l in &keep {
        start[l.0 as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut lines = vec![(0u32, 0u32, 0u32, 0f64); keep.len()];
    for (c, g, lo, hi, v) in keep {
        let at = &mut next[c as usize];
        lines[*at] = (g, lo, hi, v);
        *at += 1;
    }

    // Fixed chunks of customers, merged in order: the sums do not depend on the threads.
    const CHUNKS: usize = 32;
    let size = n.div_ceil(CHUNKS).max(1);
    let cohort_cells = if with_cohorts { ng * ns * ns } else { 0 };
    let parts: Vec<(Vec<MoveSums>, Vec<CohortSums>)> = (0..n.div_ceil(size))
        .into_par_iter()
        .map(|chunk| {
            let mut moves = vec![MoveSums::default(); ng * ns];
            let mut cohorts = vec![CohortSums::default(); cohort_cells];
            let mut sums = vec![Money::ZERO; ns];
            let mut mrr = vec![0.0; ns];
            let mut own: Vec<(u32, u32, u32, f64)> = Vec::new();
            for c in chunk * size..((chunk + 1) * size).min(n) {
                own.clear();
                own.extend_from_slice(&lines[start[c]..start[c + 1]]);
                own.sort_by_key(|l| l.0);
                for same in own.chunk_by(|a, b| a.0 == b.0) {
                    let g = same[0].0 as usize;
                    sums.iter_mut().for_each(|m| *m = Money::ZERO);
                    for &(_, lo, hi, v) in same {
                        for m in &mut sums[lo as usize..hi as usize] {
                            *m += v;
                        }
                    }
                    for (m, sum) in mrr.iter_mut().zip(&sums) {
                        let t = sum.total();
                        *m = if t <= EPS { 0.0 } else { t };
                    }
                    add_customer(&mrr, p.period.per_year(), &mut moves[g * ns..(g + 1) * ns]);
                    if with_cohorts {
                        add_cohort(&mrr, &mut cohorts[g * ns * ns..(g + 1) * ns * ns]);
                    }
                }
            }
            (moves, cohorts)
        })
        .collect();
    let mut sums = vec![MoveSums::default(); ng * ns];
    let mut cohorts = vec![CohortSums::default(); cohort_cells];
    for (m, c) in parts {
        for (a, b) in sums.iter_mut().zip(&m) {
            a.add(b);
        }
        for (a, b) in cohorts.iter_mut().zip(&c) {
            a.add(b);
        }
    }
    Ok(Computed {
        snaps,
        groups,
        moves: sums.iter().map(MoveSums::movement).collect(),
        cohorts,
    })
}

/// Add one customer's MRR vector (one per snapshot) to the period movements.
fn add_customer(mrr: &[f64], per_year: usize, moves: &mut [MoveSums]) {
    let mut before = 0.0;
    let mut ever = false;
    for (s, (&b, mv)) in mrr.iter().zip(moves.iter_mut()).enumerate() {
        let a = before;
        mv.mrr_start += a;
        mv.mrr_end += b;
        mv.customers_start += u64::from(a > 0.0);
        mv.customers_end += u64::from(b > 0.0);
        if a == 0.0 && b > 0.0 {
            if ever {
                mv.reactivation += b;
                mv.customers_reactivated += 1;
            } else {
                mv.new += b;
                mv.customers_new += 1;
            }
        } else if a > 0.0 && b == 0.0 {
            mv.churn += a;
            mv.customers_churned += 1;
        } else if a > 0.0 {
            let d = b - a;
            if d > EPS {
                mv.expansion += d;
            } else if d < -EPS {
                mv.contraction += -d;
            }
        }
        if s >= per_year {
            let then = mrr[s - per_year];
            if then > 0.0 {
                mv.year_ago += then;
                mv.year_now += b;
                mv.year_capped += b.min(then);
            }
        }
        ever |= b > 0.0;
        before = b;
    }
}

/// Add one customer's MRR vector to its cohort (the first snapshot with MRR).
fn add_cohort(mrr: &[f64], cells: &mut [CohortSums]) {
    let ns = mrr.len();
    let Some(c) = mrr.iter().position(|m| *m > 0.0) else {
        return;
    };
    let base = mrr[c];
    let mut alive = true;
    for (k, &m) in mrr[c..].iter().enumerate() {
        alive &= m > 0.0;
        let cell = &mut cells[c * ns + k];
        cell.active += u64::from(m > 0.0);
        cell.mrr += m;
        cell.capped += m.min(base);
        cell.survivors += u64::from(alive);
    }
}

/// One row of the movements table.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodRow {
    pub group: String,
    pub period: String,
    pub m: Movement,
    pub partial: bool,
}

/// The movements per group and period (pure).
pub fn movements(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SubsParams,
) -> Result<Vec<PeriodRow>> {
    let c = compute(tx, customers, as_of, p, false)?;
    let ns = c.snaps.len();
    let mut rows = Vec::with_capacity(c.moves.len());
    for (g, name) in c.groups.iter().enumerate() {
        for s in 0..ns {
            rows.push(PeriodRow {
                group: name.clone(),
                period: c.snaps.label(s),
                m: c.moves[g * ns + s],
                partial: c.snaps.partial && s + 1 == ns,
            });
        }
    }
    Ok(rows)
}

/// One cell of the MRR cohort table.
#[derive(Clone, Debug, PartialEq)]
pub struct CohortRow {
    pub group: String,
    /// The cohort's period index.
    pub cohort: i32,
    pub k: i32,
    pub size: u64,
    pub active: u64,
    /// Customers with MRR in every period from the cohort's to c+k (not yet churned).
    pub survivors: u64,
    pub logo_retention: Option<f64>,
    pub net_mrr_retention: Option<f64>,
    pub gross_mrr_retention: Option<f64>,
    pub partial: bool,
}

/// The MRR cohort cells per group, cohort and k up to as-of (pure).
pub fn cohorts(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SubsParams,
) -> Result<Vec<CohortRow>> {
    let c = compute(tx, customers, as_of, p, true)?;
    Ok(cohort_rows(&c))
}

fn cohort_rows(c: &Computed) -> Vec<CohortRow> {
    let ns = c.snaps.len();
    let mut rows = Vec::new();
    for (g, name) in c.groups.iter().enumerate() {
        for co in 0..ns {
            let cell = |k: usize| c.cohorts[(g * ns + co) * ns + k];
            let base = cell(0);
            if base.active == 0 {
                continue;
            }
            for k in 0..ns - co {
                let x = cell(k);
                rows.push(CohortRow {
                    group: name.clone(),
                    cohort: c.snaps.first + co as i32,
                    k: k as i32,
                    size: base.active,
                    active: x.active,
                    survivors: x.survivors,
                    logo_retention: ratio(x.active as f64, base.active as f64),
                    net_mrr_retention: ratio(x.mrr.total(), base.mrr.total()),
                    gross_mrr_retention: ratio(x.capped.total(), base.mrr.total()),
                    partial: c.snaps.partial && co + k + 1 == ns,
                });
            }
        }
    }
    rows
}

/// One group's sBG fit.
#[derive(Clone, Debug)]
pub struct SbgGroup {
    pub group: String,
    pub fit: SbgFit,
    pub se: std::result::Result<StandardErrors, String>,
    pub cohorts: usize,
}

/// One row of the sBG table.
#[derive(Clone, Debug, PartialEq)]
pub struct SbgRow {
    pub group: String,
    pub k: i32,
    pub cohorts: u64,
    pub at_risk: u64,
    pub survivors: u64,
    pub actual_survival: Option<f64>,
    pub predicted_survival: f64,
    pub predicted_retention: Option<f64>,
    pub derl: f64,
}

/// The per-period discount rate of an annual rate.
pub fn period_discount(annual: f64, period: SubsPeriod) -> f64 {
    (1.0 + annual).powf(1.0 / period.per_year() as f64) - 1.0
}

/// The sBG fits (one per group) on the cohorts' survival (customers with MRR in every
/// period since their cohort's; the partial as-of period is left out), and per k the
/// actual survival (the product of the pooled period retentions, as Kaplan–Meier pools
/// cohorts of different ages), the predicted S(k), r(k) and DERL (pure).
pub fn sbg_fits(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SubsParams,
    o: &SbgOptions,
) -> Result<(Vec<SbgGroup>, Vec<SbgRow>, Vec<String>)> {
    if !(o.discount_rate.is_finite() && o.discount_rate > 0.0) {
        return Err(bad(format!(
            "--discount-rate {}: must be a number > 0 (DERL needs discounting)",
            o.discount_rate
        )));
    }
    let c = compute(tx, customers, as_of, p, true)?;
    let ns = c.snaps.len();
    // Complete periods only.
    let complete = if c.snaps.partial { ns - 1 } else { ns };
    let d = period_discount(o.discount_rate, p.period);
    let mut fits = Vec::new();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (g, name) in c.groups.iter().enumerate() {
        let mut counts = SurvivalCounts::default();
        let mut at_risk = vec![0u64; ns];
        let mut alive = vec![0u64; ns];
        let mut cohorts_at = vec![0u64; ns];
        // Pooled retention of period k: survivors at k / survivors at k−1, over the cohorts
        // observed at k.
        let mut prev_of_observed = vec![0u64; ns];
        let mut n_cohorts = 0;
        for co in 0..complete {
            let cell = |k: usize| c.cohorts[(g * ns + co) * ns + k];
            if cell(0).active == 0 {
                continue;
            }
            n_cohorts += 1;
            let age = complete - 1 - co;
            let series: Vec<f64> = (0..=age).map(|k| cell(k).survivors as f64).collect();
            counts.add_cohort(&series).map_err(|e| bad(e.to_string()))?;
            for k in 0..=age {
                cohorts_at[k] += 1;
                at_risk[k] += cell(0).active;
                alive[k] += cell(k).survivors;
                if k > 0 {
                    prev_of_observed[k] += cell(k - 1).survivors;
                }
            }
        }
        let group_label = match &p.by {
            Some(b) => format!("{b} = {name}: "),
            None => String::new(),
        };
        let fit = match sbg::fit(&counts, &FitOptions::default()) {
            Ok(f) => f,
            // With groups, one that cannot be fitted is left out (a note says why).
            Err(e) if p.by.is_some() && c.groups.len() > 1 => {
                skipped.push(format!("{group_label}not fitted: {e}"));
                continue;
            }
            Err(e) => return Err(bad(format!("{group_label}{e}"))),
        };
        let se = sbg::standard_errors(&fit.params, &counts).map_err(|e| e.to_string());
        let max_age = (0..ns).rev().find(|&k| cohorts_at[k] > 0).unwrap_or(0);
        let horizon = o.horizon.map_or(max_age + 12, |h| h as usize).max(max_age);
        let params: SbgParams = fit.params;
        let mut actual = Some(1.0);
        for k in 0..=horizon {
            let observed = k < ns && cohorts_at[k] > 0;
            if k > 0 {
                actual = match (actual, observed) {
                    (Some(a), true) if prev_of_observed[k] > 0 => {
                        Some(a * alive[k] as f64 / prev_of_observed[k] as f64)
                    }
                    (Some(_), true) => Some(0.0),
                    _ => None,
                };
            }
            let kf = k as f64;
            rows.push(SbgRow {
                group: name.clone(),
                k: k as i32,
                cohorts: if observed { cohorts_at[k] } else { 0 },
                at_risk: if observed { at_risk[k] } else { 0 },
                survivors: if observed { alive[k] } else { 0 },
                actual_survival: actual.filter(|_| observed),
                predicted_survival: params.survival(kf),
                predicted_retention: (k > 0).then(|| params.retention(kf)),
                derl: params.derl(kf, d).map_err(|e| bad(e.to_string()))?,
            });
        }
        fits.push(SbgGroup {
            group: name.clone(),
            fit,
            se,
            cohorts: n_cohorts,
        });
    }
    if fits.is_empty() {
        return Err(bad(format!(
            "sBG: no group could be fitted ({})",
            skipped.join("; ")
        )));
    }
    Ok((fits, rows, skipped))
}

// ---- frames and views ----

fn money(v: f64) -> String {
    format!("{v:.2}")
}

fn ratio_text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn group_col<T>(by: Option<&str>, rows: &[T], f: impl Fn(&T) -> &str) -> Vec<Column> {
    by.map(|g| vec![column(g, rows, |r| f(r).to_string())])
        .unwrap_or_default()
}

/// The movements' long frame.
pub fn movements_frame(rows: &[PeriodRow], by: Option<&str>) -> Result<DataFrame> {
    let mut cols = group_col(by, rows, |r| r.group.as_str());
    cols.extend([
        column("period", rows, |r| r.period.clone()),
        column("mrr_start", rows, |r| r.m.mrr_start),
        column("new", rows, |r| r.m.new),
        column("expansion", rows, |r| r.m.expansion),
        column("contraction", rows, |r| r.m.contraction),
        column("churn", rows, |r| r.m.churn),
        column("reactivation", rows, |r| r.m.reactivation),
        column("mrr_end", rows, |r| r.m.mrr_end),
        column("customers_start", rows, |r| r.m.customers_start),
        column("customers_new", rows, |r| r.m.customers_new),
        column("customers_churned", rows, |r| r.m.customers_churned),
        column("customers_reactivated", rows, |r| r.m.customers_reactivated),
        column("customers_end", rows, |r| r.m.customers_end),
        column("logo_churn_rate", rows, |r| r.m.logo_churn_rate()),
        column("gross_mrr_churn_rate", rows, |r| r.m.gross_mrr_churn_rate()),
        column("net_mrr_churn_rate", rows, |r| r.m.net_mrr_churn_rate()),
        column("quick_ratio", rows, |r| r.m.quick_ratio()),
        column("nrr_12m", rows, |r| r.m.nrr_12m()),
        column("grr_12m", rows, |r| r.m.grr_12m()),
        column("partial_period", rows, |r| r.partial),
    ]);
    Ok(DataFrame::new(rows.len(), cols)?)
}

fn movement_views(rows: &[PeriodRow], p: &SubsParams, title: &str) -> Vec<View> {
    let mut views = Vec::new();
    let mut groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    groups.dedup();
    let year = match p.period {
        SubsPeriod::Month => "12m",
        SubsPeriod::Quarter => "4q",
        SubsPeriod::Year => "1y",
    };
    for (i, g) in groups.into_iter().enumerate() {
        let mine: Vec<&PeriodRow> = rows.iter().filter(|r| r.group == g).collect();
        let sub = p.by.as_deref().map(|b| format!("{b} = {g}"));
        let head = match (i, &sub) {
            (0, Some(s)) => format!("{title}\n{s}"),
            (0, None) => title.to_string(),
            (_, Some(s)) => s.clone(),
            (_, None) => String::new(),
        };
        let label = |r: &PeriodRow| mark_partial(r.period.clone(), r.partial);
        views.push(View {
            title: Some(head),
            header: [
                "period",
                "mrr_start",
                "new",
                "expansion",
                "contraction",
                "churn",
                "reactivation",
                "mrr_end",
            ]
            .map(String::from)
            .to_vec(),
            rows: mine
                .iter()
                .map(|r| {
                    vec![
                        label(r),
                        money(r.m.mrr_start),
                        money(r.m.new),
                        money(r.m.expansion),
                        money(r.m.contraction),
                        money(r.m.churn),
                        money(r.m.reactivation),
                        money(r.m.mrr_end),
                    ]
                })
                .collect(),
            fixed_columns: 1,
        });
        views.push(View {
            title: None,
            header: vec![
                "period".into(),
                "customers".into(),
                "new".into(),
                "churned".into(),
                "reactivated".into(),
                "end".into(),
                "logo churn".into(),
                "gross MRR churn".into(),
                "net MRR churn".into(),
                "quick ratio".into(),
                format!("NRR {year}"),
                format!("GRR {year}"),
            ],
            rows: mine
                .iter()
                .map(|r| {
                    vec![
                        label(r),
                        r.m.customers_start.to_string(),
                        r.m.customers_new.to_string(),
                        r.m.customers_churned.to_string(),
                        r.m.customers_reactivated.to_string(),
                        r.m.customers_end.to_string(),
                        pct(r.m.logo_churn_rate()),
                        pct(r.m.gross_mrr_churn_rate()),
                        pct(r.m.net_mrr_churn_rate()),
                        ratio_text(r.m.quick_ratio()),
                        pct(r.m.nrr_12m()),
                        pct(r.m.grr_12m()),
                    ]
                })
                .collect(),
            fixed_columns: 1,
        });
    }
    views
}

/// The MRR cohorts' long frame.
pub fn cohorts_frame(rows: &[CohortRow], period: Period, by: Option<&str>) -> Result<DataFrame> {
    let mut cols = group_col(by, rows, |r| r.group.as_str());
    cols.extend([
        column("cohort", rows, |r| period.label(r.cohort)),
        column("period_index", rows, |r| r.k as i64),
        column("cohort_size", rows, |r| r.size),
        column("logo_retention", rows, |r| r.logo_retention),
        column("net_mrr_retention", rows, |r| r.net_mrr_retention),
        column("gross_mrr_retention", rows, |r| r.gross_mrr_retention),
        column("partial_period", rows, |r| r.partial),
    ]);
    Ok(DataFrame::new(rows.len(), cols)?)
}

/// The sBG table's long frame.
pub fn sbg_frame(rows: &[SbgRow], by: Option<&str>) -> Result<DataFrame> {
    let mut cols = group_col(by, rows, |r| r.group.as_str());
    cols.extend([
        column("period_index", rows, |r| r.k as i64),
        column("cohorts", rows, |r| r.cohorts),
        column("at_risk", rows, |r| r.at_risk),
        column("survivors", rows, |r| r.survivors),
        column("actual_survival", rows, |r| r.actual_survival),
        column("predicted_survival", rows, |r| r.predicted_survival),
        column("predicted_retention", rows, |r| r.predicted_retention),
        column("derl", rows, |r| r.derl),
    ]);
    Ok(DataFrame::new(rows.len(), cols)?)
}

fn partial_note(as_of: NaiveDate, period: Period, notes: &mut Vec<String>) {
    let last = period.index(as_of);
    if as_of < period.end(last) {
        notes.push(format!(
            "* {} is a partial period (MRR at {as_of})",
            period.label(last)
        ));
    }
}

/// The result of the command: the report and, for `--model sbg`, the fits.
pub struct SubsOutput {
    pub report: Report,
    pub fits: Vec<SbgGroup>,
    /// `--model sbg`: the table's rows (for the chart).
    pub sbg_rows: Vec<SbgRow>,
    /// `--cohort`: the table's rows (for the chart).
    pub cohort_rows: Vec<CohortRow>,
    /// For stderr: groups that could not be fitted.
    pub warnings: Vec<String>,
}

/// The `subscriptions` report.
pub fn run(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SubsParams,
) -> Result<SubsOutput> {
    let period = p.period.period();
    let name = period.name();
    let by = p.by.as_deref();
    let mut notes = Vec::new();
    match p.view {
        SubsView::Movements => {
            let rows = movements(tx, customers, as_of, p)?;
            let title =
                format!("MRR movements by {name} (MRR at each {name}'s last day), as of {as_of}");
            partial_note(as_of, period, &mut notes);
            Ok(SubsOutput {
                report: Report {
                    data: movements_frame(&rows, by)?,
                    views: movement_views(&rows, p, &title),
                    percent_columns: vec![],
                    notes,
                },
                fits: vec![],
                sbg_rows: vec![],
                cohort_rows: vec![],
                warnings: vec![],
            })
        }
        SubsView::Cohort => {
            let rows = cohorts(tx, customers, as_of, p)?;
            if rows.is_empty() {
                return Err(bad("no customer ever had MRR > 0 up to as-of"));
            }
            let mut views = Vec::new();
            for (what, f) in [
                (
                    "Logo retention",
                    (|r: &CohortRow| r.logo_retention) as fn(&CohortRow) -> Option<f64>,
                ),
                (
                    "Net MRR retention",
                    (|r: &CohortRow| r.net_mrr_retention) as fn(&CohortRow) -> Option<f64>,
                ),
            ] {
                let title =
                    format!("{what} by {name} of the first MRR (k = {name}s since), as of {as_of}");
                let m = Matrix {
                    period,
                    by,
                    title: &title,
                    lead: &["size"],
                };
                views.extend(m.views(
                    &rows,
                    |x| (x.group.as_str(), x.cohort, x.k),
                    |x| vec![x.size.to_string()],
                    |x| mark_partial(pct(f(x)), x.partial),
                ));
            }
            partial_note(as_of, period, &mut notes);
            Ok(SubsOutput {
                report: Report {
                    data: cohorts_frame(&rows, period, by)?,
                    views,
                    percent_columns: vec![],
                    notes,
                },
                fits: vec![],
                sbg_rows: vec![],
                cohort_rows: rows,
                warnings: vec![],
            })
        }
        SubsView::Sbg(o) => {
            let (fits, rows, skipped) = sbg_fits(tx, customers, as_of, p, &o)?;
            let d = period_discount(o.discount_rate, p.period);
            notes.push(format!(
                "actual survival: subscribers with MRR in every {name} since their first \
                 (complete {name}s only); derl: expected discounted {name}s still paid by a \
                 subscriber who survived k {name}s, at {:.4}% per {name} ({}% a year)",
                d * 100.0,
                o.discount_rate * 100.0
            ));
            let data = sbg_frame(&rows, by)?;
            let views = sbg_views(&rows, &fits, by, name, as_of);
            Ok(SubsOutput {
                report: Report {
                    data,
                    views,
                    percent_columns: vec![],
                    notes,
                },
                fits,
                sbg_rows: rows,
                cohort_rows: vec![],
                warnings: skipped,
            })
        }
    }
}

fn sbg_views(
    rows: &[SbgRow],
    fits: &[SbgGroup],
    by: Option<&str>,
    name: &str,
    as_of: NaiveDate,
) -> Vec<View> {
    let mut views = Vec::new();
    for (i, f) in fits.iter().enumerate() {
        // The fit itself is on stderr (every format).
        let head = format!("sBG retention projection by {name}, as of {as_of}");
        let title = match (i, by) {
            (0, Some(b)) => Some(format!("{head}\n{b} = {}", f.group)),
            (0, None) => Some(head),
            (_, Some(b)) => Some(format!("{b} = {}", f.group)),
            (_, None) => None,
        };
        views.push(View {
            title,
            header: [
                "k",
                "cohorts",
                "at risk",
                "survivors",
                "actual",
                "predicted",
                "retention",
                "derl",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .filter(|r| r.group == f.group)
                .map(|r| {
                    let observed = r.cohorts > 0;
                    let count = |v: u64| {
                        if observed {
                            v.to_string()
                        } else {
                            String::new()
                        }
                    };
                    vec![
                        r.k.to_string(),
                        count(r.cohorts),
                        count(r.at_risk),
                        count(r.survivors),
                        pct(r.actual_survival),
                        pct(Some(r.predicted_survival)),
                        pct(r.predicted_retention),
                        format!("{:.2}", r.derl),
                    ]
                })
                .collect(),
            fixed_columns: 1,
        });
    }
    views
}

/// α, β with standard errors and the log-likelihood, in one line.
pub fn describe_fit(f: &SbgGroup) -> String {
    let p = f.fit.params;
    let se = |i: usize| match &f.se {
        Ok(s) => format!(" (se {:.6})", s.se[i]),
        Err(_) => String::new(),
    };
    format!(
        "sBG ({} cohorts, {} subscribers): alpha = {:.6}{}, beta = {:.6}{}, log-likelihood = {:.4}",
        f.cohorts,
        f.fit.subscribers,
        p.alpha,
        se(0),
        p.beta,
        se(1),
        f.fit.log_likelihood
    )
}

/// The `--params` JSON: `{"sbg": {...}}`, or `{"sbg": {group: {...}}}` with `--by`.
pub fn params_json(fits: &[SbgGroup], by: Option<&str>, p: &SubsParams) -> serde_json::Value {
    let one = |f: &SbgGroup| {
        let se = match &f.se {
            Ok(s) => serde_json::json!({ "alpha": s.se[0], "beta": s.se[1] }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        serde_json::json!({
            "alpha": f.fit.params.alpha,
            "beta": f.fit.params.beta,
            "log_likelihood": f.fit.log_likelihood,
            "standard_errors": se,
            "subscribers": f.fit.subscribers,
            "cohorts": f.cohorts,
            "period": p.period.period().name(),
            "iterations": f.fit.iterations,
        })
    };
    let body = match (by, fits) {
        (None, [f]) => one(f),
        _ => serde_json::Value::Object(fits.iter().map(|f| (f.group.clone(), one(f))).collect()),
    };
    serde_json::json!({ "sbg": body })
}

// ---- charts ----

/// `--cohort --chart`: the cohort heatmap of logo retention (the cohort command's
/// heatmap drawing).
pub fn cohort_chart(
    rows: &[CohortRow],
    period: Period,
    grouped: bool,
    data: &str,
    as_of: &str,
) -> Result<crate::charts::Chart> {
    let mut labels: Vec<String> = Vec::new();
    let mut values: Vec<Vec<Option<f64>>> = Vec::new();
    let max_k = rows.iter().map(|r| r.k).max().unwrap_or(0).max(0) as usize;
    for r in rows {
        let label = if grouped {
            format!("{} · {}", r.group, period.label(r.cohort))
        } else {
            period.label(r.cohort)
        };
        if labels.last() != Some(&label) {
            labels.push(label);
            values.push(vec![None; max_k + 1]);
        }
        if let Some(row) = values.last_mut() {
            row[r.k.max(0) as usize] = r.logo_retention;
        }
    }
    Ok(crate::charts::Chart::Heatmap(crate::charts::Heatmap {
        title: format!("Subscriber (logo) retention by MRR cohort — {data}, as of {as_of}"),
        x_desc: "k (periods since the first MRR) — share of the cohort's customers with MRR".into(),
        y_desc: "cohort".into(),
        rows: labels,
        columns: (0..=max_k).map(|k| k.to_string()).collect(),
        values,
    }))
}

/// `--model sbg --chart`: actual vs predicted survival, per group.
pub fn sbg_chart(rows: &[SbgRow], data: &str, as_of: &str) -> crate::charts::Chart {
    use crate::charts::{Chart, LineChart, Series};
    let mut groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    groups.dedup();
    let mut series = Vec::new();
    for g in groups {
        let name = |what: &str| {
            if g.is_empty() {
                what.to_string()
            } else {
                format!("{g}: {what}")
            }
        };
        let mine = rows.iter().filter(|r| r.group == g);
        series.push(Series {
            name: name("actual"),
            points: mine
                .clone()
                .filter_map(|r| Some((f64::from(r.k), r.actual_survival?)))
                .collect(),
            band: vec![],
            dashed: false,
        });
        series.push(Series {
            name: name("predicted (sBG)"),
            points: mine
                .map(|r| (f64::from(r.k), r.predicted_survival))
                .collect(),
            band: vec![],
            dashed: true,
        });
    }
    Chart::Lines(LineChart {
        title: format!("Subscriber survival, actual vs sBG — {data}, as of {as_of}"),
        x_desc: "k (periods since the first MRR)".into(),
        y_desc: "share still subscribed".into(),
        series,
        y_percent: true,
        steps: false,
        x_categories: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn day(s: &str) -> i32 {
        days_since_epoch(d(s))
    }

    /// Invoice lines: customer, date, amount, period start, period end (exclusive), plan.
    fn lines(rows: &[(&str, &str, f64, &str, &str, &str)]) -> DataFrame {
        let dates =
            |name: &str, v: Vec<i32>| Column::new(name.into(), v).cast(&DataType::Date).unwrap();
        DataFrame::new_infer_height(vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            dates("date", rows.iter().map(|r| day(r.1)).collect()),
            Column::new(
                "amount".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            dates("period_start", rows.iter().map(|r| day(r.3)).collect()),
            dates("period_end", rows.iter().map(|r| day(r.4)).collect()),
            Column::new("plan".into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
        ])
        .unwrap()
    }

    fn monthly(
        c: &str,
        from: &str,
        months: u32,
        amount: f64,
        plan: &str,
    ) -> Vec<(String, String, f64, String, String, String)> {
        let mut out = Vec::new();
        let mut s = d(from);
        for _ in 0..months {
            let e = s.checked_add_months(chrono::Months::new(1)).unwrap();
            out.push((
                c.to_string(),
                s.to_string(),
                amount,
                s.to_string(),
                e.to_string(),
                plan.to_string(),
            ));
            s = e;
        }
        out
    }

    fn frame(rows: &[(String, String, f64, String, String, String)]) -> DataFrame {
        let r: Vec<(&str, &str, f64, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.0.as_str(),
                    r.1.as_str(),
                    r.2,
                    r.3.as_str(),
                    r.4.as_str(),
                    r.5.as_str(),
                )
            })
            .collect();
        lines(&r)
    }

    fn moves(tx: &DataFrame, as_of: &str) -> Vec<PeriodRow> {
        movements(tx, None, d(as_of), &SubsParams::default()).unwrap()
    }

    fn at<'a>(rows: &'a [PeriodRow], period: &str) -> &'a Movement {
        &rows.iter().find(|r| r.period == period).unwrap().m
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn monthly_values() {
        // A year: 365 days / 30.4375 = 11.99 → 12 months; a month; a one-day line.
        close(
            monthly_value(1200.0, day("2024-01-01"), day("2025-01-01")),
            100.0,
        );
        close(
            monthly_value(30.0, day("2024-02-01"), day("2024-03-01")),
            30.0,
        );
        close(
            monthly_value(5.0, day("2024-02-01"), day("2024-02-02")),
            5.0,
        );
        // A quarter: 91 days → 3 months.
        close(
            monthly_value(90.0, day("2024-01-01"), day("2024-04-01")),
            30.0,
        );
    }

    #[test]
    fn upgrade_mid_year_on_an_annual_plan() {
        // a: annual 1200 from 2024-01-01 (100/month); upgraded on 2024-07-01 to 2400 a
        // year: the rest of the year is prorated (+600 for 6 months: +100/month).
        let tx = lines(&[
            (
                "a",
                "2024-01-01",
                1200.0,
                "2024-01-01",
                "2025-01-01",
                "annual",
            ),
            (
                "a",
                "2024-07-01",
                600.0,
                "2024-07-01",
                "2025-01-01",
                "annual",
            ),
        ]);
        let r = moves(&tx, "2024-12-31");
        assert_eq!(r.len(), 12);
        let jan = at(&r, "2024-01");
        close(jan.new, 100.0);
        assert_eq!(jan.customers_new, 1);
        for m in ["2024-02", "2024-03", "2024-06", "2024-08", "2024-12"] {
            let x = at(&r, m);
            assert_eq!(
                (x.expansion, x.contraction, x.churn, x.new),
                (0.0, 0.0, 0.0, 0.0),
                "{m}"
            );
        }
        let jul = at(&r, "2024-07");
        close(jul.mrr_start, 100.0);
        close(jul.expansion, 100.0);
        close(jul.mrr_end, 200.0);
        assert_eq!(jul.quick_ratio(), None);
        close(jul.net_mrr_churn_rate().unwrap(), -1.0);
        assert_eq!(jul.gross_mrr_churn_rate(), Some(0.0));
        // The annual plan counts in every month it covers: MRR 100 through June.
        close(at(&r, "2024-06").mrr_end, 100.0);
    }

    #[test]
    fn refund_over_the_same_period() {
        // b pays 50 for March and gets 20 back for March: MRR 30; a full refund of April
        // takes April's MRR to 0 (a churn), May reactivates.
        let tx = lines(&[
            ("b", "2024-03-01", 50.0, "2024-03-01", "2024-04-01", "m"),
            ("b", "2024-03-10", -20.0, "2024-03-01", "2024-04-01", "m"),
            ("b", "2024-04-01", 50.0, "2024-04-01", "2024-05-01", "m"),
            ("b", "2024-04-20", -50.0, "2024-04-01", "2024-05-01", "m"),
            ("b", "2024-05-01", 50.0, "2024-05-01", "2024-06-01", "m"),
        ]);
        let r = moves(&tx, "2024-05-31");
        close(at(&r, "2024-03").new, 30.0);
        close(at(&r, "2024-03").mrr_end, 30.0);
        let apr = at(&r, "2024-04");
        close(apr.churn, 30.0);
        assert_eq!((apr.customers_churned, apr.customers_end), (1, 0));
        assert_eq!(apr.logo_churn_rate(), Some(1.0));
        let may = at(&r, "2024-05");
        close(may.reactivation, 50.0);
        assert_eq!((may.customers_reactivated, may.customers_new), (1, 0));
        assert_eq!(may.new, 0.0);
    }

    #[test]
    fn churn_then_reactivation() {
        let mut rows = monthly("c", "2024-01-01", 2, 10.0, "m");
        rows.extend(monthly("c", "2024-05-01", 2, 15.0, "m"));
        let r = moves(&frame(&rows), "2024-06-30");
        close(at(&r, "2024-01").new, 10.0);
        close(at(&r, "2024-03").churn, 10.0);
        assert_eq!(at(&r, "2024-04").customers_start, 0);
        assert_eq!(at(&r, "2024-04").logo_churn_rate(), None);
        close(at(&r, "2024-05").reactivation, 15.0);
        assert_eq!(at(&r, "2024-05").customers_reactivated, 1);
        // mrr_end = mrr_start + new + reactivation + expansion − contraction − churn.
        for x in &r {
            let m = x.m;
            close(
                m.mrr_end,
                m.mrr_start + m.new + m.reactivation + m.expansion - m.contraction - m.churn,
            );
        }
    }

    #[test]
    fn two_subscriptions_one_cancels_is_a_contraction() {
        let mut rows = monthly("d", "2024-01-01", 6, 20.0, "basic");
        rows.extend(monthly("d", "2024-01-01", 3, 30.0, "addon"));
        let tx = frame(&rows);
        let r = moves(&tx, "2024-06-30");
        close(at(&r, "2024-01").new, 50.0);
        let apr = at(&r, "2024-04");
        close(apr.contraction, 30.0);
        assert_eq!((apr.churn, apr.customers_churned), (0.0, 0));
        close(apr.gross_mrr_churn_rate().unwrap(), 30.0 / 50.0);
        // By plan, the add-on churns and the basic plan stays.
        let p = SubsParams {
            by: Some("plan".into()),
            ..Default::default()
        };
        let g = movements(&tx, None, d("2024-06-30"), &p).unwrap();
        let addon_apr = g
            .iter()
            .find(|r| r.group == "addon" && r.period == "2024-04")
            .unwrap();
        close(addon_apr.m.churn, 30.0);
        assert_eq!(addon_apr.m.customers_churned, 1);
        let basic_apr = g
            .iter()
            .find(|r| r.group == "basic" && r.period == "2024-04")
            .unwrap();
        assert_eq!(basic_apr.m.churn + basic_apr.m.contraction, 0.0);
    }

    #[test]
    fn by_a_customers_column_groups_whole_customers() {
        let mut rows = monthly("d", "2024-01-01", 3, 20.0, "basic");
        rows.extend(monthly("d", "2024-01-01", 2, 30.0, "pro"));
        rows.extend(monthly("k", "2024-02-01", 2, 10.0, "basic"));
        let customers = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), ["d", "k", "z"]),
            Column::new("channel".into(), ["ads", "seo", "ads"]),
        ])
        .unwrap();
        let p = SubsParams {
            by: Some("channel".into()),
            ..Default::default()
        };
        let g = movements(&frame(&rows), Some(&customers), d("2024-03-31"), &p).unwrap();
        let row = |grp: &str, per: &str| {
            g.iter()
                .find(|r| r.group == grp && r.period == per)
                .unwrap()
                .m
        };
        // d (ads) keeps one of two subscriptions in March: a contraction, not a churn.
        close(row("ads", "2024-03").contraction, 30.0);
        assert_eq!(row("ads", "2024-03").customers_churned, 0);
        close(row("seo", "2024-02").new, 10.0);
        assert_eq!(g.len(), 6, "two groups × three months");
    }

    #[test]
    fn mrr_to_zero_and_back_within_a_period_is_no_movement() {
        // e's January ends on the 10th and the next line starts on the 20th: MRR is 0 for
        // ten days in between, but at both month ends it is 40.
        let tx = lines(&[
            ("e", "2023-12-10", 40.0, "2023-12-10", "2024-01-10", "m"),
            ("e", "2024-01-20", 40.0, "2024-01-20", "2024-02-20", "m"),
            ("e", "2024-02-20", 40.0, "2024-02-20", "2024-03-20", "m"),
        ]);
        let r = moves(&tx, "2024-02-29");
        let jan = at(&r, "2024-01");
        close(jan.mrr_start, 40.0);
        close(jan.mrr_end, 40.0);
        assert_eq!(
            (
                jan.churn,
                jan.reactivation,
                jan.customers_churned,
                jan.customers_reactivated
            ),
            (0.0, 0.0, 0, 0)
        );
    }

    #[test]
    fn partial_as_of_period_and_nrr() {
        // f: 100/month from 2023-01; g: 50/month 2023-01 to 2023-06; f upgrades to 120 in
        // 2024-01. NRR 12m at 2024-01 (base 2023-01: f 100 + g 50): (120 + 0) / 150;
        // GRR: (min(120, 100) + 0) / 150.
        let mut rows = monthly("f", "2023-01-01", 12, 100.0, "m");
        rows.extend(monthly("f", "2024-01-01", 1, 120.0, "m"));
        rows.extend(monthly("g", "2023-01-01", 6, 50.0, "m"));
        let r = moves(&frame(&rows), "2024-01-15");
        let jan = r.last().unwrap();
        assert_eq!(jan.period, "2024-01");
        assert!(jan.partial);
        close(jan.m.nrr_12m().unwrap(), 120.0 / 150.0);
        close(jan.m.grr_12m().unwrap(), 100.0 / 150.0);
        assert_eq!(at(&r, "2023-12").nrr_12m(), None);
        // Quick ratio of January 2024: expansion 20 / nothing lost.
        assert_eq!(jan.m.quick_ratio(), None);
        let jul = at(&r, "2023-07");
        close(jul.churn, 50.0);
        close(jul.quick_ratio().unwrap(), 0.0);
    }

    #[test]
    fn cohorts_by_hand() {
        // January cohort: h (10, then 20 from March) and i (10, gone in March).
        let mut rows = monthly("h", "2024-01-01", 2, 10.0, "m");
        rows.extend(monthly("h", "2024-03-01", 2, 20.0, "m"));
        rows.extend(monthly("i", "2024-01-01", 2, 10.0, "m"));
        rows.extend(monthly("j", "2024-02-01", 3, 5.0, "m"));
        let c = cohorts(&frame(&rows), None, d("2024-04-30"), &SubsParams::default()).unwrap();
        let jan: Vec<&CohortRow> = c
            .iter()
            .filter(|r| r.cohort == Period::Month.index(d("2024-01-01")))
            .collect();
        assert_eq!(jan.len(), 4);
        assert_eq!(jan[0].size, 2);
        assert_eq!(jan[2].logo_retention, Some(0.5));
        close(jan[2].net_mrr_retention.unwrap(), 20.0 / 20.0);
        close(jan[2].gross_mrr_retention.unwrap(), 10.0 / 20.0);
        assert_eq!(jan[1].survivors, 2);
        assert_eq!(jan[3].survivors, 1);
        let feb: Vec<&CohortRow> = c
            .iter()
            .filter(|r| r.cohort == Period::Month.index(d("2024-02-01")))
            .collect();
        assert_eq!(feb.len(), 3);
        assert_eq!(feb[2].logo_retention, Some(1.0));
    }

    #[test]
    fn sbg_on_generated_cohorts_recovers_the_series() {
        // One yearly cohort shaped like Fader & Hardie's High End series.
        let alive = [1000, 869, 743, 653, 593, 551, 517, 491];
        let mut rows = Vec::new();
        for i in 0..1000 {
            let years = alive.iter().filter(|&&a| a > i).count() as u32;
            let id = format!("s{i:04}");
            for y in 0..years {
                let s = d("2010-01-01")
                    .checked_add_months(chrono::Months::new(12 * y))
                    .unwrap();
                let e = s.checked_add_months(chrono::Months::new(12)).unwrap();
                rows.push((
                    id.clone(),
                    s.to_string(),
                    120.0,
                    s.to_string(),
                    e.to_string(),
                    "y".to_string(),
                ));
            }
        }
        let p = SubsParams {
            period: SubsPeriod::Year,
            ..Default::default()
        };
        let o = SbgOptions {
            horizon: Some(12),
            discount_rate: 0.1,
        };
        let (fits, out, _) = sbg_fits(&frame(&rows), None, d("2017-12-31"), &p, &o).unwrap();
        let f = &fits[0].fit.params;
        assert!(
            (f.alpha - 0.668).abs() < 5e-4 && (f.beta - 3.806).abs() < 5e-4,
            "{f:?}"
        );
        assert_eq!(out.len(), 13);
        close(out[7].actual_survival.unwrap(), 0.491);
        assert_eq!((out[7].at_risk, out[7].survivors), (1000, 491));
        assert_eq!(out[8].actual_survival, None);
        assert!((out[8].predicted_survival - 0.4604).abs() < 5e-5);
    }
}
