//! Property tests of `segment` on random tables: segment counts sum to the number of
//! scored customers (those with a purchase), every score lies in 1..=bins, and the
//! quantile bins are balanced (ties are broken by customer id, so bin sizes differ by at
//! most one).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Days, NaiveDate};
use polars::prelude::*;
use proptest::prelude::*;
use retention::period::days_since_epoch;
use retention::reports::segment::{rfm_table, segment_rows, Rules};

fn base() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).unwrap()
}

/// (customer, day offset, amount in cents, order number or none)
fn rows() -> impl Strategy<Value = Vec<(u8, u16, i32, Option<u8>)>> {
    prop::collection::vec(
        (
            0u8..40,
            0u16..730,
            -5000i32..20000,
            prop::option::of(0u8..20),
        ),
        1..120,
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

/// Customers with at least one purchase (an order with a positive net amount).
fn buyers(rows: &[(u8, u16, i32, Option<u8>)]) -> usize {
    let mut orders: BTreeMap<(u8, Option<u8>, usize), i64> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let key = (r.0, r.3, if r.3.is_some() { 0 } else { i });
        *orders.entry(key).or_default() += r.2 as i64;
    }
    orders
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, _)| k.0)
        .collect::<HashSet<_>>()
        .len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn segment_invariants(rows in rows(), bins in 1u32..=10, extra in 0u16..60, by in any::<bool>()) {
        let tx = frame(&rows);
        let last = rows.iter().map(|r| r.1).max().unwrap_or(0);
        let as_of = base() + Days::new((last + extra) as u64);
        let rules = Rules::builtin();
        let table = rfm_table(&tx, as_of, bins, &rules).unwrap();
        prop_assert_eq!(table.len(), buyers(&rows));
        let n = table.len();
        for x in &table {
            for s in [x.r, x.f, x.m] {
                prop_assert!((1..=bins).contains(&s), "score {} outside 1..={}", s, bins);
            }
            prop_assert!(x.recency_days >= 0);
            prop_assert!(x.frequency >= 1);
            prop_assert!(rules.report_order.contains(&x.segment));
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
                .map(|x| (x.customer_id.clone(), format!("g{}", x.customer_id.len() % 2)))
                .collect()
        });
        let seg = segment_rows(&table, groups.as_ref(), &rules);
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
        let t2 = rfm_table(&tx, as_of, bins, &corner).unwrap();
        for x in &t2 {
            let top = x.r == bins && x.f == bins && x.m == bins;
            prop_assert_eq!(x.segment.as_str(), if top { "Top" } else { "Others" });
        }
    }
}
