#!/usr/bin/env python3
"""A simulated BG/BB population for benches/models_speed.sh: N customers, each with n
opportunities (uniform on LOW..HIGH, default 6..52: e.g. weeks since joining), p ~ Beta(α, β) the chance to
transact at each opportunity while alive, θ ~ Beta(γ, δ) the chance to drop out after each
one, checked at the beginning of each (the donations paper's values). Writes x (transactions after the first
opportunity), t_x (the opportunity of the last, 0 if none) and T (= n).

    python benches/bgbb_data.py N OUT_CSV [SEED [LOW HIGH]]
"""
import sys

import numpy as np
import pandas as pd

n_cust = int(sys.argv[1])
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 11)
alpha, beta, gamma, delta = 1.2035, 0.7497, 0.6567, 2.7834
low, high = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (6, 52)
n = rng.integers(low, high + 1, size=n_cust)
p = rng.beta(alpha, beta, size=n_cust)
theta = rng.beta(gamma, delta, size=n_cust)
alive = np.ones(n_cust, dtype=bool)
x = np.zeros(n_cust, dtype=np.int64)
tx = np.zeros(n_cust, dtype=np.int64)
for i in range(1, n.max() + 1):
    # a customer alive drops out at the beginning of an opportunity with chance θ, else
    # transacts with chance p (Fader, Hardie & Shang 2010)
    open_ = i <= n
    alive &= ~(open_ & (rng.uniform(size=n_cust) < theta))
    buy = alive & open_ & (rng.uniform(size=n_cust) < p)
    x[buy] += 1
    tx[buy] = i
pd.DataFrame({"x": x, "t_x": tx, "T": n}).to_csv(sys.argv[2], index=False)
