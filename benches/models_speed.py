#!/usr/bin/env python3
"""lifetimes 0.11.3's own fitters on the simulated summary of lifetimes_speed.py, for
benches/models_speed.sh: fit + score (p_alive and the 30-day conditional expectation of
every customer) per model, wall seconds, one run, printed as JSON.

    python benches/models_speed.py SUMMARY_CSV

BG/NBD and MBG/NBD are fitted on the rows as users call them; Pareto/NBD on the distinct
(x, t_x, T) with weights (ungrouped it takes minutes at 1M), seeded (its start is random).
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

df = pd.read_csv(sys.argv[1])
x, tx, T = df["x"].values, df["t_x"].values, df["T"].values
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
    ep = f.conditional_expected_number_of_purchases_up_to_time(30, x, tx, T)
    score = time.perf_counter() - t0
    out[name] = {
        "fit": fit,
        "score": score,
        "total": fit + score,
        "params": {k: float(v) for k, v in f.params_.items()},
        "sum_p_alive": float(np.sum(pa)),
        "sum_expected_30": float(np.sum(ep)),
    }
print(json.dumps(out, indent=1))
