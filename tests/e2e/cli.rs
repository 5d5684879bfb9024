//! End-to-end tests: run the built binary on `testdata/` and compare with hand-computed
//! expected outputs. Each case gets its own temporary work directory.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::common::*;

#[test]
fn cohort_csv_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["cohort", "-t", &tx], None);
    assert_eq!(r.code, 0);
    // stdout is a pipe here: csv by default; the table's footnote goes to stderr.
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    assert_eq!(
        r.stderr,
        "retention cohort: note: 2024-04 is a partial period (data up to 2024-04-01)\n"
    );
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

/// Parquet with typed columns (dates as Date, amounts as Int64 or Float64, a null amount)
/// reads as the same values written as text do; a NaN amount is an error naming the row
/// and the column.
#[test]
fn parquet_typed_dates_and_numbers() {
    let w = workdir();
    let ids = ["A", "A", "B", "B", "C", "C"];
    let dates = [
        "2024-01-05",
        "2024-02-07",
        "2024-01-20",
        "2024-03-02",
        "2024-02-11",
        "2024-04-01",
    ];
    let mut csv = String::from("customer_id,date,amount\n");
    let mut csv_null = csv.clone();
    let whole = [10i64, 20, 5, 7, 3, 4];
    for (i, ((id, d), a)) in ids.iter().zip(dates).zip(whole).enumerate() {
        csv.push_str(&format!("{id},{d},{a}\n"));
        let a = if i == 2 { String::new() } else { a.to_string() };
        csv_null.push_str(&format!("{id},{d},{a}\n"));
    }
    std::fs::write(w.path().join("tx.csv"), csv).unwrap();
    std::fs::write(w.path().join("tx_null.csv"), csv_null).unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let days: Vec<i32> = dates
        .iter()
        .map(|d| {
            let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
            (d - epoch).num_days() as i32
        })
        .collect();
    let write = |name: &str, amounts: Column| {
        let mut df = DataFrame::new(
            ids.len(),
            vec![
                Column::new("customer_id".into(), ids),
                Column::new("date".into(), days.clone())
                    .cast(&DataType::Date)
                    .unwrap(),
                amounts,
            ],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(w.path().join(name)).unwrap())
            .finish(&mut df)
            .unwrap();
    };
    let floats: Vec<f64> = whole.iter().map(|&a| a as f64).collect();
    let with_null: Vec<Option<f64>> = floats
        .iter()
        .enumerate()
        .map(|(i, &a)| (i != 2).then_some(a))
        .collect();
    let mut with_nan = floats.clone();
    with_nan[3] = f64::NAN;
    write("int.parquet", Column::new("amount".into(), whole));
    write("float.parquet", Column::new("amount".into(), floats));
    write("null.parquet", Column::new("amount".into(), with_null));
    write("nan.parquet", Column::new("amount".into(), with_nan));
    for (text, parquet) in [
        ("tx.csv", "int.parquet"),
        ("tx.csv", "float.parquet"),
        ("tx_null.csv", "null.parquet"),
    ] {
        for cmd in [
            &["segment", "--per-customer"][..],
            &["cohort"],
            &["summary"],
        ] {
            let args = |f: &'static str| [cmd, &["-t", f, "-f", "csv"][..]].concat();
            let want = run(w.path(), &args(text), None);
            let got = run(w.path(), &args(parquet), None);
            assert_eq!(want.code, 0, "{}", want.stderr);
            assert_eq!(got.code, 0, "{}", got.stderr);
            assert_eq!(got.stdout, want.stdout, "{parquet} {cmd:?}");
        }
    }
    let r = run(w.path(), &["cohort", "-t", "nan.parquet"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("nan.parquet")
            && r.stderr.contains("row 4")
            && r.stderr
                .contains("column 'amount': NaN is not a finite number"),
        "{}",
        r.stderr
    );
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

/// Every `testdata/bad/NAME.expect` names a bad input: a first line `args: …` (extra
/// flags; `testdata/` paths in them are made absolute), an optional line `input: PATH`
/// (the -t argument, e.g. a glob or a directory; default `NAME.csv` beside it), then one
/// line per text the one-line error message must contain. Each case runs under every
/// command that reads transactions: each exits 2 with the same one-line message (after
/// the `retention COMMAND: ` prefix), nothing on stdout and no output file.
#[test]
fn bad_inputs_give_one_line_and_exit_2_in_every_command() {
    let w = workdir();
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    let abs = |a: &str| a.replace("testdata/", &format!("{root}testdata/"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "expect"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 26, "{cases:?}");
    let commands = [
        "cohort",
        "churn",
        "ltv",
        "segment",
        "wallet",
        "summary",
        "whatif",
        "describe",
        "report",
        "subscriptions",
    ];
    for expect in cases {
        let text = std::fs::read_to_string(&expect).unwrap();
        let mut lines = text.lines().peekable();
        let args_line = lines.next().unwrap().strip_prefix("args:").unwrap().trim();
        let input = match lines.peek().and_then(|l| l.strip_prefix("input:")) {
            Some(i) => {
                let i = abs(i.trim());
                lines.next();
                i
            }
            None => expect.with_extension("csv").to_string_lossy().to_string(),
        };
        let words: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        let name = expect.file_name().unwrap().to_string_lossy().to_string();
        let mut first_message: Option<String> = None;
        for cmd in commands {
            let out = w.path().join(format!("out-{cmd}"));
            let out_s = out.to_string_lossy().to_string();
            let mut args = vec![cmd.to_string(), "-t".to_string(), input.clone()];
            args.extend(args_line.split_whitespace().map(abs));
            if cmd == "report" {
                args.extend(["--out".to_string(), out_s.clone()]);
            } else {
                args.extend(["-o".to_string(), format!("{out_s}.csv")]);
            }
            let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            let r = run(w.path(), &argv, None);
            assert_eq!(r.code, 2, "{name} {cmd}: {}", r.stderr);
            assert_eq!(r.stdout, "", "{name} {cmd}");
            assert_eq!(r.stderr.lines().count(), 1, "{name} {cmd}: {}", r.stderr);
            let prefix = format!("retention {cmd}: ");
            assert!(r.stderr.starts_with(&prefix), "{name}: {}", r.stderr);
            for word in &words {
                assert!(
                    r.stderr.contains(word),
                    "{name} {cmd}: missing {word:?} in {}",
                    r.stderr
                );
            }
            let message = r.stderr[prefix.len()..].to_string();
            match &first_message {
                None => first_message = Some(message),
                Some(m) => assert_eq!(m, &message, "{name}: {cmd} words it differently"),
            }
            assert!(!out.exists(), "{name} {cmd}: left {}", out.display());
            assert!(
                !Path::new(&format!("{out_s}.csv")).exists(),
                "{name} {cmd}: left an output file"
            );
            let leftovers: Vec<_> = std::fs::read_dir(w.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(leftovers.is_empty(), "{name} {cmd}: left {leftovers:?}");
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
    // A non-ASCII id (valid UTF-8) is kept as it is.
    bytes.extend_from_slice(b"o2,b\xc3\xbc,2024-01-06,shoes,10\r\n");
    // Ragged rows (with --flexible): one field too many (cut), one too few (no amount:
    // dropped).
    bytes.extend_from_slice(b"o3,a,2024-02-07,shoes,20,extra\r\n");
    bytes.extend_from_slice(b"o4,c,2024-02-08,shoes\r\n");
    // Empty customer id: dropped with a warning.
    bytes.extend_from_slice(b"o5,,2024-02-09,shoes,3\r\n");
    // An exact duplicate row: kept with a warning, or dropped with --dedupe.
    bytes.extend_from_slice(b"o3,a,2024-02-07,shoes,20\r\n");
    std::fs::write(w.path().join("tx.csv"), &bytes).unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv", "--flexible"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
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
    assert!(
        r.stderr.contains(
            "2 rows with more or fewer fields than the header (5) were padded or cut \
             (--flexible; first at line 5)"
        ),
        "{}",
        r.stderr
    );
    let r = run(
        w.path(),
        &["cohort", "-t", "tx.csv", "--dedupe", "--flexible"],
        None,
    );
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

// ---- inputs as users export them ----

/// Free orders are purchases; a return is an order with a negative line and a net
/// amount ≤ 0 (a fully refunded order included).
#[test]
fn free_orders_count_and_refunded_orders_do_not() {
    let w = workdir();
    let csv = "order_id,customer_id,date,amount\n\
               o1,a,2024-01-05,0.00\n\
               o2,b,2024-01-06,10\n\
               o2,b,2024-01-06,-10\n\
               o3,c,2024-01-08,-5\n\
               o4,d,2024-01-09,7\n\
               o5,e,2024-01-10,10\n\
               o5,e,2024-01-10,-4\n";
    std::fs::write(w.path().join("tx.csv"), csv).unwrap();
    let r = run(w.path(), &["cohort", "-t", "tx.csv"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // a (free), d and e (a partial refund nets to 6) bought; b (refunded) and c did not.
    assert!(
        r.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("2024-01,0,3,3,1,"),
        "{}",
        r.stdout
    );
    let r = run(
        w.path(),
        &["segment", "-t", "tx.csv", "--per-customer"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["a", "d", "e"], "{}", r.stdout);
}

#[test]
fn ragged_rows_with_flexible_are_padded_and_cut_with_one_warning() {
    let w = workdir();
    let csv = "customer_id,date,amount\n1,2024-01-05,10\n2,2024-02-01\n3,2024-03-01,4,9\n";
    std::fs::write(w.path().join("tx.csv"), csv).unwrap();
    let r = run(w.path(), &["summary", "-t", "tx.csv", "--flexible"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "2 rows with more or fewer fields than the header (3) were padded or cut \
             (--flexible; first at line 3)"
        ),
        "{}",
        r.stderr
    );
    // The short row has no amount and is dropped with its own warning; the long one is cut.
    assert!(
        r.stderr
            .contains("1 rows with an empty amount were dropped"),
        "{}",
        r.stderr
    );
    // The same from the config file.
    std::fs::write(
        w.path().join("retention.toml"),
        "[input]\nflexible = true\n",
    )
    .unwrap();
    let r2 = run(w.path(), &["summary", "-t", "tx.csv"], None);
    assert_eq!(r2.code, 0, "{}", r2.stderr);
    assert_eq!(r2.stdout, r.stdout);
}

#[test]
fn other_encodings_are_decoded_when_named() {
    let w = workdir();
    for (file, label) in [
        ("western_windows1252", "windows-1252"),
        ("western_windows1252", "latin1"),
        ("thai_windows874", "windows-874"),
        ("thai_windows874", "tis-620"),
    ] {
        let src = data(&format!("encodings/{file}.csv"));
        let utf8 = data(&format!("encodings/{file}_utf8.csv"));
        let want = run(w.path(), &["segment", "-t", &utf8, "--per-customer"], None);
        assert_eq!(want.code, 0, "{}", want.stderr);
        let got = run(
            w.path(),
            &["segment", "-t", &src, "--per-customer", "--encoding", label],
            None,
        );
        assert_eq!(got.code, 0, "{file} {label}: {}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "{file} {label}");
        // Without --encoding: refused, naming the line.
        let r = run(w.path(), &["segment", "-t", &src], None);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("line 2 (byte offset"), "{}", r.stderr);
    }
    let r = run(
        w.path(),
        &[
            "segment",
            "-t",
            &data("encodings/thai_windows874_utf8.csv"),
            "--per-customer",
        ],
        None,
    );
    assert!(r.stdout.contains("สมชาย"), "{}", r.stdout);
}

/// Excel's "Unicode text": UTF-16LE with a byte-order mark, tab-separated, CRLF.
#[test]
fn utf16_with_a_byte_order_mark_is_read_without_asking() {
    let w = workdir();
    let r = run(
        w.path(),
        &["cohort", "-t", &data("transactions_utf16.tsv")],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
}

#[test]
fn several_inputs_read_as_one_table() {
    let w = workdir();
    let text = std::fs::read_to_string(data("transactions.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    std::fs::create_dir_all(w.path().join("exports")).unwrap();
    for (k, part) in rows.chunks(4).enumerate() {
        // Later parts list their columns in another order: matched by name.
        let body = if k == 0 {
            format!("{header}\n{}\n", part.join("\n"))
        } else {
            let mut s = String::from("amount,order_id,customer_id,date,category\n");
            for r in part {
                let f: Vec<&str> = r.split(',').collect();
                s += &format!("{},{},{},{},{}\n", f[4], f[0], f[1], f[2], f[3]);
            }
            s
        };
        std::fs::write(w.path().join(format!("exports/part-{k}.csv")), body).unwrap();
    }
    let want = expected("cohort_month.csv");
    for args in [
        vec!["cohort", "-t", "exports/*.csv"],
        vec!["cohort", "-t", "exports"],
        vec![
            "cohort",
            "-t",
            "exports/part-0.csv",
            "-t",
            "exports/part-1.csv",
            "--transactions",
            "exports/part-2.csv",
        ],
    ] {
        let r = run(w.path(), &args, None);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, want, "{args:?}");
    }
    // A bad value in a later part names that part's file and line.
    std::fs::write(
        w.path().join("exports/part-3.csv"),
        "customer_id,date,amount,order_id,category\nz,2024-02-30,1,o99,x\n",
    )
    .unwrap();
    let r = run(w.path(), &["cohort", "-t", "exports"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("file 'exports/part-3.csv' line 2, column 'date'"),
        "{}",
        r.stderr
    );
}

/// A directory of Parquet files in Hive-style partition folders: one table, and the
/// partition keys are columns (here usable as a cohort group).
#[test]
fn hive_partitioned_parquet_directory() {
    let w = workdir();
    let text = std::fs::read_to_string(data("transactions.csv")).unwrap();
    for region in ["north", "south"] {
        let dir = w.path().join(format!("lake/region={region}"));
        std::fs::create_dir_all(&dir).unwrap();
        let ids = if region == "north" {
            [",a,", ",b,"]
        } else {
            [",c,", ",d,"]
        };
        let mut part_text = String::new();
        for (i, line) in text.lines().enumerate() {
            if i == 0 || ids.iter().any(|id| line.contains(id)) {
                part_text += line;
                part_text.push('\n');
            }
        }
        let mut part = csv_frame(&part_text);
        let f = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut part).unwrap();
    }
    std::fs::write(w.path().join("lake/_SUCCESS"), "").unwrap();
    let r = run(
        w.path(),
        &[
            "cohort", "-t", "lake", "--group", "region", "--period", "quarter",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("region,cohort,"), "{}", r.stdout);
    assert!(
        r.stdout.contains("\nnorth,2024-Q1,0,2,2,1,"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\nsouth,2024-Q1,0,2,2,1,"),
        "{}",
        r.stdout
    );
}

#[test]
fn excel_workbooks_first_sheet_or_named() {
    let w = workdir();
    let xlsx = data("transactions.xlsx");
    let r = run(w.path(), &["cohort", "-t", &xlsx], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    let r = run(
        w.path(),
        &["cohort", "-t", &xlsx, "--sheet", "orders"],
        None,
    );
    assert_eq!(r.stdout, expected("cohort_month.csv"));
    let r = run(
        w.path(),
        &["cohort", "-t", &xlsx, "--sheet", "missing"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("has no sheet 'missing' (sheets: 'orders', 'empty', 'notes')"),
        "{}",
        r.stderr
    );
    let r = run(w.path(), &["cohort", "-t", &xlsx, "--sheet", "empty"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("sheet 'empty' is empty"), "{}", r.stderr);
    let r = run(w.path(), &["cohort", "-t", &xlsx, "--sheet", "notes"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("sheet 'notes': no customer_id column found"),
        "{}",
        r.stderr
    );
}

#[test]
fn describe_csv_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["describe", "-t", &tx, "-f", "csv"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, expected("describe.csv"));
    // Only a has 3 purchase days: no k, and one note saying why.
    assert_eq!(
        r.stderr,
        "retention describe: note: regularity_k is not estimated: it needs at least 3 \
         customers with 3 or more purchase days and some spread in their gaps (1 such \
         customers)\n"
    );
}

#[test]
fn describe_counts_dropped_and_duplicate_rows() {
    let w = workdir();
    // A duplicate row (o1 twice), an empty customer id, a row before --from, one after
    // --as-of; b buys 29 days apart.
    let csv = "order_id,customer_id,date,amount\n\
               o1,a,2024-01-05,10\n\
               o1,a,2024-01-05,10\n\
               o2,,2024-01-06,5\n\
               o3,b,2023-12-01,5\n\
               o4,b,2024-02-01,7\n\
               o5,b,2024-03-01,8\n\
               o6,c,2024-05-01,9\n";
    std::fs::write(w.path().join("tx.csv"), csv).unwrap();
    let args = [
        "describe",
        "-t",
        "tx.csv",
        "--from",
        "2024-01-01",
        "--as-of",
        "2024-04-01",
        "-f",
        "ndjson",
    ];
    let r = run(w.path(), &args, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = |m: &str, v: &str| format!("{{\"metric\":\"{m}\",\"value\":\"{v}\"}}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    for (m, v) in [
        ("rows", "7"),
        ("customers", "2"),
        ("first_date", "2024-01-05"),
        ("last_date", "2024-03-01"),
        // a's o1 (both lines, one order), b's o4 and o5.
        ("purchases", "3"),
        ("returns", "0"),
        ("repeat_customers", "1"),
        ("one_time_customers", "1"),
        ("median_interpurchase_days", "29"),
        ("duplicate_rows", "1"),
        // The empty id, the row before --from, the row after as-of.
        ("dropped_rows", "3"),
        ("column order_id", "order_id"),
    ] {
        assert!(lines.contains(&row(m, v).as_str()), "{m} {v}: {}", r.stdout);
    }
    assert!(lines.contains(&"{\"metric\":\"regularity_k\",\"value\":null}"));
    // The loader's warnings are unchanged.
    assert!(
        r.stderr.contains("exact duplicate rows were kept"),
        "{}",
        r.stderr
    );
    assert!(r
        .stderr
        .contains("1 rows with an empty customer id were dropped"));
    assert!(r
        .stderr
        .contains("1 transactions after as-of 2024-04-01 were ignored"));
    // --dedupe drops the duplicate: still counted.
    let mut dedupe = args.to_vec();
    dedupe.push("--dedupe");
    let r = run(w.path(), &dedupe, None);
    assert!(
        r.stdout.contains(&row("duplicate_rows", "1")),
        "{}",
        r.stdout
    );
}

#[test]
fn describe_on_the_shop_estimates_regularity_and_draws_histograms() {
    let w = workdir();
    let tx = example("transactions.csv");
    let r = run(
        w.path(),
        &["describe", "-t", &tx, "--chart", "p.png", "-o", "d.json"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("note: regularity_k = "), "{}", r.stderr);
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("d.json")).unwrap()).unwrap();
    let value = |m: &str| {
        json.iter()
            .find(|r| r["metric"] == m)
            .map(|r| r["value"].clone())
            .unwrap()
    };
    for r in &json {
        assert_eq!(r.as_object().unwrap().len(), 2, "{r}");
    }
    let k: f64 = value("regularity_k").as_str().unwrap().parse().unwrap();
    assert!(k > 0.0 && k.is_finite(), "{k}");
    let customers: u64 = value("customers").as_str().unwrap().parse().unwrap();
    let repeat: u64 = value("repeat_customers").as_str().unwrap().parse().unwrap();
    let once: u64 = value("one_time_customers")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(repeat + once <= customers);
    let png = std::fs::read(w.path().join("p.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let r = run(w.path(), &["describe", "-t", &tx, "--chart", "p.svg"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let svg = std::fs::read_to_string(w.path().join("p.svg")).unwrap();
    assert!(svg.contains("Purchases per customer"), "{svg}");
    assert!(svg.contains("Days between consecutive purchase days"));
}

/// Amounts held as exact counts (every amount with few decimals, fitting) and as f64
/// (one amount with many decimals, or one too large for a count at the decimals another
/// needs) give the same per-customer numbers; `--verbose` says which.
#[test]
fn amounts_as_counts_or_floats_give_the_same_numbers() {
    let w = workdir();
    let rows = "customer_id,date,amount\nA,2024-01-05,10.25\nA,2024-02-07,-3.5\n\
                B,2024-01-20,7\nC,2024-03-02,0.1\nC,2024-03-09,1234567.89\n";
    std::fs::write(w.path().join("counts.csv"), rows).unwrap();
    // (D's amount needs 9 decimals: the column stays f64)
    let floats = format!("{rows}D,2024-01-01,0.000000001\n");
    std::fs::write(w.path().join("floats.csv"), floats).unwrap();
    // (0.25 needs 2 decimals, and 30000000.5 is then too large a count)
    let wide = "customer_id,date,amount\nA,2024-01-05,30000000.5\nA,2024-02-07,0.25\n";
    std::fs::write(w.path().join("wide.csv"), wide).unwrap();
    let per_customer = |file: &str| {
        let r = run(
            w.path(),
            &[
                "segment",
                "--per-customer",
                "-t",
                file,
                "-f",
                "csv",
                "--verbose",
            ],
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        // customer, recency, frequency, monetary (the scores depend on who else is there)
        let kept: Vec<String> = r
            .stdout
            .lines()
            .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
            .collect();
        (kept, r.stderr)
    };
    let (counts, said) = per_customer("counts.csv");
    assert!(
        said.contains("amounts held exactly as counts of 0.01"),
        "{said}"
    );
    assert_eq!(
        counts,
        [
            "customer_id,recency_days,frequency,monetary",
            "A,64,1,6.75",
            "B,49,1,7",
            "C,0,2,1234567.99"
        ]
    );
    let (floats, said) = per_customer("floats.csv");
    assert!(!said.contains("amounts held exactly"), "{said}");
    assert_eq!(floats[..4], counts[..]);
    let (wide, said) = per_customer("wide.csv");
    assert!(!said.contains("amounts held exactly"), "{said}");
    assert_eq!(wide[1], "A,0,2,30000000.75");
}
