-- retention segment (RFM, 5 bins, built-in segment table), as docs/metrics.md "segment".
-- Scores: rank (ties by customer id), score = floor((rank-1)*5/n)+1, recency descending.
-- Match order as README "retention segment" (hidden segments moved before their hider).
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
orders AS (
  SELECT customer_id, min(order_date) AS d, sum(amount) AS amount, min(amount) AS lo
  FROM tx GROUP BY customer_id, order_id),
purch AS (SELECT customer_id, d FROM orders WHERE lo >= 0 OR amount > 0),
pc AS (SELECT customer_id, max(d) AS last_d, count(*) AS frequency FROM purch GROUP BY 1),
-- monetary in cents, as retention sums money exactly (a float sum such as 68.22000000000001
-- would break the tie with another 68.22 customer at a bin edge the other way)
spend AS (SELECT customer_id, round(sum(amount), 2) AS monetary FROM tx GROUP BY 1),
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
  SELECT *, CASE
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
  FROM scored)
SELECT segment, count(*) AS customers, count(*) / sum(count(*)) OVER () AS share_customers,
       round(sum(monetary), 2) AS revenue, sum(monetary) / sum(sum(monetary)) OVER () AS share_revenue,
       avg(recency_days) AS mean_recency_days, avg(frequency) AS mean_frequency,
       avg(monetary) AS mean_monetary
FROM seg GROUP BY segment ORDER BY segment;
