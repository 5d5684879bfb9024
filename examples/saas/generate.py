#!/usr/bin/env python3
"""Generate a SaaS invoice-lines export (Python standard library only, seeded):

    python3 examples/saas/generate.py --customers 600 --seed 7 examples/saas/invoice_lines.csv
    python3 examples/saas/generate.py --customers 80 --seed 16 testdata/invoices.csv

Columns: invoice_id, customer_id, invoice_date, amount, period_start, period_end (exclusive,
as Stripe writes it), plan, subscription_id. Plans: basic and pro, billed monthly (29, 99)
or yearly (290, 990). Customers sign up on any day of 2023-01 .. 2024-12; each billing
period they may cancel, upgrade (basic -> pro, the rest of an annual period prorated on
a line of its own), downgrade (at the next renewal), get a partial or full refund of the
period (a negative line over the same service period), or buy a second, monthly add-on
subscription (10) that they may cancel on its own. Churned customers may come back
months later. One-off setup fees have an empty service period (start = end).
"""
import argparse
import csv
import datetime
import random

PRICES = {("basic", "monthly"): 29.0, ("pro", "monthly"): 99.0,
          ("basic", "annual"): 290.0, ("pro", "annual"): 990.0}
END = datetime.date(2024, 12, 31)


def add_months(d, n):
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    # clamp the day as calendar arithmetic does (Jan 31 + 1 month = Feb 29/28)
    for day in (d.day, 30, 29, 28):
        try:
            return datetime.date(y, m, day)
        except ValueError:
            continue
    raise ValueError(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("out")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rows = []
    inv = 0

    def line(cust, date, amount, start, end, plan, sub):
        nonlocal inv
        inv += 1
        rows.append([f"in_{inv:06d}", cust, date.isoformat(), f"{amount:.2f}",
                     start.isoformat() if start else "", end.isoformat() if end else "",
                     plan, sub])

    for c in range(a.customers):
        cust = f"cus_{c:04d}"
        start = datetime.date(2023, 1, 1) + datetime.timedelta(days=rnd.randrange(730))
        tier = "pro" if rnd.random() < 0.3 else "basic"
        cycle = "annual" if rnd.random() < 0.25 else "monthly"
        subn = 0
        if rnd.random() < 0.3:
            line(cust, start, 49.0, start, start, "setup", "")
        while start <= END:
            subn += 1
            sub = f"sub_{c:04d}_{subn}"
            d = start
            addon = None
            while d <= END:
                months = 12 if cycle == "annual" else 1
                e = add_months(d, months)
                price = PRICES[(tier, cycle)]
                line(cust, d, price, d, e, f"{tier}_{cycle}", sub)
                r = rnd.random()
                if r < 0.04:
                    # a refund of part or all of this period, some days later
                    share = 1.0 if rnd.random() < 0.5 else 0.5
                    line(cust, min(d + datetime.timedelta(days=5), END), -price * share,
                         d, e, f"{tier}_{cycle}", sub)
                # an add-on subscription, monthly, which may be cancelled on its own
                if addon is None and rnd.random() < 0.05:
                    addon = f"sub_{c:04d}_addon"
                if addon is not None and cycle == "monthly":
                    line(cust, d, 10.0, d, e, "addon_monthly", addon)
                    if rnd.random() < 0.15:
                        addon = None
                if cycle == "annual" and tier == "basic" and rnd.random() < 0.25:
                    # mid-year upgrade: the rest of the year prorated on its own line
                    up = add_months(d, rnd.randrange(2, 11))
                    if up <= END:
                        rest = (e - up).days / (e - d).days
                        line(cust, up, round((PRICES[("pro", "annual")] - price) * rest, 2),
                             up, e, "pro_annual", sub)
                        tier = "pro"
                churn = 0.12 if cycle == "annual" else 0.05
                if rnd.random() < churn:
                    break
                if tier == "basic" and rnd.random() < 0.04:
                    tier = "pro"
                elif tier == "pro" and rnd.random() < 0.03:
                    tier = "basic"
                d = e
            else:
                break
            # churned: come back later, or not
            if rnd.random() < 0.35:
                start = add_months(e, rnd.randrange(1, 8))
                cycle = "annual" if rnd.random() < 0.2 else "monthly"
            else:
                break
    rows.sort(key=lambda r: (r[2], r[1], r[0]))
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["invoice_id", "customer_id", "invoice_date", "amount", "period_start",
                    "period_end", "plan", "subscription_id"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
