//! End-to-end tests of the issue-#3 commands (segment, whatif, summary, wallet): run the
//! built binary on `testdata/` and compare with hand-computed expected outputs (see
//! `testdata/README.md`). Every output format is exercised for every command.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::common::*;

fn json_rows(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = args.to_vec();
    a.extend(["-f", "json"]);
    let r = run(dir, &a, None);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap().clone();
    let mut a = args.to_vec();
    a.extend(["-f", "ndjson"]);
    let r = run(dir, &a, None);
    assert_eq!(r.code, 0);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, rows);
    rows
}

fn parquet_out(dir: &Path, args: &[&str]) -> DataFrame {
    let mut a = args.to_vec();
    a.extend(["-o", "out.parquet"]);
    let r = run(dir, &a, None);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    read_parquet(&dir.join("out.parquet"))
}

fn write_parquet_copy(csv: &str, dir: &Path, name: &str) -> String {
    let mut df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(PathBuf::from(csv)))
        .unwrap()
        .finish()
        .unwrap();
    let path = dir.join(name);
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    path.to_string_lossy().to_string()
}

// ---------------------------------------------------------------------------------------
// segment

#[test]
fn segment_csv_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["segment", "-t", &tx], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("segment.csv"));
    // the report's note reaches stderr in a machine format too
    assert_eq!(
        r.stderr,
        "retention segment: note: 1 customers without a purchase (never bought, or only \
         returns) are not scored\n"
    );
    let r = run(w.path(), &["segment", "-t", &tx, "--per-customer"], None);
    assert_eq!(r.stdout, expected("segment_per_customer.csv"));
    let rules = data("rules.toml");
    let r = run(w.path(), &["segment", "-t", &tx, "--rules", &rules], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("segment_rules.csv"));
}

#[test]
fn segment_parquet_and_stdin_input() {
    let w = workdir();
    let pq = write_parquet_copy(&data("transactions.csv"), w.path(), "tx.parquet");
    let r = run(w.path(), &["segment", "-t", &pq], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("segment.csv"));
    let bytes = std::fs::read(data("transactions.csv")).unwrap();
    let r = run(
        w.path(),
        &["segment", "-t", "-", "--per-customer"],
        Some(bytes),
    );
    assert_eq!(r.stdout, expected("segment_per_customer.csv"));
}

#[test]
fn segment_every_output_format() {
    let w = workdir();
    let tx = data("transactions.csv");
    let args = ["segment", "-t", tx.as_str()];
    let r = run(w.path(), &[&args[..], &["-f", "table"]].concat(), None);
    assert_eq!(r.code, 0);
    assert!(r
        .stdout
        .starts_with("RFM segments of 4 customers as of 2024-04-01"));
    let row = r.stdout.lines().find(|l| l.contains("Champions")).unwrap();
    assert!(row.contains("25.0%") && row.contains("37.5%"), "{row}");
    let r = run(w.path(), &[&args[..], &["-f", "markdown"]].concat(), None);
    assert!(
        r.stdout.contains(
            "| Champions | 1 | 25.0% | 60 | 37.5% | 0 | 3 | 60 | reward, early access, ask for referrals |"
        ),
        "{}",
        r.stdout
    );
    let rows = json_rows(w.path(), &args);
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0]["segment"], "Champions");
    assert_eq!(rows[0]["share_revenue"], serde_json::json!(0.375));
    assert_eq!(rows[1]["mean_recency_days"], serde_json::Value::Null);
    let df = parquet_out(w.path(), &args);
    assert_eq!(df.height(), 12);
    assert_eq!(
        df.column("customers").unwrap().i64().unwrap().get(9),
        Some(1)
    );
}

#[test]
fn segment_bins_and_groups() {
    let w = workdir();
    let tx = data("transactions.csv");
    // n = 4, bins = 3: score = floor((rank−1)·3/4) + 1 → ranks 1..4 score 1, 1, 2, 3.
    // Recency (desc): c 61, b 29, d 17, a 0. Frequency: c 1, b 2, d 2 (tie: b first), a 3.
    // Monetary: d 10, b 40, c 50, a 60.
    let r = run(
        w.path(),
        &["segment", "-t", &tx, "--per-customer", "--bins", "3"],
        None,
    );
    assert_eq!(r.code, 0);
    let rfm: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(7).unwrap())
        .collect();
    assert_eq!(rfm, ["333", "111", "112", "221"]);
    let r = run(w.path(), &["segment", "-t", &tx, "--bins", "0"], None);
    assert_eq!(r.code, 2);
    let r = run(
        w.path(),
        &[
            "segment",
            "-t",
            &tx,
            "-c",
            &data("customers.csv"),
            "--by",
            "channel",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("channel,segment,customers,"));
    assert!(
        r.stdout.contains("\nads,Champions,1,1,60,1,0,3,60,"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\nseo,Hibernating,1,1,40,1,29,2,40,"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1 + 3 * 12);
    let r = run(w.path(), &["segment", "-t", &tx, "--by", "nope"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--by nope"), "{}", r.stderr);
}

#[test]
fn segment_non_buyers_are_noted() {
    let w = workdir();
    let r = run(
        w.path(),
        &[
            "segment",
            "-t",
            &data("transactions.csv"),
            "-c",
            &data("customers.csv"),
            "-f",
            "table",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    // e (only a return) and z (in the customers file, never bought).
    assert!(
        r.stdout.contains(
            "2 customers without a purchase (never bought, or only returns) are not scored"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn segment_bad_rules_fail_clearly_before_reading() {
    let w = workdir();
    let tx = data("transactions.csv");
    std::fs::write(
        w.path().join("bad.toml"),
        "[[segment]]\nname = \"VIP\"\nr = [0, 9]\n",
    )
    .unwrap();
    let r = run(
        w.path(),
        &["segment", "-t", &tx, "--rules", "bad.toml"],
        None,
    );
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("rules file 'bad.toml': segment 1 ('VIP'): r = [0, 9]"),
        "{}",
        r.stderr
    );
    std::fs::write(w.path().join("typo.toml"), "[[segmnt]]\nname = \"X\"\n").unwrap();
    let r = run(
        w.path(),
        &["segment", "-t", &tx, "--rules", "typo.toml"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown field `segmnt`"), "{}", r.stderr);
    // The rules file is read first: a missing transactions file is not reached.
    let r = run(
        w.path(),
        &["segment", "-t", "missing.csv", "--rules", "nothere.toml"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read rules file 'nothere.toml'"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------
// whatif

#[test]
fn whatif_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions_2y.csv");
    let r = run(w.path(), &["whatif", "-t", &tx], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("whatif.csv"));
    // A margin halves m and every value; the % change is the same.
    let r = run(w.path(), &["whatif", "-t", &tx, "--margin", "0.5"], None);
    assert!(
        r.stdout
            .contains("\nmeasured,0.3333333333333,20,0.1,8.695652173913,2,17.39130434783,0\n"),
        "{}",
        r.stdout
    );
    // A given retention replaces the measured one.
    let r = run(
        w.path(),
        &["whatif", "-t", &tx, "--retention", "0.8", "--lift", "0.05"],
        None,
    );
    // m = 40: 40·0.8/0.3 = 106.67; 40·0.85/0.25 = 136 (+27.5%).
    assert!(
        r.stdout
            .contains("\nlift +5 pts,0.85,40,0.1,136,2,272,0.275\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn whatif_every_output_format() {
    let w = workdir();
    let tx = data("transactions_2y.csv");
    let args = ["whatif", "-t", tx.as_str()];
    let r = run(w.path(), &[&args[..], &["-f", "table"]].concat(), None);
    assert_eq!(r.code, 0);
    let row = r.stdout.lines().find(|l| l.contains("change")).unwrap();
    assert!(row.contains("+23.0%"), "{row}");
    assert!(r
        .stdout
        .contains("r = 1 of 3 customers active 2023-01-01 to 2023-12-31 were active again"));
    let r = run(w.path(), &[&args[..], &["-f", "markdown"]].concat(), None);
    assert!(r.stdout.contains("| CLV | 17.39 | 21.40 |"), "{}", r.stdout);
    let rows = json_rows(w.path(), &args);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1]["retention_rate"],
        serde_json::json!(0.3833333333333)
    );
    let df = parquet_out(w.path(), &args);
    assert_eq!(df.height(), 2);
    assert_eq!(
        df.column("customers").unwrap().i64().unwrap().get(0),
        Some(2)
    );
}

#[test]
fn whatif_refuses_what_it_cannot_compute() {
    let w = workdir();
    let tx = data("transactions_2y.csv");
    let r = run(
        w.path(),
        &["whatif", "-t", &tx, "--retention", "0.9", "--lift", "0.25"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is not below 1 + discount rate"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    // Four months of data: no base year.
    let r = run(w.path(), &["whatif", "-t", &data("transactions.csv")], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot measure annual retention"),
        "{}",
        r.stderr
    );
    let r = run(w.path(), &["whatif", "-t", &tx, "--margin", "2"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--margin 2"), "{}", r.stderr);
    // One rule for --margin in every command: a fraction of net revenue in (0, 1].
    for args in [
        &["whatif", "--margin", "0"][..],
        &["summary", "--margin", "1.5"],
        &["ltv", "--margin", "0"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["-t", &tx]);
        let r = run(w.path(), &argv, None);
        assert_eq!(r.code, 2, "{argv:?}");
        assert!(r.stderr.contains("in (0, 1]"), "{argv:?}: {}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------
// summary

#[test]
fn summary_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["summary", "-t", &tx], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("summary.csv"));
    // KPIs without inputs are left out, with one note on stderr; the report's note on
    // retention_rate follows.
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
    assert!(r
        .stderr
        .lines()
        .nth(1)
        .unwrap()
        .contains("note: retention_rate:"));
    assert!(
        r.stderr
            .starts_with("retention summary: note: left out: conversion_rate"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("cac"));
    let r = run(
        w.path(),
        &[
            "summary",
            "-t",
            &tx,
            "-c",
            &data("customers.csv"),
            "--period",
            "month",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("summary_month.csv"));
    assert!(!r.stderr.contains("left out"), "{}", r.stderr);
}

#[test]
fn summary_every_output_format() {
    let w = workdir();
    let tx = data("transactions.csv");
    let cu = data("customers.csv");
    let args = ["summary", "-t", tx.as_str(), "-c", cu.as_str()];
    let r = run(w.path(), &[&args[..], &["-f", "table"]].concat(), None);
    assert_eq!(r.code, 0);
    let row = r
        .stdout
        .lines()
        .find(|l| l.contains("conversion_rate"))
        .unwrap();
    assert!(row.contains("33.3%"), "{row}");
    let row = r.stdout.lines().find(|l| l.contains("ltv_cac")).unwrap();
    assert!(row.contains("3.56"), "{row}");
    let r = run(
        w.path(),
        &[&args[..], &["-f", "markdown", "--period", "month"]].concat(),
        None,
    );
    assert!(
        r.stdout
            .contains("| 2024-02 | 2024-02-01 | 2024-02-29 | 4 | 2 | 1 | 33.3% | 66.7% |"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("2024-04 is a partial period"),
        "{}",
        r.stdout
    );
    let rows = json_rows(w.path(), &args);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["cac"], serde_json::json!(11.25));
    assert_eq!(rows[0]["retention_rate"], serde_json::json!(0.75));
    let df = parquet_out(w.path(), &[&args[..], &["--period", "quarter"]].concat());
    // 2024-Q1 (7 purchases) and 2024-Q2 (a's April 1 purchase).
    assert_eq!(df.height(), 2);
    assert_eq!(df.column("orders").unwrap().i64().unwrap().get(0), Some(7));
}

#[test]
fn summary_by_group() {
    let w = workdir();
    let r = run(
        w.path(),
        &[
            "summary",
            "-t",
            &data("transactions.csv"),
            "-c",
            &data("customers.csv"),
            "--by",
            "channel",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(lines[0].starts_with("channel,period,start,end,"));
    // ads: a converted (Jan 1 → Jan 5), z never bought; spend 20 + 25 over 1 new buyer.
    assert!(
        lines[2].starts_with("ads,all,2024-01-05,2024-04-01,1,1,1,1,0,1,3,60,20,3,0.5,45,60,"),
        "{}",
        lines[2]
    );
}

// ---------------------------------------------------------------------------------------
// wallet

#[test]
fn wallet_matches_hand_computation() {
    let w = workdir();
    let tx = data("transactions.csv");
    let wf = data("wallet.csv");
    let r = run(
        w.path(),
        &["wallet", "-t", &tx, "--wallet", &wf, "--per-customer"],
        None,
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, expected("wallet_per_customer.csv"));
    assert!(
        r.stderr.contains(
            "1 share-of-wallet values above 1 (spend with us above the wallet) were capped at 1"
        ),
        "{}",
        r.stderr
    );
    assert!(r
        .stderr
        .contains("3 customers with transactions have no row in the wallet file"));
    let r = run(w.path(), &["wallet", "-t", &tx, "--wallet", &wf], None);
    assert_eq!(r.stdout, expected("wallet.csv"));
}

/// The category is held as codes for wallet; an unknown `--by` still lists it by the
/// file's name among the columns.
#[test]
fn wallet_unknown_group_lists_the_category_column() {
    let w = workdir();
    let tx = data("transactions.csv");
    let r = run(w.path(), &["wallet", "-t", &tx, "--by", "nosuch"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("(columns: customer_id, date, amount, category)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("__category"), "{}", r.stderr);
}

#[test]
fn wallet_estimated_says_so_everywhere() {
    let w = workdir();
    let tx = data("transactions.csv");
    let args = ["wallet", "-t", tx.as_str(), "--estimate-wallet"];
    let r = run(w.path(), &args, None);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("the wallet is ESTIMATED"), "{}", r.stderr);
    assert!(r
        .stdout
        .lines()
        .next()
        .unwrap()
        .ends_with(",wallet_estimated"));
    assert!(r.stdout.lines().skip(1).all(|l| l.ends_with(",true")));
    let r = run(w.path(), &[&args[..], &["-f", "table"]].concat(), None);
    assert!(r.stdout.contains("(wallet ESTIMATED)"), "{}", r.stdout);
    assert!(r.stdout.contains("the wallet is ESTIMATED"), "{}", r.stdout);
    let r = run(w.path(), &[&args[..], &["--per-customer"]].concat(), None);
    // One segment per customer here: each wallet is the P90 of a single spend = the spend.
    assert!(
        r.stdout
            .contains("\na,Champions,apparel,0.6666666666667,40,40,1,true,2,true,20\n"),
        "{}",
        r.stdout
    );
    let r = run(
        w.path(),
        &[&args[..], &["--wallet", &data("wallet.csv")]].concat(),
        None,
    );
    assert_eq!(
        r.code, 2,
        "--wallet and --estimate-wallet exclude each other"
    );
}

#[test]
fn wallet_every_output_format() {
    let w = workdir();
    let tx = data("transactions.csv");
    let wf = data("wallet.csv");
    let args = ["wallet", "-t", tx.as_str(), "--wallet", wf.as_str()];
    let r = run(w.path(), &[&args[..], &["-f", "table"]].concat(), None);
    assert_eq!(r.code, 0);
    let row = r
        .stdout
        .lines()
        .find(|l| l.contains("Champions") && l.contains("cross_sell"))
        .unwrap();
    assert!(row.contains("100.0%"), "{row}");
    let r = run(w.path(), &[&args[..], &["-f", "markdown"]].concat(), None);
    assert!(
        r.stdout.contains(
            "| Hibernating | home | share_of_wallet | 1 | 40.0% | 40.0% | 40.0% | 40.0% |"
        ),
        "{}",
        r.stdout
    );
    let rows = json_rows(w.path(), &args);
    assert_eq!(rows.len(), 34);
    assert_eq!(rows[0]["metric"], "share_of_wallet");
    assert_eq!(rows[0]["wallet_estimated"], serde_json::json!(false));
    let df = parquet_out(w.path(), &[&args[..], &["--per-customer"]].concat());
    assert_eq!(df.height(), 7);
    assert_eq!(
        df.column("share_of_wallet").unwrap().f64().unwrap().get(2),
        Some(0.4)
    );
}

#[test]
fn wallet_file_errors_name_file_line_and_column() {
    let w = workdir();
    let tx = data("transactions.csv");
    let cases = [
        (
            "customer_id,wallet\na,10\nb,-3\n",
            "wallet file 'w.csv' line 3, column 'wallet': negative wallet -3",
        ),
        (
            "customer_id,wallet\na,10\nb,lots\n",
            "wallet file 'w.csv' line 3, column 'wallet': 'lots' is not a number",
        ),
        (
            "customer_id,spend\na,10\n",
            "wallet file 'w.csv': no wallet column found",
        ),
        (
            "customer_id,wallet\na,10\na,12\n",
            "wallet file 'w.csv' line 3: customer 'a' appears twice",
        ),
        (
            "customer_id,wallet\na,\n",
            "wallet file 'w.csv' line 2, column 'wallet': empty wallet",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(w.path().join("w.csv"), text).unwrap();
        let r = run(w.path(), &["wallet", "-t", &tx, "--wallet", "w.csv"], None);
        assert_eq!(r.code, 2, "{text}");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(want), "{text}: {}", r.stderr);
    }
    // A per-customer wallet (no category) and a Parquet wallet file both work.
    std::fs::write(w.path().join("w.csv"), "Customer ID,Wallet\na,120\nb,40\n").unwrap();
    let r = run(
        w.path(),
        &["wallet", "-t", &tx, "--wallet", "w.csv", "--per-customer"],
        None,
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("\na,Champions,60,120,0.5,false,2,true,20\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("share_of_customer per category is in the overview"),
        "{}",
        r.stderr
    );
    let r = run(w.path(), &["wallet", "-t", &tx, "--wallet", "w.csv"], None);
    assert_eq!(r.code, 0);
    // Champions = a: customer-level share 60/120; share of customer by category.
    assert!(
        r.stdout
            .contains("\nChampions,(all),share_of_wallet,1,0.5,0.5,0.5,0.5,false\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("\nChampions,shoes,share_of_customer,1,0.3333333333333,"),
        "{}",
        r.stdout
    );
    let pq = write_parquet_copy(&data("wallet.csv"), w.path(), "w.parquet");
    let r = run(
        w.path(),
        &["wallet", "-t", &tx, "--wallet", &pq, "--per-customer"],
        None,
    );
    assert_eq!(r.stdout, expected("wallet_per_customer.csv"));
}

// ---------------------------------------------------------------------------------------
// all four

#[test]
fn help_has_examples_for_every_command() {
    let w = workdir();
    for cmd in ["segment", "whatif", "summary", "wallet"] {
        let r = run(w.path(), &[cmd, "--help"], None);
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains(&format!(
                "retention {cmd} -t examples/shop/transactions.csv"
            )),
            "{cmd}"
        );
        assert!(r.stdout.contains("Exit codes: 0 ok, 2 bad input or usage"));
    }
}

#[test]
fn bundled_example_runs_every_command() {
    let w = workdir();
    let tx = example("transactions.csv");
    let cu = example("customers.csv");
    for args in [
        vec!["segment", "-t", &tx, "-c", &cu, "--by", "channel"],
        vec!["segment", "-t", &tx, "--per-customer"],
        vec!["whatif", "-t", &tx, "--margin", "0.3"],
        vec![
            "summary", "-t", &tx, "-c", &cu, "--period", "quarter", "--by", "channel",
        ],
        vec!["wallet", "-t", &tx, "--estimate-wallet"],
        vec![
            "wallet",
            "-t",
            &tx,
            "-c",
            &cu,
            "--by",
            "channel",
            "--per-customer",
        ],
    ] {
        let r = run(w.path(), &args, None);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.lines().count() > 1, "{args:?}");
    }
    // Segment shares of the bundled shop add up to 1.
    let r = run(w.path(), &["segment", "-t", &tx, "-f", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let total: f64 = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["share_customers"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
}

#[test]
fn by_column_named_like_an_output_column_is_renamed() {
    let w = workdir();
    let tx = data("transactions.csv");
    // Grouping wallet by the category of the first transaction: a's is apparel.
    let r = run(
        w.path(),
        &["wallet", "-t", &tx, "--by", "category", "--per-customer"],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("customer_id,by_category,category,"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\na,apparel,shoes,"), "{}", r.stdout);
    let r = run(
        w.path(),
        &[
            "segment",
            "-t",
            &tx,
            "--by",
            "customer_id",
            "--per-customer",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("by_customer_id,customer_id,"),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------------------------------
// money: one summation rule

/// Amounts whose plain floating-point sum drifts (ten lines of 0.10, a large order and
/// its refund): every report gives the same net revenue, to the last digit.
#[test]
fn every_report_sums_money_the_same_way() {
    let w = workdir();
    let mut csv = String::from("customer_id,date,amount,order_id\n");
    for i in 0..10 {
        csv.push_str(&format!("a,2024-01-{:02},0.1,a{i}\n", i + 1));
    }
    csv.push_str("b,2024-01-05,1e6,b1\nb,2024-01-06,0.3,b2\nb,2024-01-07,-1e6,b3\n");
    csv.push_str("b,2024-01-08,0.3,b4\nb,2024-01-09,0.3,b5\n");
    let tx = w.path().join("tx.csv");
    std::fs::write(&tx, csv).unwrap();
    let tx = tx.to_string_lossy().to_string();
    let frame = |args: &[&str]| {
        let mut argv = args.to_vec();
        argv.extend(["-t", &tx, "-f", "csv"]);
        let r = run(w.path(), &argv, None);
        assert_eq!(r.code, 0, "{argv:?}: {}", r.stderr);
        csv_frame(&r.stdout)
    };
    // a: 10 × 0.1 = 1; b: 0.3 × 3 = 0.9 (the refund cancels the large order).
    let (a, b) = (1.0, 0.9);
    assert_ne!((0..10).map(|_| 0.1).sum::<f64>(), a, "the plain sum drifts");
    let summary = frame(&["summary"]);
    assert_eq!(floats(&summary, "revenue"), [Some(a + b)]);
    let seg = frame(&["segment", "--per-customer"]);
    assert_eq!(floats(&seg, "monetary"), [Some(a), Some(b)]);
    let ltv = frame(&["ltv", "--per-customer"]);
    assert_eq!(floats(&ltv, "revenue"), [Some(a), Some(b)]);
    let wallet = frame(&["wallet", "--per-customer"]);
    assert_eq!(floats(&wallet, "spend"), [Some(a), Some(b)]);
    let cohort = frame(&["cohort", "--metric", "revenue"]);
    assert_eq!(floats(&cohort, "revenue")[0], Some(a + b));
}
