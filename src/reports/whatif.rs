//! `retention whatif`: the 5/25 rule on the user's own data (docs/metrics.md, section what-if).
//!
//! Margin-multiple model (Gupta & Lehmann): CLV = m·r / (1 + d − r), with m the annual
//! margin per customer, r the annual retention rate and d the annual discount rate.

use anyhow::Result;
use chrono::{Months, NaiveDate};
use polars::prelude::*;

use crate::error::bad;
use crate::output::{num, pct, Report, View};
use crate::period::days_since_epoch;
use crate::reports::column;
use crate::reports::{Coded, CodedTx, Money};

#[derive(Clone, Debug)]
pub struct WhatifParams {
    /// Margin as a fraction of revenue.
    pub margin: f64,
    /// Annual discount rate.
    pub discount_rate: f64,
    /// Retention lift in fraction points (0.05 = +5 points).
    pub lift: f64,
    /// Use this annual retention instead of measuring it.
    pub retention: Option<f64>,
}

impl WhatifParams {
    /// The defaults (of the flags and `retention report`).
    pub const DEFAULT: WhatifParams = WhatifParams {
        margin: 1.0,
        discount_rate: 0.10,
        lift: 0.05,
        retention: None,
    };
}

impl Default for WhatifParams {
    fn default() -> Self {
        WhatifParams::DEFAULT
    }
}

/// What the data says, over the last two years before as-of.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The previous year (start exclusive, end inclusive) and the last year.
    pub prev: (NaiveDate, NaiveDate),
    pub last: (NaiveDate, NaiveDate),
    /// Customers active (with a purchase) in the previous year.
    pub base: usize,
    /// Of those, customers active in the last year.
    pub retained: usize,
    /// Customers active in the last year (the customer base valued by the equity).
    pub active_last: usize,
    /// Net revenue in the last year (returns included).
    pub revenue_last: f64,
    /// The first transaction date of the data.
    pub first_day: NaiveDate,
}

impl Measured {
    pub fn retention(&self) -> Option<f64> {
        (self.base > 0).then(|| self.retained as f64 / self.base as f64)
    }
}

/// Measure annual retention: of the customers active in the 12 months before the last 12
/// months (as-of − 24 months, as-of − 12 months], the share active in the last 12 months
/// (as-of − 12 months, as-of]. Also the last year's active customers and net revenue.
pub fn measure(tx: &DataFrame, as_of: NaiveDate) -> Result<Measured> {
    measure_shared(None, tx, as_of)
}

/// [`measure`] with the transactions' ids coded by the caller.
pub fn measure_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    as_of: NaiveDate,
) -> Result<Measured> {
    let y1 = as_of
        .checked_sub_months(Months::new(12))
        .ok_or_else(|| bad("as-of is too early"))?;
    let y2 = as_of
        .checked_sub_months(Months::new(24))
        .ok_or_else(|| bad("as-of is too early"))?;
    let (d0, d1, d2) = (
        days_since_epoch(as_of),
        days_since_epoch(y1),
        days_since_epoch(y2),
    );
    let coded = Coded::or_new(shared, tx, None)?;
    // Per customer code: bit 0 = active in the year before, bit 1 = in the last year
    // (the purchases walked, not collected).
    let mut active = vec![0u8; coded.ids.len()];
    coded.each_purchase(tx, |c, d, _| {
        if d > d2 && d <= d1 {
            active[c as usize] |= 1;
        } else if d > d1 && d <= d0 {
            active[c as usize] |= 2;
        }
    })?;
    let count = |bits: u8| active.iter().filter(|a| **a & bits == bits).count();
    let mut revenue_last = Money::ZERO;
    let mut first = i32::MAX;
    let days = tx.column("date")?.cast(&DataType::Date)?;
    let amounts = crate::load::amounts::Amounts::of(tx)?;
    for (d, a) in days.date()?.physical().iter().zip(amounts.iter()) {
        let Some(d) = d else { continue };
        first = first.min(d);
        if d > d1 && d <= d0 {
            revenue_last += a.unwrap_or(0.0);
        }
    }
    let revenue_last = revenue_last.total();
    Ok(Measured {
        prev: (y2, y1),
        last: (y1, as_of),
        base: count(1),
        retained: count(3),
        active_last: count(2),
        revenue_last,
        first_day: crate::period::date_from_days(if first == i32::MAX { d0 } else { first }),
    })
}

/// CLV = m·r / (1 + d − r).
pub fn clv(m: f64, r: f64, d: f64) -> f64 {
    m * r / (1.0 + d - r)
}

/// One scenario of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub retention_rate: f64,
    pub margin_per_customer: f64,
    pub discount_rate: f64,
    pub clv: f64,
    pub customers: i64,
    pub customer_equity: f64,
    pub change: Option<f64>,
}

/// The two scenarios (measured r, r + lift), checked.
pub fn scenarios(ms: &Measured, p: &WhatifParams) -> Result<Vec<Scenario>> {
    crate::params::check_margin(p.margin)?;
    if !(0.0..=1.0).contains(&p.discount_rate) {
        return Err(bad(format!(
            "--discount-rate {}: expected an annual rate between 0 and 1 (0.10 = 10%)",
            p.discount_rate
        )));
    }
    let r = match p.retention {
        Some(r) if !(0.0..=1.0).contains(&r) => {
            return Err(bad(format!(
                "--retention {r}: expected a fraction between 0 and 1"
            )))
        }
        Some(r) => r,
        None => ms.retention().ok_or_else(|| {
            bad(format!(
                "cannot measure annual retention: no customer made a purchase in the year \
                 {} to {} (the data starts {}); give at least two years of transactions \
                 or --retention R",
                ms.prev.0.succ_opt().unwrap_or(ms.prev.0),
                ms.prev.1,
                ms.first_day
            ))
        })?,
    };
    if ms.active_last == 0 {
        return Err(bad(format!(
            "no customer made a purchase in the last year ({} to {}): nothing to value",
            ms.last.0.succ_opt().unwrap_or(ms.last.0),
            ms.last.1
        )));
    }
    if !p.lift.is_finite() {
        return Err(bad(format!(
            "--lift {}: expected a number of fraction points",
            p.lift
        )));
    }
    let d = p.discount_rate;
    let lifted = r + p.lift;
    if lifted >= 1.0 + d {
        return Err(bad(format!(
            "retention {r:.4} + lift {} = {lifted:.4} is not below 1 + discount rate = {}: \
             the customer value would be infinite; lower --lift or raise --discount-rate",
            p.lift,
            1.0 + d
        )));
    }
    if lifted < 0.0 {
        return Err(bad(format!(
            "retention {r:.4} + lift {} is below 0",
            p.lift
        )));
    }
    let m = p.margin * ms.revenue_last / ms.active_last as f64;
    let n = ms.active_last as i64;
    let base = clv(m, r, d);
    let mk = |name: String, r: f64| {
        let v = clv(m, r, d);
        Scenario {
            name,
            retention_rate: r,
            margin_per_customer: m,
            discount_rate: d,
            clv: v,
            customers: n,
            customer_equity: v * n as f64,
            change: (base != 0.0).then(|| (v - base) / base),
        }
    };
    Ok(vec![
        mk("measured".into(), r),
        mk(format!("lift {:+} pts", p.lift * 100.0), lifted),
    ])
}

fn frame(s: &[Scenario]) -> Result<DataFrame> {
    let cols = vec![
        column("scenario", s, |x| x.name.as_str()),
        column("retention_rate", s, |x| x.retention_rate),
        column("margin_per_customer", s, |x| x.margin_per_customer),
        column("discount_rate", s, |x| x.discount_rate),
        column("clv", s, |x| x.clv),
        column("customers", s, |x| x.customers),
        column("customer_equity", s, |x| x.customer_equity),
        column("change", s, |x| x.change),
    ];
    Ok(DataFrame::new(s.len(), cols)?)
}

/// The `whatif` report.
pub fn run(tx: &DataFrame, as_of: NaiveDate, p: &WhatifParams) -> Result<Report> {
    run_shared(None, tx, as_of, p)
}

/// [`run`] with the transactions' ids coded by the caller.
pub fn run_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    as_of: NaiveDate,
    p: &WhatifParams,
) -> Result<Report> {
    let ms = measure_shared(shared, tx, as_of)?;
    let s = scenarios(&ms, p)?;
    let mut notes = Vec::new();
    let day = |d: NaiveDate| d.succ_opt().unwrap_or(d);
    match p.retention {
        Some(r) => notes.push(format!(
            "retention r = {} given by --retention",
            pct(Some(r))
        )),
        None => notes.push(format!(
            "r = {} of {} customers active {} to {} were active again {} to {}",
            ms.retained,
            ms.base,
            day(ms.prev.0),
            ms.prev.1,
            day(ms.last.0),
            ms.last.1
        )),
    }
    if p.retention.is_none() && ms.first_day > day(ms.prev.0) {
        notes.push(format!(
            "the data starts {}, inside the base year: r is measured on a partial year",
            ms.first_day
        ));
    }
    notes.push(format!(
        "m = margin {} × net revenue {} / {} customers active in the last year; \
         customer equity = CLV × those customers; d = {}",
        p.margin,
        num(ms.revenue_last),
        ms.active_last,
        p.discount_rate
    ));
    let title = format!(
        "Customer value at measured and lifted retention (CLV = m·r/(1+d−r)), as of {as_of}"
    );
    let mut header = vec![String::new()];
    header.extend(s.iter().map(|x| x.name.clone()));
    let row = |label: &str, f: &dyn Fn(&Scenario) -> String| {
        let mut r = vec![label.to_string()];
        r.extend(s.iter().map(f));
        r
    };
    let view = View {
        title: Some(title),
        header,
        rows: vec![
            row("annual retention r", &|x| pct(Some(x.retention_rate))),
            row("annual margin per customer m", &|x| {
                num(x.margin_per_customer)
            }),
            row("discount rate d", &|x| pct(Some(x.discount_rate))),
            row("CLV", &|x| num(x.clv)),
            row("customers", &|x| num(x.customers as f64)),
            row("customer equity", &|x| num(x.customer_equity)),
            row("change", &|x| {
                x.change
                    .map(|c| format!("{:+.1}%", c * 100.0))
                    .unwrap_or_default()
            }),
        ],
        fixed_columns: 1,
    };
    Ok(Report {
        data: frame(&s)?,
        views: vec![view],
        percent_columns: vec!["retention_rate", "discount_rate", "change"],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::segment::tests::{d, tx};

    /// As of 2024-12-31: previous year 2023-01-01..2023-12-31, last year 2024.
    /// a: 2023 and 2024 (retained). b: 2023 only. c: 2023 and a 2024 return only (not
    /// retained: a return is not a purchase). e: 2024 only (new). f: 2022 only (outside).
    fn fixture() -> DataFrame {
        tx(&[
            ("a", "2023-03-01", 100.0, "o1", "x"),
            ("a", "2024-03-01", 120.0, "o2", "x"),
            ("b", "2023-06-01", 50.0, "o3", "x"),
            ("c", "2023-12-31", 80.0, "o4", "x"),
            ("c", "2024-01-10", -80.0, "r4", "x"),
            ("e", "2024-12-31", 40.0, "o5", "x"),
            ("f", "2022-12-31", 10.0, "o6", "x"),
        ])
    }

    #[test]
    fn measured_retention_by_hand() {
        let ms = measure(&fixture(), d("2024-12-31")).unwrap();
        // Base {a, b, c} (f's 2022-12-31 is the exclusive start), retained {a}.
        assert_eq!((ms.base, ms.retained), (3, 1));
        assert_eq!(ms.retention(), Some(1.0 / 3.0));
        // Last year: a and e active; revenue 120 − 80 + 40 = 80.
        assert_eq!((ms.active_last, ms.revenue_last), (2, 80.0));
        assert_eq!(ms.first_day, d("2022-12-31"));
    }

    #[test]
    fn clv_and_lift_by_hand() {
        // m = 0.5 · 80 / 2 = 20, r = 1/3, d = 0.1: CLV = 20·(1/3)/(1.1 − 1/3) = 8.695652…
        let ms = measure(&fixture(), d("2024-12-31")).unwrap();
        let p = WhatifParams {
            margin: 0.5,
            ..Default::default()
        };
        let s = scenarios(&ms, &p).unwrap();
        let third = 1.0 / 3.0;
        assert!((s[0].clv - 20.0 * third / (1.1 - third)).abs() < 1e-12);
        assert!((s[0].clv - 8.695652173913).abs() < 1e-9);
        assert_eq!(s[0].customers, 2);
        assert!((s[0].customer_equity - 2.0 * s[0].clv).abs() < 1e-12);
        // r + 0.05 = 0.38333…: CLV = 20·0.38333/(1.1 − 0.38333) = 10.697674…
        assert!((s[1].clv - 10.697674418605).abs() < 1e-9);
        assert!((s[1].change.unwrap() - (10.697674418605 / 8.695652173913 - 1.0)).abs() < 1e-9);
        assert_eq!(s[0].change, Some(0.0));
        assert_eq!(s[1].name, "lift +5 pts");
    }

    #[test]
    fn textbook_example() {
        // m = 100, r = 0.8, d = 0.1: CLV = 80 / 0.3 = 266.67; r = 0.85: 85/0.25 = 340 (+27.5%).
        assert!((clv(100.0, 0.8, 0.1) - 266.666666666667).abs() < 1e-9);
        assert!((clv(100.0, 0.85, 0.1) - 340.0).abs() < 1e-9);
    }

    #[test]
    fn refuses_infinite_value_and_missing_history() {
        let ms = measure(&fixture(), d("2024-12-31")).unwrap();
        let p = WhatifParams {
            retention: Some(0.9),
            lift: 0.2,
            ..Default::default()
        };
        let e = scenarios(&ms, &p).unwrap_err().to_string();
        assert!(e.contains("is not below 1 + discount rate"), "{e}");
        // Exactly 1 + d is refused too.
        let p = WhatifParams {
            retention: Some(1.0),
            lift: 0.1,
            ..Default::default()
        };
        assert!(scenarios(&ms, &p).is_err());
        // One year of data: nobody in the base year.
        let one = tx(&[("a", "2024-03-01", 10.0, "o1", "x")]);
        let ms = measure(&one, d("2024-12-31")).unwrap();
        let e = scenarios(&ms, &WhatifParams::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot measure annual retention"), "{e}");
        assert!(e.contains("--retention"), "{e}");
        for bad in [
            WhatifParams {
                margin: 1.5,
                ..Default::default()
            },
            WhatifParams {
                discount_rate: -0.1,
                ..Default::default()
            },
            WhatifParams {
                retention: Some(1.2),
                ..Default::default()
            },
        ] {
            assert!(scenarios(&measure(&fixture(), d("2024-12-31")).unwrap(), &bad).is_err());
        }
    }
}
