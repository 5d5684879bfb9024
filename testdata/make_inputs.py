#!/usr/bin/env python3
"""Writes the input fixtures of tests/e2e/cli.rs that are not plain UTF-8 CSV, from
testdata/transactions.csv (run from the repository root; needs openpyxl 3.1.5):

    python3 -m venv /tmp/v && /tmp/v/bin/pip install openpyxl==3.1.5
    /tmp/v/bin/python testdata/make_inputs.py

- transactions.xlsx: sheet "orders" with the same rows (dates as real Excel dates, amounts
  as numbers), an empty sheet "empty" and a sheet "notes" with text only.
- transactions_utf16.tsv: Excel's "Unicode text": UTF-16LE with a byte-order mark, tabs.
- encodings/: a Western (windows-1252) and a Thai (windows-874) export of the same rows
  with non-ASCII customer ids, and the UTF-8 file they must read as.
"""
import csv
import datetime
import os

import openpyxl

HERE = os.path.dirname(os.path.abspath(__file__))
rows = list(csv.reader(open(os.path.join(HERE, "transactions.csv"), encoding="utf-8")))
header, data = rows[0], rows[1:]

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "orders"
ws.append(header)
for r in data:
    d = datetime.datetime.strptime(r[2], "%Y-%m-%d")
    ws.append([r[0], r[1], d, r[3], float(r[4])])
    ws.cell(row=ws.max_row, column=3).number_format = "yyyy-mm-dd"
wb.create_sheet("empty")
notes = wb.create_sheet("notes")
notes.append(["exported by the shop system"])
wb.save(os.path.join(HERE, "transactions.xlsx"))

text = "".join("\t".join(r) + "\r\n" for r in rows)
with open(os.path.join(HERE, "transactions_utf16.tsv"), "wb") as f:
    f.write(b"\xff\xfe" + text.encode("utf-16-le"))

os.makedirs(os.path.join(HERE, "encodings"), exist_ok=True)
names = {"a": "Müller", "b": "Zoë", "c": "José", "d": "Ærø", "e": "Façade"}
thai = {"a": "สมชาย", "b": "สมหญิง", "c": "ประเสริฐ", "d": "วิไล", "e": "บุญมี"}
for fname, mapping, enc in [
    ("western_windows1252.csv", names, "cp1252"),
    ("thai_windows874.csv", thai, "cp874"),
]:
    lines = [",".join(header)] + [
        ",".join([r[0], mapping[r[1]]] + r[2:]) for r in data
    ]
    body = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "encodings", fname), "wb") as f:
        f.write(body.encode(enc))
    with open(os.path.join(HERE, "encodings", fname.replace(".csv", "_utf8.csv")), "wb") as f:
        f.write(body.encode("utf-8"))
