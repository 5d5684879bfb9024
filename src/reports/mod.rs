//! One module per command; each core is a pure function from input frames and typed
//! parameters to a [`Report`](crate::output::Report).

pub mod cohort;
// issue #3
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
