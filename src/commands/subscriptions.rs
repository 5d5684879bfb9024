//! `retention subscriptions`: invoice lines in, one report out.

use anyhow::Result;

use super::{chart_target, destination, load_with, ChartNames, Ctx};
use crate::charts;
use crate::cli::SubscriptionsArgs;
use crate::error::bad;
use crate::load;
use crate::params::SubsModel;
use crate::reports::subscriptions::{self as subs, SbgOptions, SubsParams, SubsView};

/// The flags as the report's settings.
pub fn resolve(a: &SubscriptionsArgs) -> Result<SubsParams> {
    let view = match a.model {
        Some(SubsModel::Sbg) => SubsView::Sbg(SbgOptions {
            horizon: a.horizon,
            discount_rate: a.discount_rate,
        }),
        None if a.cohort => SubsView::Cohort,
        None => SubsView::Movements,
    };
    Ok(SubsParams {
        period: a.period,
        by: a.by.clone(),
        view,
    })
}

pub fn run(ctx: &Ctx, a: &SubscriptionsArgs) -> Result<()> {
    let name = ctx.name;
    let dest = destination(&a.output)?;
    let chart_path = chart_target(&a.chart)?;
    if chart_path.is_some() && !a.cohort && a.model.is_none() {
        return Err(bad(
            "--chart needs --cohort (a heatmap) or --model sbg (actual vs predicted survival)",
        ));
    }
    let mut opts = crate::config::load_options(&a.input, a.by.iter().cloned().collect())?
        .as_invoices(a.period_end);
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
    let p = resolve(a)?;
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
        crate::output::write_atomic(path, (text + "\n").as_bytes())?;
    }
    if let Some(path) = chart_path {
        let n = ChartNames::of(&a.input, &ds);
        let c = match p.view {
            SubsView::Sbg(_) => subs::sbg_chart(&out.sbg_rows, &n.data, &n.as_of),
            _ => subs::cohort_chart(
                &out.cohort_rows,
                p.period.period(),
                p.by.is_some(),
                &n.data,
                &n.as_of,
            )?,
        };
        charts::write(&c, path)?;
    }
    dest.write(&out.report)
}
