//! One function per report: CTEs over the [`base`](super::base) ones and the final
//! SELECT, with the native report's columns in its order and its row order.

use super::{Query, SqlParams};
use crate::params::CohortMode;

/// `bounds`: one row with `ap` (the as-of period), `ap1` (the period of the day after
/// as-of: equal to `ap` when the as-of period is partial).
fn bounds(q: &mut Query, p: &SqlParams, extra: &str) {
    let d = q.d;
    let next = d.from_days(&format!("{} + 1", d.days("cutoff_d")));
    q.cte(
        "bounds",
        format!(
            "SELECT {} AS ap,\n  {} AS ap1{extra}\nFROM cutoff",
            d.period_index(p.period, "cutoff_d"),
            d.period_index(p.period, &next)
        ),
    );
}

/// `ltv-summary`: per customer with a purchase, x = distinct purchase days − 1, recency
/// = first to last purchase day, T = first purchase day to as-of (in --unit), and the
/// mean value of the repeat purchase days (the first excluded; null for x = 0).
pub fn ltv_summary(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    q.cte(
        "pdays",
        "SELECT cid, d, SUM(amt) AS v FROM purchases GROUP BY cid, d",
    );
    q.cte(
        "custs",
        "SELECT cid, COUNT(*) - 1 AS x, MIN(d) AS fd, MAX(d) AS ld FROM pdays GROUP BY cid",
    );
    q.cte(
        "rep",
        "SELECT p.cid, SUM(p.v) AS rv\nFROM pdays p JOIN custs c ON p.cid = c.cid\n\
         WHERE p.d > c.fd\nGROUP BY p.cid",
    );
    let unit = d.float(&format!("{}", p.unit.days()));
    let select = format!(
        "SELECT c.cid AS {},\n  {} AS {},\n  {} / {unit} AS {},\n  {} / {unit} AS {},\n  \
         CASE WHEN c.x > 0 THEN r.rv / c.x END AS {}\n\
         FROM custs c LEFT JOIN rep r ON r.cid = c.cid CROSS JOIN cutoff co\n\
         ORDER BY c.cid",
        q.out("customer_id"),
        d.int("c.x"),
        q.out("frequency"),
        d.float(&format!("{} - {}", d.days("c.ld"), d.days("c.fd"))),
        q.out("recency"),
        d.float(&format!("{} - {}", d.days("co.cutoff_d"), d.days("c.fd"))),
        q.out("T"),
        q.out("monetary_value"),
    );
    q.finish(&select, header)
}

/// The cohort cells (first-purchase cohorts): `cells` with `c`, `k`, `n` (cohort size),
/// `obs` (c + k ≤ as-of period), `act` (active customers, classic or rolling), `rev`
/// (net revenue in c + k, returns included), `rev0` (revenue in period 0), `ap`, `ap1`.
fn cohort_cells(q: &mut Query, p: &SqlParams, mode: CohortMode) {
    let d = q.d;
    let period = |e: &str| d.period_index(p.period, e);
    q.cte(
        "firstp",
        "SELECT cid, MIN(d) AS fd FROM purchases GROUP BY cid",
    );
    q.cte(
        "cust",
        format!("SELECT cid, {} AS c FROM firstp", period("fd")),
    );
    q.cte("sizes", "SELECT c, COUNT(*) AS n FROM cust GROUP BY c");
    bounds(q, p, ",\n  (SELECT MIN(c) FROM cust) AS c0");
    let kmax = match p.max_periods {
        Some(m) => format!("CASE WHEN ap - c0 < {m} THEN ap - c0 ELSE {m} END"),
        None => "ap - c0".to_string(),
    };
    q.cte("kb", format!("SELECT 0 AS k0, {kmax} AS kmax FROM bounds"));
    q.cte("ks", d.series("k0", "kmax", "kb"));
    q.cte(
        "grid",
        "SELECT s.c, s.n, ks.i AS k FROM sizes s CROSS JOIN ks",
    );
    q.cte(
        "act",
        format!("SELECT DISTINCT cid, {} AS q FROM purchases", period("d")),
    );
    match mode {
        CohortMode::Classic => q.cte(
            "cnt",
            "SELECT u.c, a.q - u.c AS k, COUNT(*) AS active\n\
             FROM act a JOIN cust u ON a.cid = u.cid\nGROUP BY u.c, a.q - u.c",
        ),
        CohortMode::Rolling => {
            // Active in any period ≥ c + k: customers whose last active k is ≥ k.
            q.cte(
                "lastk",
                "SELECT u.cid, u.c, MAX(a.q) - u.c AS lk\n\
                 FROM act a JOIN cust u ON a.cid = u.cid\nGROUP BY u.cid, u.c",
            );
            q.cte(
                "cnt",
                "SELECT g.c, g.k, COUNT(*) AS active\n\
                 FROM grid g JOIN lastk l ON l.c = g.c AND l.lk >= g.k\nGROUP BY g.c, g.k",
            );
        }
    }
    q.cte(
        "txp",
        format!("SELECT cid, amt, {} AS q FROM tx", period("d")),
    );
    q.cte(
        "rev",
        "SELECT u.c, t.q - u.c AS k, SUM(t.amt) AS rev\n\
         FROM txp t JOIN cust u ON t.cid = u.cid\nWHERE t.q >= u.c\nGROUP BY u.c, t.q - u.c",
    );
    q.cte(
        "cells",
        "SELECT g.c, g.k, g.n, b.ap, b.ap1, g.c + g.k <= b.ap AS obs,\n  \
         COALESCE(x.active, 0) AS act, COALESCE(r.rev, 0) AS rev, COALESCE(r0.rev, 0) AS rev0\n\
         FROM grid g CROSS JOIN bounds b\n\
         LEFT JOIN cnt x ON x.c = g.c AND x.k = g.k\n\
         LEFT JOIN rev r ON r.c = g.c AND r.k = g.k\n\
         LEFT JOIN rev r0 ON r0.c = g.c AND r0.k = 0",
    );
}

/// `cohort` (first-purchase cohorts, long format).
pub fn cohort(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    cohort_cells(&mut q, p, p.mode);
    let select = format!(
        "SELECT {} AS {},\n  k AS {},\n  n AS {},\n  \
         CASE WHEN obs THEN act END AS {},\n  \
         CASE WHEN obs THEN {} / n END AS {},\n  \
         CASE WHEN obs THEN rev END AS {},\n  \
         CASE WHEN obs AND rev0 > 0 THEN rev / rev0 END AS {},\n  \
         (ap1 = ap AND c + k = ap) AS {}\n\
         FROM cells\nORDER BY c, k",
        d.period_label(p.period, "c"),
        q.out("cohort"),
        q.out("period_index"),
        q.out("cohort_size"),
        q.out("active"),
        d.float("act"),
        q.out("retention"),
        q.out("revenue"),
        q.out("revenue_retention"),
        q.out("partial_period"),
    );
    q.finish(&select, header)
}

/// `ltv` (historical): the cohort revenue cells, cumulated, × margin per cohort customer.
pub fn ltv(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    cohort_cells(&mut q, p, CohortMode::Classic);
    q.cte(
        "cum",
        "SELECT c, k, n, ap, ap1, obs, rev,\n  \
         SUM(CASE WHEN obs THEN rev ELSE 0 END) OVER (PARTITION BY c ORDER BY k \
         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum\nFROM cells",
    );
    let select = format!(
        "SELECT {} AS {},\n  k AS {},\n  n AS {},\n  \
         CASE WHEN obs THEN rev END AS {},\n  \
         CASE WHEN obs THEN cum END AS {},\n  \
         CASE WHEN obs THEN cum * {} / n END AS {},\n  \
         (ap1 = ap AND c + k = ap) AS {}\n\
         FROM cum\nORDER BY c, k",
        d.period_label(p.period, "c"),
        q.out("cohort"),
        q.out("period_index"),
        q.out("cohort_size"),
        q.out("revenue"),
        q.out("cumulative_revenue"),
        d.float(&format!("{}", p.margin)),
        q.out("ltv"),
        q.out("partial_period"),
    );
    q.finish(&select, header)
}

/// `churn` (the period table; active = a purchase in the period).
pub fn churn(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    q.cte(
        "act",
        format!(
            "SELECT DISTINCT cid, {} AS q FROM purchases",
            d.period_index(p.period, "d")
        ),
    );
    q.cte("firstq", "SELECT cid, MIN(q) AS fq FROM act GROUP BY cid");
    bounds(&mut q, p, ",\n  (SELECT MIN(fq) FROM firstq) AS f0");
    q.cte("ts", d.series("f0", "ap", "bounds"));
    q.cte("endc", "SELECT q, COUNT(*) AS n FROM act GROUP BY q");
    q.cte(
        "newc",
        "SELECT fq AS q, COUNT(*) AS n FROM firstq GROUP BY fq",
    );
    q.cte(
        "ret",
        "SELECT b.q, COUNT(*) AS n\nFROM act a JOIN act b ON a.cid = b.cid AND b.q = a.q + 1\n\
         GROUP BY b.q",
    );
    q.cte(
        "per",
        "SELECT t.i AS q, COALESCE(s.n, 0) AS st, COALESCE(r.n, 0) AS re,\n  \
         COALESCE(w.n, 0) AS nw, COALESCE(e.n, 0) AS en\n\
         FROM ts t\n\
         LEFT JOIN endc s ON s.q = t.i - 1\n\
         LEFT JOIN ret r ON r.q = t.i\n\
         LEFT JOIN newc w ON w.q = t.i\n\
         LEFT JOIN endc e ON e.q = t.i",
    );
    let select = format!(
        "SELECT {} AS {},\n  st AS {},\n  re AS {},\n  st - re AS {},\n  nw AS {},\n  \
         en - re - nw AS {},\n  en AS {},\n  \
         CASE WHEN st > 0 THEN {} / st END AS {},\n  \
         CASE WHEN st > 0 THEN {} / st END AS {},\n  \
         (q = ap AND ap1 = ap) AS {}\n\
         FROM per CROSS JOIN bounds\nORDER BY q",
        d.period_label(p.period, "q"),
        q.out("period"),
        q.out("start_customers"),
        q.out("retained"),
        q.out("churned"),
        q.out("new"),
        q.out("reactivated"),
        q.out("end_customers"),
        d.float("re"),
        q.out("retention_rate"),
        d.float("st - re"),
        q.out("churn_rate"),
        q.out("partial_period"),
    );
    q.finish(&select, header)
}

/// `segment`: RFM scores (ranks with ties broken by customer id) and the first matching
/// segment rule; the segment report or, with --per-customer, one row per customer.
pub fn segment(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    q.cte(
        "pc",
        "SELECT cid, MAX(d) AS ld, COUNT(*) AS f FROM purchases GROUP BY cid",
    );
    q.cte("spend", "SELECT cid, SUM(amt) AS m FROM tx GROUP BY cid");
    q.cte(
        "rfm",
        format!(
            "SELECT p.cid, {} - {} AS rec, p.f, s.m\n\
             FROM pc p JOIN spend s ON s.cid = p.cid CROSS JOIN cutoff c",
            d.days("c.cutoff_d"),
            d.days("p.ld")
        ),
    );
    // Money ranks at a grain of a millionth (reports::money::rank_key).
    q.cte(
        "ranked",
        format!(
            "SELECT cid, rec, f, m,\n  \
             ROW_NUMBER() OVER (ORDER BY rec DESC, cid) - 1 AS rr,\n  \
             ROW_NUMBER() OVER (ORDER BY f, cid) - 1 AS fr,\n  \
             ROW_NUMBER() OVER (ORDER BY {}, cid) - 1 AS mr,\n  \
             COUNT(*) OVER () AS n\nFROM rfm",
            d.round6("m")
        ),
    );
    let bins = p.bins;
    let score = |r: &str| format!("{} + 1", d.div(&format!("{r} * {bins}"), "n"));
    q.cte(
        "scored",
        format!(
            "SELECT cid, rec, f, m,\n  {} AS rs,\n  {} AS fs,\n  {} AS ms\nFROM ranked",
            score("rr"),
            score("fr"),
            score("mr")
        ),
    );
    // The rules are written on 1..scale; other --bins map a score s to ceil(s·scale/bins).
    let rules = &p.rules;
    let scale = rules.scale;
    let on_scale = |s: &str| {
        if bins == scale {
            s.to_string()
        } else {
            d.div(&format!("{s} * {scale} + {}", bins - 1), &bins.to_string())
        }
    };
    let (r, f, m) = (on_scale("rs"), on_scale("fs"), on_scale("ms"));
    let mut case = String::from("CASE");
    for rule in &rules.rules {
        case.push_str(&format!(
            "\n    WHEN {r} BETWEEN {} AND {} AND {f} BETWEEN {} AND {} AND {m} BETWEEN {} AND {} THEN {}",
            rule.r.0,
            rule.r.1,
            rule.f.0,
            rule.f.1,
            rule.m.0,
            rule.m.1,
            d.string(&rule.name)
        ));
    }
    case.push_str(&format!(
        "\n    ELSE {}\n  END",
        d.string(crate::reports::segment::OTHERS)
    ));
    q.cte(
        "seg",
        format!("SELECT cid, rec, f, m, rs, fs, ms,\n  {case} AS sname\nFROM scored"),
    );
    if p.per_customer {
        let sep = if bins < 10 { "" } else { "-" };
        let rfm = if sep.is_empty() {
            format!(
                "CONCAT({}, {}, {})",
                d.text("rs"),
                d.text("fs"),
                d.text("ms")
            )
        } else {
            format!(
                "CONCAT({}, '-', {}, '-', {})",
                d.text("rs"),
                d.text("fs"),
                d.text("ms")
            )
        };
        let select = format!(
            "SELECT cid AS {},\n  rec AS {},\n  f AS {},\n  m AS {},\n  rs AS {},\n  \
             fs AS {},\n  ms AS {},\n  {rfm} AS {},\n  sname AS {}\nFROM seg\nORDER BY cid",
            q.out("customer_id"),
            q.out("recency_days"),
            q.out("frequency"),
            q.out("monetary"),
            q.out("r_score"),
            q.out("f_score"),
            q.out("m_score"),
            q.out("rfm"),
            q.out("segment"),
        );
        return q.finish(&select, header);
    }
    let segs: Vec<String> = rules
        .report_order
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                "SELECT {i} AS ord, {} AS sname, {} AS saction",
                d.string(name),
                d.string(rules.action(name))
            )
        })
        .collect();
    q.cte("segs", segs.join("\nUNION ALL\n"));
    q.cte(
        "agg",
        "SELECT sname, COUNT(*) AS n, SUM(m) AS rev, SUM(rec) AS srec, SUM(f) AS sf\n\
         FROM seg GROUP BY sname",
    );
    q.cte("tot", "SELECT COUNT(*) AS n, SUM(m) AS rev FROM seg");
    let select = format!(
        "SELECT s.sname AS {},\n  COALESCE(a.n, 0) AS {},\n  {} / t.n AS {},\n  \
         COALESCE(a.rev, 0) AS {},\n  CASE WHEN t.rev > 0 THEN COALESCE(a.rev, 0) / t.rev END AS {},\n  \
         {} / a.n AS {},\n  {} / a.n AS {},\n  a.rev / a.n AS {},\n  s.saction AS {}\n\
         FROM segs s CROSS JOIN tot t LEFT JOIN agg a ON a.sname = s.sname\nORDER BY s.ord",
        q.out("segment"),
        q.out("customers"),
        d.float("COALESCE(a.n, 0)"),
        q.out("share_customers"),
        q.out("revenue"),
        q.out("share_revenue"),
        d.float("a.srec"),
        q.out("mean_recency_days"),
        d.float("a.sf"),
        q.out("mean_frequency"),
        q.out("mean_monetary"),
        q.out("action"),
    );
    q.finish(&select, header)
}

/// `summary` (without a customers file: conversion_rate, cac and ltv_cac are left out, as
/// natively). One row over the whole window (first transaction to as-of; retention between
/// its two halves), or with --period one row per period from the first transaction's to
/// the as-of period.
pub fn summary(mut q: Query, p: &SqlParams, header: &str) -> String {
    let d = q.d;
    let margin = d.float(&format!("{}", p.margin));
    let day_label = |e: &str| d.period_label(crate::period::Period::Day, e);
    q.cte(
        "firstp",
        "SELECT cid, MIN(d) AS fd FROM purchases GROUP BY cid",
    );
    q.cte("custrev", "SELECT cid, SUM(amt) AS tr FROM tx GROUP BY cid");
    let Some(period) = p.summary_period else {
        q.cte(
            "win",
            format!(
                "SELECT {} AS s, {} AS e\nFROM cutoff CROSS JOIN (SELECT MIN(d) AS md FROM tx) m",
                d.days("m.md"),
                d.days("cutoff_d")
            ),
        );
        q.cte(
            "halves",
            format!(
                "SELECT p.cid,\n  MAX(CASE WHEN {dd} <= w.s + {half} THEN 1 ELSE 0 END) AS h1,\n  \
                 MAX(CASE WHEN {dd} > w.s + {half} THEN 1 ELSE 0 END) AS h2\n\
                 FROM purchases p CROSS JOIN win w\nGROUP BY p.cid",
                dd = d.days("p.d"),
                half = d.div("w.e - w.s", "2"),
            ),
        );
        q.cte(
            "percust",
            "SELECT cid, COUNT(*) AS n FROM purchases GROUP BY cid",
        );
        q.cte(
            "k",
            "SELECT (SELECT COUNT(*) FROM firstp) AS new_c,\n  \
             (SELECT COUNT(*) FROM percust) AS active,\n  \
             (SELECT COUNT(*) FROM percust WHERE n >= 2) AS repeaters,\n  \
             (SELECT COUNT(*) FROM purchases) AS orders,\n  \
             (SELECT SUM(amt) FROM tx) AS revenue,\n  \
             (SELECT SUM(r.tr) FROM firstp f JOIN custrev r ON r.cid = f.cid) AS ltvrev,\n  \
             (SELECT SUM(h1) FROM halves) AS h1,\n  \
             (SELECT SUM(h1 * h2) FROM halves) AS h12",
        );
        let select = format!(
            "SELECT 'all' AS {},\n  {} AS {},\n  {} AS {},\n  new_c AS {},\n  active AS {},\n  \
             new_c AS {},\n  CASE WHEN h1 > 0 THEN {h12} / h1 END AS {},\n  \
             CASE WHEN h1 > 0 THEN 1 - {h12} / h1 END AS {},\n  \
             CASE WHEN active > 0 THEN {} / active END AS {},\n  orders AS {},\n  \
             revenue AS {},\n  CASE WHEN orders > 0 THEN revenue / orders END AS {},\n  \
             CASE WHEN active > 0 THEN {} / active END AS {},\n  \
             CASE WHEN new_c > 0 THEN ltvrev * {margin} / new_c END AS {}\n\
             FROM k CROSS JOIN win",
            q.out("period"),
            day_label("win.s"),
            q.out("start"),
            day_label("win.e"),
            q.out("end"),
            q.out("customers"),
            q.out("active"),
            q.out("new"),
            q.out("retention_rate"),
            q.out("churn_rate"),
            d.float("repeaters"),
            q.out("repeat_purchase_rate"),
            q.out("orders"),
            q.out("revenue"),
            q.out("aov"),
            d.float("orders"),
            q.out("purchase_frequency"),
            q.out("ltv"),
            h12 = d.float("h12"),
        );
        return q.finish(&select, header);
    };
    let sp = SqlParams {
        period,
        ..p.clone()
    };
    let per = |e: &str| d.period_index(period, e);
    bounds(
        &mut q,
        &sp,
        &format!(",\n  (SELECT MIN({}) FROM tx) AS f0", per("d")),
    );
    q.cte("ws", d.series("f0", "ap", "bounds"));
    q.cte(
        "pp",
        format!("SELECT cid, {} AS q FROM purchases", per("d")),
    );
    q.cte(
        "newc",
        format!(
            "SELECT {} AS q, COUNT(*) AS n, SUM(r.tr) AS ltvrev\n\
             FROM firstp f JOIN custrev r ON r.cid = f.cid\nGROUP BY {}",
            per("f.fd"),
            per("f.fd")
        ),
    );
    q.cte(
        "percust",
        "SELECT q, cid, COUNT(*) AS n FROM pp GROUP BY q, cid",
    );
    q.cte(
        "ordc",
        "SELECT q, SUM(n) AS orders, COUNT(*) AS active,\n  \
         SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeaters\nFROM percust GROUP BY q",
    );
    q.cte(
        "revc",
        format!(
            "SELECT {} AS q, SUM(amt) AS revenue FROM tx GROUP BY {}",
            per("d"),
            per("d")
        ),
    );
    q.cte(
        "ret",
        "SELECT b.q, COUNT(*) AS n\nFROM percust a JOIN percust b ON a.cid = b.cid AND b.q = a.q + 1\n\
         GROUP BY b.q",
    );
    q.cte(
        "rowsq",
        format!(
            "SELECT w.i AS q,\n  COALESCE(nc.n, 0) AS new_c,\n  COALESCE(nc.ltvrev, 0) AS ltvrev,\n  \
             SUM(COALESCE(nc.n, 0)) OVER (ORDER BY w.i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS base,\n  \
             COALESCE(o.active, 0) AS active,\n  COALESCE(o.orders, 0) AS orders,\n  \
             COALESCE(o.repeaters, 0) AS repeaters,\n  COALESCE(r.revenue, 0) AS revenue,\n  \
             COALESCE(pv.active, 0) AS prev_active,\n  COALESCE(rt.n, 0) AS kept,\n  \
             {} AS start_d,\n  {} - 1 AS end_n\n\
             FROM ws w\n\
             LEFT JOIN newc nc ON nc.q = w.i\n\
             LEFT JOIN ordc o ON o.q = w.i\n\
             LEFT JOIN ordc pv ON pv.q = w.i - 1\n\
             LEFT JOIN revc r ON r.q = w.i\n\
             LEFT JOIN ret rt ON rt.q = w.i",
            d.days(&d.period_start(period, "w.i")),
            d.days(&d.period_start(period, "w.i + 1")),
        ),
    );
    let rate = format!(
        "CASE WHEN q > f0 AND prev_active > 0 THEN {} / prev_active END",
        d.float("kept")
    );
    let select = format!(
        "SELECT {} AS {},\n  {} AS {},\n  {} AS {},\n  base AS {},\n  active AS {},\n  \
         new_c AS {},\n  {rate} AS {},\n  1 - {rate} AS {},\n  \
         CASE WHEN active > 0 THEN {} / active END AS {},\n  orders AS {},\n  \
         revenue AS {},\n  CASE WHEN orders > 0 THEN revenue / orders END AS {},\n  \
         CASE WHEN active > 0 THEN {} / active END AS {},\n  \
         CASE WHEN new_c > 0 THEN ltvrev * {margin} / new_c END AS {},\n  \
         (q = ap AND ap1 = ap) AS {}\n\
         FROM rowsq CROSS JOIN bounds CROSS JOIN cutoff\nORDER BY q",
        d.period_label(period, "q"),
        q.out("period"),
        day_label("start_d"),
        q.out("start"),
        day_label(&format!(
            "CASE WHEN end_n < {c} THEN end_n ELSE {c} END",
            c = d.days("cutoff_d")
        )),
        q.out("end"),
        q.out("customers"),
        q.out("active"),
        q.out("new"),
        q.out("retention_rate"),
        q.out("churn_rate"),
        d.float("repeaters"),
        q.out("repeat_purchase_rate"),
        q.out("orders"),
        q.out("revenue"),
        q.out("aov"),
        d.float("orders"),
        q.out("purchase_frequency"),
        q.out("ltv"),
        q.out("partial_period"),
    );
    q.finish(&select, header)
}
