//! `retention sql REPORT`: the report as one SELECT for a warehouse (docs/metrics.md,
//! section sql). The query's result has the columns and values of `retention REPORT
//! --format csv` on the same rows: the same loading rules (rows with an empty customer,
//! date or amount dropped; `--from`/`--to`; as-of = the latest date unless given, later
//! rows ignored), the same purchases (orders that are not returns) and the same report
//! definitions. Each report is a chain of CTEs over [`Base`]; [`Dialect`] holds the few
//! differences between engines.

pub mod dialect;
mod reports;

use anyhow::Result;
use chrono::NaiveDate;

pub use dialect::Dialect;

use crate::error::bad;
use crate::params::Unit;
use crate::period::Period;
use crate::reports::cohort::CohortParams;
use crate::reports::segment::{Rules, SegmentParams};

/// The reports `retention sql` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SqlReport {
    /// Per customer: frequency, recency, T, monetary_value in --unit (the input of `ltv
    /// --summary FILE`; the columns of `ltv --model bgnbd --per-customer`).
    LtvSummary,
    /// `cohort` (long format).
    Cohort,
    /// `churn` (the period table).
    Churn,
    /// `segment` (the segment report, or --per-customer).
    Segment,
    /// `ltv` (historical curves).
    Ltv,
    /// `summary` (the whole window, or one row per --period).
    Summary,
}

impl SqlReport {
    pub fn name(self) -> &'static str {
        match self {
            SqlReport::LtvSummary => "ltv-summary",
            SqlReport::Cohort => "cohort",
            SqlReport::Churn => "churn",
            SqlReport::Segment => "segment",
            SqlReport::Ltv => "ltv",
            SqlReport::Summary => "summary",
        }
    }
}

/// Where the transactions are and what their columns are called.
#[derive(Clone, Debug)]
pub struct Source {
    pub table: String,
    pub customer: String,
    pub date: String,
    pub amount: String,
    /// Without an order column every row is its own order.
    pub order: Option<String>,
    pub as_of: Option<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The report's own options (each report reads the ones it has).
#[derive(Clone, Debug)]
pub struct SqlParams {
    pub report: SqlReport,
    pub period: Period,
    pub mode: crate::params::CohortMode,
    pub metric: crate::params::CohortMetric,
    pub max_periods: Option<u32>,
    pub per_customer: bool,
    pub bins: u32,
    pub rules: Rules,
    pub unit: Unit,
    pub margin: f64,
    /// summary: one row per period (None: the whole window).
    pub summary_period: Option<Period>,
}

impl SqlParams {
    pub fn new(report: SqlReport) -> SqlParams {
        SqlParams {
            report,
            period: CohortParams::DEFAULT.period,
            mode: CohortParams::DEFAULT.mode,
            metric: CohortParams::DEFAULT.metric,
            max_periods: None,
            per_customer: false,
            bins: SegmentParams::DEFAULT_BINS,
            rules: Rules::builtin(),
            unit: crate::params::ModelParams::DEFAULT.unit,
            margin: 1.0,
            summary_period: None,
        }
    }
}

/// The query under construction: CTEs in order, then the final SELECT.
pub(crate) struct Query {
    pub d: Dialect,
    ctes: Vec<(String, String)>,
}

impl Query {
    pub fn cte(&mut self, name: &str, body: impl Into<String>) {
        self.ctes.push((name.to_string(), body.into()));
    }

    pub fn finish(self, select: &str, header: &str) -> String {
        let mut s = String::from(header);
        s.push_str("WITH\n");
        let n = self.ctes.len();
        for (i, (name, body)) in self.ctes.into_iter().enumerate() {
            let body = body.trim().replace('\n', "\n  ");
            s.push_str(&format!("{name} AS (\n  {body}\n)"));
            s.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        s.push_str(select.trim());
        s.push('\n');
        s
    }

    /// A date literal.
    pub fn date(&self, d: NaiveDate) -> String {
        format!("DATE '{}'", d.format("%Y-%m-%d"))
    }

    /// An output column alias, quoted (so that the names keep their case everywhere).
    pub fn out(&self, name: &str) -> String {
        self.d.ident(name)
    }
}

/// The base CTEs every report starts from:
/// - `tx`: the rows kept (`cid`, `d`, `amt`, optional `oid`), as the loader keeps them;
/// - `cutoff`: one row, `cutoff_d`, the as-of date;
/// - `purchases`: one row per purchase (`cid`, `d` its first date, `amt` its net amount).
pub(crate) fn base(d: Dialect, src: &Source) -> Query {
    let mut q = Query {
        d,
        ctes: Vec::new(),
    };
    let mut cols = vec![
        format!("{} AS cid", d.text(&d.ident(&src.customer))),
        format!("CAST({} AS DATE) AS d", d.ident(&src.date)),
        format!("{} AS amt", d.float(&d.ident(&src.amount))),
    ];
    if let Some(o) = &src.order {
        // An empty order id is no order id (docs/metrics.md), as an empty CSV field.
        cols.push(format!("NULLIF({}, '') AS oid", d.text(&d.ident(o))));
    }
    q.cte(
        "src",
        format!(
            "SELECT {}\nFROM {}",
            cols.join(",\n  "),
            d.table(&src.table)
        ),
    );
    let mut keep = vec![
        "cid IS NOT NULL".to_string(),
        "TRIM(cid) <> ''".to_string(),
        "d IS NOT NULL".to_string(),
        "amt IS NOT NULL".to_string(),
    ];
    if let Some(f) = src.from {
        keep.push(format!("d >= {}", q.date(f)));
    }
    if let Some(t) = src.to {
        keep.push(format!("d <= {}", q.date(t)));
    }
    q.cte(
        "kept",
        format!("SELECT * FROM src\nWHERE {}", keep.join("\n  AND ")),
    );
    match src.as_of {
        Some(a) => {
            let lit = q.date(a);
            q.cte("cutoff", format!("SELECT {lit} AS cutoff_d"));
        }
        None => q.cte("cutoff", "SELECT MAX(d) AS cutoff_d FROM kept"),
    }
    q.cte(
        "tx",
        "SELECT k.* FROM kept k CROSS JOIN cutoff c WHERE k.d <= c.cutoff_d",
    );
    let purchases = match &src.order {
        // An order is a distinct (customer, order id), or one row without an order id; it
        // is a return when it has a negative line and a net amount <= 0 (up to
        // NET_TOLERANCE of its gross amount, as natively).
        Some(_) => format!(
            "SELECT cid, MIN(d) AS d, SUM(amt) AS amt FROM tx\n\
             WHERE oid IS NOT NULL\n\
             GROUP BY cid, oid\n\
             HAVING MIN(amt) >= 0 OR SUM(amt) > {:e} * SUM(ABS(amt))\n\
             UNION ALL\n\
             SELECT cid, d, amt FROM tx WHERE oid IS NULL AND amt >= 0",
            crate::reports::NET_TOLERANCE
        ),
        None => "SELECT cid, d, amt FROM tx WHERE amt >= 0".to_string(),
    };
    q.cte("purchases", purchases);
    q
}

/// The query of `p.report` over `src` in dialect `d`.
pub fn query(d: Dialect, src: &Source, p: &SqlParams) -> Result<String> {
    if src.table.trim().is_empty() {
        return Err(bad("--table: empty table name"));
    }
    let header = format!(
        "-- retention sql {} --dialect {}: the columns and values of \
         `retention {}{} --format csv`\n",
        p.report.name(),
        d.name(),
        match p.report {
            SqlReport::LtvSummary => "ltv --model bgnbd --per-customer",
            r => r.name(),
        },
        if p.per_customer && p.report == SqlReport::Segment {
            " --per-customer"
        } else {
            ""
        }
    );
    let q = base(d, src);
    let sql = match p.report {
        SqlReport::LtvSummary => reports::ltv_summary(q, p, &header),
        SqlReport::Cohort => reports::cohort(q, p, &header),
        SqlReport::Churn => reports::churn(q, p, &header),
        SqlReport::Segment => reports::segment(q, p, &header),
        SqlReport::Ltv => reports::ltv(q, p, &header),
        SqlReport::Summary => reports::summary(q, p, &header),
    };
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{CohortMetric, CohortMode};

    fn src(order: bool) -> Source {
        Source {
            table: "shop.tx".into(),
            customer: "customer_id".into(),
            date: "order_date".into(),
            amount: "amount".into(),
            order: order.then(|| "order_id".into()),
            as_of: None,
            from: None,
            to: None,
        }
    }

    /// Every report, with each of its options, parses in every dialect.
    #[test]
    fn every_query_parses_in_its_dialect() {
        let mut cases = Vec::new();
        for period in [
            Period::Day,
            Period::Week,
            Period::Month,
            Period::Quarter,
            Period::Year,
        ] {
            for mode in [CohortMode::Classic, CohortMode::Rolling] {
                let mut p = SqlParams::new(SqlReport::Cohort);
                p.period = period;
                p.mode = mode;
                p.metric = CohortMetric::Revenue;
                p.max_periods = Some(3);
                cases.push(p);
            }
            let mut p = SqlParams::new(SqlReport::Churn);
            p.period = period;
            cases.push(p);
            let mut p = SqlParams::new(SqlReport::Ltv);
            p.period = period;
            p.margin = 0.3;
            cases.push(p);
            let mut p = SqlParams::new(SqlReport::Summary);
            p.summary_period = Some(period);
            cases.push(p);
        }
        for per_customer in [false, true] {
            for bins in [5, 3, 12] {
                let mut p = SqlParams::new(SqlReport::Segment);
                p.per_customer = per_customer;
                p.bins = bins;
                cases.push(p);
            }
        }
        cases.push(SqlParams::new(SqlReport::Summary));
        for unit in [Unit::Day, Unit::Week] {
            let mut p = SqlParams::new(SqlReport::LtvSummary);
            p.unit = unit;
            cases.push(p);
        }
        for d in Dialect::ALL {
            for order in [false, true] {
                let mut s = src(order);
                s.as_of = NaiveDate::from_ymd_opt(2024, 10, 15);
                s.from = NaiveDate::from_ymd_opt(2023, 2, 1);
                for p in &cases {
                    let sql = query(d, &s, p).unwrap();
                    if let Err(e) = d.parse(&sql) {
                        panic!("{} {:?} does not parse: {e}\n{sql}", d.name(), p.report);
                    }
                }
            }
        }
    }

    #[test]
    fn quoting_per_dialect() {
        assert_eq!(Dialect::Duckdb.table("a.b"), "\"a\".\"b\"");
        assert_eq!(Dialect::Spark.ident("x`y"), "`x``y`");
        assert_eq!(Dialect::Bigquery.string("Can't"), "'Can\\'t'");
        assert_eq!(Dialect::Postgres.string("Can't"), "'Can''t'");
        assert_eq!(
            Dialect::Spark.string("Can't"),
            "CONCAT('Can', CHR(39), 't')"
        );
        assert_eq!(Dialect::Spark.string("plain"), "'plain'");
    }
}
