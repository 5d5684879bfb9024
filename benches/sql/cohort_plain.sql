-- retention cohort --period month, in the plainest SQL an analyst would write for it (issue
-- #12): every row is an order (the generator writes one row per order id), a purchase is a
-- row with amount >= 0. Same answer as cohort.sql on such data, without its order grouping.
WITH as_of AS (SELECT date_trunc('month', max(order_date)) AS m FROM tx),
first AS (
  SELECT customer_id, date_trunc('month', min(order_date)) AS c
  FROM tx WHERE amount >= 0 GROUP BY 1),
sizes AS (SELECT c, count(*) AS n FROM first GROUP BY 1),
grid AS (
  SELECT c, n, unnest(generate_series(0, datediff('month', c, (SELECT m FROM as_of)))) AS k
  FROM sizes),
cells AS (
  SELECT f.c, datediff('month', f.c, date_trunc('month', t.order_date)) AS k,
         count(DISTINCT t.customer_id) FILTER (WHERE t.amount >= 0) AS active,
         sum(t.amount) AS revenue
  FROM tx t JOIN first f USING (customer_id) GROUP BY 1, 2),
full_cells AS (
  SELECT g.c, g.k, g.n, coalesce(a.active, 0) AS active, coalesce(a.revenue, 0) AS revenue
  FROM grid g LEFT JOIN cells a ON a.c = g.c AND a.k = g.k)
SELECT strftime(c, '%Y-%m') AS cohort, k AS period_index, n AS cohort_size, active,
       active / n AS retention, round(revenue, 2) AS revenue,
       CASE WHEN first_value(revenue) OVER w > 0 THEN revenue / first_value(revenue) OVER w END
         AS revenue_retention
FROM full_cells
WINDOW w AS (PARTITION BY c ORDER BY k)
ORDER BY c, k;
