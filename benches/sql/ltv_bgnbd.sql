-- The per-customer summary of retention ltv --model bgnbd (--unit day), as docs/metrics.md
-- "ltv / Predictive": purchases aggregated to distinct days; x = purchase days - 1,
-- t_x = first to last purchase day, T = first purchase day to as-of, m = mean value of the
-- repeat purchase days (first excluded; x > 0), plus the historical LTV (net revenue,
-- returns included). This is the input a DuckDB user would hand to Python lifetimes
-- (benches/lifetimes_fit.py fits and scores it).
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
daily AS (
  SELECT customer_id, d, sum(amount) AS v FROM orders WHERE lo >= 0 OR amount > 0 GROUP BY 1, 2),
s AS (
  SELECT customer_id, count(*) - 1 AS x,
         datediff('day', min(d), max(d)) AS t_x,
         datediff('day', min(d), (SELECT d FROM as_of)) AS T,
         CASE WHEN count(*) > 1 THEN (sum(v) - arg_min(v, d)) / (count(*) - 1) ELSE 0 END AS m
  FROM daily GROUP BY 1),
hist AS (SELECT customer_id, sum(amount) AS ltv FROM tx GROUP BY 1)
SELECT s.customer_id, x, t_x, T, m, h.ltv AS historical_ltv
FROM s JOIN hist h USING (customer_id)
ORDER BY s.customer_id;
