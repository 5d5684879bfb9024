//! `retention segment`: RFM scores and named segments (docs/metrics.md, section segment).
//!
//! Also holds small column helpers shared by the issue-#3 reports (`wallet`, `summary`,
//! `whatif`): plain Rust vectors out of frames, and the `--by` grouping lookup.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;

use crate::charts::{BarChart, Chart};
use crate::error::bad;
use crate::output::{num, pct, Report, View};
use crate::period::days_since_epoch;
use crate::reports::{column, customer_groups, Coded, CodedTx, Ids, Money, Names, GROUP};
use rayon::slice::ParallelSliceMut;

// ---------------------------------------------------------------------------------------
// Column helpers (shared by segment, wallet, summary, whatif).

/// A numeric column as f64 (null → None).
pub(crate) fn col_f64(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

/// A Date column as days since the epoch (null → None).
pub(crate) fn col_days(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>> {
    let c = df.column(name)?.cast(&DataType::Date)?;
    Ok(c.date()?.physical().iter().collect())
}

/// The `--by COL` value of each customer ([`customer_groups`]) as a map; customers without
/// a value get "(none)" from [`group_of`].
pub(crate) fn group_map(
    coded: &CodedTx,
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    by: &str,
) -> Result<HashMap<String, String>> {
    let df = customer_groups(tx, customers, by, "--by")?.collect()?;
    let codes = coded.codes(&df)?;
    let vals = df.column(GROUP)?.cast(&DataType::String)?;
    Ok(codes
        .iter()
        .zip(vals.str()?.iter())
        .filter_map(|(c, v)| {
            let id = coded.ids.names.get((*c)? as usize)?;
            Some((id.to_string(), v?.to_string()))
        })
        .collect())
}

/// Build a frame; a `--by` column (at `group`) named like another output column is
/// renamed `by_<name>` (e.g. `--by category` in wallet).
pub(crate) fn frame_of(
    mut cols: Vec<Column>,
    group: Option<usize>,
    height: usize,
) -> Result<DataFrame> {
    if let Some(g) = group {
        let name = cols[g].name().to_string();
        if cols
            .iter()
            .enumerate()
            .any(|(i, c)| i != g && c.name().as_str() == name)
        {
            cols[g].rename(format!("by_{name}").into());
        }
    }
    Ok(DataFrame::new(height, cols)?)
}

/// A customer's group, "(none)" when it has no value.
pub(crate) fn group_of(map: &HashMap<String, String>, id: &str) -> String {
    map.get(id).cloned().unwrap_or_else(|| "(none)".to_string())
}

// ---------------------------------------------------------------------------------------
// Scoring.

/// An integer in the order of [`f64::total_cmp`].
fn order_key(v: f64) -> u64 {
    let b = v.to_bits() as i64;
    // (total_cmp's own key, as i64; the sign bit flipped for unsigned order)
    let k = b ^ (((b >> 63) as u64) >> 1) as i64;
    (k as u64) ^ (1 << 63)
}

/// Scores 1..=bins: rank the values (ties broken by customer id, ascending), rank 1 the
/// lowest value (or, with `descending`, the highest), score = floor((rank−1)·bins/n) + 1.
pub fn scores(ids: &[&str], values: &[f64], descending: bool, bins: u32) -> Vec<u32> {
    scores_of(
        ids,
        ids.is_sorted(),
        values.len(),
        |i| values[i],
        descending,
        bins,
    )
}

/// [`scores`] of `n` values given by position (`value(i)`), told whether the ids are
/// sorted (when they are, `ids` is not read, and no vector of the values is made).
fn scores_of(
    ids: &[&str],
    in_order: bool,
    n: usize,
    value: impl Fn(usize) -> f64 + Sync,
    descending: bool,
    bins: u32,
) -> Vec<u32> {
    // Ids given in order (the usual case): break ties by position, without comparing strings.
    if in_order {
        use rayon::prelude::*;
        // One integer per row, (value in sort order, position): sorted without reading the
        // values through the positions (the same total order as below).
        let mut keys: Vec<u128> = (0..n)
            .into_par_iter()
            .map(|i| {
                let k = order_key(value(i));
                let k = if descending { !k } else { k };
                (k as u128) << 64 | i as u128
            })
            .collect();
        keys.par_sort_unstable();
        let mut out = vec![0; n];
        for (rank0, k) in keys.iter().enumerate() {
            out[*k as u64 as usize] = (rank0 as u64 * bins as u64 / n as u64) as u32 + 1;
        }
        return out;
    }
    let values: Vec<f64> = (0..n).map(value).collect();
    scores_by(&values, descending, bins, |a, b| ids[a].cmp(ids[b]))
}

/// [`scores`] by a comparison sort, ties broken by `tie` (of two positions).
fn scores_by(
    values: &[f64],
    descending: bool,
    bins: u32,
    tie: impl Fn(usize, usize) -> std::cmp::Ordering + Sync,
) -> Vec<u32> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    // Ties end in the id (or the position): a total order, so an unstable sort is exact.
    order.par_sort_unstable_by(|&a, &b| {
        let c = values[a].total_cmp(&values[b]);
        let c = if descending { c.reverse() } else { c };
        c.then_with(|| tie(a, b))
    });
    let mut out = vec![0; n];
    for (rank0, &i) in order.iter().enumerate() {
        out[i] = (rank0 as u64 * bins as u64 / n as u64) as u32 + 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Segment rules.

/// A named segment: inclusive score ranges for R, F and M.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub r: (u32, u32),
    pub f: (u32, u32),
    pub m: (u32, u32),
    pub action: String,
}

impl Rule {
    fn matches(&self, r: u32, f: u32, m: u32) -> bool {
        let inr = |(lo, hi): (u32, u32), v: u32| lo <= v && v <= hi;
        inr(self.r, r) && inr(self.f, f) && inr(self.m, m)
    }
}

/// The segment table: `rules` are tried in order (first match wins); `report_order` lists
/// the segments best to worst, "Others" last.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub report_order: Vec<String>,
    pub others_action: String,
    /// The scale the ranges are written on (5 for the built-in table).
    pub scale: u32,
}

pub const OTHERS: &str = "Others";

impl Rules {
    /// The built-in table of docs/metrics.md. Read literally ("first matching row wins" in the
    /// listed order) New, Promising, Can't Lose Them and Lost could never match: Potential
    /// Loyalist, At Risk and Hibernating list before them and contain them. The match order
    /// is therefore the order of `docs/metrics.md` with the hidden segments moved before the ones that
    /// hide them (New, Promising, Lost, Hibernating and About To Sleep before Potential
    /// Loyalist and Need Attention; Can't Lose Them before At Risk), so that every named
    /// segment can occur; the report keeps the order of `docs/metrics.md`.
    pub fn builtin() -> Rules {
        let rule = |name: &str, r, f, m, action: &str| Rule {
            name: name.into(),
            r,
            f,
            m,
            action: action.into(),
        };
        let champions = rule(
            "Champions",
            (4, 5),
            (4, 5),
            (4, 5),
            "reward, early access, ask for referrals",
        );
        let loyal = rule(
            "Loyal",
            (2, 5),
            (3, 5),
            (3, 5),
            "up-sell, loyalty programme",
        );
        let potential = rule(
            "Potential Loyalist",
            (3, 5),
            (1, 3),
            (1, 3),
            "membership offer, recommend other categories (broadening)",
        );
        let new = rule(
            "New",
            (4, 5),
            (1, 1),
            (1, 1),
            "onboarding, first-repeat incentive",
        );
        let promising = rule(
            "Promising",
            (3, 4),
            (1, 1),
            (1, 1),
            "build awareness, trials",
        );
        let attention = rule(
            "Need Attention",
            (2, 3),
            (2, 3),
            (2, 3),
            "time-limited offers based on past purchases",
        );
        let sleep = rule(
            "About To Sleep",
            (2, 3),
            (1, 2),
            (1, 2),
            "reconnect with popular products",
        );
        let at_risk = rule("At Risk", (1, 2), (2, 5), (2, 5), "personalised win-back");
        let cant_lose = rule(
            "Can't Lose Them",
            (1, 1),
            (4, 5),
            (4, 5),
            "win back at any cost, talk to them",
        );
        let hibernating = rule(
            "Hibernating",
            (1, 2),
            (1, 2),
            (1, 2),
            "relevant products, special discount",
        );
        let lost = rule(
            "Lost",
            (1, 1),
            (1, 2),
            (1, 2),
            "low-cost reactivation or let go",
        );
        let report_order = [
            &champions,
            &loyal,
            &potential,
            &new,
            &promising,
            &attention,
            &sleep,
            &at_risk,
            &cant_lose,
            &hibernating,
            &lost,
        ]
        .iter()
        .map(|r| r.name.clone())
        .chain(std::iter::once(OTHERS.to_string()))
        .collect();
        Rules {
            rules: vec![
                champions,
                loyal,
                new,
                promising,
                lost,
                hibernating,
                sleep,
                potential,
                attention,
                cant_lose,
                at_risk,
            ],
            report_order,
            others_action: "review".into(),
            scale: 5,
        }
    }

    /// The segment of a score triple (scores on `bins`), or "Others".
    pub fn segment(&self, r: u32, f: u32, m: u32, bins: u32) -> &str {
        self.rule_of(r, f, m, bins)
            .map_or(OTHERS, |i| self.rules[i].name.as_str())
    }

    /// Each rule's segment (then "Others"'s, last) as its first position in
    /// `report_order`: the segments as small integers ([`Rfm::segment`]).
    fn positions(&self) -> Vec<u16> {
        let at = |name: &str| {
            self.report_order
                .iter()
                .position(|n| n == name)
                .unwrap_or(self.report_order.len()) as u16
        };
        self.rules
            .iter()
            .map(|r| at(&r.name))
            .chain(std::iter::once(at(OTHERS)))
            .collect()
    }

    /// The first rule a score triple (scores on `bins`) matches.
    fn rule_of(&self, r: u32, f: u32, m: u32, bins: u32) -> Option<usize> {
        // The built-in table is written on 1..5; other --bins are mapped onto it by the
        // upper end of each score's quantile range: s5 = ceil(s·5/bins).
        let map = |s: u32| {
            if bins == self.scale {
                s
            } else {
                (s * self.scale).div_ceil(bins)
            }
        };
        let (r, f, m) = (map(r), map(f), map(m));
        self.rules.iter().position(|x| x.matches(r, f, m))
    }

    pub fn action(&self, name: &str) -> &str {
        self.rules
            .iter()
            .find(|x| x.name == name)
            .map_or(self.others_action.as_str(), |x| x.action.as_str())
    }

    /// Parse a rules file (TOML); ranges are checked against `bins`.
    ///
    /// ```toml
    /// others_action = "review"          # optional
    /// [[segment]]
    /// name = "VIP"
    /// r = [4, 5]                        # inclusive range, or one score: r = 5
    /// f = [4, 5]                        # omitted: any score
    /// action = "call them"              # optional
    /// ```
    pub fn parse(text: &str, label: &str, bins: u32) -> Result<Rules> {
        let file: RulesFile = toml::from_str(text)
            .map_err(|e| bad(format!("{label}: {}", e.message().replace('\n', " "))))?;
        if file.segment.is_empty() {
            return Err(bad(format!(
                "{label}: no [[segment]] tables (each needs a name and r/f/m score ranges)"
            )));
        }
        let mut rules = Vec::new();
        for (i, s) in file.segment.into_iter().enumerate() {
            let name = s.name.trim().to_string();
            let what = format!("{label}: segment {} ('{name}')", i + 1);
            if name.is_empty() {
                return Err(bad(format!("{label}: segment {} has an empty name", i + 1)));
            }
            if rules.iter().any(|r: &Rule| r.name == name) {
                return Err(bad(format!("{what}: the name is used twice")));
            }
            let range = |x: Option<ScoreRange>, key: &str| -> Result<(u32, u32)> {
                let (lo, hi) = match x {
                    None => (1, bins as i64),
                    Some(ScoreRange::One(v)) => (v, v),
                    Some(ScoreRange::Two([a, b])) => (a, b),
                };
                if lo < 1 || hi > bins as i64 || lo > hi {
                    return Err(bad(format!(
                        "{what}: {key} = [{lo}, {hi}] is not a range within 1..{bins} \
                         (scores run 1..--bins)"
                    )));
                }
                Ok((lo as u32, hi as u32))
            };
            rules.push(Rule {
                r: range(s.r, "r")?,
                f: range(s.f, "f")?,
                m: range(s.m, "m")?,
                action: s.action.unwrap_or_default(),
                name,
            });
        }
        let mut report_order: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
        if !report_order.iter().any(|n| n == OTHERS) {
            report_order.push(OTHERS.into());
        }
        Ok(Rules {
            rules,
            report_order,
            others_action: file.others_action.unwrap_or_else(|| "review".into()),
            scale: bins,
        })
    }

    pub fn from_file(path: &Path, bins: u32) -> Result<Rules> {
        let label = format!("rules file '{}'", path.display());
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {label}: {e}")))?;
        Rules::parse(&text, &label, bins)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    segment: Vec<SegmentDef>,
    others_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentDef {
    name: String,
    r: Option<ScoreRange>,
    f: Option<ScoreRange>,
    m: Option<ScoreRange>,
    action: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScoreRange {
    One(i64),
    Two([i64; 2]),
}

// ---------------------------------------------------------------------------------------
// The RFM table.

#[derive(Clone, Debug)]
pub struct SegmentParams {
    pub bins: u32,
    pub rules: Rules,
    pub by: Option<String>,
    pub per_customer: bool,
}

impl SegmentParams {
    /// Score levels by default (of the flag, `retention report` and `retention sql`).
    pub const DEFAULT_BINS: u32 = 5;
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            bins: SegmentParams::DEFAULT_BINS,
            rules: Rules::builtin(),
            by: None,
            per_customer: false,
        }
    }
}

/// One scored customer.
#[derive(Clone, Debug, PartialEq)]
pub struct Rfm {
    /// The customer's code in the [`Ids`] the table was built with (its id:
    /// `ids.names[code]`; no string per customer).
    pub code: u32,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary: f64,
    pub r: u32,
    pub f: u32,
    pub m: u32,
    /// The segment: its position in the rules' `report_order` ([`Rfm::segment_name`]).
    pub segment: u16,
}

impl Rfm {
    /// The segment's name.
    pub fn segment_name<'r>(&self, rules: &'r Rules) -> &'r str {
        &rules.report_order[self.segment as usize]
    }

    /// "545"; with more than 9 bins the scores are joined with "-" ("10-4-7").
    pub fn rfm(&self, bins: u32) -> String {
        if bins < 10 {
            format!("{}{}{}", self.r, self.f, self.m)
        } else {
            format!("{}-{}-{}", self.r, self.f, self.m)
        }
    }
}

/// RFM per customer with at least one purchase, sorted by customer id. Recency = days from
/// the last purchase to as-of; frequency = purchases; monetary = net spend (returns
/// included) up to as-of. Customers without a purchase are not scored.
/// Returned with the ids by code.
pub fn rfm_table(
    tx: &DataFrame,
    as_of: NaiveDate,
    bins: u32,
    rules: &Rules,
) -> Result<(Vec<String>, Vec<Rfm>)> {
    let coded = CodedTx::new(tx, None)?;
    let table = rfm_coded(&coded, tx, as_of, bins, rules)?;
    Ok((
        coded.ids.names.iter().map(|s| s.to_string()).collect(),
        table,
    ))
}

/// Per customer code (id order): the table itself, folded in place (`recency_days` holds
/// the last purchase day until [`rfm_from`], `frequency` the purchases), and the net spend.
/// (Folded apart and then copied into the table, both were held at once: 80 bytes a
/// customer at the peak instead of 64.)
struct RfmFold {
    table: Vec<Rfm>,
    spend: Vec<Money>,
}

impl RfmFold {
    fn new(n: usize) -> RfmFold {
        RfmFold {
            table: (0..n as u32)
                .map(|code| Rfm {
                    code,
                    recency_days: i64::MIN,
                    frequency: 0,
                    monetary: 0.0,
                    r: 0,
                    f: 0,
                    m: 0,
                    segment: 0,
                })
                .collect(),
            spend: vec![Money::ZERO; n],
        }
    }

    fn purchase(&mut self, c: u32, d: i32) {
        let e = &mut self.table[c as usize];
        e.recency_days = e.recency_days.max(d as i64);
        e.frequency += 1;
    }

    fn row(&mut self, c: u32, a: f64) {
        self.spend[c as usize] += a;
    }
}

/// [`rfm_table`] from coded transactions, folded straight from their columns.
pub fn rfm_coded(
    coded: &CodedTx,
    tx: &DataFrame,
    as_of: NaiveDate,
    bins: u32,
    rules: &Rules,
) -> Result<Vec<Rfm>> {
    let mut fold = RfmFold::new(coded.ids.len());
    if crate::reports::rows_are_orders(tx) {
        // Every row is an order: one pass folds the rows and, where the amount is not
        // negative, their purchases (the same sums: the rows come in row order either way).
        let days = tx.column("date")?.cast(&DataType::Date)?;
        let amounts = crate::load::amounts::Amounts::of(tx)?;
        for (c, d, a) in coded.coded_rows(days.date()?.physical(), &amounts) {
            if a.is_some_and(|a| a >= 0.0) {
                fold.purchase(c, d);
            }
            fold.row(c, a.unwrap_or(0.0));
        }
    } else {
        coded.each_purchase(tx, |c, d, _| fold.purchase(c, d))?;
        coded.each_tx_row(tx, |c, _, a| fold.row(c, a))?;
    }
    Ok(rfm_from(&coded.ids, fold, as_of, bins, rules))
}

/// [`rfm_coded`] from the purchases already grouped by customer
/// ([`CodedTx::purchases_by_customer`]), so that orders spanning rows are grouped once.
pub fn rfm_grouped(
    coded: &CodedTx,
    tx: &DataFrame,
    bought: &crate::reports::ByCustomer,
    as_of: NaiveDate,
    bins: u32,
    rules: &Rules,
) -> Result<Vec<Rfm>> {
    let mut fold = RfmFold::new(coded.ids.len());
    for c in 0..coded.ids.len() {
        for &d in bought.days(c) {
            fold.purchase(c as u32, d);
        }
    }
    coded.each_tx_row(tx, |c, _, a| fold.row(c, a))?;
    Ok(rfm_from(&coded.ids, fold, as_of, bins, rules))
}

/// [`rfm_table`] from the transactions' and purchases' coded rows ([`CodedTx`]).
pub fn rfm_of(
    ids: &Ids,
    rows: &[(u32, i32, f64)],
    purchases: &[(u32, i32, f64)],
    as_of: NaiveDate,
    bins: u32,
    rules: &Rules,
) -> Vec<Rfm> {
    let mut fold = RfmFold::new(ids.len());
    for &(c, d, _) in purchases {
        fold.purchase(c, d);
    }
    for &(c, _, a) in rows {
        fold.row(c, a);
    }
    rfm_from(ids, fold, as_of, bins, rules)
}

fn rfm_from(ids: &Ids, fold: RfmFold, as_of: NaiveDate, bins: u32, rules: &Rules) -> Vec<Rfm> {
    let asof = days_since_epoch(as_of) as i64;
    let RfmFold { mut table, spend } = fold;
    // (customers without a purchase are not scored; the table keeps its place)
    table.retain(|x| x.frequency > 0);
    for x in table.iter_mut() {
        x.monetary = spend[x.code as usize].total();
        x.recency_days = asof - x.recency_days;
    }
    drop(spend);
    let mut out = table;
    // Ties break by id; ids in code order (the usual case) break them by position, and
    // then no names are gathered.
    let name = |x: &Rfm| ids.names.at(x.code as usize);
    let in_order = out.windows(2).all(|w| name(&w[0]) <= name(&w[1]));
    let names: Vec<&str> = if in_order {
        Vec::new()
    } else {
        out.iter().map(name).collect()
    };
    // One value column at a time, each scored straight from the table (a vector of the
    // values only where ties need the names).
    let score = |out: &[Rfm], value: fn(&Rfm) -> f64, descending: bool| {
        scores_of(
            &names,
            in_order,
            out.len(),
            |i| value(&out[i]),
            descending,
            bins,
        )
    };
    let rs = score(&out, |x| x.recency_days as f64, true);
    out.iter_mut().zip(rs).for_each(|(x, s)| x.r = s);
    let fs = score(&out, |x| x.frequency as f64, false);
    out.iter_mut().zip(fs).for_each(|(x, s)| x.f = s);
    // Money ranks at a grain of a millionth, so that decimal-equal spends tie.
    let ms = score(&out, |x| crate::reports::money::rank_key(x.monetary), false);
    out.iter_mut().zip(ms).for_each(|(x, s)| x.m = s);
    let pos = rules.positions();
    let others = pos[rules.rules.len()];
    for x in out.iter_mut() {
        x.segment = rules
            .rule_of(x.r, x.f, x.m, bins)
            .map_or(others, |k| pos[k]);
    }
    out
}

/// One row of the segment report.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentRow {
    pub group: String,
    pub segment: String,
    pub customers: i64,
    pub share_customers: Option<f64>,
    pub revenue: f64,
    pub share_revenue: Option<f64>,
    pub mean_recency_days: Option<f64>,
    pub mean_frequency: Option<f64>,
    pub mean_monetary: Option<f64>,
    pub action: String,
}

/// Aggregate scored customers per (group, segment); every segment of the table is listed
/// for every group (0 customers included), best to worst. Shares are within the group.
pub fn segment_rows(
    table: &[Rfm],
    names: &Names,
    groups: Option<&HashMap<String, String>>,
    rules: &Rules,
) -> Vec<SegmentRow> {
    // group -> per segment position: (n, revenue, sum recency, sum frequency)
    type Acc = (i64, Money, f64, f64);
    let k = rules.report_order.len();
    let add = |accs: &mut Vec<Acc>, x: &Rfm| {
        let e = &mut accs[x.segment as usize];
        e.0 += 1;
        e.1 += x.monetary;
        e.2 += x.recency_days as f64;
        e.3 += x.frequency as f64;
    };
    let mut acc: BTreeMap<String, Vec<Acc>> = BTreeMap::new();
    match groups {
        None if table.is_empty() => {}
        None => {
            let mut all = vec![Acc::default(); k];
            table.iter().for_each(|x| add(&mut all, x));
            acc.insert(String::new(), all);
        }
        Some(m) => {
            for x in table {
                let g = group_of(m, names.at(x.code as usize));
                add(acc.entry(g).or_insert_with(|| vec![Acc::default(); k]), x);
            }
        }
    }
    // A name listed twice in report_order is one segment, at its first position.
    let first = |name: &str| rules.report_order.iter().position(|n| n == name);
    let mut rows = Vec::new();
    for (g, segs) in &acc {
        let n: i64 = segs.iter().map(|a| a.0).sum();
        let mut rev = Money::ZERO;
        for a in segs {
            rev += a.1;
        }
        let rev = rev.total();
        for name in &rules.report_order {
            let a = first(name).map(|i| segs[i]).unwrap_or_default();
            let revenue = a.1.total();
            let mean = |s: f64| (a.0 > 0).then(|| s / a.0 as f64);
            rows.push(SegmentRow {
                group: g.clone(),
                segment: name.clone(),
                customers: a.0,
                share_customers: (n > 0).then(|| a.0 as f64 / n as f64),
                revenue,
                share_revenue: (rev > 0.0).then(|| revenue / rev),
                mean_recency_days: mean(a.2),
                mean_frequency: mean(a.3),
                mean_monetary: mean(revenue),
                action: rules.action(name).to_string(),
            });
        }
    }
    rows
}

fn rows_frame(rows: &[SegmentRow], by: Option<&str>) -> Result<DataFrame> {
    let mut cols = Vec::new();
    if let Some(b) = by {
        cols.push(column(b, rows, |r| r.group.as_str()));
    }
    cols.push(column("segment", rows, |r| r.segment.as_str()));
    cols.push(column("customers", rows, |r| r.customers));
    cols.push(column("share_customers", rows, |r| r.share_customers));
    cols.push(column("revenue", rows, |r| r.revenue));
    cols.push(column("share_revenue", rows, |r| r.share_revenue));
    cols.push(column("mean_recency_days", rows, |r| r.mean_recency_days));
    cols.push(column("mean_frequency", rows, |r| r.mean_frequency));
    cols.push(column("mean_monetary", rows, |r| r.mean_monetary));
    cols.push(column("action", rows, |r| r.action.as_str()));
    frame_of(cols, by.map(|_| 0), rows.len())
}

fn customers_frame(
    table: &[Rfm],
    names: &Names,
    groups: Option<(&str, &HashMap<String, String>)>,
    rules: &Rules,
    bins: u32,
) -> Result<DataFrame> {
    let mut cols = Vec::new();
    let id = |x: &Rfm| names.at(x.code as usize);
    if let Some((b, m)) = groups {
        cols.push(column(b, table, |x| group_of(m, id(x))));
    }
    cols.push(column("customer_id", table, id));
    cols.push(column("recency_days", table, |x| x.recency_days));
    cols.push(column("frequency", table, |x| x.frequency));
    cols.push(column("monetary", table, |x| x.monetary));
    cols.push(column("r_score", table, |x| x.r as i64));
    cols.push(column("f_score", table, |x| x.f as i64));
    cols.push(column("m_score", table, |x| x.m as i64));
    cols.push(column("rfm", table, |x| x.rfm(bins)));
    cols.push(column("segment", table, |x| x.segment_name(rules)));
    frame_of(cols, groups.map(|_| 0), table.len())
}

fn report_views(rows: &[SegmentRow], p: &SegmentParams, title: &str) -> Vec<View> {
    let mut groups: BTreeMap<&str, Vec<&SegmentRow>> = BTreeMap::new();
    for r in rows {
        groups.entry(r.group.as_str()).or_default().push(r);
    }
    let header: Vec<String> = [
        "segment",
        "customers",
        "% customers",
        "revenue",
        "% revenue",
        "recency (days)",
        "frequency",
        "monetary",
        "action",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (g, rs))| {
            let sub = p.by.as_ref().map(|b| format!("{b} = {g}"));
            let title = match (i, sub) {
                (0, Some(s)) => Some(format!("{title}\n{s}")),
                (0, None) => Some(title.to_string()),
                (_, s) => s,
            };
            View {
                title,
                header: header.clone(),
                rows: rs
                    .iter()
                    .map(|r| {
                        vec![
                            r.segment.clone(),
                            num(r.customers as f64),
                            pct(r.share_customers),
                            num(r.revenue),
                            pct(r.share_revenue),
                            opt(r.mean_recency_days),
                            opt(r.mean_frequency),
                            opt(r.mean_monetary),
                            r.action.clone(),
                        ]
                    })
                    .collect(),
                fixed_columns: 2,
            }
        })
        .collect()
}

/// The `segment` report: the segment table (default) or the per-customer RFM table.
/// Customers in the customers file without a purchase are counted in a note.
pub fn run(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SegmentParams,
) -> Result<Report> {
    Ok(run_rows(tx, customers, as_of, p)?.0)
}

/// [`run`], and the segment table's rows (none with `per_customer`) for [`chart`].
pub fn run_rows(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    as_of: NaiveDate,
    p: &SegmentParams,
) -> Result<(Report, Vec<SegmentRow>)> {
    run_rows_shared(None, tx, customers, as_of, p)
}

/// [`run_rows`] with the ids coded by the caller (transactions and customers).
pub fn run_rows_shared<'a>(
    shared: Option<&CodedTx<'a>>,
    tx: &'a DataFrame,
    customers: Option<&'a DataFrame>,
    as_of: NaiveDate,
    p: &SegmentParams,
) -> Result<(Report, Vec<SegmentRow>)> {
    if p.bins == 0 {
        return Err(bad("--bins must be at least 1"));
    }
    let coded = Coded::or_new(shared, tx, customers)?;
    let table = rfm_coded(&coded, tx, as_of, p.bins, &p.rules)?;
    let all = &coded.ids;
    if table.is_empty() {
        return Err(bad("no customer made a purchase (every order is a return)"));
    }
    let groups =
        p.by.as_deref()
            .map(|b| group_map(&coded, tx, customers, b))
            .transpose()?;
    let mut notes = Vec::new();
    // Customers (transactions and customers file) without a score.
    let unscored = all.len() - table.len();
    if unscored > 0 {
        notes.push(format!(
            "{unscored} customers without a purchase (never bought, or only returns) are not scored"
        ));
    }
    if p.bins != p.rules.scale {
        notes.push(format!(
            "scores run 1..{}; the segment table is written on 1..{} and scores are mapped \
             onto it as ceil(score·{}/{})",
            p.bins, p.rules.scale, p.rules.scale, p.bins
        ));
    }
    if p.per_customer {
        let data = customers_frame(
            &table,
            &all.names,
            p.by.as_deref().zip(groups.as_ref()),
            &p.rules,
            p.bins,
        )?;
        let report = Report {
            data,
            views: vec![],
            percent_columns: vec![],
            notes,
        };
        return Ok((report, Vec::new()));
    }
    let rows = segment_rows(&table, &all.names, groups.as_ref(), &p.rules);
    let data = rows_frame(&rows, p.by.as_deref())?;
    let title = format!(
        "RFM segments of {} customers as of {as_of} (scores 1..{}, {} best)",
        table.len(),
        p.bins,
        p.bins
    );
    let report = Report {
        views: report_views(&rows, p, &title),
        data,
        percent_columns: vec!["share_customers", "share_revenue"],
        notes,
    };
    Ok((report, rows))
}

/// `segment --chart`: share of customers and of revenue per segment (and `--by` group),
/// from the table's rows.
pub fn chart(rows: &[SegmentRow], by: Option<&str>, data: &str, as_of: &str) -> Result<Chart> {
    if rows.is_empty() {
        return Err(bad("--chart: not available with --per-customer"));
    }
    let categories = rows
        .iter()
        .map(|r| match by {
            Some(_) => format!("{} · {}", r.group, r.segment),
            None => r.segment.clone(),
        })
        .collect();
    let label = |n: f64, s: Option<f64>| format!("{} ({})", num(n), pct(s));
    let measure = |name: &str, of: &dyn Fn(&SegmentRow) -> (f64, Option<f64>)| {
        let v: Vec<(f64, Option<f64>)> = rows.iter().map(of).collect();
        (
            name.to_string(),
            v.iter().map(|(_, s)| s.unwrap_or(0.0)).collect(),
            v.iter().map(|(n, s)| label(*n, *s)).collect(),
        )
    };
    Ok(Chart::Bars(BarChart {
        title: format!("Customers and revenue per RFM segment — {data}, as of {as_of}"),
        x_desc: "share of all customers / of all net revenue".into(),
        categories,
        measures: vec![
            measure("customers", &|r| (r.customers as f64, r.share_customers)),
            measure("revenue", &|r| (r.revenue, r.share_revenue)),
        ],
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// customer, date, amount, order, category
    pub(crate) fn tx(rows: &[(&str, &str, f64, &str, &str)]) -> DataFrame {
        let days: Vec<i32> = rows.iter().map(|r| days_since_epoch(d(r.1))).collect();
        DataFrame::new_infer_height(vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new("date".into(), days)
                .cast(&DataType::Date)
                .unwrap(),
            Column::new(
                "amount".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "order_id".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "category".into(),
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn scores_break_ties_by_customer_id() {
        // n = 5, bins = 5: score = rank. Values 10, 10, 5, 20, 10 for ids e, a, c, b, d.
        let ids = ["e", "a", "c", "b", "d"];
        let v = [10.0, 10.0, 5.0, 20.0, 10.0];
        // Ascending: c(5)=1, then the 10s by id: a=2, d=3, e=4, then b(20)=5.
        assert_eq!(scores(&ids, &v, false, 5), vec![4, 2, 1, 5, 3]);
        // Descending: b=1, then the 10s by id a=2, d=3, e=4, then c=5.
        assert_eq!(scores(&ids, &v, true, 5), vec![4, 2, 5, 1, 3]);
        // n = 4, bins = 3: floor((rank-1)*3/4)+1 = 1, 1, 2, 3.
        assert_eq!(
            scores(&["a", "b", "c", "d"], &[1.0, 2.0, 3.0, 4.0], false, 3),
            vec![1, 1, 2, 3]
        );
        // n = 2, bins = 5: ranks 1, 2 → 1 and floor(5/2)+1 = 3.
        assert_eq!(scores(&["a", "b"], &[1.0, 2.0], false, 5), vec![1, 3]);
    }

    /// Ids in order are scored by sorting one integer key per row; that gives the
    /// comparison sort's scores, ties by position, for any values (signed zeros,
    /// infinities, NaN, repeats).
    #[test]
    fn scores_of_ids_in_order_equal_the_comparison_sort() {
        use proptest::prelude::*;
        let value = prop_oneof![
            (-5i32..5).prop_map(|v| v as f64),
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
        ];
        proptest!(|(values in proptest::collection::vec(value, 1..200), bins in 1u32..12)| {
            let names: Vec<String> = (0..values.len()).map(|i| format!("{i:04}")).collect();
            let ids: Vec<&str> = names.iter().map(String::as_str).collect();
            for descending in [false, true] {
                prop_assert_eq!(
                    scores(&ids, &values, descending, bins),
                    scores_by(&values, descending, bins, |a, b| a.cmp(&b))
                );
            }
        });
        let keys: Vec<u64> = [
            f64::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
        ]
        .map(order_key)
        .to_vec();
        assert!(keys.is_sorted_by(|a, b| a < b));
    }

    /// Rows that are orders are folded in one pass (rows and purchases together); the
    /// table equals the one folded from the rows and the purchases collected apart, on
    /// pseudo-random rows with returns, free orders and a null amount.
    #[test]
    fn one_pass_fold_equals_rows_and_purchases_apart() {
        let mut next = crate::reports::lcg(11);
        let n = 2000;
        let ids: Vec<String> = (0..n).map(|_| format!("c{:03}", next(150))).collect();
        let days: Vec<i32> = (0..n).map(|_| 19000 + next(700) as i32).collect();
        let amounts: Vec<Option<f64>> = (0..n)
            .map(|i| (i != 7).then(|| (next(4000) as f64 - 800.0) / 100.0))
            .collect();
        let tx = crate::reports::rows_frame(&ids, &days, &amounts);
        let coded = CodedTx::new(&tx, None).unwrap();
        let as_of = d("2024-12-31");
        let rules = Rules::builtin();
        let one_pass = rfm_coded(&coded, &tx, as_of, 5, &rules).unwrap();
        let rows = coded.tx_rows(&tx).unwrap();
        let purchases = coded.purchases(&tx).unwrap();
        let apart = rfm_of(&coded.ids, &rows, &purchases, as_of, 5, &rules);
        assert_eq!(one_pass, apart);
        assert!(one_pass.len() > 100);
    }

    /// Spends equal to the cent tie, whatever the last binary digit of their sums: a
    /// spent 0.80, b spent 0.70 + 0.10 (0.7999999999999999 in floating point, even summed
    /// exactly); the tie is broken by id, so a ranks below b on monetary.
    #[test]
    fn decimal_equal_spends_tie_and_break_by_id() {
        let t = tx(&[
            ("a", "2024-01-05", 0.8, "o1", "x"),
            ("b", "2024-01-05", 0.7, "o2", "x"),
            ("b", "2024-01-05", 0.1, "o3", "x"),
        ]);
        let (names, rows) = rfm_table(&t, d("2024-04-01"), 2, &Rules::builtin()).unwrap();
        assert!(
            rows[0].monetary > rows[1].monetary,
            "the sums differ in binary"
        );
        let m: Vec<(&str, u32)> = rows
            .iter()
            .map(|x| (names[x.code as usize].as_str(), x.m))
            .collect();
        assert_eq!(m, vec![("a", 1), ("b", 2)]);
        let key = crate::reports::money::rank_key;
        assert_eq!(key(rows[0].monetary), key(rows[1].monetary));
    }

    /// a: 3 purchases (Jan, Feb, Apr 1), 60 → recent and frequent.
    /// b: 2 purchases + a return in March: net 40 + 10 − 10 = 40, last purchase Mar 3.
    /// c: 1 purchase of 50 on Jan 31 (single-purchase customer).
    /// d: 2 purchases of 5 (Feb 1, Mar 15).
    /// e: only a return: not scored.
    pub(crate) fn fixture() -> DataFrame {
        tx(&[
            ("a", "2024-01-05", 10.0, "o1", "apparel"),
            ("a", "2024-02-10", 20.0, "o2", "shoes"),
            ("a", "2024-04-01", 30.0, "o3", "apparel"),
            ("b", "2024-01-20", 40.0, "o4", "home"),
            ("b", "2024-03-03", 10.0, "o5", "home"),
            ("b", "2024-03-04", -10.0, "r5", "home"),
            ("c", "2024-01-31", 50.0, "o6", "beauty"),
            ("d", "2024-02-01", 5.0, "o7", "shoes"),
            ("d", "2024-03-15", 5.0, "o8", "shoes"),
            ("e", "2024-02-02", -5.0, "r9", "shoes"),
        ])
    }

    #[test]
    fn rfm_by_hand() {
        let rules = Rules::builtin();
        let (names, t) = rfm_table(&fixture(), d("2024-04-01"), 5, &rules).unwrap();
        let ids: Vec<&str> = t.iter().map(|x| names[x.code as usize].as_str()).collect();
        assert_eq!(ids, vec!["a", "b", "c", "d"]);
        let rfm: Vec<(i64, i64, f64)> = t
            .iter()
            .map(|x| (x.recency_days, x.frequency, x.monetary))
            .collect();
        assert_eq!(
            rfm,
            vec![(0, 3, 60.0), (29, 2, 40.0), (61, 1, 50.0), (17, 2, 10.0)]
        );
        // n = 4, bins = 5: score by rank 1..4 = 1, 2, 3, 4.
        // Recency descending: c(61)=1, b(29)=2, d(17)=3, a(0)=4.
        // Frequency ascending: c(1)=1, then b, d tied at 2 → b=2, d=3, a(3)=4.
        // Monetary ascending: d(10)=1, b(40)=2, c(50)=3, a(60)=4.
        let s: Vec<String> = t.iter().map(|x| x.rfm(5)).collect();
        assert_eq!(s, vec!["444", "222", "113", "331"]);
        let seg: Vec<&str> = t.iter().map(|x| x.segment_name(&rules)).collect();
        // a 444: Champions. b 222: Hibernating (R1-2 F1-2 M1-2, tried before Need
        // Attention). c 113: R1 F1 M3 matches nothing (Hibernating/Lost need M ≤ 2) →
        // Others. d 331: Potential Loyalist (R3-5 F1-3 M1-3).
        assert_eq!(
            seg,
            vec!["Champions", "Hibernating", "Others", "Potential Loyalist"]
        );
    }

    #[test]
    fn narrow_segments_win_over_wide_ones() {
        let r = Rules::builtin();
        assert_eq!(r.segment(5, 1, 1, 5), "New");
        assert_eq!(r.segment(3, 1, 1, 5), "Promising");
        assert_eq!(r.segment(4, 2, 1, 5), "Potential Loyalist");
        assert_eq!(r.segment(3, 2, 1, 5), "About To Sleep");
        assert_eq!(r.segment(1, 5, 4, 5), "Can't Lose Them");
        assert_eq!(r.segment(2, 5, 4, 5), "Loyal");
        assert_eq!(r.segment(1, 3, 3, 5), "At Risk");
        assert_eq!(r.segment(1, 1, 2, 5), "Lost");
        assert_eq!(r.segment(2, 1, 2, 5), "Hibernating");
        assert_eq!(r.segment(3, 1, 2, 5), "About To Sleep");
        assert_eq!(r.segment(2, 2, 3, 5), "Need Attention");
        assert_eq!(r.segment(1, 2, 1, 5), "Lost");
        assert_eq!(r.segment(5, 5, 1, 5), "Others");
        // Every built-in segment is reachable.
        let mut seen = std::collections::HashSet::new();
        for a in 1..=5 {
            for b in 1..=5 {
                for c in 1..=5 {
                    seen.insert(r.segment(a, b, c, 5).to_string());
                }
            }
        }
        assert_eq!(seen.len(), r.report_order.len(), "{seen:?}");
        // Ten bins map onto five: 10 → 5, 7 → 4, 1 → 1.
        assert_eq!(r.segment(10, 10, 7, 10), "Champions");
        assert_eq!(r.segment(10, 1, 2, 10), "New");
    }

    #[test]
    fn segment_report_by_hand() {
        let rules = Rules::builtin();
        let (names, t) = rfm_table(&fixture(), d("2024-04-01"), 5, &rules).unwrap();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let rows = segment_rows(&t, &Names::from(names), None, &rules);
        assert_eq!(rows.len(), 12);
        assert_eq!(rows[0].segment, "Champions");
        assert_eq!(rows.last().unwrap().segment, "Others");
        let by: HashMap<&str, &SegmentRow> = rows.iter().map(|r| (r.segment.as_str(), r)).collect();
        // Total revenue 60 + 40 + 50 + 10 = 160.
        let ch = by["Champions"];
        assert_eq!((ch.customers, ch.revenue), (1, 60.0));
        assert_eq!(ch.share_customers, Some(0.25));
        assert_eq!(ch.share_revenue, Some(60.0 / 160.0));
        assert_eq!(ch.mean_recency_days, Some(0.0));
        assert_eq!(ch.action, "reward, early access, ask for referrals");
        let lost = by["Lost"];
        assert_eq!((lost.customers, lost.share_customers), (0, Some(0.0)));
        assert_eq!(lost.mean_monetary, None);
        let total: i64 = rows.iter().map(|r| r.customers).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn groups_split_the_report() {
        let rules = Rules::builtin();
        let (names, t) = rfm_table(&fixture(), d("2024-04-01"), 5, &rules).unwrap();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let g: HashMap<String, String> = [("a", "ads"), ("b", "seo"), ("c", "ads")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let rows = segment_rows(&t, &Names::from(names), Some(&g), &rules);
        let groups: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            ["(none)", "ads", "seo"]
        );
        let ads_ch = rows
            .iter()
            .find(|r| r.group == "ads" && r.segment == "Champions")
            .unwrap();
        // ads = a (60) and c (50): shares within the group.
        assert_eq!(ads_ch.share_customers, Some(0.5));
        assert_eq!(ads_ch.share_revenue, Some(60.0 / 110.0));
    }

    #[test]
    fn rules_file_replaces_the_table() {
        let text = "others_action = \"look\"\n\
                    [[segment]]\nname = \"Top\"\nr = [3, 5]\nf = 4\naction = \"thank\"\n\
                    [[segment]]\nname = \"Rest\"\nr = [1, 2]\n";
        let rules = Rules::parse(text, "rules file 'x'", 5).unwrap();
        assert_eq!(rules.segment(4, 4, 1, 5), "Top");
        assert_eq!(rules.segment(2, 5, 5, 5), "Rest");
        // Not covered: R3 with F ≠ 4.
        assert_eq!(rules.segment(3, 1, 1, 5), OTHERS);
        assert_eq!(rules.action(OTHERS), "look");
        assert_eq!(rules.action("Top"), "thank");
        assert_eq!(rules.report_order, vec!["Top", "Rest", "Others"]);
    }

    #[test]
    fn malformed_rules_are_clear_errors() {
        let cases = [
            (
                "[[segment]]\nname = \"X\"\nr = [0, 5]\n",
                "segment 1 ('X'): r = [0, 5]",
            ),
            ("[[segment]]\nname = \"X\"\nf = [4, 2]\n", "f = [4, 2]"),
            ("[[segment]]\nname = \"X\"\nm = 6\n", "m = [6, 6]"),
            ("[[segment]]\nname = \"X\"\nq = 1\n", "unknown field `q`"),
            ("[[segment]]\nr = 1\n", "missing field `name`"),
            ("segment = 3\n", "rules file 'x'"),
            ("", "no [[segment]]"),
            (
                "[[segment]]\nname = \"X\"\n[[segment]]\nname = \"X\"\n",
                "used twice",
            ),
            (
                "[[segment]]\nname = \"X\"\nr = \"high\"\n",
                "rules file 'x'",
            ),
        ];
        for (text, want) in cases {
            let e = Rules::parse(text, "rules file 'x'", 5)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.starts_with("rules file 'x'"), "{e}");
        }
    }

    #[test]
    fn run_reports_unscored_customers() {
        let customers =
            DataFrame::new_infer_height(vec![Column::new("customer_id".into(), ["a", "z"])])
                .unwrap();
        let p = SegmentParams {
            per_customer: true,
            ..Default::default()
        };
        let r = run(&fixture(), Some(&customers), d("2024-04-01"), &p).unwrap();
        assert_eq!(r.data.height(), 4);
        // e (only a return) and z (never bought).
        assert_eq!(
            r.notes,
            vec!["2 customers without a purchase (never bought, or only returns) are not scored"]
        );
        let only_returns = tx(&[("e", "2024-02-02", -5.0, "r9", "x")]);
        let e = run(&only_returns, None, d("2024-04-01"), &p).unwrap_err();
        assert!(e.to_string().contains("no customer made a purchase"));
    }
}
