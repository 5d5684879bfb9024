-- retention segment, in the plainest SQL an analyst would write for it (issue #12): every
-- row is an order (the generator writes one row per order id), a purchase is a row with
-- amount >= 0; RFM scores by row_number() ranks. Same answer as segment.sql on such data.
WITH as_of AS (SELECT max(order_date) AS d FROM tx),
rfm AS (
  SELECT customer_id,
         datediff('day', max(order_date) FILTER (WHERE amount >= 0), (SELECT d FROM as_of)) AS recency_days,
         count(*) FILTER (WHERE amount >= 0) AS frequency,
         -- monetary in cents, as retention sums money exactly (a float sum such as
         -- 68.22000000000001 would break a tie at a bin edge the other way)
         round(sum(amount), 2) AS monetary
  FROM tx GROUP BY 1 HAVING count(*) FILTER (WHERE amount >= 0) > 0),
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
