//! What the user typed (flags and config file), validated once into typed load options.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::cli::InputArgs;
use crate::dates::{self, DateFormat};
use crate::error::bad;
use crate::load::{LoadOptions, Role, Source};

/// `retention.toml`:
///
/// ```toml
/// [columns]
/// customer_id = "Kundennummer"
/// date = "Belegdatum"
/// [input]
/// delimiter = ";"
/// date_format = "%d.%m.%Y"
/// decimal_comma = true
/// flexible = false        # pad/cut rows with a wrong field count (one warning)
/// encoding = "windows-1252"
/// sheet = "Orders"
/// ```
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub columns: ColumnsConfig,
    #[serde(default)]
    pub input: InputConfig,
    /// `retention report` defaults.
    #[serde(default)]
    pub report: ReportConfig,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ColumnsConfig {
    pub customer_id: Option<String>,
    pub date: Option<String>,
    pub amount: Option<String>,
    pub order_id: Option<String>,
    pub category: Option<String>,
    pub quantity: Option<String>,
    pub price: Option<String>,
    pub signup_date: Option<String>,
    pub channel: Option<String>,
    pub acquisition_cost: Option<String>,
    // invoice lines of `retention subscriptions`
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub plan: Option<String>,
    pub subscription_id: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub delimiter: Option<String>,
    pub date_format: Option<String>,
    pub no_header: Option<bool>,
    pub decimal_comma: Option<bool>,
    pub flexible: Option<bool>,
    pub encoding: Option<String>,
    pub sheet: Option<String>,
    /// Invoice lines: "exclusive" (period_end is the first day no longer served) or
    /// "inclusive" (the last day served); the `--period-end` flag wins.
    pub period_end: Option<crate::params::PeriodEnd>,
}

pub const DEFAULT_CONFIG: &str = "retention.toml";

pub(crate) fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read config file '{}': {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // Name the line (and its text) the error is on, when toml says where.
        let at = e
            .span()
            .map(|r| {
                let line = text[..r.start.min(text.len())].matches('\n').count();
                let shown = text.lines().nth(line).unwrap_or_default().trim();
                format!(", line {} ({shown})", line + 1)
            })
            .unwrap_or_default();
        bad(format!(
            "config file '{}'{at}: {}",
            path.display(),
            e.message().replace('\n', " ")
        ))
    })
}

fn parse_delimiter(s: &str) -> Result<u8> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(bad(format!(
            "--delimiter '{s}': expected one ASCII character or \"tab\""
        ))),
    }
}

/// A date flag (`--as-of`, `--from`, `--to`, ...), named in its error.
pub(crate) fn parse_date_flag(flag: &str, v: &Option<String>) -> Result<Option<NaiveDate>> {
    v.as_deref()
        .map(|s| dates::parse_arg(s).map_err(|e| bad(format!("{flag}: {e}"))))
        .transpose()
}

/// `--from` and `--to` together: the window must not be empty.
pub(crate) fn check_from_to(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<()> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(bad(format!("--from {f} is after --to {t}")));
        }
    }
    Ok(())
}

/// The config file in effect: `--config FILE`, else ./retention.toml if present.
pub(crate) fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    }
}

/// Merge flags over the config file (explicit, else ./retention.toml if present).
pub fn load_options(a: &InputArgs, extra_columns: Vec<String>) -> Result<LoadOptions> {
    let cfg_path = config_path(a.config.as_deref());
    let cfg = match &cfg_path {
        Some(p) => read_config(p)?,
        None => ConfigFile::default(),
    };
    let c = &cfg.columns;
    let mut columns = BTreeMap::new();
    // Invoice-line columns have flags of `subscriptions` only (which override these).
    let none = None;
    let pairs = [
        (Role::Customer, &a.customer_col, &c.customer_id),
        (Role::Date, &a.date_col, &c.date),
        (Role::Amount, &a.amount_col, &c.amount),
        (Role::Order, &a.order_col, &c.order_id),
        (Role::Category, &a.category_col, &c.category),
        (Role::Quantity, &a.quantity_col, &c.quantity),
        (Role::Price, &a.price_col, &c.price),
        (Role::Signup, &a.signup_col, &c.signup_date),
        (Role::Channel, &a.channel_col, &c.channel),
        (Role::Cost, &a.cost_col, &c.acquisition_cost),
        (Role::PeriodStart, &none, &c.period_start),
        (Role::PeriodEnd, &none, &c.period_end),
        (Role::Plan, &none, &c.plan),
        (Role::Subscription, &none, &c.subscription_id),
    ];
    for (role, flag, conf) in pairs {
        if let Some(name) = flag.clone().or_else(|| conf.clone()) {
            columns.insert(role, name);
        }
    }
    let delimiter = a
        .delimiter
        .as_deref()
        .or(cfg.input.delimiter.as_deref())
        .map(parse_delimiter)
        .transpose()?;
    let date_format = a
        .date_format
        .as_deref()
        .or(cfg.input.date_format.as_deref())
        .map(DateFormat::from_user);
    let as_of = parse_date_flag("--as-of", &a.as_of)?;
    let from = parse_date_flag("--from", &a.from)?;
    let to = parse_date_flag("--to", &a.to)?;
    check_from_to(from, to)?;
    let encoding = match a.encoding.as_deref().or(cfg.input.encoding.as_deref()) {
        None => None,
        Some(label) => Some(
            encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                bad(format!(
                    "--encoding '{label}': not an encoding label (WHATWG labels such as \
                     utf-8, windows-1252, latin1, windows-874, tis-620, shift_jis, gb18030, \
                     utf-16le)"
                ))
            })?,
        ),
    };
    Ok(LoadOptions {
        transactions: a.transactions.iter().map(|s| Source::from_arg(s)).collect(),
        customers: a.customers.iter().map(|s| Source::from_arg(s)).collect(),
        flexible: a.flexible || cfg.input.flexible.unwrap_or(false),
        encoding,
        sheet: a.sheet.clone().or_else(|| cfg.input.sheet.clone()),
        has_header: !(a.no_header || cfg.input.no_header.unwrap_or(false)),
        delimiter,
        date_format,
        decimal_comma: a.decimal_comma || cfg.input.decimal_comma.unwrap_or(false),
        columns,
        as_of,
        from,
        to,
        verbose: a.verbose,
        strict: a.strict,
        dedupe: a.dedupe,
        extra_columns,
        skip: Vec::new(),
        code_category: false,
        invoice: None,
        period_end: cfg.input.period_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_key_is_named() {
        let err = toml::from_str::<ConfigFile>("[columns]\ncustomer = \"x\"\n").unwrap_err();
        assert!(err.message().contains("customer"), "{}", err.message());
        let ok: ConfigFile =
            toml::from_str("[columns]\ncustomer_id = \"Kunde\"\n[input]\ndelimiter = \";\"\n")
                .unwrap();
        assert_eq!(ok.columns.customer_id.as_deref(), Some("Kunde"));
    }

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter("tab").unwrap(), b'\t');
        assert_eq!(parse_delimiter(";").unwrap(), b';');
        assert!(parse_delimiter(";;").is_err());
    }
}

// ---- `[report]` settings ----

/// `[report]` in retention.toml: defaults of `retention report` (flags win).
///
/// ```toml
/// [report]
/// period = "quarter"     # day, week, month, quarter, year
/// format = "parquet"     # csv, parquet
/// charts = "png"         # svg, png
/// ```
#[derive(Deserialize, Default, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    pub period: Option<crate::period::Period>,
    pub format: Option<String>,
    pub charts: Option<String>,
}

/// The `[report]` section of the config file in effect (explicit, else ./retention.toml).
pub fn report_config(a: &InputArgs) -> Result<ReportConfig> {
    match config_path(a.config.as_deref()) {
        Some(p) => Ok(read_config(&p)?.report),
        None => Ok(ReportConfig::default()),
    }
}
