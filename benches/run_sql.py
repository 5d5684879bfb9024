#!/usr/bin/env python3
"""Run one benches/sql/*.sql file with DuckDB over a transactions file; write its CSV.

    python benches/run_sql.py SQL_FILE TRANSACTIONS(.csv|.parquet) OUT.csv

The SQL reads a view `tx` (order_id, customer_id, order_date, category, amount), created
here over read_csv_auto(...) or read_parquet(...), so DuckDB scans the file itself inside
the query, like `retention` does. Prints the in-process query seconds on stderr (the
benchmark times the whole process, Python start-up included).
"""
import os
import sys
import time

import duckdb


def main():
    sql_file, tx, out = sys.argv[1:4]
    sql = open(sql_file).read().strip().rstrip(";")
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if os.environ.get("DUCKDB_MEMORY_LIMIT"):  # benches/memlimit.sh: spill past the limit
        con.execute(f"SET memory_limit = '{os.environ['DUCKDB_MEMORY_LIMIT']}'")
        con.execute(f"SET temp_directory = '{out}.duckdb-tmp'")
    src = f"read_parquet('{tx}')" if tx.endswith(".parquet") else f"read_csv_auto('{tx}')"
    con.execute(f"CREATE VIEW tx AS SELECT * FROM {src}")
    con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
    print(f"duckdb query {time.perf_counter() - t0:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
