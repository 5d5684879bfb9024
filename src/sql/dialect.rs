//! The few places where the five SQL dialects differ: identifier quoting, string
//! literals, type names, day arithmetic, integer division and integer series.

use crate::period::Period;

/// A SQL engine that `retention sql` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    Duckdb,
    /// Spark SQL (Databricks, EMR, pyspark).
    Spark,
    Bigquery,
    Snowflake,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Duckdb,
        Dialect::Spark,
        Dialect::Bigquery,
        Dialect::Snowflake,
        Dialect::Postgres,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Duckdb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::Bigquery => "bigquery",
            Dialect::Snowflake => "snowflake",
            Dialect::Postgres => "postgres",
        }
    }

    /// A quoted identifier (one part; see [`Dialect::table`] for dotted names).
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark | Dialect::Bigquery => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A table name: each dot-separated part quoted (`db.schema.table`).
    pub fn table(self, name: &str) -> String {
        name.split('.')
            .map(|p| self.ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A string literal. BigQuery reads `''` as two adjacent literals, so it gets a
    /// backslash escape; Spark (which would concatenate them) gets `CHR(39)` pieces.
    pub fn string(self, s: &str) -> String {
        match self {
            Dialect::Bigquery => {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
            Dialect::Spark if s.contains(['\'', '\\']) => {
                let mut parts = Vec::new();
                let mut cur = String::new();
                for ch in s.chars() {
                    match ch {
                        '\'' | '\\' => {
                            parts.push(format!("'{cur}'"));
                            parts.push(format!("CHR({})", ch as u32));
                            cur.clear();
                        }
                        c => cur.push(c),
                    }
                }
                parts.push(format!("'{cur}'"));
                format!("CONCAT({})", parts.join(", "))
            }
            Dialect::Snowflake => {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
            }
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    pub fn text_type(self) -> &'static str {
        match self {
            Dialect::Spark | Dialect::Bigquery => "STRING",
            _ => "VARCHAR",
        }
    }

    pub fn float_type(self) -> &'static str {
        match self {
            Dialect::Bigquery => "FLOAT64",
            Dialect::Postgres => "DOUBLE PRECISION",
            _ => "DOUBLE",
        }
    }

    pub fn int_type(self) -> &'static str {
        "BIGINT"
    }

    /// `e` rounded to 6 decimals (PostgreSQL rounds only NUMERIC to a number of places).
    pub fn round6(self, e: &str) -> String {
        match self {
            Dialect::Postgres => format!("ROUND(CAST({e} AS NUMERIC), 6)"),
            _ => format!("ROUND({e}, 6)"),
        }
    }

    /// `CAST(e AS DOUBLE)` (so that a division is never an integer division).
    pub fn float(self, e: &str) -> String {
        format!("CAST({e} AS {})", self.float_type())
    }

    pub fn int(self, e: &str) -> String {
        format!("CAST({e} AS {})", self.int_type())
    }

    pub fn text(self, e: &str) -> String {
        format!("CAST({e} AS {})", self.text_type())
    }

    /// Days from 1970-01-01 to the date `d` (an integer).
    pub fn days(self, d: &str) -> String {
        match self {
            Dialect::Duckdb => format!("DATE_DIFF('day', DATE '1970-01-01', {d})"),
            Dialect::Spark => format!("DATEDIFF({d}, DATE '1970-01-01')"),
            Dialect::Bigquery => format!("UNIX_DATE({d})"),
            Dialect::Snowflake => format!("DATEDIFF(day, DATE '1970-01-01', {d})"),
            Dialect::Postgres => format!("({d} - DATE '1970-01-01')"),
        }
    }

    /// The date `n` days after 1970-01-01.
    pub fn from_days(self, n: &str) -> String {
        match self {
            Dialect::Duckdb => format!("CAST(DATE '1970-01-01' + CAST({n} AS INTEGER) AS DATE)"),
            Dialect::Spark => format!("DATE_ADD(DATE '1970-01-01', CAST({n} AS INT))"),
            Dialect::Bigquery => format!("DATE_FROM_UNIX_DATE(CAST({n} AS INT64))"),
            Dialect::Snowflake => format!("DATEADD(day, {n}, DATE '1970-01-01')"),
            Dialect::Postgres => format!("(DATE '1970-01-01' + CAST({n} AS INTEGER))"),
        }
    }

    /// A date part as an integer (`YEAR`, `MONTH`, `DAY`).
    pub fn part(self, part: &str, d: &str) -> String {
        format!("CAST(EXTRACT({part} FROM {d}) AS INTEGER)")
    }

    fn day_of_year(self, d: &str) -> String {
        match self {
            Dialect::Bigquery | Dialect::Snowflake => self.part("DAYOFYEAR", d),
            _ => self.part("DOY", d),
        }
    }

    /// Floor division of integers (the operands here are never negative).
    pub fn div(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Duckdb => format!("(({a}) // ({b}))"),
            _ => self.int(&format!("FLOOR({} / ({b}))", self.float(a))),
        }
    }

    /// A subquery with one row per integer `i` in `lo..=hi`, where `lo` and `hi` are
    /// columns of the one-row relation `from`.
    pub fn series(self, lo: &str, hi: &str, from: &str) -> String {
        match self {
            Dialect::Duckdb => format!("SELECT UNNEST(RANGE({lo}, {hi} + 1)) AS i FROM {from}"),
            Dialect::Spark => format!("SELECT EXPLODE(SEQUENCE({lo}, {hi})) AS i FROM {from}"),
            Dialect::Bigquery => {
                format!("SELECT i FROM {from} CROSS JOIN UNNEST(GENERATE_ARRAY({lo}, {hi})) AS i")
            }
            Dialect::Snowflake => format!(
                "SELECT CAST(f.value AS INTEGER) AS i FROM {from}, \
                 LATERAL FLATTEN(INPUT => ARRAY_GENERATE_RANGE({lo}, {hi} + 1)) f"
            ),
            Dialect::Postgres => format!("SELECT GENERATE_SERIES({lo}, {hi}) AS i FROM {from}"),
        }
    }

    /// The period index of date `d`, as [`Period::index`] numbers periods: consecutive
    /// periods differ by 1.
    pub fn period_index(self, period: Period, d: &str) -> String {
        let year = || self.part("YEAR", d);
        let month0 = || format!("({} - 1)", self.part("MONTH", d));
        match period {
            Period::Day => self.days(d),
            // ISO weeks since the week of 1970-01-01 (a Thursday), shifted positive so
            // that the division floors.
            Period::Week => format!(
                "({} - 10000)",
                self.div(&format!("{} + 70003", self.days(d)), "7")
            ),
            Period::Month => format!("({} * 12 + {})", year(), month0()),
            Period::Quarter => format!("({} * 4 + {})", year(), self.div(&month0(), "3")),
            Period::Year => year(),
        }
    }

    /// The label of period index `i` (docs/metrics.md): `2024-01-15`, `2024-W03`,
    /// `2024-01`, `2024-Q1`, `2024`.
    pub fn period_label(self, period: Period, i: &str) -> String {
        let pad2 = |e: &str| format!("LPAD({}, 2, '0')", self.text(e));
        match period {
            Period::Day => {
                let d = self.from_days(i);
                format!(
                    "CONCAT({}, '-', {}, '-', {})",
                    self.text(&self.part("YEAR", &d)),
                    pad2(&self.part("MONTH", &d)),
                    pad2(&self.part("DAY", &d))
                )
            }
            Period::Week => {
                // The Thursday of ISO week i decides its year and number.
                let thu = self.from_days(&format!("({i}) * 7"));
                let week = format!(
                    "{} + 1",
                    self.div(&format!("{} - 1", self.day_of_year(&thu)), "7")
                );
                format!(
                    "CONCAT({}, '-W', {})",
                    self.text(&self.part("YEAR", &thu)),
                    pad2(&week)
                )
            }
            Period::Month => {
                let y = self.div(i, "12");
                format!(
                    "CONCAT({}, '-', {})",
                    self.text(&y),
                    pad2(&format!("({i}) - 12 * {y} + 1"))
                )
            }
            Period::Quarter => {
                let y = self.div(i, "4");
                format!(
                    "CONCAT({}, '-Q', {})",
                    self.text(&y),
                    self.text(&format!("({i}) - 4 * {y} + 1"))
                )
            }
            Period::Year => self.text(i),
        }
    }

    /// The first day of period index `i`, as a DATE.
    pub fn period_start(self, period: Period, i: &str) -> String {
        let iso = |y: String, m: String| {
            format!(
                "CAST(CONCAT({}, '-', LPAD({}, 2, '0'), '-01') AS DATE)",
                self.text(&y),
                self.text(&m)
            )
        };
        match period {
            Period::Day => self.from_days(i),
            Period::Week => self.from_days(&format!("({i}) * 7 - 3")),
            Period::Month => {
                let y = self.div(i, "12");
                iso(y.clone(), format!("({i}) - 12 * {y} + 1"))
            }
            Period::Quarter => {
                let y = self.div(i, "4");
                iso(y.clone(), format!("3 * (({i}) - 4 * {y}) + 1"))
            }
            Period::Year => iso(i.to_string(), "1".to_string()),
        }
    }

    /// Parse `sql` with this dialect's sqlparser grammar.
    pub fn parse(self, sql: &str) -> Result<(), String> {
        use sqlparser::dialect as d;
        use sqlparser::parser::Parser;
        let res = match self {
            Dialect::Duckdb => Parser::parse_sql(&d::DuckDbDialect {}, sql),
            Dialect::Spark => Parser::parse_sql(&d::SparkSqlDialect {}, sql),
            Dialect::Bigquery => Parser::parse_sql(&d::BigQueryDialect {}, sql),
            Dialect::Snowflake => Parser::parse_sql(&d::SnowflakeDialect {}, sql),
            Dialect::Postgres => Parser::parse_sql(&d::PostgreSqlDialect {}, sql),
        };
        match res {
            Ok(stmts) if stmts.len() == 1 => Ok(()),
            Ok(stmts) => Err(format!("{} statements, expected one", stmts.len())),
            Err(e) => Err(e.to_string()),
        }
    }
}
