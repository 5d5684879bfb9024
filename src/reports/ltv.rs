//! `retention ltv`: historical LTV curves (and LTV:CAC) per cohort and group, and the
//! predictive BG/NBD + Gamma-Gamma customer lifetime value (docs/metrics.md, section ltv).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::charts::{Chart, LineChart, Series};
use crate::error::bad;
use crate::load::Dataset;
use crate::models::gamma_gamma::{self, GammaGammaFit, GammaGammaParams};
use crate::models::purchase::{Fitted, Kind, Scores};
use crate::models::se::StandardErrors;
use crate::models::{ClvOptions, CustomerScore, FitOptions, Rfm};
use crate::output::{num, Report, View};
use crate::params::{CohortBy, CohortMetric, CohortMode, LtvModel};
use crate::params::{LtvParams, ModelParams};
use crate::period::{days_since_epoch, Period};
use crate::reports::cohort::{
    assign_cohorts, coded_cells, mark_partial, ActivePeriods, CohortParams, Matrix,
};
use crate::reports::{
    column, customer_groups, net_revenue, purchases, Coded, CodedTx, Histories, Money, GROUP,
};

#[derive(Clone, Debug)]
pub struct HistoricalParams {
    pub period: Period,
    pub margin: f64,
    pub max_periods: Option<u32>,
    /// Name of the `--by` column, if any.
    pub by: Option<String>,
}

/// One point of an LTV curve.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub group: String,
    pub cohort: i32,
    pub k: i32,
    pub size: i64,
    pub revenue: Option<f64>,
    pub cumulative: Option<f64>,
    pub ltv: Option<f64>,
    pub cac: Option<f64>,
    pub partial: bool,
}

impl CurvePoint {
    pub fn ltv_cac(&self) -> Option<f64> {
        match (self.ltv, self.cac) {
            (Some(l), Some(c)) if c > 0.0 => Some(l / c),
            _ => None,
        }
    }
}

/// Mean acquisition cost per (group, first-purchase cohort), from the customers file;
/// `cohort` is each code's first-purchase cohort.
fn cohort_cac(
    coded: &CodedTx,
    customers: Option<&DataFrame>,
    cohort: &[Option<i32>],
    groups: Option<(&[u32], &[String])>,
) -> Result<HashMap<(String, i32), f64>> {
    let cost = acquisition_costs(coded, customers)?;
    // Summed in customer id order.
    let mut acc: BTreeMap<(u32, i32), (Money, usize)> = BTreeMap::new();
    for (code, (c, v)) in cohort.iter().zip(&cost).enumerate() {
        if let (Some(c), Some(v)) = (c, v) {
            let g = groups.map_or(0, |(of, _)| of[code]);
            let e = acc.entry((g, *c)).or_default();
            e.0.add(*v);
            e.1 += 1;
        }
    }
    Ok(acc
        .into_iter()
        .map(|((g, c), (sum, n))| {
            let g = groups.map_or(String::new(), |(_, names)| names[g as usize].clone());
            ((g, c), sum.total() / n as f64)
        })
        .collect())
}

/// LTV curves: for each first-purchase cohort, the cumulative net revenue × margin per
/// cohort customer k periods after acquisition (null after the as-of period).
pub fn curves(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    as_of: NaiveDate,
    p: &HistoricalParams,
) -> Result<Vec<CurvePoint>> {
    curves_shared(None, tx, customers, groups, as_of, p)
}

/// [`curves`] with the transactions' ids coded by the caller.
pub fn curves_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    groups: Option<LazyFrame>,
    as_of: NaiveDate,
    p: &HistoricalParams,
) -> Result<Vec<CurvePoint>> {
    let cp = CohortParams {
        period: p.period,
        by: CohortBy::FirstPurchase,
        mode: CohortMode::Classic,
        metric: CohortMetric::Revenue,
        max_periods: p.max_periods,
        group: p.by.clone(),
    };
    let mut notes = Vec::new();
    let coded = Coded::or_new(shared, tx, None)?;
    // (cohorts read the periods with a purchase only)
    let active = ActivePeriods::of(&coded, tx, cp.period)?;
    let cohort = assign_cohorts(&coded, &active, customers, as_of, &cp, &mut notes)?;
    let groups = groups.map(|g| coded.groups(g)).transpose()?;
    let groups = groups.as_ref().map(|(c, n)| (c.as_slice(), n.as_slice()));
    let cells = coded_cells(&coded, &active, tx, &cohort, groups, as_of, &cp)?;
    let cac = cohort_cac(&coded, customers, &cohort, groups)?;
    let mut out = Vec::with_capacity(cells.len());
    let mut cum: HashMap<(String, i32), f64> = HashMap::new();
    for c in cells {
        let key = (c.group.clone(), c.cohort);
        let cumulative = c.revenue.map(|r| {
            let s = cum.entry(key.clone()).or_insert(0.0);
            *s += r;
            *s
        });
        let ltv = cumulative
            .filter(|_| c.size > 0)
            .map(|s| s * p.margin / c.size as f64);
        out.push(CurvePoint {
            group: c.group,
            cohort: c.cohort,
            k: c.k,
            size: c.size,
            revenue: c.revenue,
            cumulative,
            ltv,
            cac: cac.get(&key).copied(),
            partial: c.partial,
        });
    }
    Ok(out)
}

/// Per group: customers, LTV to date (net revenue × margin per customer), mean CAC and
/// LTV:CAC, from the curves' latest observed points.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupLtv {
    pub group: String,
    pub customers: i64,
    pub ltv: f64,
    pub cac: Option<f64>,
}

pub fn group_summary(points: &[CurvePoint]) -> Vec<GroupLtv> {
    // Latest observed point per cohort.
    let mut last: BTreeMap<(&str, i32), &CurvePoint> = BTreeMap::new();
    for pt in points.iter().filter(|p| p.cumulative.is_some()) {
        let e = last.entry((pt.group.as_str(), pt.cohort)).or_insert(pt);
        if pt.k > e.k {
            *e = pt;
        }
    }
    let mut acc: BTreeMap<&str, (i64, f64, f64, i64)> = BTreeMap::new();
    for ((g, _), pt) in last {
        let e = acc.entry(g).or_insert((0, 0.0, 0.0, 0));
        e.0 += pt.size;
        e.1 += pt.ltv.unwrap_or(0.0) * pt.size as f64;
        if let Some(c) = pt.cac {
            e.2 += c * pt.size as f64;
            e.3 += pt.size;
        }
    }
    acc.into_iter()
        .map(|(g, (n, l, c, nc))| GroupLtv {
            group: g.to_string(),
            customers: n,
            ltv: if n > 0 { l / n as f64 } else { 0.0 },
            cac: (nc > 0).then(|| c / nc as f64),
        })
        .collect()
}

fn curves_frame(points: &[CurvePoint], p: &HistoricalParams) -> Result<DataFrame> {
    let mut cols = Vec::new();
    if let Some(b) = &p.by {
        cols.push(column(b, points, |x| x.group.as_str()));
    }
    let has_cac = points.iter().any(|x| x.cac.is_some());
    cols.extend([
        column("cohort", points, |x| p.period.label(x.cohort)),
        column("period_index", points, |x| x.k as i64),
        column("cohort_size", points, |x| x.size),
        column("revenue", points, |x| x.revenue),
        column("cumulative_revenue", points, |x| x.cumulative),
        column("ltv", points, |x| x.ltv),
    ]);
    if has_cac {
        cols.push(column("cac", points, |x| x.cac));
        cols.push(column("ltv_cac", points, |x| x.ltv_cac()));
    }
    cols.push(column("partial_period", points, |x| x.partial));
    Ok(DataFrame::new(points.len(), cols)?)
}

fn money(v: Option<f64>) -> String {
    v.filter(|f| f.is_finite())
        .map(|f| format!("{f:.2}"))
        .unwrap_or_default()
}

fn curve_views(points: &[CurvePoint], p: &HistoricalParams, title: &str) -> Vec<View> {
    let has_cac = points.iter().any(|x| x.cac.is_some());
    let m = Matrix {
        period: p.period,
        by: p.by.as_deref(),
        title,
        lead: if has_cac { &["size", "cac"] } else { &["size"] },
    };
    let mut views = m.views(
        points,
        |x| (x.group.as_str(), x.cohort, x.k),
        |x| {
            let mut lead = vec![num(x.size as f64)];
            if has_cac {
                lead.push(money(x.cac));
            }
            lead
        },
        |x| mark_partial(money(x.ltv), x.partial),
    );
    if has_cac || p.by.is_some() {
        let summary = group_summary(points);
        let mut header = vec![
            p.by.clone().unwrap_or_else(|| "all".to_string()),
            "customers".to_string(),
            "ltv to date".to_string(),
        ];
        if has_cac {
            header.extend(["cac".to_string(), "ltv:cac".to_string()]);
        }
        views.push(View {
            title: Some("LTV to date per customer (all cohorts)".to_string()),
            header,
            rows: summary
                .iter()
                .map(|s| {
                    let mut r = vec![
                        if p.by.is_some() {
                            s.group.clone()
                        } else {
                            "all".to_string()
                        },
                        num(s.customers as f64),
                        money(Some(s.ltv)),
                    ];
                    if has_cac {
                        r.push(money(s.cac));
                        r.push(
                            s.cac
                                .filter(|c| *c > 0.0)
                                .map(|c| format!("{:.2}", s.ltv / c))
                                .unwrap_or_default(),
                        );
                    }
                    r
                })
                .collect(),
            fixed_columns: 1,
        });
    }
    views
}

/// The historical LTV report: curves per cohort (and group), with CAC when known.
pub fn run_historical(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    as_of: NaiveDate,
    p: &HistoricalParams,
) -> Result<Report> {
    Ok(run_historical_curves(tx, customers, groups, as_of, p)?.0)
}

/// [`run_historical`], and its curves' points for [`curves_chart`].
pub fn run_historical_curves(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    as_of: NaiveDate,
    p: &HistoricalParams,
) -> Result<(Report, Vec<CurvePoint>)> {
    run_historical_curves_shared(None, tx, customers, groups, as_of, p)
}

/// [`run_historical_curves`] with the transactions' ids coded by the caller.
pub fn run_historical_curves_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    groups: Option<LazyFrame>,
    as_of: NaiveDate,
    p: &HistoricalParams,
) -> Result<(Report, Vec<CurvePoint>)> {
    let points = curves_shared(shared, tx, customers, groups, as_of, p)?;
    if points.is_empty() {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let margin = if p.margin == 1.0 {
        String::new()
    } else {
        format!(" × margin {}", p.margin)
    };
    let title = format!(
        "Historical LTV: cumulative net revenue{margin} per customer, by {} of first \
         purchase (k = {}s since), as of {as_of}",
        p.period.name(),
        p.period.name()
    );
    let mut notes = Vec::new();
    if points.iter().any(|x| x.partial) {
        notes.push(format!(
            "* {} is a partial period (data up to {as_of})",
            p.period.label(p.period.index(as_of))
        ));
    }
    if customers.is_some_and(|c| c.column("acquisition_cost").is_err()) {
        notes.push("no acquisition_cost column in the customers file: LTV:CAC left out".into());
    }
    let report = Report {
        data: curves_frame(&points, p)?,
        views: curve_views(&points, p, &title),
        percent_columns: vec![],
        notes,
    };
    Ok((report, points))
}

/// `ltv --chart` (historical): one cumulative LTV curve per cohort (and `--by` group), from
/// the curves' points.
pub fn curves_chart(points: &[CurvePoint], p: &LtvParams, data: &str, as_of: &str) -> Chart {
    let labels: Vec<String> = points
        .iter()
        .map(|x| match &p.by {
            Some(_) => format!("{} · {}", x.group, p.period.label(x.cohort)),
            None => p.period.label(x.cohort),
        })
        .collect();
    let mut series = Vec::new();
    for name in crate::charts::ordered_unique(&labels) {
        let points = points
            .iter()
            .zip(&labels)
            .filter(|(_, l)| **l == name)
            .filter_map(|(x, _)| Some((f64::from(x.k), x.ltv?)))
            .collect();
        series.push(Series {
            name,
            points,
            band: vec![],
            dashed: false,
        });
    }
    Chart::Lines(LineChart {
        title: format!("Cumulative LTV per customer by cohort — {data}, as of {as_of}"),
        x_desc: "k (periods since first purchase)".into(),
        y_desc: "cumulative net revenue per customer".into(),
        series,
        y_percent: false,
        steps: false,
        x_categories: vec![],
    })
}

/// `retention ltv`: resolve the grouping and run the requested model.
pub fn command(ds: &Dataset, a: &LtvParams) -> Result<Report> {
    Ok(command_with_chart(ds, a)?.0)
}

/// [`command`], and the data of its chart ([`curves_chart`], [`calibration_chart`]).
pub fn command_with_chart(ds: &Dataset, a: &LtvParams) -> Result<(Report, LtvChartData)> {
    command_with_chart_shared(None, ds, a)
}

/// [`command_with_chart`] with the transactions' ids coded by the caller.
pub fn command_with_chart_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    ds: &'a Dataset,
    a: &LtvParams,
) -> Result<(Report, LtvChartData)> {
    check_model_args(&a.model_args)?;
    // Loaded input carries its coding (Dataset::ids): coded once here when not given.
    let own;
    let shared: Option<&CodedTx<'a>> = match shared {
        Some(c) => Some(c),
        None => {
            own = CodedTx::of(ds, false)?;
            Some(&own)
        }
    };
    if a.model_args.intervals.is_some()
        && (!a.per_customer || a.calibration_end.is_some() || a.model.purchase_model().is_none())
    {
        return Err(bad(
            "--intervals gives per-customer intervals: use it with a predictive --model and \
             --per-customer (not with --calibration-end), or with churn --at-risk",
        ));
    }
    let groups = match &a.by {
        Some(b) => Some(customer_groups(&ds.tx, ds.customers.as_ref(), b, "--by")?),
        None => None,
    };
    match a.model {
        LtvModel::Historical => {
            if a.calibration_end.is_some() {
                return Err(bad(
                    "--calibration-end needs a predictive model (--model bgnbd, mbgnbd, pnbd \
                     or compare)",
                ));
            }
            if a.per_customer {
                let coded = Coded::or_new(shared, &ds.tx, None)?;
                let report = run_per_customer(&coded, &ds.tx, ds.customers.as_ref(), groups, a)?;
                return Ok((report, LtvChartData::None));
            }
            let p = HistoricalParams {
                period: a.period,
                margin: a.model_args.margin,
                max_periods: a.max_periods,
                by: a.by.clone(),
            };
            let (report, curves) = run_historical_curves_shared(
                shared,
                &ds.tx,
                ds.customers.as_ref(),
                groups,
                ds.as_of,
                &p,
            )?;
            Ok((report, LtvChartData::Curves(curves)))
        }
        LtvModel::Compare => Ok((compare(ds, a)?.0, LtvChartData::None)),
        LtvModel::Bgnbd | LtvModel::Mbgnbd | LtvModel::Pnbd | LtvModel::Bgbb => {
            let coded = Coded::or_new(shared, &ds.tx, None)?;
            let groups = groups.map(|g| coded.groups(g)).transpose()?;
            let h = Histories::from_by_customer(
                &coded,
                &*coded.purchases_by_customer(&ds.tx)?,
                groups.as_ref().map(|(c, n)| (c.as_slice(), n.as_slice())),
            );
            if let Some(cal) = a.calibration_end {
                let (report, rows) = run_calibration(ds, &h, a, cal)?;
                return Ok((report, LtvChartData::Calibration(rows)));
            }
            Ok((run_model(ds, &coded, &h, a, None)?, LtvChartData::None))
        }
    }
}

/// Model options that make no sense are usage errors.
pub fn check_model_args(m: &ModelParams) -> Result<()> {
    crate::params::check_margin(m.margin)?;
    if !(m.discount_rate >= 0.0 && m.discount_rate < 1.0) {
        return Err(bad(format!(
            "--discount-rate {}: must be in [0, 1) (a monthly rate, 0.01 = 1%)",
            m.discount_rate
        )));
    }
    if !(m.penalizer >= 0.0 && m.penalizer.is_finite()) {
        return Err(bad(format!("--penalizer {}: must be ≥ 0", m.penalizer)));
    }
    if let Some(l) = m.intervals {
        if !(l > 0.0 && l < 1.0) {
            return Err(bad(format!(
                "--intervals {l}: must be a level in (0, 1), e.g. 0.9"
            )));
        }
        if !(20..=100_000).contains(&m.draws) {
            return Err(bad(format!("--draws {}: must be 20..100000", m.draws)));
        }
    }
    if m.horizon == 0 || m.horizon > 1200 {
        return Err(bad(format!(
            "--horizon {}: must be 1..1200 months",
            m.horizon
        )));
    }
    Ok(())
}

/// Historical LTV per customer: first purchase, orders, net revenue, LTV (× margin) and,
/// with a customers file, the acquisition cost.
fn run_per_customer(
    coded: &CodedTx,
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    a: &LtvParams,
) -> Result<Report> {
    // Joined on the codes of `coded` (integers, numbered in id order); the ids are put
    // back at the end.
    let mut keyed = tx.clone();
    keyed.with_column(
        coded
            .rows
            .clone()
            .with_name("customer_id".into())
            .into_column(),
    )?;
    let orders = purchases(&keyed).group_by([col("customer_id")]).agg([
        col("date").min().alias("first_purchase"),
        col("date").max().alias("last_purchase"),
        len().cast(DataType::Int64).alias("orders"),
    ]);
    let n = coded.ids.len() as u32;
    let all = || Column::new("customer_id".into(), (0..n).collect::<Vec<u32>>());
    // Net revenue per customer: the same sum as every report's.
    let revenue = DataFrame::new_infer_height(vec![
        all(),
        Column::new("revenue".into(), net_revenue(coded, tx)?),
    ])?
    .lazy();
    let mut lf = orders
        .join(
            revenue,
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col("revenue") * lit(a.model_args.margin)).alias("ltv"));
    let mut select = vec![col("customer_id")];
    if let (Some(b), Some(g)) = (&a.by, groups) {
        // Each code's group ("(none)" where the customer has no value).
        let (of, names) = coded.groups(g)?;
        let g: Vec<&str> = of.iter().map(|&i| names[i as usize].as_str()).collect();
        let g = DataFrame::new_infer_height(vec![all(), Column::new(GROUP.into(), g)])?;
        lf = lf.join(
            g.lazy(),
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Left),
        );
        select.push(col(GROUP).alias(b.as_str()));
    }
    select.extend([
        col("first_purchase"),
        col("last_purchase"),
        col("orders"),
        col("revenue"),
        col("ltv"),
    ]);
    if let Some(c) = customers.filter(|c| c.column("acquisition_cost").is_ok()) {
        // (customers file rows of customers without transactions have no code)
        let cost = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), coded.codes(c)?),
            c.column("acquisition_cost")?.clone(),
        ])?
        .lazy()
        .unique_generic(Some(vec![col("customer_id")]), UniqueKeepStrategy::First);
        lf = lf.join(
            cost,
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Left),
        );
        select.push(col("acquisition_cost"));
        select.push((col("ltv") / col("acquisition_cost")).alias("ltv_cac"));
    }
    // (code order is id order)
    let mut data = lf
        .select(select)
        .sort(
            ["ltv", "customer_id"],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let ids: StringChunked = data
        .column("customer_id")?
        .u32()?
        .iter()
        .map(|c| c.and_then(|c| coded.ids.names.get(c as usize)))
        .collect();
    data.with_column(ids.with_name("customer_id".into()).into_column())?;
    if data.height() == 0 {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    Ok(Report {
        data,
        views: Vec::new(),
        percent_columns: vec![],
        notes: Vec::new(),
    })
}

pub use crate::params::Unit;

/// The BG/NBD summary of one customer (docs/metrics.md): x repeat purchase days, t_x first to
/// last purchase day, T first purchase day to the calibration end, m mean value of the
/// repeat purchase days (0 when x = 0); times in `unit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    pub m: f64,
    pub first: i32,
    pub last: i32,
}

/// Summaries of every customer who purchased on or before `end` (only purchases up to
/// `end` count).
pub fn summaries(h: &Histories, end: NaiveDate, unit: Unit) -> Vec<Option<Summary>> {
    let end = days_since_epoch(end);
    let u = unit.days();
    (0..h.len())
        .map(|i| {
            let days = h.days(i);
            let vals = h.values(i);
            let n = days.partition_point(|&d| d <= end);
            if n == 0 {
                return None;
            }
            let (first, last) = (days[0], days[n - 1]);
            let x = (n - 1) as f64;
            let m = if n > 1 {
                vals[1..n].iter().sum::<f64>() / x
            } else {
                0.0
            };
            Some(Summary {
                x,
                t_x: (last - first) as f64 / u,
                t: (end - first) as f64 / u,
                m,
                first,
                last,
            })
        })
        .collect()
}

/// BG/BB summaries (discrete time): opportunity k of a customer = the k-th whole `unit`
/// after the first purchase day (k = 0 holds the first purchase); n = opportunities
/// fully elapsed by `end`; x = opportunities 1..n with a purchase; t_x = the last of them
/// (0 when x = 0); m = mean value of those opportunities (their purchases summed).
pub fn discrete_summaries(h: &Histories, end: NaiveDate, unit: Unit) -> Vec<Option<Summary>> {
    let end = days_since_epoch(end);
    let u = unit.days() as i32;
    (0..h.len())
        .map(|i| {
            let days = h.days(i);
            let vals = h.values(i);
            let first = *days.first()?;
            if first > end {
                return None;
            }
            let n = (end - first) / u;
            let (mut x, mut t_x, mut total) = (0i32, 0i32, 0.0);
            let mut last_k = 0;
            let mut last = first;
            for (d, v) in days.iter().zip(vals) {
                let k = (d - first) / u;
                if *d > end || k > n {
                    break;
                }
                last = *d;
                if k >= 1 {
                    if k != last_k {
                        x += 1;
                        last_k = k;
                    }
                    t_x = k;
                    total += v;
                }
            }
            Some(Summary {
                x: f64::from(x),
                t_x: f64::from(t_x),
                t: f64::from(n),
                m: if x > 0 { total / f64::from(x) } else { 0.0 },
                first,
                last,
            })
        })
        .collect()
}

/// The fitted models and every scored customer (those who bought by the calibration end).
pub struct ModelRun {
    /// Index into the histories of each scored customer.
    pub index: Vec<usize>,
    pub summaries: Vec<Summary>,
    /// The fitted purchase model.
    pub fit: Fitted,
    /// Its standard errors (None, with the reason, when the information matrix is not
    /// positive definite).
    se: std::cell::OnceCell<std::result::Result<StandardErrors, String>>,
    pub gg: Option<GammaGammaFit>,
    gg_se: std::cell::OnceCell<Option<std::result::Result<StandardErrors, String>>>,
    /// What the standard errors are computed from, when first asked for (they cost a
    /// numeric Hessian; a plain per-customer run does not need them).
    rfm: Vec<Rfm>,
    /// The distinct histories of `rfm` (weights summed): what the standard errors need.
    distinct: Vec<Rfm>,
    gg_data: (Vec<f64>, Vec<f64>),
    /// Everyone's scores, by history ([`ModelRun::score`] gives a customer's).
    scores: Scores,
    /// Prediction horizon in model units.
    pub horizon: f64,
    pub unit: Unit,
    /// The calibration end (None for a summary file: its T says it).
    pub end: Option<NaiveDate>,
    /// Why there is no Gamma-Gamma model, if there is none.
    pub gg_missing: Option<String>,
    /// Repeat customers left out of the Gamma-Gamma fit: all their repeat purchases were
    /// free (a mean repeat value of 0).
    pub gg_excluded: usize,
    /// With --intervals: per scored customer, (lower, upper) of expected purchases and of
    /// CLV (NaN without a spend model).
    pub intervals: Option<Vec<Interval>>,
    /// Customers per summary row (`--summary` with a weights column); None: one each.
    pub weights: Option<Vec<f64>>,
    /// Seconds of the fits and the scoring (for `--verbose`).
    pub times: StepTimes,
}

/// Wall seconds of a model run's steps, as `--verbose` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTimes {
    /// The purchase model's fit.
    pub fit: f64,
    /// Gamma-Gamma's fit.
    pub spend: f64,
    /// Both fits (run side by side: at most their sum).
    pub fits: f64,
    /// p_alive, expected purchases and CLV of everyone (with `--intervals`, theirs too).
    pub score: f64,
}

/// A customer's --intervals bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub purchases: (f64, f64),
    pub clv: (f64, f64),
}

/// The `level` interval of each customer's expected purchases and CLV under parameter
/// uncertainty: `draws` parameter sets from the normal approximation of the estimates on
/// the log scale (purchase model and Gamma-Gamma drawn independently), each customer
/// re-scored with each, the (1 ± level)/2 quantiles taken (linear interpolation) and
/// widened to hold the point estimate. Customers are processed in chunks so that memory
/// stays at draws × chunk values.
#[allow(clippy::too_many_arguments)]
fn parameter_intervals(
    fit: &Fitted,
    se: &std::result::Result<StandardErrors, String>,
    gg: Option<&GammaGammaFit>,
    gg_se: Option<&std::result::Result<StandardErrors, String>>,
    rfm: &[Rfm],
    monetary: &[f64],
    point: impl Fn(usize) -> CustomerScore,
    horizon: f64,
    clv: &ClvOptions,
    m: &ModelParams,
) -> Result<Option<Vec<Interval>>> {
    let Some(level) = m.intervals else {
        return Ok(None);
    };
    let se = se.as_ref().map_err(|e| {
        bad(format!(
            "--intervals: the parameters' standard errors are not available ({e})"
        ))
    })?;
    let params: Vec<f64> = fit.params().iter().map(|(_, v)| *v).collect();
    let draws = crate::models::se::draw_log_normal(&params, &se.covariance, m.draws, m.seed)
        .map_err(|e| bad(format!("--intervals: {e:#}")))?;
    let gg_draws: Option<Vec<GammaGammaParams>> = match (gg, gg_se) {
        (Some(g), Some(Ok(s))) => Some(
            crate::models::se::draw_log_normal(
                &[g.params.p, g.params.q, g.params.v],
                &s.covariance,
                m.draws,
                m.seed ^ 0x9e37_79b9_7f4a_7c15,
            )
            .map_err(|e| bad(format!("--intervals: {e:#}")))?
            .into_iter()
            .map(|d| GammaGammaParams {
                p: d[0],
                q: d[1],
                v: d[2],
            })
            .collect(),
        ),
        (Some(_), Some(Err(e))) => {
            return Err(bad(format!(
                "--intervals: the Gamma-Gamma standard errors are not available ({e})"
            )))
        }
        _ => None,
    };
    let models: Vec<Fitted> = draws.iter().map(|d| fit.with_params(d)).collect();
    let (lo_q, hi_q) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
    let quantile = |v: &mut [f64], q: f64| -> f64 {
        v.sort_by(f64::total_cmp);
        let pos = q * (v.len() - 1) as f64;
        let (i, f) = (pos.floor() as usize, pos.fract());
        let j = (i + 1).min(v.len() - 1);
        v[i] + f * (v[j] - v[i])
    };
    const CHUNK: usize = 1 << 16;
    let mut out = Vec::with_capacity(rfm.len());
    for start in (0..rfm.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(rfm.len());
        let (c, mo) = (
            &rfm[start..end],
            &monetary[start.min(monetary.len())..end.min(monetary.len())],
        );
        let mut per_draw = Vec::with_capacity(models.len());
        // (the chunk's histories grouped once for all the draws)
        let (distinct, which) = crate::models::group_with_index(c);
        for (b, f) in models.iter().enumerate() {
            let g = gg_draws.as_ref().map(|d| &d[b]);
            per_draw.push(f.score_grouped(g, c, &distinct, &which, mo, horizon, clv)?);
        }
        let mut ep = vec![0.0; per_draw.len()];
        let mut cl = vec![0.0; per_draw.len()];
        for i in 0..c.len() {
            for (b, d) in per_draw.iter().enumerate() {
                ep[b] = d[i].expected_purchases;
                cl[b] = d[i].clv;
            }
            let point = point(start + i);
            let p = (
                quantile(&mut ep, lo_q).min(point.expected_purchases),
                quantile(&mut ep, hi_q).max(point.expected_purchases),
            );
            let v = if gg_draws.is_some() && point.clv.is_finite() {
                (
                    quantile(&mut cl, lo_q).min(point.clv),
                    quantile(&mut cl, hi_q).max(point.clv),
                )
            } else {
                (f64::NAN, f64::NAN)
            };
            out.push(Interval {
                purchases: p,
                clv: v,
            });
        }
    }
    Ok(Some(out))
}

/// Summarise the histories up to `end`, fit the purchase model and Gamma-Gamma, score
/// everyone.
pub fn fit_models(h: &Histories, end: NaiveDate, m: &ModelParams, kind: Kind) -> Result<ModelRun> {
    let all = if kind == Kind::Bgbb {
        discrete_summaries(h, end, m.unit)
    } else {
        summaries(h, end, m.unit)
    };
    // Sized once (grown by doubling, the two were up to twice the customers at the peak).
    let kept = all.iter().filter(|s| s.is_some()).count();
    let mut index = Vec::with_capacity(kept);
    let mut sums = Vec::with_capacity(kept);
    for (i, s) in all.into_iter().enumerate() {
        if let Some(s) = s {
            index.push(i);
            sums.push(s);
        }
    }
    if sums.is_empty() {
        return Err(bad(format!(
            "no customer made a purchase on or before {end}: nothing to fit the model on"
        )));
    }
    fit_summaries(index, sums, None, Some(end), m, kind)
}

/// Fit the purchase model and Gamma-Gamma on per-customer summaries (`weights`: customers
/// per summary row, for a grouped summary), score everyone.
pub fn fit_summaries(
    index: Vec<usize>,
    sums: Vec<Summary>,
    weights: Option<Vec<f64>>,
    end: Option<NaiveDate>,
    m: &ModelParams,
    kind: Kind,
) -> Result<ModelRun> {
    let w = |i: usize| weights.as_ref().map_or(1.0, |w| w[i]);
    // Without monetary values (a summary of x, t_x, T only: m is NaN throughout) there is
    // no spend model and no spend data to keep; found in the same pass.
    let mut has_m = false;
    let rfm: Vec<Rfm> = sums
        .iter()
        .enumerate()
        .map(|(i, s)| {
            has_m |= !s.m.is_nan();
            Rfm {
                weight: w(i),
                ..Rfm::new(s.x, s.t_x, s.t)
            }
        })
        .collect();
    let opts = FitOptions {
        penalizer: m.penalizer,
        ..FitOptions::default()
    };
    let clock = std::time::Instant::now();
    let mut times = StepTimes::default();
    use rayon::prelude::*;
    // The purchase model and Gamma-Gamma are fitted side by side (neither needs the
    // other; each alone leaves a core idle in its sequential parts: the grouping, the
    // spend data's preparation). Each fit is the same on every run, whatever the threads.
    let purchase = || {
        let clock = std::time::Instant::now();
        // The distinct histories, once: the fit, the standard errors and the scores run
        // on them.
        let (distinct, which) = crate::models::group_with_index(&rfm);
        let fit = Fitted::fit_grouped(kind, &rfm, &distinct, &opts);
        (fit, distinct, which, clock.elapsed().as_secs_f64())
    };
    let spend = || {
        let clock = std::time::Instant::now();
        let (freq, monetary): (Vec<f64>, Vec<f64>) = if has_m {
            (
                sums.par_iter()
                    .with_min_len(1 << 14)
                    .map(|s| if s.m > 0.0 { s.x } else { 0.0 })
                    .collect(),
                sums.par_iter().with_min_len(1 << 14).map(|s| s.m).collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        // Gamma-Gamma is a model of positive spend: repeat customers whose repeat
        // purchases were all free (m = 0) inform the purchase model but are left out of
        // its fit (they are still scored: E[M | x, 0] shrinks towards the population
        // mean). (None without monetary values: m is NaN throughout.)
        let gg_excluded = if has_m {
            sums.par_iter()
                .with_min_len(1 << 14)
                .filter(|s| s.x > 0.0 && s.m <= 0.0)
                .count()
        } else {
            0
        };
        let (gg, gg_missing) = if !has_m {
            (None, Some("no monetary values".to_string()))
        } else {
            match gamma_gamma::fit(&freq, &monetary, weights.as_deref(), &opts) {
                Ok(f) => (Some(f), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            }
        };
        (
            gg,
            gg_missing,
            gg_excluded,
            (freq, monetary),
            clock.elapsed().as_secs_f64(),
        )
    };
    let ((fit, distinct, which, fit_s), (gg, gg_missing, gg_excluded, gg_data, spend_s)) =
        rayon::join(purchase, spend);
    let fit = fit.map_err(|e| {
        bad(format!(
            "the {} model cannot be fitted on these data ({} customers, {} with a \
             repeat purchase): {e:#}",
            kind.label(),
            sums.len(),
            sums.iter().filter(|s| s.x > 0.0).count()
        ))
    })?;
    times.fit = fit_s;
    times.spend = spend_s;
    times.fits = clock.elapsed().as_secs_f64();
    let horizon = f64::from(m.horizon) * 30.0 / m.unit.days();
    let clv = ClvOptions {
        months: m.horizon,
        discount_rate: m.discount_rate,
        step: 30.0 / m.unit.days(),
        margin: m.margin,
    };
    let scores = fit.scores(
        gg.as_ref().map(|g| &g.params),
        &distinct,
        which,
        horizon,
        &clv,
    );
    let mut run = ModelRun {
        index,
        summaries: sums,
        fit,
        se: std::cell::OnceCell::new(),
        gg,
        gg_se: std::cell::OnceCell::new(),
        rfm,
        distinct,
        gg_data,
        scores,
        horizon,
        unit: m.unit,
        end,
        gg_missing,
        gg_excluded,
        intervals: None,
        weights,
        times,
    };
    if m.intervals.is_some() {
        run.standard_errors();
        let intervals = parameter_intervals(
            &run.fit,
            run.se(),
            run.gg.as_ref(),
            run.gg_se(),
            &run.rfm,
            &run.gg_data.1,
            |i| run.score(i),
            horizon,
            &clv,
            m,
        )?;
        run.intervals = intervals;
    }
    run.times.score = clock.elapsed().as_secs_f64() - run.times.fits;
    Ok(run)
}

impl ModelRun {
    /// The purchase model's standard errors (computed once, when first asked for).
    pub fn se(&self) -> &std::result::Result<StandardErrors, String> {
        self.se
            .get_or_init(|| purchase_se(&self.fit, &self.distinct))
    }

    /// Gamma-Gamma's standard errors (None without a spend model).
    pub fn gg_se(&self) -> Option<&std::result::Result<StandardErrors, String>> {
        self.gg_se
            .get_or_init(|| spend_se(self.gg.as_ref(), &self.gg_data, self.weights.as_deref()))
            .as_ref()
    }

    /// Both models' standard errors, computed side by side (each alone leaves a core
    /// idle in its sequential parts). The same numbers as [`ModelRun::se`] and
    /// [`ModelRun::gg_se`].
    pub fn standard_errors(&self) {
        if self.se.get().is_some() || self.gg_se.get().is_some() {
            let _ = (self.se(), self.gg_se());
            return;
        }
        let (fit, distinct) = (&self.fit, &self.distinct);
        let (gg, data, weights) = (self.gg.as_ref(), &self.gg_data, self.weights.as_deref());
        let (purchase, spend) = rayon::join(
            || purchase_se(fit, distinct),
            || spend_se(gg, data, weights),
        );
        let _ = (self.se.set(purchase), self.gg_se.set(spend));
    }

    /// Scored customer `i`'s p_alive, expected purchases, expected value and CLV.
    pub fn score(&self, i: usize) -> CustomerScore {
        let m = self.gg_data.1.get(i).copied().unwrap_or(f64::NAN);
        self.scores.get(i, self.rfm[i].x, m)
    }

    /// Customers (weights included).
    pub fn customers(&self) -> f64 {
        match &self.weights {
            Some(w) => w.iter().sum(),
            None => self.summaries.len() as f64,
        }
    }

    /// Customers with a repeat purchase (weights included).
    pub fn repeat_customers(&self) -> f64 {
        self.summaries
            .iter()
            .enumerate()
            .filter(|(_, s)| s.x > 0.0)
            .map(|(i, _)| self.weights.as_ref().map_or(1.0, |w| w[i]))
            .sum()
    }

    /// The parameters, standard errors and log-likelihoods as JSON (`--params`): one
    /// object per model under its name.
    pub fn params_json(&self) -> serde_json::Value {
        self.standard_errors();
        let mut v = serde_json::json!({
            "unit": self.unit.name(),
            "calibration_end": self.end.map(|d| d.to_string()),
            "customers": count_json(self.customers()),
            "repeat_customers": count_json(self.repeat_customers()),
        });
        v[self.fit.kind().name()] = model_json(&self.fit, self.se());
        v["gamma_gamma"] = serde_json::Value::Null;
        if let Some(g) = &self.gg {
            let mut o = serde_json::json!({
                "p": g.params.p,
                "q": g.params.q,
                "v": g.params.v,
                "log_likelihood": g.log_likelihood,
                "lifetimes_negative_log_likelihood": g.lifetimes_negative_log_likelihood,
                "iterations": g.iterations,
                "customers": g.n_customers,
            });
            o["standard_errors"] = se_json(&["p", "q", "v"], self.gg_se());
            v["gamma_gamma"] = o;
        }
        v
    }

    /// One line per model for `--verbose`.
    pub fn describe(&self) -> Vec<String> {
        let f = &self.fit;
        let ses = self.se().as_ref().ok();
        let params: Vec<String> = f
            .params()
            .iter()
            .enumerate()
            .map(|(i, (n, v))| match ses.and_then(|s| s.se.get(i)) {
                Some(se) => format!("{n} = {v:.6} (se {se:.6})"),
                None => format!("{n} = {v:.6}"),
            })
            .collect();
        let mut out = vec![format!(
            "{} ({} units, {} customers, {} distinct (x, t_x, T)): {}, log-likelihood = {:.4} \
             ({} iterations)",
            f.kind().label(),
            self.unit.name(),
            count_json(self.customers()),
            f.groups(),
            params.join(", "),
            f.log_likelihood(),
            f.iterations()
        )];
        if let Err(e) = self.se() {
            out.push(format!("standard errors not available: {e}"));
        }
        match &self.gg {
            Some(g) => {
                let se = match self.gg_se().and_then(|s| s.as_ref().ok()) {
                    Some(s) => {
                        format!(" (se p {:.6}, q {:.6}, v {:.6})", s.se[0], s.se[1], s.se[2])
                    }
                    None => String::new(),
                };
                out.push(format!(
                    "Gamma-Gamma ({} repeat customers): p = {:.6}, q = {:.6}, v = {:.6}{se}, \
                     log-likelihood = {:.4} ({} iterations)",
                    g.n_customers,
                    g.params.p,
                    g.params.q,
                    g.params.v,
                    g.log_likelihood,
                    g.iterations
                ))
            }
            None => out.push(format!(
                "Gamma-Gamma not fitted: {}",
                self.gg_missing.as_deref().unwrap_or("")
            )),
        }
        out
    }
}

/// A count as a JSON integer when it is whole (weights may make it fractional).
fn count_json(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        serde_json::json!(v as i64)
    } else {
        serde_json::json!(v)
    }
}

/// `{name: value}` standard errors, or null with the reason beside it.
fn se_json(
    names: &[&str],
    se: Option<&std::result::Result<StandardErrors, String>>,
) -> serde_json::Value {
    match se {
        Some(Ok(s)) => {
            let mut o = serde_json::Map::new();
            for (n, v) in names.iter().zip(&s.se) {
                o.insert((*n).to_string(), serde_json::json!(v));
            }
            serde_json::Value::Object(o)
        }
        Some(Err(e)) => serde_json::json!({ "error": e }),
        None => serde_json::Value::Null,
    }
}

/// A fitted purchase model as JSON: its parameters by name, log-likelihood, standard
/// errors and fit details.
fn model_json(f: &Fitted, se: &std::result::Result<StandardErrors, String>) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    let params = f.params();
    for (n, v) in &params {
        o.insert((*n).to_string(), serde_json::json!(v));
    }
    o.insert(
        "log_likelihood".into(),
        serde_json::json!(f.log_likelihood()),
    );
    match f {
        Fitted::BgNbd(b) => {
            o.insert(
                "lifetimes_negative_log_likelihood".into(),
                serde_json::json!(b.lifetimes_negative_log_likelihood),
            );
        }
        Fitted::MbgNbd(b) => {
            o.insert(
                "lifetimes_negative_log_likelihood".into(),
                serde_json::json!(b.lifetimes_negative_log_likelihood),
            );
        }
        Fitted::Bgbb(b) => {
            o.insert(
                "lifetimes_negative_log_likelihood".into(),
                serde_json::json!(b.lifetimes_negative_log_likelihood),
            );
        }
        Fitted::ParetoNbd(_) => {}
    }
    o.insert("iterations".into(), serde_json::json!(f.iterations()));
    o.insert("distinct_triples".into(), serde_json::json!(f.groups()));
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    o.insert("standard_errors".into(), se_json(&names, Some(se)));
    serde_json::Value::Object(o)
}

/// The purchase model's standard errors, or why there are none.
fn purchase_se(fit: &Fitted, distinct: &[Rfm]) -> std::result::Result<StandardErrors, String> {
    fit.standard_errors(crate::models::Rows::Distinct(distinct))
        .map_err(|e| format!("{e:#}"))
}

/// Gamma-Gamma's standard errors on its data (frequencies, mean values), or why there
/// are none; None without a spend model.
fn spend_se(
    gg: Option<&GammaGammaFit>,
    data: &(Vec<f64>, Vec<f64>),
    weights: Option<&[f64]>,
) -> Option<std::result::Result<StandardErrors, String>> {
    gg.map(|g| {
        crate::models::se::gamma_gamma(&g.params, &data.0, &data.1, weights)
            .map_err(|e| format!("{e:#}"))
    })
}

/// Print (--verbose) and write (--params) the fitted parameters.
fn report_params(run: &ModelRun, m: &ModelParams, verbose: bool, name: &str) -> Result<()> {
    if verbose {
        // the standard errors are computed when first asked for: timed here
        let clock = std::time::Instant::now();
        run.standard_errors();
        let se = clock.elapsed().as_secs_f64();
        for l in run.describe() {
            eprintln!("retention {name}: {l}");
        }
        let t = run.times;
        eprintln!(
            "retention {name}: model steps: fit {:.3} s beside Gamma-Gamma fit {:.3} s \
             (both {:.3} s), standard errors {se:.3} s, scoring {:.3} s (total {:.3} s)",
            t.fit,
            t.spend,
            t.fits,
            t.score,
            t.fits + se + t.score
        );
    }
    if let Some(path) = &m.params {
        let text = serde_json::to_string_pretty(&run.params_json())? + "\n";
        crate::output::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

fn gg_notes(run: &ModelRun, notes: &mut Vec<String>) {
    if run.gg_excluded > 0 {
        notes.push(format!(
            "{} repeat customers whose repeat purchases were all free are left out of the \
             Gamma-Gamma fit (a model of positive spend); their expected value shrinks \
             towards the population mean",
            run.gg_excluded
        ));
    }
    if let Some(why) = &run.gg_missing {
        notes.push(format!(
            "no spend model (Gamma-Gamma: {why}): expected values and CLV left out"
        ));
    } else if run.gg.as_ref().is_some_and(|g| !g.mean_is_finite) {
        notes.push(
            "Gamma-Gamma q ≤ 1: the population mean spend is infinite; CLV of customers with \
             few purchases is unreliable"
                .to_string(),
        );
    }
}

fn opt_f(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The mean predicted CLV over the scored customers (what [`run_model`] shows as
/// `mean_predicted_clv` without `--by`: a non-finite CLV counts 0), None without
/// Gamma-Gamma or when it is not finite.
pub fn mean_predicted_clv(run: &ModelRun) -> Option<f64> {
    run.gg.as_ref()?;
    let mut clv = 0.0;
    for i in 0..run.index.len() {
        let c = run.score(i).clv;
        clv += if c.is_finite() { c } else { 0.0 };
    }
    Some(clv / run.index.len() as f64).filter(|v| v.is_finite())
}

/// `ltv --model bgnbd`: per customer, or per group (default), on coded transactions
/// (the histories' codes, when they have them, are those of `coded`).
pub fn run_model(
    ds: &Dataset,
    coded: &CodedTx,
    h: &Histories,
    a: &LtvParams,
    cal_end: Option<NaiveDate>,
) -> Result<Report> {
    let m = &a.model_args;
    if let Some(c) = cal_end {
        return Ok(run_calibration(ds, h, a, c)?.0);
    }
    let kind = a.model.purchase_model().unwrap_or(Kind::BgNbd);
    let run = fit_models(h, ds.as_of, m, kind)?;
    report_params(&run, m, a.verbose, "ltv")?;
    let mut notes = Vec::new();
    gg_notes(&run, &mut notes);
    let months = m.horizon;
    if a.per_customer {
        let data = per_customer_frame(h, &run, a.by.as_deref(), None)?;
        return Ok(Report {
            data,
            views: Vec::new(),
            percent_columns: vec!["p_alive"],
            notes,
        });
    }
    // Per group: the mean predicted CLV, plus the history to date and the CAC.
    let revenue = net_revenue(coded, &ds.tx)?;
    let costs = acquisition_costs(coded, ds.customers.as_ref())?;
    let codes = history_codes(coded, h);
    #[derive(Default)]
    struct Acc {
        n: i64,
        repeat: i64,
        p_alive: f64,
        purchases: f64,
        clv: f64,
        /// Net revenue to date (× margin when shown).
        hist: Money,
        cost: f64,
        n_cost: i64,
    }
    let mut acc: BTreeMap<&str, Acc> = BTreeMap::new();
    for (k, (&i, s)) in run.index.iter().zip(&run.summaries).enumerate() {
        let sc = run.score(k);
        let g = if a.by.is_some() { &h.groups[i] } else { "all" };
        let e = acc.entry(g).or_default();
        e.n += 1;
        e.repeat += i64::from(s.x > 0.0);
        e.p_alive += sc.p_alive;
        e.purchases += sc.expected_purchases;
        e.clv += if sc.clv.is_finite() { sc.clv } else { 0.0 };
        let code = codes[i].map(|c| c as usize);
        e.hist += code.map_or(0.0, |c| revenue[c]);
        if let Some(c) = code.and_then(|c| costs[c]) {
            e.cost += c;
            e.n_cost += 1;
        }
    }
    let has_gg = run.gg.is_some();
    let has_cac = acc.values().any(|e| e.n_cost > 0);
    let names: Vec<&str> = acc.keys().copied().collect();
    let rows: Vec<&Acc> = acc.values().collect();
    let mut cols = vec![
        column(a.by.as_deref().unwrap_or("group"), &names, |g| *g),
        column("customers", &rows, |e| e.n),
        column("repeat_customers", &rows, |e| e.repeat),
        column("mean_p_alive", &rows, |e| e.p_alive / e.n as f64),
        column("expected_purchases", &rows, |e| e.purchases),
    ];
    if has_gg {
        cols.push(column("predicted_clv", &rows, |e| e.clv));
        cols.push(column("mean_predicted_clv", &rows, |e| e.clv / e.n as f64));
    }
    let hist = |e: &Acc| e.hist.total() * m.margin;
    cols.push(column("mean_historical_ltv", &rows, |e| {
        hist(e) / e.n as f64
    }));
    if has_gg && has_cac {
        let cac = |e: &Acc| (e.n_cost > 0).then(|| e.cost / e.n_cost as f64);
        cols.push(column("cac", &rows, |e| cac(e)));
        cols.push(column("ltv_cac", &rows, |e| {
            cac(e)
                .filter(|c| *c > 0.0)
                .map(|c| (hist(e) + e.clv) / e.n as f64 / c)
        }));
    }
    let data = DataFrame::new(names.len(), cols)?;
    notes.push(format!(
        "predicted over the next {months} months (discount {}%/month, margin {}); \
         ltv_cac = (historical + predicted) / cac",
        m.discount_rate * 100.0,
        m.margin
    ));
    Ok(Report {
        data,
        views: Vec::new(),
        percent_columns: vec!["mean_p_alive"],
        notes,
    })
}

/// Acquisition cost per customer code, when the customers file has one (its first row of
/// each customer).
fn acquisition_costs(coded: &CodedTx, customers: Option<&DataFrame>) -> Result<Vec<Option<f64>>> {
    let mut out = vec![None; coded.ids.len()];
    let Some(c) = customers.filter(|c| c.column("acquisition_cost").is_ok()) else {
        return Ok(out);
    };
    let cost = c.column("acquisition_cost")?.cast(&DataType::Float64)?;
    let mut seen = vec![false; coded.ids.len()];
    for (code, v) in coded.codes(c)?.into_iter().zip(cost.f64()?.iter()) {
        if let Some(code) = code.map(|c| c as usize) {
            if !seen[code] {
                seen[code] = true;
                out[code] = v;
            }
        }
    }
    Ok(out)
}

/// Each history's customer code in `coded`: its recorded code when the histories were
/// built from `coded`, otherwise looked up by id.
fn history_codes(coded: &CodedTx, h: &Histories) -> Vec<Option<u32>> {
    let same = h.codes.len() == h.len()
        && h.codes
            .iter()
            .zip(h.ids.iter())
            .all(|(&c, id)| coded.ids.names.get(c as usize) == Some(id));
    if same {
        h.codes.iter().map(|&c| Some(c)).collect()
    } else {
        h.ids.iter().map(|id| coded.ids.code(id)).collect()
    }
}

/// Per-customer model output, optionally restricted to (and ordered by) `order`.
fn per_customer_frame(
    h: &Histories,
    run: &ModelRun,
    by: Option<&str>,
    order: Option<&[usize]>,
) -> Result<DataFrame> {
    let all: Vec<usize> = (0..run.index.len()).collect();
    let rows = order.unwrap_or(&all);
    let sum = |k: &usize| &run.summaries[*k];
    let score = |k: &usize| run.score(*k);
    let mut cols = vec![column("customer_id", rows, |&k| &h.ids[run.index[k]])];
    if let Some(b) = by {
        cols.push(column(b, rows, |&k| &h.groups[run.index[k]]));
    }
    cols.extend([
        column("last_purchase", rows, |k| sum(k).last).cast(&DataType::Date)?,
        column("frequency", rows, |k| sum(k).x),
        column("recency", rows, |k| sum(k).t_x),
        column("T", rows, |k| sum(k).t),
        column("monetary", rows, |k| (sum(k).x > 0.0).then_some(sum(k).m)),
        column("p_alive", rows, |k| score(k).p_alive),
        column("expected_purchases", rows, |k| score(k).expected_purchases),
    ]);
    if run.gg.is_some() {
        cols.push(column("expected_avg_value", rows, |k| {
            opt_f(score(k).expected_average_value)
        }));
        cols.push(column("clv", rows, |k| opt_f(score(k).clv)));
    }
    if let Some(iv) = &run.intervals {
        cols.push(column("expected_purchases_lower", rows, |&k| {
            iv[k].purchases.0
        }));
        cols.push(column("expected_purchases_upper", rows, |&k| {
            iv[k].purchases.1
        }));
        if run.gg.is_some() {
            cols.push(column("clv_lower", rows, |&k| opt_f(iv[k].clv.0)));
            cols.push(column("clv_upper", rows, |&k| opt_f(iv[k].clv.1)));
        }
    }
    Ok(DataFrame::new(rows.len(), cols)?)
}

/// `churn --at-risk`: the customers most likely to have lapsed, lowest p_alive first
/// (ties: higher CLV first), with their expected value.
pub fn at_risk(
    ds: &Dataset,
    m: &ModelParams,
    by: Option<&str>,
    top: usize,
    kind: Kind,
) -> Result<Report> {
    check_model_args(m)?;
    let groups = match by {
        Some(b) => Some(customer_groups(&ds.tx, ds.customers.as_ref(), b, "--by")?),
        None => None,
    };
    let h = Histories::of_dataset(ds, groups)?;
    let run = fit_models(&h, ds.as_of, m, kind)?;
    report_params(&run, m, false, "churn")?;
    let mut order: Vec<usize> = (0..run.index.len()).collect();
    let keys: Vec<(f64, f64)> = (0..run.index.len())
        .map(|k| {
            let sc = run.score(k);
            let c = sc.clv;
            (sc.p_alive, if c.is_finite() { -c } else { 0.0 })
        })
        .collect();
    let key = |k: usize| keys[k];
    order.sort_by(|&i, &j| {
        key(i)
            .partial_cmp(&key(j))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| h.ids[run.index[i]].cmp(&h.ids[run.index[j]]))
    });
    if top > 0 {
        order.truncate(top);
    }
    let data = per_customer_frame(&h, &run, by, Some(&order))?;
    let mut notes = vec![format!(
        "p_alive: {} probability that the customer is still active; expected purchases \
         and clv over the next {} months",
        kind.label(),
        m.horizon
    )];
    gg_notes(&run, &mut notes);
    Ok(Report {
        data,
        views: Vec::new(),
        percent_columns: vec!["p_alive"],
        notes,
    })
}

/// `--model compare`: fit every purchase model on the calibration period and compare them
/// on the holdout, one row per model (docs/metrics.md, "model comparison"): parameters,
/// log-likelihood, AIC = 2k − 2LL, BIC = k·ln(n) − 2LL, holdout actual and predicted
/// purchases (distinct purchase days), per-customer MAE and RMSE; the lowest RMSE is best.
/// One model's holdout tracking: per number of calibration repeats (0..6, "7+"), the
/// actual and predicted mean holdout purchases per customer (the `--chart` of compare).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    pub model: &'static str,
    pub buckets: Vec<(String, f64, f64)>,
}

/// `retention ltv --model compare`: each model's predicted holdout purchases beside the
/// actual ones, by number of calibration repeats.
pub fn compare_chart(tracking: &[Tracking], data: &str, as_of: &str) -> Chart {
    let cats: Vec<String> = tracking
        .first()
        .map(|t| t.buckets.iter().map(|b| b.0.clone()).collect())
        .unwrap_or_default();
    let pos = |r: &str| cats.iter().position(|c| c == r);
    let mut series = Vec::new();
    if let Some(t) = tracking.first() {
        series.push(Series {
            name: "actual".into(),
            points: t
                .buckets
                .iter()
                .filter_map(|b| Some((pos(&b.0)? as f64, b.1)))
                .collect(),
            band: vec![],
            dashed: false,
        });
    }
    for t in tracking {
        series.push(Series {
            name: format!("{}: predicted", t.model),
            points: t
                .buckets
                .iter()
                .filter_map(|b| Some((pos(&b.0)? as f64, b.2)))
                .collect(),
            band: vec![],
            dashed: true,
        });
    }
    Chart::Lines(LineChart {
        title: format!(
            "Models on the holdout: predicted vs actual purchases — {data}, as of {as_of}"
        ),
        x_desc: "repeat purchases in the calibration period".into(),
        y_desc: "mean purchases per customer in the holdout".into(),
        series,
        y_percent: false,
        steps: false,
        x_categories: cats,
    })
}

/// `ltv --model compare`: the comparison table and each model's holdout tracking.
pub fn compare(ds: &Dataset, a: &LtvParams) -> Result<(Report, Vec<Tracking>)> {
    let Some(cal) = a.calibration_end else {
        return Err(bad(
            "--model compare needs --calibration-end DATE (the models are compared \
             on the holdout after it)",
        ));
    };
    if a.per_customer || a.by.is_some() {
        return Err(bad(
            "--model compare gives one row per model: not with --per-customer or --by",
        ));
    }
    let h = Histories::of_dataset(ds, None)?;
    run_compare(ds, &h, a, cal)
}

fn run_compare(
    ds: &Dataset,
    h: &Histories,
    a: &LtvParams,
    cal: NaiveDate,
) -> Result<(Report, Vec<Tracking>)> {
    let m = &a.model_args;
    check_calibration_end(cal, ds.as_of)?;
    let holdout = (days_since_epoch(ds.as_of) - days_since_epoch(cal)) as f64 / m.unit.days();
    let cal_d = days_since_epoch(cal);
    struct Row {
        model: &'static str,
        parameters: String,
        ll: f64,
        aic: f64,
        bic: f64,
        actual: f64,
        predicted: f64,
        mae: f64,
        rmse: f64,
        best: bool,
    }
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    let mut notes = Vec::new();
    let mut tracking = Vec::new();
    const TOP: usize = 7;
    for kind in Kind::ALL {
        let run = match fit_models(h, cal, m, kind) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("{} left out: {e:#}", kind.label()));
                continue;
            }
        };
        if a.verbose {
            for l in run.describe() {
                eprintln!("retention ltv: {l}");
            }
        }
        let (mut actual, mut predicted, mut abs, mut sq) = (0.0, 0.0, 0.0, 0.0);
        let mut buckets = [(0usize, 0.0, 0.0); TOP + 1];
        for (&i, s) in run.index.iter().zip(&run.summaries) {
            let days = h.days(i);
            let act = (days.len() - days.partition_point(|&d| d <= cal_d)) as f64;
            let pred = run.fit.expected_purchases(holdout, s.x, s.t_x, s.t);
            let b = &mut buckets[(s.x as usize).min(TOP)];
            b.0 += 1;
            b.1 += act;
            b.2 += pred;
            actual += act;
            predicted += pred;
            abs += (pred - act).abs();
            sq += (pred - act).powi(2);
        }
        let n = run.summaries.len() as f64;
        let k = run.fit.params().len() as f64;
        let ll = run.fit.log_likelihood();
        rows.push(Row {
            model: kind.name(),
            parameters: run
                .fit
                .params()
                .iter()
                .map(|(p, v)| format!("{p}={v:.6}"))
                .collect::<Vec<_>>()
                .join(" "),
            ll,
            aic: 2.0 * k - 2.0 * ll,
            bic: k * n.ln() - 2.0 * ll,
            actual,
            predicted,
            mae: abs / n,
            rmse: (sq / n).sqrt(),
            best: false,
        });
        let mut o = model_json(&run.fit, run.se());
        o["customers"] = serde_json::json!(run.summaries.len());
        json.insert(kind.name().into(), o);
        tracking.push(Tracking {
            model: kind.name(),
            buckets: buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.0 > 0)
                .map(|(j, b)| {
                    let label = if j == TOP {
                        format!("{TOP}+")
                    } else {
                        j.to_string()
                    };
                    (label, b.1 / b.0 as f64, b.2 / b.0 as f64)
                })
                .collect(),
        });
    }
    if rows.is_empty() {
        return Err(bad(format!(
            "no model could be fitted on the purchases up to {cal}: {}",
            notes.join("; ")
        )));
    }
    let best = rows
        .iter()
        .enumerate()
        .min_by(|x, y| x.1.rmse.total_cmp(&y.1.rmse))
        .map(|(i, _)| i)
        .unwrap_or(0);
    rows[best].best = true;
    if let Some(path) = &m.params {
        let mut v = serde_json::Value::Object(json);
        v["unit"] = serde_json::json!(m.unit.name());
        v["calibration_end"] = serde_json::json!(cal.to_string());
        let text = serde_json::to_string_pretty(&v)? + "\n";
        crate::output::write_atomic(path, text.as_bytes())?;
    }
    let data = DataFrame::new(
        rows.len(),
        vec![
            column("model", &rows, |r| r.model),
            column("parameters", &rows, |r| r.parameters.as_str()),
            column("log_likelihood", &rows, |r| r.ll),
            column("aic", &rows, |r| r.aic),
            column("bic", &rows, |r| r.bic),
            column("holdout_actual", &rows, |r| r.actual),
            column("holdout_predicted", &rows, |r| r.predicted),
            column("mae", &rows, |r| r.mae),
            column("rmse", &rows, |r| r.rmse),
            column("best", &rows, |r| r.best),
        ],
    )?;
    notes.insert(
        0,
        format!(
            "fitted on purchases up to {cal}; holdout {} to {} ({holdout:.1} {}s); mae and \
             rmse per customer over the holdout's purchase days; best = lowest rmse ({})",
            cal.succ_opt().unwrap_or(cal),
            ds.as_of,
            m.unit.name(),
            rows[best].model
        ),
    );
    Ok((
        Report {
            data,
            views: Vec::new(),
            percent_columns: vec![],
            notes,
        },
        tracking,
    ))
}

/// `--calibration-end` must leave a holdout: the one check of it against the data.
pub fn check_calibration_end(cal: NaiveDate, as_of: NaiveDate) -> Result<()> {
    if cal >= as_of {
        return Err(bad(format!(
            "--calibration-end {cal} must be before as-of ({as_of})"
        )));
    }
    Ok(())
}

/// `--calibration-end`: fit up to the date, predict the holdout, compare with the actual.
fn run_calibration(
    ds: &Dataset,
    h: &Histories,
    a: &LtvParams,
    cal: NaiveDate,
) -> Result<(Report, Vec<CalibrationRow>)> {
    let m = &a.model_args;
    check_calibration_end(cal, ds.as_of)?;
    let kind = a.model.purchase_model().unwrap_or(Kind::BgNbd);
    let run = fit_models(h, cal, m, kind)?;
    report_params(&run, m, a.verbose, "ltv")?;
    let holdout = (days_since_epoch(ds.as_of) - days_since_epoch(cal)) as f64 / m.unit.days();
    let cal_d = days_since_epoch(cal);
    const TOP: usize = 7;
    #[derive(Clone, Copy, Default)]
    struct Bucket(i64, f64, f64, f64, f64); // n, actual, predicted, Σ|err|, Σerr²
    let mut acc = vec![Bucket::default(); TOP + 2];
    let (as_of_d, u) = (days_since_epoch(ds.as_of), m.unit.days() as i32);
    for (&i, s) in run.index.iter().zip(&run.summaries) {
        let days = h.days(i);
        let (actual, pred) = if kind == Kind::Bgbb {
            // Discrete: the customer's own opportunities after the calibration ones,
            // up to as-of; actual = those with a purchase.
            let n_end = (as_of_d - s.first) / u;
            let n_cal = s.t as i32;
            let mut ks: Vec<i32> = days
                .iter()
                .filter(|&&d| d <= as_of_d)
                .map(|d| (d - s.first) / u)
                .filter(|&k| k > n_cal && k <= n_end)
                .collect();
            ks.dedup();
            let n_hold = f64::from(n_end - n_cal);
            let pred = if n_hold > 0.0 {
                run.fit.expected_purchases(n_hold, s.x, s.t_x, s.t)
            } else {
                0.0
            };
            (ks.len() as f64, pred)
        } else {
            let actual = (days.len() - days.partition_point(|&d| d <= cal_d)) as f64;
            (actual, run.fit.expected_purchases(holdout, s.x, s.t_x, s.t))
        };
        let b = (s.x as usize).min(TOP);
        for j in [b, TOP + 1] {
            let e = &mut acc[j];
            e.0 += 1;
            e.1 += actual;
            e.2 += pred;
            e.3 += (pred - actual).abs();
            e.4 += (pred - actual).powi(2);
        }
    }
    let keep: Vec<usize> = (0..TOP + 2).filter(|&j| acc[j].0 > 0).collect();
    let label = |j: usize| match j {
        j if j < TOP => j.to_string(),
        j if j == TOP => format!("{TOP}+"),
        _ => "total".to_string(),
    };
    let rows: Vec<(String, Bucket)> = keep.iter().map(|&j| (label(j), acc[j])).collect();
    let data = DataFrame::new(
        rows.len(),
        vec![
            column("calibration_repeats", &rows, |r| r.0.as_str()),
            column("customers", &rows, |r| r.1 .0),
            column("actual_purchases", &rows, |r| r.1 .1),
            column("predicted_purchases", &rows, |r| r.1 .2),
            column("actual_mean", &rows, |r| r.1 .1 / r.1 .0 as f64),
            column("predicted_mean", &rows, |r| r.1 .2 / r.1 .0 as f64),
            column("mae", &rows, |r| r.1 .3 / r.1 .0 as f64),
            column("rmse", &rows, |r| (r.1 .4 / r.1 .0 as f64).sqrt()),
        ],
    )?;
    let counted = if kind == Kind::Bgbb {
        format!(
            "purchases = {}s with a purchase (each customer's whole opportunities after its \
             calibration ones)",
            m.unit.name()
        )
    } else {
        "purchases = distinct purchase days".to_string()
    };
    let notes = vec![format!(
        "fitted on purchases up to {cal}; holdout {} to {} ({holdout:.1} {}s); {counted}",
        cal.succ_opt().unwrap_or(cal),
        ds.as_of,
        m.unit.name()
    )];
    let typed = rows
        .iter()
        .map(|(repeats, b)| CalibrationRow {
            repeats: repeats.clone(),
            actual_mean: b.1 / b.0 as f64,
            predicted_mean: b.2 / b.0 as f64,
        })
        .collect();
    let report = Report {
        data,
        views: Vec::new(),
        percent_columns: vec![],
        notes,
    };
    Ok((report, typed))
}

/// One row of the `--calibration-end` table: a number of calibration repeats ("7+",
/// "total"), and the mean actual and predicted holdout purchases per customer.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationRow {
    pub repeats: String,
    pub actual_mean: f64,
    pub predicted_mean: f64,
}

/// `ltv --model M --calibration-end --chart`: mean predicted vs actual holdout purchases
/// by number of repeat purchases in the calibration period.
pub fn calibration_chart(rows: &[CalibrationRow], data: &str, as_of: &str) -> Chart {
    let cats: Vec<String> = rows
        .iter()
        .map(|r| r.repeats.clone())
        .filter(|r| r != "total")
        .collect();
    let cats = crate::charts::ordered_unique(&cats);
    let pos = |r: &str| cats.iter().position(|c| c == r);
    let mut series = Vec::new();
    for (what, of, dashed) in [
        (
            "actual",
            &(|r: &CalibrationRow| r.actual_mean) as &dyn Fn(&CalibrationRow) -> f64,
            false,
        ),
        ("predicted", &|r: &CalibrationRow| r.predicted_mean, true),
    ] {
        let points = rows
            .iter()
            .filter_map(|r| Some((pos(&r.repeats)? as f64, of(r))))
            .collect();
        series.push(Series {
            name: what.to_string(),
            points,
            band: vec![],
            dashed,
        });
    }
    Chart::Lines(LineChart {
        title: format!("Model: predicted vs actual holdout purchases — {data}, as of {as_of}"),
        x_desc: "repeat purchases in the calibration period".into(),
        y_desc: "mean purchases per customer in the holdout".into(),
        series,
        y_percent: false,
        steps: false,
        x_categories: cats,
    })
}

/// The typed data behind `ltv --chart`, beside the report.
#[derive(Clone, Debug, PartialEq)]
pub enum LtvChartData {
    /// Nothing to draw (per customer, a model without a calibration end, compare).
    None,
    /// The historical curves.
    Curves(Vec<CurvePoint>),
    /// A model on its holdout.
    Calibration(Vec<CalibrationRow>),
}

/// `ltv --summary FILE`: the purchase model (and Gamma-Gamma, when the file has a
/// monetary value) fitted on a per-customer summary instead of transactions: one row over
/// all customers, or one per row of the file with `--per-customer`.
pub fn run_summary_file(
    srcs: &[crate::load::Source],
    opts: &crate::load::LoadOptions,
    a: &LtvParams,
) -> Result<Report> {
    check_model_args(&a.model_args)?;
    let Some(kind) = a.model.purchase_model() else {
        return Err(bad(
            "--summary needs a predictive model: --model bgnbd, mbgnbd or pnbd (historical \
             LTV and --model compare need transactions)",
        ));
    };
    for (given, flag) in [
        (a.calibration_end.is_some(), "--calibration-end"),
        (a.by.is_some(), "--by"),
        (a.max_periods.is_some(), "--max-periods"),
    ] {
        if given {
            return Err(bad(format!(
                "{flag}: not available with --summary (a summary has no dates or groups)"
            )));
        }
    }
    let m = &a.model_args;
    let clock = std::time::Instant::now();
    let t = crate::load::summary::load_summary(srcs, opts)?;
    if a.verbose {
        eprintln!(
            "retention ltv: {}: {} rows read in {:.3} s",
            t.label,
            t.x.len(),
            clock.elapsed().as_secs_f64()
        );
    }
    for w in &t.warnings {
        eprintln!("retention ltv: warning: {w}");
    }
    let n = t.x.len();
    let sums: Vec<Summary> = (0..n)
        .map(|i| Summary {
            x: t.x[i],
            t_x: t.t_x[i],
            t: t.t[i],
            m: t.monetary
                .as_ref()
                .map_or(f64::NAN, |v| if t.x[i] > 0.0 { v[i] } else { 0.0 }),
            first: 0,
            last: 0,
        })
        .collect();
    let mut run = fit_summaries((0..n).collect(), sums, t.weights.clone(), None, m, kind)?;
    let w = |i: usize| t.weights.as_ref().map_or(1.0, |w| w[i]);
    // The summary row adds up everyone's scores: timed with the scoring (each customer's
    // own scores are made here, from their history's).
    let totals = (!a.per_customer).then(|| {
        let clock = std::time::Instant::now();
        let (mut p_alive, mut purchases, mut clv) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let sc = run.score(i);
            p_alive += w(i) * sc.p_alive;
            purchases += w(i) * sc.expected_purchases;
            if sc.clv.is_finite() {
                clv += w(i) * sc.clv;
            }
        }
        run.times.score += clock.elapsed().as_secs_f64();
        (p_alive, purchases, clv)
    });
    report_params(&run, m, a.verbose, "ltv")?;
    let mut notes = Vec::new();
    if t.monetary.is_none() {
        notes.push(format!(
            "{}: no monetary_value column: no spend model, expected values and CLV left out",
            t.label
        ));
    } else {
        gg_notes(&run, &mut notes);
    }
    let has_gg = run.gg.is_some();
    let rows: Vec<usize> = (0..n).collect();
    let data = if a.per_customer {
        let id = |i: usize| match &t.ids {
            Some(ids) => ids[i].clone(),
            None => (i + 1).to_string(),
        };
        let mut cols = vec![column("customer_id", &rows, |&i| id(i))];
        if t.weights.is_some() {
            cols.push(column("weight", &rows, |&i| w(i)));
        }
        let s = |i: usize| &run.summaries[i];
        let sc = |i: usize| run.score(i);
        cols.extend([
            column("frequency", &rows, |&i| s(i).x),
            column("recency", &rows, |&i| s(i).t_x),
            column("T", &rows, |&i| s(i).t),
            column("monetary", &rows, |&i| {
                (s(i).x > 0.0).then(|| opt_f(s(i).m)).flatten()
            }),
            column("p_alive", &rows, |&i| sc(i).p_alive),
            column("expected_purchases", &rows, |&i| sc(i).expected_purchases),
        ]);
        if has_gg {
            cols.push(column("expected_avg_value", &rows, |&i| {
                opt_f(sc(i).expected_average_value)
            }));
            cols.push(column("clv", &rows, |&i| opt_f(sc(i).clv)));
        }
        if let Some(iv) = &run.intervals {
            cols.push(column("expected_purchases_lower", &rows, |&i| {
                iv[i].purchases.0
            }));
            cols.push(column("expected_purchases_upper", &rows, |&i| {
                iv[i].purchases.1
            }));
            if has_gg {
                cols.push(column("clv_lower", &rows, |&i| opt_f(iv[i].clv.0)));
                cols.push(column("clv_upper", &rows, |&i| opt_f(iv[i].clv.1)));
            }
        }
        DataFrame::new(n, cols)?
    } else {
        if m.intervals.is_some() {
            return Err(bad(
                "--intervals gives per-customer intervals: add --per-customer",
            ));
        }
        let total = run.customers();
        let (p_alive, purchases, clv) = totals.unwrap_or_default();
        let one = [0usize];
        let mut cols = vec![
            column("group", &one, |_| "all"),
            column("customers", &one, |_| total),
            column("repeat_customers", &one, |_| run.repeat_customers()),
            column("mean_p_alive", &one, |_| p_alive / total),
            column("expected_purchases", &one, |_| purchases),
        ];
        if has_gg {
            cols.push(column("predicted_clv", &one, |_| clv));
            cols.push(column("mean_predicted_clv", &one, |_| clv / total));
        }
        notes.push(format!(
            "predicted over the next {} months (discount {}%/month, margin {}), from {}",
            m.horizon,
            m.discount_rate * 100.0,
            m.margin,
            t.label
        ));
        DataFrame::new(1, cols)?
    };
    Ok(Report {
        data,
        views: Vec::new(),
        percent_columns: vec!["p_alive", "mean_p_alive"],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(customers: &[(&str, &[(&str, f64)])]) -> Histories {
        let mut h = Histories::default();
        for (id, days) in customers {
            h.offsets.push(h.days.len());
            h.ids.push(id);
            h.groups.push("");
            for (x, v) in days.iter() {
                h.days.push(days_since_epoch(
                    NaiveDate::parse_from_str(x, "%Y-%m-%d").unwrap(),
                ));
                h.values.push(*v);
            }
        }
        h.offsets.push(h.days.len());
        h
    }

    /// The previous period's CLV in `report`: the model fitted on whole histories cut at
    /// an earlier end (summaries up to it) is the fit on the histories of the rows up to
    /// that end, bit for bit (customers whose first purchase is later are left out of
    /// both).
    #[test]
    fn fit_at_an_earlier_end_equals_the_fit_on_the_rows_up_to_it() {
        // 300 customers over 2023-2024 by a fixed LCG: a first day, a mean gap and a
        // lifetime each (buying at about that rate until it ends).
        let mut next = crate::reports::lcg(12345);
        let start = days_since_epoch(NaiveDate::from_ymd_opt(2023, 1, 1).unwrap());
        let mut full = Histories::default();
        for c in 0..300 {
            let first = next(500) as i32;
            let (gap, life) = (10 + next(120) as i32, next(600) as i32);
            let mut days = vec![start + first];
            let mut d = first;
            loop {
                d += 1 + next(2 * gap as u64) as i32;
                if d > first + life || d >= 730 {
                    break;
                }
                days.push(start + d);
            }
            full.offsets.push(full.days.len());
            full.ids.push(&format!("c{c:03}"));
            full.groups.push("");
            // a mean spend per customer, each purchase within ±50% of it
            let spend = 10.0 + next(90) as f64;
            for d in days {
                full.days.push(d);
                full.values.push(spend * (0.5 + next(100) as f64 / 100.0));
            }
        }
        full.offsets.push(full.days.len());
        let end = NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
        let mut cut = Histories::default();
        for i in 0..full.len() {
            let n = full
                .days(i)
                .partition_point(|&d| d <= days_since_epoch(end));
            if n == 0 {
                continue;
            }
            cut.offsets.push(cut.days.len());
            cut.ids.push(&full.ids[i]);
            cut.groups.push("");
            cut.days.extend_from_slice(&full.days(i)[..n]);
            cut.values.extend_from_slice(&full.values(i)[..n]);
        }
        cut.offsets.push(cut.days.len());
        assert!(cut.len() < full.len(), "some customers start after the end");
        let m = ModelParams::DEFAULT;
        let a = fit_models(&full, end, &m, Kind::BgNbd).unwrap();
        let b = fit_models(&cut, end, &m, Kind::BgNbd).unwrap();
        assert_eq!(a.index.len(), cut.len());
        let (x, y) = (mean_predicted_clv(&a), mean_predicted_clv(&b));
        assert!(x.is_some_and(|v| v > 0.0), "{x:?} {:?}", a.gg_missing);
        assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits));
        // The mean is that of the scored customers' CLVs.
        let by_hand =
            (0..b.index.len()).map(|i| b.score(i).clv).sum::<f64>() / b.index.len() as f64;
        assert_eq!(y, Some(by_hand));
    }

    #[test]
    fn bgnbd_summary_by_hand() {
        let h = hist(&[
            (
                "a",
                &[
                    ("2024-01-01", 10.0),
                    ("2024-01-08", 20.0),
                    ("2024-01-15", 40.0),
                ],
            ),
            ("b", &[("2024-01-10", 5.0)]),
            ("c", &[("2024-02-01", 7.0)]),
        ]);
        let end = NaiveDate::from_ymd_opt(2024, 1, 29).unwrap();
        let s = summaries(&h, end, Unit::Week);
        let a = s[0].clone().unwrap();
        assert_eq!((a.x, a.t_x, a.t, a.m), (2.0, 2.0, 4.0, 30.0));
        let b = s[1].clone().unwrap();
        assert_eq!((b.x, b.t_x, b.m), (0.0, 0.0, 0.0));
        assert!((b.t - 19.0 / 7.0).abs() < 1e-12);
        assert!(s[2].is_none(), "first purchase after the calibration end");
        // Calibration end cuts the history.
        let s = summaries(&h, NaiveDate::from_ymd_opt(2024, 1, 10).unwrap(), Unit::Day);
        let a = s[0].clone().unwrap();
        assert_eq!((a.x, a.t_x, a.t, a.m), (1.0, 7.0, 9.0, 20.0));
    }

    #[test]
    fn group_summary_weights_cohorts_by_size() {
        let pt = |c, k, size, ltv, cac| CurvePoint {
            group: "g".into(),
            cohort: c,
            k,
            size,
            revenue: Some(0.0),
            cumulative: Some(0.0),
            ltv: Some(ltv),
            cac,
            partial: false,
        };
        let s = group_summary(&[
            pt(1, 0, 2, 10.0, Some(5.0)),
            pt(1, 1, 2, 30.0, Some(5.0)),
            pt(2, 0, 6, 10.0, Some(10.0)),
        ]);
        // Latest points: cohort 1 at 30 (2 customers), cohort 2 at 10 (6 customers).
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].customers, 8);
        assert!((s[0].ltv - (60.0 + 60.0) / 8.0).abs() < 1e-12);
        assert!((s[0].cac.unwrap() - (10.0 + 60.0) / 8.0).abs() < 1e-12);
    }
}
