//! `retention ltv` (and the model flags it shares with `churn --at-risk`).

use anyhow::Result;

use super::{chart_target, destination, load_input, ChartNames, Ctx};
use crate::charts::{self, Chart};
use crate::cli::{LtvArgs, ModelArgs};
use crate::error::bad;
use crate::params::{LtvModel, LtvParams, ModelParams};
use crate::reports::ltv::{self, LtvChartData};

/// The model flags as typed settings (checked by `reports::ltv::check_model_args`, the
/// one place of their rules).
pub fn model_params(a: &ModelArgs) -> ModelParams {
    ModelParams {
        unit: a.unit,
        horizon: a.horizon,
        discount_rate: a.discount_rate,
        margin: a.margin,
        intervals: a.intervals,
        draws: a.draws,
        seed: a.seed,
        penalizer: a.penalizer,
        params: a.params.clone(),
    }
}

/// The flags as the command's settings.
pub fn resolve(a: &LtvArgs) -> Result<LtvParams> {
    Ok(LtvParams {
        model: a.model,
        period: a.period,
        max_periods: a.max_periods,
        by: a.by.clone(),
        per_customer: a.per_customer,
        calibration_end: a
            .calibration_end
            .as_deref()
            .map(|s| crate::dates::parse_arg(s).map_err(|e| bad(format!("--calibration-end: {e}"))))
            .transpose()?,
        model_args: model_params(&a.model_args),
        verbose: a.input.verbose,
    })
}

pub fn run(ctx: &Ctx, a: &LtvArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    if chart_path.is_some() && a.per_customer {
        return Err(bad("--chart: not available with --per-customer"));
    }
    if chart_path.is_some() && a.model.purchase_model().is_some() && a.calibration_end.is_none() {
        return Err(bad(
            "--chart with a predictive model needs --calibration-end (the chart \
             compares predicted with actual holdout purchases)",
        ));
    }
    let p = resolve(a)?;
    if !a.summary.is_empty() {
        if !a.input.transactions.is_empty() {
            return Err(bad(
                "give either --summary FILE or -t/--transactions, not both",
            ));
        }
        if chart_path.is_some() {
            return Err(bad("--chart: not available with --summary"));
        }
        let opts = crate::config::load_options(&a.input, vec![])?;
        let srcs: Vec<crate::load::Source> = a
            .summary
            .iter()
            .map(|s| crate::load::Source::from_arg(s))
            .collect();
        let report = ltv::run_summary_file(&srcs, &opts, &p)?;
        return dest.write(&report);
    }
    let ds = load_input(ctx.name, &a.input, p.by.iter().cloned().collect())?;
    if p.model == LtvModel::Compare {
        ltv::check_model_args(&p.model_args)?;
        let (report, tracking) = ltv::compare(&ds, &p)?;
        if let Some(path) = chart_path {
            let n = ChartNames::of(&a.input, &ds);
            charts::write(&ltv::compare_chart(&tracking, &n.data, &n.as_of), path)?;
        }
        return dest.write(&report);
    }
    let (report, chart_data) = ltv::command_with_chart(&ds, &p)?;
    if let Some(path) = chart_path {
        charts::write(
            &chart(&chart_data, &p, &ChartNames::of(&a.input, &ds))?,
            path,
        )?;
    }
    dest.write(&report)
}

/// The historical curves, or a model's predicted vs actual holdout purchases (also
/// `retention report`'s).
pub fn chart(data: &LtvChartData, p: &LtvParams, n: &ChartNames) -> Result<Chart> {
    match data {
        LtvChartData::Curves(c) => Ok(ltv::curves_chart(c, p, &n.data, &n.as_of)),
        LtvChartData::Calibration(rows) => Ok(ltv::calibration_chart(rows, &n.data, &n.as_of)),
        LtvChartData::None => Err(bad(
            "--chart: this ltv output has no chart (use the historical report without \
             --per-customer, or a model with --calibration-end)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn command(argv: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("retention").chain(argv.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn flag_defaults_are_the_typed_defaults() {
        let Command::Ltv(a) = command(&["ltv", "-t", "x.csv"]) else {
            panic!("ltv")
        };
        assert_eq!(resolve(&a).unwrap(), LtvParams::default());
        let Command::Churn(c) = command(&["churn", "-t", "x.csv", "--at-risk"]) else {
            panic!("churn")
        };
        assert_eq!(
            super::super::churn::resolve(&c).unwrap().model,
            ModelParams::DEFAULT
        );
    }
}
