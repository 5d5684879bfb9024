#!/usr/bin/env python3
"""Reference numbers for src/models/{pnbd,mbgnbd,bgbb,se}.rs from Python's lifetimes and mpmath.

Pinned versions: tests/reference/requirements.txt (lifetimes 0.11.3, numpy 1.24.4,
scipy 1.10.1, pandas 1.5.3, mpmath 1.3.0; Python 3.11).

Run (writes the JSON files beside this script):
    python3.11 -m venv /work/venv-lifetimes
    /work/venv-lifetimes/bin/pip install -r tests/reference/requirements.txt
    /work/venv-lifetimes/bin/python tests/reference/models_reference.py

Outputs (deterministic: numpy seeds fixed below):
  * models_cdnow.json - the CDNOW sample summary shipped with lifetimes
    (`load_cdnow_summary`, weeks, 2357 customers; lifetimes is MIT-licensed), stored
    grouped by identical (x, t_x, T) with counts; BetaGeoFitter, ModifiedBetaGeoFitter and
    ParetoNBDFitter fitted on it by lifetimes (parameters, objective, standard errors where
    lifetimes computes them), and per-group p_alive / conditional expected purchases at
    lifetimes' parameters
    for every 5th group (`sample`); GammaGammaFitter on the repeat customers' mean spend
    (`load_cdnow_summary_data_with_monetary_value`, x and m of the 946 with x > 0) with its
    standard errors.
  * models_donations.json - the donations summary shipped with lifetimes
    (`load_donations`, 22 groups, 11,104 donors, 6 opportunities) and lifetimes'
    BetaGeoBetaBinomFitter on it, with p_alive and conditional expectations per group.
  * models_simulated.json - MBG/NBD, Pareto/NBD and BG/BB data simulated with lifetimes'
    own generators (seeded), fitted by lifetimes, with per-customer outputs for a sample.
  * hyp2f1_pnbd.json - 2F1(r+s+x, b; r+s+x+1; z) at the arguments the Pareto/NBD
    likelihood needs (b = s+1 for alpha >= beta, b = r+x for alpha < beta,
    z = |alpha-beta| / (max(alpha,beta) + t)), from mpmath at 40 digits (and scipy's value
    for comparison: scipy overflows or loses accuracy at some of them).
"""
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.special
import mpmath
import lifetimes
from lifetimes import (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter,
                       BetaGeoBetaBinomFitter, GammaGammaFitter)
from lifetimes.datasets import (load_cdnow_summary, load_donations,
                                load_cdnow_summary_data_with_monetary_value)
from lifetimes.generate_data import (modified_beta_geometric_nbd_model, pareto_nbd_model,
                                     beta_geometric_beta_binom_model)

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = {"lifetimes": lifetimes.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": pd.__version__,
            "mpmath": mpmath.__version__, "python": sys.version.split()[0]}
HORIZONS = [1.0, 10.0, 39.0, 78.0]


def fl(a):
    return [float(v) for v in np.asarray(a, dtype=float)]


def grouped(df, cols):
    g = df.groupby(cols, sort=True).size().reset_index(name="weight")
    return g


def dump(name, obj):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path)


def se_of(fitter, names):
    return {n: float(fitter.standard_errors_[n]) for n in names}


def count_model_outputs(f, names, x, tx, T, with_new=True):
    out = {"p_alive": fl(f.conditional_probability_alive(x, tx, T)),
           "horizons": HORIZONS,
           "expected_purchases": {repr(h): fl(f.conditional_expected_number_of_purchases_up_to_time(h, x, tx, T))
                                  for h in HORIZONS}}
    if with_new:
        out["expected_purchases_new"] = {repr(h): float(np.asarray(f.expected_number_of_purchases_up_to_time(h)))
                                         for h in HORIZONS}
    out["params"] = {n: float(f.params_[n]) for n in names}
    out["lifetimes_negative_log_likelihood"] = float(f._negative_log_likelihood_)
    return out


def cdnow():
    df = load_cdnow_summary(index_col=[0])
    g = grouped(df, ["frequency", "recency", "T"])
    x, tx, T, w = g["frequency"].values, g["recency"].values, g["T"].values, g["weight"].values
    out = {"description": "CDNOW sample summary shipped with lifetimes (weeks, calibration to 1997-09-30), "
                          "grouped by identical (x, t_x, T); lifetimes fits on it",
           "versions": VERSIONS, "n_customers": int(len(df)),
           "summary": {"x": fl(x), "t_x": fl(tx), "T": fl(T), "weight": fl(w)}}
    sample = list(range(0, len(g), 5))
    out["sample"] = sample
    xs, txs, Ts = x[sample], tx[sample], T[sample]
    bg = BetaGeoFitter().fit(x, tx, T, weights=w)
    out["bgnbd"] = {"params": {n: float(bg.params_[n]) for n in "r alpha a b".split()},
                    "standard_errors": se_of(bg, "r alpha a b".split()),
                    "lifetimes_negative_log_likelihood": float(bg._negative_log_likelihood_)}
    mbg = ModifiedBetaGeoFitter().fit(x, tx, T, weights=w)
    o = count_model_outputs(mbg, "r alpha a b".split(), xs, txs, Ts)
    o["standard_errors"] = se_of(mbg, "r alpha a b".split())
    out["mbgnbd"] = o
    mbgp = ModifiedBetaGeoFitter(penalizer_coef=0.01).fit(x, tx, T, weights=w)
    out["mbgnbd_penalizer_0.01"] = {"params": {n: float(mbgp.params_[n]) for n in "r alpha a b".split()},
                                    "lifetimes_negative_log_likelihood": float(mbgp._negative_log_likelihood_)}
    np.random.seed(20240504)  # ParetoNBDFitter starts from random parameters
    pn = ParetoNBDFitter().fit(x, tx, T, weights=w)
    o = count_model_outputs(pn, "r alpha s beta".split(), xs, txs, Ts)
    ll = ParetoNBDFitter._conditional_log_likelihood(
        [pn.params_[n] for n in "r alpha s beta".split()], x, tx, T)
    o["log_likelihood_sum"] = float((w * ll).sum())
    out["pnbd"] = o
    # Gamma-Gamma on the repeat customers' mean spend (the CDNOW summary with monetary value)
    mv = load_cdnow_summary_data_with_monetary_value()
    rep = mv[mv["frequency"] > 0]
    gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    out["gamma_gamma"] = {"x": fl(rep["frequency"].values), "m": fl(rep["monetary_value"].values),
                          "params": {k: float(gg.params_[k]) for k in ["p", "q", "v"]},
                          "standard_errors": se_of(gg, ["p", "q", "v"])}
    dump("models_cdnow.json", out)


def donations():
    df = load_donations()
    x, tx, n, w = (df[c].values for c in ["frequency", "recency", "periods", "weights"])
    f = BetaGeoBetaBinomFitter().fit(x, tx, n, weights=w)
    names = "alpha beta gamma delta".split()
    out = {"description": "donations summary shipped with lifetimes (6 opportunities); lifetimes' BG/BB fit",
           "versions": VERSIONS,
           "summary": {"x": fl(x), "t_x": fl(tx), "n": fl(n), "weight": fl(w)},
           "params": {k: float(f.params_[k]) for k in names},
           "standard_errors": se_of(f, names),
           "lifetimes_negative_log_likelihood": float(f._negative_log_likelihood_),
           "log_likelihood_sum": float((w * BetaGeoBetaBinomFitter._loglikelihood(
               [f.params_[k] for k in names], x, tx, n)).sum()),
           "p_alive": fl(f.conditional_probability_alive(0, x, tx, n)),
           "p_alive_future": {str(m): fl(f.conditional_probability_alive(m, x, tx, n)) for m in [1, 5]},
           "future": [1, 5, 10],
           "expected_purchases": {str(m): fl(f.conditional_expected_number_of_purchases_up_to_time(m, x, tx, n))
                                  for m in [1, 5, 10]}}
    dump("models_donations.json", out)


def simulated():
    out = {"description": "data simulated with lifetimes' generators (seeded) and fitted by lifetimes",
           "versions": VERSIONS}
    # MBG/NBD
    np.random.seed(20240501)
    n = 3000
    T = np.random.uniform(20, 60, n).round()
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0}
    d = modified_beta_geometric_nbd_model(T, truth["r"], truth["alpha"], truth["a"], truth["b"], size=n)
    x, tx = d["frequency"].values.astype(float), d["recency"].values.astype(float)
    f = ModifiedBetaGeoFitter().fit(x, tx, T)
    sample = list(range(0, n, 17))
    o = count_model_outputs(f, "r alpha a b".split(), x[sample], tx[sample], T[sample])
    o.update({"truth": truth, "summary": {"x": fl(x), "t_x": fl(tx), "T": fl(T)}, "sample": sample,
              "standard_errors": se_of(f, "r alpha a b".split())})
    out["mbgnbd"] = o
    # Pareto/NBD: alpha < beta here (the branch lifetimes' 2F1 struggles with)
    np.random.seed(20240502)
    n = 2000
    T = np.random.uniform(20, 60, n).round()
    truth = {"r": 0.6, "alpha": 5.0, "s": 0.8, "beta": 12.0}
    d = pareto_nbd_model(T, truth["r"], truth["alpha"], truth["s"], truth["beta"], size=n)
    x, tx = d["frequency"].values.astype(float), d["recency"].values.astype(float)
    f = ParetoNBDFitter().fit(x, tx, T)
    sample = list(range(0, n, 13))
    o = count_model_outputs(f, "r alpha s beta".split(), x[sample], tx[sample], T[sample])
    ll = ParetoNBDFitter._conditional_log_likelihood([f.params_[k] for k in "r alpha s beta".split()], x, tx, T)
    o.update({"truth": truth, "summary": {"x": fl(x), "t_x": fl(tx), "T": fl(T)}, "sample": sample,
              "log_likelihood_sum": float(ll.sum())})
    out["pnbd"] = o
    # BG/BB: 12 opportunities
    np.random.seed(20240503)
    n = 5000
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    N = np.full(n, 12)
    d = beta_geometric_beta_binom_model(N, truth["alpha"], truth["beta"], truth["gamma"], truth["delta"], size=n)
    x, tx, nn = (d[c].values.astype(int) for c in ["frequency", "recency", "n_periods"])
    g = pd.DataFrame({"x": x, "tx": tx, "n": nn}).groupby(["x", "tx", "n"]).size().reset_index(name="w")
    names = "alpha beta gamma delta".split()
    f = BetaGeoBetaBinomFitter().fit(g["x"].values, g["tx"].values, g["n"].values, weights=g["w"].values)
    gx, gtx, gn = g["x"].values, g["tx"].values, g["n"].values
    out["bgbb"] = {"truth": truth,
                   "summary": {"x": fl(gx), "t_x": fl(gtx), "n": fl(gn), "weight": fl(g["w"].values)},
                   "params": {k: float(f.params_[k]) for k in names},
                   "standard_errors": se_of(f, names),
                   "lifetimes_negative_log_likelihood": float(f._negative_log_likelihood_),
                   "p_alive": fl(f.conditional_probability_alive(0, gx, gtx, gn)),
                   "future": [1, 5, 10],
                   "expected_purchases": {str(m): fl(f.conditional_expected_number_of_purchases_up_to_time(
                       m, gx, gtx, gn)) for m in [1, 5, 10]}}
    dump("models_simulated.json", out)


def hyp2f1_cases():
    mpmath.mp.dps = 40
    cases = []
    params = [
        (0.553, 10.578, 0.606, 11.669),   # CDNOW, alpha < beta
        (0.6, 5.0, 0.8, 12.0),            # alpha < beta
        (0.6, 12.0, 0.8, 5.0),            # alpha > beta
        (0.3, 0.05, 1.5, 40.0),           # alpha << beta: z close to 1
        (2.0, 80.0, 0.2, 0.01),           # alpha >> beta: z close to 1
        (0.05, 1.0, 0.05, 1.0 + 1e-9),    # alpha ~ beta
        (1.0, 0.001, 0.5, 50.0),          # integer r (c-a-b = -x) and z > 0.99995
        (0.5, 100.0, 1.0, 0.001),         # integer s (c-a-b = -1) and z > 0.99995
    ]
    for (r, alpha, s, beta) in params:
        for x in [0, 1, 5, 30, 200, 1000]:
            for t in [0.0, 0.5, 7.0, 38.86, 400.0]:
                if alpha < beta:
                    b, mx, mn = r + x, beta, alpha
                else:
                    b, mx, mn = s + 1.0, alpha, beta
                a = r + s + x
                c = a + 1.0
                z = (mx - mn) / (mx + t)
                v = mpmath.hyp2f1(a, b, c, z)
                ln_v = mpmath.log(v)
                with np.errstate(all="ignore"):
                    sp = float(scipy.special.hyp2f1(a, b, c, z))
                cases.append({"a": a, "b": b, "c": c, "z": z,
                              "ln_value": float(ln_v), "value": float(v) if ln_v < 700 else None,
                              "scipy": sp if np.isfinite(sp) else None})
    dump("hyp2f1_pnbd.json", {"description": "2F1(a, b; a+1; z) at Pareto/NBD arguments: mpmath 40 digits "
                              "(ln_value always; value when it fits in f64), scipy.special.hyp2f1 for comparison "
                              "(null when not finite)", "versions": VERSIONS, "cases": cases})


if __name__ == "__main__":
    hyp2f1_cases()
    donations()
    cdnow()
    simulated()
