//! Command-line interface: global input/output flags and one Args struct per command.
//! Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::params::{
    AtRiskModel, ChurnCommandParams, CohortBy, CohortMetric, CohortMode, LtvModel, LtvParams,
    ModelParams, ReportFormat, Unit,
};
use crate::reports::cohort::CohortParams;
use crate::reports::segment::SegmentParams;
use crate::reports::subscriptions::{SbgOptions, SubsParams};
use crate::reports::summary::SummaryParams;
use crate::reports::whatif::WhatifParams;

use crate::output::Format;
use crate::period::Period;

const EXIT_CODES: &str = "\
Exit codes: 0 ok, 2 bad input or usage (the message names the file, column and row),
1 internal error.";

/// Customer-retention analytics over CSV and Parquet exports.
#[derive(Parser, Debug)]
#[command(name = "retention", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress indicator on stderr (it only ever shows on a terminal, after a second).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Cohort retention: of the customers who started in a period, the share active in
    /// each later period (customers or revenue; classic or rolling).
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention cohort -t examples/shop/transactions.csv\n",
        "  retention cohort -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --by signup --group channel --period quarter\n",
        "  retention cohort -t examples/shop/transactions.csv --metric revenue -o cohorts.parquet\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Cohort(CohortArgs),
    /// Retention and churn per period, customer survival curves (Kaplan–Meier), and the
    /// customers slipping away (lowest probability of being alive).
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention churn -t examples/shop/transactions.csv\n",
        "  retention churn -t examples/shop/transactions.csv --period quarter --inactive-after 90d\n",
        "  retention churn -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --survival --by channel\n",
        "  retention churn -t examples/shop/transactions.csv --at-risk --top 10\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Churn(ChurnArgs),
    /// Customer lifetime value: historical LTV curves per cohort (and LTV:CAC), or predicted
    /// with the BG/NBD and Gamma-Gamma models.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention ltv -t examples/shop/transactions.csv -c examples/shop/customers.csv --by channel\n",
        "  retention ltv -t examples/shop/transactions.csv --model bgnbd --verbose\n",
        "  retention ltv -t examples/shop/transactions.csv --model bgnbd --per-customer -o clv.csv\n",
        "  retention ltv -t examples/shop/transactions.csv --model bgnbd --calibration-end 2024-06-30\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Ltv(LtvArgs),

    /// RFM segmentation: recency, frequency and monetary scores per customer and named
    /// segments (Champions, Loyal, At Risk, ...) with the CRM action for each.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention segment -t examples/shop/transactions.csv\n",
        "  retention segment -t examples/shop/transactions.csv --per-customer -o rfm.csv\n",
        "  retention segment -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --by channel --rules my_segments.toml\n\n",
        "Rules file (TOML): [[segment]] tables tried in order, first match wins:\n",
        "  [[segment]]\n",
        "  name = \"VIP\"\n",
        "  r = [4, 5]        # inclusive score range, or one score (r = 5); omitted: any\n",
        "  f = [4, 5]\n",
        "  action = \"personal thank-you call\"\n",
        "Unmatched score combinations go to \"Others\" (action: others_action = \"...\").\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Segment(SegmentArgs),
    /// The 5/25 rule on your data: customer lifetime value and customer equity at the
    /// measured annual retention and at a lifted one (CLV = m·r/(1+d−r)).
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention whatif -t examples/shop/transactions.csv\n",
        "  retention whatif -t examples/shop/transactions.csv --margin 0.3 --lift 0.05\n",
        "  retention whatif -t examples/shop/transactions.csv --retention 0.6 --discount-rate 0.08\n\n",
        "r is measured as: of the customers active in the 12 months before the last 12 months,\n",
        "the share active in the last 12 months (as-of ends the last 12 months).\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Whatif(WhatifArgs),
    /// KPI table: customers, active, new, retention and churn, repeat purchase rate,
    /// orders, revenue, AOV, purchase frequency, conversion, CAC and historical LTV, over
    /// the whole window or one row per period.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention summary -t examples/shop/transactions.csv\n",
        "  retention summary -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --period quarter --by channel\n",
        "  retention summary -t examples/shop/transactions.csv --period month -o kpis.parquet\n\n",
        "KPIs whose inputs are missing (conversion_rate needs signup_date, cac and ltv_cac need\n",
        "acquisition_cost in a customers file) are left out, with one note on stderr.\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Summary(SummaryArgs),
    /// Share of wallet (with a wallet file, or estimated), share of customer per category,
    /// breadth, cross-sell rate and depth (up-sell), per customer or as an overview.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention wallet -t examples/shop/transactions.csv --estimate-wallet\n",
        "  retention wallet -t examples/shop/transactions.csv --wallet wallet.csv --per-customer\n",
        "  retention wallet -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --by channel --estimate-wallet\n\n",
        "Wallet file: customer_id, optional category, wallet (the customer's total spend, in that\n",
        "category, at all vendors over the window). CSV, TSV or Parquet.\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Wallet(WalletArgs),
    /// A profile of the input before any report: rows, customers, dates, purchases and
    /// returns, repeat and one-time customers, the median inter-purchase time, the
    /// regularity of buying (Wheat & Morrison's k), duplicates, dropped rows, the column
    /// mapping and the date format.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention describe -t examples/shop/transactions.csv\n",
        "  retention describe -t examples/shop/transactions.csv -f json\n",
        "  retention describe -t examples/shop/transactions.csv --chart profile.png\n\n",
        "A purchase is an order that is not a return (a negative line and a net amount <= 0);\n",
        "free orders are purchases. regularity_k ~ 1: Poisson-like buying (BG/NBD, Pareto/NBD);\n",
        "k clearly above 1: more regular buying (k ~ 2: Erlang-2).\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Describe(DescribeArgs),
    /// A report as one SQL SELECT for the warehouse (DuckDB, Spark, BigQuery, Snowflake,
    /// Postgres): its result has the columns and values of `retention REPORT --format csv`
    /// on the same rows.
    #[command(after_help = SQL_HELP)]
    Sql(SqlArgs),
    /// Subscriptions from invoice lines: MRR movements (new, expansion, contraction, churn,
    /// reactivation), logo and MRR churn rates, quick ratio, NRR/GRR, MRR cohorts, and the
    /// sBG retention projection.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention subscriptions -t examples/saas/invoice_lines.csv\n",
        "  retention subscriptions -t examples/saas/invoice_lines.csv --period quarter --by plan\n",
        "  retention subscriptions -t examples/saas/invoice_lines.csv --cohort --chart cohorts.svg\n",
        "  retention subscriptions -t examples/saas/invoice_lines.csv --model sbg --horizon 24\n\n",
        "Input: invoice lines with customer_id, date, amount and optionally period_start and\n",
        "period_end (the service period; also service_start/_end, current_period_start/_end,\n",
        "start_date/end_date, ...), plan and subscription_id. A line without a service period\n",
        "serves one calendar month from its date. MRR at a day = the sum over the lines serving\n",
        "it of amount / max(1, round(days / 30.4375)), 0 when not positive.\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Subscriptions(SubscriptionsArgs),

    // ---- report, completions, man page ----
    /// Every report at once into a directory: one CSV (or Parquet) per report, summary.json,
    /// the charts and a self-contained index.html; swapped in atomically when complete.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention report -t examples/shop/transactions.csv -c examples/shop/customers.csv \\\n",
        "      --out /tmp/retention-report\n",
        "  retention report -t examples/shop/transactions.csv --out report --format parquet\n\n",
        "Nightly (cron):\n",
        "  0 2 * * * retention report -t /data/transactions.csv -c /data/customers.csv \\\n",
        "      --out /var/reports/retention --quiet\n\n",
        "The report is written to a temporary directory beside DIR and renamed into place only\n",
        "when complete: on failure the previous report is left untouched.\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Report(ReportArgs),
    /// Shell completion script on stdout (bash, zsh, fish, powershell, elvish).
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention completions bash > ~/.local/share/bash-completion/completions/retention\n",
        "  retention completions zsh > ~/.zfunc/_retention   # with fpath+=(~/.zfunc)\n",
        "  retention completions fish > ~/.config/fish/completions/retention.fish\n",
        "  retention completions powershell >> $PROFILE\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Completions(CompletionsArgs),
    /// Man page (roff) on stdout, or one page per command into a directory.
    #[command(after_help = concat!(
        "Examples:\n",
        "  retention man | man -l -\n",
        "  retention man --dir /usr/local/share/man/man1\n\n",
        "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
    ))]
    Man(ManArgs),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Cohort(_) => "cohort",
            Command::Churn(_) => "churn",
            Command::Ltv(_) => "ltv",
            Command::Segment(_) => "segment",
            Command::Whatif(_) => "whatif",
            Command::Summary(_) => "summary",
            Command::Wallet(_) => "wallet",
            Command::Describe(_) => "describe",
            Command::Sql(_) => "sql",
            Command::Subscriptions(_) => "subscriptions",
            Command::Report(_) => "report",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// Where the data comes from and how to read it (shared by every command).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Transactions: a file (.csv, .csv.gz, .tsv, .parquet, .xlsx, .xls, .ods), a glob
    /// ('exports/*.csv', quoted), a directory (every data file below it; Hive-style
    /// key=value folders become columns), or - for CSV on stdin. Repeat -t to read several
    /// as one table (same columns, matched by name).
    #[arg(short = 't', long, value_name = "PATH", action = clap::ArgAction::Append)]
    pub transactions: Vec<String>,
    /// Customers file(s) (customer_id, signup_date, channel, acquisition_cost, ...): the
    /// same forms as -t, repeatable.
    #[arg(short = 'c', long, value_name = "PATH", action = clap::ArgAction::Append)]
    pub customers: Vec<String>,
    /// Config file (TOML) with column mappings and reading options [default: ./retention.toml
    /// if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CSV files have no header row (columns are then named column_1, column_2, ...).
    #[arg(long)]
    pub no_header: bool,
    /// CSV delimiter: one character or "tab" [default: detected among , ; tab |].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Date format when detection cannot decide: chrono syntax (%d/%m/%Y), or iso, dmy,
    /// mdy, epoch.
    #[arg(long, value_name = "FMT")]
    pub date_format: Option<String>,
    /// Amounts use a decimal comma (1.234,50).
    #[arg(long)]
    pub decimal_comma: bool,
    /// Text encoding of CSV input: any WHATWG label (windows-1252, latin1, windows-874,
    /// tis-620, shift_jis, gb18030, utf-16le, ...) [default: UTF-8, checked; a UTF-16
    /// byte-order mark is decoded without asking].
    #[arg(long, value_name = "LABEL")]
    pub encoding: Option<String>,
    /// Pad rows with fewer fields than the header and cut rows with more (one warning
    /// gives the count and the first line) instead of refusing the file.
    #[arg(long)]
    pub flexible: bool,
    /// Excel/OpenDocument workbooks: the sheet to read [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// End of observation [default: the latest transaction date]. Later rows are ignored.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Ignore transactions before this date.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Ignore transactions after this date.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Column holding the customer id.
    #[arg(long, value_name = "NAME")]
    pub customer_col: Option<String>,
    /// Column holding the transaction date.
    #[arg(long, value_name = "NAME")]
    pub date_col: Option<String>,
    /// Column holding the net amount.
    #[arg(long, value_name = "NAME")]
    pub amount_col: Option<String>,
    /// Column holding the order (invoice) id.
    #[arg(long, value_name = "NAME")]
    pub order_col: Option<String>,
    /// Column holding the product category.
    #[arg(long, value_name = "NAME")]
    pub category_col: Option<String>,
    /// Column holding the quantity (amount = price × quantity when there is no amount).
    #[arg(long, value_name = "NAME")]
    pub quantity_col: Option<String>,
    /// Column holding the unit price.
    #[arg(long, value_name = "NAME")]
    pub price_col: Option<String>,
    /// Customers file: column holding the signup date.
    #[arg(long, value_name = "NAME")]
    pub signup_col: Option<String>,
    /// Customers file: column holding the acquisition channel.
    #[arg(long, value_name = "NAME")]
    pub channel_col: Option<String>,
    /// Customers file: column holding the acquisition cost.
    #[arg(long, value_name = "NAME")]
    pub cost_col: Option<String>,
    /// Fail on rows that would otherwise be dropped with a warning (empty customer id,
    /// date or amount) and on exact duplicate rows.
    #[arg(long)]
    pub strict: bool,
    /// Drop exact duplicate transaction rows (they are kept, with a warning, by default).
    #[arg(long)]
    pub dedupe: bool,
    /// Print the column mapping and reading decisions on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

/// How and where to write the result (shared by every command).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format [default: from the -o extension; else table on a terminal, csv when
    /// piped].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
    /// Write to FILE (atomically: a temporary file renamed when complete).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct CohortArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Period length.
    #[arg(long, value_enum, default_value_t = CohortParams::DEFAULT.period)]
    pub period: Period,
    /// What defines a customer's cohort.
    #[arg(long, value_enum, default_value_t = CohortParams::DEFAULT.by)]
    pub by: CohortBy,
    /// Classic or rolling retention.
    #[arg(long, value_enum, default_value_t = CohortParams::DEFAULT.mode)]
    pub mode: CohortMode,
    /// What the table shows (machine formats always carry both).
    #[arg(long, value_enum, default_value_t = CohortParams::DEFAULT.metric)]
    pub metric: CohortMetric,
    /// Show period indices k = 0..=N only.
    #[arg(long, value_name = "N")]
    pub max_periods: Option<u32>,
    /// One matrix per value of this customers or transactions column (e.g. channel).
    #[arg(long, value_name = "COL")]
    pub group: Option<String>,

    #[command(flatten)]
    pub chart: ChartArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Period length (and, for --survival, the step of the curve: day 1, week 7, month 30,
    /// quarter 91, year 365 days).
    #[arg(long, value_enum, default_value_t = ChurnCommandParams::DEFAULT.period)]
    pub period: Period,
    /// A customer is active while their last purchase is less than this old (90d, 8w, 3m,
    /// 1y) [default: one period: active = bought in the period].
    #[arg(long, value_name = "DURATION")]
    pub inactive_after: Option<crate::period::Window>,
    /// One table (or curve) per value of this customers or transactions column; with
    /// --survival, `cohort` gives one curve per first-purchase period.
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// Kaplan–Meier survival curves with 95% intervals and the median lifetime.
    #[arg(long, conflicts_with = "at_risk")]
    pub survival: bool,
    /// Customers ranked by their BG/NBD probability of being alive, lowest first, with
    /// their expected value.
    #[arg(long)]
    pub at_risk: bool,
    /// With --at-risk: show this many customers (0 = all).
    #[arg(long, value_name = "N", default_value_t = ChurnCommandParams::DEFAULT.top, requires = "at_risk")]
    pub top: usize,
    /// With --at-risk: the purchase model whose p_alive ranks the customers.
    #[arg(long = "model", value_enum, default_value_t = ChurnCommandParams::DEFAULT.at_risk_model,
          requires = "at_risk")]
    pub at_risk_model: AtRiskModel,
    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub chart: ChartArgs,
}

/// Options of the purchase models + Gamma-Gamma (ltv --model bgnbd|mbgnbd|pnbd|compare,
/// churn --at-risk).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// Time unit of the model's summary (frequency/recency/T).
    #[arg(long, value_enum, default_value_t = ModelParams::DEFAULT.unit)]
    pub unit: Unit,
    /// Prediction horizon in months (expected purchases and CLV).
    #[arg(long, value_name = "MONTHS", default_value_t = ModelParams::DEFAULT.horizon)]
    pub horizon: u32,
    /// Monthly discount rate of the CLV.
    #[arg(long, value_name = "RATE", default_value_t = ModelParams::DEFAULT.discount_rate)]
    pub discount_rate: f64,
    /// Profit margin applied to revenue (0..1].
    #[arg(long, value_name = "FRACTION", default_value_t = ModelParams::DEFAULT.margin)]
    pub margin: f64,
    /// Per customer, the LEVEL (e.g. 0.9) interval of expected purchases and CLV from the
    /// uncertainty of the fitted parameters: --draws parameter sets drawn from the normal
    /// approximation of the estimates (on the log scale, from the standard errors), seeded
    /// and reproducible; each interval holds its point estimate. It is NOT a prediction
    /// interval of the purchases a customer will make, which is far wider (the Poisson
    /// and dropout randomness of one customer is not in it). With --per-customer or
    /// churn --at-risk.
    #[arg(long, value_name = "LEVEL")]
    pub intervals: Option<f64>,
    /// With --intervals: the number of parameter draws.
    #[arg(long, value_name = "N", default_value_t = ModelParams::DEFAULT.draws, requires = "intervals")]
    pub draws: usize,
    /// With --intervals: the seed of the draws.
    #[arg(long, value_name = "N", default_value_t = ModelParams::DEFAULT.seed, requires = "intervals")]
    pub seed: u64,
    /// L2 penalty on the log-parameters (as lifetimes' penalizer_coef).
    #[arg(long, value_name = "COEF", default_value_t = ModelParams::DEFAULT.penalizer)]
    pub penalizer: f64,
    /// Write the fitted parameters, their standard errors and log-likelihoods to this JSON
    /// file (one object per model under its name: bgnbd, mbgnbd, pnbd, gamma_gamma).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct LtvArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Historical curves or the predictive model.
    #[arg(long, value_enum, default_value_t = LtvParams::DEFAULT.model)]
    pub model: LtvModel,
    /// Historical: period length of the cohorts and of k.
    #[arg(long, value_enum, default_value_t = LtvParams::DEFAULT.period)]
    pub period: Period,
    /// Historical: show k = 0..=N only.
    #[arg(long, value_name = "N")]
    pub max_periods: Option<u32>,
    /// One curve set / row per value of this customers or transactions column (e.g.
    /// channel).
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// One row per customer instead of the aggregate.
    #[arg(long)]
    pub per_customer: bool,
    /// Fit the model on a per-customer summary file instead of transactions: frequency,
    /// recency, T in --unit (as lifetimes' summary_data_from_transaction_data writes them
    /// and common variants: frequency_cal, recency_cal, T_cal, ...), optional
    /// monetary_value (for Gamma-Gamma and CLV), weights/count (customers per row) and
    /// customer_id. CSV, Parquet, workbooks or - for stdin, like -t. -t is not needed.
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub summary: Vec<String>,
    /// Model: fit on purchases up to this date and compare the predicted with the actual
    /// purchases between it and as-of.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    #[command(flatten)]
    pub model_args: ModelArgs,

    #[command(flatten)]
    pub chart: ChartArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// One row per customer (recency_days, frequency, monetary, scores, rfm, segment)
    /// instead of the segment report.
    #[arg(long)]
    pub per_customer: bool,
    /// Number of score levels (quantile bins; the highest is best).
    #[arg(long, value_name = "N", default_value_t = SegmentParams::DEFAULT_BINS,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub bins: u32,
    /// Segment rules file (TOML) replacing the built-in segment table.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Split the report by a customers column (e.g. channel) or, for a transactions
    /// column, its value on the customer's first transaction that has one.
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,

    #[command(flatten)]
    pub chart: ChartArgs,
}

#[derive(Args, Debug, Clone)]
pub struct WhatifArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Margin as a fraction of net revenue (m = margin × last year's revenue per active
    /// customer).
    #[arg(long, value_name = "FRACTION", default_value_t = WhatifParams::DEFAULT.margin)]
    pub margin: f64,
    /// Annual discount rate d.
    #[arg(long, value_name = "RATE", default_value_t = WhatifParams::DEFAULT.discount_rate)]
    pub discount_rate: f64,
    /// Retention lift in fraction points (0.05 = +5 points).
    #[arg(
        long,
        value_name = "POINTS",
        default_value_t = WhatifParams::DEFAULT.lift,
        allow_hyphen_values = true
    )]
    pub lift: f64,
    /// Use this annual retention rate instead of measuring it from the data.
    #[arg(long, value_name = "R")]
    pub retention: Option<f64>,
}

#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// One row per period [default: one row over the whole window].
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// One set of rows per value of a customers column (e.g. channel) or, for a
    /// transactions column, its value on the customer's first transaction that has one.
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// Margin as a fraction of net revenue, for the historical LTV.
    #[arg(long, value_name = "FRACTION", default_value_t = SummaryParams::DEFAULT.margin)]
    pub margin: f64,
    /// A signup converts when the customer's first purchase is at most this many days
    /// after it.
    #[arg(long, value_name = "DAYS", default_value_t = SummaryParams::DEFAULT.convert_within,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub convert_within: u32,
}

#[derive(Args, Debug, Clone)]
pub struct WalletArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Wallet file: customer_id, optional category, wallet.
    #[arg(long, value_name = "FILE", conflicts_with = "estimate_wallet")]
    pub wallet: Option<String>,
    /// Estimate each wallet as the P90 of spend among customers of the same group (RFM
    /// segment or --by value) and category; every output says the wallet is estimated.
    #[arg(long)]
    pub estimate_wallet: bool,
    /// Group by a customers column (e.g. channel) or, for a transactions column, its
    /// value on the customer's first transaction that has one [default: the RFM segment].
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// One row per customer (and category) instead of the overview.
    #[arg(long)]
    pub per_customer: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Histograms of purchases per customer and of the days between purchases.
    #[command(flatten)]
    pub chart: ChartArgs,
}

// ---- subscriptions ----

#[derive(Args, Debug, Clone)]
pub struct SubscriptionsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Period length (MRR is taken at each period's last day, and at as-of for the last).
    #[arg(long, value_enum, default_value_t = SubsParams::DEFAULT.period)]
    pub period: crate::params::SubsPeriod,
    /// One set of rows per value of an invoice-lines column such as plan (a customer's MRR
    /// is split by the lines' values, so an upgrade to another plan is a churn in one and
    /// a new customer in the other) or of a customers column (per customer).
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,
    /// MRR cohorts (cohort = the period of the first MRR): logo, net and gross MRR
    /// retention per period since.
    #[arg(long, conflicts_with = "model")]
    pub cohort: bool,
    /// Fit a retention model on the cohorts' survival and project it.
    #[arg(long, value_enum)]
    pub model: Option<crate::params::SubsModel>,
    /// With --model: project up to this many periods after the first MRR [default: 12
    /// periods past the oldest cohort].
    #[arg(long, value_name = "N", requires = "model")]
    pub horizon: Option<u32>,
    /// With --model: annual discount rate of DERL (compounded per period).
    #[arg(long, value_name = "RATE", default_value_t = SbgOptions::DEFAULT_DISCOUNT_RATE,
          requires = "model")]
    pub discount_rate: f64,
    /// With --model: write alpha, beta, their standard errors and the log-likelihood to
    /// this JSON file (under "sbg").
    #[arg(long, value_name = "FILE", requires = "model")]
    pub params: Option<PathBuf>,
    /// Whether period_end is the first day no longer served (Stripe's convention) or the
    /// last day served [default: exclusive; config: input.period_end].
    #[arg(long, value_enum, help_heading = "Input")]
    pub period_end: Option<crate::params::PeriodEnd>,
    /// Column holding the start of the service period [config: columns.period_start].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub period_start_col: Option<String>,
    /// Column holding the end of the service period [config: columns.period_end].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub period_end_col: Option<String>,
    /// Column holding the plan [config: columns.plan].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub plan_col: Option<String>,
    /// Column holding the subscription id [config: columns.subscription_id].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub subscription_col: Option<String>,
    /// --cohort: a heatmap of logo retention; --model: actual vs predicted survival.
    #[command(flatten)]
    pub chart: ChartArgs,
}

// ---- charts, report, completions, man page ----

/// `--chart FILE` of the commands that draw one.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Output")]
pub struct ChartArgs {
    /// Also draw the result as a chart into FILE (.svg or .png), written atomically.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Directory of the report (replaced atomically when the new report is complete).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the per-report tables [default: [report] format in the config file, else
    /// csv].
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Period of the cohort, churn, LTV and per-period summary reports [default: [report]
    /// period in the config file, else month].
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// Charts as PNG instead of SVG (index.html embeds them either way) [default: [report]
    /// charts = "png" in the config file].
    #[arg(long)]
    pub png: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// Shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
pub struct ManArgs {
    /// Write retention.1 and one retention-COMMAND.1 per command into DIR instead of
    /// printing retention.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

// ---- sql ----

const SQL_HELP: &str = concat!(
    "Examples:\n",
    "  retention sql cohort --dialect duckdb --table transactions --period quarter\n",
    "  retention sql segment --dialect bigquery --table shop.orders --per-customer \\\n",
    "      --customer-col customer_id --date-col order_date --order-col order_id\n",
    "  retention sql ltv-summary --dialect spark --table orders --unit week > summary.sql\n",
    "  retention sql summary --dialect snowflake --table SHOP.ORDERS --period month \\\n",
    "      --customer-col CUSTOMER_ID --date-col ORDER_DATE --amount-col AMOUNT\n\n",
    "Round trip (Spark computes the per-customer summary, retention fits the model on it):\n",
    "  retention sql ltv-summary --dialect spark --table orders --date-col order_date \\\n",
    "      --order-col order_id > summary.sql\n",
    "  # in pyspark: spark.sql(open('summary.sql').read()).write.csv('summary', header=True)\n",
    "  retention ltv --summary summary --model bgnbd    # reads Spark's part files\n",
    "(DuckDB: duckdb shop.db -csv < summary.sql > summary.csv.)\n\n",
    "Columns: --customer-col [customer_id], --date-col [date], --amount-col [amount] and\n",
    "--order-col (no default: without it every row is its own order), or [columns] in the\n",
    "config file. Names are quoted as given (Snowflake: as stored, e.g. CUSTOMER_ID).\n",
    "Reports: cohort, churn (period table), segment (or --per-customer), ltv (historical),\n",
    "summary, ltv-summary (frequency, recency, T, monetary_value: for ltv --summary).\n",
    "Not available in SQL (exit 2): --by/--group, customers files, --inactive-after.\n\n",
    "Exit codes: 0 ok, 2 bad input or usage, 1 internal error."
);

#[derive(Args, Debug, Clone)]
pub struct SqlArgs {
    /// The report to write as SQL.
    #[arg(value_enum)]
    pub report: crate::sql::SqlReport,
    /// The SQL engine.
    #[arg(long, value_enum)]
    pub dialect: crate::sql::Dialect,
    /// The transactions table (dotted names such as db.schema.table are quoted per part).
    #[arg(long, value_name = "NAME")]
    pub table: String,
    /// Config file (TOML) whose [columns] name the columns [default: ./retention.toml if
    /// present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Column holding the customer id [default: customer_id].
    #[arg(long, value_name = "NAME")]
    pub customer_col: Option<String>,
    /// Column holding the transaction date (a date, timestamp or ISO text) [default: date].
    #[arg(long, value_name = "NAME")]
    pub date_col: Option<String>,
    /// Column holding the net amount [default: amount].
    #[arg(long, value_name = "NAME")]
    pub amount_col: Option<String>,
    /// Column holding the order id [default: none, every row is its own order].
    #[arg(long, value_name = "NAME")]
    pub order_col: Option<String>,
    /// End of observation [default: the latest transaction date]. Later rows are ignored.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Ignore transactions before this date.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Ignore transactions after this date.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// cohort, churn, ltv: period length [default: month]; summary: one row per period
    /// [default: the whole window].
    #[arg(long, value_enum)]
    pub period: Option<Period>,
    /// cohort: classic or rolling retention [default: classic].
    #[arg(long, value_enum)]
    pub mode: Option<CohortMode>,
    /// cohort: accepted for symmetry with `retention cohort` (the long output always
    /// carries both metrics).
    #[arg(long, value_enum)]
    pub metric: Option<CohortMetric>,
    /// cohort, ltv: period indices k = 0..=N only.
    #[arg(long, value_name = "N")]
    pub max_periods: Option<u32>,
    /// segment: one row per customer instead of the segment report.
    #[arg(long)]
    pub per_customer: bool,
    /// segment: number of score levels [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub bins: Option<u32>,
    /// segment: rules file (TOML) replacing the built-in segment table.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// ltv-summary: time unit of recency and T [default: day].
    #[arg(long, value_enum)]
    pub unit: Option<Unit>,
    /// ltv, summary: profit margin applied to revenue (historical LTV) [default: 1].
    #[arg(long, value_name = "FRACTION")]
    pub margin: Option<f64>,
    /// Not available in SQL (exit 2): groups need the customers file or a first-value rule.
    #[arg(long, value_name = "COL", hide = true)]
    pub by: Option<String>,
    /// Not available in SQL (exit 2).
    #[arg(long, value_name = "COL", hide = true)]
    pub group: Option<String>,
    /// Not available in SQL (exit 2).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub inactive_after: Option<String>,
    /// Not available in SQL (exit 2): the query reads one transactions table.
    #[arg(short = 'c', long, value_name = "PATH", hide = true)]
    pub customers: Option<String>,
}
