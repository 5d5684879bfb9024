//! End-to-end tests: run the built binary on `testdata/` and compare with hand-computed
//! expected outputs. Each case gets its own temporary work directory.

use std::path::{Path, PathBuf};

use polars::prelude::*;

mod common;
use common::*;

#[test]
fn cohort_csv_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["cohort", "-t", &tx], None);
    assert_eq!(r.code, 0);
    // stdout is a pipe here: csv by default.
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    assert_eq!(r.stderr, "");
}

#[test]
fn other_dialect_gives_the_same_cohorts() {
    let w = workdir();
    let tx = data("retail_dialect.csv");
    let r = run(w.path(), &["cohort", "-t", &tx, "--verbose"], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    assert!(
        r.stderr.contains("customer_id <- 'Customer ID'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("amount = price × quantity"));
    assert!(r.stderr.contains("%d/%m/%Y"));
}

#[test]
fn signup_cohorts_grouped_by_channel() {
    let w = workdir();
    let r = run(
        w.path(),
        &[
            "cohort",
            "-t",
            &data("transactions.csv"),
            "-c",
            &data("customers.csv"),
            "--by",
            "signup",
            "--group",
            "channel",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("cohort_signup_channel.csv"));
    assert!(r
        .stderr
        .contains("warning: 3 customers in the transactions are missing"));
}

#[test]
fn stdin_input() {
    let w = workdir();
    let bytes = std::fs::read(data("transactions.csv")).unwrap();
    let r = run(w.path(), &["cohort", "-t", "-"], Some(bytes));
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
}

#[test]
fn gzip_and_tsv_input() {
    use std::io::Write;
    let w = workdir();
    let text = std::fs::read_to_string(data("transactions.csv")).unwrap();
    let gz = w.path().join("tx.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv.gz"], None);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    std::fs::write(w.path().join("tx.tsv"), text.replace(',', "\t")).unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.tsv"], None);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
}

#[test]
fn table_and_markdown_show_the_matrix() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["cohort", "-t", &tx, "--format", "table"], None);
    assert_eq!(r.code, 0);
    let row = r.stdout.lines().find(|l| l.contains("2024-01")).unwrap();
    for cell in ["100.0%", "33.3%", "33.3%*"] {
        assert!(row.contains(cell), "{row}");
    }
    assert!(r
        .stdout
        .contains("* 2024-04 is a partial period (data up to 2024-04-01)"));
    let r = run(w.path(), &["cohort", "-t", &tx, "-f", "markdown"], None);
    assert!(
        r.stdout
            .contains("| cohort | size | 0 | 1 | 2 | 3 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n| 2024-01 | 3 | 100.0% | 33.3% | 33.3% | 33.3%* |\n"),
        "{}",
        r.stdout
    );
    let r = run(
        w.path(),
        &["cohort", "-t", &tx, "-f", "table", "--metric", "revenue"],
        None,
    );
    let row = r.stdout.lines().find(|l| l.contains("2024-01")).unwrap();
    assert!(row.contains("20.0%") && row.contains("30.0%*"), "{row}");
}

#[test]
fn table_fits_the_width() {
    let w = workdir();
    let mut c = retention(w.path());
    c.env("COLUMNS", "40")
        .args(["cohort", "-t", &data("transactions.csv"), "-f", "table"]);
    let out = c.output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.lines()
            .all(|l| l.chars().count() <= 40 || !l.contains('│')),
        "{s}"
    );
    assert!(s.contains("more columns not shown"), "{s}");
}

#[test]
fn json_and_ndjson_are_tidy_with_nulls() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["cohort", "-t", &tx, "-f", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[1]["retention"], serde_json::json!(0.3333333333333));
    assert_eq!(rows[7]["active"], serde_json::Value::Null);
    assert_eq!(rows[7]["retention"], serde_json::Value::Null);
    assert_eq!(rows[3]["partial_period"], serde_json::json!(true));
    let r = run(w.path(), &["cohort", "-t", &tx, "-f", "ndjson"], None);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, *rows);
}

#[test]
fn parquet_output_file_round_trips() {
    let w = workdir();
    let out = w.path().join("c.parquet");
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions.csv"), "-o", "c.parquet"],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(out.to_string_lossy().to_string()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    assert_eq!(df.height(), 8);
    assert_eq!(
        df.column("cohort_size").unwrap().i64().unwrap().get(0),
        Some(3)
    );
    assert_eq!(df.column("retention").unwrap().f64().unwrap().get(7), None);
    // Parquet input gives the same report as the CSV it came from.
    let r = run(w.path(), &["cohort", "-t", "c.parquet"], None);
    assert_eq!(r.code, 2, "a cohort file is not a transactions file");
    no_temp_files_left(w.path());
}

#[test]
fn parquet_input() {
    let w = workdir();
    let mut df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(PathBuf::from(data("transactions.csv"))))
        .unwrap()
        .finish()
        .unwrap();
    let path = w.path().join("tx.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.parquet"], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
}

fn no_temp_files_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn output_file_is_replaced_only_when_complete() {
    let w = workdir();
    std::fs::write(w.path().join("out.csv"), "previous\n").unwrap();
    // A failing run leaves the previous file untouched and no temporary file behind.
    let r = run(
        w.path(),
        &["cohort", "-t", &data("bad/bad_date.csv"), "-o", "out.csv"],
        None,
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        std::fs::read_to_string(w.path().join("out.csv")).unwrap(),
        "previous\n"
    );
    no_temp_files_left(w.path());
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions.csv"), "-o", "out.csv"],
        None,
    );
    assert_eq!(r.code, 0);
    assert_eq!(
        std::fs::read_to_string(w.path().join("out.csv")).unwrap(),
        expected("cohort_month.csv")
    );
    no_temp_files_left(w.path());
}

#[test]
fn unwritable_output_fails_before_reading() {
    let w = workdir();
    // The input does not exist either: the output error must come first.
    let r = run(
        w.path(),
        &["cohort", "-t", "missing.csv", "-o", "no/such/dir/out.csv"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot write output 'no/such/dir/out.csv'"),
        "{}",
        r.stderr
    );
}

/// Every `testdata/bad/NAME.csv` has a `NAME.expect`: a first line `args: …` (extra flags;
/// `testdata/` paths in them are made absolute) and then one line per text the one-line
/// error message must contain.
#[test]
fn bad_inputs_give_one_line_and_exit_2() {
    let w = workdir();
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "expect"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "{cases:?}");
    for expect in cases {
        let text = std::fs::read_to_string(&expect).unwrap();
        let mut lines = text.lines();
        let args_line = lines.next().unwrap().strip_prefix("args:").unwrap().trim();
        let csv = expect.with_extension("csv").to_string_lossy().to_string();
        let mut args = vec!["cohort".to_string(), "-t".to_string(), csv];
        args.extend(
            args_line
                .split_whitespace()
                .map(|a| a.replace("testdata/", &format!("{root}testdata/"))),
        );
        let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = run(w.path(), &argv, None);
        let name = expect.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(r.code, 2, "{name}");
        assert_eq!(r.stdout, "", "{name}");
        assert_eq!(r.stderr.lines().count(), 1, "{name}: {}", r.stderr);
        assert!(r.stderr.starts_with("retention cohort: "), "{}", r.stderr);
        for word in lines.filter(|l| !l.is_empty()) {
            assert!(
                r.stderr.contains(word),
                "{name}: missing {word:?} in {}",
                r.stderr
            );
        }
    }
    let r = run(w.path(), &["cohort", "-t", "missing.csv"], None);
    assert_eq!(r.code, 2);
    assert!(r
        .stderr
        .contains("cannot open transactions file 'missing.csv'"));
}

#[test]
fn ambiguous_dates_resolved_by_flag() {
    let w = workdir();
    let r = run(
        w.path(),
        &[
            "cohort",
            "-t",
            &data("bad/ambiguous_dates.csv"),
            "--date-format",
            "%m/%d/%Y",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    // January and March cohorts (month first).
    assert!(r.stdout.contains("\n2024-01,0,1,1,1,") && r.stdout.contains("\n2024-03,0,1,1,1,"));
}

#[test]
fn usage_errors_exit_2() {
    let w = workdir();
    let r = run(w.path(), &["cohort"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--transactions"), "{}", r.stderr);
    let r = run(
        w.path(),
        &["cohort", "-t", "x.csv", "--period", "fortnight"],
        None,
    );
    assert_eq!(r.code, 2);
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions.csv"), "--as-of", "soon"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--as-of"), "{}", r.stderr);
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions.csv"), "--group", "nope"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--group nope"), "{}", r.stderr);
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions.csv"), "--by", "signup"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("customers file"), "{}", r.stderr);
}

#[test]
fn as_of_and_window() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(
        w.path(),
        &["cohort", "-t", &tx, "--as-of", "2024-03-31"],
        None,
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("1 transactions after as-of 2024-03-31 were ignored"),
        "{}",
        r.stderr
    );
    // March ends the month: nothing partial; January cohort k=2 is b in March.
    assert!(
        r.stdout.contains("2024-01,2,3,1,0.3333333333333,0,0,false"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("true"));
    let r = run(
        w.path(),
        &["cohort", "-t", &tx, "--from", "2024-02-01"],
        None,
    );
    // Without January, a's and d's first purchases are in February, b's in March
    // (whose net revenue, 10 - 10, leaves no base for revenue retention).
    assert!(
        r.stdout.contains("\n2024-02,0,2,2,1,25,1,false"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\n2024-03,0,1,1,1,0,,false"),
        "{}",
        r.stdout
    );
}

#[test]
fn config_file_maps_columns_and_rejects_unknown_keys() {
    let w = workdir();
    std::fs::write(
        w.path().join("tx.csv"),
        "kunde;tag;betrag\na;2024-01-05;10\na;2024-02-05;10\nb;2024-01-07;3\n",
    )
    .unwrap();
    std::fs::write(
        w.path().join("retention.toml"),
        "[columns]\ncustomer_id = \"kunde\"\ndate = \"tag\"\namount = \"betrag\"\n",
    )
    .unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv"], None);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("\n2024-01,1,2,1,0.5,10,0.7692307692308,true"),
        "{}",
        r.stdout
    );
    std::fs::write(w.path().join("bad.toml"), "[columns]\nkunde = \"x\"\n").unwrap();
    let r = run(
        w.path(),
        &["cohort", "-t", "tx.csv", "--config", "bad.toml"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown field `kunde`"), "{}", r.stderr);
}

#[test]
fn help_has_examples_and_exit_codes() {
    let w = workdir();
    let r = run(w.path(), &["cohort", "--help"], None);
    assert_eq!(r.code, 0);
    assert!(r
        .stdout
        .contains("retention cohort -t examples/shop/transactions.csv"));
    assert!(r.stdout.contains("Exit codes: 0 ok, 2 bad input or usage"));
}

#[test]
fn bundled_example_runs() {
    let w = workdir();
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    let tx = ex.join("transactions.csv").to_string_lossy().to_string();
    let cu = ex.join("customers.csv").to_string_lossy().to_string();
    let r = run(
        w.path(),
        &[
            "cohort", "-t", &tx, "-c", &cu, "--group", "channel", "--period", "quarter",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.len() > 20);
    // Every k=0 cell of a first-purchase cohort is 100%.
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        if f[2] == "0" {
            assert_eq!(f[5], "1", "{l}");
        }
    }
}

#[test]
fn headerless_file_with_epoch_dates_and_explicit_columns() {
    let w = workdir();
    // 2024-01-15 and 2024-02-20 (UTC) as epoch seconds.
    std::fs::write(
        w.path().join("tx.csv"),
        "a|1705312800|10\nb|1705312800|5\na|1708430400|7\n",
    )
    .unwrap();
    let r = run(
        w.path(),
        &[
            "cohort",
            "-t",
            "tx.csv",
            "--no-header",
            "--customer-col",
            "column_1",
            "--date-col",
            "column_2",
            "--amount-col",
            "column_3",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        "cohort,period_index,cohort_size,active,retention,revenue,revenue_retention,partial_period\n\
         2024-01,0,2,2,1,15,1,false\n\
         2024-01,1,2,1,0.5,7,0.4666666666667,true\n"
    );
    let r = run(w.path(), &["cohort", "-t", "tx.csv", "--no-header"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'column_1'") && r.stderr.contains("--customer-col"),
        "{}",
        r.stderr
    );
}

#[test]
fn messy_but_valid_csv_is_read() {
    let w = workdir();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"order_id,customer_id,date,category,amount\r\n");
    // Quoted delimiter and newline inside a field.
    bytes.extend_from_slice(b"o1,a,2024-01-05,\"home, garden\nand more\",\"$1,234.50\"\r\n");
    // Invalid UTF-8 in an id: read lossily, not a crash.
    bytes.extend_from_slice(b"o2,b\xff,2024-01-06,shoes,10\r\n");
    // Ragged rows: one field too many (ignored), one too few (no amount: dropped).
    bytes.extend_from_slice(b"o3,a,2024-02-07,shoes,20,extra\r\n");
    bytes.extend_from_slice(b"o4,c,2024-02-08,shoes\r\n");
    // Empty customer id: dropped with a warning.
    bytes.extend_from_slice(b"o5,,2024-02-09,shoes,3\r\n");
    // An exact duplicate row: kept with a warning, or dropped with --dedupe.
    bytes.extend_from_slice(b"o3,a,2024-02-07,shoes,20\r\n");
    std::fs::write(w.path().join("tx.csv"), &bytes).unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv"], None);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("\n2024-01,0,2,2,1,1244.5,1,false\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n2024-01,1,2,1,0.5,40,"), "{}", r.stdout);
    for w in [
        // Line numbers count records (plus the header): the quoted newline above does
        // not shift them.
        "1 rows with an empty amount were dropped (first at line 5)",
        "1 rows with an empty customer id were dropped (first at line 6)",
        "1 exact duplicate rows were kept (use --dedupe to drop them)",
    ] {
        assert!(r.stderr.contains(w), "missing {w:?} in {}", r.stderr);
    }
    let r = run(w.path(), &["cohort", "-t", "tx.csv", "--dedupe"], None);
    assert!(r.stdout.contains("\n2024-01,1,2,1,0.5,20,"), "{}", r.stdout);
    assert!(r
        .stderr
        .contains("1 exact duplicate rows were dropped (--dedupe)"));
}

#[test]
fn rows_differing_only_in_the_unread_category_are_not_duplicates() {
    // cohort does not read the category; without order ids, two rows equal but for the
    // category must not be called duplicates (the loader reads the category after all).
    let w = workdir();
    std::fs::write(
        w.path().join("tx.csv"),
        "customer_id,date,category,amount\na,2024-01-05,shoes,10\na,2024-01-05,home,10\n\
         b,2024-01-06,home,5\nb,2024-01-06,home,5\n",
    )
    .unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Only b's two rows are exact duplicates.
    assert!(
        r.stderr
            .contains("1 exact duplicate rows were kept (use --dedupe to drop them)"),
        "{}",
        r.stderr
    );
    let r = run(w.path(), &["cohort", "-t", "tx.csv", "--dedupe"], None);
    assert!(
        r.stderr.contains("1 exact duplicate rows were dropped"),
        "{}",
        r.stderr
    );
    // a keeps both rows (20) and b one (5): revenue 25 in January.
    assert!(r.stdout.contains("\n2024-01,0,2,2,1,25,"), "{}", r.stdout);
}

#[test]
fn decimal_comma_amounts() {
    let w = workdir();
    std::fs::write(
        w.path().join("tx.csv"),
        "customer_id;date;amount\na;15.01.2024;1.234,50 €\na;15.02.2024;0,50\n",
    )
    .unwrap();
    let r = run(
        w.path(),
        &["cohort", "-t", "tx.csv", "--decimal-comma"],
        None,
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("\n2024-01,0,1,1,1,1234.5,1,false\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n2024-01,1,1,1,1,0.5,"), "{}", r.stdout);
}

#[test]
fn thai_text_lines_up_in_tables() {
    use unicode_width::UnicodeWidthStr;
    let w = workdir();
    std::fs::write(
        w.path().join("tx.csv"),
        "customer_id,date,amount\nลูกค้า1,2024-01-05,10\nลูกค้า2,2024-01-06,5\nลูกค้า1,2024-02-01,7\n",
    )
    .unwrap();
    std::fs::write(
        w.path().join("c.csv"),
        "customer_id,channel\nลูกค้า1,เฟซบุ๊ก\nลูกค้า2,ร้านค้า\n",
    )
    .unwrap();
    let r = run(
        w.path(),
        &[
            "cohort", "-t", "tx.csv", "-c", "c.csv", "--group", "channel", "-f", "table",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("channel = เฟซบุ๊ก"), "{}", r.stdout);
    // Within each matrix every border and row line has the same display width.
    let tables: Vec<Vec<usize>> = r
        .stdout
        .split("\n\n")
        .map(|t| {
            t.lines()
                .filter(|l| l.contains('│') || l.contains('┌'))
                .map(|l| l.width())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(tables.len(), 2, "{}", r.stdout);
    for t in &tables {
        assert!(t.len() >= 3 && t.iter().all(|&x| x == t[0]), "{tables:?}");
    }
    let r = run(
        w.path(),
        &[
            "cohort", "-t", "tx.csv", "-c", "c.csv", "--group", "channel",
        ],
        None,
    );
    assert!(
        r.stdout
            .contains("\nเฟซบุ๊ก,2024-01,0,1,1,1,10,1,false\nเฟซบุ๊ก,2024-01,1,1,1,1,7,0.7,true\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn closed_pipe_is_quiet_success() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let w = workdir();
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop/transactions.csv");
    // Daily cohorts give hundreds of thousands of rows: far more than a pipe buffer.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("retention"))
        .current_dir(w.path())
        .args([
            "cohort",
            "-t",
            &ex.to_string_lossy(),
            "--period",
            "day",
            "-f",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, as `| head -1` would.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("cohort,period_index"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
