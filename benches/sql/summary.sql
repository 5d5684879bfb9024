-- retention summary (whole window, transactions only), as docs/metrics.md "summary" and the
-- README column table: window = first transaction .. as-of; retention between its halves
-- (first half: day <= start + (end-start)/2).
WITH as_of AS (SELECT min(order_date) AS s, max(order_date) AS e FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d FROM orders WHERE lo >= 0 OR amount > 0),
mid AS (SELECT s + CAST((e - s) // 2 AS INTEGER) AS m FROM as_of),
pc AS (
  SELECT customer_id, count(*) AS n,
         bool_or(d <= (SELECT m FROM mid)) AS h1, bool_or(d > (SELECT m FROM mid)) AS h2
  FROM purch GROUP BY 1),
rev AS (SELECT customer_id, sum(amount) AS revenue FROM tx GROUP BY 1),
k AS (
  SELECT count(*) AS customers, count(*) AS active, count(*) AS new,
         count(*) FILTER (WHERE h1 AND h2) / count(*) FILTER (WHERE h1) AS retention_rate,
         count(*) FILTER (WHERE n >= 2) / count(*) AS repeat_purchase_rate,
         sum(n) AS orders,
         sum(rv.revenue) AS ltv_revenue
  FROM pc LEFT JOIN rev rv USING (customer_id))
SELECT 'all' AS period, (SELECT s FROM as_of) AS start, (SELECT e FROM as_of) AS "end",
       customers, active, new, retention_rate, 1 - retention_rate AS churn_rate,
       repeat_purchase_rate, orders, round((SELECT sum(amount) FROM tx), 2) AS revenue,
       (SELECT sum(amount) FROM tx) / orders AS aov, orders / active AS purchase_frequency,
       ltv_revenue / new AS ltv
FROM k;
