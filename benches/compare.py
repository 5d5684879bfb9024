#!/usr/bin/env python3
"""Check that retention's CSV output and the DuckDB (or lifetimes) CSV agree.

    python benches/compare.py REPORT RETENTION.csv REFERENCE.csv

REPORT is one of the keys of SPECS. Rows are matched on the key columns; the listed value
columns must agree (integers exactly, floats within the tolerance). A row that only
retention has must be empty in the value columns (cells after as-of are null, never 0) or,
for segments, have 0 customers. Prints "ok (N rows)" or every difference (the first 20)
and exits 1.
"""
import csv
import sys

# report: (key columns, value columns, relative tolerance, absolute tolerance)
SPECS = {
    "cohort": (["cohort", "period_index"],
               ["cohort_size", "active", "retention", "revenue", "revenue_retention"], 1e-9, 0.006),
    "churn": (["period"],
              ["start_customers", "retained", "churned", "new", "reactivated", "end_customers",
               "retention_rate", "churn_rate"], 1e-9, 1e-9),
    "segment": (["segment"],
                ["customers", "share_customers", "revenue", "share_revenue",
                 "mean_recency_days", "mean_frequency", "mean_monetary"], 1e-9, 0.006),
    "summary": (["period"],
                ["start", "end", "customers", "active", "new", "retention_rate", "churn_rate",
                 "repeat_purchase_rate", "orders", "revenue", "aov", "purchase_frequency",
                 "ltv"], 1e-9, 0.006),
    "wallet": (["segment", "category", "metric"],
               ["customers", "mean", "p25", "median", "p75"], 1e-8, 1e-9),
    "ltv": (["cohort", "period_index"],
            ["cohort_size", "revenue", "cumulative_revenue", "ltv"], 1e-9, 0.006),
    # retention ltv --model bgnbd against the DuckDB summary + lifetimes fit: two
    # independent maximum-likelihood fits, so the model outputs agree to 1e-4 only.
    "ltv_bgnbd": (["group"],
                  ["customers", "repeat_customers", "mean_p_alive", "expected_purchases",
                   "predicted_clv", "mean_predicted_clv", "mean_historical_ltv"], 1e-4, 1e-9),
}


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same(a, b, rtol, atol):
    a, b = (a or "").strip(), (b or "").strip()
    if a == b:
        return True
    if a == "" or b == "":
        return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a.lower() == b.lower()
    return abs(x - y) <= atol + rtol * abs(y)


def main():
    report, ours, ref = sys.argv[1:4]
    keys, cols, rtol, atol = SPECS[report]
    mine, theirs = read(ours), read(ref)
    if report == "ltv_bgnbd" and theirs and "t_x" in theirs[0]:
        # DuckDB's per-customer summary (sql/ltv_bgnbd.sql): check what it determines.
        n = len(theirs)
        theirs = [{"group": "all", "customers": str(n),
                   "repeat_customers": str(sum(float(r["x"]) > 0 for r in theirs)),
                   "mean_historical_ltv": repr(sum(float(r["historical_ltv"]) for r in theirs) / n)}]
        cols = ["customers", "repeat_customers", "mean_historical_ltv"]
        rtol = 1e-9
    index = {tuple(r[k] for k in keys): r for r in theirs}
    bad = []
    seen = set()
    for r in mine:
        k = tuple(r[c] for c in keys)
        t = index.get(k)
        if t is None:
            empty = all((r.get(c) or "") == "" for c in cols if c not in ("cohort_size",))
            if not (empty or (report == "segment" and r["customers"] == "0")):
                bad.append(f"{k}: only in retention: {r}")
            continue
        seen.add(k)
        for c in cols:
            if not same(r.get(c), t.get(c), rtol, atol):
                bad.append(f"{k} {c}: retention {r.get(c)!r} vs reference {t.get(c)!r}")
    for k in index:
        if k not in seen:
            bad.append(f"{k}: only in the reference")
    if bad or not mine:
        print(f"MISMATCH {report}: {len(bad)} differences" + ("" if mine else " (no rows)"))
        for b in bad[:20]:
            print("  " + b)
        sys.exit(1)
    print(f"ok ({len(seen)} rows)")


if __name__ == "__main__":
    main()
