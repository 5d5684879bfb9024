//! Output: one [`Report`] per command, written as a human table or a machine format,
//! to stdout or atomically to a file.
//!
//! Machine formats (csv, json, ndjson, parquet) carry the long/tidy frame with fractions;
//! human formats (table, markdown) show the report's views with percentages.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use polars::prelude::*;
use tempfile::NamedTempFile;

use crate::error::bad;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
    Markdown,
}

impl Format {
    fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => Format::Csv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" | "pq" => Format::Parquet,
            "md" | "markdown" => Format::Markdown,
            "txt" => Format::Table,
            _ => return None,
        })
    }
}

/// A human layout of (part of) a report: a title, a header and string cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub title: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Leading columns always shown; trailing columns are dropped to fit the terminal.
    pub fixed_columns: usize,
}

/// What a command produces.
#[derive(Debug)]
pub struct Report {
    /// Long/tidy data for machine formats.
    pub data: DataFrame,
    /// Human layouts; when empty, the data frame is shown with `percent_columns` as %.
    pub views: Vec<View>,
    pub percent_columns: Vec<&'static str>,
    /// Footnotes under human output.
    pub notes: Vec<String>,
}

/// Where the output goes, decided (and checked) before any work is done.
pub struct Destination {
    format: Format,
    file: Option<(PathBuf, NamedTempFile)>,
    terminal: bool,
}

impl Destination {
    /// Resolve the format and, for `-o`, create the temporary file beside the target now,
    /// so that an unwritable path fails before the data is read.
    /// `format` is `--format`, `output` is `-o`.
    pub fn prepare(format: Option<Format>, output: Option<&Path>) -> Result<Destination> {
        let stdout_tty = std::io::stdout().is_terminal();
        match output {
            Some(path) => {
                let format = format
                    .or_else(|| Format::from_extension(path))
                    .ok_or_else(|| {
                        bad(format!(
                            "cannot tell the format of '{}' from its extension; give --format",
                            path.display()
                        ))
                    })?;
                if path.is_dir() {
                    return Err(bad(format!("output '{}' is a directory", path.display())));
                }
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".retention-")
                    .suffix(".tmp")
                    .tempfile_in(&dir)
                    .map_err(|e| bad(format!("cannot write output '{}': {e}", path.display())))?;
                Ok(Destination {
                    format,
                    file: Some((path.to_path_buf(), tmp)),
                    terminal: false,
                })
            }
            None => {
                let format = format.unwrap_or(if stdout_tty {
                    Format::Table
                } else {
                    Format::Csv
                });
                if format == Format::Parquet && stdout_tty {
                    return Err(bad(
                        "refusing to write Parquet to a terminal; use -o FILE.parquet or a pipe",
                    ));
                }
                Ok(Destination {
                    format,
                    file: None,
                    terminal: stdout_tty,
                })
            }
        }
    }

    /// Render and write the report; a file is renamed into place only when complete.
    /// Its notes are footnotes of a table or Markdown; with a machine format (CSV, JSON,
    /// Parquet) they go to stderr, so that no format loses them.
    pub fn write(self, report: &Report) -> Result<()> {
        // The spinner goes before the result is printed.
        crate::progress::clear();
        if !matches!(self.format, Format::Table | Format::Markdown) {
            let name = COMMAND.get().copied().unwrap_or("");
            for n in &report.notes {
                // (a table's `*` mark means nothing in CSV: its column says it)
                let n = n.strip_prefix("note: ").unwrap_or(n);
                let n = n.strip_prefix("* ").unwrap_or(n);
                eprintln!("retention {name}: note: {n}");
            }
        }
        // On a terminal fit its width; elsewhere honour $COLUMNS when set.
        let width = if self.terminal {
            terminal_width()
        } else {
            std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
        };
        let bytes = render(report, self.format, width)?;
        match self.file {
            Some((path, mut tmp)) => {
                tmp.write_all(&bytes)
                    .and_then(|_| tmp.as_file().sync_all())
                    .with_context(|| format!("cannot write output '{}'", path.display()))?;
                tmp.persist(&path).map_err(|e| {
                    bad(format!(
                        "cannot write output '{}': {}",
                        path.display(),
                        e.error
                    ))
                })?;
                Ok(())
            }
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                out.flush()?;
                Ok(())
            }
        }
    }
}

/// The running command's name, for the messages written here (set once by `run`).
pub static COMMAND: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Write a side file (e.g. `--params`) atomically: a temporary file beside it, renamed
/// into place when complete.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let err = |e: &dyn std::fmt::Display| bad(format!("cannot write '{}': {e}", path.display()));
    let mut tmp = NamedTempFile::new_in(dir).map_err(|e| err(&e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| err(&e))?;
    tmp.persist(path).map_err(|e| err(&e.error))?;
    Ok(())
}

fn terminal_width() -> Option<u16> {
    let mut t = Table::new();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.width()
}

/// Render a report in a format (pure; `width` limits human tables).
pub fn render(report: &Report, format: Format, width: Option<u16>) -> Result<Vec<u8>> {
    let mut df = report.data.clone();
    Ok(match format {
        Format::Csv => to_csv(&df)?,
        Format::Json => {
            let rows = to_json_rows(&df)?;
            let mut v = serde_json::to_vec_pretty(&rows)?;
            v.push(b'\n');
            v
        }
        Format::Ndjson => {
            let mut v = Vec::new();
            for row in to_json_rows(&df)? {
                serde_json::to_writer(&mut v, &row)?;
                v.push(b'\n');
            }
            v
        }
        Format::Parquet => {
            let mut v = Vec::new();
            ParquetWriter::new(&mut v)
                .finish(&mut df)
                .map_err(|e| anyhow::anyhow!("cannot encode Parquet: {e}"))?;
            v
        }
        Format::Table => human(report, width, false)?.into_bytes(),
        Format::Markdown => human(report, None, true)?.into_bytes(),
    })
}

/// One cell as text for csv/markdown: empty for null, shortest round-trip floats.
fn cell_text(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => format_float(*f),
        AnyValue::Float32(f) => format_float(*f as f64),
        AnyValue::Date(d) => crate::period::date_from_days(*d).to_string(),
        other => other.to_string(),
    }
}

fn format_float(f: f64) -> String {
    let mut s = String::new();
    write_float(f, &mut s);
    s
}

/// The machine formats' text of a float: rounded to 13 significant digits (away goes
/// binary noise such as 0.30000000000000004), then the shortest text that reads back as
/// that value, positional as Rust's `Display` writes it; nothing for NaN and ±∞. Appended
/// to `out`. The same text as [`format_float_reference`], much faster: the value's
/// shortest digits (ryu) rounded to 13, which is rounding the value itself except within
/// 0.002 of a unit of a tie (the digits' distance to the exact value is below 0.0012
/// units for normal numbers): those, and subnormal values, take the reference's way.
fn write_float(f: f64, out: &mut String) {
    if !f.is_finite() {
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if f.abs() < 1e-290 {
        out.push_str(&format_float_reference(f));
        return;
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(f);
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (mant, exp) = match body.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (body, 0),
    };
    // digits d1 d2 … and the point's position p: the value is 0.d1d2… × 10^p
    let mut digits = [0u8; 24];
    let mut n = 0usize;
    let mut point = exp;
    let mut seen_point = false;
    for &c in mant.as_bytes() {
        if c == b'.' {
            seen_point = true;
            continue;
        }
        if n == 0 && c == b'0' {
            // a leading zero: before the point it does not count; after, it moves it
            if seen_point {
                point -= 1;
            }
            continue;
        }
        if n == digits.len() {
            out.push_str(&format_float_reference(f));
            return;
        }
        digits[n] = c - b'0';
        n += 1;
        if !seen_point {
            point += 1;
        }
    }
    if n > 13 {
        // the tail after the 13th digit as a fraction of a unit of the 13th
        let mut tail = 0.0;
        let mut scale = 1.0;
        for &d in &digits[13..n] {
            scale /= 10.0;
            tail += f64::from(d) * scale;
        }
        if (tail - 0.5).abs() <= 0.002 {
            out.push_str(&format_float_reference(f));
            return;
        }
        n = 13;
        if tail > 0.5 {
            let mut k = 13;
            loop {
                if k == 0 {
                    // 9999999999999 + 1: one digit, one place up
                    digits[0] = 1;
                    n = 1;
                    point += 1;
                    break;
                }
                k -= 1;
                if digits[k] == 9 {
                    digits[k] = 0;
                } else {
                    digits[k] += 1;
                    break;
                }
            }
        }
    }
    while n > 1 && digits[n - 1] == 0 {
        n -= 1;
    }
    if neg {
        out.push('-');
    }
    let d = |k: usize| char::from(b'0' + digits[k]);
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..-point {
            out.push('0');
        }
        (0..n).for_each(|k| out.push(d(k)));
    } else {
        let p = point as usize;
        for k in 0..n.max(p) {
            if k == p {
                out.push('.');
            }
            out.push(if k < n { d(k) } else { '0' });
        }
    }
}

/// The definition of [`write_float`]'s text: `{:.12e}` (13 significant digits, exact
/// rounding), read back, and written by `Display`.
fn format_float_reference(f: f64) -> String {
    if f.is_finite() {
        let r = format!("{:.12e}", f).parse::<f64>().unwrap_or(f);
        format!("{r}")
    } else {
        String::new()
    }
}

fn cell_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::Float64(f) => format_float(*f)
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        AnyValue::Int64(i) => Value::from(*i),
        AnyValue::Int32(i) => Value::from(*i),
        AnyValue::UInt32(i) => Value::from(*i),
        AnyValue::UInt64(i) => Value::from(*i),
        other => Value::String(cell_text(other)),
    }
}

fn to_csv(df: &DataFrame) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(df.height() * 16 + 256));
    w.write_record(df.get_column_names().iter().map(|n| n.as_str()))?;
    // Each column read in order through its own typed iterator (no `AnyValue` per cell),
    // every cell written into one reused buffer: the same text as `cell_text`.
    let mut cols: Vec<CsvColumn> = df
        .columns()
        .iter()
        .map(CsvColumn::new)
        .collect::<Result<_>>()?;
    let mut cell = String::new();
    for _ in 0..df.height() {
        for c in cols.iter_mut() {
            cell.clear();
            c.next_into(&mut cell)?;
            w.write_field(cell.as_bytes())?;
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// One column of a frame, cell by cell, as [`cell_text`] writes its cells.
enum CsvColumn<'a> {
    F64(Box<dyn Iterator<Item = Option<f64>> + 'a>),
    Str(Box<dyn Iterator<Item = Option<&'a str>> + 'a>),
    Date(Box<dyn Iterator<Item = Option<i32>> + 'a>),
    Int(Box<dyn Iterator<Item = Option<i64>> + 'a>),
    UInt(Box<dyn Iterator<Item = Option<u64>> + 'a>),
    /// any other type, through `AnyValue`
    Other(&'a Column, usize),
}

impl<'a> CsvColumn<'a> {
    fn new(c: &'a Column) -> Result<Self> {
        Ok(match c.dtype() {
            DataType::Float64 => CsvColumn::F64(Box::new(c.f64()?.iter())),
            DataType::Float32 => {
                CsvColumn::F64(Box::new(c.f32()?.iter().map(|v| v.map(f64::from))))
            }
            DataType::String => CsvColumn::Str(Box::new(c.str()?.iter())),
            DataType::Date => CsvColumn::Date(Box::new(c.date()?.physical().iter())),
            DataType::Int64 => CsvColumn::Int(Box::new(c.i64()?.iter())),
            DataType::Int32 => CsvColumn::Int(Box::new(c.i32()?.iter().map(|v| v.map(i64::from)))),
            DataType::UInt32 => {
                CsvColumn::UInt(Box::new(c.u32()?.iter().map(|v| v.map(u64::from))))
            }
            DataType::UInt64 => CsvColumn::UInt(Box::new(c.u64()?.iter())),
            _ => CsvColumn::Other(c, 0),
        })
    }

    /// Append the next cell's text to `out` (nothing for null).
    fn next_into(&mut self, out: &mut String) -> Result<()> {
        use std::fmt::Write as _;
        let missing = || anyhow::anyhow!("a column ended before the frame's height");
        match self {
            CsvColumn::F64(it) => {
                if let Some(v) = it.next().ok_or_else(missing)? {
                    write_float(v, out);
                }
            }
            CsvColumn::Str(it) => {
                if let Some(v) = it.next().ok_or_else(missing)? {
                    out.push_str(v);
                }
            }
            CsvColumn::Date(it) => {
                if let Some(d) = it.next().ok_or_else(missing)? {
                    write!(out, "{}", crate::period::date_from_days(d))?;
                }
            }
            CsvColumn::Int(it) => {
                if let Some(v) = it.next().ok_or_else(missing)? {
                    write!(out, "{v}")?;
                }
            }
            CsvColumn::UInt(it) => {
                if let Some(v) = it.next().ok_or_else(missing)? {
                    write!(out, "{v}")?;
                }
            }
            CsvColumn::Other(c, i) => {
                out.push_str(&cell_text(&c.get(*i)?));
                *i += 1;
            }
        }
        Ok(())
    }
}

fn to_json_rows(df: &DataFrame) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let cols = df.columns();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut m = serde_json::Map::new();
        for (n, c) in names.iter().zip(cols) {
            m.insert(n.clone(), cell_json(&c.get(i)?));
        }
        rows.push(m);
    }
    Ok(rows)
}

/// A fraction as a percentage with one decimal (0.25 → "25.0%"); empty for null.
pub fn pct(v: Option<f64>) -> String {
    v.filter(|f| f.is_finite())
        .map(|f| format!("{:.1}%", f * 100.0))
        .unwrap_or_default()
}

/// A plain number for tables: integers as is, other values with two decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

fn default_view(report: &Report) -> Result<View> {
    let df = &report.data;
    let header: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut r = Vec::with_capacity(header.len());
        for (n, c) in header.iter().zip(df.columns()) {
            let v = c.get(i)?;
            r.push(match v {
                AnyValue::Float64(f) if report.percent_columns.contains(&n.as_str()) => {
                    pct(Some(f))
                }
                AnyValue::Float64(f) => num(f),
                other => cell_text(&other),
            });
        }
        rows.push(r);
    }
    Ok(View {
        title: None,
        header,
        rows,
        fixed_columns: 1,
    })
}

/// Drop trailing columns so the table fits `width`; returns how many were dropped.
fn fit(view: &View, width: Option<u16>) -> (View, usize) {
    let Some(width) = width else {
        return (view.clone(), 0);
    };
    let col_w = |j: usize| {
        view.rows
            .iter()
            .map(|r| r.get(j).map_or(0, |s| s.chars().count()))
            .chain(std::iter::once(view.header[j].chars().count()))
            .max()
            .unwrap_or(0)
            + 3
    };
    let mut used = 1;
    let mut keep = 0;
    for j in 0..view.header.len() {
        let w = col_w(j);
        if j >= view.fixed_columns && used + w > width as usize {
            break;
        }
        used += w;
        keep = j + 1;
    }
    let dropped = view.header.len() - keep;
    let mut v = view.clone();
    v.header.truncate(keep);
    for r in &mut v.rows {
        r.truncate(keep);
    }
    (v, dropped)
}

fn human(report: &Report, width: Option<u16>, markdown: bool) -> Result<String> {
    let views = if report.views.is_empty() {
        vec![default_view(report)?]
    } else {
        report.views.clone()
    };
    let mut out = String::new();
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(t) = &view.title {
            out.push_str(if markdown { "### " } else { "" });
            out.push_str(t);
            out.push_str("\n\n");
        }
        if markdown {
            out.push_str(&markdown_table(view));
            continue;
        }
        let (v, dropped) = fit(view, width);
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(v.header.clone());
        for r in &v.rows {
            t.add_row(r.clone());
        }
        for j in 1..v.header.len() {
            if let Some(c) = t.column_mut(j) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        if dropped > 0 {
            out.push_str(&format!(
                "({dropped} more columns not shown: widen the terminal, use --max-periods, or --format csv)\n"
            ));
        }
    }
    for n in &report.notes {
        out.push_str(n);
        out.push('\n');
    }
    Ok(out)
}

fn markdown_table(v: &View) -> String {
    let row = |cells: &[String]| {
        let esc: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", esc.join(" | "))
    };
    let seps: Vec<String> = (0..v.header.len())
        .map(|j| if j == 0 { "---" } else { "---:" }.to_string())
        .collect();
    let mut s = row(&v.header) + &row(&seps);
    for r in &v.rows {
        s.push_str(&row(r));
    }
    s
}

/// The human layouts of a report (its views, else the data frame with percentages), for
/// HTML (`retention report`).
pub fn human_views(report: &Report) -> Result<Vec<View>> {
    if report.views.is_empty() {
        Ok(vec![default_view(report)?])
    } else {
        Ok(report.views.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let df = DataFrame::new_infer_height(vec![
            Column::new("cohort".into(), ["2024-01", "2024-02"]),
            Column::new("active".into(), [Some(3i64), None]),
            Column::new("retention".into(), [Some(0.5f64), None]),
        ])
        .unwrap();
        Report {
            data: df,
            views: vec![],
            percent_columns: vec!["retention"],
            notes: vec!["* note".into()],
        }
    }

    #[test]
    fn csv_and_json_keep_fractions_and_nulls() {
        let r = report();
        let csv = String::from_utf8(render(&r, Format::Csv, None).unwrap()).unwrap();
        assert_eq!(csv, "cohort,active,retention\n2024-01,3,0.5\n2024-02,,\n");
        let nd = String::from_utf8(render(&r, Format::Ndjson, None).unwrap()).unwrap();
        assert_eq!(
            nd,
            "{\"cohort\":\"2024-01\",\"active\":3,\"retention\":0.5}\n\
             {\"cohort\":\"2024-02\",\"active\":null,\"retention\":null}\n"
        );
    }

    #[test]
    fn human_formats_show_percentages() {
        let r = report();
        let md = String::from_utf8(render(&r, Format::Markdown, None).unwrap()).unwrap();
        assert!(
            md.starts_with("| cohort | active | retention |\n| --- | ---: | ---: |\n"),
            "{md}"
        );
        assert!(md.contains("| 2024-01 | 3 | 50.0% |"), "{md}");
        let t = String::from_utf8(render(&r, Format::Table, None).unwrap()).unwrap();
        assert!(t.contains("50.0%") && t.ends_with("* note\n"), "{t}");
    }

    /// The fast float text equals its definition (`{:.12e}`, read back, `Display`) on
    /// random bit patterns, short decimals, sums with binary noise, values at and near
    /// ties of the 13th digit, powers of ten, huge, tiny and subnormal values.
    #[test]
    fn fast_float_text_equals_its_definition() {
        let mut state = 2026u64;
        let mut next = || crate::models::se::splitmix64(&mut state);
        let mut vals: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1 + 0.2,
            1.0 / 3.0,
            2.0 / 3.0,
            1e21,
            1e22,
            1e23,
            1e-7,
            123456789012345.0,
            9.9999999999999e-5,
            0.99999999999995,
            9999999999999.5,
            99999999999994.9,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-300,
            1e-290,
            1.2345e-295,
            137.5745833333,
            0.1992266281699,
        ];
        for k in -320..=308 {
            let p = 10f64.powi(k);
            vals.extend([p, -p, p * (1.0 + 1e-15), p * (1.0 - 1e-16)]);
        }
        for _ in 0..200_000 {
            let bits = next();
            let v = f64::from_bits(bits);
            if v.is_finite() {
                vals.push(v);
            }
            // short decimals (money, rates) and their sums
            let cents = (next() % 10_000_000) as f64 / 100.0;
            vals.push(cents);
            vals.push(cents + 0.1 + 0.2);
            vals.push(cents / 7.0);
            // a 13-digit mantissa with a tail at or near a half unit
            let m = 1e12 + (next() % 9_000_000_000_000) as f64;
            let e = (next() % 40) as i32 - 20;
            for tail in [0.5, 0.4999, 0.5001, 0.49999999, 0.50000001, 0.25] {
                vals.push((m + tail) * 10f64.powi(e));
            }
        }
        for v in vals {
            assert_eq!(
                format_float(v),
                format_float_reference(v),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(format_float(v), "");
        }
    }

    /// The typed CSV writer writes each cell as `cell_text` does through `AnyValue`:
    /// every column type reports use, nulls, text needing quotes, a one-column frame of
    /// empty cells.
    #[test]
    fn csv_writer_equals_the_cell_by_cell_text() {
        fn reference(df: &DataFrame) -> Vec<u8> {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(df.get_column_names().iter().map(|n| n.as_str()))
                .unwrap();
            for i in 0..df.height() {
                let rec: Vec<String> = df
                    .columns()
                    .iter()
                    .map(|c| cell_text(&c.get(i).unwrap()))
                    .collect();
                w.write_record(&rec).unwrap();
            }
            w.into_inner().unwrap()
        }
        let mut df = df!(
            "s" => [Some("a,b"), None, Some("say \"hi\""), Some(""), Some("line\nbreak")],
            "f" => [Some(0.1 + 0.2), None, Some(f64::NAN), Some(-0.0), Some(1e22)],
            "f32" => [Some(1.5f32), None, Some(0.1f32), Some(2.0f32), Some(-3.25f32)],
            "i64" => [Some(1i64), None, Some(-7), Some(i64::MAX), Some(0)],
            "i32" => [Some(1i32), Some(2), None, Some(-3), Some(4)],
            "u32" => [Some(1u32), Some(2), Some(3), None, Some(u32::MAX)],
            "u64" => [Some(1u64), Some(2), Some(3), None, Some(u64::MAX)],
            "b" => [Some(true), None, Some(false), Some(true), Some(false)],
        )
        .unwrap();
        let days = Column::new(
            "d".into(),
            [Some(0i32), None, Some(19_000), Some(-400), Some(1)],
        )
        .cast(&DataType::Date)
        .unwrap();
        df.with_column(days).unwrap();
        // several chunks
        let twice = df.vstack(&df).unwrap();
        for frame in [&df, &twice] {
            assert_eq!(
                String::from_utf8(to_csv(frame).unwrap()).unwrap(),
                String::from_utf8(reference(frame)).unwrap()
            );
        }
        let empty_cells = df!("only" => [Some(""), None, Some("x")]).unwrap();
        assert_eq!(to_csv(&empty_cells).unwrap(), reference(&empty_cells));
    }

    #[test]
    fn floats_lose_binary_noise() {
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1.0 / 3.0), "0.3333333333333");
        assert_eq!(format_float(f64::NAN), "");
        assert_eq!(pct(Some(0.25)), "25.0%");
    }

    #[test]
    fn narrow_terminals_drop_trailing_columns() {
        let v = View {
            title: None,
            header: (0..10).map(|i| format!("k{i}")).collect(),
            rows: vec![(0..10).map(|_| "100.0%".to_string()).collect()],
            fixed_columns: 2,
        };
        let (f, dropped) = fit(&v, Some(40));
        assert_eq!(f.header.len(), 4);
        assert_eq!(dropped, 6);
    }
}
