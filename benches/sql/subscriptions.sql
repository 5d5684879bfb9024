-- retention subscriptions (monthly MRR movements, docs/metrics.md "subscriptions"), by hand
-- in DuckDB SQL over a view `tx` (customer_id, invoice_date, amount, period_start,
-- period_end): MRR at each month's last day (as-of = the latest invoice date for the last),
-- movements per customer between consecutive snapshots, NRR/GRR over 12 months.
WITH as_of AS (SELECT max(invoice_date) AS d FROM tx),
lines AS (
  SELECT customer_id, period_start AS s, period_end AS e,
         amount / greatest(1, round(date_diff('day', period_start, period_end) / 30.4375)) AS v
  FROM tx
  WHERE invoice_date <= (SELECT d FROM as_of) AND amount <> 0 AND period_end > period_start
),
snaps AS (
  SELECT (row_number() OVER (ORDER BY m) - 1)::INT AS i, strftime(m, '%Y-%m') AS period,
         least(last_day(m), (SELECT d FROM as_of)) AS t
  FROM generate_series(
         (SELECT date_trunc('month', min(s)) FROM lines WHERE s <= (SELECT d FROM as_of)),
         date_trunc('month', (SELECT d FROM as_of)), INTERVAL 1 MONTH) g(m)
),
mrr AS (
  SELECT customer_id, i, sum(v) AS m
  FROM lines JOIN snaps ON lines.s <= snaps.t AND snaps.t < lines.e
  GROUP BY customer_id, i
  HAVING sum(v) > 1e-9
),
firsts AS (SELECT customer_id, min(i) AS f FROM mrr GROUP BY customer_id),
pairs AS (
  SELECT coalesce(b.customer_id, a.customer_id) AS customer_id, coalesce(b.i, a.i + 1) AS i,
         coalesce(a.m, 0) AS a, coalesce(b.m, 0) AS b
  FROM mrr b FULL OUTER JOIN mrr a ON a.customer_id = b.customer_id AND a.i + 1 = b.i
),
mv AS (
  SELECT p.i,
         sum(a) AS mrr_start,
         sum(CASE WHEN a = 0 AND b > 0 AND f = p.i THEN b ELSE 0 END) AS new,
         sum(CASE WHEN a > 0 AND b > 0 AND b - a > 1e-9 THEN b - a ELSE 0 END) AS expansion,
         sum(CASE WHEN a > 0 AND b > 0 AND a - b > 1e-9 THEN a - b ELSE 0 END) AS contraction,
         sum(CASE WHEN a > 0 AND b = 0 THEN a ELSE 0 END) AS churn,
         sum(CASE WHEN a = 0 AND b > 0 AND f < p.i THEN b ELSE 0 END) AS reactivation,
         sum(b) AS mrr_end,
         count(*) FILTER (a > 0) AS customers_start,
         count(*) FILTER (a = 0 AND b > 0 AND f = p.i) AS customers_new,
         count(*) FILTER (a > 0 AND b = 0) AS customers_churned,
         count(*) FILTER (a = 0 AND b > 0 AND f < p.i) AS customers_reactivated,
         count(*) FILTER (b > 0) AS customers_end
  FROM pairs p JOIN firsts USING (customer_id)
  GROUP BY p.i
),
yr AS (
  SELECT y.i + 12 AS i, sum(y.m) AS ago, sum(coalesce(n.m, 0)) AS now,
         sum(least(coalesce(n.m, 0), y.m)) AS capped
  FROM mrr y LEFT JOIN mrr n ON n.customer_id = y.customer_id AND n.i = y.i + 12
  GROUP BY y.i
)
SELECT period, mrr_start, new, expansion, contraction, churn, reactivation, mrr_end,
       customers_start, customers_new, customers_churned, customers_reactivated, customers_end,
       customers_churned / nullif(customers_start, 0) AS logo_churn_rate,
       (churn + contraction) / nullif(mrr_start, 0) AS gross_mrr_churn_rate,
       (churn + contraction - expansion - reactivation) / nullif(mrr_start, 0) AS net_mrr_churn_rate,
       (new + expansion + reactivation) / nullif(churn + contraction, 0) AS quick_ratio,
       now / nullif(ago, 0) AS nrr_12m,
       capped / nullif(ago, 0) AS grr_12m
FROM snaps LEFT JOIN mv USING (i) LEFT JOIN yr USING (i)
ORDER BY i
