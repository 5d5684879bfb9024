#!/usr/bin/env python3
"""Generate the subscriptions benchmark's invoice lines with DuckDB, straight to Parquet
(deterministic: every choice is a hash of the subscriber number):

    python benches/subscriptions_data.py SUBSCRIBERS OUT.parquet

Subscribers start in 2022 (month 0..11, any day 1..28) and are billed monthly (29, or 99
after an upgrade month; 20% downgrade back later) or, 15%, yearly (290); each has a
lifetime in months (some longer than the 36 months 2022-01..2024-12 observed), and 3% get
their third month refunded (a negative line over the same service period). Columns:
customer_id, invoice_date, amount, period_start, period_end (exclusive), plan.
"""
import sys

import duckdb

SQL = """
COPY (
  WITH p AS (
    SELECT 'cus_' || lpad(s::VARCHAR, 7, '0') AS customer_id,
           (h % 12)::INT AS start_m,
           ((h // 12) % 28)::INT AS day0,
           ((h // 336) % 48)::INT AS life,
           ((h // 16128) % 60)::INT AS up,
           ((h // 967680) % 100)::INT AS r
    FROM (SELECT s, hash(s) AS h FROM range({n}) t(s))
  ),
  months AS (
    SELECT p.*, m, date '2022-01-01' + to_months(m) + to_days(day0) AS d
    FROM p, range(36) k(m)
    WHERE m >= start_m AND m < start_m + life
  ),
  monthly AS (
    SELECT customer_id, d AS invoice_date,
           CASE WHEN m - start_m >= up AND NOT (r < 20 AND m - start_m >= up + 6)
                THEN 99.0 ELSE 29.0 END::DOUBLE AS amount,
           d AS period_start, d + to_months(1) AS period_end, 'monthly' AS plan
    FROM months WHERE r >= 15
  ),
  yearly AS (
    SELECT customer_id, d AS invoice_date, 290.0::DOUBLE AS amount, d AS period_start,
           d + to_months(12) AS period_end, 'yearly' AS plan
    FROM months WHERE r < 15 AND (m - start_m) % 12 = 0
  ),
  refunds AS (
    SELECT customer_id, invoice_date + to_days(3) AS invoice_date, -amount AS amount,
           period_start, period_end, plan
    FROM monthly m JOIN p USING (customer_id)
    WHERE p.r BETWEEN 15 AND 17 AND period_start = date '2022-01-01' + to_months(p.start_m + 2) + to_days(p.day0)
  )
  SELECT * FROM monthly UNION ALL SELECT * FROM yearly UNION ALL SELECT * FROM refunds
  ORDER BY invoice_date, customer_id
) TO '{out}' (FORMAT parquet)
"""


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(SQL.format(n=n, out=out))
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    print(f"{out}: {rows} invoice lines of {n} subscribers", file=sys.stderr)


if __name__ == "__main__":
    main()
