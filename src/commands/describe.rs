//! `retention describe`.

use anyhow::Result;

use super::{chart_target, destination, load_input, print_notes, ChartNames, Ctx};
use crate::charts;
use crate::cli::DescribeArgs;
use crate::reports::describe;

pub fn run(ctx: &Ctx, a: &DescribeArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    let ds = load_input(ctx.name, &a.input, vec![])?;
    let coded = crate::reports::CodedTx::of(&ds, false)?;
    let profile = describe::profile(&coded, &ds.tx, &ds.stats)?;
    let mut report = describe::report(&profile, ds.as_of)?;
    if let Some(path) = chart_path {
        let n = ChartNames::of(&a.input, &ds);
        charts::write(&describe::chart(&profile, &n.data, &n.as_of), path)?;
    }
    // The notes go to stderr, so that every format's stdout holds the rows only.
    print_notes(ctx.name, &std::mem::take(&mut report.notes));
    dest.write(&report)
}
