//! `retention`: customer-retention analytics over CSV and Parquet exports.
//!
//! `run` is the whole program: load the input (`load`), compute one report
//! (`reports::*`), write it (`output`). `main.rs` only maps errors to exit codes.

// No unwrap/expect outside tests: user data must give errors, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod charts;
pub mod cli;
pub mod config;
pub mod dates;
pub mod error;
pub mod load;
pub mod models;
pub mod output;
pub mod params;
pub mod period;
pub mod progress;
pub mod reports;
pub mod sql;

use anyhow::Result;

use cli::{Cli, Command, InputArgs};
use load::Dataset;
use output::Destination;

/// Load the input of a command and print its warnings (and, with --verbose, the mapping).
pub(crate) fn load_input(
    name: &str,
    input: &InputArgs,
    extra_columns: Vec<String>,
) -> Result<Dataset> {
    let mut opts = config::load_options(input, extra_columns)?;
    // Only wallet (and report, which runs it) and a `--by category` use the category.
    if !matches!(name, "wallet" | "report") && !opts.extra_columns.iter().any(|c| c == "category") {
        opts.skip.push(load::Role::Category);
    }
    load_with(name, &opts)
}

/// Load with resolved options: warnings (and, with --verbose, the mapping) on stderr, and
/// the same refusal for a file of returns only as every command's.
fn load_with(name: &str, opts: &load::LoadOptions) -> Result<Dataset> {
    let started = std::time::Instant::now();
    let ds = load::load(opts)?;
    progress::step("computing");
    if opts.verbose {
        for i in &ds.info {
            progress::eprintln(&format!("retention {name}: {i}"));
        }
        progress::eprintln(&format!(
            "retention {name}: input loaded in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
    }
    for w in &ds.warnings {
        progress::eprintln(&format!("retention {name}: warning: {w}"));
    }
    // Every report needs purchases; a file of returns only is refused the same way by all.
    if !reports::any_purchase(&ds.tx)? {
        return Err(error::bad(
            "no customer made a purchase (every order is a return)",
        ));
    }
    Ok(ds)
}

/// `retention report`'s flags and the config file's `[report]` section (flags win).
fn report_params(a: &cli::ReportArgs) -> Result<params::ReportParams> {
    use clap::ValueEnum;
    use params::ReportFormat;
    // Flags win over the config file's [report] section.
    let cfg = crate::config::report_config(&a.input)?;
    let period_v = a.period.or(cfg.period).unwrap_or(period::Period::Month);
    let format_v = match (a.format, cfg.format.as_deref()) {
        (Some(f), _) => f,
        (None, Some(s)) => ReportFormat::from_str(s, true).map_err(|_| {
            error::bad(format!(
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
            return Err(error::bad(format!(
                "config file: [report] charts = \"{s}\": expected svg or png"
            )))
        }
    };
    Ok(params::ReportParams {
        out: a.out.clone(),
        period: period_v,
        format: format_v,
        png,
        transactions: a.input.transactions.clone(),
        customers: a.input.customers.clone(),
        load: config::load_options(&a.input, vec![])?,
    })
}

/// Run one command.
pub fn run(cli: Cli) -> Result<()> {
    let name = cli.command.name();
    let _ = output::COMMAND.set(name);
    // A progress indicator on a terminal for work longer than a second.
    let progress = progress::Progress::start(name, cli.quiet);
    match cli.command {
        Command::Cohort(a) => {
            let dest = Destination::prepare(&a.output)?;
            let chart = chart_target(&a.chart)?;
            let ds = load_input(name, &a.input, a.group.iter().cloned().collect())?;
            let revenue = a.metric == cli::CohortMetric::Revenue;
            let params = reports::cohort::CohortParams {
                period: a.period,
                by: a.by,
                mode: a.mode,
                metric: a.metric,
                max_periods: a.max_periods,
                group: a.group,
            };
            let report = reports::cohort::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &params)?;
            if let Some(path) = chart {
                let (data, as_of) = chart_names(&a.input, &ds);
                charts::write(&charts::from_cohort(&report, revenue, &data, &as_of)?, path)?;
            }
            dest.write(&report)
        }
        Command::Churn(a) => {
            let dest = Destination::prepare(&a.output)?;
            let chart = chart_target(&a.chart)?;
            if chart.is_some() && !a.survival {
                return Err(error::bad(
                    "--chart needs --survival (the chart draws the survival curves)",
                ));
            }
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let report = reports::churn::command(&ds, &a.params())?;
            if let Some(path) = chart {
                let (data, as_of) = chart_names(&a.input, &ds);
                charts::write(&charts::from_survival(&report, &data, &as_of)?, path)?;
            }
            dest.write(&report)
        }
        Command::Ltv(a) => {
            let dest = Destination::prepare(&a.output)?;
            let chart = chart_target(&a.chart)?;
            if chart.is_some() && a.per_customer {
                return Err(error::bad("--chart: not available with --per-customer"));
            }
            if chart.is_some() && a.model.purchase_model().is_some() && a.calibration_end.is_none()
            {
                return Err(error::bad(
                    "--chart with a predictive model needs --calibration-end (the chart \
                     compares predicted with actual holdout purchases)",
                ));
            }
            if !a.summary.is_empty() {
                if !a.input.transactions.is_empty() {
                    return Err(error::bad(
                        "give either --summary FILE or -t/--transactions, not both",
                    ));
                }
                if chart.is_some() {
                    return Err(error::bad("--chart: not available with --summary"));
                }
                let opts = config::load_options(&a.input, vec![])?;
                let srcs: Vec<load::Source> = a
                    .summary
                    .iter()
                    .map(|s| load::Source::from_arg(s))
                    .collect();
                let report = reports::ltv::run_summary_file(&srcs, &opts, &a.params())?;
                return dest.write(&report);
            }
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            if a.model == cli::LtvModel::Compare {
                reports::ltv::check_model_args(&a.model_args.params())?;
                let (report, tracking) = reports::ltv::compare(&ds, &a.params())?;
                if let Some(path) = chart {
                    let (data, as_of) = chart_names(&a.input, &ds);
                    charts::write(&charts::from_compare(&tracking, &data, &as_of)?, path)?;
                }
                return dest.write(&report);
            }
            let report = reports::ltv::command(&ds, &a.params())?;
            if let Some(path) = chart {
                let (data, as_of) = chart_names(&a.input, &ds);
                let c = match a.model {
                    cli::LtvModel::Historical => charts::from_ltv(&report, &data, &as_of)?,
                    _ => charts::from_calibration(&report, &data, &as_of)?,
                };
                charts::write(&c, path)?;
            }
            dest.write(&report)
        }

        Command::Segment(a) => {
            let dest = Destination::prepare(&a.output)?;
            let chart = chart_target(&a.chart)?;
            if chart.is_some() && a.per_customer {
                return Err(error::bad("--chart: not available with --per-customer"));
            }
            // A bad rules file fails before the data is read.
            let rules = match &a.rules {
                Some(path) => reports::segment::Rules::from_file(path, a.bins)?,
                None => reports::segment::Rules::builtin(),
            };
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let params = reports::segment::SegmentParams {
                bins: a.bins,
                rules,
                by: a.by,
                per_customer: a.per_customer,
            };
            let report = reports::segment::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &params)?;
            if let Some(path) = chart {
                let (data, as_of) = chart_names(&a.input, &ds);
                charts::write(&charts::from_segments(&report, &data, &as_of)?, path)?;
            }
            dest.write(&report)
        }
        Command::Whatif(a) => {
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, vec![])?;
            let params = reports::whatif::WhatifParams {
                margin: a.margin,
                discount_rate: a.discount_rate,
                lift: a.lift,
                retention: a.retention,
            };
            let report = reports::whatif::run(&ds.tx, ds.as_of, &params)?;
            dest.write(&report)
        }
        Command::Summary(a) => {
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let params = reports::summary::SummaryParams {
                period: a.period,
                by: a.by,
                margin: a.margin,
                convert_within: a.convert_within,
            };
            // Invoice lines (a service period): read again as such for the MRR KPIs.
            let invoices = if ds.stats.service_period {
                let opts = config::load_options(&a.input, params.by.iter().cloned().collect())?;
                Some(load::load(&opts.as_invoices(None))?)
            } else {
                None
            };
            let mut notes = Vec::new();
            let report = reports::summary::run(
                &ds.tx,
                ds.customers.as_ref(),
                invoices.as_ref().map(|i| &i.tx),
                ds.as_of,
                &params,
                &mut notes,
            )?;
            for n in &notes {
                eprintln!("retention {name}: note: {n}");
            }
            dest.write(&report)
        }
        Command::Wallet(a) => {
            use reports::wallet::{WalletParams, WalletSource};
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let wallet = match (&a.wallet, a.estimate_wallet) {
                (Some(path), _) => {
                    let opts = config::load_options(&a.input, vec![])?;
                    let mut warnings = Vec::new();
                    let w =
                        load::load_wallet(&[load::Source::from_arg(path)], &opts, &mut warnings)?;
                    for w in &warnings {
                        eprintln!("retention {name}: warning: {w}");
                    }
                    WalletSource::File(w)
                }
                (None, true) => WalletSource::Estimate,
                (None, false) => WalletSource::None,
            };
            let params = WalletParams {
                wallet,
                by: a.by,
                per_customer: a.per_customer,
            };
            let mut notes = Vec::new();
            let report =
                reports::wallet::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &params, &mut notes)?;
            for n in &notes {
                eprintln!("retention {name}: note: {n}");
            }
            dest.write(&report)
        }
        Command::Describe(a) => {
            let dest = Destination::prepare(&a.output)?;
            let chart = chart_target(&a.chart)?;
            let ds = load_input(name, &a.input, vec![])?;
            let profile = reports::describe::profile(&ds.tx, &ds.stats)?;
            let mut report = reports::describe::report(&profile, ds.as_of)?;
            if let Some(path) = chart {
                let (data, as_of) = chart_names(&a.input, &ds);
                charts::write(&reports::describe::chart(&profile, &data, &as_of), path)?;
            }
            // The notes go to stderr, so that every format's stdout holds the rows only.
            for n in std::mem::take(&mut report.notes) {
                eprintln!("retention {name}: note: {n}");
            }
            dest.write(&report)
        }
        Command::Subscriptions(a) => subscriptions(name, &a),

        // the report as SQL, on stdout
        Command::Sql(a) => write_stdout(sql::command(&a)?.as_bytes()),

        // ---- completions, man page, charts ----
        Command::Report(a) => reports::report::command(
            &report_params(&a)?,
            || load_input(name, &a.input, vec![]),
            &progress,
        ),
        Command::Completions(a) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "retention", &mut out);
            write_stdout(&out)
        }
        Command::Man(a) => man(a.dir.as_deref()),
    }
}

// ---- man page, stdout ----

fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// `retention man`: retention.1 on stdout, or every page into a directory.
fn man(dir: Option<&std::path::Path>) -> Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let render = |c: clap::Command| -> Result<Vec<u8>> {
        let mut v = Vec::new();
        clap_mangen::Man::new(c).render(&mut v)?;
        Ok(v)
    };
    let Some(dir) = dir else {
        return write_stdout(&render(cmd)?);
    };
    if !dir.is_dir() {
        return Err(error::bad(format!(
            "--dir '{}': not a directory",
            dir.display()
        )));
    }
    output::write_atomic(&dir.join("retention.1"), &render(cmd.clone())?)?;
    for sub in cmd.get_subcommands() {
        let name = format!("retention-{}", sub.get_name());
        let page = sub
            .clone()
            .bin_name(format!("retention {}", sub.get_name()));
        let mut v = Vec::new();
        clap_mangen::Man::new(page)
            .title(name.clone())
            .render(&mut v)?;
        output::write_atomic(&dir.join(format!("{name}.1")), &v)?;
    }
    Ok(())
}

// ---- charts ----

/// `--chart FILE`: check the extension before any work.
fn chart_target(a: &cli::ChartArgs) -> Result<Option<&std::path::Path>> {
    match &a.chart {
        Some(p) => {
            charts::format_of(p)?;
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if !dir.is_dir() {
                return Err(error::bad(format!(
                    "--chart '{}': the directory '{}' does not exist",
                    p.display(),
                    dir.display()
                )));
            }
            Ok(Some(p.as_path()))
        }
        None => Ok(None),
    }
}

/// The data's name and the as-of date for chart titles.
fn chart_names(input: &InputArgs, ds: &Dataset) -> (String, String) {
    (charts::data_name(&input.transactions), ds.as_of.to_string())
}

// ---- subscriptions ----

/// `retention subscriptions`: invoice lines in, one report out.
fn subscriptions(name: &str, a: &cli::SubscriptionsArgs) -> Result<()> {
    use reports::subscriptions::{self as subs, SbgOptions, SubsParams, SubsView};
    let dest = Destination::prepare(&a.output)?;
    let chart = chart_target(&a.chart)?;
    if chart.is_some() && !a.cohort && a.model.is_none() {
        return Err(error::bad(
            "--chart needs --cohort (a heatmap) or --model sbg (actual vs predicted survival)",
        ));
    }
    let mut opts =
        config::load_options(&a.input, a.by.iter().cloned().collect())?.as_invoices(a.period_end);
    for (role, flag) in [
        (load::Role::PeriodStart, &a.period_start_col),
        (load::Role::PeriodEnd, &a.period_end_col),
        (load::Role::Plan, &a.plan_col),
        (load::Role::Subscription, &a.subscription_col),
    ] {
        if let Some(col) = flag {
            opts.columns.insert(role, col.clone());
        }
    }
    let ds = load_with(name, &opts)?;
    let view = match a.model {
        Some(params::SubsModel::Sbg) => SubsView::Sbg(SbgOptions {
            horizon: a.horizon,
            discount_rate: a.discount_rate,
        }),
        None if a.cohort => SubsView::Cohort,
        None => SubsView::Movements,
    };
    let p = SubsParams {
        period: a.period,
        by: a.by.clone(),
        view,
    };
    let out = subs::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &p)?;
    for w in &out.warnings {
        eprintln!("retention {name}: note: {w}");
    }
    for f in &out.fits {
        let group = if p.by.is_some() {
            format!("{} = {}: ", p.by.as_deref().unwrap_or_default(), f.group)
        } else {
            String::new()
        };
        eprintln!("retention {name}: {group}{}", subs::describe_fit(f));
    }
    if let Some(path) = &a.params {
        let text =
            serde_json::to_string_pretty(&subs::params_json(&out.fits, p.by.as_deref(), &p))?;
        output::write_atomic(path, (text + "\n").as_bytes())?;
    }
    if let Some(path) = chart {
        let (data, as_of) = chart_names(&a.input, &ds);
        let c = match p.view {
            SubsView::Sbg(_) => subs::sbg_chart(&out.sbg_rows, &data, &as_of),
            _ => subs::cohort_chart(&out.report, &data, &as_of)?,
        };
        charts::write(&c, path)?;
    }
    dest.write(&out.report)
}
