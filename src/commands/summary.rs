//! `retention summary`.

use anyhow::Result;

use super::{destination, load_input_and_options, print_notes, Ctx};
use crate::cli::SummaryArgs;
use crate::reports::summary::{self, SummaryParams};

/// The flags as the report's settings.
pub fn resolve(a: &SummaryArgs) -> Result<SummaryParams> {
    Ok(SummaryParams {
        period: a.period,
        by: a.by.clone(),
        margin: a.margin,
        convert_within: a.convert_within,
    })
}

pub fn run(ctx: &Ctx, a: &SummaryArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let p = resolve(a)?;
    let (ds, opts) = load_input_and_options(ctx.name, &a.input, p.by.iter().cloned().collect())?;
    // Invoice lines (a service period): read again as such for the MRR KPIs.
    let mut notes = Vec::new();
    let invoices = if ds.stats.service_period {
        match opts.not_rereadable() {
            Some(why) => {
                notes.push(format!("subscription KPIs left out: {why}"));
                None
            }
            None => Some(crate::load::load(&opts.as_invoices(None))?),
        }
    } else {
        None
    };
    let coded = crate::reports::CodedTx::of(&ds, true)?;
    let report = summary::run_shared(
        Some(&coded),
        &ds.tx,
        ds.customers.as_ref(),
        invoices.as_ref().map(|i| &i.tx),
        ds.as_of,
        &p,
        &mut notes,
    )?;
    print_notes(ctx.name, &notes);
    dest.write(&report)
}
