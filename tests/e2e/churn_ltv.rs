//! End-to-end tests of `churn` and `ltv`: golden files computed by hand on `testdata/`,
//! and reference numbers computed independently with pandas/lifelines on the bundled shop
//! (`tests/reference/churn_reference.py`).

use polars::prelude::*;

use crate::common::*;

fn close(a: &[Option<f64>], b: &[Option<f64>], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) => assert!((x - y).abs() <= tol, "{x} vs {y}"),
            _ => assert_eq!(x, y),
        }
    }
}

#[test]
fn churn_month_golden() {
    let r = run_tmp(&["churn", "-t", &data("transactions.csv")]);
    assert_eq!(r.code, 0);
    let want = std::fs::read_to_string(data("expected/churn_month.csv")).unwrap();
    assert_eq!(r.stdout, want);
}

#[test]
fn churn_matches_pandas_reference_on_shop() {
    let r = run_tmp(&[
        "churn",
        "-t",
        &root("examples/shop/transactions.csv"),
        "--period",
        "quarter",
    ]);
    assert_eq!(r.code, 0);
    let got = csv_frame(&r.stdout);
    let want = csv_frame(
        &std::fs::read_to_string(root("tests/reference/churn_shop_quarter.csv")).unwrap(),
    );
    for c in want.get_column_names() {
        assert_eq!(
            got.column(c).unwrap().cast(&DataType::String).unwrap(),
            want.column(c).unwrap().cast(&DataType::String).unwrap(),
            "{c}"
        );
    }
    // churned + retained = start; rates complement each other.
    let s = floats(&got, "start_customers");
    let k = floats(&got, "retained");
    let c = floats(&got, "churned");
    for i in 0..s.len() {
        assert_eq!(s[i].unwrap(), k[i].unwrap() + c[i].unwrap());
    }
}

#[test]
fn survival_matches_lifelines_on_shop() {
    let r = run_tmp(&[
        "churn",
        "-t",
        &root("examples/shop/transactions.csv"),
        "--survival",
        "--period",
        "quarter",
        "--inactive-after",
        "3m",
    ]);
    assert_eq!(r.code, 0);
    let got = csv_frame(&r.stdout);
    let want =
        csv_frame(&std::fs::read_to_string(root("tests/reference/km_shop_quarter.csv")).unwrap());
    assert_eq!(got.height(), want.height());
    for c in [
        "period_index",
        "time_days",
        "survival",
        "ci_lower",
        "ci_upper",
        "median_lifetime_days",
    ] {
        close(&floats(&got, c), &floats(&want, c), 1e-9);
    }
}

#[test]
fn survival_by_hand_and_by_group() {
    let r = run_tmp(&["churn", "-t", &data("transactions.csv"), "--survival"]);
    assert_eq!(r.code, 0);
    let want = std::fs::read_to_string(data("expected/survival_month.csv")).unwrap();
    assert_eq!(r.stdout, want);
    // Per group: the overall curve first, then one per channel (customers file).
    let r = run_tmp(&[
        "churn",
        "-t",
        &data("transactions.csv"),
        "-c",
        &data("customers.csv"),
        "--survival",
        "--by",
        "channel",
    ]);
    assert_eq!(r.code, 0);
    let groups: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(groups.first(), Some(&"(all)"));
    for g in ["(none)", "ads", "seo"] {
        assert!(groups.contains(&g), "{g} in {groups:?}");
    }
    assert!(r.stdout.starts_with("channel,period_index,"));
    // By first-purchase cohort.
    let r = run_tmp(&[
        "churn",
        "-t",
        &data("transactions.csv"),
        "--survival",
        "--by",
        "cohort",
    ]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("\n2024-02,"), "{}", r.stdout);
}

#[test]
fn churn_formats_and_table() {
    let r = run_tmp(&["churn", "-t", &data("transactions.csv"), "-f", "table"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("2024-04*"), "partial period marked");
    assert!(r.stdout.contains("33.3%"));
    assert!(r.stdout.contains("* 2024-04 is a partial period"));
    let r = run_tmp(&["churn", "-t", &data("transactions.csv"), "-f", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!((v[1]["retention_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(v[0]["retention_rate"], serde_json::Value::Null);
    let r = run_tmp(&[
        "churn",
        "-t",
        &data("transactions.csv"),
        "-f",
        "markdown",
        "--by",
        "category",
    ]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("| category"), "{}", r.stdout);
    let w = tempfile::tempdir().unwrap();
    let r = run_in(
        w.path(),
        &["churn", "-t", &data("transactions.csv"), "-o", "c.parquet"],
    );
    assert_eq!(r.code, 0);
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(w.path().join("c.parquet").to_string_lossy().to_string()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    assert_eq!(df.height(), 4);
    assert_eq!(
        floats(&df, "churned"),
        vec![Some(0.0), Some(2.0), Some(1.0), Some(2.0)]
    );
}

#[test]
fn churn_inactivity_window() {
    // 60 days: a stays active Jan–Apr; b's March purchase keeps it active in March/April;
    // c (Jan 31) is still active at the end of February.
    let r = run_tmp(&[
        "churn",
        "-t",
        &data("transactions.csv"),
        "--inactive-after",
        "60d",
    ]);
    assert_eq!(r.code, 0);
    let df = csv_frame(&r.stdout);
    let col = |n: &str| {
        floats(&df, n)
            .into_iter()
            .map(|v| v.unwrap() as i64)
            .collect::<Vec<_>>()
    };
    // Jan: S=∅, new a,b,c, end {a,b,c}. Feb: S={a,b,c}, all active at Mar 1 (within 60 d),
    // new d. Mar: S={a,b,c,d}; at Apr 1 (window Feb 1..Mar 31): a (Feb 10), b (Mar 3),
    // d (Feb 1, Mar 15) retained; c churned. Apr (to Apr 1 as of): S={a,b,d}; window
    // Feb 1..Apr 1: a, b, d retained.
    assert_eq!(col("start_customers"), vec![0, 3, 4, 3]);
    assert_eq!(col("retained"), vec![0, 3, 3, 3]);
    assert_eq!(col("churned"), vec![0, 0, 1, 0]);
    assert_eq!(col("new"), vec![3, 1, 0, 0]);
    assert_eq!(col("end_customers"), vec![3, 4, 3, 3]);
}

#[test]
fn ltv_historical_golden_and_per_customer() {
    let r = run_tmp(&[
        "ltv",
        "-t",
        &data("transactions.csv"),
        "-c",
        &data("customers.csv"),
    ]);
    assert_eq!(r.code, 0);
    let want = std::fs::read_to_string(data("expected/ltv_month.csv")).unwrap();
    assert_eq!(r.stdout, want);
    let r = run_tmp(&[
        "ltv",
        "-t",
        &data("transactions.csv"),
        "--margin",
        "0.5",
        "--per-customer",
    ]);
    assert_eq!(r.code, 0);
    let df = csv_frame(&r.stdout);
    // a: 10 + 20 + 30 = 60 × 0.5; b: 40 + 10 − 10 = 40 × 0.5; e bought nothing.
    assert_eq!(floats(&df, "ltv")[..2], [Some(30.0), Some(25.0)]);
    assert_eq!(df.height(), 4);
    let r = run_tmp(&[
        "ltv",
        "-t",
        &data("transactions.csv"),
        "-c",
        &data("customers.csv"),
        "--by",
        "channel",
        "-f",
        "table",
    ]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("channel = ads"));
    assert!(r.stdout.contains("ltv:cac"));
}

#[test]
fn usage_errors_exit_2() {
    for (args, msg) in [
        (vec!["churn", "--inactive-after", "0d"], "between 1 and"),
        (vec!["churn", "--inactive-after", "3x"], "unknown unit"),
        (
            vec!["churn", "--by", "nosuch"],
            "--by nosuch: no such column",
        ),
        (vec!["ltv", "--margin", "2"], "--margin 2"),
        (
            vec!["ltv", "--calibration-end", "2024-02-01"],
            "needs a predictive model",
        ),
        (
            vec!["ltv", "--model", "compare"],
            "--model compare needs --calibration-end",
        ),
        (vec!["ltv", "--discount-rate", "1.5"], "--discount-rate"),
    ] {
        let mut a = args.clone();
        let tx = data("transactions.csv");
        a.extend(["-t", tx.as_str()]);
        let r = run_tmp(&a);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(msg), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

fn rel_close(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-6);
    assert!(
        err <= tol,
        "{what}: {got} vs lifetimes {want} (relative error {err:.2e})"
    );
}

/// The whole pipeline (purchases → summary → BG/NBD and Gamma-Gamma fits → scores) against
/// Python lifetimes on the bundled shop (`tests/reference/shop_lifetimes.py`).
#[test]
fn bgnbd_matches_lifetimes_on_shop() {
    let w = tempfile::tempdir().unwrap();
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "-t",
            &root("examples/shop/transactions.csv"),
            "--model",
            "bgnbd",
            "--per-customer",
            "--params",
            "p.json",
            "-f",
            "json",
        ],
    );
    assert_eq!(r.code, 0);
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/shop_lifetimes.json")).unwrap(),
    )
    .unwrap();
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    for k in ["r", "alpha", "a", "b"] {
        rel_close(
            params["bgnbd"][k].as_f64().unwrap(),
            reference["bgnbd"][k].as_f64().unwrap(),
            1e-3,
            k,
        );
    }
    for k in ["p", "q", "v"] {
        rel_close(
            params["gamma_gamma"][k].as_f64().unwrap(),
            reference["gamma_gamma"][k].as_f64().unwrap(),
            1e-3,
            k,
        );
    }
    rel_close(
        params["bgnbd"]["lifetimes_negative_log_likelihood"]
            .as_f64()
            .unwrap(),
        reference["bgnbd_negative_log_likelihood"].as_f64().unwrap(),
        1e-4,
        "BG/NBD log-likelihood",
    );
    rel_close(
        params["gamma_gamma"]["lifetimes_negative_log_likelihood"]
            .as_f64()
            .unwrap(),
        reference["gamma_gamma_negative_log_likelihood"]
            .as_f64()
            .unwrap(),
        1e-4,
        "Gamma-Gamma log-likelihood",
    );
    let got: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got: std::collections::HashMap<String, &serde_json::Value> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["customer_id"].as_str().unwrap().to_string(), c))
        .collect();
    let want = reference["customers"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for c in want {
        let id = c["customer_id"].as_str().unwrap();
        let g = got[id];
        for (ours, theirs) in [
            ("frequency", "frequency"),
            ("recency", "recency"),
            ("T", "T"),
            ("p_alive", "p_alive"),
            ("expected_purchases", "expected_purchases"),
            ("expected_avg_value", "expected_avg_value"),
            ("clv", "clv"),
        ] {
            let (x, y) = (g[ours].as_f64().unwrap(), c[theirs].as_f64().unwrap());
            // Relative 1e-4, or absolute 1e-8 for values that are (nearly) zero.
            assert!(
                (x - y).abs() <= 1e-4 * y.abs() || (x - y).abs() < 1e-8,
                "{id} {ours}: {x} vs lifetimes {y}"
            );
        }
    }
}

/// Free orders are purchases: on a CDNOW-like fixture where some customers bought only
/// $0.00 orders (and some orders are returned), BG/NBD keeps every buyer and agrees with
/// lifetimes to 1e-6 (`tests/reference/free_orders_lifetimes.py`).
#[test]
fn free_orders_keep_every_customer_in_bgnbd_as_lifetimes_does() {
    let w = tempfile::tempdir().unwrap();
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "-t",
            &root("testdata/cdnow_like.csv"),
            "--model",
            "bgnbd",
            "--unit",
            "week",
            "--per-customer",
            "--params",
            "p.json",
            "-f",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/free_orders_lifetimes.json")).unwrap(),
    )
    .unwrap();
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    // Parameters to the fits' own tolerance (gradient norm 1e-6 of the mean negative
    // log-likelihood on log parameters), p_alive to 1e-6 absolute.
    for k in ["r", "alpha", "a", "b"] {
        rel_close(
            params["bgnbd"][k].as_f64().unwrap(),
            reference["bgnbd"][k].as_f64().unwrap(),
            5e-6,
            k,
        );
    }
    assert_eq!(
        params["customers"].as_u64().unwrap(),
        reference["customers"].as_u64().unwrap()
    );
    let got: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // Free repeat purchases do not stop the spend model: every customer has a CLV.
    assert!(
        got.as_array()
            .unwrap()
            .iter()
            .all(|c| c["clv"].as_f64().is_some()),
        "a customer without clv"
    );
    let got: std::collections::HashMap<String, f64> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customer_id"].as_str().unwrap().to_string(),
                c["p_alive"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = reference["p_alive"].as_object().unwrap();
    assert_eq!(got.len(), reference["customers"].as_u64().unwrap() as usize);
    assert_eq!(got.len(), want.len());
    for id in reference["only_free_customers"].as_array().unwrap() {
        assert!(
            got.contains_key(id.as_str().unwrap()),
            "{id} (free orders only) is missing"
        );
    }
    for (id, p) in want {
        let (x, y) = (got[id.as_str()], p.as_f64().unwrap());
        assert!((x - y).abs() <= 1e-6, "{id} p_alive: {x} vs lifetimes {y}");
    }
}

#[test]
fn at_risk_ranks_by_p_alive() {
    let r = run_tmp(&[
        "churn",
        "-t",
        &root("examples/shop/transactions.csv"),
        "--at-risk",
        "--top",
        "25",
    ]);
    assert_eq!(r.code, 0);
    let df = csv_frame(&r.stdout);
    assert_eq!(df.height(), 25);
    let p: Vec<f64> = floats(&df, "p_alive")
        .into_iter()
        .map(|v| v.unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    // Nobody repeats: the model cannot be identified, a clear error (exit 2).
    let w = tempfile::tempdir().unwrap();
    std::fs::write(
        w.path().join("once.csv"),
        "customer_id,date,amount\na,2024-01-01,5\nb,2024-02-01,6\nc,2024-03-01,7\n",
    )
    .unwrap();
    let r = run_in(w.path(), &["churn", "-t", "once.csv", "--at-risk"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be fitted"), "{}", r.stderr);
}

#[test]
fn calibration_holdout_totals() {
    let r = run_tmp(&[
        "ltv",
        "-t",
        &root("examples/shop/transactions.csv"),
        "--model",
        "bgnbd",
        "--calibration-end",
        "2024-06-30",
    ]);
    assert_eq!(r.code, 0);
    let df = csv_frame(&r.stdout);
    let labels: Vec<String> = df
        .column("calibration_repeats")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert_eq!(labels.last().map(String::as_str), Some("total"));
    let n = floats(&df, "customers");
    let actual = floats(&df, "actual_purchases");
    let last = n.len() - 1;
    let sum = |v: &[Option<f64>]| v[..last].iter().map(|x| x.unwrap()).sum::<f64>();
    assert_eq!(sum(&n), n[last].unwrap());
    assert_eq!(sum(&actual), actual[last].unwrap());
    // Holdout purchases counted independently: distinct purchase days after 2024-06-30 of
    // customers who bought by then (orders with a positive net amount).
    let tx = std::fs::read_to_string(root("examples/shop/transactions.csv")).unwrap();
    let mut orders: std::collections::HashMap<(String, String), (String, f64)> = Default::default();
    for l in tx.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let e = orders
            .entry((f[1].to_string(), f[0].to_string()))
            .or_insert((f[2].to_string(), 0.0));
        e.0 = e.0.clone().min(f[2].to_string());
        e.1 += f[4].parse::<f64>().unwrap();
    }
    let mut first: std::collections::HashMap<&str, &str> = Default::default();
    for ((c, _), (d, a)) in &orders {
        if *a > 0.0 {
            let e = first.entry(c.as_str()).or_insert(d.as_str());
            if d.as_str() < *e {
                *e = d.as_str();
            }
        }
    }
    let holdout: std::collections::HashSet<(&str, &str)> = orders
        .iter()
        .filter(|((c, _), (d, a))| {
            *a > 0.0 && d.as_str() > "2024-06-30" && first[c.as_str()] <= "2024-06-30"
        })
        .map(|((c, _), (d, _))| (c.as_str(), d.as_str()))
        .collect();
    assert_eq!(actual[last].unwrap(), holdout.len() as f64);
}

/// BG/NBD is scale-equivariant (α scales with the unit): day, week and month summaries give
/// the same predictions for the same horizon.
#[test]
fn bgnbd_units_agree() {
    let out = |unit: &str| {
        let r = run_tmp(&[
            "ltv",
            "-t",
            &root("examples/shop/transactions.csv"),
            "--model",
            "bgnbd",
            "--unit",
            unit,
        ]);
        assert_eq!(r.code, 0);
        let df = csv_frame(&r.stdout);
        (
            floats(&df, "expected_purchases")[0].unwrap(),
            floats(&df, "predicted_clv")[0].unwrap(),
        )
    };
    let day = out("day");
    for unit in ["week", "month"] {
        let u = out(unit);
        rel_close(u.0, day.0, 1e-6, unit);
        rel_close(u.1, day.1, 1e-6, unit);
    }
}

/// MBG/NBD and Pareto/NBD through the command line, on the same CDNOW-like fixture, against
/// lifetimes' ModifiedBetaGeoFitter and ParetoNBDFitter
/// (`tests/reference/free_orders_lifetimes.py`): parameters and every customer's p_alive.
#[test]
fn mbgnbd_and_pnbd_match_lifetimes_end_to_end() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/free_orders_lifetimes.json")).unwrap(),
    )
    .unwrap();
    for (model, names) in [
        ("mbgnbd", ["r", "alpha", "a", "b"]),
        ("pnbd", ["r", "alpha", "s", "beta"]),
    ] {
        let w = tempfile::tempdir().unwrap();
        let r = run_in(
            w.path(),
            &[
                "ltv",
                "-t",
                &root("testdata/cdnow_like.csv"),
                "--model",
                model,
                "--unit",
                "week",
                "--per-customer",
                "--params",
                "p.json",
                "-f",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{model}: {}", r.stderr);
        let params: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap())
                .unwrap();
        let want = &reference[model];
        for k in names {
            rel_close(
                params[model][k].as_f64().unwrap(),
                want["params"][k].as_f64().unwrap(),
                1e-4,
                &format!("{model} {k}"),
            );
            let se = params[model]["standard_errors"][k].as_f64().unwrap();
            assert!(se > 0.0 && se.is_finite(), "{model} se {k}: {se}");
        }
        let got: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let got = got.as_array().unwrap();
        let p_alive = want["p_alive"].as_object().unwrap();
        assert_eq!(got.len(), p_alive.len());
        for c in got {
            let id = c["customer_id"].as_str().unwrap();
            let (x, y) = (
                c["p_alive"].as_f64().unwrap(),
                p_alive[id].as_f64().unwrap(),
            );
            assert!(
                (x - y).abs() <= 1e-6,
                "{model} {id} p_alive: {x} vs lifetimes {y}"
            );
        }
    }
}

/// `--model compare`: one row per model on the same holdout, AIC/BIC from the
/// log-likelihood, exactly one best (the lowest RMSE), and the BG/NBD row equal to the
/// total of `--model bgnbd --calibration-end`.
#[test]
fn compare_models_on_the_holdout() {
    let w = tempfile::tempdir().unwrap();
    let tx = root("testdata/cdnow_like.csv");
    let base = [
        "ltv",
        "-t",
        tx.as_str(),
        "--unit",
        "week",
        "--calibration-end",
        "1997-09-30",
        "-f",
        "csv",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--model", "compare", "--params", "p.json", "--chart", "c.svg",
    ]);
    let r = run_in(w.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The chart: the actual holdout purchases and each model's prediction.
    let svg = std::fs::read_to_string(w.path().join("c.svg")).unwrap();
    for name in [
        "actual",
        "bgnbd: predicted",
        "mbgnbd: predicted",
        "pnbd: predicted",
    ] {
        assert!(svg.contains(name), "{name} missing from the chart");
    }
    let df = csv_frame(&r.stdout);
    let models: Vec<String> = df
        .column("model")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    assert_eq!(models, ["bgnbd", "mbgnbd", "pnbd"]);
    let ll = floats(&df, "log_likelihood");
    let aic = floats(&df, "aic");
    let bic = floats(&df, "bic");
    let rmse = floats(&df, "rmse");
    let actual = floats(&df, "holdout_actual");
    let best: Vec<bool> = df
        .column("best")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    let n = params["bgnbd"]["customers"].as_f64().unwrap();
    assert!(n > 1000.0, "{n}");
    for i in 0..3 {
        let l = ll[i].unwrap();
        assert!((aic[i].unwrap() - (8.0 - 2.0 * l)).abs() < 1e-6);
        assert!((bic[i].unwrap() - (4.0 * n.ln() - 2.0 * l)).abs() < 1e-6);
        assert_eq!(actual[i], actual[0]);
    }
    let lowest = (0..3)
        .min_by(|&i, &j| rmse[i].unwrap().total_cmp(&rmse[j].unwrap()))
        .unwrap();
    assert_eq!(best.iter().filter(|b| **b).count(), 1);
    assert!(best[lowest]);
    for m in ["bgnbd", "mbgnbd", "pnbd"] {
        assert!(
            params[m]["standard_errors"]["r"].as_f64().unwrap() > 0.0,
            "{m}"
        );
    }
    let mut args = base.to_vec();
    args.extend(["--model", "bgnbd"]);
    let one = run_in(w.path(), &args);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let t = csv_frame(&one.stdout);
    let total = floats(&t, "predicted_purchases")
        .last()
        .copied()
        .flatten()
        .unwrap();
    let bg = floats(&df, "holdout_predicted")[0].unwrap();
    assert!((bg - total).abs() < 1e-6 * total, "{bg} vs {total}");
    // The at-risk list with another model ranks by its p_alive.
    let r = run_in(
        w.path(),
        &[
            "churn",
            "-t",
            tx.as_str(),
            "--at-risk",
            "--model",
            "pnbd",
            "--top",
            "5",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = floats(&csv_frame(&r.stdout), "p_alive");
    assert_eq!(p.len(), 5);
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
}

/// `--intervals`: per customer, bounds that hold the point estimate, narrower at a lower
/// level, reproducible from the seed; and the help says what they are not.
#[test]
fn parameter_intervals_hold_the_point_and_are_reproducible() {
    let w = tempfile::tempdir().unwrap();
    let tx = root("examples/shop/transactions.csv");
    let go = |level: &str, seed: &str| {
        let r = run_in(
            w.path(),
            &[
                "ltv",
                "-t",
                &tx,
                "--model",
                "bgnbd",
                "--per-customer",
                "--intervals",
                level,
                "--draws",
                "40",
                "--seed",
                seed,
                "-f",
                "csv",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let a = go("0.9", "7");
    assert_eq!(a, go("0.9", "7"), "same seed, same intervals");
    assert_ne!(a, go("0.9", "8"), "another seed, other draws");
    let df = csv_frame(&a);
    let narrow = csv_frame(&go("0.5", "7"));
    for (v, lo, hi) in [
        (
            "expected_purchases",
            "expected_purchases_lower",
            "expected_purchases_upper",
        ),
        ("clv", "clv_lower", "clv_upper"),
    ] {
        let (v, l, u) = (floats(&df, v), floats(&df, lo), floats(&df, hi));
        let (l5, u5) = (floats(&narrow, lo), floats(&narrow, hi));
        let mut wider = 0;
        for i in 0..v.len() {
            let (v, l, u) = (v[i].unwrap(), l[i].unwrap(), u[i].unwrap());
            assert!(l <= v && v <= u, "{lo}: {l} {v} {u}");
            assert!(l < u, "{lo}: an empty interval {l} {u}");
            if u - l >= u5[i].unwrap() - l5[i].unwrap() - 1e-12 {
                wider += 1;
            }
        }
        assert_eq!(
            wider,
            v.len(),
            "{lo}: 90% intervals are not all wider than 50% ones"
        );
    }
    let r = run_in(
        w.path(),
        &["ltv", "-t", &tx, "--model", "bgnbd", "--intervals", "0.9"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--per-customer"), "{}", r.stderr);
    let r = run_in(w.path(), &["ltv", "--help"]);
    assert!(r.stdout.contains("NOT a prediction"), "{}", r.stdout);
    // churn --at-risk with another model and intervals.
    let r = run_in(
        w.path(),
        &[
            "churn",
            "-t",
            &tx,
            "--at-risk",
            "--model",
            "mbgnbd",
            "--intervals",
            "0.8",
            "--draws",
            "30",
            "--top",
            "3",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("clv_lower,clv_upper"),
        "{}",
        r.stdout
    );
}

/// `ltv --summary FILE`: the per-customer output read back gives the same fit; lifetimes'
/// grouped CDNOW summary (weights) gives the published Pareto/NBD and lifetimes' BG/NBD
/// standard errors; bad rows name their line and column.
#[test]
fn summary_file_input() {
    let w = tempfile::tempdir().unwrap();
    let tx = root("examples/shop/transactions.csv");
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "-t",
            &tx,
            "--model",
            "bgnbd",
            "--per-customer",
            "-o",
            "s.csv",
            "--params",
            "a.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let from_tx = run_in(
        w.path(),
        &["ltv", "-t", &tx, "--model", "bgnbd", "-f", "csv"],
    );
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "--summary",
            "s.csv",
            "--model",
            "bgnbd",
            "--params",
            "b.json",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(w.path().join(f)).unwrap()).unwrap()
    };
    let (a, b) = (json("a.json"), json("b.json"));
    for k in ["r", "alpha", "a", "b"] {
        rel_close(
            b["bgnbd"][k].as_f64().unwrap(),
            a["bgnbd"][k].as_f64().unwrap(),
            1e-9,
            k,
        );
    }
    assert_eq!(b["customers"], a["customers"]);
    let (got, want) = (csv_frame(&r.stdout), csv_frame(&from_tx.stdout));
    for c in ["mean_p_alive", "expected_purchases", "predicted_clv"] {
        rel_close(
            floats(&got, c)[0].unwrap(),
            floats(&want, c)[0].unwrap(),
            1e-9,
            c,
        );
    }
    // lifetimes' CDNOW summary, grouped with weights, in weeks.
    let cdnow: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/models_cdnow.json")).unwrap(),
    )
    .unwrap();
    let s = &cdnow["summary"];
    let mut text = String::from("frequency,recency,T,weights\n");
    for i in 0..s["x"].as_array().unwrap().len() {
        text += &format!(
            "{},{},{},{}\n",
            s["x"][i], s["t_x"][i], s["T"][i], s["weight"][i]
        );
    }
    std::fs::write(w.path().join("cdnow.csv"), text).unwrap();
    for model in ["pnbd", "bgnbd"] {
        let r = run_in(
            w.path(),
            &[
                "ltv",
                "--summary",
                "cdnow.csv",
                "--model",
                model,
                "--unit",
                "week",
                "--params",
                "c.json",
                "-f",
                "csv",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let p = json("c.json");
        assert_eq!(p["customers"].as_u64(), Some(2357));
        if model == "pnbd" {
            for (k, v, se) in [
                ("r", 0.553, 0.0476),
                ("alpha", 10.578, 0.8427),
                ("s", 0.606, 0.1873),
                ("beta", 11.669, 6.2105),
            ] {
                rel_close(p["pnbd"][k].as_f64().unwrap(), v, 2e-3, k);
                rel_close(
                    p["pnbd"]["standard_errors"][k].as_f64().unwrap(),
                    se,
                    0.05,
                    k,
                );
            }
            assert!((p["pnbd"]["log_likelihood"].as_f64().unwrap() + 9595.0).abs() < 0.1);
        } else {
            for (k, se) in [
                ("r", 0.01256),
                ("alpha", 0.3782),
                ("a", 0.1857),
                ("b", 0.7054),
            ] {
                rel_close(
                    p["bgnbd"]["standard_errors"][k].as_f64().unwrap(),
                    se,
                    0.01,
                    k,
                );
            }
        }
    }
    std::fs::write(
        w.path().join("bad.csv"),
        "frequency,recency,T\n1,3,10\n2,12,10\n",
    )
    .unwrap();
    let r = run_in(
        w.path(),
        &["ltv", "--summary", "bad.csv", "--model", "bgnbd"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("summary file 'bad.csv' line 3, column 'recency'"),
        "{}",
        r.stderr
    );
    std::fs::write(w.path().join("nofreq.csv"), "recency,T\n3,10\n").unwrap();
    let r = run_in(
        w.path(),
        &["ltv", "--summary", "nofreq.csv", "--model", "bgnbd"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no frequency column"), "{}", r.stderr);
    let r = run_in(w.path(), &["ltv", "--summary", "cdnow.csv"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--summary needs a predictive model"),
        "{}",
        r.stderr
    );
}

/// BG/BB through the command line: lifetimes' donations summary (6 opportunities, 11,104
/// donors in 22 groups) read with --summary gives the published parameters and
/// lifetimes' p_alive per group; from transactions, --unit makes the opportunities.
#[test]
fn bgbb_on_the_donations_summary_and_from_transactions() {
    let w = tempfile::tempdir().unwrap();
    let d: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/models_donations.json")).unwrap(),
    )
    .unwrap();
    let s = &d["summary"];
    let mut text = String::from("frequency,recency,T,count\n");
    for i in 0..s["x"].as_array().unwrap().len() {
        text += &format!(
            "{},{},{},{}\n",
            s["x"][i], s["t_x"][i], s["n"][i], s["weight"][i]
        );
    }
    std::fs::write(w.path().join("donations.csv"), text).unwrap();
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "--summary",
            "donations.csv",
            "--model",
            "bgbb",
            "--unit",
            "year",
            "--per-customer",
            "--params",
            "p.json",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(p["customers"].as_u64(), Some(11104));
    for (k, v) in [
        ("alpha", 1.2035),
        ("beta", 0.7497),
        ("gamma", 0.6567),
        ("delta", 2.7834),
    ] {
        rel_close(p["bgbb"][k].as_f64().unwrap(), v, 1e-4, k);
        let se = d["standard_errors"][k].as_f64().unwrap();
        rel_close(
            p["bgbb"]["standard_errors"][k].as_f64().unwrap(),
            se,
            1e-2,
            k,
        );
    }
    let got = floats(&csv_frame(&r.stdout), "p_alive");
    let want = d["p_alive"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let (g, w) = (g.unwrap(), w.as_f64().unwrap());
        assert!((g - w).abs() < 1e-6, "p_alive {g} vs lifetimes {w}");
    }
    // From transactions: monthly opportunities; the expected purchases are whole
    // opportunities ahead and every customer is scored.
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "-t",
            &root("examples/shop/transactions.csv"),
            "--model",
            "bgbb",
            "--unit",
            "month",
            "--per-customer",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let df = csv_frame(&r.stdout);
    assert_eq!(df.height(), 510);
    for (x, t_x, n) in floats(&df, "frequency")
        .iter()
        .zip(floats(&df, "recency"))
        .zip(floats(&df, "T"))
        .map(|((a, b), c)| (a.unwrap(), b.unwrap(), c.unwrap()))
    {
        assert!(
            x <= t_x && t_x <= n && x.fract() == 0.0 && n.fract() == 0.0,
            "{x} {t_x} {n}"
        );
    }
}

/// BG/BB by day (hundreds of opportunities per customer, a year of future days for CLV):
/// the fit, its standard errors against mpmath (tests/reference/bgbb_days.json) and
/// per-customer intervals that hold the point estimate; the per-customer CLVs add up to
/// the aggregate table's.
#[test]
fn bgbb_by_day_with_intervals() {
    let w = tempfile::tempdir().unwrap();
    let tx = root("testdata/cdnow_like.csv");
    let r = run_in(
        w.path(),
        &[
            "ltv",
            "-t",
            &tx,
            "--model",
            "bgbb",
            "--per-customer",
            "--intervals",
            "0.9",
            "--draws",
            "20",
            "--params",
            "p.json",
            "-f",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(p["unit"], "day");
    assert_eq!(p["bgbb"]["distinct_triples"].as_u64(), Some(680));
    // The reference's standard errors are at rounded parameters near these: 1% apart.
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root("tests/reference/bgbb_days.json")).unwrap(),
    )
    .unwrap();
    for k in ["alpha", "beta", "gamma", "delta"] {
        rel_close(
            p["bgbb"]["standard_errors"][k].as_f64().unwrap(),
            refs["standard_errors"][k].as_f64().unwrap(),
            1e-2,
            k,
        );
    }
    let df = csv_frame(&r.stdout);
    assert_eq!(df.height(), 1190);
    for (v, lo, hi) in [
        (
            "expected_purchases",
            "expected_purchases_lower",
            "expected_purchases_upper",
        ),
        ("clv", "clv_lower", "clv_upper"),
    ] {
        let (v, l, u) = (floats(&df, v), floats(&df, lo), floats(&df, hi));
        for i in 0..v.len() {
            let (v, l, u) = (v[i].unwrap(), l[i].unwrap(), u[i].unwrap());
            assert!(l.is_finite() && u.is_finite(), "{lo}: {l} {u}");
            assert!(l <= v && v <= u, "{lo}: {l} {v} {u}");
        }
    }
    let per: f64 = floats(&df, "clv").iter().map(|v| v.unwrap()).sum();
    let r = run_in(
        w.path(),
        &["ltv", "-t", &tx, "--model", "bgbb", "-f", "csv"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = csv_frame(&r.stdout);
    let total = floats(&all, "predicted_clv")[0].unwrap();
    rel_close(per, total, 1e-6, "per-customer CLV sum vs the aggregate");
}
