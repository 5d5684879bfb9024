//! `retention sql`, without Python: each case of `tests/sql_check/cases.tsv`
//! on the bundled shop must print the query stored in `testdata/expected/sql/NAME.sql`,
//! and the native report must still equal that query's DuckDB result stored beside it
//! (`NAME.csv`; both written by `tests/sql_check/check.py --write-expected`, which runs the
//! queries on DuckDB). Integers exact, money to the cent, other numbers to 1e-9.

use crate::common::*;

struct Case {
    name: String,
    report: String,
    flags: Vec<String>,
    native: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root("tests/sql_check/cases.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let words = |s: &str| s.split_whitespace().map(String::from).collect();
            Case {
                name: f[0].to_string(),
                report: f[1].to_string(),
                // Paths in flags are under the crate root.
                flags: words(&f[2].replace("{root}", &root(""))),
                native: words(f[3]),
            }
        })
        .collect()
}

const INTEGER: &[&str] = &[
    "period_index",
    "cohort_size",
    "active",
    "start_customers",
    "retained",
    "churned",
    "new",
    "reactivated",
    "end_customers",
    "customers",
    "recency_days",
    "frequency",
    "r_score",
    "f_score",
    "m_score",
];
const MONEY: &[&str] = &[
    "revenue",
    "monetary",
    "monetary_value",
    "cumulative_revenue",
    "ltv",
    "mean_monetary",
];

fn same(col: &str, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) else {
        return false;
    };
    if INTEGER.contains(&col) {
        x == y
    } else if MONEY.contains(&col) {
        (x - y).abs() <= 0.005
    } else {
        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + 1e-12
    }
}

fn rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect()
}

const MAP: [&str; 6] = [
    "--table",
    "tx",
    "--date-col",
    "order_date",
    "--order-col",
    "order_id",
];

#[test]
fn sql_text_is_the_stored_query() {
    for c in cases() {
        let mut args = vec!["sql", c.report.as_str(), "--dialect", "duckdb"];
        args.extend(MAP);
        args.extend(c.flags.iter().map(String::as_str));
        let r = run_tmp(&args);
        assert_eq!(r.code, 0, "{}", c.name);
        let want = expected(&format!("sql/{}.sql", c.name));
        assert_eq!(
            r.stdout, want,
            "{}: the query changed; rerun tests/sql_check/check.py --write-expected (it \
             checks the new query on DuckDB) and review the diff",
            c.name
        );
    }
}

#[test]
fn native_reports_equal_the_duckdb_results() {
    let shop = example("transactions.csv");
    for c in cases() {
        let mut args: Vec<&str> = c.native.iter().map(String::as_str).collect();
        args.extend(["-t", shop.as_str(), "-f", "csv", "-q"]);
        args.extend(c.flags.iter().map(String::as_str));
        let r = run_tmp(&args);
        assert_eq!(r.code, 0, "{}", c.name);
        let native = rows(&r.stdout);
        let duck = rows(&expected(&format!("sql/{}.csv", c.name)));
        // ltv-summary reproduces a subset of `ltv --per-customer`, monetary renamed.
        let header: Vec<String> = duck[0].clone();
        let idx: Vec<usize> = header
            .iter()
            .map(|h| {
                let n = if h == "monetary_value" && c.report == "ltv-summary" {
                    "monetary"
                } else {
                    h.as_str()
                };
                native[0]
                    .iter()
                    .position(|x| x == n)
                    .unwrap_or_else(|| panic!("{}: no native column {n}", c.name))
            })
            .collect();
        if c.report != "ltv-summary" {
            assert_eq!(native[0], header, "{}: columns", c.name);
        }
        assert_eq!(native.len(), duck.len(), "{}: rows", c.name);
        for (i, (n, d)) in native.iter().zip(&duck).enumerate().skip(1) {
            for (j, col) in header.iter().enumerate() {
                let a = &n[idx[j]];
                assert!(
                    same(col, a, &d[j]),
                    "{} row {i} column {col}: native {a:?}, duckdb {:?}",
                    c.name,
                    d[j]
                );
            }
        }
    }
}

#[test]
fn every_dialect_prints_one_select_over_the_named_table() {
    for d in ["duckdb", "spark", "bigquery", "snowflake", "postgres"] {
        for rep in ["ltv-summary", "cohort", "churn", "segment", "ltv"] {
            let r = run_tmp(&["sql", rep, "--dialect", d, "--table", "shop.orders"]);
            assert_eq!(r.code, 0, "{d} {rep}");
            let quoted = if matches!(d, "spark" | "bigquery") {
                "`shop`.`orders`"
            } else {
                "\"shop\".\"orders\""
            };
            assert!(r.stdout.contains(quoted), "{d} {rep}");
            assert!(r.stdout.trim_start().starts_with("--"), "{d} {rep}");
        }
    }
}

#[test]
fn flags_sql_cannot_express_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["cohort", "--group", "channel"], "--group"),
        (&["segment", "--by", "channel"], "--by"),
        (&["churn", "--inactive-after", "90d"], "--inactive-after"),
        (&["cohort", "-c", "customers.csv"], "--customers"),
        (&["cohort", "--bins", "3"], "--bins"),
        (&["segment", "--period", "week"], "--period"),
        (&["ltv-summary", "--margin", "0.5"], "--margin"),
        (&["ltv", "--margin", "1.5"], "--margin"),
        (&["cohort", "--as-of", "someday"], "--as-of"),
    ];
    for (args, flag) in cases {
        let mut a = vec!["sql"];
        a.extend_from_slice(args);
        a.extend(["--dialect", "duckdb", "--table", "t"]);
        let r = run_tmp(&a);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(flag), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}");
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn config_file_names_the_columns() {
    let w = workdir();
    std::fs::write(
        w.path().join("retention.toml"),
        "[columns]\ncustomer_id = \"Kunde\"\ndate = \"Datum\"\namount = \"Betrag\"\norder_id = \"Beleg\"\n",
    )
    .unwrap();
    let r = run_in(
        w.path(),
        &["sql", "cohort", "--dialect", "postgres", "--table", "t"],
    );
    assert_eq!(r.code, 0);
    for c in ["\"Kunde\"", "\"Datum\"", "\"Betrag\"", "\"Beleg\""] {
        assert!(r.stdout.contains(c), "{c}");
    }
    // A flag wins over the config file.
    let r = run_in(
        w.path(),
        &[
            "sql",
            "cohort",
            "--dialect",
            "postgres",
            "--table",
            "t",
            "--customer-col",
            "client",
        ],
    );
    assert!(r.stdout.contains("\"client\"") && !r.stdout.contains("\"Kunde\""));
}

#[test]
fn help_shows_the_round_trip() {
    let r = run_tmp(&["sql", "--help"]);
    assert_eq!(r.code, 0);
    for s in [
        "ltv-summary",
        "retention ltv --summary",
        "--dialect",
        "Exit codes",
    ] {
        assert!(r.stdout.contains(s), "{s}");
    }
}
