//! The command layer: one file per command. Each holds the command's flags → settings
//! resolution (`resolve`: every default and check of the command's options, once) and
//! its run (`run`: the output place and the chart path checked before any data is read,
//! the input loaded, the report computed, its chart drawn, its notes printed, the result
//! written). `lib::run` only dispatches here; the reports (`crate::reports`) never see the
//! command line.

pub mod churn;
pub mod cohort;
pub mod describe;
pub mod ltv;
pub mod man;
pub mod report;
pub mod segment;
pub mod sql;
pub mod subscriptions;
pub mod summary;
pub mod wallet;
pub mod whatif;

use std::path::Path;

use anyhow::Result;

use crate::cli::{ChartArgs, InputArgs, OutputArgs};
use crate::error;
use crate::load::{self, Dataset};
use crate::output::Destination;
use crate::progress::Progress;

/// What every command gets from `lib::run`.
pub struct Ctx<'a> {
    /// The command's name, for messages (`retention NAME: ...`).
    pub name: &'static str,
    pub progress: &'a Progress,
}

/// `-o`/`--format`: resolved, and a file's temporary sibling created, before any work.
pub(crate) fn destination(o: &OutputArgs) -> Result<Destination> {
    Destination::prepare(o.format, o.output.as_deref())
}

/// Load the input of a command and print its warnings (and, with --verbose, the mapping).
/// The category column is read only when a `--by`/`--group` names it.
pub(crate) fn load_input(
    name: &str,
    input: &InputArgs,
    extra_columns: Vec<String>,
) -> Result<Dataset> {
    Ok(load_input_as(name, input, extra_columns, false)?.0)
}

/// [`load_input`], and the reading options it resolved (to read the input again another
/// way, as `summary` does for invoice lines).
pub(crate) fn load_input_and_options(
    name: &str,
    input: &InputArgs,
    extra_columns: Vec<String>,
) -> Result<(Dataset, load::LoadOptions)> {
    load_input_as(name, input, extra_columns, false)
}

/// [`load_input`] with the category column (wallet, and report, which runs it).
pub(crate) fn load_input_with_category(
    name: &str,
    input: &InputArgs,
    extra_columns: Vec<String>,
) -> Result<Dataset> {
    Ok(load_input_as(name, input, extra_columns, true)?.0)
}

fn load_input_as(
    name: &str,
    input: &InputArgs,
    extra_columns: Vec<String>,
    category: bool,
) -> Result<(Dataset, load::LoadOptions)> {
    let mut opts = crate::config::load_options(input, extra_columns)?;
    // (a `--by category` group reads it as text; wallet and report read it by code)
    if !opts.extra_columns.iter().any(|c| c == "category") {
        if category {
            opts.code_category = true;
        } else {
            opts.skip.push(load::Role::Category);
        }
    }
    Ok((load_with(name, &opts)?, opts))
}

/// Load with resolved options: warnings (and, with --verbose, the mapping) on stderr, and
/// the same refusal for a file of returns only as every command's.
pub(crate) fn load_with(name: &str, opts: &load::LoadOptions) -> Result<Dataset> {
    let started = std::time::Instant::now();
    let ds = load::load(opts)?;
    crate::progress::step("computing");
    if opts.verbose {
        for i in &ds.info {
            crate::progress::eprintln(&format!("retention {name}: {i}"));
        }
        crate::progress::eprintln(&format!(
            "retention {name}: input loaded in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
    }
    for w in &ds.warnings {
        crate::progress::eprintln(&format!("retention {name}: warning: {w}"));
    }
    // Every report needs purchases; a file of returns only is refused the same way by all.
    if !crate::reports::any_purchase(&ds.tx)? {
        return Err(error::bad(
            "no customer made a purchase (every order is a return)",
        ));
    }
    Ok(ds)
}

/// A report's notes on stderr (the ones that are not footnotes of its table).
pub(crate) fn print_notes(name: &str, notes: &[String]) {
    for n in notes {
        eprintln!("retention {name}: note: {n}");
    }
}

/// `--chart FILE`: check the extension and the directory before any work.
pub(crate) fn chart_target(a: &ChartArgs) -> Result<Option<&Path>> {
    match &a.chart {
        Some(p) => {
            crate::charts::format_of(p)?;
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(error::bad(format!(
                    "--chart '{}': the directory '{}' does not exist",
                    p.display(),
                    dir.display()
                )));
            }
            Ok(Some(p.as_path()))
        }
        None => Ok(None),
    }
}

/// The data's name and the as-of date, for chart titles.
pub struct ChartNames {
    pub data: String,
    pub as_of: String,
}

impl ChartNames {
    pub fn of(input: &InputArgs, ds: &Dataset) -> ChartNames {
        ChartNames {
            data: crate::charts::data_name(&input.transactions),
            as_of: ds.as_of.to_string(),
        }
    }
}

/// Bytes on stdout (SQL, completions, the man page).
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
