//! `retention sql REPORT`: the report as one SELECT, on stdout.

use anyhow::Result;

use super::write_stdout;
use crate::cli::SqlArgs;
use crate::config;
use crate::error::bad;
use crate::reports::segment::Rules;
use crate::sql::{query, Dialect, Source, SqlParams, SqlReport};

/// Check the flags against the report, resolve the column names (flags, then the config
/// file's `[columns]`, then the defaults) and the report's options.
pub fn resolve(a: &SqlArgs) -> Result<(Dialect, Source, SqlParams)> {
    use SqlReport as R;
    // Flags of the native reports that one SELECT over one table cannot express.
    let refused = [
        (
            "--by",
            a.by.is_some(),
            "groups come from a customers file or a first-value rule",
        ),
        (
            "--group",
            a.group.is_some(),
            "groups come from a customers file or a first-value rule",
        ),
        (
            "--inactive-after",
            a.inactive_after.is_some(),
            "only the default (active = a purchase in the period) is written as SQL",
        ),
        (
            "--customers",
            a.customers.is_some(),
            "the query reads one transactions table",
        ),
    ];
    for (flag, given, why) in refused {
        if given {
            return Err(bad(format!(
                "{flag}: not available in `retention sql` ({why})"
            )));
        }
    }
    let r = a.report;
    // Report flags given to a report that does not have them.
    let own = [
        (
            "--period",
            a.period.is_some(),
            matches!(r, R::Cohort | R::Churn | R::Ltv | R::Summary),
        ),
        ("--mode", a.mode.is_some(), r == R::Cohort),
        ("--metric", a.metric.is_some(), r == R::Cohort),
        (
            "--max-periods",
            a.max_periods.is_some(),
            matches!(r, R::Cohort | R::Ltv),
        ),
        ("--per-customer", a.per_customer, r == R::Segment),
        ("--bins", a.bins.is_some(), r == R::Segment),
        ("--rules", a.rules.is_some(), r == R::Segment),
        ("--unit", a.unit.is_some(), r == R::LtvSummary),
        (
            "--margin",
            a.margin.is_some(),
            matches!(r, R::Ltv | R::Summary),
        ),
    ];
    for (flag, given, has) in own {
        if given && !has {
            return Err(bad(format!(
                "{flag}: not an option of `retention sql {}`",
                r.name()
            )));
        }
    }
    let cols = match &config::config_path(a.config.as_deref()) {
        Some(p) => config::read_config(p)?.columns,
        None => Default::default(),
    };
    let pick = |flag: &Option<String>, conf: &Option<String>, default: &str| {
        flag.clone()
            .or_else(|| conf.clone())
            .unwrap_or_else(|| default.to_string())
    };
    let src = Source {
        table: a.table.clone(),
        customer: pick(&a.customer_col, &cols.customer_id, "customer_id"),
        date: pick(&a.date_col, &cols.date, "date"),
        amount: pick(&a.amount_col, &cols.amount, "amount"),
        order: a.order_col.clone().or_else(|| cols.order_id.clone()),
        as_of: config::parse_date_flag("--as-of", &a.as_of)?,
        from: config::parse_date_flag("--from", &a.from)?,
        to: config::parse_date_flag("--to", &a.to)?,
    };
    config::check_from_to(src.from, src.to)?;
    let mut p = SqlParams::new(r);
    p.period = a.period.unwrap_or(p.period);
    p.mode = a.mode.unwrap_or(p.mode);
    p.metric = a.metric.unwrap_or(p.metric);
    p.max_periods = a.max_periods;
    p.per_customer = a.per_customer;
    p.bins = a.bins.unwrap_or(p.bins);
    p.unit = a.unit.unwrap_or(p.unit);
    p.summary_period = a.period;
    if let Some(m) = a.margin {
        p.margin = crate::params::check_margin(m)?;
    }
    if let Some(path) = &a.rules {
        p.rules = Rules::from_file(path, p.bins)?;
    }
    Ok((a.dialect, src, p))
}

pub fn run(a: &SqlArgs) -> Result<()> {
    let (dialect, src, p) = resolve(a)?;
    write_stdout(query(dialect, &src, &p)?.as_bytes())
}
