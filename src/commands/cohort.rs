//! `retention cohort`.

use anyhow::Result;

use super::{chart_target, destination, load_input, ChartNames, Ctx};
use crate::charts::{self, Chart};
use crate::cli::CohortArgs;
use crate::params::CohortBy;
use crate::reports::cohort::{self, Cell, CohortParams};
use crate::reports::CodedTx;

/// The flags as the report's settings.
pub fn resolve(a: &CohortArgs) -> Result<CohortParams> {
    Ok(CohortParams {
        period: a.period,
        by: a.by,
        mode: a.mode,
        metric: a.metric,
        max_periods: a.max_periods,
        group: a.group.clone(),
    })
}

pub fn run(ctx: &Ctx, a: &CohortArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    let p = resolve(a)?;
    let ds = load_input(ctx.name, &a.input, p.group.iter().cloned().collect())?;
    // (signup cohorts hold the customers file's customers too)
    let coded = CodedTx::of(&ds, p.by == CohortBy::Signup)?;
    let (report, cells) =
        cohort::run_cells_shared(Some(&coded), &ds.tx, ds.customers.as_ref(), ds.as_of, &p)?;
    if let Some(path) = chart_path {
        charts::write(&chart(&cells, &p, &ChartNames::of(&a.input, &ds)), path)?;
    }
    dest.write(&report)
}

/// The heatmap of the metric the table shows (also `retention report`'s).
pub fn chart(cells: &[Cell], p: &CohortParams, n: &ChartNames) -> Chart {
    cohort::chart(cells, p, &n.data, &n.as_of)
}
