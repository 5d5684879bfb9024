//! Loading: CSV/TSV/gzip/Parquet/stdin sources → polars frames with canonical columns.
//!
//! Every command reads its input through [`load`]. Transactions come out as
//! `customer_id` (a `UInt32` code into [`Dataset::ids`], see [`ids`]), `date` (Date),
//! `amount` (f64) and, when present, `order_id` (dropped when every order is one row, else
//! a `UInt32` code: order ids only group rows), `category` (str) plus any extra columns a
//! command asked for; customers as `customer_id` (the same codes), `signup_date` (Date),
//! `channel`, `acquisition_cost` (f64) when present, plus all their other columns (str).
//! Invoice lines (`LoadOptions::invoice`) keep their customer ids as text.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::dates::{self, DateFormat, DetectError};
use crate::error::bad;
use crate::period::{date_from_days, days_since_epoch};

pub mod ids;
pub mod source;
pub mod summary;

use source::Input;
pub use source::{sniff_delimiter, Source};

/// A column's meaning. Each maps to a canonical output name, a flag and the header
/// spellings recognised automatically (compared lower-case with non-alphanumerics removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Customer,
    Date,
    Amount,
    Order,
    Category,
    Quantity,
    Price,
    Signup,
    Channel,
    Cost,
    // invoice lines (`retention subscriptions`)
    PeriodStart,
    PeriodEnd,
    Plan,
    Subscription,
}

impl Role {
    pub fn canonical(self) -> &'static str {
        match self {
            Role::Customer => "customer_id",
            Role::Date => "date",
            Role::Amount => "amount",
            Role::Order => "order_id",
            Role::Category => "category",
            Role::Quantity => "quantity",
            Role::Price => "price",
            Role::Signup => "signup_date",
            Role::Channel => "channel",
            Role::Cost => "acquisition_cost",
            Role::PeriodStart => "period_start",
            Role::PeriodEnd => "period_end",
            Role::Plan => "plan",
            Role::Subscription => "subscription_id",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Role::Customer => "--customer-col",
            Role::Date => "--date-col",
            Role::Amount => "--amount-col",
            Role::Order => "--order-col",
            Role::Category => "--category-col",
            Role::Quantity => "--quantity-col",
            Role::Price => "--price-col",
            Role::Signup => "--signup-col",
            Role::Channel => "--channel-col",
            Role::Cost => "--cost-col",
            Role::PeriodStart => "--period-start-col",
            Role::PeriodEnd => "--period-end-col",
            Role::Plan => "--plan-col",
            Role::Subscription => "--subscription-col",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Customer => &[
                "customerid",
                "customer",
                "clientid",
                "client",
                "userid",
                "custid",
                "customerno",
                "customernumber",
                "buyerid",
                "memberid",
                "accountid",
            ],
            Role::Date => &[
                "date",
                "orderdate",
                "invoicedate",
                "createdat",
                "transactiondate",
                "purchasedate",
                "saledate",
                "orderdatetime",
                "timestamp",
                "datetime",
            ],
            Role::Amount => &[
                "amount",
                "revenue",
                "total",
                "sales",
                "netamount",
                "totalamount",
                "ordertotal",
                "grandtotal",
                "saleamount",
                "netrevenue",
                "linetotal",
                "value",
            ],
            Role::Order => &[
                "orderid",
                "invoiceno",
                "invoice",
                "invoiceid",
                "ordernumber",
                "orderno",
                "transactionid",
                "receiptid",
            ],
            Role::Category => &["category", "productcategory", "categoryname", "department"],
            Role::Quantity => &["quantity", "qty", "units"],
            Role::Price => &["price", "unitprice"],
            Role::Signup => &[
                "signupdate",
                "signup",
                "signedup",
                "signupat",
                "registrationdate",
                "registeredat",
                "joindate",
                "createdat",
            ],
            Role::Channel => &["channel", "acquisitionchannel", "source", "utmsource"],
            Role::Cost => &["acquisitioncost", "cac", "cost"],
            Role::PeriodStart => &[
                "periodstart",
                "servicestart",
                "currentperiodstart",
                "startdate",
                "servicestartdate",
                "periodstartdate",
                "serviceperiodstart",
                "billingperiodstart",
                "periodstartutc",
                "lineitemperiodstart",
                "periodfrom",
                "servicefrom",
            ],
            Role::PeriodEnd => &[
                "periodend",
                "serviceend",
                "currentperiodend",
                "enddate",
                "serviceenddate",
                "periodenddate",
                "serviceperiodend",
                "billingperiodend",
                "periodendutc",
                "lineitemperiodend",
                "periodto",
                "serviceto",
                "serviceuntil",
            ],
            Role::Plan => &[
                "plan",
                "planid",
                "planname",
                "plannickname",
                "priceplan",
                "pricingplan",
                "tier",
            ],
            Role::Subscription => &["subscriptionid", "subscription", "subid", "contractid"],
        }
    }
}

const TX_ROLES: [Role; 7] = [
    Role::Customer,
    Role::Date,
    Role::Amount,
    Role::Order,
    Role::Category,
    Role::Quantity,
    Role::Price,
];
/// The transactions' roles plus those of invoice lines.
const INVOICE_ROLES: [Role; 11] = [
    Role::Customer,
    Role::Date,
    Role::Amount,
    Role::Order,
    Role::Category,
    Role::Quantity,
    Role::Price,
    Role::PeriodStart,
    Role::PeriodEnd,
    Role::Plan,
    Role::Subscription,
];
const CUSTOMER_ROLES: [Role; 4] = [Role::Customer, Role::Signup, Role::Channel, Role::Cost];

/// Column names quoted and joined for messages: `'a', 'b'`.
fn quoted<S: AsRef<str>>(names: &[S], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("'{}'", n.as_ref()))
        .collect::<Vec<_>>()
        .join(sep)
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

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

/// Resolve which source column plays each role.
fn map_roles(
    label: &str,
    names: &[String],
    roles: &[Role],
    required: &[Role],
    overrides: &BTreeMap<Role, String>,
    customers_file: bool,
) -> Result<BTreeMap<Role, String>> {
    let listing = || quoted(names, ", ");
    let mut out = BTreeMap::new();
    let mut taken: HashSet<&str> = HashSet::new();
    for &role in roles {
        if let Some(want) = overrides.get(&role) {
            let found = names
                .iter()
                .find(|n| *n == want)
                .or_else(|| names.iter().find(|n| normalise(n) == normalise(want)));
            match found {
                Some(n) => {
                    taken.insert(n);
                    out.insert(role, n.clone());
                }
                // One --customer-col serves both files; the customers file may spell it
                // differently and falls back to detection.
                None if customers_file && role == Role::Customer => {}
                None => {
                    return Err(bad(format!(
                        "{label}: column '{want}' (given for {}) not found; columns are {}",
                        role.canonical(),
                        listing()
                    )))
                }
            }
        }
    }
    for &role in roles {
        if out.contains_key(&role) {
            continue;
        }
        let hits: Vec<&String> = names
            .iter()
            .filter(|n| {
                !taken.contains(n.as_str()) && role.aliases().contains(&normalise(n).as_str())
            })
            .collect();
        match hits.as_slice() {
            [] => {}
            [one] => {
                taken.insert(one);
                out.insert(role, (*one).clone());
            }
            many => {
                return Err(bad(format!(
                    "{label}: ambiguous {} column: {} match; choose one with {} NAME",
                    role.canonical(),
                    quoted(many, " and "),
                    role.flag()
                )));
            }
        }
    }
    for &role in required {
        if !out.contains_key(&role) {
            return Err(bad(format!(
                "{label}: no {} column found (columns are {}); map one with {} NAME",
                role.canonical(),
                listing(),
                role.flag()
            )));
        }
    }
    Ok(out)
}

/// Map every value of a text column in parallel (a few contiguous parts, one per
/// thread), in row order; the first error (lowest row) wins, with its row.
fn par_map<T: Send, E: Send>(
    ca: &StringChunked,
    f: impl Fn(Option<&str>) -> Result<T, E> + Sync,
) -> Result<Vec<T>, (usize, E)> {
    use rayon::prelude::*;
    let n = ca.len();
    let parts = rayon::current_num_threads().max(1) * 4;
    let size = n.div_ceil(parts).max(1 << 16);
    let chunks: Vec<Result<Vec<T>, (usize, E)>> = (0..n.div_ceil(size))
        .into_par_iter()
        .map(|p| {
            let start = p * size;
            let part = ca.slice(start as i64, size.min(n - start));
            part.iter()
                .enumerate()
                .map(|(i, v)| f(v).map_err(|e| (start + i, e)))
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// A `Date` or (time-zone-less) `Datetime` column as days since epoch, read straight from
/// its arrays in parallel (None: another type, or a time zone: then polars casts it).
pub fn temporal_days(c: &Column) -> Result<Option<Vec<Option<i32>>>> {
    use rayon::prelude::*;
    // The arrays of `$ca`, each into its stretch of the output, in pieces of 64Ki rows.
    macro_rules! days {
        ($ca:expr, $day:expr) => {{
            let ca = $ca;
            let day = $day;
            let mut out: Vec<Option<i32>> = vec![None; ca.len()];
            let mut rest = out.as_mut_slice();
            let mut parts = Vec::new();
            for arr in ca.downcast_iter() {
                let (head, tail) = rest.split_at_mut(arr.len());
                parts.push((arr, head));
                rest = tail;
            }
            parts.into_par_iter().for_each(|(arr, out)| {
                let vals = arr.values().as_slice();
                let valid = arr.validity();
                out.par_chunks_mut(1 << 16).enumerate().for_each(|(k, o)| {
                    let base = k << 16;
                    for (j, slot) in o.iter_mut().enumerate() {
                        let i = base + j;
                        if valid.is_none_or(|b| b.get_bit(i)) {
                            *slot = day(vals[i]);
                        }
                    }
                });
            });
            out
        }};
    }
    Ok(match c.dtype() {
        DataType::Date => Some(days!(c.date()?.physical(), |v: i32| Some(v))),
        DataType::Datetime(unit, None) => {
            let per_day: i64 = match unit {
                TimeUnit::Nanoseconds => 86_400_000_000_000,
                TimeUnit::Microseconds => 86_400_000_000,
                TimeUnit::Milliseconds => 86_400_000,
            };
            Some(days!(c.datetime()?.physical(), |v: i64| {
                i32::try_from(v.div_euclid(per_day)).ok()
            }))
        }
        _ => None,
    })
}

/// [`parse_dates`] as a Date column, and its format. A Date column (as Parquet has) is
/// the column itself: its days are its values, with no vector of them and no copy.
fn date_column(c: &Column, op: &Input, opts: &LoadOptions, src: &str) -> Result<(Column, String)> {
    if c.dtype() == &DataType::Date {
        return Ok((c.clone(), "Date".into()));
    }
    let (days, fmt) = parse_dates(c, op, opts, src)?;
    Ok((
        Column::new(c.name().clone(), days).cast(&DataType::Date)?,
        fmt,
    ))
}

/// Parse a date column into days since epoch (null where the source is null).
fn parse_dates(
    c: &Column,
    op: &Input,
    opts: &LoadOptions,
    src: &str,
) -> Result<(Vec<Option<i32>>, String)> {
    if let Some(days) = temporal_days(c)? {
        let name = if c.dtype() == &DataType::Date {
            "Date"
        } else {
            "Datetime"
        };
        return Ok((days, name.into()));
    }
    if let DataType::Datetime(..) = c.dtype() {
        // With a time zone: polars' cast.
        let d = c.cast(&DataType::Date)?;
        return Ok((d.date()?.physical().iter().collect(), "Datetime".into()));
    }
    let s = c.cast(&DataType::String)?;
    let ca = s.str()?;
    if let Some(done) = parse_dates_fast(ca, opts) {
        return Ok(done);
    }
    let fmt = match &opts.date_format {
        Some(f) => f.clone(),
        None => dates::detect(
            ca.iter()
                .enumerate()
                .filter_map(|(i, v)| v.filter(|v| !v.trim().is_empty()).map(|v| (i, v))),
        )
        .map_err(|e| match e {
            DetectError::Unparseable(i, v) => bad(format!(
                "{}, column '{src}': cannot parse '{v}' as a date (formats tried: {}; \
                 or give --date-format)",
                op.at(i),
                dates::TRIED
            )),
            DetectError::Mixed(i, v, f, j, w, g) => bad(format!(
                "{}: column '{src}' mixes date formats: {} has '{v}' ({f}) but {} has '{w}' ({g})",
                op.label,
                op.at(i),
                op.at(j)
            )),
            DetectError::Ambiguous(v) => bad(format!(
                "{}: column '{src}': dates like '{v}' could be day/month or month/day; \
                 pass --date-format %d/%m/%Y or --date-format %m/%d/%Y",
                op.label
            )),
        })?,
    };
    let mut out = Vec::with_capacity(ca.len());
    for (i, v) in ca.iter().enumerate() {
        let Some(v) = v.filter(|v| !v.trim().is_empty()) else {
            out.push(None);
            continue;
        };
        let Some(d) = dates::parse(&fmt, v) else {
            return Err(bad(format!(
                "{}, column '{src}': cannot parse '{v}' as a date with format {}",
                op.at(i),
                fmt.describe()
            )));
        };
        if !dates::in_range(d) {
            return Err(bad(format!(
                "{}, column '{src}': date '{v}' is outside the years 1900–2200",
                op.at(i)
            )));
        }
        out.push(Some(days_since_epoch(d)));
    }
    Ok((out, fmt.describe()))
}

/// The common case in parallel: the format detected from the first values (or given)
/// parses every value to an in-range date. None sends the column to the full, sequential
/// detection and parse, which finds and words any error.
fn parse_dates_fast(ca: &StringChunked, opts: &LoadOptions) -> Option<(Vec<Option<i32>>, String)> {
    let fmt = match &opts.date_format {
        Some(f) => f.clone(),
        None => dates::detect(detect_sample(ca).into_iter().enumerate()).ok()?,
    };
    Some((parse_days(ca, &fmt)?, fmt.describe()))
}

/// How many values the date format is detected from.
const DETECT_VALUES: usize = 10_000;

/// The first [`DETECT_VALUES`] values of a text column that are not empty.
fn detect_sample(ca: &StringChunked) -> Vec<&str> {
    ca.iter()
        .flatten()
        .filter(|v| !v.trim().is_empty())
        .take(DETECT_VALUES)
        .collect()
}

/// Every value as days since epoch with format `fmt`, in parallel (empty: null); None
/// when one does not parse to a date in range.
fn parse_days(ca: &StringChunked, fmt: &DateFormat) -> Option<Vec<Option<i32>>> {
    par_map(ca, |v| day_of(v, fmt)).ok()
}

/// One value of [`parse_days`]: days since epoch (empty or blank: None); Err when it does
/// not parse to a date in range.
fn day_of(v: Option<&str>, fmt: &DateFormat) -> Result<Option<i32>, ()> {
    match v.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => match dates::parse(fmt, v) {
            Some(d) if dates::in_range(d) => Ok(Some(days_since_epoch(d))),
            _ => Err(()),
        },
    }
}

/// Every value as an amount ([`parse_amount`]), in parallel (empty: null); the first
/// error with its row.
fn parse_amounts(
    ca: &StringChunked,
    decimal_comma: bool,
) -> Result<Vec<Option<f64>>, (usize, String)> {
    par_map(ca, |v| amount_of(v, decimal_comma))
}

/// One value of [`parse_amounts`] (empty or blank: None).
fn amount_of(v: Option<&str>, decimal_comma: bool) -> Result<Option<f64>, String> {
    match v.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => parse_amount(v, decimal_comma).map(Some),
    }
}

/// `s.trim()` (Unicode white space at both ends), without decoding characters when both
/// ends are ASCII and not white space: the usual field, whose trim is then a no-op. (A
/// non-ASCII white space character begins and ends with bytes of 0x80 and above.)
#[inline]
pub(crate) fn trim_field(s: &str) -> &str {
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C);
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if a < 0x80 && z < 0x80 && !ws(a) && !ws(z) => s,
        _ => s.trim(),
    }
}

/// Parse an amount: `1234.5`, `-3`, `$1,234.50`, `(12.00)`; with `decimal_comma`,
/// `1.234,50 €`. Thousands separators are accepted only where unambiguous.
pub fn parse_amount(raw: &str, decimal_comma: bool) -> Result<f64, String> {
    // Fast path: a plain number (digits, sign, point), the common case in exports.
    let t = trim_field(raw);
    if let Some(v) = plain_decimal(t.as_bytes(), decimal_comma) {
        return Ok(v);
    }
    if !t.is_empty()
        && t.len() < 24
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || (b == b'.' && !decimal_comma))
    {
        if let Ok(v) = t.parse::<f64>() {
            if v.abs() <= 1e15 {
                return Ok(v);
            }
        }
    }
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | '¥' | '₹' | '฿' | ' ' | '\u{a0}' | '\''))
        .collect();
    let mut neg = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        neg = true;
        s = s[1..s.len() - 1].to_string();
    }
    if decimal_comma {
        s = s.replace('.', "").replace(',', ".");
    } else if s.contains(',') {
        match (s.rfind(','), s.rfind('.')) {
            (Some(c), Some(d)) if d > c => s = s.replace(',', ""),
            _ => {
                return Err(format!(
                    "'{raw}' is ambiguous (is ',' a thousands or a decimal separator? \
                     use --decimal-comma if it is decimal)"
                ))
            }
        }
    }
    let v: f64 = s.parse().map_err(|_| format!("'{raw}' is not a number"))?;
    if !v.is_finite() {
        return Err(format!("'{raw}' is not a finite number"));
    }
    if v.abs() > 1e15 {
        return Err(format!("'{raw}' is implausibly large"));
    }
    Ok(if neg { -v } else { v })
}

/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `[-]digits[.digits]` with at most 15 significant digits and 22 decimals, as
/// `str::parse::<f64>` gives it (bit for bit: the digits and the power of ten are exact in
/// f64 and one division rounds correctly), in one pass; None for anything else (the
/// caller parses it the general way). With `decimal_comma`, integers only.
fn plain_decimal(b: &[u8], decimal_comma: bool) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut mant, mut significant, mut decimals) = (0u64, 0u32, 0u32);
    let (mut point, mut any) = (false, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                any = true;
                if mant > 0 || c != b'0' {
                    significant += 1;
                    if significant > 15 {
                        return None;
                    }
                }
                mant = mant * 10 + u64::from(c - b'0');
                if point {
                    decimals += 1;
                }
            }
            b'.' if !point && !decimal_comma => point = true,
            _ => return None,
        }
    }
    if !any || decimals as usize >= POW10.len() {
        return None;
    }
    let v = mant as f64 / POW10[decimals as usize];
    Some(if neg { -v } else { v })
}

/// A numeric column (as Parquet has) as Float64, checked finite, without a vector of
/// parsed values: a Float64 column is the column itself, another numeric type one cast;
/// straight from the arrays (the chunked iterator costs a call per value). (Parsed into a vector and copied into a new column, the amounts of the 1M
/// benchmark's Parquet held three copies at once: 264 of the load's 345 MB heap peak.)
/// None when the column is not numeric.
fn numeric_column(c: &Column, op: &Input, src: &str) -> Result<Option<Column>> {
    if !c.dtype().is_primitive_numeric() {
        return Ok(None);
    }
    let f = c.cast(&DataType::Float64)?;
    let mut at = 0;
    for arr in f.f64()?.downcast_iter() {
        let valid = arr.validity();
        for (j, &v) in arr.values().as_slice().iter().enumerate() {
            if !v.is_finite() && valid.is_none_or(|b| b.get_bit(j)) {
                return Err(bad(format!(
                    "{}, column '{src}': {v} is not a finite number",
                    op.at(at + j)
                )));
            }
        }
        at += arr.len();
    }
    Ok(Some(f))
}

fn parse_numbers(
    c: &Column,
    op: &Input,
    opts: &LoadOptions,
    src: &str,
) -> Result<Vec<Option<f64>>> {
    if let Some(f) = numeric_column(c, op, src)? {
        let ca = f.f64()?;
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            out.extend(arr.iter().map(|v| v.copied()));
        }
        return Ok(out);
    }
    let s = c.cast(&DataType::String)?;
    parse_amounts(s.str()?, opts.decimal_comma)
        .map_err(|(i, e)| bad(format!("{}, column '{src}': {e}", op.at(i))))
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

fn describe_mapping(label: &str, map: &BTreeMap<Role, String>, extra: &str) -> String {
    let mut s = format!("{label}:");
    for (role, src) in map {
        let _ = write!(s, " {} <- '{src}',", role.canonical());
    }
    s.pop();
    s + extra
}

/// Whether a column's values are all distinct and non-null: 64-bit hashes computed in
/// parallel and sorted; only equal hashes need polars' exact (and slower) count.
pub(crate) fn all_distinct(c: &Column) -> bool {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    if c.null_count() > 0 {
        return false;
    }
    if let Ok(codes) = c.u32() {
        // Codes (order ids coded at load): distinct when none repeats.
        let mut seen = vec![false; codes.max().map_or(0, |m| m as usize + 1)];
        return codes
            .iter()
            .flatten()
            .all(|v| !std::mem::replace(&mut seen[v as usize], true));
    }
    let Ok(s) = c.cast(&DataType::String) else {
        return false;
    };
    let Ok(ca) = s.str() else { return false };
    // Exports usually number their orders in sequence, maybe in a few interleaved series
    // (orders and returns): dealt into at most four increasing lanes, the values are
    // distinct when no two lanes share one (a merge), without hashing.
    // Ids increasing within each prefix (`O00000001`, … and `R00000001`, …: orders and
    // returns numbered in two series) are distinct, keeping one value per prefix.
    if source::PrefixRuns::default().feed_column(ca) {
        return true;
    }
    // Else each lane's first and last value: lanes whose ranges do not overlap are
    // distinct without keeping them.
    if let Some(ranges) = lane_ranges(ca.iter().flatten(), 4) {
        let apart = ranges
            .iter()
            .enumerate()
            .all(|(i, a)| ranges[i + 1..].iter().all(|b| a.1 < b.0 || b.1 < a.0));
        if apart {
            return true;
        }
        if let Some(lanes) = increasing_lanes(ca.iter().flatten(), 4) {
            return lanes
                .iter()
                .enumerate()
                .all(|(i, a)| lanes[i + 1..].iter().all(|b| disjoint(a, b)));
        }
    }
    let state = foldhash::fast::FixedState::with_seed(0x5eed);
    let Ok(mut h) = par_map(ca, |v| Ok::<u64, ()>(state.hash_one(v))) else {
        return false;
    };
    h.par_sort_unstable();
    if h.windows(2).all(|w| w[0] != w[1]) {
        return true;
    }
    c.n_unique().is_ok_and(|u| u == c.len())
}

/// The values dealt in order into strictly increasing lanes (each to the first lane it
/// extends), or None when that takes more than `max` lanes.
fn increasing_lanes<'a>(
    values: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<Vec<Vec<&'a str>>> {
    let mut lanes: Vec<Vec<&str>> = Vec::new();
    for v in values {
        match lanes
            .iter()
            .position(|l| l.last().is_some_and(|last| *last < v))
        {
            Some(i) => lanes[i].push(v),
            None if lanes.len() < max => lanes.push(vec![v]),
            None => return None,
        }
    }
    Some(lanes)
}

/// [`increasing_lanes`] keeping only each lane's first and last value.
fn lane_ranges<'a>(
    values: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<Vec<(&'a str, &'a str)>> {
    let mut lanes: Vec<(&str, &str)> = Vec::new();
    for v in values {
        match lanes.iter().position(|l| l.1 < v) {
            Some(i) => lanes[i].1 = v,
            None if lanes.len() < max => lanes.push((v, v)),
            None => return None,
        }
    }
    Some(lanes)
}

/// Whether two increasing sequences have no value in common.
fn disjoint(a: &[&str], b: &[&str]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return false,
        }
    }
    true
}

/// Whether two rows could be equal: a 64-bit hash of every row, sorted; distinct hashes
/// prove there are no duplicates (the common case) without polars' row-wise `unique`.
fn may_have_duplicates(tx: &DataFrame) -> Result<bool> {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    let state = foldhash::fast::FixedState::with_seed(0x5eed);
    let mix = |acc: &mut u64, v: u64| *acc = state.hash_one((*acc, v));
    // Columns other than dates, numbers and text are compared by their text.
    let cols: Vec<Column> = tx
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::Date | DataType::Float64 | DataType::String | DataType::UInt32 => {
                Ok(c.clone())
            }
            _ => c.cast(&DataType::String),
        })
        .collect::<PolarsResult<_>>()?;
    let mut h = vec![0u64; tx.height()];
    // Row ranges in parallel (each hashes its rows across every column).
    const ROWS: usize = 1 << 16;
    h.par_chunks_mut(ROWS)
        .enumerate()
        .try_for_each(|(k, part)| -> PolarsResult<()> {
            for c in &cols {
                let c = c.slice((k * ROWS) as i64, part.len());
                match c.dtype() {
                    DataType::Date => {
                        for (a, v) in part.iter_mut().zip(c.date()?.physical().iter()) {
                            mix(a, v.map_or(u64::MAX, |d| d as u32 as u64));
                        }
                    }
                    // (codes: the customer ids, the order ids)
                    DataType::UInt32 => {
                        for (a, v) in part.iter_mut().zip(c.u32()?.iter()) {
                            mix(a, v.map_or(u64::MAX, u64::from));
                        }
                    }
                    DataType::Float64 => {
                        for (a, v) in part.iter_mut().zip(c.f64()?.iter()) {
                            // 0.0 and -0.0 compare equal.
                            mix(
                                a,
                                v.map_or(u64::MAX, |x| if x == 0.0 { 0 } else { x.to_bits() }),
                            );
                        }
                    }
                    _ => {
                        for (a, v) in part.iter_mut().zip(c.str()?.iter()) {
                            mix(a, v.map_or(u64::MAX, |x| state.hash_one(x)));
                        }
                    }
                }
            }
            Ok(())
        })?;
    h.par_sort_unstable();
    Ok(h.windows(2).any(|w| w[0] == w[1]))
}

/// Count exact duplicate rows: kept with a warning, dropped with `--dedupe`, an error
/// under `--strict`.
fn dedupe(
    tx: DataFrame,
    label: &str,
    opts: &LoadOptions,
    warnings: &mut Vec<String>,
    count: &mut usize,
) -> Result<DataFrame> {
    if !may_have_duplicates(&tx)? {
        return Ok(tx);
    }
    let unique = tx
        .clone()
        .lazy()
        .unique_stable_generic(None, UniqueKeepStrategy::First)
        .collect()?;
    let dups = tx.height() - unique.height();
    *count = dups;
    if dups == 0 {
        return Ok(tx);
    }
    if opts.dedupe {
        warnings.push(format!(
            "{label}: {dups} exact duplicate rows were dropped (--dedupe)"
        ));
        return Ok(unique);
    }
    if opts.strict {
        return Err(bad(format!(
            "{label}: {dups} exact duplicate rows (--strict refuses them; --dedupe drops them)"
        )));
    }
    warnings.push(format!(
        "{label}: {dups} exact duplicate rows were kept (use --dedupe to drop them)"
    ));
    Ok(tx)
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

/// Load the transactions into `ds`; their `customer_id` comes back coded in order of
/// appearance by the returned coder ([`load`] renumbers the codes in id order).
fn load_transactions(src: &[Source], opts: &LoadOptions, ds: &mut Dataset) -> Result<ids::IdCoder> {
    // A skipped category is read after all when rows might be duplicates without it
    // (below); standard input cannot be read twice.
    if !opts.skip.is_empty() && src.contains(&Source::Stdin) {
        let all = LoadOptions {
            skip: Vec::new(),
            ..opts.clone()
        };
        return load_transactions(src, &all, ds);
    }
    let (messages, notes) = (ds.warnings.len(), ds.info.len());
    let roles: &[Role] = match opts.invoice {
        Some(_) => &INVOICE_ROLES,
        None => &TX_ROLES,
    };
    let (mut op, lfs, names, map) = open_mapped(
        src,
        "transactions",
        roles,
        &[Role::Customer, Role::Date],
        opts,
        &mut ds.warnings,
    )?;
    if !map.contains_key(&Role::Amount) && !map.contains_key(&Role::Price) {
        // (a file's ragged or undecodable line first, as for the other column errors)
        return op.checked(Err(bad(format!(
            "{}: no amount column found (columns are {}); map one with --amount-col NAME \
             (or --price-col and --quantity-col)",
            op.label,
            quoted(&names, ", ")
        ))));
    }
    let mut exprs: Vec<Expr> = map
        .iter()
        .filter(|(r, _)| !opts.skip.contains(r))
        .map(|(r, n)| col(n.as_str()).alias(r.canonical()))
        .collect();
    let taken: Vec<&String> = map.values().collect();
    let mut extras = Vec::new();
    for e in &opts.extra_columns {
        if names.contains(e) && !taken.contains(&e) && !extras.contains(e) {
            exprs.push(col(e.as_str()));
            extras.push(e.clone());
        }
    }
    let code_category = opts.code_category
        && map.contains_key(&Role::Category)
        && !opts.skip.contains(&Role::Category);
    let t0 = std::time::Instant::now();
    // Dates and amounts convert chunk by chunk as CSV text is read (the whole input never
    // exists as text columns); a value that does not convert comes back as text, and the
    // parse below finds and words it.
    let mut numbers: Vec<String> = Vec::new();
    for r in [Role::Amount, Role::Price, Role::Quantity] {
        if map.contains_key(&r) && !opts.skip.contains(&r) {
            numbers.push(r.canonical().to_string());
        }
    }
    let typed = source::Typed {
        date: Some(("date".to_string(), opts.date_format.clone())),
        numbers,
        decimal_comma: opts.decimal_comma,
        // (customer ids: blank is empty; order ids: blank is an id)
        // (the category as a third, when held as codes: a blank category is a category)
        ids: [("customer_id", true), ("order_id", false)]
            .into_iter()
            .chain(code_category.then_some(("category", false)))
            .map(|(n, b)| (n.to_string(), b))
            .collect(),
        distinct: Some("order_id".to_string()),
    };
    let (mut df, typed_format, coders) = source::collect_input(&mut op, lfs, &exprs, Some(&typed))?;
    crate::progress::step("parsing the columns");
    if df.height() == 0 {
        return Err(bad(format!("{} has no data rows", op.label)));
    }
    let n = df.height();
    let t_read = t0.elapsed().as_secs_f64();

    let (date_col, fmt) = match &typed_format {
        Some(f) => (df.column("date")?.clone(), f.describe()),
        None => date_column(df.column("date")?, &op, opts, &map[&Role::Date])?,
    };
    let _ = df.drop_in_place("date");
    let amount_col = match map.get(&Role::Amount) {
        Some(_) if typed_format.is_some() => df.column("amount")?.clone(),
        Some(src) => match numeric_column(df.column("amount")?, &op, src)? {
            Some(c) => c,
            None => Column::new(
                "amount".into(),
                parse_numbers(df.column("amount")?, &op, opts, src)?,
            ),
        },
        None => {
            let price = parse_numbers(df.column("price")?, &op, opts, &map[&Role::Price])?;
            let amounts: Vec<Option<f64>> = match map.get(&Role::Quantity) {
                Some(q) => {
                    let qty = parse_numbers(df.column("quantity")?, &op, opts, q)?;
                    price
                        .iter()
                        .zip(&qty)
                        .map(|(p, q)| Some((*p)? * (*q)?))
                        .collect()
                }
                None => price,
            };
            Column::new("amount".into(), amounts)
        }
    };
    let _ = df.drop_in_place("amount");
    let days_ca = date_col.date()?.physical().clone();
    let amounts_ca = amount_col.f64()?.clone();
    let service = match opts.invoice {
        Some(inv) => {
            let days: Vec<Option<i32>> = days_ca.iter().collect();
            Some(service_periods(&df, &op, opts, &map, &days, inv)?)
        }
        None => None,
    };
    // The customer and order ids as codes: coded as the text was read, or here.
    let coded_as_read = coders.is_some();
    // Order ids shown distinct as they were read were dropped (every row is an order).
    let mut orders_dropped = coders.as_ref().is_some_and(|c| c.distinct_dropped);
    let mut coders = coders.map(|c| c.coders).unwrap_or_default().into_iter();
    let mut coder = coders.next().unwrap_or_default();
    // (the order ids' coder: only its codes, already in the column, are needed)
    let _orders = coders.next();
    let mut category_coder = coders.next().unwrap_or_default();
    let customer = if coded_as_read {
        df.column("customer_id")?.clone()
    } else {
        coder.code_column(df.column("customer_id")?)?
    };
    let _ = df.drop_in_place("customer_id");
    if !coded_as_read {
        if let Ok(c) = df.column("order_id") {
            if all_distinct(c) {
                // (distinct ids: every row is an order)
                let _ = df.drop_in_place("order_id");
                orders_dropped = true;
            } else {
                // (the order ids' text is not kept: they only group rows into orders)
                let codes = ids::IdCoder::new().code_values(c, false)?;
                df.with_column(codes)?;
            }
        }
    }
    drop(coders);
    let t_parse = t0.elapsed().as_secs_f64();
    let cust_ca = customer.u32()?;

    let from = opts.from.map(days_since_epoch).unwrap_or(i32::MIN);
    let to = opts.to.map(days_since_epoch).unwrap_or(i32::MAX);
    // Empty customer id, date, amount: (count, first row); in parallel over row ranges,
    // merged in row order.
    struct Checked {
        empty: [(usize, usize); 3],
        outside: usize,
        max_day: i32,
        mask: Vec<bool>,
    }
    let check = |start: usize,
                 ids: &UInt32Chunked,
                 days: &Int32Chunked,
                 amounts: &Float64Chunked|
     -> Checked {
        let mut c = Checked {
            empty: [(0, 0); 3],
            outside: 0,
            max_day: i32::MIN,
            mask: Vec::with_capacity(ids.len()),
        };
        // Iterate (`ChunkedArray::get(i)` searches the chunks on every call).
        for (j, ((id, day), amount)) in ids.iter().zip(days.iter()).zip(amounts.iter()).enumerate()
        {
            let i = start + j;
            let ok_c = id.is_some();
            let kind = match (ok_c, day, amount) {
                (false, ..) => Some(0),
                (_, None, _) => Some(1),
                (_, _, None) => Some(2),
                _ => None,
            };
            let ok = match (kind, day) {
                (Some(k), _) => {
                    if c.empty[k].0 == 0 {
                        c.empty[k].1 = i;
                    }
                    c.empty[k].0 += 1;
                    false
                }
                (None, Some(d)) if d < from || d > to => {
                    c.outside += 1;
                    false
                }
                (None, Some(d)) => {
                    c.max_day = c.max_day.max(d);
                    true
                }
                (None, None) => false,
            };
            c.mask.push(ok);
        }
        c
    };
    let parts: Vec<Checked> = {
        use rayon::prelude::*;
        const ROWS: usize = 1 << 18;
        (0..n.div_ceil(ROWS))
            .into_par_iter()
            .map(|k| {
                let (start, len) = (k * ROWS, ROWS.min(n - k * ROWS));
                check(
                    start,
                    &cust_ca.slice(start as i64, len),
                    &days_ca.slice(start as i64, len),
                    &amounts_ca.slice(start as i64, len),
                )
            })
            .collect()
    };
    let mut empty = [(0usize, 0usize); 3];
    let mut outside = 0;
    let mut mask = Vec::with_capacity(n);
    let mut max_day = i32::MIN;
    for p in parts {
        for (e, q) in empty.iter_mut().zip(p.empty) {
            if e.0 == 0 {
                e.1 = q.1;
            }
            e.0 += q.0;
        }
        outside += p.outside;
        max_day = max_day.max(p.max_day);
        mask.extend(p.mask);
    }
    for ((count, first), what) in
        empty
            .iter()
            .zip(["an empty customer id", "an empty date", "an empty amount"])
    {
        if *count == 0 {
            continue;
        }
        if opts.strict {
            return Err(bad(format!(
                "{}: {count} rows with {what} (--strict refuses to drop them)",
                op.at(*first)
            )));
        }
        ds.warnings.push(format!(
            "{}: {count} rows with {what} were dropped (first at {})",
            op.label,
            op.pos(*first)
        ));
    }
    if outside > 0 {
        ds.info
            .push(format!("{}: {outside} rows outside --from/--to", op.label));
    }
    if max_day == i32::MIN {
        return Err(bad(format!(
            "{}: no transactions left after dropping empty and out-of-window rows",
            op.label
        )));
    }
    let mut after_as_of = 0;
    let as_of_day = match opts.as_of {
        Some(a) => {
            let a = days_since_epoch(a);
            let later = days_ca
                .iter()
                .zip(&mask)
                .filter(|(d, &m)| m && d.is_some_and(|d| d > a))
                .count();
            after_as_of = later;
            if later > 0 {
                ds.warnings.push(format!(
                    "{}: {later} transactions after as-of {} were ignored",
                    op.label,
                    date_from_days(a)
                ));
                for (m, d) in mask.iter_mut().zip(days_ca.iter()) {
                    if d.is_some_and(|d| d > a) {
                        *m = false;
                    }
                }
            }
            a
        }
        None => max_day,
    };
    ds.as_of = date_from_days(as_of_day);
    ds.stats = LoadStats {
        rows_read: n,
        dropped_empty: empty.iter().map(|e| e.0).sum(),
        outside_window: outside,
        after_as_of,
        duplicate_rows: 0,
        date_format: fmt.clone(),
        mapping: map
            .iter()
            .map(|(r, n)| (r.canonical().to_string(), n.clone()))
            .collect(),
        service_period: [Role::PeriodStart, Role::PeriodEnd].iter().any(|r| {
            opts.columns.contains_key(r)
                || names
                    .iter()
                    .any(|n| r.aliases().contains(&normalise(n).as_str()))
        }),
    };

    let mut cols = vec![customer, date_col, amount_col];
    if let Ok(c) = df.column("order_id") {
        cols.push(c.clone());
    }
    if let Ok(c) = df.column("category") {
        cols.push(if !code_category {
            str_column(&df, "category")?
        } else if coded_as_read {
            c.clone().with_name(CATEGORY_CODES.into())
        } else {
            category_coder
                .code_values(c, false)?
                .with_name(CATEGORY_CODES.into())
        });
    }
    if let Some((start, end)) = service {
        cols.push(Column::new("period_start".into(), start).cast(&DataType::Date)?);
        cols.push(Column::new("period_end".into(), end).cast(&DataType::Date)?);
        for name in ["plan", "subscription_id"] {
            if df.column(name).is_ok() {
                cols.push(str_column(&df, name)?);
            }
        }
    }
    for e in &extras {
        cols.push(str_column(&df, e)?);
    }
    let out = DataFrame::new(n, cols)?;
    let t_mask = t0.elapsed().as_secs_f64();
    let kept = if mask.iter().all(|m| *m) {
        out
    } else {
        out.filter(&BooleanChunked::new("mask".into(), mask))?
    };
    // Distinct, non-null order ids: no two rows can be equal, and every row is its own
    // order, so the column is not needed (reports::purchases then takes rows as orders).
    let one_row_orders = orders_dropped || kept.column("order_id").is_ok_and(all_distinct);
    ds.tx = if one_row_orders {
        ds.info.push(format!(
            "{}: every order id is on one row: each row is an order",
            op.label
        ));
        let mut kept = kept;
        let _ = kept.drop_in_place("order_id");
        kept
    } else if opts.skip.iter().any(|r| map.contains_key(r)) {
        if may_have_duplicates(&kept)? {
            // Rows equal but for the columns we did not read: read them, and judge whole
            // rows.
            ds.warnings.truncate(messages);
            ds.info.truncate(notes);
            let all = LoadOptions {
                skip: Vec::new(),
                ..opts.clone()
            };
            return load_transactions(src, &all, ds);
        }
        // No two rows are equal even without them.
        kept
    } else {
        dedupe(
            kept,
            &op.label,
            opts,
            &mut ds.warnings,
            &mut ds.stats.duplicate_rows,
        )?
    };
    if let Ok(c) = ds.tx.column(CATEGORY_CODES) {
        // The categories of the rows kept, numbered in name order.
        let mut used = vec![false; category_coder.code_bound()];
        ids::mark_used(c, &mut used)?;
        let (names, rank) = category_coder.finish(&used);
        ids::recode_in(&mut ds.tx, CATEGORY_CODES, &rank)?;
        ds.categories = Some(names);
    }
    ds.info.push(format!(
        "{}: read in {t_read:.2} s, parsed by {t_parse:.2} s, checked by {t_mask:.2} s, \
         duplicates checked by {:.2} s",
        op.label,
        t0.elapsed().as_secs_f64()
    ));
    if ds.tx.height() == 0 {
        return Err(bad(format!(
            "{}: no transactions on or before as-of {}",
            op.label, ds.as_of
        )));
    }
    let amount_note = if map.contains_key(&Role::Amount) {
        String::new()
    } else {
        " (amount = price × quantity)".to_string()
    };
    ds.info.push(describe_mapping(
        &op.label,
        &map,
        &format!(
            "{amount_note}; date format {fmt}; {n} rows read; as-of {}",
            ds.as_of
        ),
    ));
    Ok(coder)
}

/// Each line's first day served and first day no longer served (days since epoch).
type ServicePeriods = (Vec<Option<i32>>, Vec<Option<i32>>);

/// Each invoice line's service period as days [start, end), end exclusive: the
/// `period_start`/`period_end` columns when present and not empty, else the line's date and
/// one calendar month after the start. `--period-end inclusive` adds a day to the given
/// end. An end before the start is an error naming the line and column.
fn service_periods(
    df: &DataFrame,
    op: &Input,
    opts: &LoadOptions,
    map: &BTreeMap<Role, String>,
    days: &[Option<i32>],
    inv: InvoiceOptions,
) -> Result<ServicePeriods> {
    let parsed = |role: Role| -> Result<Option<Vec<Option<i32>>>> {
        match map.get(&role) {
            Some(src) => Ok(Some(
                parse_dates(df.column(role.canonical())?, op, opts, src)?.0,
            )),
            None => Ok(None),
        }
    };
    let starts = parsed(Role::PeriodStart)?;
    let ends = parsed(Role::PeriodEnd)?;
    let n = days.len();
    // Rows [from, to): their periods, or the first bad row (an end before the start).
    let range = |from: usize, to: usize| -> std::result::Result<ServicePeriods, usize> {
        let mut start = Vec::with_capacity(to - from);
        let mut end = Vec::with_capacity(to - from);
        for i in from..to {
            let given_start = starts.as_ref().and_then(|s| s[i]);
            let given_end = ends.as_ref().and_then(|e| e[i]);
            let Some(s) = given_start.or(days[i]) else {
                start.push(None);
                end.push(None);
                continue;
            };
            let e = match given_end {
                Some(e) if e < s => return Err(i),
                Some(e) if inv.end_inclusive => e + 1,
                Some(e) => e,
                None => date_from_days(s)
                    .checked_add_months(chrono::Months::new(1))
                    .map_or(s + 31, days_since_epoch),
            };
            start.push(Some(s));
            end.push(Some(e));
        }
        Ok((start, end))
    };
    let parts: Vec<std::result::Result<ServicePeriods, usize>> = {
        use rayon::prelude::*;
        const ROWS: usize = 1 << 18;
        (0..n.div_ceil(ROWS))
            .into_par_iter()
            .map(|k| range(k * ROWS, ((k + 1) * ROWS).min(n)))
            .collect()
    };
    let (mut start, mut end) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for p in parts {
        match p {
            Ok((s, e)) => {
                start.extend(s);
                end.extend(e);
            }
            Err(i) => {
                let given_start = starts.as_ref().and_then(|s| s[i]);
                let (s, e) = (
                    given_start.or(days[i]).unwrap_or_default(),
                    ends.as_ref().and_then(|e| e[i]).unwrap_or_default(),
                );
                let what = if given_start.is_some() {
                    "starts"
                } else {
                    "is dated"
                };
                return Err(bad(format!(
                    "{}, column '{}': the service period ends {} before it {what} {}",
                    op.at(i),
                    map[&Role::PeriodEnd],
                    date_from_days(e),
                    date_from_days(s)
                )));
            }
        }
    }
    Ok((start, end))
}

/// Load the customers file into `ds`, its ids coded by the transactions' coder.
fn load_customers(
    src: &[Source],
    opts: &LoadOptions,
    ds: &mut Dataset,
    coder: &mut ids::IdCoder,
) -> Result<()> {
    let (mut op, lfs, names, map) = open_mapped(
        src,
        "customers",
        &CUSTOMER_ROLES,
        &[Role::Customer],
        opts,
        &mut ds.warnings,
    )?;
    let taken: Vec<&String> = map.values().collect();
    let mut exprs: Vec<Expr> = map
        .iter()
        .map(|(r, n)| col(n.as_str()).alias(r.canonical()))
        .collect();
    let canon: Vec<&str> = map.keys().map(|r| r.canonical()).collect();
    let others: Vec<&String> = names
        .iter()
        .filter(|n| !taken.contains(n) && !canon.contains(&n.as_str()))
        .collect();
    exprs.extend(others.iter().map(|n| col(n.as_str())));
    let (df, _, _) = source::collect_input(&mut op, lfs, &exprs, None)?;
    crate::progress::step("parsing the columns");
    if df.height() == 0 {
        return Err(bad(format!("{} has no data rows", op.label)));
    }
    let n = df.height();
    // (blank ids are null codes)
    let customer = coder.code_column(df.column("customer_id")?)?;
    let codes = customer.u32()?;
    let mut cols = vec![customer.clone()];
    let mut mask: Vec<bool> = codes.iter().map(|v| v.is_some()).collect();
    let empty_ids = mask.iter().filter(|m| !**m).count();
    if let Some(src) = map.get(&Role::Signup) {
        let (days, _) = parse_dates(df.column("signup_date")?, &op, opts, src)?;
        cols.push(Column::new("signup_date".into(), days).cast(&DataType::Date)?);
    }
    if map.contains_key(&Role::Channel) {
        cols.push(str_column(&df, "channel")?);
    }
    if let Some(src) = map.get(&Role::Cost) {
        let cost = parse_numbers(df.column("acquisition_cost")?, &op, opts, src)?;
        cols.push(Column::new("acquisition_cost".into(), cost));
    }
    for o in &others {
        cols.push(str_column(&df, o)?);
    }
    // Keep the first row of each customer id.
    let mut seen = vec![false; coder.code_bound()];
    let mut dups = 0;
    for (m, id) in mask.iter_mut().zip(codes.iter()) {
        let Some(id) = id else { continue };
        if std::mem::replace(&mut seen[id as usize], true) {
            *m = false;
            dups += 1;
        }
    }
    if empty_ids > 0 {
        ds.warnings.push(format!(
            "{}: {empty_ids} rows with an empty customer id were dropped",
            op.label
        ));
    }
    if dups > 0 {
        ds.warnings.push(format!(
            "{}: {dups} duplicate customer ids; the first row of each was kept",
            op.label
        ));
    }
    // (the transactions' codes are the same coder's, all below `seen.len()`)
    let mut unknown_ids = vec![false; seen.len()];
    for id in ds.tx.column("customer_id")?.u32()?.iter().flatten() {
        if !seen[id as usize] {
            unknown_ids[id as usize] = true;
        }
    }
    let unknown = unknown_ids.iter().filter(|u| **u).count();
    if unknown > 0 {
        ds.warnings.push(format!(
            "{unknown} customers in the transactions are missing from {}",
            op.label
        ));
    }
    let out = DataFrame::new(n, cols)?.filter(&BooleanChunked::new("mask".into(), mask))?;
    ds.info.push(describe_mapping(
        &op.label,
        &map,
        &format!("; {} customers", out.height()),
    ));
    ds.customers = Some(out);
    Ok(())
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

// ---- issue #3: the wallet file of `retention wallet` ----

/// Header spellings of the wallet column (normalised).
const WALLET_ALIASES: [&str; 5] = [
    "wallet",
    "walletsize",
    "walletamount",
    "totalwallet",
    "wallettotal",
];

/// Load a wallet file (`--wallet FILE`): `customer_id` (str), `category` (str, when the
/// file has one) and `wallet` (f64) = the customer's total spend (in that category) at all
/// vendors. Read with the same CSV/Parquet rules as the other inputs; errors name the file,
/// line and column. Empty ids or wallets, negative wallets and repeated (customer,
/// category) keys are errors.
pub fn load_wallet(
    src: &[Source],
    opts: &LoadOptions,
    warnings: &mut Vec<String>,
) -> Result<DataFrame> {
    let mut op = source::open_input(src, "wallet", opts)?;
    let (lfs, names) = source::scan_input(&op, opts, warnings)?;
    op.check_all()?;
    let mut overrides = BTreeMap::new();
    if let Some(c) = opts.columns.get(&Role::Customer) {
        overrides.insert(Role::Customer, c.clone());
    }
    let map = map_roles(
        &op.label,
        &names,
        &[Role::Customer, Role::Category],
        &[Role::Customer],
        &overrides,
        true,
    )?;
    let taken: Vec<&String> = map.values().collect();
    let hits: Vec<&String> = names
        .iter()
        .filter(|n| !taken.contains(n) && WALLET_ALIASES.contains(&normalise(n).as_str()))
        .collect();
    let wallet_src = match hits.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(bad(format!(
                "{}: no wallet column found (columns are {}); name it 'wallet'",
                op.label,
                quoted(&names, ", ")
            )))
        }
        many => {
            return Err(bad(format!(
                "{}: ambiguous wallet column: {} match",
                op.label,
                quoted(many, " and ")
            )))
        }
    };
    let mut exprs: Vec<Expr> = map
        .iter()
        .map(|(r, n)| col(n.as_str()).alias(r.canonical()))
        .collect();
    exprs.push(col(wallet_src.as_str()).alias("wallet"));
    let (df, _, _) = source::collect_input(&mut op, lfs, &exprs, None)?;
    crate::progress::step("parsing the columns");
    if df.height() == 0 {
        return Err(bad(format!("{} has no data rows", op.label)));
    }
    let customer = str_column(&df, "customer_id")?;
    let category = match map.get(&Role::Category) {
        Some(_) => Some(str_column(&df, "category")?),
        None => None,
    };
    let wallet = parse_numbers(df.column("wallet")?, &op, opts, &wallet_src)?;
    let ids = customer.str()?;
    let cats = category.as_ref().map(|c| c.str()).transpose()?;
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, w) in wallet.iter().enumerate() {
        let at = || op.at(i);
        let id = ids.get(i).map(str::trim).unwrap_or_default();
        if id.is_empty() {
            return Err(bad(format!(
                "{}, column '{}': empty customer id",
                at(),
                map[&Role::Customer]
            )));
        }
        match w {
            None => {
                return Err(bad(format!(
                    "{}, column '{wallet_src}': empty wallet",
                    at()
                )))
            }
            Some(v) if *v < 0.0 => {
                return Err(bad(format!(
                    "{}, column '{wallet_src}': negative wallet {v}",
                    at()
                )))
            }
            _ => {}
        }
        let cat = cats
            .as_ref()
            .and_then(|c| c.get(i))
            .unwrap_or_default()
            .to_string();
        if !seen.insert((id.to_string(), cat.clone())) {
            return Err(bad(format!(
                "{}: customer '{id}'{} appears twice",
                at(),
                if cats.is_some() {
                    format!(" with category '{cat}'")
                } else {
                    String::new()
                }
            )));
        }
    }
    let mut cols = vec![customer];
    if let Some(c) = category {
        cols.push(c);
    }
    cols.push(Column::new("wallet".into(), wallet));
    Ok(DataFrame::new(df.height(), cols)?)
}

#[cfg(test)]
mod tests {
    /// The fast trim is `str::trim` on ASCII, control characters, every Unicode white
    /// space character, other multi-byte characters and the empty string.
    #[test]
    fn trim_field_is_str_trim() {
        let mut pieces: Vec<String> = [
            "", "a", "7", "-", "é", "日", "\u{85}", "\u{a0}", "\u{3000}", "\u{1680}", "\u{200b}",
            "\u{1c}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        pieces.extend((0u8..0x80).map(|b| (b as char).to_string()));
        for a in &pieces {
            for b in &pieces {
                for mid in ["", "x", " ", "12.50"] {
                    let s = format!("{a}{mid}{b}");
                    assert_eq!(super::trim_field(&s), s.trim(), "{s:?}");
                }
            }
        }
    }

    /// The one-pass decimal parser is `str::parse` bit for bit where it answers, and
    /// answers for the plain decimals of exports.
    #[test]
    fn plain_decimals_parse_as_the_standard_library_does() {
        let mut state = 99u64;
        let mut next = || crate::models::se::splitmix64(&mut state);
        for _ in 0..200_000 {
            let int = next() % 10u64.pow((next() % 12) as u32 + 1);
            let frac_len = (next() % 8) as usize;
            let frac: String = (0..frac_len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let sign = if next() % 3 == 0 { "-" } else { "" };
            let text = match next() % 4 {
                0 => format!("{sign}{int}"),
                1 => format!("{sign}{int}.{frac}"),
                2 => format!("{sign}0.{frac}"),
                _ => format!("{sign}{int}."),
            };
            let want: f64 = text.parse().unwrap();
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let significant = digits.trim_start_matches('0').len();
            match plain_decimal(text.as_bytes(), false) {
                Some(got) => assert_eq!(got.to_bits(), want.to_bits(), "{text}"),
                None => assert!(significant > 15, "{text}: left to the general parser"),
            }
        }
        for text in [
            ".5",
            "-.25",
            "0",
            "-0",
            "007.10",
            "123456789012345",
            "0.0000000000000000000001",
        ] {
            let want: f64 = text.parse().unwrap();
            assert_eq!(
                plain_decimal(text.as_bytes(), false).map(f64::to_bits),
                Some(want.to_bits()),
                "{text}"
            );
        }
        // left to the general parser
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "1-2",
            "+1",
            "1e5",
            "1,5",
            " 1",
            "1234567890123456",
            "inf",
            "0.00000000000000000000001",
        ] {
            assert_eq!(plain_decimal(text.as_bytes(), false), None, "{text}");
        }
        assert_eq!(plain_decimal(b"12", true), Some(12.0));
        assert_eq!(plain_decimal(b"1.5", true), None);
        assert_eq!(
            parse_amount("1234567890123456", false),
            Err("'1234567890123456' is implausibly large".to_string())
        );
    }

    /// Dates and datetimes read from their arrays equal polars' cast to Date: nulls,
    /// days before 1970 (floor, not truncation), several chunks, every time unit.
    #[test]
    fn temporal_days_equal_polars_cast() {
        use super::*;
        let ms: Vec<Option<i64>> = vec![
            Some(0),
            Some(-1),
            None,
            Some(86_399_999),
            Some(86_400_000),
            Some(-86_400_001),
            Some(1_735_603_200_123),
        ];
        for unit in [
            TimeUnit::Milliseconds,
            TimeUnit::Microseconds,
            TimeUnit::Nanoseconds,
        ] {
            let k = match unit {
                TimeUnit::Milliseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Nanoseconds => 1_000_000,
            };
            let v: Vec<Option<i64>> = ms.iter().map(|x| x.map(|x| x * k)).collect();
            let mut a = Series::new("d".into(), v.clone());
            a.append(&Series::new("d".into(), v)).unwrap();
            let c = Column::from(a)
                .cast(&DataType::Datetime(unit, None))
                .unwrap();
            assert_eq!(c.n_chunks(), 2);
            let want: Vec<Option<i32>> = c
                .cast(&DataType::Date)
                .unwrap()
                .date()
                .unwrap()
                .physical()
                .iter()
                .collect();
            assert_eq!(temporal_days(&c).unwrap().unwrap(), want, "{unit:?}");
            assert_eq!(want[1], Some(-1));
            assert_eq!(want[2], None);
        }
        let d = Column::new("d".into(), [Some(-3), None, Some(20_000)])
            .cast(&DataType::Date)
            .unwrap();
        assert_eq!(
            temporal_days(&d).unwrap().unwrap(),
            [Some(-3), None, Some(20_000)]
        );
        let text = Column::new("d".into(), ["2024-01-01"]);
        assert!(temporal_days(&text).unwrap().is_none());
    }
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("12.5", false), Ok(12.5));
        assert_eq!(parse_amount(" -3 ", false), Ok(-3.0));
        assert_eq!(parse_amount("$1,234.50", false), Ok(1234.5));
        assert_eq!(parse_amount("(12.00)", false), Ok(-12.0));
        assert_eq!(parse_amount("1.234,50 €", true), Ok(1234.5));
        assert!(parse_amount("1,234", false).is_err());
        assert!(parse_amount("abc", false).is_err());
        assert!(parse_amount("NaN", false).is_err());
        assert!(parse_amount("inf", false).is_err());
        assert!(parse_amount("1e300", false).is_err());
        // The plain-number fast path and its edges.
        assert_eq!(parse_amount("0.10", false), Ok(0.1));
        assert_eq!(parse_amount("-0", false), Ok(0.0));
        assert!(parse_amount("-", false).is_err());
        assert!(parse_amount("1.2.3", false).is_err());
        assert!(parse_amount("9999999999999999", false).is_err());
        // With --decimal-comma a point is a thousands separator, not a decimal point.
        assert_eq!(parse_amount("1.234", true), Ok(1234.0));
    }

    fn frame(ids: &[&str], days: &[i32], amounts: &[f64]) -> DataFrame {
        let amounts: Vec<Option<f64>> = amounts.iter().copied().map(Some).collect();
        crate::reports::rows_frame(ids, days, &amounts)
    }

    fn text(v: &[Option<&str>]) -> Column {
        Column::new("order_id".into(), v.to_vec())
    }

    #[test]
    fn distinct_order_ids() {
        let some = |v: &[&'static str]| text(&v.iter().map(|s| Some(*s)).collect::<Vec<_>>());
        // Increasing; two interleaved series; out of order; repeats across and within.
        assert!(all_distinct(&some(&["O1", "O2", "O3"])));
        assert!(all_distinct(&some(&["O1", "O2", "R1", "O3", "R2"])));
        assert!(all_distinct(&some(&["e", "d", "c", "b", "a", "f"])));
        assert!(!all_distinct(&some(&["O1", "O2", "R1", "O3", "O2"])));
        assert!(!all_distinct(&some(&["e", "d", "c", "b", "a", "c"])));
        assert!(!all_distinct(&some(&["a", "a"])));
        assert!(!all_distinct(&text(&[Some("a"), None])));
        assert!(all_distinct(&text(&[])));
        // Each value goes to the first lane it extends.
        let lanes = increasing_lanes(["O1", "O2", "R1", "O3", "R2", "O4"].into_iter(), 4);
        assert_eq!(
            lanes,
            Some(vec![vec!["O1", "O2", "R1", "R2"], vec!["O3", "O4"]])
        );
        assert!(increasing_lanes(["c", "b", "a"].into_iter(), 2).is_none());
        // Ranges only: lanes apart decide at once; overlapping ones go to the full check.
        assert_eq!(
            lane_ranges(["b1", "a1", "b2", "a2"].into_iter(), 4),
            Some(vec![("b1", "b2"), ("a1", "a2")])
        );
        assert!(all_distinct(&some(&["b1", "a1", "b2", "a2"])));
        assert!(!all_distinct(&some(&["b1", "a1", "b2", "a1"])));
        // Two series by prefix, interleaved; a repeat in one of them; too many prefixes.
        let runs = |v: &[&'static str]| source::PrefixRuns::default().feed(v.iter().copied());
        assert!(runs(&["O1", "R1", "O2", "O3", "R2"]));
        assert!(!runs(&["O1", "R1", "O2", "R1"]));
        assert!(!runs(&[
            "a1", "b1", "c1", "d1", "e1", "f1", "g1", "h1", "i1"
        ]));
        assert!(!runs(&["O2", "O1"]));
        // Fed chunk by chunk, as the loader reads: a repeat across chunks is seen.
        let mut r = source::PrefixRuns::default();
        assert!(r.feed(["O1", "R1"].into_iter()) && r.feed(["O2", "R2"].into_iter()));
        assert!(!r.feed(["O3", "R2"].into_iter()));
        // A column, checked by ranges of rows at once, agrees with the values one by one.
        let ids: Vec<String> = (0..200_000)
            .map(|i| format!("{}{:07}", if i % 3 == 0 { "R" } else { "O" }, i / 2))
            .collect();
        let col = StringChunked::from_iter_values("o".into(), ids.iter().map(String::as_str));
        let (mut a, mut b) = (source::PrefixRuns::default(), source::PrefixRuns::default());
        assert_eq!(a.feed_column(&col), b.feed(ids.iter().map(String::as_str)));
        let increasing: Vec<String> = (0..200_000).map(|i| format!("O{i:07}")).collect();
        let col =
            StringChunked::from_iter_values("o".into(), increasing.iter().map(String::as_str));
        assert!(source::PrefixRuns::default().feed_column(&col));
        let mut again = increasing.clone();
        again.push("O0100000".into());
        let col = StringChunked::from_iter_values("o".into(), again.iter().map(String::as_str));
        assert!(!source::PrefixRuns::default().feed_column(&col));
        assert!(disjoint(&["a", "c"], &["b", "d"]));
        assert!(!disjoint(&["a", "c"], &["b", "c"]));
    }
    #[test]
    fn duplicate_check_finds_exact_duplicates_only() {
        let distinct = frame(&["a", "a", "b"], &[1, 1, 1], &[5.0, 6.0, 5.0]);
        assert!(!may_have_duplicates(&distinct).unwrap());
        let dup = frame(&["a", "b", "a"], &[1, 1, 1], &[5.0, 6.0, 5.0]);
        assert!(may_have_duplicates(&dup).unwrap());
        // 0.0 and -0.0 are equal values.
        let zeros = frame(&["a", "a"], &[1, 1], &[0.0, -0.0]);
        assert!(may_have_duplicates(&zeros).unwrap());
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n"), b'|');
        assert_eq!(sniff_delimiter(b"\"x,y\";b\n1;2\n"), b';');
        assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn common_spellings_are_mapped() {
        let m = map_roles(
            "f",
            &names(&[
                "InvoiceNo",
                "Customer ID",
                "InvoiceDate",
                "Quantity",
                "UnitPrice",
            ]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap();
        assert_eq!(m[&Role::Customer], "Customer ID");
        assert_eq!(m[&Role::Date], "InvoiceDate");
        assert_eq!(m[&Role::Order], "InvoiceNo");
        assert_eq!(m[&Role::Price], "UnitPrice");
        assert!(!m.contains_key(&Role::Amount));
    }

    #[test]
    fn ambiguous_and_missing_columns_explain_the_flag() {
        let e = map_roles(
            "f",
            &names(&["customer_id", "date", "order_date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'date' and 'order_date'") && e.contains("--date-col"),
            "{e}"
        );
        let e = map_roles(
            "f",
            &names(&["who", "date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &BTreeMap::new(),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'who'") && e.contains("--customer-col"), "{e}");
        let mut o = BTreeMap::new();
        o.insert(Role::Customer, "who".to_string());
        let m = map_roles(
            "f",
            &names(&["who", "date", "amount"]),
            &TX_ROLES,
            &[Role::Customer, Role::Date],
            &o,
            false,
        )
        .unwrap();
        assert_eq!(m[&Role::Customer], "who");
    }
}
