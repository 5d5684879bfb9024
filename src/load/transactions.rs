//! The transactions input: columns mapped, read (typed, in chunks) and checked; dates,
//! amounts and the window applied; order ids and the category coded; invoice lines' service
//! periods.

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;

use crate::error::bad;
use crate::period::{date_from_days, days_since_epoch};

use super::amounts;
use super::checks::{all_distinct, dedupe, may_have_duplicates};
use super::ids;
use super::roles::{describe_mapping, normalise, quoted, INVOICE_ROLES, TX_ROLES};
use super::source::{self, Input, Source};
use super::values::{date_column, numeric_column, parse_dates, parse_numbers};
use super::{
    open_mapped, str_column, Dataset, InvoiceOptions, LoadOptions, LoadStats, Role, CATEGORY_CODES,
};

/// Load the transactions into `ds`; their `customer_id` comes back coded in order of
/// appearance by the returned coder ([`load`] renumbers the codes in id order).
pub(super) fn load_transactions(
    src: &[Source],
    opts: &LoadOptions,
    ds: &mut Dataset,
) -> Result<ids::IdCoder> {
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
        // (invoice lines keep f64 amounts: MRR splits them over service periods)
        scale_amount: opts.invoice.is_none(),
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
    // (the typed read may hold them as counts already: `__amount_e{k}`)
    let read_as = amounts::column_name(&df);
    let amount_col = match map.get(&Role::Amount) {
        // (read typed, or held as counts by the Parquet read: finite values only)
        Some(_)
            if typed_format.is_some()
                || read_as.as_deref().is_some_and(|n| n != amounts::FLOAT) =>
        {
            df.column(read_as.as_deref().unwrap_or(amounts::FLOAT))?
                .clone()
        }
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
    if let Some(name) = &read_as {
        let _ = df.drop_in_place(name);
    }
    // Amounts as exact counts where they allow (read otherwise than by the typed CSV
    // read: Parquet, text parsed here, price × quantity).
    let amount_col = match amount_col.f64() {
        Ok(ca) if opts.invoice.is_none() => match amounts::scale(ca) {
            Some((counts, k)) => counts
                .with_name(amounts::scaled_name(k).into())
                .into_column(),
            None => amount_col,
        },
        _ => amount_col,
    };
    if let Some(k) = amounts::decimals_of_column(&amount_col) {
        ds.info.push(format!(
            "{}: amounts held exactly as counts of {} (4 bytes a row)",
            op.label,
            amounts::unit(k)
        ));
    }
    let days_ca = date_col.date()?.physical().clone();
    let amounts_valid = amount_col.is_not_null();
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
                 amounts: &BooleanChunked|
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
                (_, _, Some(false) | None) => Some(2),
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
                    &amounts_valid.slice(start as i64, len),
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
pub(super) type ServicePeriods = (Vec<Option<i32>>, Vec<Option<i32>>);

/// Each invoice line's service period as days [start, end), end exclusive: the
/// `period_start`/`period_end` columns when present and not empty, else the line's date and
/// one calendar month after the start. `--period-end inclusive` adds a day to the given
/// end. An end before the start is an error naming the line and column.
pub(super) fn service_periods(
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
