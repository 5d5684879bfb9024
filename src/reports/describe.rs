//! `retention describe`: a profile of the input before any report, as metric/value rows.
//!
//! Definitions (docs/metrics.md "purchase"):
//! - `rows`: transaction rows read, before any was dropped; `customers`: distinct customer
//!   ids with at least one kept row (returns included); `first_date`, `last_date`: the
//!   earliest and latest kept transaction date.
//! - A **purchase** is every order that is not a return; a **return** is an order with a
//!   negative line and a net amount ≤ 0; free orders are purchases. An order is a distinct
//!   (customer, order id), or one row where there is no order id. `purchases` and
//!   `returns` count orders.
//! - `repeat_customers`: customers with ≥ 2 purchases; `one_time_customers`: exactly 1.
//! - `median_interpurchase_days`: the median of the gaps between consecutive distinct
//!   purchase days of a customer, pooled over all customers (null when no customer has two
//!   purchase days).
//! - `regularity_k` (Wheat & Morrison 1990): for each customer with ≥ 3 distinct purchase
//!   days, M = last gap / (last gap + second-to-last gap); V = mean over those customers of
//!   (M − 0.5)²; k = (1 − 4V) / (8V) (for Erlang-k gaps M ~ Beta(k, k), whose variance is
//!   1 / (4(2k + 1))). k ≈ 1: Poisson-like buying, as BG/NBD and Pareto/NBD assume; k > 1:
//!   more regular buying (k ≈ 2: Erlang-2, the "regularity" of BTYDplus). Null with fewer
//!   than 3 such customers or V = 0.
//! - `duplicate_rows`: exact duplicate rows (kept by default, dropped with --dedupe);
//!   `dropped_rows`: rows dropped for an empty customer id, date or amount, outside
//!   --from/--to, or after as-of.
//! - `column ROLE`: the source column of each mapped role; `date_format`: the date format
//!   used.

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::charts::{Chart, Histogram, Histograms};
use crate::load::LoadStats;
use crate::output::{Report, View};
use crate::period::date_from_days;
use crate::reports::{CodedTx, Histories};

/// The profile of the transactions.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub rows: usize,
    pub customers: usize,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    pub purchases: usize,
    pub returns: usize,
    pub repeat_customers: usize,
    pub one_time_customers: usize,
    pub median_interpurchase_days: Option<f64>,
    pub regularity: Regularity,
    pub duplicate_rows: usize,
    pub dropped_rows: usize,
    /// (canonical name, source column).
    pub mapping: Vec<(String, String)>,
    pub date_format: String,
    /// Purchases of each purchasing customer (for the chart).
    pub purchases_per_customer: Vec<usize>,
    /// Every gap in days between consecutive distinct purchase days (for the chart).
    pub gaps: Vec<i32>,
}

/// Wheat & Morrison's regularity estimate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularity {
    /// Customers with ≥ 3 distinct purchase days (those whose M enters V).
    pub customers: usize,
    /// Mean of (M − 0.5)² (None without such customers).
    pub v: Option<f64>,
    /// (1 − 4V) / (8V); None with fewer than 3 customers or V = 0.
    pub k: Option<f64>,
}

/// The profile of loaded transactions (`tx` as [`crate::load::Dataset::tx`]) with the
/// counts of reading them.
/// `coded` is the coding of `tx` ([`CodedTx::of`]).
pub fn profile(coded: &CodedTx, tx: &DataFrame, stats: &LoadStats) -> Result<Profile> {
    // The purchases grouped by customer (12 bytes a purchase; not collected as rows first).
    let bought = coded.purchases_by_customer(tx)?;
    let purchases_per_customer: Vec<usize> = (0..coded.ids.len())
        .map(|c| bought.days(c).len())
        .filter(|n| *n > 0)
        .collect();
    let purchases: usize = purchases_per_customer.iter().sum();
    let histories = Histories::from_by_customer(coded, &bought, None);
    drop(bought);
    let gaps = gaps(&histories);
    let days = tx.column("date")?.cast(&DataType::Date)?;
    let days = days.date()?.physical();
    let orders = order_count(tx)?;
    Ok(Profile {
        rows: stats.rows_read,
        customers: coded.ids.len(),
        first_date: days.min().map(date_from_days),
        last_date: days.max().map(date_from_days),
        purchases,
        returns: orders.saturating_sub(purchases),
        repeat_customers: purchases_per_customer.iter().filter(|n| **n >= 2).count(),
        one_time_customers: purchases_per_customer.iter().filter(|n| **n == 1).count(),
        median_interpurchase_days: median(&gaps),
        regularity: regularity(&histories),
        duplicate_rows: stats.duplicate_rows,
        dropped_rows: stats.dropped_empty + stats.outside_window + stats.after_as_of,
        mapping: stats.mapping.clone(),
        date_format: stats.date_format.clone(),
        purchases_per_customer,
        gaps,
    })
}

/// Orders: distinct (customer, order id), one per row without an order id; every row
/// when there is no order id column or its ids are distinct (as [`super::purchases`]).
fn order_count(tx: &DataFrame) -> Result<usize> {
    if crate::reports::rows_are_orders(tx) {
        return Ok(tx.height());
    }
    let groups = tx
        .clone()
        .lazy()
        .with_row_index("__row", None)
        .with_column(
            when(col("order_id").is_null())
                .then(col("__row"))
                .otherwise(lit(NULL).cast(IDX_DTYPE))
                .alias("__row"),
        )
        .group_by([col("customer_id"), col("order_id"), col("__row")])
        .agg([len().alias("__n")])
        .collect()?;
    Ok(groups.height())
}

/// Gaps in days between consecutive distinct purchase days, customer by customer.
pub fn gaps(h: &Histories) -> Vec<i32> {
    (0..h.len())
        .flat_map(|i| h.days(i).windows(2).map(|w| w[1] - w[0]))
        .collect()
}

/// The median (the mean of the two middle values for an even count); None when empty.
pub fn median(values: &[i32]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0),
    }
}

/// Wheat & Morrison (1990): M from each customer's last two gaps, V = mean (M − 0.5)²,
/// k = (1 − 4V) / (8V).
pub fn regularity(h: &Histories) -> Regularity {
    let ms: Vec<f64> = (0..h.len())
        .filter_map(|i| match h.days(i) {
            [.., a, b, c] => {
                let (prev, last) = ((b - a) as f64, (c - b) as f64);
                Some(last / (last + prev))
            }
            _ => None,
        })
        .collect();
    let customers = ms.len();
    if customers == 0 {
        return Regularity::default();
    }
    let v = ms.iter().map(|m| (m - 0.5).powi(2)).sum::<f64>() / customers as f64;
    let k = (customers >= 3 && v > 0.0).then(|| (1.0 - 4.0 * v) / (8.0 * v));
    Regularity {
        customers,
        v: Some(v),
        k,
    }
}

/// What k means for the choice of a purchase model (one sentence).
pub fn regularity_note(r: &Regularity) -> String {
    match r.k {
        None => format!(
            "regularity_k is not estimated: it needs at least 3 customers with 3 or more \
             purchase days and some spread in their gaps ({} such customers)",
            r.customers
        ),
        Some(k) if k <= 1.5 => format!(
            "regularity_k = {k:.2} (from {} customers): purchasing looks Poisson-like (k ≈ 1 \
             or below), so the BG/NBD and Pareto/NBD assumptions hold",
            r.customers
        ),
        Some(k) => format!(
            "regularity_k = {k:.2} (from {} customers): customers buy more regularly than \
             Poisson (k clearly above 1), so BG/NBD and Pareto/NBD over-predict lapse; \
             consider the regularity when interpreting p_alive",
            r.customers
        ),
    }
}

/// A number as text: integers without decimals, others to 4 decimals (trailing zeros cut).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The report: columns `metric` and `value` (text; null where a value is undefined), and
/// the regularity note.
pub fn report(p: &Profile, as_of: NaiveDate) -> Result<Report> {
    let count = |n: usize| Some(n.to_string());
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
    let mut rows: Vec<(String, Option<String>)> = vec![
        ("rows".into(), count(p.rows)),
        ("customers".into(), count(p.customers)),
        ("first_date".into(), date(p.first_date)),
        ("last_date".into(), date(p.last_date)),
        ("purchases".into(), count(p.purchases)),
        ("returns".into(), count(p.returns)),
        ("repeat_customers".into(), count(p.repeat_customers)),
        ("one_time_customers".into(), count(p.one_time_customers)),
        (
            "median_interpurchase_days".into(),
            p.median_interpurchase_days.map(number),
        ),
        ("regularity_k".into(), p.regularity.k.map(number)),
        ("duplicate_rows".into(), count(p.duplicate_rows)),
        ("dropped_rows".into(), count(p.dropped_rows)),
    ];
    for (role, src) in &p.mapping {
        rows.push((format!("column {role}"), Some(src.clone())));
    }
    rows.push(("date_format".into(), Some(p.date_format.clone())));
    let data = DataFrame::new_infer_height(vec![
        Column::new(
            "metric".into(),
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "value".into(),
            rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        ),
    ])?;
    let view = View {
        title: Some(format!("Profile of the transactions, as of {as_of}")),
        header: vec!["metric".into(), "value".into()],
        rows: rows
            .iter()
            .map(|(m, v)| vec![m.clone(), v.clone().unwrap_or_default()])
            .collect(),
        fixed_columns: 2,
    };
    Ok(Report {
        data,
        views: vec![view],
        percent_columns: vec![],
        notes: vec![regularity_note(&p.regularity)],
    })
}

/// Bins of at most this many values before the overflow bin.
const MAX_BINS: usize = 15;

/// `--chart`: histograms of purchases per customer and of inter-purchase days.
pub fn chart(p: &Profile, data: &str, as_of: &str) -> Chart {
    Chart::Histograms(Histograms {
        title: format!("Purchases per customer and days between purchases — {data}, as of {as_of}"),
        panels: vec![
            purchases_histogram(&p.purchases_per_customer),
            gaps_histogram(&p.gaps),
        ],
    })
}

/// Customers by number of purchases: 1, 2, ..., then "15+".
pub fn purchases_histogram(per_customer: &[usize]) -> Histogram {
    let max = per_customer.iter().copied().max().unwrap_or(1).max(1);
    let nbins = max.min(MAX_BINS);
    let mut counts = vec![0.0; nbins];
    for &n in per_customer {
        counts[n.clamp(1, nbins) - 1] += 1.0;
    }
    let bins = (1..=nbins)
        .map(|i| {
            if i == MAX_BINS && max > MAX_BINS {
                format!("{i}+")
            } else {
                i.to_string()
            }
        })
        .collect();
    Histogram {
        title: "Purchases per customer".into(),
        x_desc: "purchases (orders that are not returns)".into(),
        y_desc: "customers".into(),
        bins,
        counts,
    }
}

/// Gaps in days binned 1..=w, w+1..=2w, ... up to their 95th percentile, with a last bin
/// "> N" for the longer gaps; w is a calendar-friendly width giving at most 15 bins.
pub fn gaps_histogram(gaps: &[i32]) -> Histogram {
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let mut h = Histogram {
        title: "Days between consecutive purchase days".into(),
        x_desc: "days".into(),
        y_desc: "gaps (all customers)".into(),
        bins: vec![],
        counts: vec![],
    };
    let Some(&last) = sorted.last() else {
        h.title.push_str(" (no customer bought on two days)");
        return h;
    };
    let p95 = sorted[((sorted.len() - 1) as f64 * 0.95).round() as usize].max(1);
    let width = [
        1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730, 1825, 3650, 36500,
    ]
    .into_iter()
    .find(|w| (p95 as usize).div_ceil(*w) <= MAX_BINS)
    .unwrap_or(36500);
    let nbins = (p95 as usize).div_ceil(width).max(1);
    let top = (nbins * width) as i32;
    let overflow = last > top;
    h.counts = vec![0.0; nbins + usize::from(overflow)];
    for &g in &sorted {
        let i = if g > top {
            nbins
        } else {
            ((g.max(1) - 1) as usize) / width
        };
        h.counts[i] += 1.0;
    }
    h.bins = (0..nbins)
        .map(|i| match width {
            1 => (i + 1).to_string(),
            w => format!("{}–{}", i * w + 1, (i + 1) * w),
        })
        .collect();
    if overflow {
        h.bins.push(format!("> {top}"));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i32 {
        crate::period::days_since_epoch(s.parse().unwrap())
    }

    fn tx(rows: &[(&str, Option<&str>, &str, f64)]) -> DataFrame {
        let days: Vec<i32> = rows.iter().map(|r| day(r.2)).collect();
        DataFrame::new_infer_height(vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "order_id".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new("date".into(), days)
                .cast(&DataType::Date)
                .unwrap(),
            Column::new(
                "amount".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
        ])
        .unwrap()
    }

    fn histories(days: &[&[i32]]) -> Histories {
        let mut h = Histories::default();
        for (i, d) in days.iter().enumerate() {
            h.ids.push(&format!("c{i}"));
            h.codes.push(i as u32);
            h.groups.push("");
            h.offsets.push(h.days.len());
            h.days.extend_from_slice(d);
            h.values.extend(d.iter().map(|_| 1.0));
        }
        h.offsets.push(h.days.len());
        h
    }

    #[test]
    fn purchases_and_returns_count_orders() {
        // o1: +30 and −30 (refunded: a negative line, net 0) is a return; o2 is free (a
        // purchase); o3: +50 −10 nets 40 (a purchase); r1 is a lone refund row; b's o4 is
        // a purchase; o5 (no order id) a purchase on its own row.
        let t = tx(&[
            ("a", Some("o1"), "2024-01-01", 30.0),
            ("a", Some("o1"), "2024-01-01", -30.0),
            ("a", Some("o2"), "2024-01-05", 0.0),
            ("a", Some("o3"), "2024-01-15", 50.0),
            ("a", Some("o3"), "2024-01-15", -10.0),
            ("a", Some("r1"), "2024-01-20", -10.0),
            ("b", Some("o4"), "2024-01-03", 20.0),
            ("c", None, "2024-01-04", 5.0),
            ("d", Some("o1"), "2024-01-02", -5.0),
        ]);
        let stats = LoadStats {
            rows_read: 12,
            dropped_empty: 1,
            outside_window: 1,
            after_as_of: 1,
            duplicate_rows: 0,
            date_format: "ISO".into(),
            mapping: vec![("customer_id".into(), "cust".into())],
            service_period: false,
        };
        let p = profile(&CodedTx::new(&t, None).unwrap(), &t, &stats).unwrap();
        // Orders: a o1 o2 o3 r1, b o4, c's row, d o1 = 7; purchases o2 o3 o4 c = 4.
        assert_eq!((p.purchases, p.returns), (4, 3));
        assert_eq!(p.customers, 4);
        assert_eq!((p.repeat_customers, p.one_time_customers), (1, 2));
        assert_eq!(p.purchases_per_customer, [2, 1, 1]);
        // a bought on Jan 5 and Jan 15: one gap of 10 days.
        assert_eq!(p.gaps, [10]);
        assert_eq!(p.median_interpurchase_days, Some(10.0));
        assert_eq!(p.first_date, "2024-01-01".parse().ok());
        assert_eq!(p.last_date, "2024-01-20".parse().ok());
        assert_eq!((p.rows, p.dropped_rows), (12, 3));
        let r = report(&p, "2024-01-20".parse().unwrap()).unwrap();
        let csv =
            String::from_utf8(crate::output::render(&r, crate::output::Format::Csv, None).unwrap())
                .unwrap();
        assert!(
            csv.starts_with("metric,value\nrows,12\ncustomers,4\nfirst_date,2024-01-01\n"),
            "{csv}"
        );
        assert!(csv.contains("\nregularity_k,\n"), "{csv}");
        assert!(
            csv.ends_with("column customer_id,cust\ndate_format,ISO\n"),
            "{csv}"
        );
    }

    #[test]
    fn one_row_orders_count_rows() {
        // Distinct order ids: each row is an order, a negative row a return.
        let t = tx(&[
            ("a", Some("1"), "2024-01-01", 10.0),
            ("a", Some("2"), "2024-01-02", -10.0),
            ("a", Some("3"), "2024-01-03", 0.0),
        ]);
        let p = profile(&CodedTx::new(&t, None).unwrap(), &t, &LoadStats::default()).unwrap();
        assert_eq!((p.purchases, p.returns), (2, 1));
        assert_eq!(p.gaps, [2]);
    }

    #[test]
    fn median_of_pooled_gaps() {
        // c0: gaps 36, 51; c1: 43; c2: 43 → 36 43 43 51 → 43; c3 one day, no gap.
        let h = histories(&[&[0, 36, 87], &[10, 53], &[5, 48], &[7]]);
        assert_eq!(gaps(&h), [36, 51, 43, 43]);
        assert_eq!(median(&gaps(&h)), Some(43.0));
        assert_eq!(median(&[5, 1, 4]), Some(4.0));
        assert_eq!(median(&[1, 2]), Some(1.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn regularity_by_hand() {
        // Last two gaps (prev, last): c0 (10, 10) → M = 1/2; c1 (30, 10) → M = 1/4;
        // c2 (5, 15) → M = 3/4; c3 has 2 days only (left out).
        // V = (0 + 1/16 + 1/16) / 3 = 1/24; k = (1 − 4/24) / (8/24) = (5/6)/(1/3) = 2.5.
        let h = histories(&[&[0, 7, 17, 27], &[0, 30, 40], &[0, 5, 20], &[0, 9]]);
        let r = regularity(&h);
        assert_eq!(r.customers, 3);
        assert!((r.v.unwrap() - 1.0 / 24.0).abs() < 1e-12, "{r:?}");
        assert!((r.k.unwrap() - 2.5).abs() < 1e-12, "{r:?}");
        assert!(regularity_note(&r).contains("over-predict lapse"));
        // M = 1/2 everywhere: V = 0, no k.
        let even = regularity(&histories(&[&[0, 5, 10], &[0, 7, 14], &[1, 2, 3]]));
        assert_eq!((even.v, even.k), (Some(0.0), None));
        // Two qualifying customers are too few.
        let few = regularity(&histories(&[&[0, 30, 40], &[0, 5, 20]]));
        assert_eq!((few.customers, few.k), (2, None));
        assert!(regularity_note(&few).contains("not estimated"));
        // Memoryless-like spread: M at 0.1, 0.9, 0.5, 0.2 → V = (0.16+0.16+0+0.09)/4
        // = 0.1025; k = (1 − 0.41) / 0.82 = 0.7195…
        let poisson = regularity(&histories(&[
            &[0, 9, 10],
            &[0, 1, 10],
            &[0, 4, 8],
            &[0, 8, 10],
        ]));
        assert!(
            (poisson.k.unwrap() - 0.59 / 0.82).abs() < 1e-12,
            "{poisson:?}"
        );
        assert!(regularity_note(&poisson).contains("Poisson-like"));
    }

    #[test]
    fn histogram_bins() {
        let h = purchases_histogram(&[1, 1, 2, 5]);
        assert_eq!(h.bins, ["1", "2", "3", "4", "5"]);
        assert_eq!(h.counts, [2.0, 1.0, 0.0, 0.0, 1.0]);
        let h = purchases_histogram(&[1, 40]);
        assert_eq!(h.bins.len(), 15);
        assert_eq!(h.bins[14], "15+");
        assert_eq!(h.counts[14], 1.0);
        // p95 of 1..=100 is 95: width 7 (14 bins up to 98), then "> 98".
        let g: Vec<i32> = (1..=100).collect();
        let h = gaps_histogram(&g);
        assert_eq!(h.bins[0], "1–7");
        assert_eq!(h.bins.len(), 15);
        assert_eq!(h.bins[14], "> 98");
        assert_eq!(h.counts[0], 7.0);
        assert_eq!(h.counts[14], 2.0);
        assert_eq!(h.counts.iter().sum::<f64>(), 100.0);
        assert!(gaps_histogram(&[]).counts.is_empty());
    }
}
