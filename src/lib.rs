//! `retention`: customer-retention analytics over CSV and Parquet exports.
//!
//! `run` dispatches to the command (`commands::*`), which loads the input (`load`),
//! computes one report (`reports::*`) and writes it (`output`). `main.rs` only maps
//! errors to exit codes.

// No unwrap/expect outside tests: user data must give errors, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod charts;
pub mod cli;
pub mod commands;
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

use cli::{Cli, Command};

/// Run one command: a dispatcher; each command's code is in `commands/`.
pub fn run(cli: Cli) -> Result<()> {
    load::one_heap();
    let name = cli.command.name();
    let _ = output::COMMAND.set(name);
    // A progress indicator on a terminal for work longer than a second.
    let progress = progress::Progress::start(name, cli.quiet);
    let ctx = commands::Ctx {
        name,
        progress: &progress,
    };
    match &cli.command {
        Command::Cohort(a) => commands::cohort::run(&ctx, a),
        Command::Churn(a) => commands::churn::run(&ctx, a),
        Command::Ltv(a) => commands::ltv::run(&ctx, a),
        Command::Segment(a) => commands::segment::run(&ctx, a),
        Command::Whatif(a) => commands::whatif::run(&ctx, a),
        Command::Summary(a) => commands::summary::run(&ctx, a),
        Command::Wallet(a) => commands::wallet::run(&ctx, a),
        Command::Describe(a) => commands::describe::run(&ctx, a),
        Command::Subscriptions(a) => commands::subscriptions::run(&ctx, a),
        Command::Sql(a) => commands::sql::run(a),
        Command::Report(a) => commands::report::run(&ctx, a),
        Command::Completions(a) => commands::man::completions(a),
        Command::Man(a) => commands::man::man(a),
    }
}
