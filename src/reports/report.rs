//! The directory of `retention report` (its sections are computed by
//! `commands::report`): one table per report (CSV or Parquet), `summary.json`, the charts
//! and a self-contained `index.html`, the dashboard's tiles among them. Everything is
//! written into a temporary directory beside DIR ([`Place`]), which replaces DIR only
//! when complete ([`publish`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::charts::{self, Chart, ChartFormat};
use crate::error::bad;
use crate::load::Dataset;
use crate::output::{self, Format, Report, View};
use crate::params::{ReportFormat, ReportParams};
use crate::progress::Progress;
use crate::reports;

/// Rows of a table shown in index.html (the file has them all).
const HTML_ROWS: usize = 60;
/// Tables longer than this are folded (`<details>`), so the page stays a dashboard; a
/// list of figures (two columns: name, value) only past twice as many.
const FOLD_ROWS: usize = 20;

/// One section of the report.
pub struct Section {
    /// File stem (cohort → cohort.csv).
    pub name: &'static str,
    pub title: String,
    /// Err: the report could not be computed on this data (the reason).
    pub report: std::result::Result<Report, String>,
    pub chart: Option<Chart>,
    /// Time taken by the report's core.
    pub seconds: f64,
}

/// The report's directory, checked and its temporary sibling created before any data is
/// read (an unwritable place fails first); the temporary directory is removed on any
/// failure (dropped).
pub struct Place {
    out: PathBuf,
    parent: PathBuf,
    base: String,
    tmp: tempfile::TempDir,
}

impl Place {
    pub fn prepare(out: &Path) -> Result<Place> {
        let out = out.to_path_buf();
        if out.exists() && !out.is_dir() {
            return Err(bad(format!(
                "--out '{}' exists and is not a directory",
                out.display()
            )));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .ok_or_else(|| bad(format!("--out '{}': not a directory name", out.display())))?;
        if !parent.is_dir() {
            return Err(bad(format!(
                "--out '{}': the parent directory '{}' does not exist",
                out.display(),
                parent.display()
            )));
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{base}.tmp-"))
            .tempdir_in(&parent)
            .map_err(|e| bad(format!("cannot write '{}': {e}", parent.display())))?;
        Ok(Place {
            out,
            parent,
            base,
            tmp,
        })
    }
}

/// What the page is made of: the computed sections, the figures as of the previous
/// period (the tiles' changes), and the loading time.
pub struct Contents {
    pub sections: Vec<Section>,
    pub previous: Previous,
    /// Seconds taken to load the input.
    pub loaded: f64,
}

/// Write every table, chart, summary.json and index.html into the place's temporary
/// directory, then swap it in.
pub fn publish(
    place: Place,
    p: &ReportParams,
    ds: &Dataset,
    contents: Contents,
    progress: &Progress,
) -> Result<()> {
    let Place {
        out,
        parent,
        base,
        tmp,
    } = place;
    let Contents {
        sections,
        previous,
        loaded,
    } = contents;
    let (format_v, png) = (p.format, p.png);
    let data = charts::data_name(&p.transactions);
    let as_of = ds.as_of.to_string();
    let period = p.period.name().to_string();

    progress.set("writing");
    let (ext, format) = match format_v {
        ReportFormat::Csv => ("csv", Format::Csv),
        ReportFormat::Parquet => ("parquet", Format::Parquet),
    };
    let chart_format = if png {
        ChartFormat::Png
    } else {
        ChartFormat::Svg
    };
    // Under a fixed clock (SOURCE_DATE_EPOCH) the same data gives the same bytes: no timings.
    let timed = std::env::var_os("SOURCE_DATE_EPOCH").is_none();
    let mut files = Vec::new();
    let mut html_sections = String::new();
    let mut figures = String::new();
    for s in &sections {
        let _ = write!(
            html_sections,
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            s.name,
            esc(&s.title)
        );
        let report = match &s.report {
            Ok(r) => r,
            Err(why) => {
                let _ = writeln!(
                    html_sections,
                    "<p class=\"note\">Not computed: {}</p>\n</section>",
                    esc(why)
                );
                continue;
            }
        };
        let file = format!("{}.{ext}", s.name);
        std::fs::write(
            tmp.path().join(&file),
            output::render(report, format, None)?,
        )
        .with_context(|| format!("cannot write '{file}'"))?;
        files.push(file.clone());
        if let Some(c) = &s.chart {
            let chart_file = format!("{}.{}", s.name, chart_format.extension());
            let bytes = charts::render(c, chart_format)?;
            std::fs::write(tmp.path().join(&chart_file), &bytes)
                .with_context(|| format!("cannot write '{chart_file}'"))?;
            files.push(chart_file.clone());
            let _ = writeln!(
                figures,
                "<figure>{}<figcaption><a href=\"#{}\">{}</a> · <a href=\"{chart_file}\">{chart_file}</a></figcaption></figure>",
                inline_image(&bytes, chart_format, c.title()),
                s.name,
                esc(&s.title)
            );
        }
        for v in output::human_views(report)? {
            html_sections.push_str(&html_table(&v));
        }
        for n in &report.notes {
            let _ = writeln!(html_sections, "<p class=\"note\">{}</p>", esc(n));
        }
        let took = if timed {
            format!(" · computed in {:.2} s", s.seconds)
        } else {
            String::new()
        };
        let _ = writeln!(
            html_sections,
            "<p class=\"file\">Table: <a href=\"{file}\">{file}</a>{took}</p>\n</section>"
        );
    }
    let tiles = tiles(&sections, &previous, &period);

    let inputs = inputs(p, ds);
    let summary = sections
        .iter()
        .find(|s| s.name == "summary")
        .and_then(|s| s.report.as_ref().ok());
    let summary_rows: serde_json::Value = match summary {
        Some(r) => serde_json::from_slice(&output::render(r, Format::Json, None)?)?,
        None => serde_json::Value::Null,
    };
    files.push("summary.json".into());
    files.push("index.html".into());
    let now = generated_at()?;
    let generated = now.format("%Y-%m-%d %H:%M UTC").to_string();
    let json = serde_json::json!({
        "as_of": as_of,
        "generated_at": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "inputs": inputs.iter().map(|(role, path, rows)| serde_json::json!({
            "role": role, "path": path, "rows": rows
        })).collect::<Vec<_>>(),
        "warnings": ds.warnings,
        "summary": summary_rows,
        "reports": sections.iter().map(|s| serde_json::json!({
            "name": s.name,
            "title": s.title,
            "error": s.report.as_ref().err(),
            "seconds": timed.then(|| (s.seconds * 100.0).round() / 100.0),
        })).collect::<Vec<_>>(),
        "files": files,
    });
    let mut jb = serde_json::to_vec_pretty(&json)?;
    jb.push(b'\n');
    std::fs::write(tmp.path().join("summary.json"), jb).context("cannot write summary.json")?;

    let html = index_html(&Page {
        data: &data,
        as_of: &as_of,
        generated: &generated,
        inputs: &inputs,
        warnings: &ds.warnings,
        sections: &sections,
        tiles: &tiles,
        figures: &figures,
        body: &html_sections,
        loaded_s: timed.then_some(loaded),
    });
    std::fs::write(tmp.path().join("index.html"), html).context("cannot write index.html")?;

    progress.set("publishing");
    swap_in(tmp, &out, &parent, &base)
}

/// Whole-window figures as of the end of the previous period (before the as-of period).
#[derive(Debug)]
pub struct Previous {
    pub end: chrono::NaiveDate,
    /// The summary's LTV:CAC.
    pub ltv_cac: Option<f64>,
    /// The model's mean predicted CLV.
    pub clv: Option<f64>,
}

impl Default for Previous {
    fn default() -> Self {
        Previous {
            end: chrono::NaiveDate::MIN,
            ltv_cac: None,
            clv: None,
        }
    }
}

/// The input as it stood at `end`: transactions on or before it, as-of `end`, with the
/// columns the whole-window summary and the model read (customer, date, amount, and the
/// order, when the load kept it: orders that span rows are grouped again on the copy).
/// None when no purchase is left.
pub fn previous_dataset(ds: &Dataset, end: chrono::NaiveDate) -> Result<Option<Dataset>> {
    use polars::prelude::*;
    let day = crate::period::days_since_epoch(end);
    let amount = crate::load::amounts::column_name(&ds.tx);
    let kept: Vec<Expr> = ["customer_id", "date", "order_id"]
        .into_iter()
        .filter(|c| ds.tx.column(c).is_ok())
        .map(col)
        .chain(amount.map(col))
        .collect();
    let tx = ds
        .tx
        .clone()
        .lazy()
        .select(kept)
        .filter(col("date").cast(DataType::Int32).lt_eq(lit(day)))
        .collect()?;
    if tx.height() == 0 || !reports::any_purchase(&tx)? {
        return Ok(None);
    }
    Ok(Some(Dataset {
        tx,
        customers: ds.customers.clone(),
        as_of: end,
        warnings: Vec::new(),
        info: Vec::new(),
        stats: ds.stats.clone(),
        ids: ds.ids.clone(),
        // (the copy holds no category)
        categories: None,
    }))
}

/// (role, path, rows loaded).
fn inputs(p: &ReportParams, ds: &Dataset) -> Vec<(String, String, usize)> {
    let mut v = vec![(
        "transactions".to_string(),
        p.transactions.join(", "),
        ds.tx.height(),
    )];
    if let (false, Some(c)) = (p.customers.is_empty(), &ds.customers) {
        v.push(("customers".into(), p.customers.join(", "), c.height()));
    }
    v
}

/// Replace `out` by the finished temporary directory: the old report is moved aside,
/// the new one renamed into place, then the old one removed. If the rename fails the
/// old report is put back.
fn swap_in(tmp: tempfile::TempDir, out: &Path, parent: &Path, base: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempdir is 0700; a published report is readable like any directory.
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755));
    }
    let fail = |e: std::io::Error| {
        bad(format!(
            "cannot publish the report to '{}': {e}",
            out.display()
        ))
    };
    let tmp_path = tmp.keep();
    let cleanup = |p: &Path| {
        let _ = std::fs::remove_dir_all(p);
    };
    if out.exists() {
        let old = match tempfile::Builder::new()
            .prefix(&format!(".{base}.old-"))
            .tempdir_in(parent)
        {
            Ok(d) => d.keep(),
            Err(e) => {
                cleanup(&tmp_path);
                return Err(fail(e));
            }
        };
        // rename onto an empty directory replaces it.
        if let Err(e) = std::fs::rename(out, &old) {
            cleanup(&tmp_path);
            cleanup(&old);
            return Err(fail(e));
        }
        if let Err(e) = std::fs::rename(&tmp_path, out) {
            let _ = std::fs::rename(&old, out);
            cleanup(&tmp_path);
            return Err(fail(e));
        }
        cleanup(&old);
    } else if let Err(e) = std::fs::rename(&tmp_path, out) {
        cleanup(&tmp_path);
        return Err(fail(e));
    }
    Ok(())
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html_table(v: &View) -> String {
    let mut s = String::new();
    if let Some(t) = &v.title {
        let _ = writeln!(s, "<h3>{}</h3>", esc(t));
    }
    let limit = if v.header.len() <= 2 {
        2 * FOLD_ROWS
    } else {
        FOLD_ROWS
    };
    let fold = v.rows.len() > limit;
    if fold {
        let _ = writeln!(
            s,
            "<details><summary>Show the table ({} rows)</summary>",
            v.rows.len()
        );
    }
    s.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in &v.header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in v.rows.iter().take(HTML_ROWS) {
        s.push_str("<tr>");
        for (j, c) in r.iter().enumerate() {
            if j == 0 {
                let _ = write!(s, "<th>{}</th>", esc(c));
            } else {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></div>\n");
    if v.rows.len() > HTML_ROWS {
        let _ = writeln!(
            s,
            "<p class=\"note\">First {HTML_ROWS} of {} rows; the table file has them all.</p>",
            v.rows.len()
        );
    }
    if fold {
        s.push_str("</details>\n");
    }
    s
}

/// A chart inside the page: SVG as is, PNG as a data URI.
fn inline_image(bytes: &[u8], format: ChartFormat, title: &str) -> String {
    match format {
        ChartFormat::Svg => {
            let s = String::from_utf8_lossy(bytes);
            // Drop an XML declaration, if any: not allowed inside HTML.
            let s = match s.find("<svg") {
                Some(i) => &s[i..],
                None => &s[..],
            };
            format!(
                "<div class=\"chart\" role=\"img\" aria-label=\"{}\">{s}</div>",
                esc(title)
            )
        }
        ChartFormat::Png => format!(
            "<img class=\"chart\" alt=\"{}\" src=\"data:image/png;base64,{}\">",
            esc(title),
            base64(bytes)
        ),
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for ch in bytes.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= ch.len() {
                o.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// When the report says it was made: `SOURCE_DATE_EPOCH` (seconds) when set, so that a
/// rerun on the same data gives the same bytes; else now.
fn generated_at() -> Result<chrono::DateTime<chrono::Utc>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .ok_or_else(|| {
                bad(format!(
                    "SOURCE_DATE_EPOCH='{v}': expected seconds since 1970"
                ))
            }),
        Err(_) => Ok(chrono::Utc::now()),
    }
}

/// A number in a report's frame (None when the column is missing or the cell null).
pub fn cell_f64(df: &polars::prelude::DataFrame, name: &str, row: usize) -> Option<f64> {
    let c = df
        .column(name)
        .ok()?
        .cast(&polars::prelude::DataType::Float64)
        .ok()?;
    c.f64().ok()?.get(row).filter(|v| v.is_finite())
}

/// A text cell in a report's frame.
fn cell_str(df: &polars::prelude::DataFrame, name: &str, row: usize) -> Option<String> {
    let c = df.column(name).ok()?;
    let v = c.get(row).ok()?;
    match v {
        polars::prelude::AnyValue::Null => None,
        polars::prelude::AnyValue::String(s) => Some(s.to_string()),
        polars::prelude::AnyValue::StringOwned(s) => Some(s.to_string()),
        polars::prelude::AnyValue::Boolean(b) => Some(b.to_string()),
        v => Some(v.to_string()),
    }
}

/// How a headline number is shown.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Count,
    Rate,
    Ratio,
    Money,
}

/// One headline tile of the dashboard.
#[derive(Debug, PartialEq)]
struct Tile {
    label: &'static str,
    value: Option<f64>,
    kind: Kind,
    /// The value it is compared with.
    before: Option<f64>,
    /// Whether a rise is good news (colours the change).
    higher_is_better: bool,
    /// What the value and the change refer to (e.g. "2024-11 vs 2024-10").
    basis: String,
}

impl Tile {
    fn value_text(&self) -> String {
        match self.value {
            None => "—".into(),
            Some(v) => show(v, self.kind),
        }
    }

    /// The change against `before`: absolute (percentage points for rates), and relative
    /// for counts and money. None when either side is missing.
    fn change_text(&self) -> Option<(String, &'static str)> {
        let (v, b) = (self.value?, self.before?);
        let d = v - b;
        let sign = if d > 0.0 {
            "+"
        } else if d < 0.0 {
            "−"
        } else {
            "±"
        };
        let abs = d.abs();
        let text = match self.kind {
            Kind::Rate => format!("{sign}{:.1} pp", abs * 100.0),
            Kind::Ratio => format!("{sign}{abs:.2}"),
            Kind::Count | Kind::Money => {
                let a = show(abs, self.kind);
                if b != 0.0 {
                    format!("{sign}{a} ({sign}{:.1}%)", (d / b).abs() * 100.0)
                } else {
                    format!("{sign}{a}")
                }
            }
        };
        // Rates and ratios move in steps of their display: no colour for a change that shows as 0.
        let shown_zero = match self.kind {
            Kind::Rate => (abs * 1000.0).round() == 0.0,
            Kind::Ratio | Kind::Money => (abs * 100.0).round() == 0.0,
            Kind::Count => abs == 0.0,
        };
        let class = if shown_zero {
            "flat"
        } else if (d > 0.0) == self.higher_is_better {
            "good"
        } else {
            "bad"
        };
        Some((text, class))
    }
}

fn show(v: f64, kind: Kind) -> String {
    match kind {
        Kind::Count => thousands(v.round() as i64),
        Kind::Rate => format!("{:.1}%", v * 100.0),
        Kind::Ratio => format!("{v:.2}"),
        Kind::Money => {
            let cents = (v * 100.0).round() as i64;
            format!("{}.{:02}", thousands(cents / 100), (cents % 100).abs())
        }
    }
}

/// 1234567 → "1,234,567".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut o = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    if n < 0 {
        o.insert(0, '-');
    }
    o
}

/// The headline tiles: per-period figures of the last complete period against the one
/// before it (the as-of period is used only when no period is complete), and LTV:CAC and
/// the predicted CLV as of the as-of day against the end of the previous period.
fn tiles(sections: &[Section], previous: &Previous, period: &str) -> Vec<Tile> {
    let frame = |name: &str| {
        sections
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.report.as_ref().ok())
            .map(|r| &r.data)
    };
    let mut out = period_tiles(
        frame("summary_by_period"),
        period,
        &[
            ("Customers", "customers", Kind::Count, true),
            ("Active customers", "active", Kind::Count, true),
            ("Retention rate", "retention_rate", Kind::Rate, true),
            ("Churn rate", "churn_rate", Kind::Rate, false),
            (
                "Repeat-purchase rate",
                "repeat_purchase_rate",
                Kind::Rate,
                true,
            ),
        ],
    );
    // Invoice lines: the subscription figures of the last complete period.
    if let Some(df) = frame("subscriptions").filter(|df| df.height() > 0) {
        out.extend(period_tiles(
            Some(df),
            period,
            &[
                ("MRR", "mrr_end", Kind::Money, true),
                ("Logo churn rate", "logo_churn_rate", Kind::Rate, false),
                (
                    "Net MRR churn rate",
                    "net_mrr_churn_rate",
                    Kind::Rate,
                    false,
                ),
                ("Quick ratio", "quick_ratio", Kind::Ratio, true),
                ("NRR (12 months)", "nrr_12m", Kind::Rate, true),
            ],
        ));
    }
    let since = format!("as of the data's last day vs {}", previous.end);
    out.push(Tile {
        label: "LTV:CAC",
        value: frame("summary").and_then(|df| cell_f64(df, "ltv_cac", 0)),
        kind: Kind::Ratio,
        before: previous.ltv_cac,
        higher_is_better: true,
        basis: if frame("summary").is_some_and(|df| df.column("ltv_cac").is_ok()) {
            format!("net revenue to date × margin ÷ CAC, {since}")
        } else {
            "needs acquisition_cost in the customers file".into()
        },
    });
    out.push(Tile {
        label: "Predicted 12-month CLV per customer",
        value: frame("ltv_model").and_then(|df| cell_f64(df, "mean_predicted_clv", 0)),
        kind: Kind::Money,
        before: previous.clv,
        higher_is_better: true,
        basis: format!("BG/NBD + Gamma-Gamma, {since}"),
    });
    out
}

/// One tile per (label, column, kind, higher is better) from a per-period frame: its last
/// complete row (the last row when none is complete) against the row before.
fn period_tiles(
    df: Option<&polars::prelude::DataFrame>,
    period: &str,
    specs: &[(&'static str, &str, Kind, bool)],
) -> Vec<Tile> {
    let n = df.map_or(0, |d| d.height());
    let cur = df.filter(|_| n > 0).map(|d| {
        (0..n)
            .rev()
            .find(|&i| cell_str(d, "partial_period", i).as_deref() != Some("true"))
            .unwrap_or(n - 1)
    });
    let prev = cur.and_then(|c| c.checked_sub(1));
    let label = |i: Option<usize>| {
        i.and_then(|i| df.and_then(|d| cell_str(d, "period", i)))
            .unwrap_or_default()
    };
    let basis = match (cur, prev) {
        (Some(_), Some(_)) => format!("{} vs {}", label(cur), label(prev)),
        (Some(_), None) => format!("{} (no earlier {period})", label(cur)),
        _ => String::new(),
    };
    let get = |name: &str, i: Option<usize>| i.and_then(|i| df.and_then(|d| cell_f64(d, name, i)));
    specs
        .iter()
        .map(|&(label, name, kind, up)| Tile {
            label,
            value: get(name, cur),
            kind,
            before: get(name, prev),
            higher_is_better: up,
            basis: basis.clone(),
        })
        .collect()
}

fn tiles_html(tiles: &[Tile]) -> String {
    let mut s = String::from("<section class=\"tiles\" aria-label=\"Headline figures\">\n");
    for t in tiles {
        let change = match t.change_text() {
            Some((text, class)) => format!("<p class=\"change {class}\">{}</p>", esc(&text)),
            None => "<p class=\"change flat\">no change to show</p>".into(),
        };
        let _ = writeln!(
            s,
            "<div class=\"tile\"><h3>{}</h3><p class=\"value\">{}</p>{change}<p class=\"basis\">{}</p></div>",
            esc(t.label),
            esc(&t.value_text()),
            esc(&t.basis)
        );
    }
    s.push_str("</section>\n");
    s
}

/// Everything index.html shows.
struct Page<'a> {
    data: &'a str,
    as_of: &'a str,
    generated: &'a str,
    inputs: &'a [(String, String, usize)],
    warnings: &'a [String],
    sections: &'a [Section],
    tiles: &'a [Tile],
    /// The charts, as `<figure>` elements.
    figures: &'a str,
    /// The sections' tables.
    body: &'a str,
    /// Seconds taken to load the input (None under a fixed clock).
    loaded_s: Option<f64>,
}

/// The dashboard: headline tiles, then the charts, then the tables (long ones folded),
/// then where the numbers came from. One file; nothing is loaded from the network.
fn index_html(p: &Page) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Retention report — {} — as of {}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        esc(p.data),
        esc(p.as_of),
        CSS
    );
    let _ = writeln!(
        s,
        "<header><h1>Retention report — {}</h1>\n<p class=\"asof\">As of <strong>{}</strong> \
         · generated {} by retention {}</p></header>",
        esc(p.data),
        esc(p.as_of),
        esc(p.generated),
        env!("CARGO_PKG_VERSION")
    );
    if !p.warnings.is_empty() {
        s.push_str("<div class=\"warnings\" role=\"note\">\n");
        for w in p.warnings {
            let _ = writeln!(s, "<p>warning: {}</p>", esc(w));
        }
        s.push_str("</div>\n");
    }
    s.push_str(&tiles_html(p.tiles));
    if !p.figures.is_empty() {
        let _ = write!(
            s,
            "<section class=\"charts\" aria-label=\"Charts\">\n{}</section>\n",
            p.figures
        );
    }
    s.push_str("<nav aria-label=\"Tables\"><h2>Tables</h2><ul>\n");
    for sec in p.sections {
        let _ = writeln!(
            s,
            "<li><a href=\"#{}\">{}</a></li>",
            sec.name,
            esc(&sec.title)
        );
    }
    s.push_str("</ul></nav>\n");
    s.push_str(p.body);
    s.push_str("<section id=\"input\">\n<h2>Input</h2>\n<div class=\"scroll\"><table class=\"inputs\"><thead><tr><th>file</th><th>path</th><th>rows loaded</th></tr></thead><tbody>\n");
    for (role, path, rows) in p.inputs {
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td class=\"path\">{}</td><td>{rows}</td></tr>",
            esc(role),
            esc(path)
        );
    }
    s.push_str("</tbody></table></div>\n");
    if let Some(t) = p.loaded_s {
        let _ = writeln!(s, "<p class=\"note\">Loaded in {t:.2} s.</p>");
    }
    s.push_str("</section>\n");
    s.push_str("</body>\n</html>\n");
    s
}

const CSS: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans Thai',sans-serif;\
margin:0 auto;max-width:1280px;padding:1em;color:#222;background:#f6f7f9}\n\
header h1{font-size:1.5em;margin:.2em 0}.asof{color:#555;margin:.2em 0 1em}\n\
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\n\
.warnings{background:#fff4e5;border-left:4px solid #e69500;padding:.3em .8em;margin:.5em 0}\n\
.warnings p{margin:.3em 0;font-size:.9em}\n\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:.8em;margin:1em 0}\n\
.tile{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:.7em .9em}\n\
.tile h3{font-size:.8em;font-weight:600;color:#555;margin:0;text-transform:uppercase;letter-spacing:.03em}\n\
.tile .value{font-size:1.9em;font-weight:650;margin:.15em 0;font-variant-numeric:tabular-nums}\n\
.tile .change{margin:0;font-size:.9em;font-weight:600}.tile .basis{margin:.3em 0 0;font-size:.75em;color:#777}\n\
.good{color:#1a7f37}.bad{color:#c62828}.flat{color:#777}\n\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1em}\n\
figure{background:#fff;border:1px solid #e2e5ea;border-radius:8px;margin:0;padding:.5em}\n\
figcaption{font-size:.85em;color:#555;margin-top:.3em}\n\
.chart svg,img.chart{display:block;max-width:100%;height:auto}\n\
nav ul{columns:2 260px;padding-left:1.2em}\n\
section[id]{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:.2em 1em .6em;margin:1em 0}\n\
section[id] h2{border:0;margin-top:.6em}\n\
details summary{cursor:pointer;color:#245;font-size:.9em;margin:.4em 0}\n\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;font-variant-numeric:tabular-nums}\n\
th,td{border:1px solid #ddd;padding:.2em .5em}td{text-align:right}td.path{text-align:left;word-break:break-all}\n\
thead th{background:#f3f5f8;position:sticky;top:0}tbody th{text-align:left;font-weight:normal;background:#fafafa}\n\
.scroll{overflow-x:auto;max-width:100%}.note,.file{color:#666;font-size:.85em}\n\
@media (max-width:600px){body{padding:.5em}.tile .value{font-size:1.5em}.tiles{grid-template-columns:repeat(2,1fr);gap:.5em}}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
    }

    fn tile(kind: Kind, value: Option<f64>, before: Option<f64>, up: bool) -> Tile {
        Tile {
            label: "x",
            value,
            kind,
            before,
            higher_is_better: up,
            basis: String::new(),
        }
    }

    #[test]
    fn tile_changes_are_worded_and_coloured() {
        let t = tile(Kind::Count, Some(1250.0), Some(1000.0), true);
        assert_eq!(t.value_text(), "1,250");
        assert_eq!(t.change_text().unwrap(), ("+250 (+25.0%)".into(), "good"));
        // a churn rate going up is bad news; rates change in percentage points
        let t = tile(Kind::Rate, Some(0.25), Some(0.2), false);
        assert_eq!(t.value_text(), "25.0%");
        assert_eq!(t.change_text().unwrap(), ("+5.0 pp".into(), "bad"));
        let t = tile(Kind::Money, Some(-1234.5), Some(0.0), true);
        assert_eq!(t.value_text(), "-1,234.50");
        assert_eq!(t.change_text().unwrap(), ("−1,234.50".into(), "bad"));
        let t = tile(Kind::Ratio, Some(3.0), Some(3.001), true);
        assert_eq!(t.change_text().unwrap(), ("−0.00".into(), "flat"));
        assert_eq!(tile(Kind::Ratio, None, Some(1.0), true).value_text(), "—");
        assert!(tile(Kind::Ratio, Some(1.0), None, true)
            .change_text()
            .is_none());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
    }

    fn section(name: &'static str, data: polars::prelude::DataFrame) -> Section {
        Section {
            name,
            title: name.into(),
            report: Ok(Report {
                data,
                views: Vec::new(),
                percent_columns: Vec::new(),
                notes: Vec::new(),
            }),
            chart: None,
            seconds: 0.0,
        }
    }

    #[test]
    fn tiles_compare_the_last_complete_period_with_the_one_before() {
        use polars::prelude::*;
        let by_period = df!(
            "period" => ["2024-01", "2024-02", "2024-03"],
            "customers" => [3i64, 4, 5],
            "active" => [3i64, 2, 1],
            "retention_rate" => [None, Some(0.5), Some(0.25)],
            "churn_rate" => [None, Some(0.5), Some(0.75)],
            "repeat_purchase_rate" => [0.0, 0.5, 0.0],
            "partial_period" => [false, false, true],
        )
        .unwrap();
        let summary = df!("ltv_cac" => [2.5]).unwrap();
        let model = df!("mean_predicted_clv" => [10.0]).unwrap();
        let sections = vec![
            section("summary", summary),
            section("summary_by_period", by_period),
            section("ltv_model", model),
        ];
        let prev = Previous {
            end: chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            ltv_cac: Some(2.0),
            clv: Some(12.0),
        };
        let t = tiles(&sections, &prev, "month");
        let by = |l: &str| t.iter().find(|t| t.label == l).unwrap();
        // 2024-03 is partial: 2024-02 against 2024-01
        assert_eq!(by("Customers").value, Some(4.0));
        assert_eq!(by("Customers").before, Some(3.0));
        assert_eq!(by("Customers").basis, "2024-02 vs 2024-01");
        assert_eq!(by("Retention rate").value, Some(0.5));
        assert_eq!(by("Retention rate").before, None);
        assert_eq!(by("LTV:CAC").value, Some(2.5));
        assert_eq!(by("LTV:CAC").change_text().unwrap().1, "good");
        let clv = by("Predicted 12-month CLV per customer");
        assert_eq!(clv.change_text().unwrap(), ("−2.00 (−16.7%)".into(), "bad"));
        assert!(clv.basis.ends_with("vs 2024-02-29"));
    }
}
