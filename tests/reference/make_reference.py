#!/usr/bin/env python3
"""Reference numbers for src/models (BG/NBD + Gamma-Gamma) from Python's lifetimes.

Pinned versions (Python 3.11.7), also in requirements.txt beside this script:
    lifetimes==0.11.3 numpy==1.24.4 scipy==1.10.1 pandas==1.5.3 autograd==1.6.2
    autograd-gamma==0.5.0 dill==0.3.7 future==1.0.0 mpmath==1.3.0 python-dateutil==4.0.0 pytz==2026.6
    tzdata==2026.6

Run (writes the JSON files beside this script):
    python3.11 -m venv /work/venv-lifetimes
    /work/venv-lifetimes/bin/pip install -r tests/reference/requirements.txt
    /work/venv-lifetimes/bin/python tests/reference/make_reference.py

Everything is generated here, deterministically (numpy seeds):
  * bgnbd_days.json  - ~2000 simulated customers, summary in days (freq='D'), fitted
    BetaGeoFitter (penalizer 0 and 0.01) and GammaGammaFitter, per-customer expectations
    for a sample of customers, CLV with freq='D' (30-day steps).
  * bgnbd_weeks.json - ~1500 other customers, summary in weeks (freq='D',
    freq_multiplier=7: fractional weeks), same outputs, CLV with freq='W' (4.345-week steps).
  * hyp2f1_scipy.json - 2F1 on a grid of arguments: mpmath (40 digits) and scipy.special.hyp2f1.
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import scipy
import scipy.special
import lifetimes
import mpmath
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

HERE = os.path.dirname(os.path.abspath(__file__))


def simulate_transactions(seed, n_customers, r, alpha_days, a, b, p_gg, q_gg, v_gg,
                          acquisition_days=84, horizon_days=273):
    """BG/NBD purchase process + Gamma-Gamma spend, in continuous days from 2020-01-01."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01")
    rows = []
    for cid in range(n_customers):
        lam = rng.gamma(r, 1.0 / alpha_days)           # purchases per day
        p = rng.beta(a, b)                               # drop-out probability after a purchase
        nu = rng.gamma(q_gg, 1.0 / v_gg)                 # spend rate (mean spend p_gg / nu)
        t = rng.uniform(0, acquisition_days)             # first purchase
        times = [t]
        while True:  # BG/NBD: may drop out only right after a repeat purchase
            t = t + rng.exponential(1.0 / lam) if lam > 0 else np.inf
            if t >= horizon_days:
                break
            times.append(t)
            if rng.uniform() < p:
                break
        for t in times:
            amount = round(float(rng.gamma(p_gg, 1.0 / nu)), 2) + 0.01
            rows.append((f"c{cid:05d}", start + pd.Timedelta(days=float(t)), amount))
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    end = start + pd.Timedelta(days=horizon_days)
    return tx, end


def fit_and_dump(tx, end, freq_multiplier, clv_freq, clv_unit_label, name, penalizers=(0.0, 0.01)):
    summary = summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=end, freq="D", freq_multiplier=freq_multiplier)
    summary = summary.sort_index()
    x = summary["frequency"].values
    tx_ = summary["recency"].values
    T = summary["T"].values
    m = summary["monetary_value"].values

    out = {
        "description": f"lifetimes {lifetimes.__version__} reference, summary unit = {clv_unit_label}",
        "versions": {"lifetimes": lifetimes.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "pandas": pd.__version__,
                     "python": sys.version.split()[0]},
        "unit": clv_unit_label,
        "n_customers": int(len(summary)),
        "summary": {"x": x.tolist(), "t_x": tx_.tolist(), "T": T.tolist(),
                    "m": m.tolist()},
        "bgnbd": [],
    }

    sample = list(range(0, len(summary), max(1, len(summary) // 150)))
    # make sure the extremes are in the sample
    for extra in [int(np.argmax(x)), int(np.argmax(T)), int(np.argmin(T)),
                  int(np.argmax(np.where(x > 0, T - tx_, -1)))]:
        if extra not in sample:
            sample.append(extra)
    sample.sort()
    out["sample"] = sample
    xs, txs, Ts, ms = x[sample], tx_[sample], T[sample], m[sample]

    bgf0 = None
    for pen in penalizers:
        bgf = BetaGeoFitter(penalizer_coef=pen)
        bgf.fit(x, tx_, T)
        if pen == 0.0:
            bgf0 = bgf
        r, alpha, a, b = [float(v) for v in bgf.params_[["r", "alpha", "a", "b"]]]
        w = np.ones_like(T)
        # log-likelihood in the data's own time unit (sum over customers, no penalty)
        ll_sum = -float(BetaGeoFitter._negative_log_likelihood(
            np.log([r, alpha, a, b]), x, tx_, T, w, 0.0)) * len(T)
        ent = {
            "penalizer": pen,
            "params": {"r": r, "alpha": alpha, "a": a, "b": b},
            "lifetimes_negative_log_likelihood": float(bgf._negative_log_likelihood_),
            "log_likelihood_sum": ll_sum,
        }
        if pen == 0.0:
            ent["p_alive"] = np.asarray(bgf.conditional_probability_alive(xs, txs, Ts)).tolist()
            ent["horizons"] = [1.0, 7.0, 30.0, 90.0, 365.0]
            ent["expected_purchases"] = {
                str(h): np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(
                    h, xs, txs, Ts)).tolist() for h in ent["horizons"]}
            ent["expected_purchases_new"] = {
                str(h): float(bgf.expected_number_of_purchases_up_to_time(h))
                for h in ent["horizons"]}
        out["bgnbd"].append(ent)

    rep = x > 0
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(x[rep], m[rep])
    p, q, v = [float(val) for val in ggf.params_[["p", "q", "v"]]]
    w = np.ones(rep.sum())
    gg_ll_sum = -float(GammaGammaFitter._negative_log_likelihood(
        np.log([p, q, v]), x[rep].astype(float), m[rep], w, 0.0)) * rep.sum()
    s_rep = [i for i in sample if x[i] > 0]
    out["gamma_gamma"] = {
        "params": {"p": p, "q": q, "v": v},
        "lifetimes_negative_log_likelihood": float(ggf._negative_log_likelihood_),
        "log_likelihood_sum": gg_ll_sum,
        "n_used": int(rep.sum()),
        "expected_average_profit_sample": sample,
        "expected_average_profit": np.asarray(
            ggf.conditional_expected_average_profit(xs, ms)).tolist(),
        "population_mean": float(v * p / (q - 1)),
    }
    clv = {}
    for months, d in [(12, 0.01), (3, 0.0), (24, 0.05)]:
        idx = pd.Index(sample)
        val = ggf.customer_lifetime_value(
            bgf0, pd.Series(xs, index=idx), pd.Series(txs, index=idx), pd.Series(Ts, index=idx),
            pd.Series(ms, index=idx), time=months, discount_rate=d, freq=clv_freq)
        clv[f"{months}m_{d}"] = {"months": months, "discount_rate": d,
                                 "step": {"D": 30.0, "W": 4.345, "M": 1.0}[clv_freq],
                                 "clv": np.asarray(val).tolist()}
    out["clv"] = clv
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(name, "customers", len(summary), "repeaters", int(rep.sum()),
          "bgnbd", out["bgnbd"][0]["params"], "gg", out["gamma_gamma"]["params"])


def hyp2f1_grid():
    cases = []
    rng = np.random.default_rng(11)
    fixed = [
        (1.0, 1.0, 2.0, 0.5), (0.5, 0.5, 1.5, 0.25), (1.0, 1.0, 1.0, 0.9),
        (0.24, 2.43, 2.22, 0.3), (0.24, 2.43, 2.22, 0.99), (0.24, 2.43, 2.22, 0.999999),
        (5.24, 7.43, 7.22, 0.95), (50.2, 60.4, 61.0, 0.5), (20.0, 25.0, 30.0, 0.8),
        (1.5, 2.5, 3.0, -0.5), (1.5, 2.5, 3.0, -3.0), (0.3, 0.7, 1.3, -20.0),
        (2.0, 3.0, 4.0, 0.0), (150.0, 152.0, 153.5, 0.97), (0.5, 1.0, 0.8, 0.7),
        # c < 0 (BG/NBD with a + b < 1 and x = 0), z close to 1, c - a - b close to an integer
        (0.24, 0.4, -0.3, 0.6), (0.24, 0.4, -0.3, 0.95), (0.24, 0.4, -0.3, 0.995),
        (1.24, 1.4, 0.64, 0.995), (2.0, 3.0, 5.0005, 0.9995), (2.0, 3.0, 4.9995, 0.99999),
        (2.0, 3.0, 6.0, 0.99999), (0.7, 1.3, 2.0, 0.999999),
    ]
    for a, b, c, z in fixed:
        cases.append((a, b, c, z))
    for _ in range(60):
        a = float(rng.uniform(0.05, 30)); b = float(rng.uniform(0.05, 30))
        c = float(a + b + rng.uniform(-0.9, 5))
        if c <= 0.05:
            c = 0.5
        z = float(rng.choice([rng.uniform(0, 0.5), rng.uniform(0.5, 0.99), rng.uniform(-5, 0)]))
        cases.append((a, b, c, z))
    # "value" is mpmath at 40 digits (the truth); "scipy" is what lifetimes calls, which is
    # off by up to ~1e-8 relative for some z < 0
    mpmath.mp.dps = 40
    out = [{"a": a, "b": b, "c": c, "z": z,
            "value": float(mpmath.hyp2f1(a, b, c, z)),
            "scipy": float(scipy.special.hyp2f1(a, b, c, z))}
           for a, b, c, z in cases]
    out = [o for o in out if np.isfinite(o["value"]) and np.isfinite(o["scipy"])]
    with open(os.path.join(HERE, "hyp2f1_scipy.json"), "w") as f:
        json.dump({"scipy": scipy.__version__, "mpmath": mpmath.__version__, "cases": out},
                  f, indent=0)


def main():
    # days: CDNOW-like parameters (the BG/NBD paper's weekly alpha 4.41 is ~30.9 days)
    tx, end = simulate_transactions(20260101, 2000, r=0.24, alpha_days=4.41 * 7, a=0.79,
                                    b=2.43, p_gg=6.25, q_gg=3.74, v_gg=15.44)
    fit_and_dump(tx, end, 1, "D", "day", "bgnbd_days.json")
    # weeks (fractional: freq='D', freq_multiplier=7), other customers
    tx, end = simulate_transactions(20260202, 1500, r=0.5, alpha_days=10.0 * 7, a=1.2,
                                    b=3.5, p_gg=4.0, q_gg=5.0, v_gg=40.0,
                                    acquisition_days=120, horizon_days=365)
    fit_and_dump(tx, end, 7, "W", "week", "bgnbd_weeks.json")
    hyp2f1_grid()


if __name__ == "__main__":
    main()
