//! The typed read's own scanner of CSV chunks: each chunk's lines are split and their
//! selected fields converted straight into the typed columns (dates as days, amounts,
//! ids coded), in parallel over line-aligned pieces, without text columns in between.
//!
//! It reads only the plain case: no quote anywhere in the chunk, no carriage return other
//! than before a line end, no blank line, every line with the header's field count, every
//! value converting. A chunk with anything else is left to polars' reader and
//! [`TypedState::convert`] (which give the same columns), so what the loader accepts,
//! and how it words errors, does not depend on this scanner. The benchmark that chose it
//! over polars' reader is in `benches/RESULTS-2026-12-02e.md`.

use anyhow::Result;
use polars::prelude::*;

use super::read::{DistinctRead, Typed, TypedState};
use super::text::line_bounds;
use crate::dates::DateFormat;

/// How one selected column is read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Date,
    Number,
    /// Coded by the coder of [`Typed::ids`] at this index.
    Id(usize),
    Text,
}

/// What the scanner reads from each line: the field count, and each selected column's
/// output name, field and role (in the selection's order).
#[derive(Debug)]
pub(super) struct Plan {
    delim: u8,
    fields: usize,
    cols: Vec<(PlSmallStr, usize, Role)>,
}

impl Plan {
    /// The plan for a selection of plain columns (`col(a)`, `col(a).alias(b)`) of a file
    /// whose header is `names`; None when the selection is anything else (left to polars).
    pub(super) fn new(names: &[String], exprs: &[Expr], typed: &Typed, delim: u8) -> Option<Plan> {
        // (without columns a frame's height is not its rows')
        if exprs.is_empty() {
            return None;
        }
        let mut cols = Vec::with_capacity(exprs.len());
        for e in exprs {
            let (src, out) = match e {
                Expr::Column(n) => (n.clone(), n.clone()),
                Expr::Alias(inner, a) => match &**inner {
                    Expr::Column(n) => (n.clone(), a.clone()),
                    _ => return None,
                },
                _ => return None,
            };
            let mut at = names
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == src.as_str());
            let (field, _) = at.next()?;
            if at.next().is_some() {
                return None;
            }
            let role = if typed.date.as_ref().is_some_and(|(d, _)| d == out.as_str()) {
                Role::Date
            } else if typed.numbers.iter().any(|n| n == out.as_str()) {
                Role::Number
            } else if let Some(k) = typed.ids.iter().position(|(n, _)| n == out.as_str()) {
                Role::Id(k)
            } else {
                Role::Text
            };
            if typed.distinct.as_deref() == Some(out.as_str())
                && matches!(role, Role::Date | Role::Number)
            {
                return None;
            }
            cols.push((out, field, role));
        }
        Some(Plan {
            delim,
            fields: names.len(),
            cols,
        })
    }
}

/// What scanning one chunk gave.
pub(super) enum Scanned {
    /// The chunk's typed columns, as [`TypedState::convert`] would give them.
    Frame(DataFrame),
    /// Left to polars' reader and [`TypedState::convert`].
    Leave,
    /// The typed read gives up (as `convert` returning None: the date format cannot be
    /// detected yet, or the distinct column repeats after it was dropped).
    GiveUp,
}

/// One piece's values of one column.
enum Values<'a> {
    Days(Vec<Option<i32>>),
    Numbers(Vec<Option<f64>>),
    Strs(Vec<Option<&'a str>>),
}

impl<'a> Values<'a> {
    fn strs(&self) -> &[Option<&'a str>] {
        match self {
            Values::Strs(v) => v,
            _ => &[],
        }
    }
}

/// Cut `data` into lines and their fields, and call `f` with each line's fields ((start,
/// end) in `data`, without the line end and a carriage return before it), in order, until
/// `f` says to stop (`Some(false)`). None when a line is blank or has another field count
/// than `want`, or when `f` gives None.
fn each_line(
    data: &[u8],
    delim: u8,
    want: usize,
    mut f: impl FnMut(&[(usize, usize)]) -> Option<bool>,
) -> Option<()> {
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(want);
    let mut line = |fields: &[(usize, usize)]| -> Option<bool> {
        if fields.len() != want || (want == 1 && fields[0].0 == fields[0].1) {
            return None;
        }
        f(fields)
    };
    let mut start = 0;
    for i in memchr::memchr2_iter(delim, b'\n', data) {
        if fields.len() == want {
            return None;
        }
        if data[i] == delim {
            fields.push((start, i));
        } else {
            let end = if i > start && data[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            fields.push((start, end));
            if !line(&fields)? {
                return Some(());
            }
            fields.clear();
        }
        start = i + 1;
    }
    if start < data.len() {
        let end = data.len() - usize::from(data.ends_with(b"\r"));
        fields.push((start, end));
        line(&fields)?;
    } else if !fields.is_empty() {
        // (a last line of delimiters only, without a line end)
        fields.push((start, start));
        line(&fields)?;
    }
    Some(())
}

/// Dates already converted in one piece, by their text (up to 16 bytes): exports repeat
/// a few thousand dates over millions of rows. Direct-mapped; a miss converts again.
struct DayCache {
    slots: Vec<(u128, u8, i32)>,
}

impl DayCache {
    const SLOTS: usize = 1 << 12;

    fn new() -> DayCache {
        DayCache {
            slots: vec![(0, u8::MAX, 0); Self::SLOTS],
        }
    }

    /// [`super::super::values::day_of`] of `v`, remembered when it is a date.
    fn day(&mut self, v: Option<&str>, format: &DateFormat) -> Result<Option<i32>, ()> {
        let Some(b) = v.map(str::as_bytes).filter(|b| b.len() <= 16) else {
            return super::super::values::day_of(v, format);
        };
        let mut key = [0u8; 16];
        key[..b.len()].copy_from_slice(b);
        let key = u128::from_le_bytes(key);
        let h = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(h >> 52) as usize];
        if slot.0 == key && slot.1 as usize == b.len() {
            return Ok(Some(slot.2));
        }
        let day = super::super::values::day_of(v, format)?;
        if let Some(d) = day {
            *slot = (key, b.len() as u8, d);
        }
        Ok(day)
    }
}

/// Scan one piece's lines into each column's values; None when a line is not plain or a
/// value does not convert.
fn scan_piece<'a>(
    data: &'a [u8],
    plan: &Plan,
    format: Option<&DateFormat>,
    decimal_comma: bool,
) -> Option<Vec<Values<'a>>> {
    // (pieces end at line ends, so they hold whole characters)
    let text = std::str::from_utf8(data).ok()?;
    let rows = memchr::memchr_iter(b'\n', data).count() + 1;
    let mut out: Vec<Values> = plan
        .cols
        .iter()
        .map(|(_, _, role)| match role {
            Role::Date => Values::Days(Vec::with_capacity(rows)),
            Role::Number => Values::Numbers(Vec::with_capacity(rows)),
            Role::Id(_) | Role::Text => Values::Strs(Vec::with_capacity(rows)),
        })
        .collect();
    let mut days = DayCache::new();
    each_line(data, plan.delim, plan.fields, |fields| {
        for ((_, f, _), values) in plan.cols.iter().zip(out.iter_mut()) {
            let (a, b) = fields[*f];
            let v = (a < b).then(|| &text[a..b]);
            match values {
                Values::Days(d) => d.push(days.day(v, format?).ok()?),
                Values::Numbers(n) => {
                    n.push(super::super::values::amount_of(v, decimal_comma).ok()?)
                }
                Values::Strs(s) => s.push(v),
            }
        }
        Some(true)
    })?;
    Some(out)
}

/// One column of `height` values from the pieces' `parts`. Without an empty value (the
/// usual case) they go into a plain vector, which becomes the column without a copy or a
/// validity mask.
fn joined<'p, T>(
    name: &PlSmallStr,
    parts: impl Iterator<Item = &'p [Option<T>]> + Clone,
    height: usize,
) -> Column
where
    T: Copy + 'p,
    Series: NamedFromOwned<Vec<T>> + NamedFrom<Vec<Option<T>>, [Option<T>]>,
{
    if parts.clone().flatten().all(Option::is_some) {
        let mut plain: Vec<T> = Vec::with_capacity(height);
        plain.extend(parts.flatten().flatten().copied());
        // (the vector becomes the column's buffer: `Column::new` would copy it, into
        // fresh memory; a tenth of `ltv --summary`'s page faults on the 1M summary)
        Series::from_vec(name.clone(), plain).into()
    } else {
        let mut all: Vec<Option<T>> = Vec::with_capacity(height);
        all.extend(parts.flatten().copied());
        Column::new(name.clone(), all)
    }
}

/// The first values of the date field (up to the loader's sample size) that are not
/// blank, as [`super::super::values::detect_sample`] takes them; None when a line is not plain.
fn date_sample<'a>(data: &'a [u8], plan: &Plan, field: usize) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    each_line(data, plan.delim, plan.fields, |fields| {
        if out.len() >= super::super::values::DETECT_VALUES {
            return Some(false);
        }
        let (a, b) = fields[field];
        let v = std::str::from_utf8(&data[a..b]).ok()?;
        if !v.trim().is_empty() {
            out.push(v);
        }
        Some(true)
    })?;
    Some(out)
}

/// Scan one chunk (whole records, no header) into the typed columns of `plan`, updating
/// `state` as [`TypedState::convert`] does; `last`: no chunk follows.
pub(super) fn scan_chunk(
    data: &[u8],
    plan: &Plan,
    state: &mut TypedState,
    last: bool,
) -> Result<Scanned> {
    use rayon::prelude::*;
    if memchr::memchr(b'"', data).is_some()
        || memchr::memchr_iter(b'\r', data).any(|i| data.get(i + 1) != Some(&b'\n'))
    {
        return Ok(Scanned::Leave);
    }
    let t: &Typed = state.typed;
    // The date format, detected from the first chunk as `convert` detects it.
    let date_field = plan.cols.iter().find(|c| c.2 == Role::Date).map(|c| c.1);
    if let (Some(field), None, Some((_, given))) = (date_field, &state.format, &t.date) {
        state.format = match given {
            Some(f) => Some(f.clone()),
            None => {
                let Some(values) = date_sample(data, plan, field) else {
                    return Ok(Scanned::Leave);
                };
                if values.len() < super::super::values::DETECT_VALUES && !last {
                    return Ok(Scanned::GiveUp);
                }
                match crate::dates::detect(values.into_iter().enumerate()) {
                    Ok(f) => Some(f),
                    Err(_) => return Ok(Scanned::GiveUp),
                }
            }
        };
    }
    let bounds = line_bounds(data, rayon::current_num_threads().max(1) * 4);
    let format = state.format.as_ref();
    let pieces: Option<Vec<Vec<Values>>> = bounds
        .par_windows(2)
        .map(|w| scan_piece(&data[w[0]..w[1]], plan, format, t.decimal_comma))
        .collect();
    let Some(pieces) = pieces else {
        return Ok(Scanned::Leave);
    };
    let height: usize = pieces
        .iter()
        .map(|p| match p.first() {
            Some(Values::Days(v)) => v.len(),
            Some(Values::Numbers(v)) => v.len(),
            Some(Values::Strs(v)) => v.len(),
            None => 0,
        })
        .sum();
    let mut columns = Vec::with_capacity(plan.cols.len());
    for (j, (name, _, role)) in plan.cols.iter().enumerate() {
        let column = match role {
            Role::Date => {
                let days = pieces.iter().filter_map(|p| match &p[j] {
                    Values::Days(v) => Some(v.as_slice()),
                    _ => None,
                });
                joined(name, days, height).cast(&DataType::Date)?
            }
            Role::Number => {
                let numbers = pieces.iter().filter_map(|p| match &p[j] {
                    Values::Numbers(v) => Some(v.as_slice()),
                    _ => None,
                });
                joined(name, numbers, height)
            }
            Role::Id(_) | Role::Text => {
                let lens: Vec<usize> = pieces.iter().map(|p| p[j].strs().len()).collect();
                let get = |k: usize, i: usize| pieces[k][j].strs()[i];
                if let (Some(d), DistinctRead::Check { runs, dropped }) =
                    (&t.distinct, &mut state.distinct)
                {
                    if d == name.as_str() {
                        let shown = pieces
                            .iter()
                            .all(|p| p[j].strs().iter().all(Option::is_some))
                            && runs.feed_by(&lens, get);
                        if shown {
                            *dropped = true;
                            continue;
                        } else if *dropped {
                            state.restart = true;
                            return Ok(Scanned::GiveUp);
                        } else {
                            state.distinct = DistinctRead::Code;
                        }
                    }
                }
                match role {
                    Role::Id(k) => {
                        let blank_is_null = t.ids[*k].1;
                        let parts = state.coders[*k].code_by_parts(&lens, get, blank_is_null);
                        joined(name, parts.iter().map(Vec::as_slice), height)
                    }
                    _ => {
                        let strs: Vec<Option<&str>> = pieces
                            .iter()
                            .flat_map(|p| p[j].strs().iter().copied())
                            .collect();
                        Column::new(name.clone(), strs)
                    }
                }
            }
        };
        columns.push(column);
    }
    Ok(Scanned::Frame(DataFrame::new(height, columns)?))
}

#[cfg(test)]
mod tests {
    use super::super::read::{parse_chunk, DistinctRead, PrefixRuns, Typed, TypedState};
    use super::super::CsvShape;
    use super::*;
    use crate::load::ids::IdCoder;

    fn typed() -> Typed {
        Typed {
            date: Some(("date".into(), None)),
            numbers: vec!["amount".into()],
            decimal_comma: false,
            ids: vec![("customer_id".into(), true), ("order_id".into(), false)],
            distinct: Some("order_id".into()),
            scale_amount: false,
        }
    }

    fn state(typed: &Typed) -> TypedState<'_> {
        TypedState {
            typed,
            format: None,
            coders: typed.ids.iter().map(|_| IdCoder::new()).collect(),
            distinct: DistinctRead::Check {
                runs: PrefixRuns::default(),
                dropped: false,
            },
            restart: false,
        }
    }

    const NAMES: [&str; 5] = ["order", "cust", "day", "cat", "value"];

    fn exprs() -> Vec<Expr> {
        vec![
            col("cust").alias("customer_id"),
            col("day").alias("date"),
            col("value").alias("amount"),
            col("order").alias("order_id"),
            col("cat").alias("category"),
        ]
    }

    /// What polars' reader and `TypedState::convert` make of one chunk.
    fn by_polars(data: &[u8], typed: &Typed) -> (Option<DataFrame>, Option<DateFormat>, bool) {
        let shape = CsvShape {
            delim: b',',
            has_header: false,
            flexible: false,
        };
        let schema: Schema = NAMES
            .iter()
            .map(|n| Field::new((*n).into(), DataType::String))
            .collect();
        let mut st = state(typed);
        let df = parse_chunk(data, shape, &schema, None, &exprs()).unwrap();
        let out = st.convert(df, true).unwrap();
        let dropped = matches!(st.distinct, DistinctRead::Check { dropped: true, .. });
        (out, st.format, dropped)
    }

    fn by_scanner(data: &[u8], typed: &Typed) -> (Scanned, Option<DateFormat>, bool) {
        let names: Vec<String> = NAMES.map(String::from).to_vec();
        let plan = Plan::new(&names, &exprs(), typed, b',').unwrap();
        let mut st = state(typed);
        let out = scan_chunk(data, &plan, &mut st, true).unwrap();
        let dropped = matches!(st.distinct, DistinctRead::Check { dropped: true, .. });
        (out, st.format, dropped)
    }

    /// Many lines, so that the chunk is cut into several pieces.
    fn many(line_end: &str, repeat_orders: bool) -> String {
        let mut s = String::new();
        for i in 0..60_000 {
            let order = if repeat_orders { i / 3 } else { i };
            let day = 1 + i % 28;
            let amount = match i % 7 {
                0 => String::new(),
                1 => "  ".into(),
                2 => "$1234.50".into(),
                _ => format!("{}.{:02}", i % 500, i % 100),
            };
            let cust = match i % 11 {
                0 => " ".into(),
                1 => String::new(),
                _ => format!("C{:05}", i / 4 % 9000),
            };
            s.push_str(&format!(
                "O{order:07},{cust},2024-03-{day:02},cat{},{amount}{line_end}",
                i % 3
            ));
        }
        s
    }

    #[test]
    fn plain_chunks_scan_as_polars_and_convert_read_them() {
        let typed = typed();
        for text in [
            many("\n", false),
            many("\r\n", false),
            many("\n", true),
            "O1,C1,2024-01-02,a,3\nO2,C1,2024-01-03,,4".into(),
            "O2,C1,2024-01-02,a,3\nO1,C2,,b,\n".into(),
            "O2,C1,2024-01-02,a,3\r\nO1,C2,2024-01-02,,".into(),
            "O1,C\u{e9}1,2024-01-02,caf\u{e9},3\nO2, C1 ,2024-01-03T10:00:00,b,-4\n".into(),
        ] {
            let (want, want_format, want_dropped) = by_polars(text.as_bytes(), &typed);
            let (got, format, dropped) = by_scanner(text.as_bytes(), &typed);
            let Scanned::Frame(got) = got else {
                panic!("not scanned: {}", &text[..40.min(text.len())])
            };
            let want = want.unwrap();
            assert!(got.equals_missing(&want), "{got:?}\n{want:?}");
            assert_eq!(got.get_column_names(), want.get_column_names());
            assert_eq!((format, dropped), (want_format, want_dropped));
        }
    }

    #[test]
    fn anything_but_plain_lines_is_left_to_polars() {
        let typed = typed();
        for text in [
            "O1,C1,2024-01-02,a,3\n\"O2\",C1,2024-01-03,b,4\n",
            "O1,C1,2024-01-02,a,3\n\nO2,C1,2024-01-03,b,4\n",
            "O1,C1,2024-01-02,a,3\nO2,C1,2024-01-03,b\n",
            "O1,C1,2024-01-02,a,3\nO2,C1,2024-01-03,b,4,5\n",
            "O1,C1,2024-01-02,a,3\nO2,C1\r,2024-01-03,b,4\n",
            "O1,C1,2024-01-02,a,3\nO2,C1,2024-01-03,b,abc\n",
            "O1,C1,2024-01-02,a,3\nO2,C1,2024-13-03,b,4\n",
        ] {
            let (got, _, _) = by_scanner(text.as_bytes(), &typed);
            assert!(matches!(got, Scanned::Leave), "{text}");
        }
        // Not UTF-8.
        let (got, _, _) = by_scanner(b"O1,C\xff,2024-01-02,a,3\n", &typed);
        assert!(matches!(got, Scanned::Leave));
    }

    #[test]
    fn a_format_from_too_few_values_or_repeats_after_a_drop_give_up() {
        let typed = typed();
        let names: Vec<String> = NAMES.map(String::from).to_vec();
        let plan = Plan::new(&names, &exprs(), &typed, b',').unwrap();
        let text = b"O1,C1,2024-01-02,a,3\nO2,C1,2024-01-03,b,4\n";
        // More chunks follow and fewer than the sample size were seen: not trusted.
        let mut st = state(&typed);
        assert!(matches!(
            scan_chunk(text, &plan, &mut st, false).unwrap(),
            Scanned::GiveUp
        ));
        // A chunk whose order ids repeat after an earlier chunk dropped them: read again.
        let mut st = state(&typed);
        st.format = Some(DateFormat::Iso);
        assert!(matches!(
            scan_chunk(text, &plan, &mut st, false).unwrap(),
            Scanned::Frame(_)
        ));
        let again = b"O2,C1,2024-01-02,a,3\n";
        assert!(matches!(
            scan_chunk(again, &plan, &mut st, true).unwrap(),
            Scanned::GiveUp
        ));
        assert!(st.restart);
        // A selection that is not plain columns is not planned.
        assert!(Plan::new(&names, &[lit(1i32).alias("x")], &typed, b',').is_none());
        assert!(Plan::new(&names, &[], &typed, b',').is_none());
        // Nor a header naming a selected column twice.
        let twice: Vec<String> = ["order", "cust", "cust", "cat", "value"]
            .map(String::from)
            .to_vec();
        assert!(Plan::new(&twice, &exprs(), &typed, b',').is_none());
    }
}
