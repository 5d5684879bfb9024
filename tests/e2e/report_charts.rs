//! End-to-end tests of `--chart`, `retention report`, completions, man page and
//! the progress indicator. Each case runs the built binary in its own work directory.

use std::path::Path;

use crate::common::*;

fn tx() -> String {
    example("transactions.csv")
}

fn customers() -> String {
    example("customers.csv")
}

/// Well-formed XML: every tag closed in order, attributes quoted (a small checker; the
/// SVG writer emits no CDATA or DTD).
fn check_xml(s: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s;
    let mut roots = 0;
    while let Some(i) = rest.find('<') {
        if stack.is_empty() && !rest[..i].trim().is_empty() {
            return Err(format!("text outside the root: {:?}", &rest[..i]));
        }
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<?") {
            let e = r.find("?>").ok_or("unclosed <?")?;
            rest = &r[e + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            let e = r.find("-->").ok_or("unclosed comment")?;
            rest = &r[e + 3..];
            continue;
        }
        // Find the end of the tag, skipping quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (j, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"') | (None, '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '<') => return Err(format!("'<' inside a tag: {}", &rest[..j])),
                (None, '>') => {
                    end = Some(j);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unclosed tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or(format!("</{name}> without an open tag"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
        } else {
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            if name.is_empty() {
                return Err(format!("empty tag name in <{tag}>"));
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

/// The text elements of an SVG, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            Some(t[start..end].trim().to_string())
        })
        .collect()
}

fn has_text(svg: &str, text: &str) -> bool {
    texts(svg).iter().any(|t| t == text)
}

fn svg_text(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains("<svg"), "{s}");
    check_xml(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    s
}

/// Width, height and the number of distinct colours of a PNG (decoded: chunks, CRCs,
/// inflated image data; the writer uses filter 0 on every row of 8-bit RGB).
fn png_info(path: &Path) -> (u32, u32, usize) {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let (mut w, mut h, mut idat, mut end) = (0u32, 0u32, Vec::new(), false);
    let mut at = 8;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&bytes[at + 4..at + 8 + len]), "chunk CRC");
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(&data[8..10], &[8, 2], "8-bit RGB");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => end = true,
            _ => {}
        }
        at += 12 + len;
    }
    assert!(end, "IEND");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let row = w as usize * 3 + 1;
    assert_eq!(raw.len(), row * h as usize);
    let mut colours = std::collections::HashSet::new();
    for line in raw.chunks(row) {
        assert_eq!(line[0], 0, "filter type");
        colours.extend(line[1..].chunks(3));
    }
    (w, h, colours.len())
}

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

#[test]
fn cohort_heatmap_svg_and_png() {
    let d = workdir();
    let r = run_in(
        d.path(),
        &["cohort", "-t", &tx(), "--chart", "c.svg", "-o", "c.csv"],
    );
    assert_eq!(r.code, 0);
    let s = svg_text(&d.path().join("c.svg"));
    assert!(s.contains("Cohort retention — transactions.csv, as of 2024-12-31"));
    assert!(
        has_text(&s, "2023-01") && has_text(&s, "2024-12"),
        "cohort labels"
    );
    // The 2023-01 cohort's k = 1 cell: 8 of 20 customers.
    assert!(has_text(&s, "40%"));
    assert!(has_text(&s, "retention"), "the colour-scale legend");
    assert!(d.path().join("c.csv").is_file());

    let r = run_in(
        d.path(),
        &["cohort", "-t", &tx(), "--chart", "c.png", "-f", "csv"],
    );
    assert_eq!(r.code, 0);
    let (w, h, colours) = png_info(&d.path().join("c.png"));
    assert!(w >= 640 && h >= 360, "{w}x{h}");
    assert!(colours > 20, "a heatmap has many colours, got {colours}");
}

#[test]
fn survival_curves_per_group() {
    let d = workdir();
    let r = run_in(
        d.path(),
        &[
            "churn",
            "-t",
            &tx(),
            "-c",
            &customers(),
            "--survival",
            "--by",
            "channel",
            "--chart",
            "s.svg",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0);
    let s = svg_text(&d.path().join("s.svg"));
    assert!(s.contains("Customer survival (Kaplan–Meier, 95% interval) by channel"));
    assert!(s.contains("as of 2024-12-31"));
    for g in ["email", "(all)"] {
        assert!(s.contains(g), "legend entry {g}");
    }
    assert!(s.contains("<polygon"), "interval bands");
    assert!(s.contains("<polyline"), "curves");

    let r = run_in(d.path(), &["churn", "-t", &tx(), "--chart", "x.svg"]);
    assert_eq!(r.code, 2, "chart needs --survival");
    assert!(r.stderr.contains("--survival"));
}

#[test]
fn ltv_curves_and_calibration() {
    let d = workdir();
    let r = run_in(
        d.path(),
        &["ltv", "-t", &tx(), "--chart", "l.png", "-f", "csv"],
    );
    assert_eq!(r.code, 0);
    let (w, h, _) = png_info(&d.path().join("l.png"));
    assert!(w >= 800 && h >= 600, "{w}x{h}");
    let r = run_in(
        d.path(),
        &["ltv", "-t", &tx(), "--chart", "l.svg", "-f", "csv"],
    );
    assert_eq!(r.code, 0);
    let s = svg_text(&d.path().join("l.svg"));
    assert!(s.contains("Cumulative LTV per customer by cohort — transactions.csv"));
    assert!(has_text(&s, "2023-01"), "legend names the cohorts");

    let r = run_in(
        d.path(),
        &[
            "ltv",
            "-t",
            &tx(),
            "--model",
            "bgnbd",
            "--calibration-end",
            "2024-06-30",
            "--chart",
            "m.svg",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0);
    let s = svg_text(&d.path().join("m.svg"));
    assert!(s.contains("predicted vs actual holdout purchases"));
    assert!(has_text(&s, "actual") && has_text(&s, "predicted"));
    assert!(has_text(&s, "7+"));

    let r = run_in(
        d.path(),
        &["ltv", "-t", &tx(), "--model", "bgnbd", "--chart", "m.svg"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--calibration-end"));
}

#[test]
fn segment_bars_and_bad_chart_names() {
    let d = workdir();
    let r = run_in(
        d.path(),
        &["segment", "-t", &tx(), "--chart", "seg.svg", "-f", "csv"],
    );
    assert_eq!(r.code, 0);
    let s = svg_text(&d.path().join("seg.svg"));
    assert!(
        s.contains("Customers and revenue per RFM segment — transactions.csv, as of 2024-12-31")
    );
    assert!(has_text(&s, "Champions") && has_text(&s, "Loyal"));
    assert!(s.contains("share of customers") && s.contains("share of revenue"));

    let r = run_in(d.path(), &["segment", "-t", &tx(), "--chart", "seg.jpg"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(".svg or .png"), "{}", r.stderr);
    assert!(!d.path().join("seg.jpg").exists());
    let r = run_in(
        d.path(),
        &["segment", "-t", &tx(), "--chart", "no/such/dir/s.svg"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn thai_labels_are_kept_in_svg_and_drawn_in_png() {
    let d = workdir();
    let cust = "customer_id,signup_date,channel\n\
                c1,2024-01-01,ออนไลน์\nc2,2024-01-01,หน้าร้าน\nc3,2024-01-01,ออนไลน์\n";
    let txs = "customer_id,date,amount\n\
               c1,2024-01-02,100\nc1,2024-02-03,50\nc2,2024-01-05,80\nc3,2024-01-07,30\n\
               c3,2024-03-09,40\nc2,2024-04-01,20\n";
    std::fs::write(d.path().join("c.csv"), cust).unwrap();
    std::fs::write(d.path().join("t.csv"), txs).unwrap();
    let args = |chart: &'static str| {
        vec![
            "churn",
            "-t",
            "t.csv",
            "-c",
            "c.csv",
            "--survival",
            "--by",
            "channel",
            "--chart",
            chart,
            "-f",
            "csv",
        ]
    };
    assert_eq!(run_in(d.path(), &args("th.svg")).code, 0);
    let s = svg_text(&d.path().join("th.svg"));
    assert!(s.contains("ออนไลน์") && s.contains("หน้าร้าน"));
    assert_eq!(run_in(d.path(), &args("th.png")).code, 0);
    png_info(&d.path().join("th.png"));
}

fn report_args<'a>(out: &'a str, t: &'a str, c: &'a str) -> Vec<&'a str> {
    vec!["report", "-t", t, "-c", c, "--out", out]
}

/// `--verbose` names every step with its seconds (and, on Linux, the peak memory after
/// it), in the order the sections are listed; without it, none of these lines.
#[test]
fn report_verbose_times_every_step() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    let mut args = report_args("rep", &t, &c);
    args.push("--verbose");
    let r = run_in(d.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let steps: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("retention report: "))
        .filter(|l| l.contains(" s, peak memory ") || l.starts_with("written in "))
        .map(|l| l.split(" in ").next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "coding",
            "summary",
            "summary_by_period",
            "cohort",
            "churn",
            "survival",
            "ltv",
            "ltv_model",
            "previous period",
            "segment",
            "wallet",
            "whatif",
            "written"
        ],
        "{}",
        r.stderr
    );
    let quiet = run_in(d.path(), &report_args("rep2", &t, &c));
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("peak memory"), "{}", quiet.stderr);
}

#[test]
fn report_writes_every_file_and_a_self_contained_index() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    let r = run_in(d.path(), &report_args("rep", &t, &c));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = d.path().join("rep");
    for f in [
        "summary.csv",
        "summary_by_period.csv",
        "cohort.csv",
        "churn.csv",
        "survival.csv",
        "ltv.csv",
        "ltv_model.csv",
        "segment.csv",
        "wallet.csv",
        "whatif.csv",
        "cohort.svg",
        "survival.svg",
        "ltv.svg",
        "segment.svg",
        "summary.json",
        "index.html",
    ] {
        assert!(rep.join(f).is_file(), "missing {f}");
    }
    let cohort = std::fs::read_to_string(rep.join("cohort.csv")).unwrap();
    assert!(cohort.starts_with("cohort,period_index,cohort_size,active,retention,"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["as_of"], "2024-12-31");
    assert_eq!(json["inputs"][0]["rows"], 3245);
    assert_eq!(json["inputs"][1]["rows"], 600);
    assert_eq!(json["summary"][0]["customers"], 510);

    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    assert!(html.contains("As of <strong>2024-12-31</strong>"));
    assert!(html.contains("transactions.csv") && html.contains("customers.csv"));
    assert!(html.contains("<td>3245</td>") && html.contains("<td>600</td>"));
    assert_eq!(html.matches("<svg").count(), 4, "four inline charts");
    assert!(html.contains("<table>") && html.contains("<th>Champions</th>"));
    assert!(!html.contains("src=\"http"), "self-contained");
    // Nothing left beside the report.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec!["rep".to_string()]);
}

#[test]
fn report_index_opens_with_tiles_then_charts_and_is_reproducible() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    let run_fixed = |out: &str| {
        let mut cmd = crate::common::retention(d.path());
        cmd.args(report_args(out, &t, &c))
            .env("SOURCE_DATE_EPOCH", "1700000000");
        let o = cmd.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run_fixed("a");
    run_fixed("b");
    let html = std::fs::read_to_string(d.path().join("a/index.html")).unwrap();
    // tiles first, then the charts, then the tables, then the input
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("class=\"tiles\"") < at("class=\"charts\""));
    assert!(at("class=\"charts\"") < at("<section id=\"summary\">"));
    assert!(at("<section id=\"whatif\">") < at("<section id=\"input\">"));
    assert_eq!(html.matches("class=\"tile\"").count(), 7);
    for label in [
        "Customers",
        "Active customers",
        "Retention rate",
        "Churn rate",
        "Repeat-purchase rate",
        "LTV:CAC",
        "Predicted 12-month CLV per customer",
    ] {
        assert!(html.contains(&format!("<h3>{label}</h3>")), "tile {label}");
    }
    // the bundled shop ends on 2024-12-31: December against November
    assert!(html.contains("2024-12 vs 2024-11"));
    assert!(html.contains("vs 2024-11-30"));
    // every tile has a value and a change (the shop has costs and two years of data)
    assert!(!html.contains("no change to show"), "{html}");
    // long tables are folded
    assert!(html.contains("<details><summary>Show the table"));
    assert!(html.contains("generated 2023-11-14 22:13 UTC"));
    // same data, same clock: the same bytes, apart from nothing
    for f in ["index.html", "summary.json"] {
        assert_eq!(
            std::fs::read(d.path().join("a").join(f)).unwrap(),
            std::fs::read(d.path().join("b").join(f)).unwrap(),
            "{f} differs between two runs"
        );
    }
}

#[test]
fn report_on_invoice_lines_adds_the_subscription_sections_and_tiles() {
    let d = workdir();
    let inv = root("examples/saas/invoice_lines.csv");
    let r = run_in(d.path(), &["report", "-t", &inv, "--out", "rep"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = d.path().join("rep");
    for f in [
        "subscriptions.csv",
        "subscriptions_cohort.csv",
        "subscriptions_cohort.svg",
    ] {
        assert!(rep.join(f).is_file(), "missing {f}");
    }
    // the same tables as the command itself
    for (file, extra) in [
        ("subscriptions.csv", None),
        ("subscriptions_cohort.csv", Some("--cohort")),
    ] {
        let mut args = vec!["subscriptions", "-t", inv.as_str(), "-f", "csv"];
        args.extend(extra);
        let own = run_in(d.path(), &args);
        assert_eq!(own.code, 0, "{}", own.stderr);
        assert_eq!(
            std::fs::read_to_string(rep.join(file)).unwrap(),
            own.stdout,
            "{file}"
        );
    }
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    for label in [
        "MRR",
        "Logo churn rate",
        "Net MRR churn rate",
        "Quick ratio",
        "NRR (12 months)",
    ] {
        assert!(html.contains(&format!("<h3>{label}</h3>")), "tile {label}");
    }
    assert_eq!(html.matches("class=\"tile\"").count(), 12);
    // a shop's transactions have no service period: no subscription sections
    let shop = run_in(d.path(), &report_args("shop", &tx(), &customers()));
    assert_eq!(shop.code, 0, "{}", shop.stderr);
    assert!(!d.path().join("shop/subscriptions.csv").exists());
}

#[test]
fn report_parquet_and_png() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    let mut args = report_args("rep", &t, &c);
    args.extend(["--format", "parquet", "--png"]);
    let r = run_in(d.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = d.path().join("rep");
    let pq = std::fs::read(rep.join("cohort.parquet")).unwrap();
    assert_eq!(&pq[..4], b"PAR1");
    png_info(&rep.join("segment.png"));
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 4);
}

#[test]
fn failed_report_leaves_the_previous_one_untouched() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    assert_eq!(run_in(d.path(), &report_args("rep", &t, &c)).code, 0);
    let rep = d.path().join("rep");
    std::fs::write(rep.join("marker"), "previous").unwrap();
    let before = std::fs::read(rep.join("index.html")).unwrap();

    std::fs::write(
        d.path().join("broken.csv"),
        "customer_id,date,amount\nc1,not a date,x\n",
    )
    .unwrap();
    let r = run_in(d.path(), &report_args("rep", "broken.csv", &c));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r2 = run_in(d.path(), &report_args("rep", "missing.csv", &c));
    assert_eq!(r2.code, 2);
    assert_eq!(
        std::fs::read_to_string(rep.join("marker")).unwrap(),
        "previous"
    );
    assert_eq!(std::fs::read(rep.join("index.html")).unwrap(), before);
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["broken.csv".to_string(), "rep".to_string()],
        "no temp dirs left"
    );

    // A successful run replaces it entirely.
    assert_eq!(run_in(d.path(), &report_args("rep", &t, &c)).code, 0);
    assert!(!rep.join("marker").exists());

    // --out naming a file is a usage error.
    std::fs::write(d.path().join("file"), "x").unwrap();
    assert_eq!(run_in(d.path(), &report_args("file", &t, &c)).code, 2);
}

#[test]
fn completions_for_each_shell_and_man_page() {
    let d = workdir();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef retention"),
        ("fish", "complete -c retention"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let r = run_in(d.path(), &["completions", shell]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains(marker), "{shell}");
        assert!(
            r.stdout.contains("cohort") && r.stdout.contains("report"),
            "{shell}"
        );
    }
    let r = run_in(d.path(), &["completions", "tcsh"]);
    assert_eq!(r.code, 2);

    let r = run_in(d.path(), &["man"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH retention 1"), "{}", &r.stdout[..200]);
    let r = run_in(d.path(), &["man", "--dir", "."]);
    assert_eq!(r.code, 0);
    for p in ["retention.1", "retention-cohort.1", "retention-report.1"] {
        assert!(d.path().join(p).is_file(), "{p}");
    }
}

#[test]
fn every_command_help_has_a_runnable_example() {
    let d = workdir();
    for cmd in [
        "cohort",
        "churn",
        "ltv",
        "segment",
        "whatif",
        "summary",
        "wallet",
        "report",
        "completions",
        "man",
    ] {
        let r = run_in(d.path(), &[cmd, "--help"]);
        assert_eq!(r.code, 0);
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("retention {cmd}")))
            .unwrap_or_else(|| panic!("{cmd}: no example"));
        // The first example of the analytic commands runs on the bundled data.
        if line.contains("examples/shop/") && !line.trim_end().ends_with('\\') {
            let args: Vec<String> = line
                .split_whitespace()
                .skip(1)
                .map(|a| {
                    a.replace(
                        "examples/shop/",
                        &format!("{}/examples/shop/", env!("CARGO_MANIFEST_DIR")),
                    )
                })
                .collect();
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            let r = run_in(d.path(), &args);
            assert_eq!(r.code, 0, "{line}");
        }
    }
}

#[test]
fn no_progress_when_quiet_or_piped() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    // stderr is a pipe here: never a spinner, with or without --quiet.
    for quiet in [false, true] {
        let mut args = report_args("rep", &t, &c);
        if quiet {
            args.push("--quiet");
        }
        let r = run_in(d.path(), &args);
        assert_eq!(r.code, 0);
        assert!(r.stderr.is_empty(), "{:?}", r.stderr);
    }
    let r = run_in(d.path(), &["cohort", "-t", &t, "-q", "-f", "csv"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.is_empty(), "{:?}", r.stderr);
}

#[test]
fn bash_completion_completes() {
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no bash: skipped");
        return;
    }
    let d = workdir();
    let r = run_in(d.path(), &["completions", "bash"]);
    std::fs::write(d.path().join("retention.bash"), &r.stdout).unwrap();
    let script = r#"source ./retention.bash
COMP_WORDS=(retention co); COMP_CWORD=1; _retention retention co retention; echo "1:${COMPREPLY[*]}"
COMP_WORDS=(retention report --format ""); COMP_CWORD=3; _retention retention "" --format; echo "2:${COMPREPLY[*]}""#;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(d.path())
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("1:cohort completions"), "{s}");
    assert!(s.contains("2:csv parquet"), "{s}");
}

#[test]
fn report_takes_its_defaults_from_the_config_file() {
    let d = workdir();
    let (t, c) = (tx(), customers());
    std::fs::write(
        d.path().join("retention.toml"),
        "[report]\nperiod = \"quarter\"\ncharts = \"png\"\n",
    )
    .unwrap();
    let r = run_in(d.path(), &report_args("rep", &t, &c));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = d.path().join("rep");
    let cohort = std::fs::read_to_string(rep.join("cohort.csv")).unwrap();
    assert!(cohort.contains("\n2023-Q1,0,"), "{cohort}");
    png_info(&rep.join("cohort.png"));
    assert!(!rep.join("cohort.svg").exists());

    // Flags win.
    let mut args = report_args("rep", &t, &c);
    args.extend(["--period", "month", "--format", "parquet"]);
    assert_eq!(run_in(d.path(), &args).code, 0);
    assert!(rep.join("cohort.parquet").is_file() && rep.join("cohort.png").is_file());

    std::fs::write(
        d.path().join("retention.toml"),
        "[report]\ncharts = \"gif\"\n",
    )
    .unwrap();
    let r = run_in(d.path(), &report_args("rep", &t, &c));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("charts"), "{}", r.stderr);
    assert!(rep.join("cohort.parquet").is_file(), "previous report kept");
}

#[test]
fn quiet_on_a_terminal_prints_no_progress() {
    // `script` gives the command a terminal; skipped where it is missing.
    let bin = assert_cmd::cargo::cargo_bin("retention");
    let d = workdir();
    let cmd = format!(
        "{} report -t {} -c {} --out rep -q",
        bin.display(),
        tx(),
        customers()
    );
    let out = match std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(d.path())
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("no script(1): skipped");
            return;
        }
    };
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(!s.contains("retention report:"), "{s}");
    assert!(d.path().join("rep/index.html").is_file());
}
