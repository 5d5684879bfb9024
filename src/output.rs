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
    if f.is_finite() {
        // Round away binary noise (0.30000000000000004) while keeping 13 significant digits.
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
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(df.get_column_names().iter().map(|n| n.as_str()))?;
    let cols = df.columns();
    for i in 0..df.height() {
        let mut rec = Vec::with_capacity(cols.len());
        for c in cols {
            rec.push(cell_text(&c.get(i)?));
        }
        w.write_record(&rec)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
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
