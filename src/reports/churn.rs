//! `retention churn`: period retention and churn, Kaplan–Meier survival (docs/metrics.md,
//! section churn). The at-risk ranking (p_alive) lives in `ltv`, next to the model.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::charts::{Chart, LineChart, Series};
use crate::error::bad;
use crate::load::Dataset;
use crate::output::{num, pct, Report, View};
use crate::params::ChurnCommandParams;
use crate::period::{date_from_days, days_since_epoch, Period, Window};
use crate::reports::{column, customer_groups, Histories};

#[derive(Clone, Debug)]
pub struct ChurnParams {
    pub period: Period,
    /// Inactivity window W; `None` = one period (active in the previous period).
    pub inactive_after: Option<Window>,
    /// Name of the `--by` grouping, if any (the groups are in the histories).
    pub by: Option<String>,
}

/// One row of the period table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChurnRow {
    pub group: String,
    pub period: i32,
    pub start: i64,
    pub retained: i64,
    pub churned: i64,
    pub new: i64,
    pub reactivated: i64,
    pub end: i64,
    pub partial: bool,
}

impl ChurnRow {
    pub fn retention_rate(&self) -> Option<f64> {
        (self.start > 0).then(|| self.retained as f64 / self.start as f64)
    }

    pub fn churn_rate(&self) -> Option<f64> {
        (self.start > 0).then(|| self.churned as f64 / self.start as f64)
    }
}

/// The period table: for each period t from the first purchase period to the as-of
/// period, S = customers active at the start of t, retained = those of S active at its
/// end, churned = S − retained, new = first purchase in t, reactivated = active at the end
/// of t and neither retained nor new, end = active at the end of t. The as-of period ends
/// at as-of (partial).
pub fn churn_rows(h: &Histories, as_of: NaiveDate, p: &ChurnParams) -> Vec<ChurnRow> {
    let period = p.period;
    let asof_p = period.index(as_of);
    let asof_end = days_since_epoch(as_of) + 1;
    let Some(first_p) = (0..h.len())
        .filter_map(|i| h.days(i).first())
        .map(|&d| period.index(date_from_days(d)))
        .min()
    else {
        return Vec::new();
    };
    // Period boundaries (start of each period, plus the end of the last one).
    let n = (asof_p - first_p + 1).max(0) as usize;
    let starts: Vec<i32> = (0..=n)
        .map(|j| days_since_epoch(period.start(first_p + j as i32)))
        .collect();
    let ends: Vec<i32> = (0..n).map(|j| starts[j + 1].min(asof_end)).collect();
    // Active at instant `at` (the start of day `at`) = a purchase in [from, at): with a
    // window W, from = at − W; by default, in the period before `at`.
    let start_from: Vec<i32> = (0..n)
        .map(|j| match p.inactive_after {
            Some(w) => w.before(starts[j]),
            None => days_since_epoch(period.start(first_p + j as i32 - 1)),
        })
        .collect();
    let end_from: Vec<i32> = (0..n)
        .map(|j| match p.inactive_after {
            Some(w) => w.before(ends[j]),
            None => starts[j],
        })
        .collect();

    // Rows per group, looked up once per run of customers with the same group.
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut acc: Vec<Vec<ChurnRow>> = Vec::new();
    let mut last: Option<(&str, usize)> = None;
    for i in 0..h.len() {
        let days = h.days(i);
        let Some(&first) = days.first() else {
            continue;
        };
        let g = &h.groups[i];
        let k = match last {
            Some((l, k)) if l == g => k,
            _ => {
                let k = *index.entry(g).or_insert_with(|| {
                    acc.push(
                        (0..n)
                            .map(|j| ChurnRow {
                                group: g.to_string(),
                                period: first_p + j as i32,
                                partial: j + 1 == n && ends[j] < starts[j + 1],
                                ..ChurnRow::default()
                            })
                            .collect(),
                    );
                    acc.len() - 1
                });
                last = Some((g, k));
                k
            }
        };
        let rows = &mut acc[k];
        let j0 = starts.partition_point(|&s| s <= first).saturating_sub(1);
        // The window starts grow with j: cursors into the days replace a binary search
        // per period (`any_in`).
        let (mut at_s, mut at_e) = (Cursor::default(), Cursor::default());
        for j in j0..n {
            let s = at_s.any_in(days, start_from[j], starts[j]);
            let e = at_e.any_in(days, end_from[j], ends[j]);
            let is_new = first >= starts[j] && first < starts[j + 1];
            let r = &mut rows[j];
            if s {
                r.start += 1;
                if e {
                    r.retained += 1;
                } else {
                    r.churned += 1;
                }
            }
            if is_new {
                r.new += 1;
            }
            if e {
                r.end += 1;
                if !s && !is_new {
                    r.reactivated += 1;
                }
            }
        }
    }
    // Groups in order.
    index
        .into_values()
        .flat_map(|k| std::mem::take(&mut acc[k]))
        .collect()
}

/// [`any_in`](crate::reports::any_in) for windows whose start does not decrease from one
/// call to the next: the first day at or after the start is found by moving forward from
/// the last one (a window that starts earlier falls back on a binary search).
#[derive(Default)]
struct Cursor {
    at: usize,
    from: Option<i32>,
}

impl Cursor {
    fn any_in(&mut self, days: &[i32], from: i32, to: i32) -> bool {
        if self.from.is_some_and(|f| from < f) {
            self.at = days.partition_point(|&d| d < from);
        } else {
            while self.at < days.len() && days[self.at] < from {
                self.at += 1;
            }
        }
        self.from = Some(from);
        self.at < days.len() && days[self.at] < to
    }
}

/// One Kaplan–Meier step at a distinct event time.
#[derive(Clone, Debug, PartialEq)]
pub struct KmStep {
    pub time: i32,
    pub at_risk: i64,
    pub events: i64,
    pub censored: i64,
    pub survival: f64,
    /// Greenwood's sum Σ d/(n(n−d)) up to this time.
    pub greenwood: f64,
}

/// Kaplan–Meier estimate from (time, event) pairs. A censored observation at the time of
/// an event is still at risk for that event (the usual convention).
pub fn kaplan_meier(obs: &mut [(i32, bool)]) -> Vec<KmStep> {
    obs.sort_unstable_by_key(|&(t, e)| (t, !e));
    let mut steps = Vec::new();
    let mut at_risk = obs.len() as i64;
    let mut s = 1.0;
    let mut gw = 0.0;
    let mut i = 0;
    while i < obs.len() {
        let t = obs[i].0;
        let mut d = 0;
        let mut c = 0;
        while i < obs.len() && obs[i].0 == t {
            if obs[i].1 {
                d += 1;
            } else {
                c += 1;
            }
            i += 1;
        }
        if d > 0 {
            s *= 1.0 - d as f64 / at_risk as f64;
            if at_risk > d {
                gw += d as f64 / (at_risk as f64 * (at_risk - d) as f64);
            } else {
                gw = f64::INFINITY;
            }
        }
        steps.push(KmStep {
            time: t,
            at_risk,
            events: d,
            censored: c,
            survival: s,
            greenwood: gw,
        });
        at_risk -= d + c;
    }
    steps
}

/// 95% interval of S by the log-log ("exponential Greenwood") transform, as lifelines does.
pub fn km_interval(s: f64, greenwood: f64) -> (f64, f64) {
    if s >= 1.0 {
        return (1.0, 1.0);
    }
    if s <= 0.0 || !greenwood.is_finite() {
        return (0.0, 0.0);
    }
    let ls = s.ln();
    let se = greenwood.sqrt() / ls.abs();
    let z = 1.959_963_984_540_054;
    (s.powf((z * se).exp()), s.powf((-z * se).exp()))
}

/// Median lifetime: the first event time at which S ≤ 0.5.
pub fn km_median(steps: &[KmStep]) -> Option<i32> {
    steps
        .iter()
        .find(|s| s.events > 0 && s.survival <= 0.5)
        .map(|s| s.time)
}

/// Each customer's lifetime (days) and whether churn was observed: churned when as-of −
/// last purchase > W, at (last + W) − first; otherwise censored at as-of − first.
pub fn lifetimes(days: &[i32], as_of: i32, w: Window) -> Option<(i32, bool)> {
    let (&first, &last) = (days.first()?, days.last()?);
    let churn_at = w.after(last);
    if churn_at < as_of {
        Some((churn_at - first, true))
    } else {
        Some((as_of - first, false))
    }
}

/// Days in one step of the survival grid.
pub fn grid_days(period: Period) -> i32 {
    match period {
        Period::Day => 1,
        Period::Week => 7,
        Period::Month => 30,
        Period::Quarter => 91,
        Period::Year => 365,
    }
}

/// A survival curve sampled at t = k·step days.
#[derive(Clone, Debug, PartialEq)]
pub struct SurvivalPoint {
    pub group: String,
    pub k: i32,
    pub time: i32,
    pub at_risk: i64,
    pub events: i64,
    pub censored: i64,
    pub survival: f64,
    pub lower: f64,
    pub upper: f64,
    pub median: Option<i32>,
}

/// Sample a KM curve on the grid: S(t_k) is the estimate just after t_k; at_risk is the
/// number still at risk at t_k; events/censored are counted in (t_{k−1}, t_k].
pub fn sample(group: &str, steps: &[KmStep], n: i64, step: i32) -> Vec<SurvivalPoint> {
    let median = km_median(steps);
    let tmax = steps.last().map(|s| s.time).unwrap_or(0).max(0);
    let kmax = tmax / step + i32::from(tmax % step != 0);
    let mut out = Vec::new();
    let mut i = 0;
    let (mut s, mut gw) = (1.0, 0.0);
    for k in 0..=kmax {
        let t = k * step;
        let (mut ev, mut ce) = (0, 0);
        while i < steps.len() && steps[i].time <= t {
            ev += steps[i].events;
            ce += steps[i].censored;
            s = steps[i].survival;
            gw = steps[i].greenwood;
            i += 1;
        }
        // Those with a time after t: the next step's risk set (all n before the first).
        let at_risk = steps.get(i).map_or(0, |x| x.at_risk).min(n);
        let (lower, upper) = km_interval(s, gw);
        out.push(SurvivalPoint {
            group: group.to_string(),
            k,
            time: t,
            at_risk,
            events: ev,
            censored: ce,
            survival: s,
            lower,
            upper,
            median,
        });
    }
    out
}

/// Survival curves, overall and (with groups) per group.
pub fn survival(
    h: &Histories,
    as_of: NaiveDate,
    w: Window,
    period: Period,
    grouped: bool,
) -> Vec<SurvivalPoint> {
    let asof = days_since_epoch(as_of);
    let mut by: BTreeMap<&str, Vec<(i32, bool)>> = BTreeMap::new();
    let mut all = Vec::with_capacity(h.len());
    for i in 0..h.len() {
        if let Some(o) = lifetimes(h.days(i), asof, w) {
            all.push(o);
            if grouped {
                by.entry(&h.groups[i]).or_default().push(o);
            }
        }
    }
    let step = grid_days(period);
    let n = all.len() as i64;
    let mut out = sample("(all)", &kaplan_meier(&mut all), n, step);
    for (g, mut obs) in by {
        let n = obs.len() as i64;
        out.extend(sample(g, &kaplan_meier(&mut obs), n, step));
    }
    out
}

fn rows_frame(rows: &[ChurnRow], p: &ChurnParams) -> Result<DataFrame> {
    let mut cols = Vec::new();
    if let Some(b) = &p.by {
        cols.push(column(b, rows, |r| r.group.as_str()));
    }
    cols.push(column("period", rows, |r| p.period.label(r.period)));
    cols.extend([
        column("start_customers", rows, |r| r.start),
        column("retained", rows, |r| r.retained),
        column("churned", rows, |r| r.churned),
        column("new", rows, |r| r.new),
        column("reactivated", rows, |r| r.reactivated),
        column("end_customers", rows, |r| r.end),
        column("retention_rate", rows, |r| r.retention_rate()),
        column("churn_rate", rows, |r| r.churn_rate()),
        column("partial_period", rows, |r| r.partial),
    ]);
    Ok(DataFrame::new(rows.len(), cols)?)
}

fn rows_view(rows: &[ChurnRow], p: &ChurnParams, title: String) -> View {
    let mut header: Vec<String> = p.by.iter().cloned().collect();
    header.extend(
        [
            "period",
            "start",
            "retained",
            "churned",
            "new",
            "reactivated",
            "end",
            "retention",
            "churn",
        ]
        .map(String::from),
    );
    let body = rows
        .iter()
        .map(|r| {
            let mut v: Vec<String> = p.by.iter().map(|_| r.group.clone()).collect();
            let mut label = p.period.label(r.period);
            if r.partial {
                label.push('*');
            }
            v.push(label);
            v.extend(
                [r.start, r.retained, r.churned, r.new, r.reactivated, r.end]
                    .map(|x| num(x as f64)),
            );
            v.push(pct(r.retention_rate()));
            v.push(pct(r.churn_rate()));
            v
        })
        .collect();
    View {
        title: Some(title),
        header,
        rows: body,
        fixed_columns: 1 + usize::from(p.by.is_some()),
    }
}

/// `retention churn`: resolve the grouping and run the requested report.
pub fn command(ds: &Dataset, a: &ChurnCommandParams) -> Result<Report> {
    Ok(command_curves(ds, a)?.0)
}

/// [`command`], and with `survival` the curves' points for [`survival_chart`].
pub fn command_curves(
    ds: &Dataset,
    a: &ChurnCommandParams,
) -> Result<(Report, Vec<SurvivalPoint>)> {
    let p = ChurnParams {
        period: a.period,
        inactive_after: a.inactive_after,
        by: a.by.clone(),
    };
    if a.at_risk {
        let report = crate::reports::ltv::at_risk(
            ds,
            &a.model,
            a.by.as_deref(),
            a.top,
            a.at_risk_model.kind(),
        )?;
        return Ok((report, Vec::new()));
    }
    let by_cohort = a.survival
        && a.by.as_deref() == Some("cohort")
        && ds.tx.column("cohort").is_err()
        && ds
            .customers
            .as_ref()
            .is_none_or(|c| c.column("cohort").is_err());
    let groups = match &a.by {
        Some(b) if !by_cohort => Some(customer_groups(&ds.tx, ds.customers.as_ref(), b, "--by")?),
        _ => None,
    };
    let mut h = Histories::of_dataset(ds, groups)?;
    if by_cohort {
        for i in 0..h.len() {
            let first = h.days(i)[0];
            h.groups
                .set(i, &a.period.label(a.period.index(date_from_days(first))));
        }
    }
    if a.survival {
        run_survival_points(&h, ds.as_of, &p)
    } else {
        Ok((run(&h, ds.as_of, &p)?, Vec::new()))
    }
}

/// The per-period churn report.
pub fn run(h: &Histories, as_of: NaiveDate, p: &ChurnParams) -> Result<Report> {
    if h.is_empty() {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let rows = churn_rows(h, as_of, p);
    let rule = match p.inactive_after {
        Some(w) => format!("active = a purchase in the last {w}"),
        None => format!("active = a purchase in the {}", p.period.name()),
    };
    let title = format!(
        "Retention and churn by {} ({rule}), as of {as_of}",
        p.period.name()
    );
    let mut notes = Vec::new();
    if rows.iter().any(|r| r.partial) {
        notes.push(format!(
            "* {} is a partial period (data up to {as_of})",
            p.period.label(p.period.index(as_of))
        ));
    }
    Ok(Report {
        data: rows_frame(&rows, p)?,
        views: vec![rows_view(&rows, p, title)],
        percent_columns: vec!["retention_rate", "churn_rate"],
        notes,
    })
}

/// The survival report (`--survival`).
pub fn run_survival(h: &Histories, as_of: NaiveDate, p: &ChurnParams) -> Result<Report> {
    Ok(run_survival_points(h, as_of, p)?.0)
}

/// [`run_survival`], and the curves' points for [`survival_chart`].
pub fn run_survival_points(
    h: &Histories,
    as_of: NaiveDate,
    p: &ChurnParams,
) -> Result<(Report, Vec<SurvivalPoint>)> {
    if h.is_empty() {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let w = p.inactive_after.unwrap_or(Window::of(p.period));
    let pts = survival(h, as_of, w, p.period, p.by.is_some());
    let step = grid_days(p.period);
    let group_name = p.by.clone().unwrap_or_else(|| "group".to_string());
    let mut cols = vec![column(&group_name, &pts, |x| x.group.as_str())];
    cols.extend([
        column("period_index", &pts, |x| x.k as i64),
        column("time_days", &pts, |x| x.time as i64),
        column("at_risk", &pts, |x| x.at_risk),
        column("events", &pts, |x| x.events),
        column("censored", &pts, |x| x.censored),
        column("survival", &pts, |x| x.survival),
        column("ci_lower", &pts, |x| x.lower),
        column("ci_upper", &pts, |x| x.upper),
        column("median_lifetime_days", &pts, |x| x.median.map(i64::from)),
    ]);
    let data = DataFrame::new(pts.len(), cols)?;

    let title = format!(
        "Customer survival (Kaplan–Meier, 95% log-log Greenwood interval); churned = no \
         purchase for {w}; t in {}s of {step} days; as of {as_of}",
        p.period.name()
    );
    let mut groups: BTreeMap<&str, Vec<&SurvivalPoint>> = BTreeMap::new();
    for x in &pts {
        groups.entry(x.group.as_str()).or_default().push(x);
    }
    // "(all)" first, then the groups in order.
    let mut order: Vec<&str> = groups.keys().copied().collect();
    order.sort_by_key(|g| (*g != "(all)", g.to_string()));
    let mut views = Vec::new();
    for (i, g) in order.iter().enumerate() {
        let rows = &groups[g];
        let median = rows.first().and_then(|x| x.median);
        let med = match median {
            Some(d) => format!(
                "median lifetime {d} days ({:.1} {}s)",
                d as f64 / step as f64,
                p.period.name()
            ),
            None => "median lifetime not reached".to_string(),
        };
        let sub = format!("{group_name} = {g} · {med}");
        views.push(View {
            title: Some(if i == 0 {
                format!("{title}\n{sub}")
            } else {
                sub
            }),
            header: [
                "t", "days", "at risk", "events", "censored", "survival", "95% CI",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .map(|x| {
                    vec![
                        x.k.to_string(),
                        x.time.to_string(),
                        num(x.at_risk as f64),
                        num(x.events as f64),
                        num(x.censored as f64),
                        pct(Some(x.survival)),
                        format!("{}–{}", pct(Some(x.lower)), pct(Some(x.upper))),
                    ]
                })
                .collect(),
            fixed_columns: 2,
        });
    }
    let report = Report {
        data,
        views,
        percent_columns: vec!["survival", "ci_lower", "ci_upper"],
        notes: Vec::new(),
    };
    Ok((report, pts))
}

/// `churn --survival --chart`: one Kaplan–Meier curve per group with its 95% band, from
/// the curves' points; `by` is the `--by` column.
pub fn survival_chart(pts: &[SurvivalPoint], by: Option<&str>, data: &str, as_of: &str) -> Chart {
    let mut order: Vec<&str> = Vec::new();
    for x in pts {
        if !order.contains(&x.group.as_str()) {
            order.push(x.group.as_str());
        }
    }
    let mut series = Vec::new();
    for g in order {
        let mut points = Vec::new();
        let mut band = Vec::new();
        let mut med = None;
        for x in pts.iter().filter(|x| x.group == g) {
            let t = f64::from(x.time);
            points.push((t, x.survival));
            band.push((t, x.lower, x.upper));
            med = med.or(x.median);
        }
        let name = match med {
            Some(m) => format!("{g} (median {} days)", num(f64::from(m))),
            None => format!("{g} (median not reached)"),
        };
        series.push(Series {
            name,
            points,
            band,
            dashed: false,
        });
    }
    // (as the frame's first column is named: `--by group` reads as no grouping)
    let by = match by {
        Some(b) if b != "group" => format!(" by {b}"),
        _ => String::new(),
    };
    Chart::Lines(LineChart {
        title: format!(
            "Customer survival (Kaplan–Meier, 95% interval){by} — {data}, as of {as_of}"
        ),
        x_desc: "days since first purchase".into(),
        y_desc: "share of customers still active".into(),
        series,
        y_percent: true,
        steps: true,
        x_categories: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::cohort::tests::tx;
    use crate::reports::{any_in, ByCustomer, CodedTx};

    fn d(s: &str) -> i32 {
        days_since_epoch(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    fn hist(customers: &[(&str, &str, &[&str])]) -> Histories {
        let mut h = Histories::default();
        for (id, g, days) in customers {
            h.offsets.push(h.days.len());
            h.ids.push(id);
            h.groups.push(g);
            for x in days.iter() {
                h.days.push(d(x));
                h.values.push(10.0);
            }
        }
        h.offsets.push(h.days.len());
        h
    }

    #[test]
    fn cursor_matches_any_in() {
        let days = [3, 5, 5, 9, 12];
        let windows = [
            (0, 3),
            (0, 4),
            (4, 6),
            (6, 9),
            (6, 10),
            (10, 20),
            (2, 6),
            (13, 30),
        ];
        let mut c = Cursor::default();
        for (from, to) in windows {
            assert_eq!(
                c.any_in(&days, from, to),
                any_in(&days, from, to),
                "{from}..{to}"
            );
        }
    }

    #[test]
    fn by_customer_sorts_days_stably() {
        let b = ByCustomer::new(3, &[(2, 5, 1.0), (0, 3, 2.0), (2, 4, 3.0), (2, 5, 4.0)]);
        assert_eq!(b.days(0), [3]);
        assert!(b.days(1).is_empty());
        assert_eq!(b.days(2), [4, 5, 5]);
        // Same-day rows keep their row order.
        assert_eq!(b.values(2), [3.0, 1.0, 4.0]);
    }

    #[test]
    fn codes_match_the_id_map() {
        let t = tx(&[
            ("b", "2024-01-01", 1.0, "o1"),
            ("b", "2024-01-02", 1.0, "o2"),
            ("a", "2024-01-03", 1.0, "o3"),
            ("c", "2024-01-04", 1.0, "o4"),
            ("a", "2024-01-05", -1.0, "r1"),
            ("e", "2024-01-06", 1.0, "o5"),
            ("d", "2024-01-07", 1.0, "o6"),
            ("b", "2024-01-08", 1.0, "o7"),
        ]);
        let coded = CodedTx::new(&t, None).unwrap();
        assert_eq!(
            coded.rows.iter().collect::<Vec<_>>(),
            coded.ids.codes(&t).unwrap()
        );
        // In id order with gaps, unknown ids, repeats and a null.
        let other = DataFrame::new_infer_height(vec![Column::new(
            "customer_id".into(),
            [
                Some("a"),
                Some("b"),
                Some("x"),
                Some("d"),
                Some("d"),
                Some("e"),
                Some("a"),
                None,
            ],
        )])
        .unwrap();
        let want = coded.ids.codes(&other).unwrap();
        assert_eq!(want[2], None);
        assert_eq!(coded.codes(&other).unwrap(), want);
    }

    #[test]
    fn histories_from_transactions() {
        // b first in the file; a's days out of order, with three purchases and a return
        // on one day; c only returns.
        let t = tx(&[
            ("b", "2024-01-03", 5.0, "o1"),
            ("a", "2024-01-09", 0.1, "o2"),
            ("a", "2024-01-02", 2.0, "o3"),
            ("a", "2024-01-09", 0.2, "o4"),
            ("a", "2024-01-09", -3.0, "r1"),
            ("a", "2024-01-09", 0.3, "o5"),
            ("c", "2024-01-05", -1.0, "r2"),
        ]);
        let h = Histories::from_tx(&t, None).unwrap();
        assert!(h.ids.iter().eq(["a", "b"]));
        assert_eq!(h.codes, [0, 1]);
        assert!(h.groups.iter().eq(["", ""]));
        assert_eq!(h.days(0), [d("2024-01-02"), d("2024-01-09")]);
        // Same-day purchases summed in row order: (0.1 + 0.2) + 0.3.
        assert_eq!(h.values(0), [2.0, 0.1 + 0.2 + 0.3]);
        assert_eq!(h.days(1), [d("2024-01-03")]);
        assert_eq!(h.values(1), [5.0]);

        let groups = DataFrame::new_infer_height(vec![
            Column::new("customer_id".into(), ["a", "z"]),
            Column::new(crate::reports::GROUP.into(), ["x", "y"]),
        ])
        .unwrap();
        let h = Histories::from_tx(&t, Some(groups.lazy())).unwrap();
        assert!(h.groups.iter().eq(["x", "(none)"]));
    }

    fn params(w: Option<Window>) -> ChurnParams {
        ChurnParams {
            period: Period::Month,
            inactive_after: w,
            by: None,
        }
    }

    #[test]
    fn period_table_by_hand() {
        // a: Jan, Feb, Apr · b: Jan · c: Feb, Mar · d: Mar (as of 2024-04-15: April partial)
        let h = hist(&[
            ("a", "", &["2024-01-05", "2024-02-10", "2024-04-01"]),
            ("b", "", &["2024-01-20"]),
            ("c", "", &["2024-02-03", "2024-03-30"]),
            ("d", "", &["2024-03-02"]),
        ]);
        let as_of = NaiveDate::from_ymd_opt(2024, 4, 15).unwrap();
        let rows = churn_rows(&h, as_of, &params(None));
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.start,
                    r.retained,
                    r.churned,
                    r.new,
                    r.reactivated,
                    r.end,
                    r.partial,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // Jan: nobody before; a, b new.
                (0, 0, 0, 2, 0, 2, false),
                // Feb: S = {a, b}; a retained, b churned; c new.
                (2, 1, 1, 1, 0, 2, false),
                // Mar: S = {a, c}; c retained, a churned; d new.
                (2, 1, 1, 1, 0, 2, false),
                // Apr (partial): S = {c, d}; nobody retained; a reactivated.
                (2, 0, 2, 0, 1, 1, true),
            ]
        );
        assert_eq!(rows[1].retention_rate(), Some(0.5));
        assert_eq!(rows[0].retention_rate(), None);
        for r in &rows {
            assert_eq!(r.retained + r.churned, r.start);
        }
    }

    #[test]
    fn inactivity_window() {
        // With a 60-day window, a (Jan 5, Feb 10, Apr 1) stays active through March.
        let h = hist(&[("a", "", &["2024-01-05", "2024-02-10", "2024-04-01"])]);
        let as_of = NaiveDate::from_ymd_opt(2024, 4, 30).unwrap();
        let rows = churn_rows(&h, as_of, &params(Some(Window::Days(60))));
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.start, r.retained, r.churned, r.new, r.reactivated, r.end))
            .collect();
        // Jan: new, active at end (Jan 5 within 60 days of Feb 1).
        // Feb: S (Jan 5 within 60 d before Feb 1) retained (Feb 10 before Mar 1).
        // Mar: S retained (Feb 10 within 60 d of Apr 1: Feb 1..Apr 1).
        // Apr: S (Feb 10 ≥ Mar 1 − 60 d = Jan 31... yes), retained (Apr 1 in Mar 1..May 1).
        assert_eq!(
            got,
            vec![
                (0, 0, 0, 1, 0, 1),
                (1, 1, 0, 0, 0, 1),
                (1, 1, 0, 0, 0, 1),
                (1, 1, 0, 0, 0, 1)
            ]
        );
    }

    #[test]
    fn kaplan_meier_by_hand() {
        // Times 1,2+,3,3,5+ (+ = censored): S(1)=4/5, S(3)=4/5·(1−2/3)=4/15.
        let mut obs = vec![(1, true), (2, false), (3, true), (3, true), (5, false)];
        let km = kaplan_meier(&mut obs);
        let s: Vec<_> = km
            .iter()
            .map(|k| (k.time, k.at_risk, k.events, k.censored))
            .collect();
        assert_eq!(
            s,
            vec![(1, 5, 1, 0), (2, 4, 0, 1), (3, 3, 2, 0), (5, 1, 0, 1)]
        );
        assert!((km[0].survival - 0.8).abs() < 1e-12);
        assert!((km[2].survival - 4.0 / 15.0).abs() < 1e-12);
        // Greenwood: 1/(5·4) + 2/(3·1).
        assert!((km[2].greenwood - (1.0 / 20.0 + 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(km_median(&km), Some(3));
        let (lo, hi) = km_interval(km[0].survival, km[0].greenwood);
        assert!(lo < 0.8 && 0.8 < hi && lo > 0.0 && hi < 1.0);
        // lifelines 0.30.0 on the same data: [0.203809, 0.969180] after t = 1 and
        // [0.009677, 0.686136] after t = 3.
        assert!((lo - 0.203_809).abs() < 1e-6, "{lo}");
        assert!((hi - 0.969_180).abs() < 1e-6, "{hi}");
        let (lo, hi) = km_interval(km[2].survival, km[2].greenwood);
        assert!((lo - 0.009_677).abs() < 1e-6, "{lo}");
        assert!((hi - 0.686_136).abs() < 1e-6, "{hi}");
        assert_eq!(km_interval(1.0, 0.0), (1.0, 1.0));
    }

    #[test]
    fn lifetime_rules() {
        let asof = d("2024-06-01");
        // Last purchase 2024-03-01, W = 1 month: churned at 2024-04-01 (event).
        let (t, e) =
            lifetimes(&[d("2024-01-01"), d("2024-03-01")], asof, Window::Months(1)).unwrap();
        assert!(e);
        assert_eq!(t, d("2024-04-01") - d("2024-01-01"));
        // Recent buyer: censored at as-of.
        let (t, e) = lifetimes(&[d("2024-05-20")], asof, Window::Months(1)).unwrap();
        assert!(!e);
        assert_eq!(t, asof - d("2024-05-20"));
    }

    #[test]
    fn survival_grid() {
        let mut obs = vec![(10, true), (40, true), (45, false), (70, true)];
        let km = kaplan_meier(&mut obs);
        let pts = sample("(all)", &km, 4, 30);
        let s: Vec<_> = pts
            .iter()
            .map(|p| (p.k, p.at_risk, p.events, p.censored))
            .collect();
        assert_eq!(
            s,
            vec![(0, 4, 0, 0), (1, 3, 1, 0), (2, 1, 1, 1), (3, 0, 1, 0)]
        );
        assert!((pts[1].survival - 0.75).abs() < 1e-12);
        assert!((pts[2].survival - 0.5).abs() < 1e-12);
        assert_eq!(pts[0].median, Some(40));
    }
}
