//! `retention ltv`: historical LTV curves (and LTV:CAC) per cohort and group, and the
//! predictive BG/NBD + Gamma-Gamma customer lifetime value (METRICS.md, section ltv).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::cli::{CohortBy, CohortMetric, CohortMode, LtvArgs, LtvModel, ModelArgs};
use crate::error::bad;
use crate::load::Dataset;
use crate::output::{num, Report, View};
use crate::period::{days_since_epoch, Period};
use crate::reports::cohort::{cohort_cells, CohortParams};
use crate::reports::{customer_groups, purchases, with_group, Histories, GROUP};

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

/// Mean acquisition cost per (group, first-purchase cohort), from the customers file.
fn cohort_cac(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    period: Period,
) -> Result<HashMap<(String, i32), f64>> {
    let Some(c) = customers.filter(|c| c.column("acquisition_cost").is_ok()) else {
        return Ok(HashMap::new());
    };
    let first = purchases(tx)
        .group_by([col("customer_id")])
        .agg([col("date").min()])
        .select([col("customer_id"), period.expr(col("date")).alias("cohort")]);
    let cost = c
        .clone()
        .lazy()
        .select([col("customer_id"), col("acquisition_cost")])
        .unique_generic(Some(vec![col("customer_id")]), UniqueKeepStrategy::First);
    let df = with_group(first, groups)
        .join(
            cost,
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col(GROUP), col("cohort")])
        .agg([col("acquisition_cost").mean()])
        .collect()?;
    let g = df.column(GROUP)?.str()?;
    let c = df.column("cohort")?.i32()?;
    let v = df.column("acquisition_cost")?.f64()?;
    let mut out = HashMap::new();
    for ((g, c), v) in g.iter().zip(c.iter()).zip(v.iter()) {
        if let (Some(g), Some(c), Some(v)) = (g, c, v) {
            out.insert((g.to_string(), c), v);
        }
    }
    Ok(out)
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
    let cp = CohortParams {
        period: p.period,
        by: CohortBy::FirstPurchase,
        mode: CohortMode::Classic,
        metric: CohortMetric::Revenue,
        max_periods: p.max_periods,
        group: p.by.clone(),
    };
    let mut notes = Vec::new();
    let cells = cohort_cells(tx, customers, as_of, &cp, &mut notes)?;
    let cac = cohort_cac(tx, customers, groups, p.period)?;
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
        cols.push(Column::new(
            b.as_str().into(),
            points.iter().map(|x| x.group.as_str()).collect::<Vec<_>>(),
        ));
    }
    let has_cac = points.iter().any(|x| x.cac.is_some());
    cols.extend([
        Column::new(
            "cohort".into(),
            points
                .iter()
                .map(|x| p.period.label(x.cohort))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "period_index".into(),
            points.iter().map(|x| x.k as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "cohort_size".into(),
            points.iter().map(|x| x.size).collect::<Vec<_>>(),
        ),
        Column::new(
            "revenue".into(),
            points.iter().map(|x| x.revenue).collect::<Vec<_>>(),
        ),
        Column::new(
            "cumulative_revenue".into(),
            points.iter().map(|x| x.cumulative).collect::<Vec<_>>(),
        ),
        Column::new(
            "ltv".into(),
            points.iter().map(|x| x.ltv).collect::<Vec<_>>(),
        ),
    ]);
    if has_cac {
        cols.push(Column::new(
            "cac".into(),
            points.iter().map(|x| x.cac).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "ltv_cac".into(),
            points.iter().map(|x| x.ltv_cac()).collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "partial_period".into(),
        points.iter().map(|x| x.partial).collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new(points.len(), cols)?)
}

fn money(v: Option<f64>) -> String {
    v.filter(|f| f.is_finite())
        .map(|f| format!("{f:.2}"))
        .unwrap_or_default()
}

fn curve_views(points: &[CurvePoint], p: &HistoricalParams, title: &str) -> Vec<View> {
    let mut groups: BTreeMap<&str, BTreeMap<i32, Vec<&CurvePoint>>> = BTreeMap::new();
    for x in points {
        groups
            .entry(&x.group)
            .or_default()
            .entry(x.cohort)
            .or_default()
            .push(x);
    }
    let has_cac = points.iter().any(|x| x.cac.is_some());
    let ks: BTreeSet<i32> = points.iter().map(|x| x.k).collect();
    let mut header = vec!["cohort".to_string(), "size".to_string()];
    if has_cac {
        header.push("cac".to_string());
    }
    header.extend(ks.iter().map(|k| k.to_string()));
    let mut views: Vec<View> = groups
        .into_iter()
        .enumerate()
        .map(|(i, (g, rows))| {
            let sub = p.by.as_ref().map(|col| format!("{col} = {g}"));
            let title = match (i, sub) {
                (0, Some(s)) => Some(format!("{title}\n{s}")),
                (0, None) => Some(title.to_string()),
                (_, s) => s,
            };
            let rows = rows
                .into_iter()
                .map(|(c, xs)| {
                    let mut r = vec![p.period.label(c), num(xs[0].size as f64)];
                    if has_cac {
                        r.push(money(xs[0].cac));
                    }
                    r.extend(xs.iter().map(|x| {
                        let mut s = money(x.ltv);
                        if x.partial && !s.is_empty() {
                            s.push('*');
                        }
                        s
                    }));
                    r
                })
                .collect();
            View {
                title,
                header: header.clone(),
                rows,
                fixed_columns: 2 + usize::from(has_cac),
            }
        })
        .collect();
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
    let points = curves(tx, customers, groups, as_of, p)?;
    if points.is_empty() {
        return Err(bad(
            "no customer made a purchase (an order with a positive net amount)",
        ));
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
    Ok(Report {
        data: curves_frame(&points, p)?,
        views: curve_views(&points, p, &title),
        percent_columns: vec![],
        notes,
    })
}

/// `retention ltv`: resolve the grouping and run the requested model.
pub fn command(ds: &Dataset, a: &LtvArgs) -> Result<Report> {
    check_model_args(&a.model_args)?;
    let groups = match &a.by {
        Some(b) => Some(customer_groups(&ds.tx, ds.customers.as_ref(), b, "--by")?),
        None => None,
    };
    match a.model {
        LtvModel::Historical => {
            if a.calibration_end.is_some() {
                return Err(bad("--calibration-end needs --model bgnbd"));
            }
            if a.per_customer {
                return run_per_customer(&ds.tx, ds.customers.as_ref(), groups, a);
            }
            let p = HistoricalParams {
                period: a.period,
                margin: a.model_args.margin,
                max_periods: a.max_periods,
                by: a.by.clone(),
            };
            run_historical(&ds.tx, ds.customers.as_ref(), groups, ds.as_of, &p)
        }
        LtvModel::Bgnbd => {
            let h = Histories::from_tx(&ds.tx, groups)?;
            let cal_end = match &a.calibration_end {
                None => None,
                Some(s) => Some(
                    crate::dates::parse_arg(s)
                        .map_err(|e| bad(format!("--calibration-end: {e}")))?,
                ),
            };
            run_model(ds, &h, a, cal_end)
        }
    }
}

/// Model options that make no sense are usage errors.
pub fn check_model_args(m: &ModelArgs) -> Result<()> {
    if !(m.margin > 0.0 && m.margin <= 1.0) {
        return Err(bad(format!("--margin {}: must be in (0, 1]", m.margin)));
    }
    if !(m.discount_rate >= 0.0 && m.discount_rate < 1.0) {
        return Err(bad(format!(
            "--discount-rate {}: must be in [0, 1) (a monthly rate, 0.01 = 1%)",
            m.discount_rate
        )));
    }
    if !(m.penalizer >= 0.0 && m.penalizer.is_finite()) {
        return Err(bad(format!("--penalizer {}: must be ≥ 0", m.penalizer)));
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
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    groups: Option<LazyFrame>,
    a: &LtvArgs,
) -> Result<Report> {
    let orders = purchases(tx).group_by([col("customer_id")]).agg([
        col("date").min().alias("first_purchase"),
        col("date").max().alias("last_purchase"),
        len().cast(DataType::Int64).alias("orders"),
    ]);
    let revenue = tx
        .clone()
        .lazy()
        .group_by([col("customer_id")])
        .agg([col("amount").sum().alias("revenue")]);
    let mut lf = orders
        .join(
            revenue,
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col("revenue") * lit(a.model_args.margin)).alias("ltv"));
    let mut select = vec![col("customer_id")];
    if let Some(b) = &a.by {
        lf = with_group(lf, groups);
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
        let cost = c
            .clone()
            .lazy()
            .select([col("customer_id"), col("acquisition_cost")])
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
    let data = lf
        .select(select)
        .sort(
            ["ltv", "customer_id"],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    if data.height() == 0 {
        return Err(bad(
            "no customer made a purchase (an order with a positive net amount)",
        ));
    }
    Ok(Report {
        data,
        views: Vec::new(),
        percent_columns: vec![],
        notes: Vec::new(),
    })
}

/// Time unit of the BG/NBD summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Unit {
    Day,
    Week,
    Month,
}

impl Unit {
    pub fn days(self) -> f64 {
        match self {
            Unit::Day => 1.0,
            Unit::Week => 7.0,
            Unit::Month => 30.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
        }
    }
}

/// The BG/NBD summary of one customer (METRICS.md): x repeat purchase days, t_x first to
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

pub fn run_model(
    _ds: &Dataset,
    _h: &Histories,
    _a: &LtvArgs,
    _cal_end: Option<NaiveDate>,
) -> Result<Report> {
    Err(bad("--model bgnbd is not implemented yet"))
}

pub fn at_risk(_ds: &Dataset, _m: &ModelArgs, _by: Option<&str>, _top: usize) -> Result<Report> {
    Err(bad("--at-risk is not implemented yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(customers: &[(&str, &[(&str, f64)])]) -> Histories {
        let mut h = Histories::default();
        for (id, days) in customers {
            h.offsets.push(h.days.len());
            h.ids.push(id.to_string());
            h.groups.push(String::new());
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
