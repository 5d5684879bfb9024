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
  SELECT MAX(d) AS cutoff_d FROM kept
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
win AS (
  SELECT DATE_DIFF('day', DATE '1970-01-01', m.md) AS s, DATE_DIFF('day', DATE '1970-01-01', cutoff_d) AS e
  FROM cutoff CROSS JOIN (SELECT MIN(d) AS md FROM tx) m
),
halves AS (
  SELECT p.cid,
    MAX(CASE WHEN DATE_DIFF('day', DATE '1970-01-01', p.d) <= w.s + ((w.e - w.s) // (2)) THEN 1 ELSE 0 END) AS h1,
    MAX(CASE WHEN DATE_DIFF('day', DATE '1970-01-01', p.d) > w.s + ((w.e - w.s) // (2)) THEN 1 ELSE 0 END) AS h2
  FROM purchases p CROSS JOIN win w
  GROUP BY p.cid
),
percust AS (
  SELECT cid, COUNT(*) AS n FROM purchases GROUP BY cid
),
k AS (
  SELECT (SELECT COUNT(*) FROM firstp) AS new_c,
    (SELECT COUNT(*) FROM percust) AS active,
    (SELECT COUNT(*) FROM percust WHERE n >= 2) AS repeaters,
    (SELECT COUNT(*) FROM purchases) AS orders,
    (SELECT SUM(amt) FROM tx) AS revenue,
    (SELECT SUM(r.tr) FROM firstp f JOIN custrev r ON r.cid = f.cid) AS ltvrev,
    (SELECT SUM(h1) FROM halves) AS h1,
    (SELECT SUM(h1 * h2) FROM halves) AS h12
)
SELECT 'all' AS "period",
  CONCAT(CAST(CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(win.s AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), '-', LPAD(CAST(CAST(EXTRACT(MONTH FROM CAST(DATE '1970-01-01' + CAST(win.s AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0'), '-', LPAD(CAST(CAST(EXTRACT(DAY FROM CAST(DATE '1970-01-01' + CAST(win.s AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0')) AS "start",
  CONCAT(CAST(CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(win.e AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), '-', LPAD(CAST(CAST(EXTRACT(MONTH FROM CAST(DATE '1970-01-01' + CAST(win.e AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0'), '-', LPAD(CAST(CAST(EXTRACT(DAY FROM CAST(DATE '1970-01-01' + CAST(win.e AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), 2, '0')) AS "end",
  new_c AS "customers",
  active AS "active",
  new_c AS "new",
  CASE WHEN h1 > 0 THEN CAST(h12 AS DOUBLE) / h1 END AS "retention_rate",
  CASE WHEN h1 > 0 THEN 1 - CAST(h12 AS DOUBLE) / h1 END AS "churn_rate",
  CASE WHEN active > 0 THEN CAST(repeaters AS DOUBLE) / active END AS "repeat_purchase_rate",
  orders AS "orders",
  revenue AS "revenue",
  CASE WHEN orders > 0 THEN revenue / orders END AS "aov",
  CASE WHEN active > 0 THEN CAST(orders AS DOUBLE) / active END AS "purchase_frequency",
  CASE WHEN new_c > 0 THEN ltvrev * CAST(1 AS DOUBLE) / new_c END AS "ltv"
FROM k CROSS JOIN win
