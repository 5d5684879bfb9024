//! The wallet file of `retention wallet` (`--wallet FILE`): each customer's spend
//! capacity, overall or per category.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use polars::prelude::*;

use crate::error::bad;

use super::roles::{map_roles, normalise, quoted};
use super::source::{self, Source};
use super::values::parse_numbers;
use super::{str_column, LoadOptions, Role};

/// Header spellings of the wallet column (normalised).
pub(super) const WALLET_ALIASES: [&str; 5] = [
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
