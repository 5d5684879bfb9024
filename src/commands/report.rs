//! `retention report`: every report at once into a directory. The input is loaded once
//! and each report runs on it with its command's defaults and chart (the same pieces as
//! the commands'); `reports::report` builds the directory and swaps it in.

use anyhow::Result;
use clap::ValueEnum;
use polars::prelude::DataFrame;

use super::{load_input_with_category, ChartNames, Ctx};
use crate::cli::ReportArgs;
use crate::error::bad;
use crate::load::Dataset;
use crate::output::Report;
use crate::params::{ChurnCommandParams, LtvModel, LtvParams, ReportFormat, ReportParams};
use crate::period::Period;
use crate::progress::Progress;
use crate::reports;
use crate::reports::churn::ChurnParams;
use crate::reports::cohort::CohortParams;
use crate::reports::report::{
    self as page, cell_f64, previous_dataset, Contents, Previous, Section,
};
use crate::reports::segment::SegmentParams;
use crate::reports::summary::SummaryParams;
use crate::reports::whatif::WhatifParams;

/// `retention report`'s flags and the config file's `[report]` section (flags win).
pub fn resolve(a: &ReportArgs) -> Result<ReportParams> {
    let cfg = crate::config::report_config(&a.input)?;
    let period = a.period.or(cfg.period).unwrap_or(Period::Month);
    let format = match (a.format, cfg.format.as_deref()) {
        (Some(f), _) => f,
        (None, Some(s)) => ReportFormat::from_str(s, true).map_err(|_| {
            bad(format!(
                "config file: [report] format = \"{s}\": expected csv or parquet"
            ))
        })?,
        (None, None) => ReportFormat::Csv,
    };
    let png = match (a.png, cfg.charts.as_deref()) {
        (true, _) => true,
        (false, None) | (false, Some("svg")) => false,
        (false, Some("png")) => true,
        (false, Some(s)) => {
            return Err(bad(format!(
                "config file: [report] charts = \"{s}\": expected svg or png"
            )))
        }
    };
    Ok(ReportParams {
        out: a.out.clone(),
        period,
        format,
        png,
        transactions: a.input.transactions.clone(),
        customers: a.input.customers.clone(),
        load: crate::config::load_options(&a.input, vec![])?,
    })
}

pub fn run(ctx: &Ctx, a: &ReportArgs) -> Result<()> {
    let p = resolve(a)?;
    let progress = ctx.progress;
    // The output place is checked before the data is read.
    let place = page::Place::prepare(&p.out)?;
    progress.set("loading the input");
    let started = std::time::Instant::now();
    let ds = load_input_with_category(ctx.name, &a.input, vec![])?;
    let loaded = started.elapsed().as_secs_f64();
    progress.set("computing");
    let names = ChartNames {
        data: crate::charts::data_name(&p.transactions),
        as_of: ds.as_of.to_string(),
    };
    // Invoice lines (the transactions have a service period): read once more as such,
    // for the summary's MRR KPIs and the subscription sections. Bad invoice lines leave
    // those out with their reason, like any section.
    let invoices = if ds.stats.service_period {
        progress.set("reading the invoice lines");
        match p.load.not_rereadable() {
            Some(why) => Some(Err(why)),
            None => match crate::load::load(&p.load.as_invoices(None)) {
                Ok(inv) => Some(Ok(inv)),
                Err(e) if crate::error::exit_code(&e) == crate::error::EXIT_BAD_INPUT => {
                    Some(Err(crate::error::one_line(&e)))
                }
                Err(e) => return Err(e),
            },
        }
    } else {
        None
    };
    let inv_tx = invoices
        .as_ref()
        .and_then(|i| i.as_ref().ok())
        .map(|i| &i.tx);
    let (mut sections, previous, steps) = compute(&ds, inv_tx, p.period, &names, progress)?;
    if let Some(inv) = &invoices {
        progress.set("subscriptions");
        sections.extend(subscription_sections(inv, p.period, &names)?);
    }
    let verbose = p.load.verbose;
    if verbose {
        for (name, s, peak) in &steps {
            let peak = peak.map_or(String::new(), |m| format!(", peak memory {m:.0} MiB"));
            crate::progress::eprintln(&format!("retention {}: {name} in {s:.2} s{peak}", ctx.name));
        }
    }
    let contents = Contents {
        sections,
        previous,
        loaded,
    };
    let writing = std::time::Instant::now();
    page::publish(place, &p, &ds, contents, progress)?;
    if verbose {
        crate::progress::eprintln(&format!(
            "retention {}: written in {:.2} s",
            ctx.name,
            writing.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// `f`'s result and the seconds it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let r = f();
    (r, started.elapsed().as_secs_f64())
}

/// The steps of `compute` (the sections, the coding, the previous period): seconds and
/// the peak memory after it, for --verbose.
type Steps = Vec<(&'static str, f64, Option<f64>)>;

fn step(steps: &mut Steps, name: &'static str, seconds: f64) {
    steps.push((name, seconds, crate::progress::peak_mib()));
    // What the step freed in the allocator's heaps (the threads' too) goes back before
    // the next step's peak.
    crate::load::trim();
}

/// The last section's step.
fn section_step(steps: &mut Steps, out: &[Section]) {
    if let Some(s) = out.last() {
        step(steps, s.name, s.seconds);
    }
}

/// Run every report's core on the loaded data.
fn compute(
    ds: &Dataset,
    invoices: Option<&DataFrame>,
    period_v: Period,
    names: &ChartNames,
    progress: &Progress,
) -> Result<(Vec<Section>, Previous, Steps)> {
    let period = period_v.name();
    let tx = &ds.tx;
    let cust = ds.customers.as_ref();
    let mut out = Vec::new();
    let mut mark = std::time::Instant::now();
    let mut lap = move || {
        let s = mark.elapsed().as_secs_f64();
        mark = std::time::Instant::now();
        s
    };
    // A report that fails on bad input is left out with its reason (a nightly job still
    // gets the others); an internal error fails the whole run.
    let keep = |r: Result<Report>| -> Result<std::result::Result<Report, String>> {
        match r {
            Ok(r) => Ok(Ok(r)),
            Err(e) if crate::error::exit_code(&e) == crate::error::EXIT_BAD_INPUT => {
                Ok(Err(crate::error::one_line(&e)))
            }
            Err(e) => Err(e),
        }
    };

    // The ids are coded once for every section: of the transactions alone, and with the
    // customers file's (the same coding when there is none).
    let coded = reports::CodedTx::of(ds, false)?;
    // The purchases by customer, grouped once for cohort, LTV curves and the histories
    // of churn, survival and the model.
    coded.keep_purchases(tx)?;
    let coded_all_own = match cust {
        Some(_) => Some(reports::CodedTx::of(ds, true)?),
        None => None,
    };
    let coded_all = coded_all_own.as_ref().unwrap_or(&coded);
    let mut steps = Steps::new();
    step(&mut steps, "coding", lap());

    // Sections that are independent and mostly sequential run two at a time (2 cores):
    // the two summaries, cohort and LTV curves, segment and what-if. Each is timed on its
    // own; they are listed in their usual order.
    progress.set("summary");
    let summary_of = |p: &SummaryParams| {
        timed(|| {
            let mut notes = Vec::new();
            let r = reports::summary::run_shared(
                Some(coded_all),
                tx,
                cust,
                invoices,
                ds.as_of,
                p,
                &mut notes,
            );
            (r, notes)
        })
    };
    let by_period = SummaryParams {
        period: Some(period_v),
        ..SummaryParams::DEFAULT
    };
    let (((summary, notes), s1), ((per_period, _), s2)) = rayon::join(
        || summary_of(&SummaryParams::DEFAULT),
        || summary_of(&by_period),
    );
    let mut summary = keep(summary)?;
    if let Ok(r) = &mut summary {
        r.notes.extend(notes.iter().map(|n| format!("note: {n}")));
    }
    out.push(Section {
        name: "summary",
        title: "Key figures over the whole window".into(),
        report: summary,
        chart: None,
        seconds: s1,
    });
    section_step(&mut steps, &out);
    out.push(Section {
        name: "summary_by_period",
        title: format!("Key figures per {period}"),
        report: keep(per_period)?,
        chart: None,
        seconds: s2,
    });
    section_step(&mut steps, &out);
    lap();

    progress.set("cohorts and LTV curves");
    let p = CohortParams {
        period: period_v,
        ..CohortParams::DEFAULT
    };
    let la = LtvParams {
        period: period_v,
        ..LtvParams::DEFAULT
    };
    let ((cohort, s1), (ltv_curves, s2)) = rayon::join(
        || timed(|| reports::cohort::run_cells_shared(Some(&coded), tx, cust, ds.as_of, &p)),
        || timed(|| reports::ltv::command_with_chart_shared(Some(&coded), ds, &la)),
    );
    let (report, chart) = match cohort {
        Ok((r, cells)) => (Ok(r), Some(super::cohort::chart(&cells, &p, names))),
        Err(e) => (keep(Err(e))?, None),
    };
    out.push(Section {
        name: "cohort",
        title: format!("Cohort retention (by {period} of first purchase)"),
        report,
        chart,
        seconds: s1,
    });
    section_step(&mut steps, &out);
    lap();

    progress.set("churn");
    // Churn, survival and the model share the purchase histories: built once.
    let histories =
        reports::Histories::from_by_customer(&coded, &*coded.purchases_by_customer(tx)?, None);
    // (freed before the model's peak; wallet groups its own)
    coded.release_purchases();
    let cp = ChurnParams {
        period: period_v,
        inactive_after: ChurnCommandParams::DEFAULT.inactive_after,
        by: None,
    };
    out.push(Section {
        name: "churn",
        title: format!("Retention and churn per {period}"),
        report: keep(reports::churn::run(&histories, ds.as_of, &cp))?,
        chart: None,
        seconds: lap(),
    });
    section_step(&mut steps, &out);

    progress.set("survival curves");
    let (report, chart) = match reports::churn::run_survival_points(&histories, ds.as_of, &cp) {
        Ok((r, curves)) => (
            Ok(r),
            Some(super::churn::survival_chart(&curves, None, names)),
        ),
        Err(e) => (keep(Err(e))?, None),
    };
    out.push(Section {
        name: "survival",
        title: "Customer survival (Kaplan–Meier)".into(),
        report,
        chart,
        seconds: lap(),
    });
    section_step(&mut steps, &out);

    let (report, chart) = match ltv_curves {
        Ok((r, data)) => (Ok(r), Some(super::ltv::chart(&data, &la, names)?)),
        Err(e) => (keep(Err(e))?, None),
    };
    out.push(Section {
        name: "ltv",
        title: "Historical LTV per cohort".into(),
        report,
        chart,
        seconds: s2,
    });
    section_step(&mut steps, &out);

    progress.set("BG/NBD model");
    let la = LtvParams {
        model: LtvModel::Bgnbd,
        ..LtvParams::DEFAULT
    };
    out.push(Section {
        name: "ltv_model",
        title: "Predicted CLV (BG/NBD + Gamma-Gamma, 12 months)".into(),
        report: keep(reports::ltv::run_model(ds, &coded, &histories, &la, None))?,
        chart: None,
        seconds: lap(),
    });
    section_step(&mut steps, &out);

    // The whole-window figures and the model as of the end of the previous period: the
    // dashboard's changes.
    progress.set("as of the previous period");
    let prev_end = period_v.end(period_v.index(ds.as_of) - 1);
    let mut previous = Previous {
        end: prev_end,
        ..Default::default()
    };
    // Where every row is its own order, the purchases up to a day are the histories' days
    // up to it, and the model's summaries are cut there (`fit_models` at `prev_end`): the
    // same fit as on a copy of the rows up to `prev_end`, without the copy, its coding
    // and its histories. Orders that span rows are grouped again on the copy (an order
    // across the day is cut there).
    // (the load drops the order column when every order is one row)
    let one_row_orders = tx.column("order_id").is_err();
    let prev_day = crate::period::days_since_epoch(prev_end);
    let bought_before = histories.days.iter().any(|&d| d <= prev_day);
    if one_row_orders && bought_before {
        let kind = la
            .model
            .purchase_model()
            .unwrap_or(crate::models::purchase::Kind::BgNbd);
        // The model fitted to the histories cut at `prev_end`, and beside it the summary
        // as of `prev_end`, which counts the rows up to it: the same figures as on a copy
        // of those rows, on the same coding.
        let (fit, summary) = rayon::join(
            || reports::ltv::fit_models(&histories, prev_end, &la.model_args, kind),
            || {
                reports::summary::run_shared(
                    Some(coded_all),
                    tx,
                    cust,
                    None,
                    prev_end,
                    &SummaryParams::DEFAULT,
                    &mut Vec::new(),
                )
            },
        );
        previous.clv = match fit {
            Ok(run) => reports::ltv::mean_predicted_clv(&run),
            // bad input (e.g. too little history to fit): no figure, as for the
            // section; an internal error fails the run
            Err(e) => {
                let _not_computed = keep(Err(e))?;
                None
            }
        };
        previous.ltv_cac = keep(summary)?
            .ok()
            .and_then(|r| cell_f64(&r.data, "ltv_cac", 0));
    }
    // (the histories are not used past here: freed before the next steps' peaks)
    drop(histories);
    // Orders that span rows: on a copy of the rows up to `prev_end`.
    let copy = if one_row_orders {
        None
    } else {
        previous_dataset(ds, prev_end)?
    };
    if let Some(e) = copy {
        // (with a customers file, the summary's coding holds its ids too)
        let coded_all = reports::CodedTx::of(&e, e.customers.is_some())?;
        let mut notes = Vec::new();
        let summary = reports::summary::run_shared(
            Some(&coded_all),
            &e.tx,
            e.customers.as_ref(),
            None,
            e.as_of,
            &SummaryParams::DEFAULT,
            &mut notes,
        );
        previous.ltv_cac = keep(summary)?
            .ok()
            .and_then(|r| cell_f64(&r.data, "ltv_cac", 0));
        drop(coded_all);
        let coded = reports::CodedTx::of(&e, false)?;
        let histories = reports::Histories::from_by_customer(
            &coded,
            &*coded.purchases_by_customer(&e.tx)?,
            None,
        );
        previous.clv = keep(reports::ltv::run_model(&e, &coded, &histories, &la, None))?
            .ok()
            .and_then(|r| cell_f64(&r.data, "mean_predicted_clv", 0));
    }
    step(&mut steps, "previous period", lap());

    progress.set("RFM segments, what-if and wallet");
    // Segment beside what-if then wallet (wallet is the longest and mostly sequential).
    let sp = SegmentParams::default();
    let wp = WhatifParams::DEFAULT;
    let wallet_p = reports::wallet::WalletParams::DEFAULT;
    let ((segment, s1), ((whatif, s2), ((wallet, notes), s3))) = rayon::join(
        || timed(|| reports::segment::run_rows_shared(Some(coded_all), tx, cust, ds.as_of, &sp)),
        || {
            (
                timed(|| reports::whatif::run_shared(Some(&coded), tx, ds.as_of, &wp)),
                timed(|| {
                    let mut notes = Vec::new();
                    let r = reports::wallet::run_shared(
                        Some(&coded),
                        tx,
                        cust,
                        ds.as_of,
                        &wallet_p,
                        &mut notes,
                    );
                    (r, notes)
                }),
            )
        },
    );
    let (report, chart) = match segment {
        Ok((r, rows)) => (Ok(r), Some(super::segment::chart(&rows, &sp, names)?)),
        Err(e) => (keep(Err(e))?, None),
    };
    out.push(Section {
        name: "segment",
        title: "RFM segments".into(),
        report,
        chart,
        seconds: s1,
    });
    section_step(&mut steps, &out);

    let mut wallet = keep(wallet)?;
    if let Ok(r) = &mut wallet {
        r.notes.extend(notes.iter().map(|n| format!("note: {n}")));
    }
    out.push(Section {
        name: "wallet",
        title: "Breadth, cross-sell and depth per RFM segment".into(),
        report: wallet,
        chart: None,
        seconds: s3,
    });
    section_step(&mut steps, &out);

    out.push(Section {
        name: "whatif",
        title: "The 5/25 rule: CLV at the measured and a lifted retention".into(),
        report: keep(whatif)?,
        chart: None,
        seconds: s2,
    });
    section_step(&mut steps, &out);
    Ok((out, previous, steps))
}

/// Invoice lines (the transactions have a service period): the `subscriptions` movements
/// and MRR cohorts. A failure on bad input (reading them, or here) leaves them out with
/// its reason, like any section.
fn subscription_sections(
    invoices: &std::result::Result<Dataset, String>,
    period_v: Period,
    names: &ChartNames,
) -> Result<Vec<Section>> {
    use crate::params::SubsPeriod;
    use reports::subscriptions::{self as subs, SubsParams, SubsView};
    let period = period_v.name();
    let started = std::time::Instant::now();
    let sp = SubsPeriod::from_period(period_v);
    let section = |name, title: String, report, chart| Section {
        name,
        title,
        report,
        chart,
        seconds: started.elapsed().as_secs_f64(),
    };
    let movements_title = format!("Subscriptions: MRR movements per {period}");
    let cohort_title = format!("Subscriptions: MRR cohorts (by {period} of the first MRR)");
    let Some(sp) = sp else {
        let why =
            format!("subscriptions are computed per month, quarter or year, not per {period}");
        return Ok(vec![section(
            "subscriptions",
            movements_title,
            Err(why),
            None,
        )]);
    };
    let ds = match invoices {
        Ok(ds) => ds,
        Err(why) => {
            return Ok(vec![section(
                "subscriptions",
                movements_title,
                Err(why.clone()),
                None,
            )])
        }
    };
    let run = || -> Result<(Report, subs::SubsOutput)> {
        let one = |view| -> Result<subs::SubsOutput> {
            let p = SubsParams {
                period: sp,
                view,
                ..SubsParams::DEFAULT
            };
            let mut out = subs::run(&ds.tx, ds.customers.as_ref(), ds.as_of, &p)?;
            out.report
                .notes
                .extend(out.warnings.iter().map(|w| format!("note: {w}")));
            Ok(out)
        };
        Ok((one(SubsView::Movements)?.report, one(SubsView::Cohort)?))
    };
    Ok(match run() {
        Ok((movements, cohort_out)) => {
            let chart = subs::cohort_chart(
                &cohort_out.cohort_rows,
                sp.period(),
                false,
                &names.data,
                &names.as_of,
            )?;
            let cohorts = cohort_out.report;
            vec![
                section("subscriptions", movements_title, Ok(movements), None),
                section(
                    "subscriptions_cohort",
                    cohort_title,
                    Ok(cohorts),
                    Some(chart),
                ),
            ]
        }
        Err(e) if crate::error::exit_code(&e) == crate::error::EXIT_BAD_INPUT => {
            vec![section(
                "subscriptions",
                movements_title,
                Err(crate::error::one_line(&e)),
                None,
            )]
        }
        Err(e) => return Err(e),
    })
}
