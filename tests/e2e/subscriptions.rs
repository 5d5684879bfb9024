//! End-to-end tests of `retention subscriptions`: the movements, cohorts and
//! per-plan tables against the independent pandas reference
//! (`tests/reference/subscriptions_reference.py` → `testdata/expected/subscriptions_*.csv`),
//! the loader's invoice-line features, bad input, the sBG model and the charts.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::common::*;

const AS_OF: &str = "2024-12-20";

/// Columns compared to the cent, exactly, or to 1e-9.
fn tolerance(name: &str) -> f64 {
    match name {
        "mrr_start" | "new" | "expansion" | "contraction" | "churn" | "reactivation"
        | "mrr_end" => 0.005,
        n if n.starts_with("customers_") || n == "cohort_size" || n == "period_index" => 0.0,
        _ => 1e-9,
    }
}

/// Every column of every row equal: text exactly (booleans case-insensitively), numbers
/// within their tolerance, nulls where the reference has them.
fn assert_same_table(got: &str, want: &str) {
    let (g, w) = (csv_frame(got), csv_frame(want));
    assert_eq!(g.get_column_names(), w.get_column_names());
    assert_eq!(g.height(), w.height(), "rows\n{got}");
    for name in w.get_column_names() {
        let (gc, wc) = (g.column(name).unwrap(), w.column(name).unwrap());
        if wc.dtype().is_primitive_numeric() || gc.dtype().is_primitive_numeric() {
            let (gv, wv) = (floats(&g, name), floats(&w, name));
            let tol = tolerance(name);
            for (i, (a, b)) in gv.iter().zip(&wv).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!(
                        (a - b).abs() <= tol,
                        "{name} row {i}: {a} vs reference {b} (tolerance {tol})"
                    ),
                    (None, None) => {}
                    _ => panic!("{name} row {i}: {a:?} vs reference {b:?}"),
                }
            }
        } else {
            let text = |c: &Column| -> Vec<String> {
                let s = c.cast(&DataType::String).unwrap();
                s.str()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_lowercase())
                    .collect()
            };
            assert_eq!(text(gc), text(wc), "{name}");
        }
    }
}

fn subs(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["subscriptions", "--as-of", AS_OF];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

fn invoices() -> String {
    data("invoices.csv")
}

#[test]
fn movements_match_the_pandas_reference() {
    let w = workdir();
    for period in ["month", "quarter", "year"] {
        let r = subs(
            w.path(),
            &["-t", &invoices(), "--period", period, "-f", "csv"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_same_table(&r.stdout, &expected(&format!("subscriptions_{period}.csv")));
    }
}

#[test]
fn by_plan_and_cohorts_match_the_pandas_reference() {
    let w = workdir();
    let r = subs(w.path(), &["-t", &invoices(), "--by", "plan", "-f", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_same_table(&r.stdout, &expected("subscriptions_month_by_plan.csv"));
    let r = subs(w.path(), &["-t", &invoices(), "--cohort", "-f", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_same_table(&r.stdout, &expected("subscriptions_cohort_month.csv"));
}

#[test]
fn the_movements_add_up_and_the_table_marks_the_partial_period() {
    let w = workdir();
    let r = subs(w.path(), &["-t", &invoices(), "-f", "csv"]);
    let df = csv_frame(&r.stdout);
    let col = |n: &str| floats(&df, n);
    let (s, e) = (col("mrr_start"), col("mrr_end"));
    let parts = ["new", "reactivation", "expansion", "contraction", "churn"].map(col);
    for i in 0..df.height() {
        let sum =
            s[i].unwrap() + parts[0][i].unwrap() + parts[1][i].unwrap() + parts[2][i].unwrap()
                - parts[3][i].unwrap()
                - parts[4][i].unwrap();
        assert!((sum - e[i].unwrap()).abs() < 1e-6, "row {i}");
        if i > 0 {
            assert_eq!(s[i], e[i - 1], "row {i}: the start is the previous end");
        }
    }
    let r = subs(w.path(), &["-t", &invoices(), "-f", "table"]);
    assert!(r.stdout.contains("2024-12*"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("* 2024-12 is a partial period (MRR at 2024-12-20)"),
        "{}",
        r.stdout
    );
}

/// The reference's rows as CSV text of a frame, for the loaders' variants below.
fn month_csv(dir: &Path, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend(["-f", "csv"]);
    let r = subs(dir, &a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn every_input_form_reads_the_same_invoices() {
    let w = workdir();
    let want = expected("subscriptions_month.csv");
    let text = std::fs::read_to_string(invoices()).unwrap();
    // Parquet (dates as text columns written by polars).
    let mut df = csv_frame(&text);
    let pq = w.path().join("invoices.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    assert_same_table(&month_csv(w.path(), &["-t", "invoices.parquet"]), &want);
    // A glob over two files.
    std::fs::create_dir(w.path().join("parts")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rest: Vec<&str> = lines.collect();
    let (a, b) = rest.split_at(rest.len() / 2);
    for (name, part) in [("a.csv", a), ("b.csv", b)] {
        std::fs::write(
            w.path().join("parts").join(name),
            format!("{header}\n{}\n", part.join("\n")),
        )
        .unwrap();
    }
    assert_same_table(&month_csv(w.path(), &["-t", "parts/*.csv"]), &want);
    // Windows-1252 with a semicolon delimiter and decimal commas.
    let euro = text.replace(',', ";").replace('.', ",");
    let euro = euro.replace("cus_0001", "cüs_0001");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&euro);
    std::fs::write(w.path().join("euro.csv"), &bytes).unwrap();
    let got = month_csv(
        w.path(),
        &[
            "-t",
            "euro.csv",
            "--encoding",
            "windows-1252",
            "--decimal-comma",
        ],
    );
    assert_same_table(&got, &want);
}

#[test]
fn usual_names_flags_config_and_inclusive_ends() {
    let w = workdir();
    let want = expected("subscriptions_month.csv");
    let text = std::fs::read_to_string(invoices()).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    // Stripe's names, recognised.
    let stripe = header
        .replace("period_start", "current_period_start")
        .replace("period_end", "current_period_end");
    std::fs::write(w.path().join("stripe.csv"), format!("{stripe}\n{body}")).unwrap();
    assert_same_table(&month_csv(w.path(), &["-t", "stripe.csv"]), &want);
    // Names of one's own, by flag and by config.
    let own = header
        .replace("period_start", "von")
        .replace("period_end", "bis");
    std::fs::write(w.path().join("own.csv"), format!("{own}\n{body}")).unwrap();
    let got = month_csv(
        w.path(),
        &[
            "-t",
            "own.csv",
            "--period-start-col",
            "von",
            "--period-end-col",
            "bis",
        ],
    );
    assert_same_table(&got, &want);
    std::fs::write(
        w.path().join("retention.toml"),
        "[columns]\nperiod_start = \"von\"\nperiod_end = \"bis\"\n",
    )
    .unwrap();
    assert_same_table(&month_csv(w.path(), &["-t", "own.csv"]), &want);
    std::fs::remove_file(w.path().join("retention.toml")).unwrap();
    // The last day served instead of the first day not served.
    let mut out = vec![header.to_string()];
    for line in body.lines() {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        if !f[5].is_empty() && f[5] != f[4] {
            let d = chrono::NaiveDate::parse_from_str(&f[5], "%Y-%m-%d").unwrap();
            f[5] = d.pred_opt().unwrap().to_string();
        } else if f[5] == f[4] {
            // A one-off line (no service) cannot be written with an inclusive end.
            continue;
        }
        out.push(f.join(","));
    }
    std::fs::write(w.path().join("inclusive.csv"), out.join("\n") + "\n").unwrap();
    let got = month_csv(
        w.path(),
        &["-t", "inclusive.csv", "--period-end", "inclusive"],
    );
    assert_same_table(&got, &want);
}

#[test]
fn lines_without_a_service_period_serve_one_calendar_month() {
    let w = workdir();
    // a pays on Jan 31 (served to Feb 29) and Mar 15; b pays once on Feb 10.
    std::fs::write(
        w.path().join("plain.csv"),
        "customer_id,date,amount\na,2024-01-31,30\na,2024-03-15,45\nb,2024-02-10,20\n",
    )
    .unwrap();
    let r = run_in(
        w.path(),
        &[
            "subscriptions",
            "-t",
            "plain.csv",
            "--as-of",
            "2024-04-30",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let df = csv_frame(&r.stdout);
    let periods: Vec<String> = df
        .column("period")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    assert_eq!(periods, ["2024-01", "2024-02", "2024-03", "2024-04"]);
    // Jan 31: a 30. Feb 29: a's Jan line ends on Feb 29 (exclusive): 0; b 20 (new).
    // Mar 31: a 45 (reactivation), b 0 (churn). Apr 30: a's line ends Apr 15: 0.
    assert_eq!(
        floats(&df, "mrr_end"),
        [Some(30.0), Some(20.0), Some(45.0), Some(0.0)]
    );
    assert_eq!(
        floats(&df, "reactivation"),
        [Some(0.0), Some(0.0), Some(45.0), Some(0.0)]
    );
    assert_eq!(
        floats(&df, "customers_new"),
        [Some(1.0), Some(1.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(
        floats(&df, "churn"),
        [Some(0.0), Some(30.0), Some(20.0), Some(45.0)]
    );
}

/// `testdata/bad_subscriptions/NAME.expect`: `args: …`, then texts the one-line error
/// must contain; the input is NAME.csv beside it. Each exits 2 with one line on stderr
/// and nothing on stdout.
#[test]
fn bad_invoice_lines_give_one_line_and_exit_2() {
    let w = workdir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data("bad_subscriptions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "expect"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    for expect in cases {
        let text = std::fs::read_to_string(&expect).unwrap();
        let mut lines = text.lines();
        let extra = lines.next().unwrap().strip_prefix("args:").unwrap().trim();
        let input = expect.with_extension("csv").to_string_lossy().to_string();
        let mut args = vec!["subscriptions", "-t", &input, "-o", "out.csv"];
        args.extend(extra.split_whitespace());
        let r = run_in(w.path(), &args);
        let name = expect.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{name}");
        assert_eq!(r.stderr.lines().count(), 1, "{name}: {}", r.stderr);
        assert!(r.stderr.starts_with("retention subscriptions: "), "{name}");
        for word in lines.filter(|l| !l.is_empty()) {
            assert!(
                r.stderr.contains(word),
                "{name}: missing {word:?} in {}",
                r.stderr
            );
        }
        assert!(!w.path().join("out.csv").exists(), "{name}: left out.csv");
    }
    // Monthly, these subscribers churn at one constant rate: sBG has no finite maximum.
    let r = subs(w.path(), &["-t", &invoices(), "--model", "sbg"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("do not identify the model")
            && r.stderr.contains("constant churn probability of 0.0"),
        "{}",
        r.stderr
    );
    // --chart needs a table that has a chart.
    let r = subs(w.path(), &["-t", &invoices(), "--chart", "x.svg"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--chart needs --cohort"), "{}", r.stderr);
}

#[test]
fn sbg_fit_projection_params_and_charts() {
    let w = workdir();
    let r = subs(
        w.path(),
        &[
            "-t",
            &invoices(),
            "--model",
            "sbg",
            "--period",
            "quarter",
            "--horizon",
            "30",
            "--params",
            "p.json",
            "--chart",
            "sbg.svg",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("sBG ("), "{}", r.stderr);
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    let (a, b) = (
        p["sbg"]["alpha"].as_f64().unwrap(),
        p["sbg"]["beta"].as_f64().unwrap(),
    );
    // The independent scipy fit of the same survival counts.
    let want: serde_json::Value =
        serde_json::from_str(&expected("subscriptions_sbg_quarter.json")).unwrap();
    for (name, got) in [("alpha", a), ("beta", b)] {
        let w = want[name].as_f64().unwrap();
        assert!((got - w).abs() < 1e-5 * w, "{name} {got} vs scipy {w}");
    }
    let ll = p["sbg"]["log_likelihood"].as_f64().unwrap();
    assert!((ll - want["log_likelihood"].as_f64().unwrap()).abs() < 1e-8);
    assert_eq!(p["sbg"]["subscribers"], want["subscribers"]);
    assert!(p["sbg"]["standard_errors"]["alpha"].as_f64().unwrap() > 0.0);
    assert!(
        r.stderr.contains(&format!("alpha = {a:.6}")),
        "{}",
        r.stderr
    );
    let df = csv_frame(&r.stdout);
    assert_eq!(df.height(), 31);
    // S(k) = B(α, β + k) / B(α, β) = Π r(j), r(j) = (β + j − 1)/(α + β + j − 1).
    let s = floats(&df, "predicted_survival");
    let mut prod = 1.0;
    for (k, v) in s.iter().enumerate() {
        if k > 0 {
            prod *= (b + k as f64 - 1.0) / (a + b + k as f64 - 1.0);
        }
        assert!((v.unwrap() - prod).abs() < 1e-9, "k {k}");
    }
    // Actual survival: 100% at k = 0, non-increasing, empty past the data.
    let actual = floats(&df, "actual_survival");
    assert_eq!(actual[0], Some(1.0));
    assert!(actual.windows(2).all(|w| match (w[0], w[1]) {
        (Some(x), Some(y)) => y <= x,
        _ => true,
    }));
    assert_eq!(actual[30], None);
    let svg = std::fs::read_to_string(w.path().join("sbg.svg")).unwrap();
    assert!(svg.contains("actual vs sBG") && svg.contains("predicted (sBG)"));
    let r = subs(
        w.path(),
        &[
            "-t",
            &invoices(),
            "--cohort",
            "--chart",
            "c.png",
            "-o",
            "c.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let png = std::fs::read(w.path().join("c.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
}

#[test]
fn help_examples_run_on_the_bundled_invoices() {
    let w = workdir();
    let r = run_in(w.path(), &["subscriptions", "--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes: 0 ok, 2 bad input or usage"));
    let examples: Vec<&str> = r
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("retention subscriptions -t examples/saas/"))
        .collect();
    assert_eq!(examples.len(), 4, "{}", r.stdout);
    for line in examples {
        let args: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(|a| a.replace("examples/", &root("examples/")))
            .chain(["-o".to_string(), "out.csv".to_string()])
            .collect();
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = run_in(w.path(), &args);
        assert_eq!(r.code, 0, "{line}: {}", r.stderr);
    }
}

/// `summary` on invoice lines: the MRR KPIs, per period equal to `subscriptions`' own
/// columns, and for the whole window MRR as of as-of with the last complete month's rates.
#[test]
fn summary_on_invoice_lines_has_the_subscription_kpis() {
    let w = workdir();
    let subs_month = csv_frame(&subs(w.path(), &["-t", &invoices(), "-f", "csv"]).stdout);
    let r = run_in(
        w.path(),
        &[
            "summary",
            "-t",
            &invoices(),
            "--as-of",
            AS_OF,
            "--period",
            "month",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("subscription KPIs"), "{}", r.stderr);
    let per = csv_frame(&r.stdout);
    let periods = |df: &DataFrame| -> Vec<String> {
        df.column("period")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect()
    };
    let (sp, pp) = (periods(&subs_month), periods(&per));
    let mut compared = 0;
    for (i, p) in sp.iter().enumerate() {
        let j = pp
            .iter()
            .position(|x| x == p)
            .expect("every MRR period is a summary row");
        for (ours, theirs) in [
            ("mrr", "mrr_end"),
            ("subscribers", "customers_end"),
            ("logo_churn_rate", "logo_churn_rate"),
            ("gross_mrr_churn_rate", "gross_mrr_churn_rate"),
            ("net_mrr_churn_rate", "net_mrr_churn_rate"),
            ("quick_ratio", "quick_ratio"),
            ("nrr_12m", "nrr_12m"),
            ("grr_12m", "grr_12m"),
        ] {
            assert_eq!(
                floats(&per, ours)[j],
                floats(&subs_month, theirs)[i],
                "{p} {ours}"
            );
            compared += 1;
        }
        let (mrr, arr) = (
            floats(&per, "mrr")[j].unwrap(),
            floats(&per, "arr")[j].unwrap(),
        );
        assert!((arr - 12.0 * mrr).abs() < 1e-6, "{p}");
    }
    assert!(compared > 100, "{compared}");

    // The whole window: MRR as of as-of (the last, partial month), the churn rates of
    // the last complete month.
    let r = run_in(
        w.path(),
        &["summary", "-t", &invoices(), "--as-of", AS_OF, "-f", "csv"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("2024-11, the last complete month"),
        "{}",
        r.stderr
    );
    let all = csv_frame(&r.stdout);
    let last = sp.len() - 1;
    assert_eq!(floats(&all, "mrr")[0], floats(&subs_month, "mrr_end")[last]);
    assert_eq!(
        floats(&all, "nrr_12m")[0],
        floats(&subs_month, "nrr_12m")[last]
    );
    assert_eq!(
        floats(&all, "logo_churn_rate")[0],
        floats(&subs_month, "logo_churn_rate")[last - 1]
    );
    // A transactions file without a service period: no MRR columns.
    let r = run_in(
        w.path(),
        &["summary", "-t", &data("transactions.csv"), "-f", "csv"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("mrr"), "{}", r.stdout);
}

/// `[input] period_end = "inclusive"` in the config file reads the service period's end
/// as the last day served, like `--period-end inclusive`; the flag wins over the file.
#[test]
fn period_end_from_the_config_file() {
    let w = workdir();
    let flag = subs(
        w.path(),
        &["-t", &invoices(), "--period-end", "inclusive", "-f", "csv"],
    );
    let plain = subs(w.path(), &["-t", &invoices(), "-f", "csv"]);
    assert_ne!(
        flag.stdout, plain.stdout,
        "inclusive ends change some movements"
    );
    std::fs::write(
        w.path().join("retention.toml"),
        "[input]\nperiod_end = \"inclusive\"\n",
    )
    .unwrap();
    let conf = subs(w.path(), &["-t", &invoices(), "-f", "csv"]);
    assert_eq!(conf.code, 0, "{}", conf.stderr);
    assert_eq!(conf.stdout, flag.stdout);
    let over = subs(
        w.path(),
        &["-t", &invoices(), "--period-end", "exclusive", "-f", "csv"],
    );
    assert_eq!(over.stdout, plain.stdout);
    std::fs::write(
        w.path().join("retention.toml"),
        "[input]\nperiod_end = \"last\"\n",
    )
    .unwrap();
    let bad = subs(w.path(), &["-t", &invoices(), "-f", "csv"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("line 2 (period_end = \"last\")"),
        "{}",
        bad.stderr
    );
}

/// MRR reads only customer, date, amount and the service period; rows equal on those but
/// for another column (here the invoice id) are still two lines, and whole-row duplicates
/// still get the duplicate warning.
#[test]
fn lines_equal_but_for_unread_columns_both_count() {
    let w = workdir();
    let head = "invoice_id,customer_id,date,amount,period_start,period_end,plan\n";
    let two = format!(
        "{head}i1,c1,2024-01-01,10,2024-01-01,2024-02-01,basic\n\
         i2,c1,2024-01-01,10,2024-01-01,2024-02-01,basic\n"
    );
    std::fs::write(w.path().join("two.csv"), &two).unwrap();
    let r = run_in(
        w.path(),
        &[
            "subscriptions",
            "-t",
            "two.csv",
            "--as-of",
            "2024-01-20",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let df = csv_frame(&r.stdout);
    assert_eq!(floats(&df, "mrr_end"), [Some(20.0)], "{}", r.stdout);
    assert!(!r.stderr.contains("duplicate"), "{}", r.stderr);
    let dup = format!(
        "{head}i1,c1,2024-01-01,10,2024-01-01,2024-02-01,basic\n\
         i1,c1,2024-01-01,10,2024-01-01,2024-02-01,basic\n"
    );
    std::fs::write(w.path().join("dup.csv"), &dup).unwrap();
    let r = run_in(
        w.path(),
        &[
            "subscriptions",
            "-t",
            "dup.csv",
            "--as-of",
            "2024-01-20",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("1 exact duplicate rows were kept"),
        "{}",
        r.stderr
    );
    let r = run_in(
        w.path(),
        &[
            "subscriptions",
            "-t",
            "dup.csv",
            "--as-of",
            "2024-01-20",
            "--dedupe",
            "-f",
            "csv",
        ],
    );
    assert_eq!(
        floats(&csv_frame(&r.stdout), "mrr_end"),
        [Some(10.0)],
        "{}",
        r.stdout
    );
}

/// Invoice lines on standard input: `summary` cannot read them a second time for the MRR
/// KPIs, so it leaves them out with a note (and the purchase KPIs stay).
#[test]
fn summary_of_invoice_lines_on_stdin_leaves_the_mrr_kpis_out() {
    let w = workdir();
    let bytes = std::fs::read(invoices()).unwrap();
    let r = run(w.path(), &["summary", "-t", "-", "-f", "csv"], Some(bytes));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("revenue") && !r.stdout.contains("mrr"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("subscription KPIs left out: standard input cannot be read a second time"),
        "{}",
        r.stderr
    );
}
