//! `retention report`: every report at once into a directory, swapped in atomically.
//!
//! The input is loaded once; each report's core runs on it with the defaults of its
//! command. The directory gets one table per report (CSV or Parquet), `summary.json`,
//! the charts and a self-contained `index.html`. Everything is written into a temporary
//! directory beside DIR, which replaces DIR only when complete.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::charts::{self, Chart, ChartFormat};
use crate::cli::{ChurnArgs, LtvArgs, ReportArgs, ReportFormat};
use crate::error::bad;
use crate::load::Dataset;
use crate::output::{self, Format, Report, View};
use crate::period::Period;
use crate::progress::Progress;
use crate::reports;

/// Rows of a table shown in index.html (the file has them all).
const HTML_ROWS: usize = 60;

/// Parse a command's Args from flags, so every other option keeps its CLI default.
fn args_of<A: clap::Args + clap::FromArgMatches>(argv: &[&str]) -> Result<A> {
    let cmd = A::augment_args(clap::Command::new("retention"));
    let m = cmd
        .try_get_matches_from(std::iter::once("retention").chain(argv.iter().copied()))
        .map_err(|e| anyhow::anyhow!("report defaults: {e}"))?;
    Ok(A::from_arg_matches(&m)?)
}

/// One section of the report.
struct Section {
    /// File stem (cohort → cohort.csv).
    name: &'static str,
    title: String,
    /// None: the report could not be computed on this data (the reason).
    report: std::result::Result<Report, String>,
    chart: Option<Chart>,
    /// Time taken by the report's core.
    seconds: f64,
}

/// `retention report`.
pub fn command(a: &ReportArgs, progress: &Progress) -> Result<()> {
    let out = a.out.clone();
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
    // Flags win over the config file's [report] section.
    let cfg = crate::config::report_config(&a.input)?;
    let period_v = a.period.or(cfg.period).unwrap_or(Period::Month);
    let format_v = match (a.format, cfg.format.as_deref()) {
        (Some(f), _) => f,
        (None, Some(s)) => ReportFormat::from_str(s, true).map_err(|_| {
            bad(format!(
                "config file: [report] format = \"{s}\": expected csv or parquet"
            ))
        })?,
        (None, None) => ReportFormat::Csv,
    };
    let png = match (a.png, cfg.charts.as_deref()) {
        (true, _) => true,
        (false, None) | (false, Some("svg")) => false,
        (false, Some("png")) => true,
        (false, Some(s)) => {
            return Err(bad(format!(
                "config file: [report] charts = \"{s}\": expected svg or png"
            )))
        }
    };
    // Created first so that an unwritable place fails before the data is read; removed
    // on any failure (dropped).
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{base}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| bad(format!("cannot write '{}': {e}", parent.display())))?;

    progress.set("loading the input");
    let started = std::time::Instant::now();
    let ds = crate::load_input("report", &a.input, vec![])?;
    let loaded = started.elapsed().as_secs_f64();
    progress.set("computing");
    let data = charts::data_name(&a.input.transactions);
    let as_of = ds.as_of.to_string();
    let period = period_v
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_else(|| "month".into());

    let sections = compute(&ds, period_v, &period, &data, &as_of, progress)?;

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
    let mut files = Vec::new();
    let mut html_sections = String::new();
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
            html_sections.push_str("<figure>");
            html_sections.push_str(&inline_image(&bytes, chart_format, c.title()));
            html_sections.push_str("</figure>\n");
        }
        for v in output::human_views(report)? {
            html_sections.push_str(&html_table(&v));
        }
        for n in &report.notes {
            let _ = writeln!(html_sections, "<p class=\"note\">{}</p>", esc(n));
        }
        let _ = writeln!(
            html_sections,
            "<p class=\"file\">Table: <a href=\"{file}\">{file}</a> · computed in {:.2} s</p>\n</section>",
            s.seconds
        );
    }

    let inputs = inputs(a, &ds);
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
    let json = serde_json::json!({
        "as_of": as_of,
        "generated_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "inputs": inputs.iter().map(|(role, path, rows)| serde_json::json!({
            "role": role, "path": path, "rows": rows
        })).collect::<Vec<_>>(),
        "warnings": ds.warnings,
        "summary": summary_rows,
        "reports": sections.iter().map(|s| serde_json::json!({
            "name": s.name,
            "title": s.title,
            "error": s.report.as_ref().err(),
            "seconds": (s.seconds * 100.0).round() / 100.0,
        })).collect::<Vec<_>>(),
        "files": files,
    });
    let mut jb = serde_json::to_vec_pretty(&json)?;
    jb.push(b'\n');
    std::fs::write(tmp.path().join("summary.json"), jb).context("cannot write summary.json")?;

    let html = index_html(
        &data,
        &as_of,
        &inputs,
        &ds.warnings,
        &sections,
        &html_sections,
        loaded,
    );
    std::fs::write(tmp.path().join("index.html"), html).context("cannot write index.html")?;

    progress.set("publishing");
    swap_in(tmp, &out, &parent, &base)
}

/// Run every report's core on the loaded data.
fn compute(
    ds: &Dataset,
    period_v: Period,
    period: &str,
    data: &str,
    as_of: &str,
    progress: &Progress,
) -> Result<Vec<Section>> {
    let tx = &ds.tx;
    let cust = ds.customers.as_ref();
    let mut out = Vec::new();
    let mut mark = std::time::Instant::now();
    let mut lap = move || {
        let s = mark.elapsed().as_secs_f64();
        mark = std::time::Instant::now();
        s
    };
    // A report that fails on bad input is left out with its reason (a nightly job still
    // gets the others); an internal error fails the whole run.
    let keep = |r: Result<Report>| -> Result<std::result::Result<Report, String>> {
        match r {
            Ok(r) => Ok(Ok(r)),
            Err(e) if crate::error::exit_code(&e) == crate::error::EXIT_BAD_INPUT => {
                Ok(Err(crate::error::one_line(&e)))
            }
            Err(e) => Err(e),
        }
    };

    progress.set("summary");
    let mut notes = Vec::new();
    let summary = reports::summary::run(tx, cust, ds.as_of, &Default::default(), &mut notes);
    let mut summary = keep(summary)?;
    if let Ok(r) = &mut summary {
        r.notes.extend(notes.iter().map(|n| format!("note: {n}")));
    }
    out.push(Section {
        name: "summary",
        title: "Key figures over the whole window".into(),
        report: summary,
        chart: None,
        seconds: lap(),
    });

    progress.set("summary per period");
    let mut notes = Vec::new();
    let p = reports::summary::SummaryParams {
        period: Some(period_v),
        ..Default::default()
    };
    out.push(Section {
        name: "summary_by_period",
        title: format!("Key figures per {period}"),
        report: keep(reports::summary::run(tx, cust, ds.as_of, &p, &mut notes))?,
        chart: None,
        seconds: lap(),
    });

    progress.set("cohorts");
    let p = reports::cohort::CohortParams {
        period: period_v,
        ..Default::default()
    };
    let report = keep(reports::cohort::run(tx, cust, ds.as_of, &p))?;
    let chart = match &report {
        Ok(r) => Some(charts::from_cohort(r, false, data, as_of)?),
        Err(_) => None,
    };
    out.push(Section {
        name: "cohort",
        title: format!("Cohort retention (by {period} of first purchase)"),
        report,
        chart,
        seconds: lap(),
    });

    progress.set("churn");
    // Churn, survival and the model share the purchase histories: built once.
    let coded = reports::CodedTx::new(tx, None)?;
    let histories = reports::Histories::from_coded(&coded, &coded.purchases(tx)?, None);
    let ca: ChurnArgs = args_of(&["--period", period])?;
    let cp = reports::churn::ChurnParams {
        period: ca.period,
        inactive_after: None,
        by: None,
    };
    out.push(Section {
        name: "churn",
        title: format!("Retention and churn per {period}"),
        report: keep(reports::churn::run(&histories, ds.as_of, &cp))?,
        chart: None,
        seconds: lap(),
    });

    progress.set("survival curves");
    let report = keep(reports::churn::run_survival(&histories, ds.as_of, &cp))?;
    let chart = match &report {
        Ok(r) => Some(charts::from_survival(r, data, as_of)?),
        Err(_) => None,
    };
    out.push(Section {
        name: "survival",
        title: "Customer survival (Kaplan–Meier)".into(),
        report,
        chart,
        seconds: lap(),
    });

    progress.set("LTV curves");
    let la: LtvArgs = args_of(&["--period", period])?;
    let report = keep(reports::ltv::command(ds, &la))?;
    let chart = match &report {
        Ok(r) => Some(charts::from_ltv(r, data, as_of)?),
        Err(_) => None,
    };
    out.push(Section {
        name: "ltv",
        title: "Historical LTV per cohort".into(),
        report,
        chart,
        seconds: lap(),
    });

    progress.set("BG/NBD model");
    let la: LtvArgs = args_of(&["--model", "bgnbd"])?;
    out.push(Section {
        name: "ltv_model",
        title: "Predicted CLV (BG/NBD + Gamma-Gamma, 12 months)".into(),
        report: keep(reports::ltv::run_model(ds, &coded, &histories, &la, None))?,
        chart: None,
        seconds: lap(),
    });

    progress.set("RFM segments");
    let report = keep(reports::segment::run(
        tx,
        cust,
        ds.as_of,
        &Default::default(),
    ))?;
    let chart = match &report {
        Ok(r) => Some(charts::from_segments(r, data, as_of)?),
        Err(_) => None,
    };
    out.push(Section {
        name: "segment",
        title: "RFM segments".into(),
        report,
        chart,
        seconds: lap(),
    });

    progress.set("wallet");
    let mut notes = Vec::new();
    let p = reports::wallet::WalletParams {
        wallet: reports::wallet::WalletSource::None,
        by: None,
        per_customer: false,
    };
    let mut wallet = keep(reports::wallet::run(tx, cust, ds.as_of, &p, &mut notes))?;
    if let Ok(r) = &mut wallet {
        r.notes.extend(notes.iter().map(|n| format!("note: {n}")));
    }
    out.push(Section {
        name: "wallet",
        title: "Breadth, cross-sell and depth per RFM segment".into(),
        report: wallet,
        chart: None,
        seconds: lap(),
    });

    progress.set("what-if");
    let p = reports::whatif::WhatifParams {
        margin: 1.0,
        discount_rate: 0.10,
        lift: 0.05,
        retention: None,
    };
    out.push(Section {
        name: "whatif",
        title: "The 5/25 rule: CLV at the measured and a lifted retention".into(),
        report: keep(reports::whatif::run(tx, ds.as_of, &p))?,
        chart: None,
        seconds: lap(),
    });
    Ok(out)
}

/// (role, path, rows loaded).
fn inputs(a: &ReportArgs, ds: &Dataset) -> Vec<(String, String, usize)> {
    let mut v = vec![(
        "transactions".to_string(),
        a.input.transactions.join(", "),
        ds.tx.height(),
    )];
    if let (false, Some(c)) = (a.input.customers.is_empty(), &ds.customers) {
        v.push(("customers".into(), a.input.customers.join(", "), c.height()));
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

fn index_html(
    data: &str,
    as_of: &str,
    inputs: &[(String, String, usize)],
    warnings: &[String],
    sections: &[Section],
    body: &str,
    loaded_s: f64,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Retention report — {} — as of {}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        esc(data),
        esc(as_of),
        CSS
    );
    let _ = writeln!(
        s,
        "<h1>Retention report — {}</h1>\n<p class=\"asof\">As of <strong>{}</strong> \
         · generated {} by retention {}</p>",
        esc(data),
        esc(as_of),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION")
    );
    s.push_str("<h2>Input</h2>\n<table class=\"inputs\"><thead><tr><th>file</th><th>path</th><th>rows loaded</th></tr></thead><tbody>\n");
    for (role, path, rows) in inputs {
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td>{}</td><td>{rows}</td></tr>",
            esc(role),
            esc(path)
        );
    }
    s.push_str("</tbody></table>\n");
    let _ = writeln!(s, "<p class=\"note\">Loaded in {loaded_s:.2} s.</p>");
    for w in warnings {
        let _ = writeln!(s, "<p class=\"note\">warning: {}</p>", esc(w));
    }
    s.push_str("<nav><ul>\n");
    for sec in sections {
        let _ = writeln!(
            s,
            "<li><a href=\"#{}\">{}</a></li>",
            sec.name,
            esc(&sec.title)
        );
    }
    s.push_str("</ul></nav>\n");
    s.push_str(body);
    s.push_str("</body>\n</html>\n");
    s
}

const CSS: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans Thai',sans-serif;\
margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\n\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}\n\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}\n\
th,td{border:1px solid #ddd;padding:.2em .5em}td{text-align:right}\n\
thead th{background:#f3f5f8}tbody th{text-align:left;font-weight:normal;background:#fafafa}\n\
.scroll{overflow-x:auto}.note{color:#666;font-size:.85em}\n\
.chart svg,img.chart{max-width:100%;height:auto}figure{margin:1em 0}\n";

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

    #[test]
    fn command_defaults_parse() {
        let c: ChurnArgs = args_of(&["--period", "month", "--survival"]).unwrap();
        assert!(c.survival);
        let l: LtvArgs = args_of(&["--model", "bgnbd"]).unwrap();
        assert_eq!(l.model, crate::cli::LtvModel::Bgnbd);
    }
}
