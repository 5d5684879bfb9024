//! `retention churn`.

use anyhow::Result;

use super::{chart_target, destination, load_input, ChartNames, Ctx};
use crate::charts::{self, Chart};
use crate::cli::ChurnArgs;
use crate::error::bad;
use crate::params::ChurnCommandParams;
use crate::reports::churn::{self, SurvivalPoint};

/// The flags as the command's settings.
pub fn resolve(a: &ChurnArgs) -> Result<ChurnCommandParams> {
    Ok(ChurnCommandParams {
        period: a.period,
        inactive_after: a.inactive_after,
        by: a.by.clone(),
        survival: a.survival,
        at_risk: a.at_risk,
        top: a.top,
        at_risk_model: a.at_risk_model,
        model: super::ltv::model_params(&a.model),
    })
}

pub fn run(ctx: &Ctx, a: &ChurnArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    if chart_path.is_some() && !a.survival {
        return Err(bad(
            "--chart needs --survival (the chart draws the survival curves)",
        ));
    }
    let p = resolve(a)?;
    let ds = load_input(ctx.name, &a.input, p.by.iter().cloned().collect())?;
    let (report, curves) = churn::command_curves(&ds, &p)?;
    if let Some(path) = chart_path {
        let n = ChartNames::of(&a.input, &ds);
        charts::write(&survival_chart(&curves, p.by.as_deref(), &n), path)?;
    }
    dest.write(&report)
}

/// The survival curves of `--survival` (also `retention report`'s).
pub fn survival_chart(curves: &[SurvivalPoint], by: Option<&str>, n: &ChartNames) -> Chart {
    churn::survival_chart(curves, by, &n.data, &n.as_of)
}
