-- retention wallet (no wallet file; transactions with a category): per RFM segment (as
-- segment.sql), the distribution (customers, mean, p25, median, p75 - linear quantiles)
-- of share_of_customer per category, breadth, cross_sell and depth, as docs/metrics.md
-- "wallet" and README "retention wallet".
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d, amount FROM orders WHERE lo >= 0 OR amount > 0),
pc AS (SELECT customer_id, max(d) AS last_d, count(*) AS frequency FROM purch GROUP BY 1),
spend AS (SELECT customer_id, sum(amount) AS monetary FROM tx GROUP BY 1),
rfm AS (
  SELECT pc.customer_id, datediff('day', pc.last_d, (SELECT d FROM as_of)) AS recency_days,
         pc.frequency, s.monetary
  FROM pc JOIN spend s USING (customer_id)),
scored AS (
  SELECT *,
    (row_number() OVER (ORDER BY recency_days DESC, customer_id) - 1) * 5 // count(*) OVER () + 1 AS r,
    (row_number() OVER (ORDER BY frequency, customer_id) - 1) * 5 // count(*) OVER () + 1 AS f,
    (row_number() OVER (ORDER BY monetary, customer_id) - 1) * 5 // count(*) OVER () + 1 AS m
  FROM rfm),
seg AS (
  SELECT customer_id, CASE
    WHEN r BETWEEN 4 AND 5 AND f BETWEEN 4 AND 5 AND m BETWEEN 4 AND 5 THEN 'Champions'
    WHEN r BETWEEN 2 AND 5 AND f BETWEEN 3 AND 5 AND m BETWEEN 3 AND 5 THEN 'Loyal'
    WHEN r BETWEEN 4 AND 5 AND f = 1 AND m = 1 THEN 'New'
    WHEN r BETWEEN 3 AND 4 AND f = 1 AND m = 1 THEN 'Promising'
    WHEN r = 1 AND f BETWEEN 1 AND 2 AND m BETWEEN 1 AND 2 THEN 'Lost'
    WHEN r BETWEEN 1 AND 2 AND f BETWEEN 1 AND 2 AND m BETWEEN 1 AND 2 THEN 'Hibernating'
    WHEN r BETWEEN 2 AND 3 AND f BETWEEN 1 AND 2 AND m BETWEEN 1 AND 2 THEN 'About To Sleep'
    WHEN r BETWEEN 3 AND 5 AND f BETWEEN 1 AND 3 AND m BETWEEN 1 AND 3 THEN 'Potential Loyalist'
    WHEN r BETWEEN 2 AND 3 AND f BETWEEN 2 AND 3 AND m BETWEEN 2 AND 3 THEN 'Need Attention'
    WHEN r = 1 AND f BETWEEN 4 AND 5 AND m BETWEEN 4 AND 5 THEN 'Can''t Lose Them'
    WHEN r BETWEEN 1 AND 2 AND f BETWEEN 2 AND 5 AND m BETWEEN 2 AND 5 THEN 'At Risk'
    ELSE 'Others' END AS segment
  FROM scored),
grp AS (  -- every customer of the transactions; never bought = 'No purchase'
  SELECT s.customer_id, coalesce(g.segment, 'No purchase') AS segment
  FROM spend s LEFT JOIN seg g USING (customer_id)),
cat_spend AS (SELECT customer_id, category, sum(amount) AS v FROM tx GROUP BY 1, 2),
pos AS (SELECT customer_id, sum(greatest(v, 0)) AS t FROM cat_spend GROUP BY 1),
cats AS (SELECT DISTINCT category FROM tx WHERE category IS NOT NULL AND category <> ''),
soc AS (  -- every (customer with positive spend, category), zeros included
  SELECT g.segment, c.category, greatest(coalesce(cs.v, 0), 0) / p.t AS v
  FROM pos p JOIN grp g USING (customer_id) CROSS JOIN cats c
  LEFT JOIN cat_spend cs ON cs.customer_id = p.customer_id AND cs.category = c.category
  WHERE p.t > 0),
breadth AS (  -- buyers only: distinct categories with a line that is not a return (amount >= 0)
  SELECT pc.customer_id,
         count(DISTINCT t.category) FILTER (WHERE t.amount >= 0 AND t.category <> '') AS b
  FROM pc JOIN tx t USING (customer_id) GROUP BY 1),
ordered AS (
  SELECT customer_id, amount,
         row_number() OVER (PARTITION BY customer_id ORDER BY d, amount) AS i,
         count(*) OVER (PARTITION BY customer_id) AS n
  FROM purch),
depth AS (
  SELECT customer_id,
         avg(amount) FILTER (WHERE i > n - n // 2) - avg(amount) FILTER (WHERE i <= n // 2) AS v
  FROM ordered GROUP BY customer_id HAVING max(n) >= 2),
metrics AS (
  SELECT segment, category, 'share_of_customer' AS metric, v FROM soc
  UNION ALL
  SELECT g.segment, '(all)', 'breadth', b.b FROM breadth b JOIN grp g USING (customer_id)
  UNION ALL
  SELECT g.segment, '(all)', 'cross_sell', (b.b >= 2)::INTEGER FROM breadth b JOIN grp g USING (customer_id)
  UNION ALL
  SELECT g.segment, '(all)', 'depth', d.v FROM depth d JOIN grp g USING (customer_id))
SELECT segment, category, metric, count(*) AS customers, avg(v) AS mean,
       CASE WHEN metric <> 'cross_sell' THEN quantile_cont(v, 0.25) END AS p25,
       CASE WHEN metric <> 'cross_sell' THEN quantile_cont(v, 0.5) END AS median,
       CASE WHEN metric <> 'cross_sell' THEN quantile_cont(v, 0.75) END AS p75
FROM metrics GROUP BY segment, category, metric ORDER BY segment, metric, category;
