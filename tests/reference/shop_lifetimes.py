#!/usr/bin/env python3
"""End-to-end reference for `retention ltv --model bgnbd` on the bundled shop, from lifetimes.

Independent of retention's code: reads examples/shop/transactions.csv with pandas, keeps the
purchases of docs/metrics.md (every order that is not a return, free orders included, dated by their first row), and
lets lifetimes build the summary (freq='D', monetary = mean of the repeat purchase days),
fit BetaGeoFitter and GammaGammaFitter, and score every customer: p_alive, expected
purchases in the next 360 days (12 months of 30 days), expected average value, and CLV
(time=12 months, discount_rate=0.01, freq='D'). Writes shop_lifetimes.json beside it.

Same pinned environment as make_reference.py (requirements.txt):
    /work/venv-lifetimes/bin/python tests/reference/shop_lifetimes.py
"""
import json
import os

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

HERE = os.path.dirname(os.path.abspath(__file__))
tx = pd.read_csv(os.path.join(HERE, "../../examples/shop/transactions.csv"), parse_dates=["order_date"])
as_of = tx.order_date.max()
orders = (
    tx.groupby(["customer_id", "order_id"])
    .agg(date=("order_date", "min"), amount=("amount", "sum"), lo=("amount", "min"))
    .reset_index()
)
orders = orders[(orders.lo >= 0) | (orders.amount > 0)]  # returns: a negative line, net <= 0
s = summary_data_from_transaction_data(
    orders, "customer_id", "date", monetary_value_col="amount",
    observation_period_end=as_of, freq="D",
)
bgf = BetaGeoFitter(penalizer_coef=0.0)
bgf.fit(s.frequency, s.recency, s["T"])
rep = s[s.frequency > 0]
ggf = GammaGammaFitter(penalizer_coef=0.0)
ggf.fit(rep.frequency, rep.monetary_value)
p_alive = bgf.conditional_probability_alive(s.frequency, s.recency, s["T"])
exp_p = bgf.conditional_expected_number_of_purchases_up_to_time(360, s.frequency, s.recency, s["T"])
exp_v = ggf.conditional_expected_average_profit(s.frequency, s.monetary_value)
clv = ggf.customer_lifetime_value(
    bgf, s.frequency, s.recency, s["T"], s.monetary_value, time=12, discount_rate=0.01, freq="D"
)
n = len(s)
out = {
    "as_of": str(as_of.date()),
    "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
    # lifetimes' objective: mean negative log-likelihood on time scaled to max T = 1
    "bgnbd_negative_log_likelihood": float(bgf._negative_log_likelihood_),
    "gamma_gamma": {k: float(v) for k, v in ggf.params_.items()},
    "gamma_gamma_negative_log_likelihood": float(ggf._negative_log_likelihood_),
    "customers": [
        {
            "customer_id": cid,
            "frequency": float(s.frequency[cid]),
            "recency": float(s.recency[cid]),
            "T": float(s["T"][cid]),
            "monetary": float(s.monetary_value[cid]),
            "p_alive": float(p_alive[i]),
            "expected_purchases": float(exp_p[cid]),
            "expected_avg_value": float(exp_v[cid]),
            "clv": float(clv[cid]),
        }
        for i, cid in enumerate(s.index)
    ],
}
with open(os.path.join(HERE, "shop_lifetimes.json"), "w") as f:
    json.dump(out, f, indent=1)
print(n, "customers;", out["bgnbd"], out["gamma_gamma"])
