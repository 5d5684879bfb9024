//! One module per command; each core is a pure function from input frames and typed
//! parameters to a [`Report`](crate::output::Report).

pub mod churn;
pub mod cohort;
pub mod ltv;

pub mod segment;
pub mod summary;
pub mod wallet;
pub mod whatif;

use polars::prelude::*;

/// Orders with a positive net amount (METRICS.md "purchase"): `customer_id`, `date`
/// (the order's first date), `amount` (its net amount). An order is a distinct
/// (customer, order_id), or one row where there is no order id.
pub fn purchases(tx: &DataFrame) -> LazyFrame {
    let lf = tx.clone().lazy();
    let orders = if tx.column("order_id").is_ok() {
        lf.with_row_index("__row", None)
            .with_column(
                when(col("order_id").is_null())
                    .then(col("__row"))
                    .otherwise(lit(NULL).cast(IDX_DTYPE))
                    .alias("__row"),
            )
            .group_by([col("customer_id"), col("order_id"), col("__row")])
            .agg([col("date").min(), col("amount").sum()])
            .select([col("customer_id"), col("date"), col("amount")])
    } else {
        lf.select([col("customer_id"), col("date"), col("amount")])
    };
    orders.filter(col("amount").gt(lit(0.0)))
}

/// An output column computed row by row: `column("revenue", &rows, |r| r.revenue)`.
pub fn column<'a, T, V, P>(name: &str, rows: &'a [T], f: impl FnMut(&'a T) -> V) -> Column
where
    P: ?Sized,
    Series: NamedFrom<Vec<V>, P>,
{
    Column::new(name.into(), rows.iter().map(f).collect::<Vec<V>>())
}

/// Name of the grouping column that [`customer_groups`] produces.
pub const GROUP: &str = "__group";

/// Each customer's value of a grouping column (`--by`/`--group`): `customer_id`,
/// [`GROUP`]. A customers-file column wins; otherwise a transactions column is read from
/// the customer's first transaction that has a value. Empty values count as missing;
/// customers without a value become "(none)" in [`with_group`].
pub fn customer_groups(
    tx: &DataFrame,
    customers: Option<&DataFrame>,
    name: &str,
    flag: &str,
) -> anyhow::Result<LazyFrame> {
    if let Some(c) = customers.filter(|c| c.column(name).is_ok()) {
        return Ok(c
            .clone()
            .lazy()
            .select([col("customer_id"), non_empty(name).alias(GROUP)])
            .filter(col(GROUP).is_not_null())
            .unique_generic(Some(vec![col("customer_id")]), UniqueKeepStrategy::First));
    }
    if tx.column(name).is_ok() {
        return Ok(tx
            .clone()
            .lazy()
            .sort(
                ["date"],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .select([col("customer_id"), non_empty(name).alias(GROUP)])
            .filter(col(GROUP).is_not_null())
            .group_by([col("customer_id")])
            .agg([col(GROUP).first()]));
    }
    let mut cols: Vec<String> = tx
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(c) = customers {
        cols.extend(c.get_column_names().iter().map(|s| s.to_string()));
    }
    Err(crate::error::bad(format!(
        "{flag} {name}: no such column in the customers or transactions file (columns: {})",
        cols.join(", ")
    )))
}

/// A column as strings, with empty strings as null.
fn non_empty(name: &str) -> Expr {
    let v = col(name).cast(DataType::String);
    when(v.clone().eq(lit("")))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(v)
}

/// Left-join `groups` (from [`customer_groups`]) onto `lf` by customer and make the group a
/// string, "(none)" where missing; without groups the group is "".
pub fn with_group(lf: LazyFrame, groups: Option<LazyFrame>) -> LazyFrame {
    match groups {
        None => lf.with_column(lit("").alias(GROUP)),
        Some(g) => lf
            .join(
                g,
                [col("customer_id")],
                [col("customer_id")],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(col(GROUP).cast(DataType::String).fill_null(lit("(none)"))),
    }
}

/// Every purchasing customer's distinct purchase days, in order, with the net amount of
/// the purchases made that day: the input of churn, survival and the BG/NBD summary.
/// Customer `i` owns `days[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histories {
    pub ids: Vec<String>,
    pub groups: Vec<String>,
    pub offsets: Vec<usize>,
    /// Days since 1970-01-01.
    pub days: Vec<i32>,
    pub values: Vec<f64>,
}

impl Histories {
    /// Build from the transactions (purchases only, per METRICS.md), optionally grouped.
    pub fn from_tx(tx: &DataFrame, groups: Option<LazyFrame>) -> anyhow::Result<Histories> {
        let daily = purchases(tx)
            .group_by([col("customer_id"), col("date")])
            .agg([col("amount").sum()]);
        let df = with_group(daily, groups)
            .sort(["customer_id", "date"], SortMultipleOptions::default())
            .collect()?;
        let ids = df.column("customer_id")?.str()?;
        let dates = df.column("date")?.cast(&DataType::Int32)?;
        let dates = dates.i32()?;
        let amounts = df.column("amount")?.f64()?;
        let grp = df.column(GROUP)?.str()?;
        let mut h = Histories::default();
        let mut last: Option<&str> = None;
        for (((id, d), a), g) in ids
            .iter()
            .zip(dates.iter())
            .zip(amounts.iter())
            .zip(grp.iter())
        {
            let (Some(id), Some(d)) = (id, d) else {
                continue;
            };
            if last != Some(id) {
                h.offsets.push(h.days.len());
                h.ids.push(id.to_string());
                h.groups.push(g.unwrap_or_default().to_string());
                last = Some(id);
            }
            h.days.push(d);
            h.values.push(a.unwrap_or(0.0));
        }
        h.offsets.push(h.days.len());
        Ok(h)
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Customer `i`'s purchase days (sorted, distinct).
    pub fn days(&self, i: usize) -> &[i32] {
        &self.days[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Customer `i`'s purchase values per day.
    pub fn values(&self, i: usize) -> &[f64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Whether sorted `days` hold a day in `[from, to)`.
pub fn any_in(days: &[i32], from: i32, to: i32) -> bool {
    let i = days.partition_point(|&d| d < from);
    i < days.len() && days[i] < to
}
pub mod report;
