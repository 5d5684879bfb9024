-- retention sql churn --dialect duckdb: the columns and values of `retention churn --format csv`
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
act AS (
  SELECT DISTINCT cid, (((DATE_DIFF('day', DATE '1970-01-01', d) + 70003) // (7)) - 10000) AS q FROM purchases
),
firstq AS (
  SELECT cid, MIN(q) AS fq FROM act GROUP BY cid
),
bounds AS (
  SELECT (((DATE_DIFF('day', DATE '1970-01-01', cutoff_d) + 70003) // (7)) - 10000) AS ap,
    (((DATE_DIFF('day', DATE '1970-01-01', CAST(DATE '1970-01-01' + CAST(DATE_DIFF('day', DATE '1970-01-01', cutoff_d) + 1 AS INTEGER) AS DATE)) + 70003) // (7)) - 10000) AS ap1,
    (SELECT MIN(fq) FROM firstq) AS f0
  FROM cutoff
),
ts AS (
  SELECT UNNEST(RANGE(f0, ap + 1)) AS i FROM bounds
),
endc AS (
  SELECT q, COUNT(*) AS n FROM act GROUP BY q
),
newc AS (
  SELECT fq AS q, COUNT(*) AS n FROM firstq GROUP BY fq
),
ret AS (
  SELECT b.q, COUNT(*) AS n
  FROM act a JOIN act b ON a.cid = b.cid AND b.q = a.q + 1
  GROUP BY b.q
),
per AS (
  SELECT t.i AS q, COALESCE(s.n, 0) AS st, COALESCE(r.n, 0) AS re,
    COALESCE(w.n, 0) AS nw, COALESCE(e.n, 0) AS en
  FROM ts t
  LEFT JOIN endc s ON s.q = t.i - 1
  LEFT JOIN ret r ON r.q = t.i
  LEFT JOIN newc w ON w.q = t.i
  LEFT JOIN endc e ON e.q = t.i
)
SELECT CONCAT(CAST(CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST((q) * 7 AS INTEGER) AS DATE)) AS INTEGER) AS VARCHAR), '-W', LPAD(CAST(((CAST(EXTRACT(DOY FROM CAST(DATE '1970-01-01' + CAST((q) * 7 AS INTEGER) AS DATE)) AS INTEGER) - 1) // (7)) + 1 AS VARCHAR), 2, '0')) AS "period",
  st AS "start_customers",
  re AS "retained",
  st - re AS "churned",
  nw AS "new",
  en - re - nw AS "reactivated",
  en AS "end_customers",
  CASE WHEN st > 0 THEN CAST(re AS DOUBLE) / st END AS "retention_rate",
  CASE WHEN st > 0 THEN CAST(st - re AS DOUBLE) / st END AS "churn_rate",
  (q = ap AND ap1 = ap) AS "partial_period"
FROM per CROSS JOIN bounds
ORDER BY q
