#!/usr/bin/env python3
"""Time Python lifetimes 0.11.3 on a simulated BG/NBD summary (fit + scoring), for the
comparison with src/models.

    /work/venv-lifetimes/bin/python benches/lifetimes_speed.py [N_CUSTOMERS] [OUT_DIR]

and the same steps in Rust on the same CSV (the #[ignore] test in src/models/mod.rs):

    RETENTION_BENCH_SUMMARY=/tmp/retention-bench/summary_1000000.csv \
      cargo test --release --lib models::tests::bench_from_csv -- --ignored --nocapture

(numpy's OpenBLAS settings: unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this run.)

N_CUSTOMERS defaults to 1,000,000; OUT_DIR to /tmp/retention-bench. Writes
OUT_DIR/summary_N.csv (x,t_x,T,m: integer days, like a daily summary) once and prints the
timings as JSON. Versions: see tests/reference/requirements.txt.

Timed steps (wall clock, one run each):
  bgnbd_fit       BetaGeoFitter().fit(x, t_x, T) on all rows (no grouping, as usually used)
  bgnbd_fit_grouped  the same on the distinct (x, t_x, T) triples with weights
  score           conditional_probability_alive + conditional_expected_number_of_purchases
                  up to 30 days, all customers
  gg_fit          GammaGammaFitter().fit on the customers with x > 0
  clv             customer_lifetime_value(time=12 months, discount 0.01, freq='D'), all
"""
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter


def simulate(n, seed=42, r=0.24, alpha=30.9, a=0.79, b=2.43, p=6.25, q=3.74, v=15.44):
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 366, size=n).astype(float)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    drop = rng.beta(a, b, size=n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        gap = rng.exponential(1.0 / np.maximum(lam[active], 1e-300))
        t[active] += gap
        active = active[t[active] < T[active]]
        x[active] += 1
        tx[active] = t[active]
        dies = rng.uniform(size=active.size) < drop[active]
        active = active[~dies]
    tx = np.floor(tx)
    nu = rng.gamma(q, 1.0 / v, size=n)
    m = np.zeros(n)
    rep = x > 0
    m[rep] = np.round(rng.gamma(p * x[rep], 1.0 / (nu[rep] * x[rep])), 2) + 0.01
    return pd.DataFrame({"x": x, "t_x": tx, "T": T, "m": m})


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "/tmp/retention-bench"
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"summary_{n}.csv")
    if not os.path.exists(path):
        simulate(n).to_csv(path, index=False)
    df = pd.read_csv(path)
    x, tx, T, m = (df[c].values for c in ["x", "t_x", "T", "m"])
    res = {"n": n, "csv": path}

    t0 = time.perf_counter()
    bgf = BetaGeoFitter().fit(x, tx, T)
    res["bgnbd_fit"] = time.perf_counter() - t0
    res["bgnbd_params"] = bgf.params_.to_dict()

    t0 = time.perf_counter()
    g = df.groupby(["x", "t_x", "T"]).size().reset_index(name="w")
    bgf_g = BetaGeoFitter().fit(g["x"].values, g["t_x"].values, g["T"].values, weights=g["w"].values)
    res["bgnbd_fit_grouped"] = time.perf_counter() - t0
    res["n_groups"] = len(g)
    res["bgnbd_params_grouped"] = bgf_g.params_.to_dict()

    t0 = time.perf_counter()
    pa = bgf.conditional_probability_alive(x, tx, T)
    ep = bgf.conditional_expected_number_of_purchases_up_to_time(30, x, tx, T)
    res["score"] = time.perf_counter() - t0
    res["sum_p_alive"] = float(np.sum(pa))
    res["sum_expected_30"] = float(np.sum(ep))

    rep = x > 0
    t0 = time.perf_counter()
    ggf = GammaGammaFitter().fit(x[rep], m[rep])
    res["gg_fit"] = time.perf_counter() - t0
    res["gg_params"] = ggf.params_.to_dict()

    t0 = time.perf_counter()
    clv = ggf.customer_lifetime_value(bgf, df["x"], df["t_x"], df["T"], df["m"], time=12,
                                      discount_rate=0.01, freq="D")
    res["clv"] = time.perf_counter() - t0
    res["sum_clv"] = float(clv.sum())
    res["total_ungrouped"] = res["bgnbd_fit"] + res["score"] + res["gg_fit"] + res["clv"]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
