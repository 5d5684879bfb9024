-- retention cohort --period month (first-purchase cohorts, classic), as docs/metrics.md "cohort".
-- `tx` is a view over the transactions file (CSV or Parquet), made by benches/run_sql.py.
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (  -- an order = distinct (customer, order_id); its date = its first date
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d FROM orders WHERE lo >= 0 OR amount > 0),   -- purchases
first AS (SELECT customer_id, date_trunc('month', min(d)) AS c FROM purch GROUP BY 1),
sizes AS (SELECT c, count(*) AS n FROM first GROUP BY 1),
grid AS (
  SELECT c, n, unnest(generate_series(0, datediff('month', c, date_trunc('month', (SELECT d FROM as_of))))) AS k
  FROM sizes),
act AS (
  SELECT f.c, datediff('month', f.c, date_trunc('month', p.d)) AS k,
         count(DISTINCT p.customer_id) AS active
  FROM purch p JOIN first f USING (customer_id) GROUP BY 1, 2),
rev AS (
  SELECT f.c, datediff('month', f.c, date_trunc('month', t.order_date)) AS k,
         sum(t.amount) AS revenue
  FROM tx t JOIN first f USING (customer_id) GROUP BY 1, 2),
cells AS (
  SELECT g.c, g.k, g.n, coalesce(a.active, 0) AS active, coalesce(r.revenue, 0) AS revenue
  FROM grid g LEFT JOIN act a ON a.c = g.c AND a.k = g.k
              LEFT JOIN rev r ON r.c = g.c AND r.k = g.k)
SELECT strftime(c, '%Y-%m') AS cohort, k AS period_index, n AS cohort_size, active,
       active / n AS retention, round(revenue, 2) AS revenue,
       CASE WHEN first_value(revenue) OVER w > 0 THEN revenue / first_value(revenue) OVER w END
         AS revenue_retention
FROM cells
WINDOW w AS (PARTITION BY c ORDER BY k)
ORDER BY c, k;
