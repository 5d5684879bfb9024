#!/usr/bin/env python3
"""A CDNOW-like fixture with free orders, and lifetimes' BG/NBD on it (the check that free
orders count: `retention ltv --model bgnbd` must agree with this to 1e-6).

Writes testdata/cdnow_like.csv (generated here, seeded) and free_orders_lifetimes.json
beside this script. Like the CDNOW sample of Fader, Hardie & Lee (2005): a cohort that
first bought in the first 12 weeks, observed for 78 weeks, purchases by day; some
customers bought only $0.00 orders (as 8 of CDNOW's 2,357 did), some orders are free,
some are returned (a negative line that nets the order to <= 0), one is partly refunded.

Independent of retention's code: pandas applies the purchase rule (an order is a return
when it has a negative line and a net amount <= 0; every other order, free ones included,
is a purchase) and lifetimes builds the summary in weeks (freq='D', freq_multiplier=7:
fractional weeks, as `--unit week`), fits BetaGeoFitter (tol 1e-10) and scores every
customer's p_alive and expected purchases in the next 52 weeks; ModifiedBetaGeoFitter and
ParetoNBDFitter on the same summary, with every customer's p_alive.

Same pinned environment as make_reference.py (requirements.txt):
    /work/venv-lifetimes/bin/python tests/reference/free_orders_lifetimes.py
"""
import json
import os

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "../../testdata/cdnow_like.csv")

rng = np.random.default_rng(20051)
n, start, weeks = 1200, pd.Timestamp("1997-01-01"), 78
r, alpha, a, b = 0.25, 4.4, 0.8, 2.4
rows, order = [], 0
for i in range(n):
    cid = f"{i + 1:05d}"
    first = int(rng.integers(0, 84))
    lam = rng.gamma(r, 1.0 / alpha) / 7.0  # per day
    p = rng.beta(a, b)
    days = [first]
    t = first
    while True:
        if rng.random() < p and len(days) > 1:
            break
        t += rng.exponential(1.0 / lam) if lam > 0 else np.inf
        if t >= weeks * 7:
            break
        days.append(int(t))
    free_only = i % 150 == 7  # 8 customers who bought only free orders
    for d in days:
        order += 1
        oid = f"o{order}"
        date = (start + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
        u = rng.random()
        if free_only or u < 0.02:
            rows.append((cid, date, oid, "0.00"))
        elif u < 0.04:
            # returned in full: the sale and its refund under the same order
            amt = round(float(rng.lognormal(3.0, 0.6)), 2)
            rows.append((cid, date, oid, f"{amt:.2f}"))
            rows.append((cid, date, oid, f"{-amt:.2f}"))
        elif u < 0.05:
            amt = round(float(rng.lognormal(3.0, 0.6)), 2)
            rows.append((cid, date, oid, f"{amt:.2f}"))
            rows.append((cid, date, oid, f"{-round(amt / 2, 2):.2f}"))
        else:
            amt = round(float(rng.lognormal(3.0, 0.6)), 2)
            rows.append((cid, date, oid, f"{amt:.2f}"))
with open(FIXTURE, "w") as f:
    f.write("customer_id,date,order_id,amount\n")
    for row in rows:
        f.write(",".join(row) + "\n")

tx = pd.read_csv(FIXTURE, dtype={"customer_id": str, "order_id": str}, parse_dates=["date"])
as_of = tx.date.max()
orders = (
    tx.groupby(["customer_id", "order_id"])
    .agg(date=("date", "min"), amount=("amount", "sum"), lo=("amount", "min"))
    .reset_index()
)
purchases = orders[(orders.lo >= 0) | (orders.amount > 0)]
s = summary_data_from_transaction_data(
    purchases, "customer_id", "date", observation_period_end=as_of, freq="D", freq_multiplier=7
)
bgf = BetaGeoFitter(penalizer_coef=0.0)
bgf.fit(s.frequency, s.recency, s["T"], tol=1e-10)
p_alive = bgf.conditional_probability_alive(s.frequency, s.recency, s["T"])
exp52 = bgf.conditional_expected_number_of_purchases_up_to_time(52, s.frequency, s.recency, s["T"])
# The other purchase models on the same summary (`ltv --model mbgnbd|pnbd`).
others = {}
for name, cls in [("mbgnbd", ModifiedBetaGeoFitter), ("pnbd", ParetoNBDFitter)]:
    m = cls(penalizer_coef=0.0)
    m.fit(s.frequency, s.recency, s["T"], tol=1e-10)
    pa = m.conditional_probability_alive(s.frequency, s.recency, s["T"])
    others[name] = {
        "params": {k: float(v) for k, v in m.params_.items()},
        "p_alive": {cid: float(pa[i]) for i, cid in enumerate(s.index)},
    }
only_free = sorted(set(tx.customer_id) - set(tx[tx.amount != 0].customer_id))
out = {
    "as_of": str(as_of.date()),
    "customers": len(s),
    "only_free_customers": only_free,
    "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
    "log_likelihood": float(-bgf._negative_log_likelihood_ * len(s)),
    "p_alive": {cid: float(p_alive[i]) for i, cid in enumerate(s.index)},
    "expected_purchases_52": {cid: float(exp52[cid]) for cid in s.index},
    "mbgnbd": others["mbgnbd"],
    "pnbd": others["pnbd"],
}
with open(os.path.join(HERE, "free_orders_lifetimes.json"), "w") as f:
    json.dump(out, f, indent=0, sort_keys=True)
print(len(rows), "rows;", len(s), "customers;", len(only_free), "only free;", out["bgnbd"])
