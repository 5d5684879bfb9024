//! The customers input (`--customers FILE`): signup date, channel, acquisition cost and
//! every other column, its ids coded by the transactions' coder.

use anyhow::Result;
use polars::prelude::*;

use crate::error::bad;

use super::ids;
use super::roles::{describe_mapping, CUSTOMER_ROLES};
use super::source::{self, Source};
use super::values::{parse_dates, parse_numbers};
use super::{open_mapped, str_column, Dataset, LoadOptions, Role};

/// Load the customers file into `ds`, its ids coded by the transactions' coder.
pub(super) fn load_customers(
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
