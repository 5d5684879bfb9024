#!/usr/bin/env python3
"""`retention sql` against the native reports: every emitted query is run on DuckDB (and,
transpiled by sqlglot, the Spark, BigQuery, Snowflake and Postgres ones; with SPARK=1 the
Spark query in pyspark local mode) and its result compared with `retention REPORT
--format csv` on the same rows: integers exactly, money to the cent, other numbers to
1e-9 (relative).

Install (a venv of its own; Python 3.10+):

    python3 -m venv /tmp/venv-sql
    /tmp/venv-sql/bin/pip install -r tests/sql_check/requirements.txt
    # SPARK=1 also needs: pip install -r tests/sql_check/requirements-spark.txt and a
    # JDK 17 (Debian: apt-get install openjdk-17-jre-headless)
    # (.ci/run does all of this when SQL_CHECK=1 or SPARK=1)

Run (after `cargo build`; RETENTION_BIN defaults to target/debug/retention):

    /tmp/venv-sql/bin/python tests/sql_check/check.py            # shop, tiny, generated 100k
    /tmp/venv-sql/bin/python tests/sql_check/check.py --write-expected
        # also rewrites testdata/expected/sql/: the DuckDB query text and result of each
        # case on the bundled shop, which `cargo test --test e2e sql::` compares with the
        # binary's SQL and native output without Python

Exit status 1 when any comparison fails.
"""
import argparse
import csv
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from datetime import date, timedelta

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED = os.path.join(ROOT, "testdata", "expected", "sql")



def read_cases():
    """tests/sql_check/cases.tsv (shared with `cargo test --test e2e sql::`): name, sql report,
    flags of both commands, the native command."""
    out = []
    with open(os.path.join(ROOT, "tests", "sql_check", "cases.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, report, flags, cmd = line.rstrip("\n").split("\t")
            flags = flags.replace("{root}", ROOT)  # paths in flags are under the crate root
            out.append((name, report, flags.split(), cmd.split()))
    return out


CASES = read_cases()

INTEGER = {"period_index", "cohort_size", "active", "start_customers", "retained", "churned", "new",
           "reactivated", "end_customers", "customers", "recency_days", "frequency", "r_score",
           "f_score", "m_score"}
MONEY = {"revenue", "monetary", "monetary_value", "cumulative_revenue", "ltv", "mean_monetary"}


def native_columns(report, header):
    """The native columns a report's SQL reproduces (ltv-summary: a subset, renamed)."""
    if report == "ltv-summary":
        return {"customer_id": "customer_id", "frequency": "frequency", "recency": "recency",
                "T": "T", "monetary": "monetary_value"}
    return {h: h for h in header}


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"$ {' '.join(args)}\nexit {p.returncode}\n{p.stderr}")
    return p.stdout


def native(bin_, data, case):
    _, report, flags, cmd = case
    out = run([bin_, *cmd, "-t", data["path"], *flags, "-f", "csv", "-q"])
    rows = list(csv.reader(io.StringIO(out)))
    header, body = rows[0], rows[1:]
    keep = native_columns(report, header)
    idx = [header.index(k) for k in keep]
    return list(keep.values()), [[r[i] for i in idx] for r in body]


def sql_text(bin_, data, case, dialect):
    _, report, flags, _ = case
    return run([bin_, "sql", report, "--dialect", dialect, "--table", "tx", *data["map"], *flags])


def cell(v, digits=None):
    """A DuckDB/Spark value as the native CSV writes it (before the numeric comparison);
    with `digits`, floats to that many significant digits (the stored results: DuckDB's
    parallel sums vary in the last digits from run to run)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if digits and isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def same(col, a, b):
    if a == b:
        return True
    if a == "" or b == "":
        return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if col in INTEGER:
        return x == y and x == int(x)
    if col in MONEY:
        return abs(x - y) <= 0.005
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def compare(header, want, got_header, got):
    if got_header != header:
        return f"columns {got_header} != {header}"
    if len(got) != len(want):
        return f"{len(got)} rows != {len(want)} rows"
    for i, (w, g) in enumerate(zip(want, got)):
        for col, a, b in zip(header, w, g):
            if not same(col, a, b):
                return f"row {i + 1} column {col}: sql {b!r} != native {a!r} (row {g} vs {w})"
    return None


def duck(con, sql, digits=None):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return names, [[cell(v, digits) for v in r] for r in cur.fetchall()]


def load_duckdb(data):
    con = duckdb.connect()
    cols = ", ".join(f"'{k}': '{v}'" for k, v in data["types"].items())
    con.execute(f"CREATE TABLE tx AS SELECT * FROM read_csv('{data['path']}', header = true, "
                f"columns = {{{cols}}})")
    return con


def generate(path, rows, seed=17):
    """A synthetic export of about `rows` rows with the cases the definitions turn on:
    orders over several lines, partly and fully refunded orders, separate return rows,
    free orders, rows without an order id, same-day orders, and rows the loader drops
    (empty customer id or amount)."""
    rnd = random.Random(seed)
    start = date(2021, 3, 1)
    span = 1300
    out = []
    n_order = 0
    cust = 0
    while len(out) < rows:
        cust += 1
        cid = f"K{cust:06d}"
        day = rnd.randrange(span)
        rate = rnd.uniform(0.005, 0.08)
        alive = rnd.uniform(0.05, 0.5)
        while day < span:
            n_order += 1
            oid = f"O{n_order:08d}"
            d = (start + timedelta(days=day)).isoformat()
            kind = rnd.random()
            lines = 1 if rnd.random() < 0.7 else rnd.randint(2, 4)
            amounts = [round(rnd.uniform(1, 120), 2) for _ in range(lines)]
            if kind < 0.03:
                amounts = [0.0] * lines  # a free order
            elif kind < 0.06:
                amounts.append(-round(sum(amounts), 2))  # fully refunded in the order
            elif kind < 0.10:
                amounts.append(-round(amounts[0] / 2, 2))  # partly refunded in the order
            no_id = rnd.random() < 0.03
            for a in amounts:
                out.append([("" if no_id else oid), cid, d, f"{a:.2f}"])
            if rnd.random() < 0.05:  # a separate return row later, its own order id
                rd = min(span - 1, day + rnd.randint(1, 20))
                out.append([f"R{n_order:08d}", cid, (start + timedelta(days=rd)).isoformat(),
                            f"{-round(amounts[0], 2):.2f}"])
            if rnd.random() < 0.02:  # another order the same day
                n_order += 1
                out.append([f"O{n_order:08d}", cid, d, f"{rnd.uniform(1, 50):.2f}"])
            if rnd.random() < alive:
                break
            day += 1 + int(rnd.expovariate(rate))
    for i in range(0, len(out), 997):  # rows the loader drops
        out[i] = [out[i][0], "", out[i][2], out[i][3]] if i % 2 else [out[i][0], out[i][1], out[i][2], ""]
    rnd.shuffle(out)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "date", "amount"])
        w.writerows(out)
    return len(out)


def transpiled(sql, dialect):
    """`sql` in DuckDB's dialect, by sqlglot. sqlglot 30 writes Snowflake's
    `, LATERAL FLATTEN(INPUT => ARRAY_GENERATE_RANGE(a, b)) f` as a broken
    `,  CROSS JOIN UNNEST(INPUT => RANGE(a, b)) AS f(SEQ, ...)`: that one construct is
    repaired here (the query's own text is checked by sqlparser in `cargo test`)."""
    import re

    import sqlglot
    out = sqlglot.transpile(sql, read=dialect, write="duckdb")[0]
    if dialect == "snowflake":
        out = re.sub(r",\s+CROSS JOIN UNNEST\(INPUT => (RANGE\(.*?\))\) AS (\w+)"
                     r"\(SEQ, KEY, PATH, INDEX, VALUE, THIS\)",
                     r" CROSS JOIN UNNEST(\1) AS \2(value)", out)
    return out


def spark_session():
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("retention-sql")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_load(spark, data):
    from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType
    t = {"VARCHAR": StringType(), "DATE": DateType(), "DOUBLE": DoubleType()}
    schema = StructType([StructField(k, t[v]) for k, v in data["types"].items()])
    df = spark.read.csv(data["path"], header=True, schema=schema)
    df.createOrReplaceTempView("tx")


def spark_rows(spark, sql):
    df = spark.sql(sql)
    return df.columns, [[cell(v) for v in r] for r in df.collect()]


def round_trip(bin_, data, con, tmp, spark=None):
    """ltv --summary on the SQL's summary (computed by DuckDB, or by Spark) gives the
    parameters of ltv on the transactions."""
    path = os.path.join(tmp, "summary.csv")
    if spark is None:
        sql = sql_text(bin_, data, CASES[0], "duckdb")
        con.execute(f"COPY ({sql.strip().rstrip(';')}) TO '{path}' (HEADER, DELIMITER ',')")
    else:
        header, rows = spark_rows(spark, sql_text(bin_, data, CASES[0], "spark"))
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
    run([bin_, "ltv", "--summary", path, "--model", "bgnbd", "--params", a, "-f", "csv", "-q"])
    run([bin_, "ltv", "-t", data["path"], "--model", "bgnbd", "--params", b, "-f", "csv", "-q"])
    pa, pb = json.load(open(a)), json.load(open(b))
    worst = 0.0
    keys = {"bgnbd": ["r", "alpha", "a", "b", "log_likelihood"],
            "gamma_gamma": ["p", "q", "v", "log_likelihood"]}
    for model, names in keys.items():
        if pa[model] is None or pb[model] is None:
            if (pa[model] is None) != (pb[model] is None):
                return math.inf, pb
            continue  # not fitted on either (e.g. Gamma-Gamma without positive spend)
        for k in names:
            v, w = pb[model][k], pa[model][k]
            worst = max(worst, abs(w - v) / max(1.0, abs(v)))
    return worst, pb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("RETENTION_BIN", os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "retention")))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--write-expected", action="store_true")
    ap.add_argument("--only", help="comma-separated data sets: tiny,shop,generated")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="retention-sql-")
    gen = os.path.join(tmp, "generated.csv")
    n = generate(gen, a.rows)
    print(f"generated {n} rows into {gen}")
    shop_types = {"order_id": "VARCHAR", "customer_id": "VARCHAR", "order_date": "DATE",
                  "category": "VARCHAR", "amount": "DOUBLE"}
    sets = [
        {"name": "tiny", "path": os.path.join(ROOT, "testdata", "transactions.csv"),
         "map": ["--order-col", "order_id"],
         "types": {"order_id": "VARCHAR", "customer_id": "VARCHAR", "date": "DATE",
                   "category": "VARCHAR", "amount": "DOUBLE"}},
        {"name": "shop", "path": os.path.join(ROOT, "examples", "shop", "transactions.csv"),
         "map": ["--date-col", "order_date", "--order-col", "order_id"], "types": shop_types},
        {"name": "generated", "path": gen, "map": ["--order-col", "order_id"],
         "types": {"order_id": "VARCHAR", "customer_id": "VARCHAR", "date": "DATE", "amount": "DOUBLE"}},
    ]
    if a.only:
        sets = [s for s in sets if s["name"] in a.only.split(",")]
    spark = spark_session() if os.environ.get("SPARK") == "1" else None
    failures, passed, skipped = [], 0, []
    if a.write_expected:
        os.makedirs(EXPECTED, exist_ok=True)
    for data in sets:
        con = load_duckdb(data)
        if spark:
            spark_load(spark, data)
        for case in CASES:
            name = case[0]
            try:
                header, want = native(a.bin, data, case)
            except RuntimeError as e:
                skipped.append(f"{data['name']}/{name}: native report failed: {str(e).splitlines()[-1]}")
                continue
            for dialect in ("duckdb", "spark", "bigquery", "snowflake", "postgres"):
                sql = sql_text(a.bin, data, case, dialect)
                label = f"{data['name']}/{name}/{dialect}"
                try:
                    q = sql if dialect == "duckdb" else transpiled(sql, dialect)
                    got_header, got = duck(con, q)
                except Exception as e:  # noqa: BLE001 (a report line, not a crash)
                    failures.append(f"{label}: {type(e).__name__}: {str(e).splitlines()[0]}")
                    continue
                err = compare(header, want, got_header, got)
                if err:
                    failures.append(f"{label}: {err}")
                else:
                    passed += 1
                if dialect == "duckdb" and a.write_expected and data["name"] == "shop":
                    with open(os.path.join(EXPECTED, f"{name}.sql"), "w") as f:
                        f.write(sql)
                    with open(os.path.join(EXPECTED, f"{name}.csv"), "w", newline="") as f:
                        w = csv.writer(f, lineterminator="\n")
                        w.writerows([got_header, *duck(con, q, digits=12)[1]])
                if dialect == "spark" and spark:
                    label = f"{data['name']}/{name}/pyspark"
                    try:
                        got_header, got = spark_rows(spark, sql)
                        err = compare(header, want, got_header, got)
                    except Exception as e:  # noqa: BLE001
                        err = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    if err:
                        failures.append(f"{label}: {err}")
                    else:
                        passed += 1
        for engine in ([None, spark] if spark else [None]):
            if data["name"] == "tiny":
                break
            worst, params = round_trip(a.bin, data, con, tmp, engine)
            line = f"{data['name']}: ltv --summary on the {'Spark' if engine else 'DuckDB'}-computed " \
                   f"summary vs ltv on the transactions: largest relative difference of " \
                   f"r, alpha, a, b, p, q, v and the log-likelihoods {worst:.2e}"
            print(line)
            if worst > 1e-6:
                failures.append(line)
            else:
                passed += 1
    for s in skipped:
        print(f"skipped: {s}")
    for f in failures:
        print(f"FAILED: {f}")
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
