//! `retention segment`.

use anyhow::Result;

use super::{chart_target, destination, load_input, ChartNames, Ctx};
use crate::charts::{self, Chart};
use crate::cli::SegmentArgs;
use crate::error::bad;
use crate::reports::segment::{self, Rules, SegmentParams, SegmentRow};
use crate::reports::CodedTx;

/// The flags as the report's settings; a bad rules file fails here, before the data is
/// read.
pub fn resolve(a: &SegmentArgs) -> Result<SegmentParams> {
    let rules = match &a.rules {
        Some(path) => Rules::from_file(path, a.bins)?,
        None => Rules::builtin(),
    };
    Ok(SegmentParams {
        bins: a.bins,
        rules,
        by: a.by.clone(),
        per_customer: a.per_customer,
    })
}

pub fn run(ctx: &Ctx, a: &SegmentArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    if chart_path.is_some() && a.per_customer {
        return Err(bad("--chart: not available with --per-customer"));
    }
    let p = resolve(a)?;
    let ds = load_input(ctx.name, &a.input, p.by.iter().cloned().collect())?;
    let coded = CodedTx::of(&ds, true)?;
    let (report, rows) =
        segment::run_rows_shared(Some(&coded), &ds.tx, ds.customers.as_ref(), ds.as_of, &p)?;
    if let Some(path) = chart_path {
        charts::write(&chart(&rows, &p, &ChartNames::of(&a.input, &ds))?, path)?;
    }
    dest.write(&report)
}

/// The segments' sizes and values (also `retention report`'s).
pub fn chart(rows: &[SegmentRow], p: &SegmentParams, n: &ChartNames) -> Result<Chart> {
    segment::chart(rows, p.by.as_deref(), &n.data, &n.as_of)
}
