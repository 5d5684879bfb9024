-- retention sql ltv-summary --dialect duckdb: the columns and values of `retention ltv --model bgnbd --per-customer --format csv`
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
pdays AS (
  SELECT cid, d, SUM(amt) AS v FROM purchases GROUP BY cid, d
),
custs AS (
  SELECT cid, COUNT(*) - 1 AS x, MIN(d) AS fd, MAX(d) AS ld FROM pdays GROUP BY cid
),
rep AS (
  SELECT p.cid, SUM(p.v) AS rv
  FROM pdays p JOIN custs c ON p.cid = c.cid
  WHERE p.d > c.fd
  GROUP BY p.cid
)
SELECT c.cid AS "customer_id",
  CAST(c.x AS BIGINT) AS "frequency",
  CAST(DATE_DIFF('day', DATE '1970-01-01', c.ld) - DATE_DIFF('day', DATE '1970-01-01', c.fd) AS DOUBLE) / CAST(1 AS DOUBLE) AS "recency",
  CAST(DATE_DIFF('day', DATE '1970-01-01', co.cutoff_d) - DATE_DIFF('day', DATE '1970-01-01', c.fd) AS DOUBLE) / CAST(1 AS DOUBLE) AS "T",
  CASE WHEN c.x > 0 THEN r.rv / c.x END AS "monetary_value"
FROM custs c LEFT JOIN rep r ON r.cid = c.cid CROSS JOIN cutoff co
ORDER BY c.cid
