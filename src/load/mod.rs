//! Loading: CSV/TSV/gzip/Parquet/stdin sources → polars frames with canonical columns.
//!
//! Every command reads its input through [`load`]. Transactions come out as
//! `customer_id` (a `UInt32` code into [`Dataset::ids`], see [`ids`]), `date` (Date),
//! `amount` (f64) and, when present, `order_id` (dropped when every order is one row, else
//! a `UInt32` code: order ids only group rows), `category` (str) plus any extra columns a
//! command asked for; customers as `customer_id` (the same codes), `signup_date` (Date),
//! `channel`, `acquisition_cost` (f64) when present, plus all their other columns (str).
//! Invoice lines (`LoadOptions::invoice`) keep their customer ids as text.
//!
//! The parts, one seam each: [`source`] (where rows come from: files, globs, directories,
//! stdin, gzip, encodings, workbooks, the CSV chunk reader), `roles` (which column plays
//! each role), `values` (dates, amounts and numbers parsed), `checks` (distinct orders,
//! duplicate rows), [`ids`] (the id dictionary), and one file per input kind:
//! `transactions`, `customers`, `wallet` and [`summary`] (`ltv --summary`). This file holds
//! the options, the loaded [`Dataset`] and [`load`].

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::dates::DateFormat;
use crate::error::bad;

pub mod amounts;
mod checks;
mod customers;
pub mod ids;
mod roles;
pub mod source;
pub mod summary;
mod transactions;
mod values;
mod wallet;

use customers::load_customers;
use roles::map_roles;
use source::Input;
use transactions::load_transactions;

pub(crate) use checks::all_distinct;
pub use roles::Role;
pub use source::{sniff_delimiter, Source};
pub(crate) use values::trim_field;
pub use values::{parse_amount, temporal_days};
pub use wallet::load_wallet;

/// Typed reading options, built by `config::load_options`.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The transactions' files (globs and directories expanded when read).
    pub transactions: Vec<Source>,
    /// The customers' files (none: no customers file).
    pub customers: Vec<Source>,
    /// Pad rows with fewer fields than the header and cut longer ones (one warning)
    /// instead of refusing them.
    pub flexible: bool,
    /// Decode text input from this encoding (None: UTF-8, checked; a UTF-16 byte-order
    /// mark is decoded either way).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The sheet of a workbook (None: the first).
    pub sheet: Option<String>,
    pub has_header: bool,
    pub delimiter: Option<u8>,
    pub date_format: Option<DateFormat>,
    pub decimal_comma: bool,
    pub columns: BTreeMap<Role, String>,
    pub as_of: Option<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub verbose: bool,
    /// Refuse rows that would be dropped (empty ids, dates, amounts) and duplicates.
    pub strict: bool,
    /// Drop exact duplicate transaction rows.
    pub dedupe: bool,
    /// Transactions columns to keep besides the roles (e.g. a `--group` column).
    pub extra_columns: Vec<String>,
    /// Roles the command does not use (the category, and for MRR the order id, plan and
    /// subscription id): not read, so less to parse, check and hold. They are read after
    /// all when rows might be exact duplicates without them.
    pub skip: Vec<Role>,
    /// Hold the category as codes (column [`CATEGORY_CODES`], names in
    /// `Dataset::categories`) instead of text: for `wallet` and `report`, which read it
    /// by code (4 bytes a row instead of 16).
    pub code_category: bool,
    /// Read the transactions as invoice lines (`retention subscriptions`).
    pub invoice: Option<InvoiceOptions>,
    /// What `period_end` means in invoice lines, from the config file (`[input]
    /// period_end`); None: not configured.
    pub period_end: Option<PeriodEnd>,
}

impl LoadOptions {
    /// The same input read as invoice lines (`subscriptions`, and `summary` and `report`
    /// on invoice lines): no category, and the service period read with `period_end`
    /// meaning what the flag (if given), else the config file, says (default: exclusive).
    /// Why the transactions cannot be read a second time as invoice lines (`summary` and
    /// `report` on invoice lines), if they cannot: standard input is read once.
    pub fn not_rereadable(&self) -> Option<String> {
        self.transactions.contains(&Source::Stdin).then(|| {
            "standard input cannot be read a second time as invoice lines: give the file \
             with -t FILE, or run `retention subscriptions`"
                .to_string()
        })
    }

    pub fn as_invoices(&self, flag: Option<PeriodEnd>) -> LoadOptions {
        let end = flag.or(self.period_end).unwrap_or(PeriodEnd::Exclusive);
        // MRR needs customer, date, amount and the service period; the plan or another
        // column only as a `--by` group (an extra column).
        let mut skip = vec![Role::Category, Role::Order];
        if self.extra_columns.is_empty() {
            skip.extend([Role::Plan, Role::Subscription]);
        }
        LoadOptions {
            skip,
            invoice: Some(InvoiceOptions {
                end_inclusive: end == PeriodEnd::Inclusive,
            }),
            ..self.clone()
        }
    }
}

/// What the `period_end` of an invoice line means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodEnd {
    /// The first day no longer served (Stripe's `period_end`).
    Exclusive,
    /// The last day served.
    Inclusive,
}

/// How to read invoice lines: the transactions' columns plus an optional service period
/// (`period_start`, `period_end`), `plan` and `subscription_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvoiceOptions {
    /// The period end is the last day served (else the first day no longer served, as
    /// Stripe writes it).
    pub end_inclusive: bool,
}

/// The loaded input of a command.
#[derive(Debug)]
pub struct Dataset {
    pub tx: DataFrame,
    pub customers: Option<DataFrame>,
    pub as_of: NaiveDate,
    /// Warnings for stderr (always shown).
    pub warnings: Vec<String>,
    /// Reading decisions for stderr (shown with --verbose).
    pub info: Vec<String>,
    /// What reading the transactions counted (`retention describe`).
    pub stats: LoadStats,
    /// The customer ids: `customer_id` in `tx` and `customers` is a `UInt32` code into
    /// these names, sorted (code order is id order). Reports read ids through
    /// `reports::CodedTx::of`.
    pub ids: ids::IdNames,
    /// The category names, sorted, when the category is held as codes
    /// ([`LoadOptions::code_category`]): column [`CATEGORY_CODES`] of `tx` is a `UInt32`
    /// code into them (null: no category). Otherwise a category read is the text column
    /// `category`.
    pub categories: Option<ids::IdNames>,
}

/// The transactions' column of category codes (see `Dataset::categories`).
pub const CATEGORY_CODES: &str = "__category";

/// Counts and decisions of reading the transactions, as typed values (the same numbers
/// as the warnings and --verbose lines).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadStats {
    /// Data rows read, before any was dropped.
    pub rows_read: usize,
    /// Rows dropped for an empty customer id, date or amount.
    pub dropped_empty: usize,
    /// Rows outside --from/--to.
    pub outside_window: usize,
    /// Rows after as-of.
    pub after_as_of: usize,
    /// Exact duplicate rows (kept, or dropped with --dedupe).
    pub duplicate_rows: usize,
    /// The date format used (as --verbose words it).
    pub date_format: String,
    /// The transactions have a service-period column (by its usual names, or mapped):
    /// they are invoice lines, and `report` adds the subscription sections.
    pub service_period: bool,
    /// (canonical name, source column) per mapped role, in role order.
    pub mapping: Vec<(String, String)>,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn names_of(lf: &mut LazyFrame, label: &str) -> Result<Vec<String>> {
    let schema = lf.collect_schema().map_err(|e| {
        bad(format!(
            "cannot read {label}: {}",
            first_line(&e.to_string())
        ))
    })?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

fn collect(lf: LazyFrame, label: &str) -> Result<DataFrame> {
    lf.collect().map_err(|e| {
        bad(format!(
            "cannot read {label}: {}",
            first_line(&e.to_string())
        ))
    })
}

fn str_column(df: &DataFrame, name: &str) -> Result<Column> {
    Ok(df.column(name)?.cast(&DataType::String)?)
}

type Mapped = (Input, Vec<LazyFrame>, Vec<String>, BTreeMap<Role, String>);

/// Open the files of one input, scan them, and resolve their column roles.
fn open_mapped(
    srcs: &[Source],
    what: &str,
    roles: &[Role],
    required: &[Role],
    opts: &LoadOptions,
    warnings: &mut Vec<String>,
) -> Result<Mapped> {
    let input = source::open_input(srcs, what, opts)?;
    let (lfs, names) = source::scan_input(&input, opts, warnings)?;
    let customers_file = what == "customers";
    let map = input.checked(map_roles(
        &input.label,
        &names,
        roles,
        required,
        &opts.columns,
        customers_file,
    ))?;
    Ok((input, lfs, names, map))
}

/// Give the memory freed inside the allocator's heaps back to the operating system.
/// Reading in chunks frees each chunk's text between blocks that stay (the ids), and
/// glibc keeps such holes mapped; `malloc_trim` releases their pages. Elsewhere, nothing.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the
    // system; it is thread-safe and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One heap for every thread (glibc's `M_ARENA_MAX` = 1), set before any thread starts.
/// By default glibc gives threads heaps of their own, and the columns freed in one stay
/// mapped beside the ones another keeps. On the 1M bench set (release builds with and
/// without this, interleaved runs): peak memory of `cohort` 233–234 → 209–212 MiB (0.92
/// and 1.10 s against 1.16 and 1.19 s), `segment` 250–254 → 245–246 MiB (the same time),
/// `report` 733–790 → 724–755 MiB (3.97–4.89 s against 3.62–4.62 s: one heap shared by
/// the sections running side by side may cost it a little). Elsewhere, nothing.
pub fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called at start-up, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Load the transactions (required) and the customers file (when given).
pub fn load(opts: &LoadOptions) -> Result<Dataset> {
    let tx_src = &opts.transactions;
    if tx_src.is_empty() {
        return Err(bad(
            "no transactions given: use -t/--transactions FILE (or - for stdin)",
        ));
    }
    if opts.customers.contains(&Source::Stdin) && tx_src.contains(&Source::Stdin) {
        return Err(bad(
            "only one of --transactions and --customers can be - (stdin)",
        ));
    }
    let mut ds = Dataset {
        tx: DataFrame::empty(),
        customers: None,
        as_of: NaiveDate::MIN,
        warnings: Vec::new(),
        info: Vec::new(),
        stats: LoadStats::default(),
        ids: ids::IdNames::default(),
        categories: None,
    };
    let mut coder = load_transactions(tx_src, opts, &mut ds)?;
    if !opts.customers.is_empty() {
        load_customers(&opts.customers, opts, &mut ds, &mut coder)?;
    }
    // The ids of the rows kept, numbered in id order.
    let mut used = vec![false; coder.code_bound()];
    ids::mark_used(ds.tx.column("customer_id")?, &mut used)?;
    if let Some(c) = &ds.customers {
        ids::mark_used(c.column("customer_id")?, &mut used)?;
    }
    let (names, rank) = coder.finish(&used);
    ids::recode_in(&mut ds.tx, "customer_id", &rank)?;
    if let Some(c) = ds.customers.as_mut() {
        ids::recode_in(c, "customer_id", &rank)?;
    }
    if opts.invoice.is_some() {
        // Invoice lines (subscriptions) keep their ids as text: their reports code them.
        ds.tx
            .with_column(ids::decode(ds.tx.column("customer_id")?, &names)?)?;
        if let Some(c) = ds.customers.as_mut() {
            c.with_column(ids::decode(c.column("customer_id")?, &names)?)?;
        }
    } else {
        ds.ids = names;
    }
    trim();
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n"), b'|');
        assert_eq!(sniff_delimiter(b"\"x,y\";b\n1;2\n"), b';');
        assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
    }
}
