//! `retention whatif`.

use anyhow::Result;

use super::{destination, load_input, Ctx};
use crate::cli::WhatifArgs;
use crate::reports::whatif::{self, WhatifParams};

/// The flags as the report's settings (their ranges are checked by the report, with
/// the measured retention).
pub fn resolve(a: &WhatifArgs) -> Result<WhatifParams> {
    Ok(WhatifParams {
        margin: a.margin,
        discount_rate: a.discount_rate,
        lift: a.lift,
        retention: a.retention,
    })
}

pub fn run(ctx: &Ctx, a: &WhatifArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let p = resolve(a)?;
    let ds = load_input(ctx.name, &a.input, vec![])?;
    let coded = crate::reports::CodedTx::of(&ds, false)?;
    let report = whatif::run_shared(Some(&coded), &ds.tx, ds.as_of, &p)?;
    dest.write(&report)
}
