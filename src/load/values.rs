//! Value parsing: dates (formats detected or given, Date and Datetime columns as days),
//! amounts (plain decimals in one pass, currency symbols, thousands separators, decimal
//! commas, accounting negatives) and other numbers, in parallel, the first bad value named
//! by its line and column.

use anyhow::Result;
use polars::prelude::*;

use crate::dates::{self, DateFormat, DetectError};
use crate::error::bad;
use crate::period::days_since_epoch;

use super::source::Input;
use super::LoadOptions;

/// Map every value of a text column in parallel (a few contiguous parts, one per
/// thread), in row order; the first error (lowest row) wins, with its row.
pub(super) fn par_map<T: Send, E: Send>(
    ca: &StringChunked,
    f: impl Fn(Option<&str>) -> Result<T, E> + Sync,
) -> Result<Vec<T>, (usize, E)> {
    use rayon::prelude::*;
    let n = ca.len();
    let parts = rayon::current_num_threads().max(1) * 4;
    let size = n.div_ceil(parts).max(1 << 16);
    let chunks: Vec<Result<Vec<T>, (usize, E)>> = (0..n.div_ceil(size))
        .into_par_iter()
        .map(|p| {
            let start = p * size;
            let part = ca.slice(start as i64, size.min(n - start));
            part.iter()
                .enumerate()
                .map(|(i, v)| f(v).map_err(|e| (start + i, e)))
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// A `Date` or (time-zone-less) `Datetime` column as days since epoch, read straight from
/// its arrays in parallel (None: another type, or a time zone: then polars casts it).
pub fn temporal_days(c: &Column) -> Result<Option<Vec<Option<i32>>>> {
    use rayon::prelude::*;
    // The arrays of `$ca`, each into its stretch of the output, in pieces of 64Ki rows.
    macro_rules! days {
        ($ca:expr, $day:expr) => {{
            let ca = $ca;
            let day = $day;
            let mut out: Vec<Option<i32>> = vec![None; ca.len()];
            let mut rest = out.as_mut_slice();
            let mut parts = Vec::new();
            for arr in ca.downcast_iter() {
                let (head, tail) = rest.split_at_mut(arr.len());
                parts.push((arr, head));
                rest = tail;
            }
            parts.into_par_iter().for_each(|(arr, out)| {
                let vals = arr.values().as_slice();
                let valid = arr.validity();
                out.par_chunks_mut(1 << 16).enumerate().for_each(|(k, o)| {
                    let base = k << 16;
                    for (j, slot) in o.iter_mut().enumerate() {
                        let i = base + j;
                        if valid.is_none_or(|b| b.get_bit(i)) {
                            *slot = day(vals[i]);
                        }
                    }
                });
            });
            out
        }};
    }
    Ok(match c.dtype() {
        DataType::Date => Some(days!(c.date()?.physical(), |v: i32| Some(v))),
        DataType::Datetime(unit, None) => {
            let per_day: i64 = match unit {
                TimeUnit::Nanoseconds => 86_400_000_000_000,
                TimeUnit::Microseconds => 86_400_000_000,
                TimeUnit::Milliseconds => 86_400_000,
            };
            Some(days!(c.datetime()?.physical(), |v: i64| {
                i32::try_from(v.div_euclid(per_day)).ok()
            }))
        }
        _ => None,
    })
}

/// [`parse_dates`] as a Date column, and its format. A Date column (as Parquet has) is
/// the column itself: its days are its values, with no vector of them and no copy.
pub(super) fn date_column(
    c: &Column,
    op: &Input,
    opts: &LoadOptions,
    src: &str,
) -> Result<(Column, String)> {
    if c.dtype() == &DataType::Date {
        return Ok((c.clone(), "Date".into()));
    }
    let (days, fmt) = parse_dates(c, op, opts, src)?;
    Ok((
        Column::new(c.name().clone(), days).cast(&DataType::Date)?,
        fmt,
    ))
}

/// Parse a date column into days since epoch (null where the source is null).
pub(super) fn parse_dates(
    c: &Column,
    op: &Input,
    opts: &LoadOptions,
    src: &str,
) -> Result<(Vec<Option<i32>>, String)> {
    if let Some(days) = temporal_days(c)? {
        let name = if c.dtype() == &DataType::Date {
            "Date"
        } else {
            "Datetime"
        };
        return Ok((days, name.into()));
    }
    if let DataType::Datetime(..) = c.dtype() {
        // With a time zone: polars' cast.
        let d = c.cast(&DataType::Date)?;
        return Ok((d.date()?.physical().iter().collect(), "Datetime".into()));
    }
    let s = c.cast(&DataType::String)?;
    let ca = s.str()?;
    if let Some(done) = parse_dates_fast(ca, opts) {
        return Ok(done);
    }
    let fmt = match &opts.date_format {
        Some(f) => f.clone(),
        None => dates::detect(
            ca.iter()
                .enumerate()
                .filter_map(|(i, v)| v.filter(|v| !v.trim().is_empty()).map(|v| (i, v))),
        )
        .map_err(|e| match e {
            DetectError::Unparseable(i, v) => bad(format!(
                "{}, column '{src}': cannot parse '{v}' as a date (formats tried: {}; \
                 or give --date-format)",
                op.at(i),
                dates::TRIED
            )),
            DetectError::Mixed(i, v, f, j, w, g) => bad(format!(
                "{}: column '{src}' mixes date formats: {} has '{v}' ({f}) but {} has '{w}' ({g})",
                op.label,
                op.at(i),
                op.at(j)
            )),
            DetectError::Ambiguous(v) => bad(format!(
                "{}: column '{src}': dates like '{v}' could be day/month or month/day; \
                 pass --date-format %d/%m/%Y or --date-format %m/%d/%Y",
                op.label
            )),
        })?,
    };
    let mut out = Vec::with_capacity(ca.len());
    for (i, v) in ca.iter().enumerate() {
        let Some(v) = v.filter(|v| !v.trim().is_empty()) else {
            out.push(None);
            continue;
        };
        let Some(d) = dates::parse(&fmt, v) else {
            return Err(bad(format!(
                "{}, column '{src}': cannot parse '{v}' as a date with format {}",
                op.at(i),
                fmt.describe()
            )));
        };
        if !dates::in_range(d) {
            return Err(bad(format!(
                "{}, column '{src}': date '{v}' is outside the years 1900–2200",
                op.at(i)
            )));
        }
        out.push(Some(days_since_epoch(d)));
    }
    Ok((out, fmt.describe()))
}

/// The common case in parallel: the format detected from the first values (or given)
/// parses every value to an in-range date. None sends the column to the full, sequential
/// detection and parse, which finds and words any error.
pub(super) fn parse_dates_fast(
    ca: &StringChunked,
    opts: &LoadOptions,
) -> Option<(Vec<Option<i32>>, String)> {
    let fmt = match &opts.date_format {
        Some(f) => f.clone(),
        None => dates::detect(detect_sample(ca).into_iter().enumerate()).ok()?,
    };
    Some((parse_days(ca, &fmt)?, fmt.describe()))
}

/// How many values the date format is detected from.
pub(super) const DETECT_VALUES: usize = 10_000;

/// The first [`DETECT_VALUES`] values of a text column that are not empty.
pub(super) fn detect_sample(ca: &StringChunked) -> Vec<&str> {
    ca.iter()
        .flatten()
        .filter(|v| !v.trim().is_empty())
        .take(DETECT_VALUES)
        .collect()
}

/// Every value as days since epoch with format `fmt`, in parallel (empty: null); None
/// when one does not parse to a date in range.
pub(super) fn parse_days(ca: &StringChunked, fmt: &DateFormat) -> Option<Vec<Option<i32>>> {
    par_map(ca, |v| day_of(v, fmt)).ok()
}

/// One value of [`parse_days`]: days since epoch (empty or blank: None); Err when it does
/// not parse to a date in range.
pub(super) fn day_of(v: Option<&str>, fmt: &DateFormat) -> Result<Option<i32>, ()> {
    match v.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => match dates::parse(fmt, v) {
            Some(d) if dates::in_range(d) => Ok(Some(days_since_epoch(d))),
            _ => Err(()),
        },
    }
}

/// Every value as an amount ([`parse_amount`]), in parallel (empty: null); the first
/// error with its row.
pub(super) fn parse_amounts(
    ca: &StringChunked,
    decimal_comma: bool,
) -> Result<Vec<Option<f64>>, (usize, String)> {
    par_map(ca, |v| amount_of(v, decimal_comma))
}

/// One value of [`parse_amounts`] (empty or blank: None).
pub(super) fn amount_of(v: Option<&str>, decimal_comma: bool) -> Result<Option<f64>, String> {
    match v.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => parse_amount(v, decimal_comma).map(Some),
    }
}

/// `s.trim()` (Unicode white space at both ends), without decoding characters when both
/// ends are ASCII and not white space: the usual field, whose trim is then a no-op. (A
/// non-ASCII white space character begins and ends with bytes of 0x80 and above.)
#[inline]
pub(crate) fn trim_field(s: &str) -> &str {
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C);
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if a < 0x80 && z < 0x80 && !ws(a) && !ws(z) => s,
        _ => s.trim(),
    }
}

/// Parse an amount: `1234.5`, `-3`, `$1,234.50`, `(12.00)`; with `decimal_comma`,
/// `1.234,50 €`. Thousands separators are accepted only where unambiguous.
pub fn parse_amount(raw: &str, decimal_comma: bool) -> Result<f64, String> {
    // Fast path: a plain number (digits, sign, point), the common case in exports.
    let t = trim_field(raw);
    if let Some(v) = plain_decimal(t.as_bytes(), decimal_comma) {
        return Ok(v);
    }
    if !t.is_empty()
        && t.len() < 24
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || (b == b'.' && !decimal_comma))
    {
        if let Ok(v) = t.parse::<f64>() {
            if v.abs() <= 1e15 {
                return Ok(v);
            }
        }
    }
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | '¥' | '₹' | '฿' | ' ' | '\u{a0}' | '\''))
        .collect();
    let mut neg = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        neg = true;
        s = s[1..s.len() - 1].to_string();
    }
    if decimal_comma {
        s = s.replace('.', "").replace(',', ".");
    } else if s.contains(',') {
        match (s.rfind(','), s.rfind('.')) {
            (Some(c), Some(d)) if d > c => s = s.replace(',', ""),
            _ => {
                return Err(format!(
                    "'{raw}' is ambiguous (is ',' a thousands or a decimal separator? \
                     use --decimal-comma if it is decimal)"
                ))
            }
        }
    }
    let v: f64 = s.parse().map_err(|_| format!("'{raw}' is not a number"))?;
    if !v.is_finite() {
        return Err(format!("'{raw}' is not a finite number"));
    }
    if v.abs() > 1e15 {
        return Err(format!("'{raw}' is implausibly large"));
    }
    Ok(if neg { -v } else { v })
}

/// Powers of ten that f64 holds exactly.
pub(super) const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `[-]digits[.digits]` with at most 15 significant digits and 22 decimals, as
/// `str::parse::<f64>` gives it (bit for bit: the digits and the power of ten are exact in
/// f64 and one division rounds correctly), in one pass; None for anything else (the
/// caller parses it the general way). With `decimal_comma`, integers only.
pub(super) fn plain_decimal(b: &[u8], decimal_comma: bool) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut mant, mut significant, mut decimals) = (0u64, 0u32, 0u32);
    let (mut point, mut any) = (false, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                any = true;
                if mant > 0 || c != b'0' {
                    significant += 1;
                    if significant > 15 {
                        return None;
                    }
                }
                mant = mant * 10 + u64::from(c - b'0');
                if point {
                    decimals += 1;
                }
            }
            b'.' if !point && !decimal_comma => point = true,
            _ => return None,
        }
    }
    if !any || decimals as usize >= POW10.len() {
        return None;
    }
    let v = mant as f64 / POW10[decimals as usize];
    Some(if neg { -v } else { v })
}

/// A numeric column (as Parquet has) as Float64, checked finite, without a vector of
/// parsed values: a Float64 column is the column itself, another numeric type one cast;
/// straight from the arrays (the chunked iterator costs a call per value). (Parsed into a vector and copied into a new column, the amounts of the 1M
/// benchmark's Parquet held three copies at once: 264 of the load's 345 MB heap peak.)
/// None when the column is not numeric.
pub(super) fn numeric_column(c: &Column, op: &Input, src: &str) -> Result<Option<Column>> {
    if !c.dtype().is_primitive_numeric() {
        return Ok(None);
    }
    let f = c.cast(&DataType::Float64)?;
    let mut at = 0;
    for arr in f.f64()?.downcast_iter() {
        let valid = arr.validity();
        for (j, &v) in arr.values().as_slice().iter().enumerate() {
            if !v.is_finite() && valid.is_none_or(|b| b.get_bit(j)) {
                return Err(bad(format!(
                    "{}, column '{src}': {v} is not a finite number",
                    op.at(at + j)
                )));
            }
        }
        at += arr.len();
    }
    Ok(Some(f))
}

pub(super) fn parse_numbers(
    c: &Column,
    op: &Input,
    opts: &LoadOptions,
    src: &str,
) -> Result<Vec<Option<f64>>> {
    if let Some(f) = numeric_column(c, op, src)? {
        let ca = f.f64()?;
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            out.extend(arr.iter().map(|v| v.copied()));
        }
        return Ok(out);
    }
    let s = c.cast(&DataType::String)?;
    parse_amounts(s.str()?, opts.decimal_comma)
        .map_err(|(i, e)| bad(format!("{}, column '{src}': {e}", op.at(i))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast trim is `str::trim` on ASCII, control characters, every Unicode white
    /// space character, other multi-byte characters and the empty string.
    #[test]
    fn trim_field_is_str_trim() {
        let mut pieces: Vec<String> = [
            "", "a", "7", "-", "é", "日", "\u{85}", "\u{a0}", "\u{3000}", "\u{1680}", "\u{200b}",
            "\u{1c}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        pieces.extend((0u8..0x80).map(|b| (b as char).to_string()));
        for a in &pieces {
            for b in &pieces {
                for mid in ["", "x", " ", "12.50"] {
                    let s = format!("{a}{mid}{b}");
                    assert_eq!(super::trim_field(&s), s.trim(), "{s:?}");
                }
            }
        }
    }

    /// The one-pass decimal parser is `str::parse` bit for bit where it answers, and
    /// answers for the plain decimals of exports.
    #[test]
    fn plain_decimals_parse_as_the_standard_library_does() {
        let mut state = 99u64;
        let mut next = || crate::models::se::splitmix64(&mut state);
        for _ in 0..200_000 {
            let int = next() % 10u64.pow((next() % 12) as u32 + 1);
            let frac_len = (next() % 8) as usize;
            let frac: String = (0..frac_len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let sign = if next() % 3 == 0 { "-" } else { "" };
            let text = match next() % 4 {
                0 => format!("{sign}{int}"),
                1 => format!("{sign}{int}.{frac}"),
                2 => format!("{sign}0.{frac}"),
                _ => format!("{sign}{int}."),
            };
            let want: f64 = text.parse().unwrap();
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let significant = digits.trim_start_matches('0').len();
            match plain_decimal(text.as_bytes(), false) {
                Some(got) => assert_eq!(got.to_bits(), want.to_bits(), "{text}"),
                None => assert!(significant > 15, "{text}: left to the general parser"),
            }
        }
        for text in [
            ".5",
            "-.25",
            "0",
            "-0",
            "007.10",
            "123456789012345",
            "0.0000000000000000000001",
        ] {
            let want: f64 = text.parse().unwrap();
            assert_eq!(
                plain_decimal(text.as_bytes(), false).map(f64::to_bits),
                Some(want.to_bits()),
                "{text}"
            );
        }
        // left to the general parser
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "1-2",
            "+1",
            "1e5",
            "1,5",
            " 1",
            "1234567890123456",
            "inf",
            "0.00000000000000000000001",
        ] {
            assert_eq!(plain_decimal(text.as_bytes(), false), None, "{text}");
        }
        assert_eq!(plain_decimal(b"12", true), Some(12.0));
        assert_eq!(plain_decimal(b"1.5", true), None);
        assert_eq!(
            parse_amount("1234567890123456", false),
            Err("'1234567890123456' is implausibly large".to_string())
        );
    }

    /// Dates and datetimes read from their arrays equal polars' cast to Date: nulls,
    /// days before 1970 (floor, not truncation), several chunks, every time unit.
    #[test]
    fn temporal_days_equal_polars_cast() {
        use super::*;
        let ms: Vec<Option<i64>> = vec![
            Some(0),
            Some(-1),
            None,
            Some(86_399_999),
            Some(86_400_000),
            Some(-86_400_001),
            Some(1_735_603_200_123),
        ];
        for unit in [
            TimeUnit::Milliseconds,
            TimeUnit::Microseconds,
            TimeUnit::Nanoseconds,
        ] {
            let k = match unit {
                TimeUnit::Milliseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Nanoseconds => 1_000_000,
            };
            let v: Vec<Option<i64>> = ms.iter().map(|x| x.map(|x| x * k)).collect();
            let mut a = Series::new("d".into(), v.clone());
            a.append(&Series::new("d".into(), v)).unwrap();
            let c = Column::from(a)
                .cast(&DataType::Datetime(unit, None))
                .unwrap();
            assert_eq!(c.n_chunks(), 2);
            let want: Vec<Option<i32>> = c
                .cast(&DataType::Date)
                .unwrap()
                .date()
                .unwrap()
                .physical()
                .iter()
                .collect();
            assert_eq!(temporal_days(&c).unwrap().unwrap(), want, "{unit:?}");
            assert_eq!(want[1], Some(-1));
            assert_eq!(want[2], None);
        }
        let d = Column::new("d".into(), [Some(-3), None, Some(20_000)])
            .cast(&DataType::Date)
            .unwrap();
        assert_eq!(
            temporal_days(&d).unwrap().unwrap(),
            [Some(-3), None, Some(20_000)]
        );
        let text = Column::new("d".into(), ["2024-01-01"]);
        assert!(temporal_days(&text).unwrap().is_none());
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("12.5", false), Ok(12.5));
        assert_eq!(parse_amount(" -3 ", false), Ok(-3.0));
        assert_eq!(parse_amount("$1,234.50", false), Ok(1234.5));
        assert_eq!(parse_amount("(12.00)", false), Ok(-12.0));
        assert_eq!(parse_amount("1.234,50 €", true), Ok(1234.5));
        assert!(parse_amount("1,234", false).is_err());
        assert!(parse_amount("abc", false).is_err());
        assert!(parse_amount("NaN", false).is_err());
        assert!(parse_amount("inf", false).is_err());
        assert!(parse_amount("1e300", false).is_err());
        // The plain-number fast path and its edges.
        assert_eq!(parse_amount("0.10", false), Ok(0.1));
        assert_eq!(parse_amount("-0", false), Ok(0.0));
        assert!(parse_amount("-", false).is_err());
        assert!(parse_amount("1.2.3", false).is_err());
        assert!(parse_amount("9999999999999999", false).is_err());
        // With --decimal-comma a point is a thousands separator, not a decimal point.
        assert_eq!(parse_amount("1.234", true), Ok(1234.0));
    }
}
