-- retention sql segment --dialect duckdb: the columns and values of `retention segment --per-customer --format csv`
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
pc AS (
  SELECT cid, MAX(d) AS ld, COUNT(*) AS f FROM purchases GROUP BY cid
),
spend AS (
  SELECT cid, SUM(amt) AS m FROM tx GROUP BY cid
),
rfm AS (
  SELECT p.cid, DATE_DIFF('day', DATE '1970-01-01', c.cutoff_d) - DATE_DIFF('day', DATE '1970-01-01', p.ld) AS rec, p.f, s.m
  FROM pc p JOIN spend s ON s.cid = p.cid CROSS JOIN cutoff c
),
ranked AS (
  SELECT cid, rec, f, m,
    ROW_NUMBER() OVER (ORDER BY rec DESC, cid) - 1 AS rr,
    ROW_NUMBER() OVER (ORDER BY f, cid) - 1 AS fr,
    ROW_NUMBER() OVER (ORDER BY ROUND(m, 6), cid) - 1 AS mr,
    COUNT(*) OVER () AS n
  FROM rfm
),
scored AS (
  SELECT cid, rec, f, m,
    ((rr * 12) // (n)) + 1 AS rs,
    ((fr * 12) // (n)) + 1 AS fs,
    ((mr * 12) // (n)) + 1 AS ms
  FROM ranked
),
seg AS (
  SELECT cid, rec, f, m, rs, fs, ms,
    CASE
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 4 AND 5 AND ((fs * 5 + 11) // (12)) BETWEEN 4 AND 5 AND ((ms * 5 + 11) // (12)) BETWEEN 4 AND 5 THEN 'Champions'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 2 AND 5 AND ((fs * 5 + 11) // (12)) BETWEEN 3 AND 5 AND ((ms * 5 + 11) // (12)) BETWEEN 3 AND 5 THEN 'Loyal'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 4 AND 5 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 1 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 1 THEN 'New'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 3 AND 4 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 1 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 1 THEN 'Promising'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 1 AND 1 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 2 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 2 THEN 'Lost'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 1 AND 2 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 2 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 2 THEN 'Hibernating'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 2 AND 3 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 2 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 2 THEN 'About To Sleep'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 3 AND 5 AND ((fs * 5 + 11) // (12)) BETWEEN 1 AND 3 AND ((ms * 5 + 11) // (12)) BETWEEN 1 AND 3 THEN 'Potential Loyalist'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 2 AND 3 AND ((fs * 5 + 11) // (12)) BETWEEN 2 AND 3 AND ((ms * 5 + 11) // (12)) BETWEEN 2 AND 3 THEN 'Need Attention'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 1 AND 1 AND ((fs * 5 + 11) // (12)) BETWEEN 4 AND 5 AND ((ms * 5 + 11) // (12)) BETWEEN 4 AND 5 THEN 'Can''t Lose Them'
      WHEN ((rs * 5 + 11) // (12)) BETWEEN 1 AND 2 AND ((fs * 5 + 11) // (12)) BETWEEN 2 AND 5 AND ((ms * 5 + 11) // (12)) BETWEEN 2 AND 5 THEN 'At Risk'
      ELSE 'Others'
    END AS sname
  FROM scored
)
SELECT cid AS "customer_id",
  rec AS "recency_days",
  f AS "frequency",
  m AS "monetary",
  rs AS "r_score",
  fs AS "f_score",
  ms AS "m_score",
  CONCAT(CAST(rs AS VARCHAR), '-', CAST(fs AS VARCHAR), '-', CAST(ms AS VARCHAR)) AS "rfm",
  sname AS "segment"
FROM seg
ORDER BY cid
