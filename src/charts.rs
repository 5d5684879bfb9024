//! Charts (`--chart FILE`, `retention report`): pure functions from a report's data to
//! SVG or PNG bytes, drawn with plotters.
//!
//! Each chart ([`Chart`]: a heatmap, lines, bars or histograms) is built by its report
//! from the same typed rows its output frame is made of (`reports::cohort::chart` from
//! the cells, `churn::survival_chart`, `ltv::curves_chart`, `ltv::calibration_chart`,
//! `ltv::compare_chart`, `segment::chart`, `describe::chart`, `subscriptions::sbg_chart`,
//! `subscriptions::cohort_chart`), not from the frame's column names, so a chart shows
//! exactly the numbers of the CSV output and a renamed column cannot break it; this
//! module only draws. SVG keeps text as text
//! (`font-family="sans-serif"`: the viewer's fonts); PNG rasterises it with a bundled
//! font (Noto Sans Latin + Thai subset, SIL OFL 1.1, `assets/fonts/`).

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::bad;
use crate::output::num;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/NotoSansLatinThai-Subset.ttf");

fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid (checked by a unit test); a failure only means text
        // would be missing, never a panic.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// The image format of a chart file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    Svg,
    Png,
}

impl ChartFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Svg => "svg",
            ChartFormat::Png => "png",
        }
    }
}

/// `--chart FILE`: .svg or .png, else a usage error (checked before any work).
pub fn format_of(path: &Path) -> Result<ChartFormat> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("svg") => Ok(ChartFormat::Svg),
        Some("png") => Ok(ChartFormat::Png),
        _ => Err(bad(format!(
            "--chart '{}': the file name must end in .svg or .png",
            path.display()
        ))),
    }
}

/// A matrix of shares (cohort retention): one row per cohort, one column per k.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `values[row][column]`, fractions (1 = 100%).
    pub values: Vec<Vec<Option<f64>>>,
}

/// One line, with an optional interval band (lower, upper) at the same x.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub dashed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<Series>,
    /// y values are fractions shown as percentages.
    pub y_percent: bool,
    /// Draw each series as a step function (survival curves).
    pub steps: bool,
    /// x positions 0, 1, ... are these categories (else numbers).
    pub x_categories: Vec<String>,
}

/// Horizontal grouped bars: per category, one bar per measure (shares), with labels.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_desc: String,
    pub categories: Vec<String>,
    /// (measure name, share per category, label per category).
    pub measures: Vec<(String, Vec<f64>, Vec<String>)>,
}

/// One histogram: a count per labelled bin, drawn as vertical bars.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub bins: Vec<String>,
    pub counts: Vec<f64>,
}

/// Histograms stacked one above the other under a common title (`retention describe`).
#[derive(Clone, Debug, PartialEq)]
pub struct Histograms {
    pub title: String,
    pub panels: Vec<Histogram>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Chart {
    Heatmap(Heatmap),
    Lines(LineChart),
    Bars(BarChart),
    Histograms(Histograms),
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::Heatmap(h) => &h.title,
            Chart::Lines(l) => &l.title,
            Chart::Bars(b) => &b.title,
            Chart::Histograms(h) => &h.title,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers of the reports' chart builders.

/// The name of the data in titles: the transactions file's name.
pub fn data_name(transactions: &[String]) -> String {
    match transactions {
        [] => "stdin".to_string(),
        [one] if one == "-" => "stdin".to_string(),
        [one] => Path::new(one)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| one.to_string()),
        [first, rest @ ..] => format!(
            "{} and {} more",
            data_name(std::slice::from_ref(first)),
            rest.len()
        ),
    }
}

/// Values in first-seen order.
pub fn ordered_unique(v: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.iter().filter(|s| seen.insert(*s)).cloned().collect()
}

// ---------------------------------------------------------------------------------------
// Rendering.

/// Render a chart as SVG or PNG bytes.
pub fn render(chart: &Chart, format: ChartFormat) -> Result<Vec<u8>> {
    ensure_font();
    let (w, h) = size(chart);
    match format {
        ChartFormat::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(err)?;
            }
            Ok(s.into_bytes())
        }
        ChartFormat::Png => {
            let mut px = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut px, (w, h)).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(err)?;
            }
            let out = encode_png(&px, w, h)?;
            Ok(out)
        }
    }
}

/// Encode 8-bit RGB pixels as a PNG (one IDAT, filter 0 on every row), with the zlib
/// stream of `flate2`, already used for gzip input (no extra image crate).
pub fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    use std::io::Write;
    let row = w as usize * 3;
    if rgb.len() != row * h as usize {
        return Err(anyhow!(
            "cannot encode PNG: {} bytes for {w}x{h}",
            rgb.len()
        ));
    }
    let mut raw = Vec::with_capacity((row + 1) * h as usize);
    for line in rgb.chunks(row) {
        raw.push(0u8);
        raw.extend_from_slice(line);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw)?;
    let idat = z.finish()?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // 8 bits per channel, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    Ok(out)
}

/// CRC-32 (ISO-HDLC, as PNG chunks use).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Render and write atomically.
pub fn write(chart: &Chart, path: &Path) -> Result<()> {
    let bytes = render(chart, format_of(path)?)?;
    crate::output::write_atomic(path, &bytes)
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the chart: {e:?}")
}

fn size(chart: &Chart) -> (u32, u32) {
    match chart {
        Chart::Heatmap(h) => {
            let label_w = h.rows.iter().map(|r| r.chars().count()).max().unwrap_or(4) as u32;
            let w = 120 + label_w * 8 + 46 * h.columns.len() as u32 + 120;
            let hgt = 150 + 24 * h.rows.len() as u32;
            (w.clamp(640, 2400), hgt.clamp(360, 3000))
        }
        Chart::Lines(l) => (1000, (420 + 20 * l.series.len() as u32).clamp(600, 1400)),
        Chart::Bars(b) => (
            1000,
            (150 + 50 * b.categories.len() as u32).clamp(400, 2400),
        ),
        Chart::Histograms(h) => (1000, (60 + 340 * h.panels.len() as u32).clamp(400, 2400)),
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    match chart {
        Chart::Heatmap(h) => heatmap(root, h),
        Chart::Lines(l) => lines(root, l),
        Chart::Bars(b) => bars(root, b),
        Chart::Histograms(h) => histograms(root, h),
    }
}

/// White → dark blue; shares above 1 (revenue retention) saturate.
fn blue(v: f64) -> RGBColor {
    let t = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Distinct colours for n series (a fixed palette, then evenly spaced hues).
fn colour(i: usize, n: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    if n <= PALETTE.len() {
        return PALETTE[i % PALETTE.len()];
    }
    let (r, g, b) = HSLColor(i as f64 / n as f64 * 0.85, 0.65, 0.45).rgb();
    RGBColor(r, g, b)
}

fn heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()> {
    let (w, _) = root.dim_in_pixel();
    let (main, legend) = root.split_horizontally(w as i32 - 100);
    let nrows = h.rows.len().max(1);
    let ncols = h.columns.len().max(1);
    let label_w = h.rows.iter().map(|r| r.chars().count()).max().unwrap_or(4) as u32;
    let rows = &h.rows;
    let cols = &h.columns;
    let mut chart = ChartBuilder::on(&main)
        .caption(&h.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(20 + label_w * 8)
        .build_cartesian_2d(-0.5f64..ncols as f64 - 0.5, -0.5f64..nrows as f64 - 0.5)
        .map_err(err)?;
    let row_of = |y: f64| -> Option<&String> {
        let r = y.round();
        if (y - r).abs() > 1e-6 || r < 0.0 {
            return None;
        }
        rows.get((nrows - 1).checked_sub(r as usize)?)
    };
    let col_of = |x: f64| -> Option<&String> {
        let r = x.round();
        if (x - r).abs() > 1e-6 || r < 0.0 {
            return None;
        }
        cols.get(r as usize)
    };
    let xf = |x: &f64| col_of(*x).cloned().unwrap_or_default();
    let yf = |y: &f64| row_of(*y).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(ncols.min(60))
        .y_labels(nrows.min(80))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc(&h.x_desc)
        .y_desc(&h.y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    let mut cells = Vec::new();
    let mut texts = Vec::new();
    // Values in the cells while they fit (the size is clamped for long daily matrices).
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    let cell_text = pw as usize / ncols >= 30 && ph as usize / nrows >= 14;
    for (r, row) in h.values.iter().enumerate() {
        let y = (nrows - 1 - r) as f64;
        for (k, v) in row.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite()) else {
                continue;
            };
            let x = k as f64;
            cells.push(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                blue(v).filled(),
            ));
            if !cell_text {
                continue;
            }
            let fg = if v > 0.55 { WHITE } else { BLACK };
            texts.push(Text::new(
                format!("{:.0}%", v * 100.0),
                (x, y),
                (FONT, 11)
                    .into_font()
                    .color(&fg)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ));
        }
    }
    chart.draw_series(cells).map_err(err)?;
    chart.draw_series(texts).map_err(err)?;
    // Legend: the colour scale.
    let top = 60;
    let steps = 10;
    let bar_h = 20;
    legend
        .draw(&Text::new(
            "retention",
            (10, top - 24),
            (FONT, 13).into_font(),
        ))
        .map_err(err)?;
    for i in 0..=steps {
        let v = i as f64 / steps as f64;
        let y = top + (steps - i) * bar_h;
        legend
            .draw(&Rectangle::new(
                [(10, y), (34, y + bar_h)],
                blue(v).filled(),
            ))
            .map_err(err)?;
        if i % 2 == 0 {
            legend
                .draw(&Text::new(
                    format!("{:.0}%", v * 100.0),
                    (40, y + bar_h / 2),
                    (FONT, 12)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
        }
    }
    legend
        .draw(&Rectangle::new(
            [(10, top), (34, top + (steps + 1) * bar_h)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
    Ok(())
}

fn step_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    out
}

fn lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, l: &LineChart) -> Result<()> {
    let xs = l.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if !l.x_categories.is_empty() {
        (x0, x1) = (-0.3, l.x_categories.len() as f64 - 0.7);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let ys = l.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().map(|b| b.2))
    });
    let ymax = ys.fold(0.0f64, |a, y| if y.is_finite() { a.max(y) } else { a });
    let y1 = if l.y_percent {
        1.0
    } else if ymax > 0.0 {
        ymax * 1.08
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(root)
        .caption(&l.title, (FONT, 20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, 0f64..y1)
        .map_err(err)?;
    let cats = &l.x_categories;
    let xf = |x: &f64| {
        if cats.is_empty() {
            num(*x)
        } else {
            let r = x.round();
            if (x - r).abs() < 1e-6 && r >= 0.0 {
                cats.get(r as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
    };
    let percent = l.y_percent;
    let yf = |y: &f64| {
        if percent {
            format!("{:.0}%", y * 100.0)
        } else {
            num((y * 100.0).round() / 100.0)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc(&l.x_desc)
        .y_desc(&l.y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235));
    if !cats.is_empty() {
        mesh.x_labels(cats.len() + 1);
    }
    mesh.draw().map_err(err)?;
    let n = l.series.len();
    for (i, s) in l.series.iter().enumerate() {
        let c = colour(i, n);
        if !s.band.is_empty() {
            let (lower, upper): (Vec<_>, Vec<_>) =
                s.band.iter().map(|&(x, lo, hi)| ((x, lo), (x, hi))).unzip();
            let (lower, upper) = if l.steps {
                (step_points(&lower), step_points(&upper))
            } else {
                (lower, upper)
            };
            let poly: Vec<(f64, f64)> = upper.into_iter().chain(lower.into_iter().rev()).collect();
            chart
                .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.15))))
                .map_err(err)?;
        }
        let pts = if l.steps {
            step_points(&s.points)
        } else {
            s.points.clone()
        };
        let style = c.stroke_width(2);
        let anno = if s.dashed {
            chart.draw_series(dashed(&pts, style)).map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?
        };
        anno.label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        if !cats.is_empty() {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(err)?;
        }
    }
    let position = if l.steps {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::UpperLeft
    };
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A dashed polyline as short path segments.
fn dashed(pts: &[(f64, f64)], style: ShapeStyle) -> Vec<PathElement<(f64, f64)>> {
    let mut out = Vec::new();
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let parts = 8;
        for j in (0..parts).step_by(2) {
            let a = j as f64 / parts as f64;
            let b = (j + 1) as f64 / parts as f64;
            out.push(PathElement::new(
                vec![
                    (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                    (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                ],
                style,
            ));
        }
    }
    out
}

fn bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, b: &BarChart) -> Result<()> {
    let n = b.categories.len().max(1);
    let label_w = b
        .categories
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(4) as u32;
    let max = b
        .measures
        .iter()
        .flat_map(|m| m.1.iter().copied())
        .fold(0.0f64, f64::max);
    // Room on the right for the value labels.
    let x1 = (max * 1.35).max(0.05);
    let mut chart = ChartBuilder::on(root)
        .caption(&b.title, (FONT, 20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(20 + label_w * 8)
        .build_cartesian_2d(0f64..x1, -0.5f64..n as f64 - 0.5)
        .map_err(err)?;
    let cats = &b.categories;
    let yf = |y: &f64| {
        let r = y.round();
        if (y - r).abs() < 1e-6 && r >= 0.0 {
            (n - 1)
                .checked_sub(r as usize)
                .and_then(|i| cats.get(i))
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let xf = |x: &f64| format!("{:.0}%", x * 100.0);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n + 1)
        .y_label_formatter(&yf)
        .x_label_formatter(&xf)
        .x_desc(&b.x_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let m = b.measures.len().max(1);
    let band = 0.8 / m as f64;
    for (j, (name, shares, labels)) in b.measures.iter().enumerate() {
        let c = colour(j, m);
        let mut rects = Vec::new();
        let mut texts = Vec::new();
        for (i, &s) in shares.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let top = y + 0.4 - band * j as f64;
            let bottom = top - band;
            rects.push(Rectangle::new([(0.0, bottom), (s, top)], c.filled()));
            texts.push(Text::new(
                labels.get(i).cloned().unwrap_or_default(),
                (s + x1 * 0.005, (top + bottom) / 2.0),
                (FONT, 11)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ));
        }
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(format!("share of {name}"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled()));
        chart.draw_series(texts).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn histograms<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Histograms) -> Result<()> {
    let body = root.titled(&h.title, (FONT, 20)).map_err(err)?;
    let panels = body.split_evenly((h.panels.len().max(1), 1));
    for (i, (p, area)) in h.panels.iter().zip(&panels).enumerate() {
        histogram(area, p, colour(i, h.panels.len().max(1)))?;
    }
    Ok(())
}

fn histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &Histogram,
    c: RGBColor,
) -> Result<()> {
    let n = h.bins.len().max(1);
    let max = h.counts.iter().copied().fold(0.0f64, f64::max);
    let mut chart = ChartBuilder::on(root)
        .caption(&h.title, (FONT, 16))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..(max * 1.15).max(1.0))
        .map_err(err)?;
    let bins = &h.bins;
    let xf = |x: &f64| {
        let r = x.round();
        if (x - r).abs() < 1e-6 && r >= 0.0 {
            bins.get(r as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let yf = |y: &f64| num((y * 100.0).round() / 100.0);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc(&h.x_desc)
        .y_desc(&h.y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(h.counts.iter().enumerate().map(|(i, &v)| {
            let x = i as f64;
            Rectangle::new([(x - 0.4, 0.0), (x + 0.4, v)], c.filled())
        }))
        .map_err(err)?;
    chart
        .draw_series(
            h.counts
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(|(i, &v)| {
                    Text::new(
                        num(v),
                        (i as f64, v),
                        (FONT, 11)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                }),
        )
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_parses_and_covers_thai() {
        use plotters::style::FontDesc;
        ensure_font();
        let f = FontDesc::new(FontFamily::Name(FONT), 20.0, FontStyle::Normal);
        let (w, _) = f.box_size("สวัสดี").unwrap();
        assert!(w > 20, "{w}");
    }

    #[test]
    fn png_checksums() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let png = encode_png(&[255, 0, 0, 0, 0, 255], 2, 1).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        assert!(encode_png(&[0; 5], 2, 1).is_err());
    }

    #[test]
    fn extensions() {
        assert_eq!(format_of(Path::new("a.SVG")).unwrap(), ChartFormat::Svg);
        assert_eq!(format_of(Path::new("a.png")).unwrap(), ChartFormat::Png);
        assert!(format_of(Path::new("a.jpg")).is_err());
        assert!(format_of(Path::new("a")).is_err());
    }

    #[test]
    fn renders_every_kind() {
        let charts = [
            Chart::Heatmap(Heatmap {
                title: "t ไทย".into(),
                x_desc: "k".into(),
                y_desc: "cohort".into(),
                rows: vec!["2024-01".into(), "2024-02".into()],
                columns: vec!["0".into(), "1".into()],
                values: vec![vec![Some(1.0), Some(0.4)], vec![Some(1.0), None]],
            }),
            Chart::Lines(LineChart {
                title: "t".into(),
                x_desc: "x".into(),
                y_desc: "y".into(),
                series: vec![Series {
                    name: "a".into(),
                    points: vec![(0.0, 1.0), (30.0, 0.5)],
                    band: vec![(0.0, 1.0, 1.0), (30.0, 0.4, 0.6)],
                    dashed: true,
                }],
                y_percent: true,
                steps: true,
                x_categories: vec![],
            }),
            Chart::Bars(BarChart {
                title: "t".into(),
                x_desc: "x".into(),
                categories: vec!["A".into(), "ลูกค้า".into()],
                measures: vec![("c".into(), vec![0.3, 0.7], vec!["3".into(), "7".into()])],
            }),
            Chart::Histograms(Histograms {
                title: "t".into(),
                panels: vec![
                    Histogram {
                        title: "a".into(),
                        x_desc: "x".into(),
                        y_desc: "y".into(),
                        bins: vec!["1".into(), "2+".into()],
                        counts: vec![3.0, 1.0],
                    },
                    Histogram {
                        title: "empty".into(),
                        x_desc: "x".into(),
                        y_desc: "y".into(),
                        bins: vec![],
                        counts: vec![],
                    },
                ],
            }),
        ];
        for c in &charts {
            let svg = String::from_utf8(render(c, ChartFormat::Svg).unwrap()).unwrap();
            assert!(svg.starts_with("<svg"), "{svg}");
            let png = render(c, ChartFormat::Png).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        }
    }
}
