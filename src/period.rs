//! Period bucketing: a date maps to an integer period index, and back to a label.
//!
//! Indices are chosen so that consecutive periods differ by exactly 1, which makes
//! `period_index = activity_period - cohort_period` a plain subtraction:
//! day = days since 1970-01-01, week = ISO weeks (Monday start) since the week of
//! 1970-01-01, month = year*12 + month-1, quarter = year*4 + quarter-1, year = year.

use chrono::{Datelike, Days, NaiveDate};
use polars::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("valid epoch"),
};

/// Days since 1970-01-01 (the physical value of a polars `Date`).
pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// The date of a polars `Date` physical value.
pub fn date_from_days(days: i32) -> NaiveDate {
    if days >= 0 {
        EPOCH + Days::new(days as u64)
    } else {
        EPOCH - Days::new(days.unsigned_abs() as u64)
    }
}

/// Weeks added before dividing (any date after ~1885 is then positive).
const WEEK_SHIFT: i32 = 10_000;

impl Period {
    /// The period index of a date.
    pub fn index(self, d: NaiveDate) -> i32 {
        match self {
            Period::Day => days_since_epoch(d),
            // 1970-01-01 is a Thursday: the Monday of its week is day -3.
            Period::Week => (days_since_epoch(d) + 3).div_euclid(7),
            Period::Month => d.year() * 12 + d.month0() as i32,
            Period::Quarter => d.year() * 4 + (d.month0() / 3) as i32,
            Period::Year => d.year(),
        }
    }

    /// First day of the period with this index.
    pub fn start(self, idx: i32) -> NaiveDate {
        let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(EPOCH);
        match self {
            Period::Day => date_from_days(idx),
            Period::Week => date_from_days(idx * 7 - 3),
            Period::Month => ymd(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1),
            Period::Quarter => ymd(idx.div_euclid(4), idx.rem_euclid(4) as u32 * 3 + 1),
            Period::Year => ymd(idx, 1),
        }
    }

    /// Last day of the period with this index.
    pub fn end(self, idx: i32) -> NaiveDate {
        self.start(idx + 1).pred_opt().unwrap_or(EPOCH)
    }

    /// Label per docs/metrics.md: `2024-01-15`, `2024-W03`, `2024-01`, `2024-Q1`, `2024`.
    pub fn label(self, idx: i32) -> String {
        let s = self.start(idx);
        match self {
            Period::Day => s.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = s.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => format!("{}-{:02}", s.year(), s.month()),
            Period::Quarter => format!("{}-Q{}", s.year(), s.month0() / 3 + 1),
            Period::Year => format!("{}", s.year()),
        }
    }

    /// The same index as [`Period::index`], as a polars expression over a `Date` column.
    pub fn expr(self, date: Expr) -> Expr {
        let days = || date.clone().cast(DataType::Int32);
        let year = || date.clone().dt().year().cast(DataType::Int32);
        let month0 = || date.clone().dt().month().cast(DataType::Int32) - lit(1);
        match self {
            Period::Day => days(),
            // Shifted to positive values so that integer division truncates like floor.
            Period::Week => (days() + lit(3 + 7 * WEEK_SHIFT)) / lit(7) - lit(WEEK_SHIFT),
            Period::Month => year() * lit(12) + month0(),
            Period::Quarter => year() * lit(4) + month0() / lit(3),
            Period::Year => year(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }
}

/// A length of time for inactivity rules (`--inactive-after 90d`, `8w`, `3m`, `1y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Days(u32),
    Months(u32),
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Window, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        let n: u32 = n
            .parse()
            .map_err(|_| format!("'{s}': expected a number and a unit, like 90d, 8w, 3m or 1y"))?;
        if n == 0 || n > 36_500 {
            return Err(format!("'{s}': the length must be between 1 and 36500"));
        }
        match unit.trim() {
            "d" | "day" | "days" => Ok(Window::Days(n)),
            "w" | "week" | "weeks" => Ok(Window::Days(n * 7)),
            "m" | "month" | "months" => Ok(Window::Months(n)),
            "q" | "quarter" | "quarters" => Ok(Window::Months(n * 3)),
            "y" | "year" | "years" => Ok(Window::Months(n * 12)),
            _ => Err(format!(
                "'{s}': unknown unit (use d, w, m, q or y, as in 90d, 8w, 3m, 1y)"
            )),
        }
    }
}

impl Window {
    /// The window of one period.
    pub fn of(period: Period) -> Window {
        match period {
            Period::Day => Window::Days(1),
            Period::Week => Window::Days(7),
            Period::Month => Window::Months(1),
            Period::Quarter => Window::Months(3),
            Period::Year => Window::Months(12),
        }
    }

    /// `day` (days since epoch) minus the window.
    pub fn before(self, day: i32) -> i32 {
        match self {
            Window::Days(n) => day - n as i32,
            Window::Months(n) => {
                let d = date_from_days(day);
                days_since_epoch(d.checked_sub_months(chrono::Months::new(n)).unwrap_or(d))
            }
        }
    }

    /// `day` plus the window.
    pub fn after(self, day: i32) -> i32 {
        match self {
            Window::Days(n) => day + n as i32,
            Window::Months(n) => {
                let d = date_from_days(day);
                days_since_epoch(d.checked_add_months(chrono::Months::new(n)).unwrap_or(d))
            }
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Window::Days(n) => write!(f, "{n} days"),
            Window::Months(1) => write!(f, "1 month"),
            Window::Months(n) => write!(f, "{n} months"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const ALL: [Period; 5] = [
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Year,
    ];

    #[test]
    fn labels_follow_metrics_md() {
        let x = d(2024, 1, 15);
        assert_eq!(Period::Day.label(Period::Day.index(x)), "2024-01-15");
        assert_eq!(Period::Week.label(Period::Week.index(x)), "2024-W03");
        assert_eq!(Period::Month.label(Period::Month.index(x)), "2024-01");
        assert_eq!(Period::Quarter.label(Period::Quarter.index(x)), "2024-Q1");
        assert_eq!(Period::Year.label(Period::Year.index(x)), "2024");
    }

    #[test]
    fn iso_week_year_boundaries() {
        // 2024-12-30 (Monday) belongs to ISO week 2025-W01; 2021-01-03 (Sunday) to 2020-W53.
        assert_eq!(
            Period::Week.label(Period::Week.index(d(2024, 12, 30))),
            "2025-W01"
        );
        assert_eq!(
            Period::Week.label(Period::Week.index(d(2021, 1, 3))),
            "2020-W53"
        );
        // Monday starts a new week, Sunday ends it.
        let mon = Period::Week.index(d(2024, 1, 15));
        assert_eq!(Period::Week.index(d(2024, 1, 21)), mon);
        assert_eq!(Period::Week.index(d(2024, 1, 22)), mon + 1);
        assert_eq!(Period::Week.start(mon), d(2024, 1, 15));
    }

    #[test]
    fn consecutive_periods_differ_by_one() {
        assert_eq!(
            Period::Month.index(d(2024, 1, 31)) - Period::Month.index(d(2023, 12, 1)),
            1
        );
        assert_eq!(
            Period::Quarter.index(d(2024, 4, 1)) - Period::Quarter.index(d(2023, 12, 31)),
            2
        );
        assert_eq!(
            Period::Day.index(d(1970, 1, 1)) - Period::Day.index(d(1969, 12, 31)),
            1
        );
    }

    #[test]
    fn index_start_end_round_trip() {
        let mut x = d(1999, 11, 20);
        while x < d(2001, 3, 5) {
            for p in ALL {
                let i = p.index(x);
                assert!(p.start(i) <= x && x <= p.end(i), "{p:?} {x}");
                assert_eq!(p.index(p.start(i)), i);
                assert_eq!(p.index(p.end(i)), i);
                assert_eq!(p.index(p.end(i).succ_opt().unwrap()), i + 1);
            }
            x = x.succ_opt().unwrap();
        }
    }

    #[test]
    fn polars_expression_matches_rust() {
        let dates: Vec<NaiveDate> = (0..800)
            .map(|i| d(1968, 12, 25) + Days::new(i * 37))
            .collect();
        let days: Vec<i32> = dates.iter().map(|&x| days_since_epoch(x)).collect();
        let col0 = Column::new("date".into(), days)
            .cast(&DataType::Date)
            .unwrap();
        let df = DataFrame::new_infer_height(vec![col0]).unwrap();
        for p in ALL {
            let out = df
                .clone()
                .lazy()
                .select([p.expr(col("date")).alias("p")])
                .collect()
                .unwrap();
            let got: Vec<i32> = out
                .column("p")
                .unwrap()
                .i32()
                .unwrap()
                .into_no_null_iter()
                .collect();
            let want: Vec<i32> = dates.iter().map(|&x| p.index(x)).collect();
            assert_eq!(got, want, "{p:?}");
        }
    }

    #[test]
    fn windows_parse_and_shift() {
        assert_eq!("90d".parse::<Window>(), Ok(Window::Days(90)));
        assert_eq!("8w".parse::<Window>(), Ok(Window::Days(56)));
        assert_eq!("3m".parse::<Window>(), Ok(Window::Months(3)));
        assert_eq!("1y".parse::<Window>(), Ok(Window::Months(12)));
        assert!("0d".parse::<Window>().is_err());
        assert!("3x".parse::<Window>().is_err());
        assert!("m".parse::<Window>().is_err());
        let x = days_since_epoch(d(2024, 3, 31));
        // Month arithmetic clamps to the month's last day.
        assert_eq!(
            Window::Months(1).before(x),
            days_since_epoch(d(2024, 2, 29))
        );
        assert_eq!(Window::Months(1).after(x), days_since_epoch(d(2024, 4, 30)));
        assert_eq!(Window::Days(10).before(x), x - 10);
        // One period back from a period start is the previous period's start.
        for p in ALL {
            let i = p.index(d(2024, 3, 1));
            let s = days_since_epoch(p.start(i));
            assert_eq!(
                Window::of(p).before(s),
                days_since_epoch(p.start(i - 1)),
                "{p:?}"
            );
        }
    }
}
