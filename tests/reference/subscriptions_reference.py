#!/usr/bin/env python3
"""Independent pandas computation of `retention subscriptions` (docs/metrics.md, section
subscriptions) on testdata/invoices.csv, written to testdata/expected/subscriptions_*.csv
and compared by tests/e2e/subscriptions.rs (money to the cent, rates to 1e-9).

Run from the repository root:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -r tests/reference/requirements-subscriptions.txt
    /tmp/v/bin/python tests/reference/subscriptions_reference.py

It shares no code with the Rust implementation: MRR is a customers × snapshots matrix
built with boolean masks per snapshot, and every movement is a vectorised comparison of
consecutive columns.
"""
import json
import os

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AS_OF = pd.Timestamp("2024-12-20")
EPS = 1e-9
FREQ = {"month": ("M", 12), "quarter": ("Q", 4), "year": ("Y", 1)}


def load(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    date = pd.to_datetime(df["invoice_date"])
    df = df[date <= AS_OF].copy()
    date = pd.to_datetime(df["invoice_date"])
    start = pd.to_datetime(df["period_start"].replace("", None)).fillna(date)
    end_given = pd.to_datetime(df["period_end"].replace("", None))
    end = end_given.fillna(start + pd.DateOffset(months=1))
    amount = df["amount"].astype(float)
    months = np.maximum(1.0, np.round((end - start).dt.days / 30.4375))
    return pd.DataFrame({
        "customer": df["customer_id"].values,
        "plan": df["plan"].replace("", "(none)").values,
        "start": start.values,
        "end": end.values,
        "value": (amount / months).values,
    })


def label(p, period):
    if period == "month":
        return f"{p.year}-{p.month:02d}"
    if period == "quarter":
        return f"{p.year}-Q{p.quarter}"
    return f"{p.year}"


def snapshots(lines, period):
    freq, _ = FREQ[period]
    first = lines.loc[lines["start"] <= AS_OF, "start"].min()
    periods = pd.period_range(first.to_period(freq), AS_OF.to_period(freq), freq=freq)
    times = [min(p.end_time.normalize(), AS_OF) for p in periods]
    return periods, times


def mrr_matrix(lines, times, key):
    customers = sorted(lines[key].drop_duplicates().tolist())
    cols = []
    for t in times:
        on = lines[(lines["start"] <= t) & (t < lines["end"])]
        s = on.groupby(key)["value"].sum().reindex(customers, fill_value=0.0)
        cols.append(s.where(s > EPS, 0.0))
    m = pd.concat(cols, axis=1)
    m.columns = range(len(times))
    return m


def movements(m, per_year):
    a = m.shift(1, axis=1).fillna(0.0)
    b = m
    had = (m > 0).astype(int).cumsum(axis=1).shift(1, axis=1).fillna(0) > 0
    up = (a == 0) & (b > 0)
    new = up & ~had
    react = up & had
    churned = (a > 0) & (b == 0)
    both = (a > 0) & (b > 0)
    diff = b - a
    then = m.shift(per_year, axis=1).fillna(0.0)
    base = then > 0
    out = pd.DataFrame({
        "mrr_start": a.sum(),
        "new": b.where(new, 0.0).sum(),
        "expansion": diff.where(both & (diff > EPS), 0.0).sum(),
        "contraction": (-diff).where(both & (diff < -EPS), 0.0).sum(),
        "churn": a.where(churned, 0.0).sum(),
        "reactivation": b.where(react, 0.0).sum(),
        "mrr_end": b.sum(),
        "customers_start": (a > 0).sum(),
        "customers_new": new.sum(),
        "customers_churned": churned.sum(),
        "customers_reactivated": react.sum(),
        "customers_end": (b > 0).sum(),
    })
    ago = then.where(base, 0.0).sum()
    now = b.where(base, 0.0).sum()
    capped = np.minimum(b, then).where(base, 0.0).sum()

    def rate(num, den):
        return (num / den).where(den.abs() > EPS)

    out["logo_churn_rate"] = rate(out["customers_churned"].astype(float),
                                  out["customers_start"].astype(float))
    out["gross_mrr_churn_rate"] = rate(out["churn"] + out["contraction"], out["mrr_start"])
    out["net_mrr_churn_rate"] = rate(
        out["churn"] + out["contraction"] - out["expansion"] - out["reactivation"],
        out["mrr_start"])
    out["quick_ratio"] = rate(out["new"] + out["expansion"] + out["reactivation"],
                              out["churn"] + out["contraction"])
    out["nrr_12m"] = rate(now, ago)
    out["grr_12m"] = rate(capped, ago)
    return out


def movements_table(lines, period, by=None):
    periods, times = snapshots(lines, period)
    _, per_year = FREQ[period]
    partial = AS_OF < periods[-1].end_time.normalize()
    frames = []
    groups = [None] if by is None else sorted(lines[by].unique())
    for g in groups:
        sub = lines if g is None else lines[lines[by] == g]
        m = mrr_matrix(sub, times, "customer")
        t = movements(m, per_year)
        t.insert(0, "period", [label(p, period) for p in periods])
        if g is not None:
            t.insert(0, by, g)
        t["partial_period"] = [partial and i == len(periods) - 1 for i in range(len(periods))]
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def cohort_table(lines, period):
    periods, times = snapshots(lines, period)
    partial = AS_OF < periods[-1].end_time.normalize()
    m = mrr_matrix(lines, times, "customer")
    pos = m > 0
    m = m[pos.any(axis=1)]
    pos = pos.loc[m.index]
    first = pos.values.argmax(axis=1)
    rows = []
    n = len(times)
    for c in sorted(set(first)):
        members = m[first == c]
        base = members[c]
        for k in range(n - c):
            now = members[c + k]
            rows.append({
                "cohort": label(periods[c], period),
                "period_index": k,
                "cohort_size": len(members),
                "logo_retention": (now > 0).sum() / len(members),
                "net_mrr_retention": now.sum() / base.sum(),
                "gross_mrr_retention": np.minimum(now, base).sum() / base.sum(),
                "partial_period": partial and c + k == n - 1,
            })
    return pd.DataFrame(rows)


def sbg_fit(lines, period):
    """sBG (Fader & Hardie 2007) on the cohorts' survival: a subscriber survives k
    periods while they have MRR at every snapshot since their first; complete periods
    only; each cohort censored at its age. Nelder-Mead on (ln alpha, ln beta)."""
    periods, times = snapshots(lines, period)
    partial = AS_OF < periods[-1].end_time.normalize()
    pos = (mrr_matrix(lines, times, "customer") > 0).values
    n = pos.shape[1]
    complete = n - 1 if partial else n
    churned = np.zeros(n)
    censored = np.zeros(n)
    for row in pos:
        if not row.any() or row.argmax() >= complete:
            continue
        c = row.argmax()
        age = complete - 1 - c
        alive = np.cumprod(row[c:c + age + 1])
        churned[1:age + 1] += alive[:-1] - alive[1:]
        censored[age] += alive[age]
    t = np.arange(n)

    def ll(th):
        a, b = np.exp(th)
        return ((churned[1:] * (betaln(a + 1, b + t[1:] - 1) - betaln(a, b))).sum()
                + (censored[1:] * (betaln(a, b + t[1:]) - betaln(a, b))).sum())

    r = minimize(lambda th: -ll(th), [0.0, 0.0], method="Nelder-Mead",
                 options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20000})
    a, b = np.exp(r.x)
    return {"period": period, "alpha": a, "beta": b, "log_likelihood": ll(r.x),
            "subscribers": churned.sum() + censored.sum()}


def main():
    lines = load(os.path.join(ROOT, "testdata", "invoices.csv"))
    out = os.path.join(ROOT, "testdata", "expected")
    for period in ("month", "quarter", "year"):
        movements_table(lines, period).to_csv(
            os.path.join(out, f"subscriptions_{period}.csv"), index=False, float_format="%.12g")
    movements_table(lines, "month", by="plan").to_csv(
        os.path.join(out, "subscriptions_month_by_plan.csv"), index=False, float_format="%.12g")
    cohort_table(lines, "month").to_csv(
        os.path.join(out, "subscriptions_cohort_month.csv"), index=False, float_format="%.12g")
    with open(os.path.join(out, "subscriptions_sbg_quarter.json"), "w") as f:
        json.dump(sbg_fit(lines, "quarter"), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
