-- retention sql cohort --dialect duckdb: the columns and values of `retention cohort --format csv`
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
cust AS (
  SELECT cid, CAST(EXTRACT(YEAR FROM fd) AS INTEGER) AS c FROM firstp
),
sizes AS (
  SELECT c, COUNT(*) AS n FROM cust GROUP BY c
),
bounds AS (
  SELECT CAST(EXTRACT(YEAR FROM cutoff_d) AS INTEGER) AS ap,
    CAST(EXTRACT(YEAR FROM CAST(DATE '1970-01-01' + CAST(DATE_DIFF('day', DATE '1970-01-01', cutoff_d) + 1 AS INTEGER) AS DATE)) AS INTEGER) AS ap1,
    (SELECT MIN(c) FROM cust) AS c0
  FROM cutoff
),
kb AS (
  SELECT 0 AS k0, ap - c0 AS kmax FROM bounds
),
ks AS (
  SELECT UNNEST(RANGE(k0, kmax + 1)) AS i FROM kb
),
grid AS (
  SELECT s.c, s.n, ks.i AS k FROM sizes s CROSS JOIN ks
),
act AS (
  SELECT DISTINCT cid, CAST(EXTRACT(YEAR FROM d) AS INTEGER) AS q FROM purchases
),
cnt AS (
  SELECT u.c, a.q - u.c AS k, COUNT(*) AS active
  FROM act a JOIN cust u ON a.cid = u.cid
  GROUP BY u.c, a.q - u.c
),
txp AS (
  SELECT cid, amt, CAST(EXTRACT(YEAR FROM d) AS INTEGER) AS q FROM tx
),
rev AS (
  SELECT u.c, t.q - u.c AS k, SUM(t.amt) AS rev
  FROM txp t JOIN cust u ON t.cid = u.cid
  WHERE t.q >= u.c
  GROUP BY u.c, t.q - u.c
),
cells AS (
  SELECT g.c, g.k, g.n, b.ap, b.ap1, g.c + g.k <= b.ap AS obs,
    COALESCE(x.active, 0) AS act, COALESCE(r.rev, 0) AS rev, COALESCE(r0.rev, 0) AS rev0
  FROM grid g CROSS JOIN bounds b
  LEFT JOIN cnt x ON x.c = g.c AND x.k = g.k
  LEFT JOIN rev r ON r.c = g.c AND r.k = g.k
  LEFT JOIN rev r0 ON r0.c = g.c AND r0.k = 0
)
SELECT CAST(c AS VARCHAR) AS "cohort",
  k AS "period_index",
  n AS "cohort_size",
  CASE WHEN obs THEN act END AS "active",
  CASE WHEN obs THEN CAST(act AS DOUBLE) / n END AS "retention",
  CASE WHEN obs THEN rev END AS "revenue",
  CASE WHEN obs AND rev0 > 0 THEN rev / rev0 END AS "revenue_retention",
  (ap1 = ap AND c + k = ap) AS "partial_period"
FROM cells
ORDER BY c, k
