//! `retention`: customer-retention analytics over CSV and Parquet exports.
//!
//! `run` is the whole program: load the input (`load`), compute one report
//! (`reports::*`), write it (`output`). `main.rs` only maps errors to exit codes.

pub mod cli;
pub mod config;
pub mod dates;
pub mod error;
pub mod load;
pub mod models;
pub mod output;
pub mod period;
pub mod reports;

use anyhow::Result;

use cli::{Cli, Command, InputArgs};
use load::Dataset;
use output::Destination;

/// Load the input of a command and print its warnings (and, with --verbose, the mapping).
fn load_input(name: &str, input: &InputArgs, extra_columns: Vec<String>) -> Result<Dataset> {
    let opts = config::load_options(input, extra_columns)?;
    let started = std::time::Instant::now();
    let ds = load::load(&opts)?;
    if opts.verbose {
        for i in &ds.info {
            eprintln!("retention {name}: {i}");
        }
        eprintln!(
            "retention {name}: input loaded in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    for w in &ds.warnings {
        eprintln!("retention {name}: warning: {w}");
    }
    Ok(ds)
}

/// Run one command.
pub fn run(cli: Cli) -> Result<()> {
    let name = cli.command.name();
    match cli.command {
        Command::Cohort(a) => {
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, a.group.iter().cloned().collect())?;
            let params = reports::cohort::CohortParams {
                period: a.period,
                by: a.by,
                mode: a.mode,
                metric: a.metric,
                max_periods: a.max_periods,
                group: a.group,
            };
            let report = reports::cohort::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &params)?;
            dest.write(&report)
        }
        Command::Churn(a) => {
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let report = reports::churn::command(&ds, &a)?;
            dest.write(&report)
        }
        Command::Ltv(a) => {
            let dest = Destination::prepare(&a.output)?;
            let ds = load_input(name, &a.input, a.by.iter().cloned().collect())?;
            let report = reports::ltv::command(&ds, &a)?;
            dest.write(&report)
        }

        Command::Segment(a) => {
            let dest = Destination::prepare(&a.output)?;
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
            let mut notes = Vec::new();
            let report = reports::summary::run(
                &ds.tx,
                ds.customers.as_ref(),
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
                    WalletSource::File(load::load_wallet(&load::Source::from_arg(path), &opts)?)
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
    }
}
