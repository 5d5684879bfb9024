//! The choices of the reports, as typed values: the command line parses into them
//! (`cli.rs` re-exports them) and the reports take them, without depending on the CLI.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CohortBy {
    /// The period of each customer's first purchase.
    FirstPurchase,
    /// The period of signup_date in the customers file (customers who never bought count).
    Signup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CohortMode {
    /// Active in period c+k.
    Classic,
    /// Active in any period at or after c+k (unbounded retention).
    Rolling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CohortMetric {
    /// Share of the cohort's customers.
    Customers,
    /// Net revenue in period c+k / net revenue in period 0.
    Revenue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LtvModel {
    /// Cumulative net revenue per customer by cohort (the LTV curve).
    Historical,
    /// BG/NBD purchase model (Fader, Hardie & Lee 2005) with the Gamma-Gamma spend model.
    Bgnbd,
    /// MBG/NBD (Batislam et al. 2007): BG/NBD where a customer may also drop out right
    /// after the first purchase; with Gamma-Gamma.
    Mbgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): dropout at any time; with
    /// Gamma-Gamma.
    Pnbd,
    /// BG/BB (Fader, Hardie & Shang 2010), discrete time: each --unit after the first
    /// purchase is one opportunity to buy (e.g. --unit year for yearly donations); with
    /// Gamma-Gamma on the opportunities' values; the horizon is rounded to whole
    /// opportunities. With --summary, T is the number of opportunities.
    Bgbb,
    /// Fit bgnbd, mbgnbd and pnbd on the calibration period and compare them on the
    /// holdout (needs --calibration-end): log-likelihood, AIC, BIC, holdout MAE and RMSE.
    Compare,
}

impl LtvModel {
    /// The purchase model, for the predictive choices.
    pub fn purchase_model(self) -> Option<crate::models::purchase::Kind> {
        use crate::models::purchase::Kind;
        match self {
            LtvModel::Bgnbd => Some(Kind::BgNbd),
            LtvModel::Mbgnbd => Some(Kind::MbgNbd),
            LtvModel::Pnbd => Some(Kind::ParetoNbd),
            LtvModel::Bgbb => Some(Kind::Bgbb),
            LtvModel::Historical | LtvModel::Compare => None,
        }
    }
}

/// The purchase model of `churn --at-risk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AtRiskModel {
    Bgnbd,
    Mbgnbd,
    Pnbd,
    /// Discrete time (--unit gives the opportunity).
    Bgbb,
}

impl AtRiskModel {
    pub fn kind(self) -> crate::models::purchase::Kind {
        use crate::models::purchase::Kind;
        match self {
            AtRiskModel::Bgnbd => Kind::BgNbd,
            AtRiskModel::Mbgnbd => Kind::MbgNbd,
            AtRiskModel::Pnbd => Kind::ParetoNbd,
            AtRiskModel::Bgbb => Kind::Bgbb,
        }
    }
}

// ---- `retention subscriptions` ----

/// The period of `subscriptions` (MRR is taken at each period's last day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubsPeriod {
    Month,
    Quarter,
    Year,
}

impl SubsPeriod {
    /// The subscription period of a report period (None: day and week, which MRR is not
    /// computed for).
    pub fn from_period(p: crate::period::Period) -> Option<SubsPeriod> {
        use crate::period::Period;
        match p {
            Period::Month => Some(SubsPeriod::Month),
            Period::Quarter => Some(SubsPeriod::Quarter),
            Period::Year => Some(SubsPeriod::Year),
            Period::Day | Period::Week => None,
        }
    }

    pub fn period(self) -> crate::period::Period {
        use crate::period::Period;
        match self {
            SubsPeriod::Month => Period::Month,
            SubsPeriod::Quarter => Period::Quarter,
            SubsPeriod::Year => Period::Year,
        }
    }

    /// Periods in 12 months (the span of nrr_12m and grr_12m).
    pub fn per_year(self) -> usize {
        match self {
            SubsPeriod::Month => 12,
            SubsPeriod::Quarter => 4,
            SubsPeriod::Year => 1,
        }
    }
}

/// What the `period_end` of an invoice line means (a reading option: defined in `load`).
pub use crate::load::PeriodEnd;

/// The retention model of `subscriptions --model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubsModel {
    /// Shifted-beta-geometric (Fader & Hardie 2007), fitted on the cohorts' survival.
    Sbg,
}

// ---- money ----

/// `--margin`: the profit margin as a fraction of net revenue, in (0, 1] (1 = revenue).
/// The one rule of every command that takes it (ltv, churn --at-risk, summary, whatif, sql).
pub fn check_margin(m: f64) -> anyhow::Result<f64> {
    if m > 0.0 && m <= 1.0 {
        Ok(m)
    } else {
        Err(crate::error::bad(format!(
            "--margin {m}: expected a fraction of net revenue in (0, 1] (1 = revenue)"
        )))
    }
}

// ---- the predictive models, ltv, churn and report: typed settings ----

/// Time unit of the BG/NBD summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    Day,
    Week,
    Month,
    /// 365 days (BG/BB opportunities of yearly buying or giving).
    Year,
}

impl Unit {
    pub fn days(self) -> f64 {
        match self {
            Unit::Day => 1.0,
            Unit::Week => 7.0,
            Unit::Month => 30.0,
            Unit::Year => 365.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }
}

/// The purchase models' and Gamma-Gamma's settings, resolved from `ModelArgs` (cli.rs) or
/// left at [`ModelParams::DEFAULT`] (the flags' defaults are these values).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParams {
    pub unit: Unit,
    /// Months.
    pub horizon: u32,
    /// Monthly discount rate of the CLV.
    pub discount_rate: f64,
    pub margin: f64,
    /// Interval level, when per-customer intervals are asked for.
    pub intervals: Option<f64>,
    pub draws: usize,
    pub seed: u64,
    pub penalizer: f64,
    /// Where to write the fitted parameters as JSON.
    pub params: Option<std::path::PathBuf>,
}

impl ModelParams {
    pub const DEFAULT: ModelParams = ModelParams {
        unit: Unit::Day,
        horizon: 12,
        discount_rate: 0.01,
        margin: 1.0,
        intervals: None,
        draws: 200,
        seed: 42,
        penalizer: 0.0,
        params: None,
    };
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams::DEFAULT
    }
}

/// `retention ltv`'s settings (historical curves or a model).
#[derive(Clone, Debug, PartialEq)]
pub struct LtvParams {
    pub model: LtvModel,
    pub period: crate::period::Period,
    pub max_periods: Option<u32>,
    pub by: Option<String>,
    pub per_customer: bool,
    /// `--calibration-end` (before as-of: checked with the data, by
    /// `reports::ltv::check_calibration_end`).
    pub calibration_end: Option<chrono::NaiveDate>,
    pub model_args: ModelParams,
    /// `--verbose`: the fitted parameters on stderr.
    pub verbose: bool,
}

impl LtvParams {
    /// The defaults (of the flags and `retention report`).
    pub const DEFAULT: LtvParams = LtvParams {
        model: LtvModel::Historical,
        period: crate::period::Period::Month,
        max_periods: None,
        by: None,
        per_customer: false,
        calibration_end: None,
        model_args: ModelParams::DEFAULT,
        verbose: false,
    };
}

impl Default for LtvParams {
    fn default() -> Self {
        LtvParams::DEFAULT
    }
}

/// `retention churn`'s settings: the period table, survival curves or the at-risk list.
#[derive(Clone, Debug, PartialEq)]
pub struct ChurnCommandParams {
    pub period: crate::period::Period,
    pub inactive_after: Option<crate::period::Window>,
    pub by: Option<String>,
    pub survival: bool,
    pub at_risk: bool,
    pub top: usize,
    pub at_risk_model: AtRiskModel,
    pub model: ModelParams,
}

impl ChurnCommandParams {
    /// The defaults (of the flags and `retention report`).
    pub const DEFAULT: ChurnCommandParams = ChurnCommandParams {
        period: crate::period::Period::Month,
        inactive_after: None,
        by: None,
        survival: false,
        at_risk: false,
        top: 20,
        at_risk_model: AtRiskModel::Bgnbd,
        model: ModelParams::DEFAULT,
    };
}

/// The table format of `retention report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Csv,
    Parquet,
}

/// `retention report`'s settings, resolved from its flags and the config file's `[report]`.
#[derive(Clone, Debug)]
pub struct ReportParams {
    pub out: std::path::PathBuf,
    pub period: crate::period::Period,
    pub format: ReportFormat,
    pub png: bool,
    /// The transactions and customers paths as given (for the page and summary.json).
    pub transactions: Vec<String>,
    pub customers: Vec<String>,
    /// The reading options, to read the transactions again as invoice lines.
    pub load: crate::load::LoadOptions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_margin_rule() {
        for ok in [1.0, 0.3, f64::MIN_POSITIVE] {
            assert_eq!(check_margin(ok).unwrap(), ok);
        }
        for bad in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            let e = check_margin(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--margin {bad}")), "{e}");
            assert!(e.contains("(0, 1]"), "{e}");
        }
    }
}
