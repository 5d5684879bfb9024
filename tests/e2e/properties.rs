//! Property tests on random tables, and a bounded fuzz harness over the CSV loader, the date
//! detector/parser and the amount parser (cargo-fuzz needs a nightly toolchain, which this
//! project's machines do not have; proptest runs the same idea on stable, in `cargo test`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Days, NaiveDate};
use polars::prelude::*;
use proptest::prelude::*;
use retention::dates::{self, DateFormat};
use retention::load::{self, LoadOptions, Source};
use retention::params::{CohortMetric, CohortMode};
use retention::period::{days_since_epoch, Period, Window};
use retention::reports::churn::{churn_rows, survival, ChurnParams};
use retention::reports::cohort::{cohort_cells, CohortParams};
use retention::reports::segment::{rfm_table, segment_rows, Rules};
use retention::reports::{Histories, Names};

fn base() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()
}

/// (customer, day offset, amount in cents, order number or none)
fn rows() -> impl Strategy<Value = Vec<(u8, u16, i32, Option<u8>)>> {
    prop::collection::vec(
        (
            0u8..12,
            0u16..730,
            -5000i32..20000,
            prop::option::of(0u8..20),
        ),
        1..60,
    )
}

fn frame(rows: &[(u8, u16, i32, Option<u8>)]) -> DataFrame {
    let ids: Vec<String> = rows.iter().map(|r| format!("c{}", r.0)).collect();
    let days: Vec<i32> = rows
        .iter()
        .map(|r| days_since_epoch(base() + Days::new(r.1 as u64)))
        .collect();
    let amounts: Vec<f64> = rows.iter().map(|r| r.2 as f64 / 100.0).collect();
    let orders: Vec<Option<String>> = rows.iter().map(|r| r.3.map(|o| format!("o{o}"))).collect();
    DataFrame::new_infer_height(vec![
        Column::new("customer_id".into(), ids),
        Column::new("date".into(), days)
            .cast(&DataType::Date)
            .unwrap(),
        Column::new("amount".into(), amounts),
        Column::new("order_id".into(), orders),
    ])
    .unwrap()
}

/// Customers with at least one purchase (an order that is not a return: a return has a
/// negative line and a net amount <= 0; free orders are purchases).
fn buyers(rows: &[(u8, u16, i32, Option<u8>)]) -> usize {
    let mut orders: BTreeMap<(u8, Option<u8>, usize), (i64, i64)> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let key = (r.0, r.3, if r.3.is_some() { 0 } else { i });
        let e = orders.entry(key).or_insert((0, i64::MAX));
        e.0 += r.2 as i64;
        e.1 = e.1.min(r.2 as i64);
    }
    orders
        .iter()
        .filter(|(_, (net, lo))| *lo >= 0 || *net > 0)
        .map(|(k, _)| k.0)
        .collect::<HashSet<_>>()
        .len()
}

const PERIODS: [Period; 5] = [
    Period::Day,
    Period::Week,
    Period::Month,
    Period::Quarter,
    Period::Year,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn cohort_invariants(rows in rows(), p in 0usize..5, extra in 0u16..60) {
        let tx = frame(&rows);
        let last = rows.iter().map(|r| r.1).max().unwrap_or(0);
        let as_of = base() + Days::new((last + extra) as u64);
        let period = PERIODS[p];
        let classic = CohortParams { period, ..Default::default() };
        let rolling = CohortParams { period, mode: CohortMode::Rolling, metric: CohortMetric::Customers, ..Default::default() };
        let c = cohort_cells(&tx, None, as_of, &classic, &mut vec![]).unwrap();
        let r = cohort_cells(&tx, None, as_of, &rolling, &mut vec![]).unwrap();
        prop_assert_eq!(c.len(), r.len());
        // Cohort sizes sum to the number of purchasing customers.
        let sizes: i64 = c.iter().filter(|x| x.k == 0).map(|x| x.size).sum();
        prop_assert_eq!(sizes as usize, buyers(&rows));
        for (x, y) in c.iter().zip(&r) {
            if let Some(v) = x.retention {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            if x.k == 0 {
                prop_assert_eq!(x.retention, Some(1.0));
            }
            // Null exactly after the as-of period.
            prop_assert_eq!(x.active.is_none(), x.cohort + x.k > period.index(as_of));
            // Rolling counts everyone active at or after c+k: at least the classic count.
            prop_assert!(y.active >= x.active);
        }
        // Rolling retention never increases with k.
        for w in r.windows(2) {
            if w[0].cohort == w[1].cohort {
                if let (Some(a), Some(b)) = (w[0].active, w[1].active) {
                    prop_assert!(b <= a);
                }
            }
        }
    }

    #[test]
    fn churn_invariants(rows in rows(), p in 0usize..5, extra in 0u16..60, w in prop::option::of(1u32..120)) {
        let tx = frame(&rows);
        let last = rows.iter().map(|r| r.1).max().unwrap_or(0);
        let as_of = base() + Days::new((last + extra) as u64);
        let period = PERIODS[p];
        let h = Histories::from_tx(&tx, None).unwrap();
        prop_assert_eq!(h.len(), buyers(&rows));
        let params = ChurnParams { period, inactive_after: w.map(Window::Days), by: None };
        let out = churn_rows(&h, as_of, &params);
        let mut prev_end = 0;
        let mut new_total = 0;
        for r in &out {
            // churned + retained = start; rates in [0, 1] and complementary.
            prop_assert_eq!(r.retained + r.churned, r.start);
            if let (Some(a), Some(b)) = (r.retention_rate(), r.churn_rate()) {
                prop_assert!((0.0..=1.0).contains(&a) && ((a + b) - 1.0).abs() < 1e-12);
            }
            prop_assert!(r.retained + r.reactivated <= r.end);
            if w.is_none() {
                // One-period rule: who is active at the end of t starts t + 1.
                prop_assert_eq!(r.start, prev_end);
                prop_assert_eq!(r.end, r.retained + r.new + r.reactivated);
                prev_end = r.end;
            }
            new_total += r.new;
        }
        // Every purchasing customer is new exactly once.
        prop_assert_eq!(new_total as usize, h.len());
        // Survival: S(t) in [0, 1], non-increasing, inside its interval.
        let pts = survival(&h, as_of, w.map(Window::Days).unwrap_or(Window::of(period)), period, false);
        for pair in pts.windows(2) {
            prop_assert!(pair[1].survival <= pair[0].survival + 1e-12);
        }
        for x in &pts {
            prop_assert!((0.0..=1.0).contains(&x.survival));
            prop_assert!(x.lower <= x.survival + 1e-12 && x.survival <= x.upper + 1e-12);
        }
    }

    #[test]
    fn period_bucketing_round_trips(day in -25000i32..80000, p in 0usize..5) {
        let period = PERIODS[p];
        let d = retention::period::date_from_days(day);
        let i = period.index(d);
        prop_assert!(period.start(i) <= d && d <= period.end(i));
        prop_assert_eq!(period.index(period.start(i)), i);
        prop_assert_eq!(period.index(period.end(i).succ_opt().unwrap()), i + 1);
    }

    #[test]
    fn fuzz_date_parsers(values in prop::collection::vec(".{0,24}", 1..8), fmt in ".{0,12}") {
        let _ = dates::detect(values.iter().enumerate().map(|(i, v)| (i, v.as_str())));
        for v in &values {
            for f in [DateFormat::Iso, DateFormat::Compact, DateFormat::Dmy, DateFormat::Mdy,
                      DateFormat::Epoch, DateFormat::from_user(&fmt)] {
                let _ = dates::parse(&f, v);
            }
            let _ = load::parse_amount(v, false);
            let _ = load::parse_amount(v, true);
        }
    }

    #[test]
    fn fuzz_date_like_values(y in 0u32..10000, m in 0u32..40, d in 0u32..40, sep in "[-/. T]", tail in "[0-9:+Z .]{0,10}") {
        let v = format!("{y:04}{sep}{m:02}{sep}{d:02}{tail}");
        let _ = dates::detect(std::iter::once((0, v.as_str())));
        let w = format!("{d}{sep}{m}{sep}{y}{tail}");
        let _ = dates::detect(std::iter::once((0, w.as_str())));
    }
}

/// Cases per fuzz target: 128 in `cargo test`; more for a longer bounded run, e.g.
/// `FUZZ_CASES=20000 cargo test --release --test e2e properties::fuzz_`.
fn fuzz_cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

fn load_bytes(bytes: &[u8]) -> anyhow::Result<load::Dataset> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fuzz.csv");
    std::fs::write(&path, bytes)?;
    load::load(&LoadOptions {
        transactions: vec![Source::Path(path)],
        has_header: true,
        ..Default::default()
    })
}

/// Found by `fuzz_csv_loader`: zlib magic bytes at the start of a headerless file made
/// polars panic ("activate 'decompress' feature").
#[test]
fn regression_zlib_magic_bytes_do_not_panic() {
    let err = load_bytes(&[0x78, 0x9c, 0, 0]).unwrap_err();
    assert!(err.to_string().contains("looks compressed"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes after a plausible header: the loader returns Ok or an error, never
    /// panics.
    #[test]
    fn fuzz_csv_loader(body in prop::collection::vec(any::<u8>(), 0..400), header in 0usize..4) {
        let headers = [
            "customer_id,date,amount\n",
            "order_id;customer_id;date;amount\n",
            "Customer ID\tInvoiceDate\tQuantity\tPrice\n",
            "",
        ];
        let mut bytes = headers[header].as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let _ = load_bytes(&bytes);
    }

    /// Structured random rows (numbers, dates, quotes, separators, empties).
    #[test]
    fn fuzz_csv_rows(cells in prop::collection::vec(
        prop::sample::select(vec!["a", "b", "", "\"", "\"x,y\"", "2024-01-05", "05/01/2024",
            "20240105", "1705312800", "12.5", "-3", "$1,234.50", "NaN", "1e400", ",", ";", "\n",
            "\r\n", "ลูกค้า", "\u{feff}", "9999-99-99"]), 0..60)) {
        let mut bytes = b"customer_id,date,amount\n".to_vec();
        for c in cells {
            bytes.extend_from_slice(c.as_bytes());
        }
        let _ = load_bytes(&bytes);
    }
}

// Segment: counts sum to the scored customers (those with a purchase), every score lies in
// 1..=bins, quantile bins are balanced (ties broken by customer id), rules files route the
// rest to Others.
proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn segment_invariants(rows in rows(), bins in 1u32..=10, extra in 0u16..60, by in any::<bool>()) {
        let tx = frame(&rows);
        let last = rows.iter().map(|r| r.1).max().unwrap_or(0);
        let as_of = base() + Days::new((last + extra) as u64);
        let rules = Rules::builtin();
        let (names, table) = rfm_table(&tx, as_of, bins, &rules).unwrap();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        prop_assert_eq!(table.len(), buyers(&rows));
        let n = table.len();
        for x in &table {
            for s in [x.r, x.f, x.m] {
                prop_assert!((1..=bins).contains(&s), "score {} outside 1..={}", s, bins);
            }
            prop_assert!(x.recency_days >= 0);
            prop_assert!(x.frequency >= 1);
            prop_assert!((x.segment as usize) < rules.report_order.len());
            prop_assert_eq!(
                x.segment_name(&rules),
                rules.segment(x.r, x.f, x.m, bins),
                "the segment is the rules' for the scores"
            );
        }
        // Balanced bins: each score's count is floor(n/bins) or ceil(n/bins).
        if n > 0 {
            for pick in [0usize, 1, 2] {
                let mut count: HashMap<u32, usize> = HashMap::new();
                for x in &table {
                    *count.entry([x.r, x.f, x.m][pick]).or_default() += 1;
                }
                let lo = n / bins as usize;
                let hi = n.div_ceil(bins as usize);
                for c in count.values() {
                    prop_assert!(*c >= lo && *c <= hi, "bin of {} with n = {}, bins = {}", c, n, bins);
                }
            }
        }
        // Segment counts sum to the number of customers, overall and within each group.
        let groups: Option<HashMap<String, String>> = by.then(|| {
            table
                .iter()
                .map(|x| {
                    let id = names[x.code as usize];
                    (id.to_string(), format!("g{}", id.len() % 2))
                })
                .collect()
        });
        let seg = segment_rows(&table, &Names::from(names.clone()), groups.as_ref(), &rules);
        let total: i64 = seg.iter().map(|r| r.customers).sum();
        prop_assert_eq!(total as usize, n);
        let mut per_group: HashMap<&str, f64> = HashMap::new();
        for r in &seg {
            *per_group.entry(r.group.as_str()).or_default() += r.share_customers.unwrap_or(0.0);
        }
        for share in per_group.values() {
            prop_assert!((share - 1.0).abs() < 1e-9);
        }
        // Rules files: a table covering one corner sends everything else to Others.
        let corner = Rules::parse(
            &format!("[[segment]]\nname = \"Top\"\nr = {bins}\nf = {bins}\nm = {bins}\n"),
            "rules",
            bins,
        )
        .unwrap();
        let (_, t2) = rfm_table(&tx, as_of, bins, &corner).unwrap();
        for x in &t2 {
            let top = x.r == bins && x.f == bins && x.m == bins;
            prop_assert_eq!(x.segment_name(&corner), if top { "Top" } else { "Others" });
        }
    }
}
