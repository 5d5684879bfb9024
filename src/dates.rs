//! Date detection and parsing for exported date columns.
//!
//! Supported: ISO date (`2024-01-15`, also `2024/01/15`), ISO datetime with or without
//! fraction and zone (`2024-01-15T10:20:30.5+02:00`: the date as written is kept),
//! `%Y%m%d`, `%d/%m/%Y` and `%m/%d/%Y` (also with `.` or `-`, with an optional
//! `%H:%M[:%S]` part), epoch seconds (or milliseconds), and any chrono format given with
//! `--date-format`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateFormat {
    Iso,
    Compact,
    Dmy,
    Mdy,
    Epoch,
    Custom(String),
}

impl DateFormat {
    pub fn describe(&self) -> String {
        match self {
            DateFormat::Iso => "ISO (%Y-%m-%d[T%H:%M:%S])".into(),
            DateFormat::Compact => "%Y%m%d".into(),
            DateFormat::Dmy => "%d/%m/%Y".into(),
            DateFormat::Mdy => "%m/%d/%Y".into(),
            DateFormat::Epoch => "epoch seconds".into(),
            DateFormat::Custom(f) => f.clone(),
        }
    }

    /// A user's `--date-format`: shorthands and the formats with a fast parser map to
    /// those; anything else is a chrono format string.
    pub fn from_user(s: &str) -> DateFormat {
        match s.trim() {
            "iso" | "%Y-%m-%d" | "%Y-%m-%dT%H:%M:%S" | "%Y-%m-%d %H:%M:%S" => DateFormat::Iso,
            "%Y%m%d" => DateFormat::Compact,
            "dmy" | "%d/%m/%Y" | "%d.%m.%Y" | "%d-%m-%Y" => DateFormat::Dmy,
            "mdy" | "%m/%d/%Y" | "%m-%d-%Y" => DateFormat::Mdy,
            "epoch" | "%s" => DateFormat::Epoch,
            other => DateFormat::Custom(other.to_string()),
        }
    }
}

pub const TRIED: &str = "ISO %Y-%m-%d[ %H:%M:%S], %Y%m%d, %d/%m/%Y, %m/%d/%Y, epoch seconds";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Iso,
    DayMonth(u32, u32),
    Digits8,
    Digits,
    Unknown,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32))
}

/// A time part after a date: empty, or `T`/space followed by a digit.
fn time_tail_ok(rest: &[u8]) -> bool {
    rest.is_empty()
        || (matches!(rest[0], b'T' | b' ') && rest.get(1).is_some_and(u8::is_ascii_digit))
}

/// `YYYY-MM-DD` (or with `/`) at the start: (y, m, d, rest).
fn split_iso(b: &[u8]) -> Option<(i32, u32, u32, &[u8])> {
    let sep = *b.get(4)?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    let y = digits(&b[..4])? as i32;
    let rest = &b[5..];
    let i = rest.iter().position(|&c| c == sep)?;
    let m = digits(&rest[..i])?;
    let rest = &rest[i + 1..];
    let j = rest
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if j == 0 || j > 2 || i > 2 {
        return None;
    }
    let d = digits(&rest[..j])?;
    Some((y, m, d, &rest[j..]))
}

/// `A/B/YYYY` (or with `.`/`-`): (a, b, y, rest).
fn split_dm(b: &[u8]) -> Option<(u32, u32, i32, &[u8])> {
    let i = b.iter().position(|c| matches!(c, b'/' | b'.' | b'-'))?;
    if i == 0 || i > 2 {
        return None;
    }
    let sep = b[i];
    let a = digits(&b[..i])?;
    let rest = &b[i + 1..];
    let j = rest.iter().position(|&c| c == sep)?;
    if j == 0 || j > 2 {
        return None;
    }
    let m = digits(&rest[..j])?;
    let rest = &rest[j + 1..];
    if rest.len() < 4 {
        return None;
    }
    let y = digits(&rest[..4])? as i32;
    Some((a, m, y, &rest[4..]))
}

fn shape(s: &str) -> Shape {
    let b = s.trim().as_bytes();
    if let Some((_, _, _, rest)) = split_iso(b) {
        if time_tail_ok(rest) {
            return Shape::Iso;
        }
    }
    if let Some((a, m, _, rest)) = split_dm(b) {
        if rest.is_empty() || (rest[0] == b' ' && rest.get(1).is_some_and(u8::is_ascii_digit)) {
            return Shape::DayMonth(a, m);
        }
    }
    let num = b.strip_prefix(b"-").unwrap_or(b);
    let int_part = match num.iter().position(|&c| c == b'.') {
        Some(p) if num[p + 1..].iter().all(u8::is_ascii_digit) => &num[..p],
        Some(_) => return Shape::Unknown,
        None => num,
    };
    if !int_part.is_empty() && int_part.iter().all(u8::is_ascii_digit) {
        if int_part.len() == 8 && int_part.len() == b.len() {
            return Shape::Digits8;
        }
        return Shape::Digits;
    }
    Shape::Unknown
}

fn shape_name(s: Shape) -> &'static str {
    match s {
        Shape::Iso => "ISO %Y-%m-%d",
        Shape::DayMonth(..) => "dd/mm/yyyy or mm/dd/yyyy",
        Shape::Digits8 => "%Y%m%d",
        Shape::Digits => "epoch seconds",
        Shape::Unknown => "unknown",
    }
}

/// Why detection failed; the loader adds the file and column.
#[derive(Debug, PartialEq)]
pub enum DetectError {
    /// (row, value): a value that matches no supported format.
    Unparseable(usize, String),
    /// Two incompatible formats in one column: (row, value, format) twice.
    Mixed(usize, String, &'static str, usize, String, &'static str),
    /// Day/month order cannot be told from the data.
    Ambiguous(String),
}

/// Detect the format of a column from its (row, value) pairs (nulls skipped by the caller).
pub fn detect<'a>(
    values: impl Iterator<Item = (usize, &'a str)>,
) -> Result<DateFormat, DetectError> {
    let mut first: Option<(usize, &str, Shape)> = None;
    let (mut max_a, mut max_b) = (0u32, 0u32);
    let mut all_compact_valid = true;
    let mut any_digits = false;
    let mut example_dm: Option<String> = None;
    for (row, v) in values {
        let sh = shape(v);
        if sh == Shape::Unknown {
            return Err(DetectError::Unparseable(row, v.to_string()));
        }
        let family = |s: Shape| match s {
            Shape::Digits8 | Shape::Digits => 2,
            Shape::DayMonth(..) => 1,
            _ => 0,
        };
        match first {
            None => first = Some((row, v, sh)),
            Some((r0, v0, s0)) if family(s0) != family(sh) => {
                return Err(DetectError::Mixed(
                    r0,
                    v0.to_string(),
                    shape_name(s0),
                    row,
                    v.to_string(),
                    shape_name(sh),
                ));
            }
            _ => {}
        }
        match sh {
            Shape::DayMonth(a, b) => {
                max_a = max_a.max(a);
                max_b = max_b.max(b);
                if example_dm.is_none() {
                    example_dm = Some(v.to_string());
                }
            }
            Shape::Digits8 if parse_compact(v.trim().as_bytes()).is_none() => {
                all_compact_valid = false;
            }
            Shape::Digits => any_digits = true,
            _ => {}
        }
    }
    let Some((_, _, s0)) = first else {
        return Ok(DateFormat::Iso);
    };
    Ok(match s0 {
        Shape::Iso => DateFormat::Iso,
        Shape::Digits8 | Shape::Digits => {
            if !any_digits && all_compact_valid {
                DateFormat::Compact
            } else {
                DateFormat::Epoch
            }
        }
        Shape::DayMonth(..) => match (max_a > 12, max_b > 12) {
            (true, false) => DateFormat::Dmy,
            (false, true) => DateFormat::Mdy,
            (false, false) => {
                return Err(DetectError::Ambiguous(example_dm.unwrap_or_default()));
            }
            (true, true) => {
                return Err(DetectError::Ambiguous(example_dm.unwrap_or_default()));
            }
        },
        Shape::Unknown => DateFormat::Iso,
    })
}

fn parse_compact(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 8 {
        return None;
    }
    let y = digits(&b[..4])? as i32;
    let m = digits(&b[4..6])?;
    let d = digits(&b[6..8])?;
    if !(1900..=2200).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Parse one value with a known format. `None` when it does not parse.
pub fn parse(fmt: &DateFormat, s: &str) -> Option<NaiveDate> {
    let t = crate::load::trim_field(s);
    let b = t.as_bytes();
    match fmt {
        DateFormat::Iso => {
            let (y, m, d, rest) = split_iso(b)?;
            if !time_tail_ok(rest) {
                return None;
            }
            NaiveDate::from_ymd_opt(y, m, d)
        }
        DateFormat::Compact => parse_compact(b),
        DateFormat::Dmy | DateFormat::Mdy => {
            let (a, m, y, rest) = split_dm(b)?;
            if !(rest.is_empty() || rest[0] == b' ') {
                return None;
            }
            let (day, month) = if *fmt == DateFormat::Dmy {
                (a, m)
            } else {
                (m, a)
            };
            NaiveDate::from_ymd_opt(y, month, day)
        }
        DateFormat::Epoch => {
            let v: f64 = t.parse().ok()?;
            if !v.is_finite() {
                return None;
            }
            // Values beyond year ~5138 in seconds are taken as milliseconds.
            let secs = if v.abs() >= 1e11 { v / 1000.0 } else { v };
            DateTime::from_timestamp(secs.floor() as i64, 0).map(|x| x.date_naive())
        }
        DateFormat::Custom(f) => NaiveDate::parse_from_str(t, f)
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(t, f).ok().map(|x| x.date()))
            .or_else(|| DateTime::parse_from_str(t, f).ok().map(|x| x.date_naive())),
    }
}

/// Dates outside this range are rejected as data errors.
pub fn in_range(d: NaiveDate) -> bool {
    use chrono::Datelike;
    (1900..=2200).contains(&d.year())
}

/// Parse a date given on the command line (`--as-of`, `--from`, `--to`).
pub fn parse_arg(s: &str) -> Result<NaiveDate, String> {
    for fmt in [DateFormat::Iso, DateFormat::Compact] {
        if let Some(d) = parse(&fmt, s) {
            return Ok(d);
        }
    }
    Err(format!("'{s}' is not a date (expected YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn det(v: &[&str]) -> Result<DateFormat, DetectError> {
        detect(v.iter().enumerate().map(|(i, s)| (i + 1, *s)))
    }

    #[test]
    fn iso_variants() {
        let f = DateFormat::Iso;
        assert_eq!(parse(&f, "2024-01-15"), Some(d(2024, 1, 15)));
        assert_eq!(parse(&f, "2024-01-15T10:20:30"), Some(d(2024, 1, 15)));
        assert_eq!(parse(&f, "2024-01-15 10:20"), Some(d(2024, 1, 15)));
        assert_eq!(
            parse(&f, "2024-01-15T23:59:59.123+02:00"),
            Some(d(2024, 1, 15))
        );
        assert_eq!(parse(&f, "2024-01-15T10:00:00Z"), Some(d(2024, 1, 15)));
        assert_eq!(parse(&f, "2024/1/5"), Some(d(2024, 1, 5)));
        assert_eq!(parse(&f, "2024-02-30"), None);
        assert_eq!(parse(&f, "2024-01-15x"), None);
        assert_eq!(
            det(&["2024-01-15", "2024-01-16T10:00:00"]),
            Ok(DateFormat::Iso)
        );
    }

    #[test]
    fn day_month_order_from_data() {
        assert_eq!(det(&["01/02/2024", "25/12/2024"]), Ok(DateFormat::Dmy));
        assert_eq!(
            det(&["01/02/2024", "12/25/2024 10:30"]),
            Ok(DateFormat::Mdy)
        );
        assert!(matches!(
            det(&["01/02/2024", "03/04/2024"]),
            Err(DetectError::Ambiguous(_))
        ));
        assert_eq!(parse(&DateFormat::Dmy, "25.12.2024"), Some(d(2024, 12, 25)));
        assert_eq!(
            parse(&DateFormat::Mdy, "12/25/2024 10:30:00"),
            Some(d(2024, 12, 25))
        );
        assert_eq!(parse(&DateFormat::Dmy, "12/25/2024"), None);
    }

    #[test]
    fn compact_and_epoch() {
        assert_eq!(det(&["20240115", "20231231"]), Ok(DateFormat::Compact));
        assert_eq!(
            parse(&DateFormat::Compact, "20240115"),
            Some(d(2024, 1, 15))
        );
        assert_eq!(det(&["1705312800", "1705399200"]), Ok(DateFormat::Epoch));
        assert_eq!(
            parse(&DateFormat::Epoch, "1705312800"),
            Some(d(2024, 1, 15))
        );
        assert_eq!(
            parse(&DateFormat::Epoch, "1705312800000"),
            Some(d(2024, 1, 15))
        );
        assert_eq!(
            parse(&DateFormat::Epoch, "1705312800.5"),
            Some(d(2024, 1, 15))
        );
    }

    #[test]
    fn errors_name_row_and_value() {
        assert_eq!(
            det(&["2024-01-15", "yesterday"]),
            Err(DetectError::Unparseable(2, "yesterday".into()))
        );
        assert!(matches!(
            det(&["2024-01-15", "15/01/2024"]),
            Err(DetectError::Mixed(1, _, _, 2, _, _))
        ));
    }

    #[test]
    fn user_formats() {
        assert_eq!(DateFormat::from_user("%d/%m/%Y"), DateFormat::Dmy);
        let f = DateFormat::from_user("%d %b %Y");
        assert_eq!(parse(&f, "15 Jan 2024"), Some(d(2024, 1, 15)));
        let f = DateFormat::from_user("%Y-%m-%d %H:%M:%S%z");
        assert_eq!(parse(&f, "2024-01-15 10:00:00+0200"), Some(d(2024, 1, 15)));
        assert_eq!(parse_arg("2024-06-30"), Ok(d(2024, 6, 30)));
        assert!(parse_arg("June").is_err());
    }
}
