#!/usr/bin/env python3
"""BG/BB on day-level histories (hundreds of opportunities per customer): the total
log-likelihood and the standard errors (inverse of minus the Hessian of the total
log-likelihood, natural parameters), computed in mpmath at 30 digits so that rounding
plays no part. Reference for src/models/se.rs `bgbb_day_level_matches_mpmath`.

Histories: testdata/cdnow_like.csv summarised by day as `retention ltv --model bgbb`
does (x = repeat purchase days, t_x = day of the last purchase after the first, n = days
from the first purchase to the end, 1998-06-30), grouped with counts. Computed here from
the transactions (purchases: amount >= 0; one purchase per customer and day).

The Hessian: central second differences with steps 1e-4 * theta_i (the same as the
crate's; the truncation error is ~1e-8 relative, negligible at 30 digits).

Run (about two minutes): python3 tests/reference/bgbb_days_reference.py
(needs mpmath 1.3.0; tests/reference/requirements.txt). Writes bgbb_days.json beside it.
"""
import collections
import csv
import datetime as dt
import json
import os

import mpmath as mp

mp.mp.dps = 30
HERE = os.path.dirname(os.path.abspath(__file__))
END = dt.date(1998, 6, 30)
# The parameters at which the likelihood and its Hessian are evaluated (near the
# maximum-likelihood estimate on these data).
THETA = {"alpha": 0.6044, "beta": 93.84, "gamma": 1.0732, "delta": 269.28}


def histories():
    orders = {}  # (customer, order) -> [first date, net amount in cents, has a negative line]
    with open(os.path.join(HERE, "..", "..", "testdata", "cdnow_like.csv")) as f:
        for r in csv.DictReader(f):
            cents = round(float(r["amount"]) * 100)
            o = orders.setdefault((r["customer_id"], r["order_id"]),
                                  [dt.date.fromisoformat(r["date"]), 0, False])
            o[0] = min(o[0], dt.date.fromisoformat(r["date"]))
            o[1] += cents
            o[2] = o[2] or cents < 0
    days = collections.defaultdict(set)
    for (c, _), (day, net, negative) in orders.items():
        if not (negative and net <= 0):
            days[c].add(day)
    out = collections.Counter()
    for d in days.values():
        d = sorted(x for x in d if x <= END)
        if not d:
            continue
        first = d[0]
        x = len(d) - 1
        t_x = (d[-1] - first).days if x > 0 else 0
        out[(x, t_x, (END - first).days)] += 1
    return sorted(out.items())


def log_likelihood(rows, th):
    a, b, g, d = th
    lb = mp.log(mp.beta(a, b)) + mp.log(mp.beta(g, d))
    tot = mp.mpf(0)
    for (x, tx, n), w in rows:
        s = mp.beta(a + x, b + n - x) * mp.beta(g, d + n)
        t = mp.beta(a + x, b + tx - x) * mp.beta(g + 1, d + tx)
        for i in range(n - tx):
            s += t
            k, m = tx - x + i, tx + i
            t *= (b + k) * (d + m) / ((a + b + x + k) * (g + d + 1 + m))
        tot += w * (mp.log(s) - lb)
    return tot


def main():
    rows = histories()
    theta = [mp.mpf(str(THETA[k])) for k in ("alpha", "beta", "gamma", "delta")]
    h = [mp.mpf("1e-4") * t for t in theta]

    def at(*steps):
        p = list(theta)
        for i, s in steps:
            p[i] += s * h[i]
        return log_likelihood(rows, p)

    f0 = at()
    hess = mp.matrix(4, 4)
    for i in range(4):
        hess[i, i] = (at((i, 1)) - 2 * f0 + at((i, -1))) / h[i] ** 2
        for j in range(i):
            v = (at((i, 1), (j, 1)) - at((i, 1), (j, -1)) - at((i, -1), (j, 1))
                 + at((i, -1), (j, -1))) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = v
    cov = (-hess) ** -1
    names = ["alpha", "beta", "gamma", "delta"]
    out = {
        "source": "testdata/cdnow_like.csv by day, end 1998-06-30; mpmath 30 digits",
        "params": THETA,
        "histories": {
            "x": [r[0][0] for r in rows],
            "t_x": [r[0][1] for r in rows],
            "n": [r[0][2] for r in rows],
            "weight": [r[1] for r in rows],
        },
        "log_likelihood": float(f0),
        "standard_errors": {k: float(mp.sqrt(cov[i, i])) for i, k in enumerate(names)},
    }
    with open(os.path.join(HERE, "bgbb_days.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
