#!/usr/bin/env python3
"""Check that retention's and DuckDB's subscriptions CSVs agree (standard library only):
every period, money to the cent, counts exactly, rates to 1e-9.

    python benches/subscriptions_compare.py RETENTION.csv DUCKDB.csv
"""
import csv
import sys


def rows(path):
    with open(path, newline="") as f:
        return {r["period"]: r for r in csv.DictReader(f)}


def main():
    ours, theirs = rows(sys.argv[1]), rows(sys.argv[2])
    if ours.keys() != theirs.keys():
        sys.exit(f"periods differ: {sorted(ours.keys() ^ theirs.keys())}")
    worst = 0.0
    for period, t in theirs.items():
        for col, want in t.items():
            if col == "period":
                continue
            got = ours[period][col]
            if (got == "") != (want == ""):
                sys.exit(f"{period} {col}: {got!r} vs {want!r}")
            if got == "":
                continue
            tol = 0.005 if col in ("mrr_start", "new", "expansion", "contraction", "churn",
                                   "reactivation", "mrr_end") else 0 if col.startswith(
                                       "customers_") else 1e-9
            d = abs(float(got) - float(want))
            if d > tol:
                sys.exit(f"{period} {col}: {got} vs {want}")
            worst = max(worst, d if tol else 0)
    print(f"agree: {len(theirs)} periods, every column")


if __name__ == "__main__":
    main()
