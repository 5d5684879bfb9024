#!/usr/bin/env python3
"""Fit and score Python lifetimes 0.11.3 on the per-customer summary that
benches/sql/ltv_bgnbd.sql writes (the same customers as `retention ltv --model bgnbd`).

    python benches/lifetimes_fit.py SUMMARY.csv OUT.csv

Writes OUT.csv in the shape of `retention ltv --model bgnbd -f csv` (group "all": customers,
repeat_customers, mean_p_alive, expected_purchases over 360 days, predicted_clv over 12
months at 1%/month, mean_predicted_clv, mean_historical_ltv) so that benches/compare.py can
check the two, and prints the in-process seconds of each step as JSON on stderr.
BetaGeoFitter is fitted on all rows (as lifetimes is usually used; no grouping).
"""
import json
import sys
import time

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter


def main():
    src, out = sys.argv[1:3]
    t = {}
    t0 = time.perf_counter()
    df = pd.read_csv(src)
    t["read"] = time.perf_counter() - t0
    x, tx, T, m = (df[c].astype(float) for c in ["x", "t_x", "T", "m"])

    t0 = time.perf_counter()
    bgf = BetaGeoFitter().fit(x, tx, T)
    t["bgnbd_fit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rep = x > 0
    ggf = GammaGammaFitter().fit(x[rep], m[rep])
    t["gg_fit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    p_alive = bgf.conditional_probability_alive(x, tx, T)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(360, x, tx, T)
    clv = ggf.customer_lifetime_value(bgf, x, tx, T, m, time=12, discount_rate=0.01, freq="D")
    t["score"] = time.perf_counter() - t0
    t["fit_and_score"] = t["bgnbd_fit"] + t["gg_fit"] + t["score"]

    n = len(df)
    pd.DataFrame([{
        "group": "all",
        "customers": n,
        "repeat_customers": int(rep.sum()),
        "mean_p_alive": float(p_alive.sum()) / n,
        "expected_purchases": float(expected.sum()),
        "predicted_clv": float(clv.sum()),
        "mean_predicted_clv": float(clv.sum()) / n,
        "mean_historical_ltv": float(df["historical_ltv"].sum()) / n,
    }]).to_csv(out, index=False)
    t["bgnbd_params"] = bgf.params_.to_dict()
    t["gg_params"] = ggf.params_.to_dict()
    print(json.dumps(t), file=sys.stderr)


if __name__ == "__main__":
    main()
