-- retention churn --period month, as docs/metrics.md "churn" (active = a purchase in the period):
-- start = active in t-1, retained = of those, active in t, churned = start - retained,
-- new = first purchase in t, reactivated = active in t, neither retained nor new.
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d FROM orders WHERE lo >= 0 OR amount > 0),
am AS (SELECT DISTINCT customer_id, date_trunc('month', d) AS m FROM purch),
seq AS (
  SELECT m, lag(m) OVER (PARTITION BY customer_id ORDER BY m) AS prev FROM am),
per AS (
  SELECT m, count(*) AS end_customers,
         count(*) FILTER (WHERE prev = m - INTERVAL 1 MONTH) AS retained,
         count(*) FILTER (WHERE prev IS NULL) AS new
  FROM seq GROUP BY m),
months AS (
  SELECT unnest(generate_series((SELECT min(m) FROM am),
                                date_trunc('month', (SELECT d FROM as_of)),
                                INTERVAL 1 MONTH))::DATE AS m),
cells AS (
  SELECT mo.m, coalesce(p.end_customers, 0) AS end_customers,
         coalesce(p.retained, 0) AS retained, coalesce(p.new, 0) AS new
  FROM months mo LEFT JOIN per p ON p.m = mo.m),
allp AS (
  SELECT *, coalesce(lag(end_customers) OVER (ORDER BY m), 0) AS start_customers FROM cells)
SELECT strftime(m, '%Y-%m') AS period, start_customers, retained,
       start_customers - retained AS churned, new,
       end_customers - retained - new AS reactivated, end_customers,
       CASE WHEN start_customers > 0 THEN retained / start_customers END AS retention_rate,
       CASE WHEN start_customers > 0 THEN 1 - retained / start_customers END AS churn_rate
FROM allp ORDER BY m;
