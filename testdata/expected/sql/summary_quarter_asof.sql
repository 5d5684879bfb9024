-- retention sql summary --dialect duckdb: the columns and values of `retention summary --format csv`
WITH
src AS (
  SELECT CAST("customer_id" AS VARCHAR) AS cid,
    CAST("order_date" AS DATE) AS d,
    CAST("amount" AS DOUBLE) AS amt,
    NULLIF(CAST("order_id" AS VARCHAR), '') AS oid
  FROM "tx"
),
kept AS (
  SELECT * FROM src
  WHERE cid IS NOT NULL
    AND TRIM(cid) <> ''
    AND d IS NOT NULL
    AND amt IS NOT NULL
),
cutoff AS (
  SELECT DATE '2024-05-20' AS cutoff_d
),
tx AS (
  SELECT k.* FROM kept k CROSS JOIN cutoff c WHERE k.d <= c.cutoff_d
),
purchases AS (
  SELECT cid, MIN(d) AS d, SUM(amt) AS amt FROM tx
  WHERE oid IS NOT NULL
  GROUP BY cid, oid
  HAVING MIN(amt) >= 0 OR SUM(amt) > 1e-9 * SUM(ABS(amt))
  UNION ALL
  SELECT cid, d, amt FROM tx WHERE oid IS NULL AND amt >= 0
),
firstp AS (
  SELECT cid, MIN(d) AS fd FROM purchases GROUP BY cid
),
custrev AS (
  SELECT cid, SUM(amt) AS tr FROM tx GROUP BY cid
),
bounds AS (
  SELECT (CAST(EXTRACT(YEAR FROM cutoff_d) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM cutoff_d) AS INTEGER) - 1)) // (3))) AS ap,
    (CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(DATE_DIFF('day', DATE '1970-01-01', cutoff_d) + 1 AS INTEGER) AS DATE)) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM CAST(DATE '1970-01-01' + CAST(DATE_DIFF('day', DATE '1970-01-01', cutoff_d) + 1 AS INTEGER) AS DATE)) AS INTEGER) - 1)) // (3))) AS ap1,
    (SELECT MIN((CAST(EXTRACT(YEAR FROM d) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM d) AS INTEGER) - 1)) // (3)))) FROM tx) AS f0
  FROM cutoff
),
ws AS (
  SELECT UNNEST(RANGE(f0, ap + 1)) AS i FROM bounds
),
pp AS (
  SELECT cid, (CAST(EXTRACT(YEAR FROM d) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM d) AS INTEGER) - 1)) // (3))) AS q FROM purchases
),
newc AS (
  SELECT (CAST(EXTRACT(YEAR FROM f.fd) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM f.fd) AS INTEGER) - 1)) // (3))) AS q, COUNT(*) AS n, SUM(r.tr) AS ltvrev
  FROM firstp f JOIN custrev r ON r.cid = f.cid
  GROUP BY (CAST(EXTRACT(YEAR FROM f.fd) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM f.fd) AS INTEGER) - 1)) // (3)))
),
percust AS (
  SELECT q, cid, COUNT(*) AS n FROM pp GROUP BY q, cid
),
ordc AS (
  SELECT q, SUM(n) AS orders, COUNT(*) AS active,
    SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeaters
  FROM percust GROUP BY q
),
revc AS (
  SELECT (CAST(EXTRACT(YEAR FROM d) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM d) AS INTEGER) - 1)) // (3))) AS q, SUM(amt) AS revenue FROM tx GROUP BY (CAST(EXTRACT(YEAR FROM d) AS INTEGER) * 4 + (((CAST(EXTRACT(MONTH FROM d) AS INTEGER) - 1)) // (3)))
),
ret AS (
  SELECT b.q, COUNT(*) AS n
  FROM percust a JOIN percust b ON a.cid = b.cid AND b.q = a.q + 1
  GROUP BY b.q
),
rowsq AS (
  SELECT w.i AS q,
    COALESCE(nc.n, 0) AS new_c,
    COALESCE(nc.ltvrev, 0) AS ltvrev,
    SUM(COALESCE(nc.n, 0)) OVER (ORDER BY w.i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS base,
    COALESCE(o.active, 0) AS active,
    COALESCE(o.orders, 0) AS orders,
    COALESCE(o.repeaters, 0) AS repeaters,
    COALESCE(r.revenue, 0) AS revenue,
    COALESCE(pv.active, 0) AS prev_active,
    COALESCE(rt.n, 0) AS kept,
    DATE_DIFF('day', DATE '1970-01-01', CAST(CONCAT(CAST(((w.i) // (4)) AS VARCHAR), '-', LPAD(CAST(3 * ((w.i) - 4 * ((w.i) // (4))) + 1 AS VARCHAR), 2, '0'), '-01') AS DATE)) AS start_d,
    DATE_DIFF('day', DATE '1970-01-01', CAST(CONCAT(CAST(((w.i + 1) // (4)) AS VARCHAR), '-', LPAD(CAST(3 * ((w.i + 1) - 4 * ((w.i + 1) // (4))) + 1 AS VARCHAR), 2, '0'), '-01') AS DATE)) - 1 AS end_n
  FROM ws w
  LEFT JOIN newc nc ON nc.q = w.i
  LEFT JOIN ordc o ON o.q = w.i
  LEFT JOIN ordc pv ON pv.q = w.i - 1
  LEFT JOIN revc r ON r.q = w.i
  LEFT JOIN ret rt ON rt.q = w.i
)
SELECT CONCAT(CAST(((q) // (4)) AS VARCHAR), '-Q', CAST((q) - 4 * ((q) // (4)) + 1 AS VARCHAR)) AS "period",
  CONCAT(CAST(CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(start_d AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), '-', LPAD(CAST(CAST(EXTRACT(MONTH FROM CAST(DATE '1970-01-01' + CAST(start_d AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0'), '-', LPAD(CAST(CAST(EXTRACT(DAY FROM CAST(DATE '1970-01-01' + CAST(start_d AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0')) AS "start",
  CONCAT(CAST(CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(CASE WHEN end_n < DATE_DIFF('day', DATE '1970-01-01', cutoff_d) THEN end_n ELSE DATE_DIFF('day', DATE '1970-01-01', cutoff_d) END AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), '-', LPAD(CAST(CAST(EXTRACT(MONTH FROM CAST(DATE '1970-01-01' + CAST(CASE WHEN end_n < DATE_DIFF('day', DATE '1970-01-01', cutoff_d) THEN end_n ELSE DATE_DIFF('day', DATE '1970-01-01', cutoff_d) END AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0'), '-', LPAD(CAST(CAST(EXTRACT(DAY FROM CAST(DATE '1970-01-01' + CAST(CASE WHEN end_n < DATE_DIFF('day', DATE '1970-01-01', cutoff_d) THEN end_n ELSE DATE_DIFF('day', DATE '1970-01-01', cutoff_d) END AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0')) AS "end",
  base AS "customers",
  active AS "active",
  new_c AS "new",
  CASE WHEN q > f0 AND prev_active > 0 THEN CAST(kept AS DOUBLE) / prev_active END AS "retention_rate",
  1 - CASE WHEN q > f0 AND prev_active > 0 THEN CAST(kept AS DOUBLE) / prev_active END AS "churn_rate",
  CASE WHEN active > 0 THEN CAST(repeaters AS DOUBLE) / active END AS "repeat_purchase_rate",
  orders AS "orders",
  revenue AS "revenue",
  CASE WHEN orders > 0 THEN revenue / orders END AS "aov",
  CASE WHEN active > 0 THEN CAST(orders AS DOUBLE) / active END AS "purchase_frequency",
  CASE WHEN new_c > 0 THEN ltvrev * CAST(1 AS DOUBLE) / new_c END AS "ltv",
  (q = ap AND ap1 = ap) AS "partial_period"
FROM rowsq CROSS JOIN bounds CROSS JOIN cutoff
ORDER BY q
