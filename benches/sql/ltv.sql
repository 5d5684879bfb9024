-- retention ltv (historical, --period month, margin 1): cumulative net revenue per cohort
-- customer k months after the first purchase, as docs/metrics.md "ltv / Historical".
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d FROM orders WHERE lo >= 0 OR amount > 0),
first AS (SELECT customer_id, date_trunc('month', min(d)) AS c FROM purch GROUP BY 1),
sizes AS (SELECT c, count(*) AS n FROM first GROUP BY 1),
grid AS (
  SELECT c, n, unnest(generate_series(0, datediff('month', c, date_trunc('month', (SELECT d FROM as_of))))) AS k
  FROM sizes),
rev AS (
  SELECT f.c, datediff('month', f.c, date_trunc('month', t.order_date)) AS k,
         sum(t.amount) AS revenue
  FROM tx t JOIN first f USING (customer_id) GROUP BY 1, 2),
cells AS (
  SELECT g.c, g.k, g.n, coalesce(r.revenue, 0) AS revenue
  FROM grid g LEFT JOIN rev r ON r.c = g.c AND r.k = g.k)
SELECT strftime(c, '%Y-%m') AS cohort, k AS period_index, n AS cohort_size,
       round(revenue, 2) AS revenue,
       round(sum(revenue) OVER (PARTITION BY c ORDER BY k), 2) AS cumulative_revenue,
       sum(revenue) OVER (PARTITION BY c ORDER BY k) / n AS ltv
FROM cells
ORDER BY c, k;
