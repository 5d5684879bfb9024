//! `ltv --summary FILE`: per-customer summaries (frequency, recency, T, optional
//! monetary_value, weights and customer id) as lifetimes and warehouse SQL write them,
//! read like any other input (CSV, gzip, Parquet, workbooks, several files, stdin) and
//! checked row by row; errors name the file, line and column.

use anyhow::Result;
use polars::prelude::*;

use super::roles::{normalise, quoted};
use super::source::{self, Source};
use super::values::parse_numbers;
use super::{str_column, LoadOptions};
use crate::error::bad;

/// The summary of every customer (or of every group of identical customers, with weights).
#[derive(Debug, Clone, Default)]
pub struct SummaryTable {
    /// `summary file 'x.csv'`, for messages.
    pub label: String,
    /// Customer ids, when the file has an id column.
    pub ids: Option<Vec<String>>,
    /// frequency x (repeat purchases), recency t_x, age T, in the file's unit.
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
    /// Mean value of the repeat purchases, when given.
    pub monetary: Option<Vec<f64>>,
    /// Customers per row, when given (a grouped summary).
    pub weights: Option<Vec<f64>>,
    /// Warnings for stderr.
    pub warnings: Vec<String>,
}

/// Header spellings (normalised: lower case, alphanumerics only) of each field.
const FREQUENCY: &[&str] = &[
    "frequency",
    "frequencycal",
    "x",
    "repeatpurchases",
    "repeats",
];
const RECENCY: &[&str] = &["recency", "recencycal", "tx", "recencyweeks", "recencydays"];
const AGE: &[&str] = &["t", "tcal", "age", "bigt", "customerage"];
const MONETARY: &[&str] = &[
    "monetaryvalue",
    "monetary",
    "monetaryvaluecal",
    "m",
    "avgvalue",
    "averagevalue",
];
const WEIGHTS: &[&str] = &["weights", "weight", "count", "customers", "ncustomers", "n"];
const ID: &[&str] = &[
    "customerid",
    "customer",
    "id",
    "clientid",
    "userid",
    "custid",
    "index",
];

fn find<'a>(label: &str, names: &'a [String], aliases: &[&str]) -> Result<Option<&'a String>> {
    let hits: Vec<&String> = names
        .iter()
        .filter(|n| aliases.contains(&normalise(n).as_str()))
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(bad(format!(
            "{label}: ambiguous columns {} (one of them must go)",
            quoted(many, " and ")
        ))),
    }
}

/// Read and check a summary file.
pub fn load_summary(srcs: &[Source], opts: &LoadOptions) -> Result<SummaryTable> {
    let mut warnings = Vec::new();
    let mut input = source::open_input(srcs, "summary", opts)?;
    let (lfs, names) = source::scan_input(&input, opts, &mut warnings)?;
    let label = input.label.clone();
    let need = |aliases: &[&str], what: &str| -> Result<String> {
        find(&label, &names, aliases)?.cloned().ok_or_else(|| {
            bad(format!(
                "{label}: no {what} column found (columns are {}; expected names as lifetimes \
                 writes them: frequency, recency, T, monetary_value, weights)",
                quoted(&names, ", ")
            ))
        })
    };
    // (a file's ragged or undecodable line is the first error, before a column error)
    let fx = input.checked(need(FREQUENCY, "frequency"))?;
    let fr = input.checked(need(RECENCY, "recency"))?;
    let ft = input.checked(need(AGE, "T"))?;
    let fm = input.checked(find(&label, &names, MONETARY))?.cloned();
    let fw = input.checked(find(&label, &names, WEIGHTS))?.cloned();
    let fid = input.checked(find(&label, &names, ID))?.cloned();
    let mut exprs = vec![
        col(fx.as_str()).alias("x"),
        col(fr.as_str()).alias("t_x"),
        col(ft.as_str()).alias("t"),
    ];
    if let Some(m) = &fm {
        exprs.push(col(m.as_str()).alias("m"));
    }
    if let Some(w) = &fw {
        exprs.push(col(w.as_str()).alias("w"));
    }
    if let Some(i) = &fid {
        exprs.push(col(i.as_str()).alias("id"));
    }
    // The numbers convert chunk by chunk as the text is read (no text columns kept).
    let typed = source::Typed {
        date: None,
        numbers: ["x", "t_x", "t", "m", "w"].map(String::from).to_vec(),
        decimal_comma: opts.decimal_comma,
        ids: Vec::new(),
        distinct: None,
        scale_amount: false,
    };
    let (df, _, _) = source::collect_input(&mut input, lfs, &exprs, Some(&typed))?;
    if df.height() == 0 {
        return Err(bad(format!("{label} has no data rows")));
    }
    let num = |name: &str, src: &str| -> Result<Vec<f64>> {
        let c = df.column(name)?;
        // The common case, read as numbers without a gap: the values themselves (anything
        // else goes through parse_numbers, which words what is wrong).
        if let Ok(ca) = c.f64() {
            if ca.null_count() == 0 {
                let mut v = Vec::with_capacity(ca.len());
                for arr in ca.downcast_iter() {
                    v.extend_from_slice(arr.values().as_slice());
                }
                if v.iter().all(|x| x.is_finite()) {
                    return Ok(v);
                }
            }
        }
        let v = parse_numbers(c, &input, opts, src)?;
        v.iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| bad(format!("{}, column '{src}': empty", input.at(i)))))
            .collect()
    };
    let x = num("x", &fx)?;
    let t_x = num("t_x", &fr)?;
    let t = num("t", &ft)?;
    // monetary_value may be empty where there is no repeat purchase (x = 0).
    let monetary = match &fm {
        Some(src) => {
            let v = parse_numbers(df.column("m")?, &input, opts, src)?;
            let mut out = Vec::with_capacity(v.len());
            for (i, m) in v.iter().enumerate() {
                match m {
                    Some(m) => out.push(*m),
                    None if x[i] == 0.0 => out.push(0.0),
                    None => {
                        return Err(bad(format!(
                            "{}, column '{src}': empty, with frequency {}",
                            input.at(i),
                            x[i]
                        )))
                    }
                }
            }
            Some(out)
        }
        None => None,
    };
    let weights = fw.as_ref().map(|w| num("w", w)).transpose()?;
    for i in 0..x.len() {
        let at = || input.at(i);
        if !(x[i] >= 0.0 && x[i].fract() == 0.0) {
            return Err(bad(format!(
                "{}, column '{fx}': frequency {} must be a whole number ≥ 0",
                at(),
                x[i]
            )));
        }
        if t[i].is_nan() || t[i] < 0.0 {
            return Err(bad(format!(
                "{}, column '{ft}': T {} must be ≥ 0",
                at(),
                t[i]
            )));
        }
        if !(t_x[i] >= 0.0 && t_x[i] <= t[i]) {
            return Err(bad(format!(
                "{}, column '{fr}': recency {} must be in [0, T = {}]",
                at(),
                t_x[i],
                t[i]
            )));
        }
        if x[i] == 0.0 && t_x[i] != 0.0 {
            return Err(bad(format!(
                "{}, column '{fr}': recency {} with frequency 0 (recency is the time from the \
                 first to the last purchase: 0 without repeat purchases)",
                at(),
                t_x[i]
            )));
        }
        if let Some(m) = &monetary {
            if x[i] > 0.0 && m[i] < 0.0 {
                return Err(bad(format!(
                    "{}, column '{}': negative monetary value {}",
                    at(),
                    fm.as_deref().unwrap_or("monetary_value"),
                    m[i]
                )));
            }
        }
        if let Some(w) = &weights {
            if w[i].is_nan() || w[i] < 0.0 {
                return Err(bad(format!(
                    "{}, column '{}': weight {} must be ≥ 0",
                    at(),
                    fw.as_deref().unwrap_or("weights"),
                    w[i]
                )));
            }
        }
    }
    let ids = match &fid {
        Some(_) => {
            let c = str_column(&df, "id")?;
            Some(
                c.str()?
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect(),
            )
        }
        None => None,
    };
    Ok(SummaryTable {
        label,
        ids,
        x,
        t_x,
        t,
        monetary,
        weights,
        warnings,
    })
}
