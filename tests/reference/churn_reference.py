"""Independent reference numbers for `retention churn` on the bundled shop.

Computed with pandas and lifelines (pinned in requirements-churn.txt), straight from
docs/metrics.md, without any of retention's code:
  - churn_shop_quarter.csv: the per-quarter table (active = bought in the quarter);
  - km_shop_quarter.csv: Kaplan-Meier S(t) with lifelines' 95% (log-log) interval, churned =
    no purchase for 3 months, sampled every 91 days, and the median lifetime.
Run:  python3 -m venv v && v/bin/pip install -r tests/reference/requirements-churn.txt &&
      v/bin/python tests/reference/churn_reference.py
"""
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

HERE = Path(__file__).resolve().parent
tx = pd.read_csv(HERE / "../../examples/shop/transactions.csv", parse_dates=["order_date"])
as_of = tx.order_date.max()
# A purchase: an order that is not a return (a negative line and a net amount <= 0);
# free orders count. Its date is the order's first date.
orders = (
    tx.groupby(["customer_id", "order_id"])
    .agg(date=("order_date", "min"), amount=("amount", "sum"), lo=("amount", "min"))
    .reset_index()
)
orders = orders[(orders.lo >= 0) | (orders.amount > 0)]  # returns: a negative line, net <= 0

# Per-quarter churn table.
orders["q"] = orders.date.dt.to_period("Q")
active = orders.groupby("q").customer_id.apply(set)
first_q = orders.groupby("customer_id").q.min()
quarters = pd.period_range(orders.q.min(), as_of.to_period("Q"), freq="Q")
rows = []
for q in quarters:
    s = active.get(q - 1, set())
    e = active.get(q, set())
    new = set(first_q[first_q == q].index)
    rows.append(
        dict(
            period=f"{q.year}-Q{q.quarter}",
            start_customers=len(s),
            retained=len(s & e),
            churned=len(s - e),
            new=len(new),
            reactivated=len(e - s - new),
            end_customers=len(e),
        )
    )
pd.DataFrame(rows).to_csv(HERE / "churn_shop_quarter.csv", index=False)

# Kaplan-Meier survival.
g = orders.groupby("customer_id").date.agg(["min", "max"])
churn_at = g["max"] + pd.DateOffset(months=3)
event = churn_at < as_of
T = np.where(event, (churn_at - g["min"]).dt.days, (as_of - g["min"]).dt.days)
kmf = KaplanMeierFitter().fit(T, event)
ci = kmf.confidence_interval_
out = []
for k in range(int(np.ceil(T.max() / 91)) + 1):
    t = 91 * k
    out.append(
        dict(
            period_index=k,
            time_days=t,
            survival=float(kmf.survival_function_.loc[:t].iloc[-1, 0]),
            ci_lower=float(ci.loc[:t].iloc[-1, 0]),
            ci_upper=float(ci.loc[:t].iloc[-1, 1]),
            median_lifetime_days=kmf.median_survival_time_,
        )
    )
pd.DataFrame(out).to_csv(HERE / "km_shop_quarter.csv", index=False, float_format="%.12g")
print("wrote", HERE / "churn_shop_quarter.csv", HERE / "km_shop_quarter.csv")
