#!/usr/bin/env python3
"""lifetimes 0.11.3's own fitters doing the work of `retention ltv --summary FILE --model M`,
for benches/models_speed.sh: per model, wall seconds of one run, printed as JSON.

    python benches/models_speed.py SUMMARY_CSV BGBB_SUMMARY_CSV...

The same work on both sides (no I/O on this side; reading the CSV is in retention's time):
  fit      the purchase model: BG/NBD and MBG/NBD on the rows as users call them, Pareto/NBD
           on the distinct (x, t_x, T) with weights (ungrouped it takes minutes at 1M),
           seeded (its start is random)
  score    p_alive and the expected purchases over the horizon (12 months of 30 days =
           360 days; BG/BB: 12 future opportunities) for every customer
  gg, clv  when the summary has m: Gamma-Gamma fitted on the customers with x > 0 and
           m > 0, and the 12-month CLV (discount 1%/month, months of 30 days) of everyone
BG/BB runs on its own summaries (x, t_x, n opportunities; no m: fit + score only), each
recorded under its file name; a fit that raises (lifetimes' ConvergenceError) is recorded
with its time and the error instead of a total.
"""
import contextlib
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import (BetaGeoBetaBinomFitter, BetaGeoFitter, GammaGammaFitter,
                       ModifiedBetaGeoFitter, ParetoNBDFitter)

df = pd.read_csv(sys.argv[1])
x, tx, T = df["x"].values, df["t_x"].values, df["T"].values
has_m = "m" in df.columns
out = {"n": len(df)}
for name, cls, grouped in [
    ("bgnbd", BetaGeoFitter, False),
    ("mbgnbd", ModifiedBetaGeoFitter, False),
    ("pnbd", ParetoNBDFitter, True),
]:
    np.random.seed(1)
    t0 = time.perf_counter()
    if grouped:
        g = df.groupby(["x", "t_x", "T"]).size().reset_index(name="w")
        f = cls().fit(g["x"].values, g["t_x"].values, g["T"].values, weights=g["w"].values)
    else:
        f = cls().fit(x, tx, T)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    pa = f.conditional_probability_alive(x, tx, T)
    ep = f.conditional_expected_number_of_purchases_up_to_time(360, x, tx, T)
    score = time.perf_counter() - t0
    res = {"fit": fit, "score": score, "params": {k: float(v) for k, v in f.params_.items()},
           "sum_p_alive": float(np.sum(pa)), "sum_expected": float(np.sum(ep))}
    if has_m:
        t0 = time.perf_counter()
        rep = (df["x"] > 0) & (df["m"] > 0)
        gg = GammaGammaFitter().fit(df["x"][rep], df["m"][rep])
        res["gg"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        clv = gg.customer_lifetime_value(f, df["x"], df["t_x"], df["T"], df["m"], time=12,
                                         discount_rate=0.01, freq="D")
        res["clv"] = time.perf_counter() - t0
        res["sum_clv"] = float(clv.sum())
    res["total"] = res["fit"] + res["score"] + res.get("gg", 0.0) + res.get("clv", 0.0)
    out[name] = res

for path in sys.argv[2:]:
    b = pd.read_csv(path)
    bx, btx, bn = b["x"].values, b["t_x"].values, b["T"].values
    t0 = time.perf_counter()
    # lifetimes' BG/BB fitter takes the distinct (x, t_x, n) with their counts, as its docs show
    g = b.groupby(["x", "t_x", "T"]).size().reset_index(name="w")
    try:
        # (lifetimes prints scipy's result to stdout when the fit fails: keep the JSON clean)
        with contextlib.redirect_stdout(sys.stderr):
            f = BetaGeoBetaBinomFitter().fit(g["x"].values, g["t_x"].values, g["T"].values,
                                             weights=g["w"].values)
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        out[os.path.basename(path)] = {"fit": time.perf_counter() - t0,
                                       "error": type(e).__name__}
        continue
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    pa = f.conditional_probability_alive(12, bx, btx, bn)
    ep = f.conditional_expected_number_of_purchases_up_to_time(12, bx, btx, bn)
    score = time.perf_counter() - t0
    out[os.path.basename(path)] = {
        "fit": fit, "score": score, "total": fit + score,
        "params": {k: float(v) for k, v in f.params_.items()},
        "sum_p_alive": float(np.sum(pa)), "sum_expected": float(np.sum(ep))}
print(json.dumps(out, indent=1))
