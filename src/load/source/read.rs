//! The typed read: CSV text in chunks (parsed by [`crate::load::scan`] or polars) and Parquet in
//! slices of rows, each turned into typed columns (dates as days, amounts, ids coded) as it
//! is read, so the input never exists whole as text columns.

use anyhow::Result;
use polars::prelude::*;

use crate::dates::DateFormat;
use crate::error::bad;
use crate::load::ids::IdCoder;

use super::text::{check_text, next_bound, record_end};
use super::{leaf, scan, short_label, CsvShape, Input, Part, CHUNK};

/// Text columns turned into typed ones chunk by chunk as CSV text is read, so that the
/// whole input never exists as text columns at once (memory follows the typed columns):
/// the date column as `Date` with the given format, or the one detected from its first
/// 10,000 values as the loader detects it; number columns as `Float64` by
/// [`crate::load::parse_amount`]. A value that does not convert sends the whole input back to
/// the all-text read, where the loader's own parse finds the first error and words it.
pub(crate) struct Typed {
    /// The (canonical) date column and the format given for it (None: detect).
    pub date: Option<(String, Option<DateFormat>)>,
    /// The (canonical) number columns.
    pub numbers: Vec<String>,
    pub decimal_comma: bool,
    /// The (canonical) id columns to code chunk by chunk, each by its own coder
    /// ([`IdCoder::code_values`]), and whether a blank id is null.
    pub ids: Vec<(String, bool)>,
    /// A column (the order ids) dropped chunk by chunk while its values are shown
    /// distinct ([`PrefixRuns`]: non-null, increasing within each of a few prefixes); when
    /// a chunk shows otherwise it is coded instead (it is one of `ids`), and the read
    /// starts again if an earlier chunk had dropped it.
    pub distinct: Option<String>,
    /// Hold the `amount` column as exact counts ([`crate::load::amounts`]), chunk by
    /// chunk, where its values allow.
    pub scale_amount: bool,
}

/// Values increasing within each prefix (the text before trailing digits), for at most
/// [`PrefixRuns::MAX`] prefixes: `O00000001`, … and `R00000001`, … (orders and returns
/// numbered in two series) are distinct. Fed chunk by chunk, keeping one value per prefix.
#[derive(Clone, Debug, Default)]
pub(crate) struct PrefixRuns {
    pub(super) last: Vec<(String, String)>,
}

impl PrefixRuns {
    pub const MAX: usize = 8;

    /// Whether the values so far, then `values`, are still increasing by prefix (one by
    /// one: the reference the tests hold [`PrefixRuns::feed_column`] to).
    #[cfg(test)]
    pub fn feed<'a>(&mut self, values: impl Iterator<Item = &'a str>) -> bool {
        let spans = Self::spans(values.map(Some));
        self.join(std::slice::from_ref(&spans))
    }

    /// [`PrefixRuns::feed`] with a column of ids, none null: ranges of rows are checked at
    /// once (each gives its prefixes' first and last values), then joined in row order.
    pub fn feed_column(&mut self, ca: &StringChunked) -> bool {
        let arrays: Vec<_> = ca.downcast_iter().collect();
        let lens: Vec<usize> = arrays.iter().map(|a| a.len()).collect();
        self.feed_by(&lens, |k, i| arrays[k].get(i))
    }

    /// [`PrefixRuns::feed_column`] on ids held in parts (their lengths in `lens`; `get(k,
    /// i)`: row `i` of part `k`).
    pub fn feed_by<'a>(
        &mut self,
        lens: &[usize],
        get: impl Fn(usize, usize) -> Option<&'a str> + Sync,
    ) -> bool {
        use rayon::prelude::*;
        let ranges = crate::load::ids::row_ranges(lens.iter().copied());
        let spans: Vec<_> = ranges
            .par_iter()
            .map(|&(k, at, len)| Self::spans((at..at + len).map(|i| get(k, i))))
            .collect();
        self.join(&spans)
    }

    /// Each prefix's (prefix, first, last) value of `values`, in order of first
    /// appearance; None where they do not increase by prefix (or one is null).
    #[allow(clippy::type_complexity)]
    fn spans<'a>(
        values: impl Iterator<Item = Option<&'a str>>,
    ) -> Option<Vec<(&'a str, &'a str, &'a str)>> {
        let mut spans: Vec<(&str, &str, &str)> = Vec::new();
        for v in values {
            let v = v?;
            // (ASCII digits are whole characters: trimming bytes trims characters)
            let digits = v.bytes().rev().take_while(u8::is_ascii_digit).count();
            let p = &v[..v.len() - digits];
            match spans
                .iter()
                .position(|s| crate::load::ids::same_bytes(s.0, p))
            {
                Some(j) if crate::load::ids::fast_cmp(spans[j].2, v).is_lt() => spans[j].2 = v,
                Some(_) => return None,
                None if spans.len() < Self::MAX => spans.push((p, v, v)),
                None => return None,
            }
        }
        Some(spans)
    }

    /// Join [`PrefixRuns::spans`] of consecutive values, in order, onto the runs so far.
    #[allow(clippy::type_complexity)]
    fn join(&mut self, spans: &[Option<Vec<(&str, &str, &str)>>]) -> bool {
        let mut last: Vec<(&str, &str)> = self
            .last
            .iter()
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect();
        for spans in spans {
            let Some(spans) = spans else { return false };
            for &(p, first, end) in spans {
                match last.iter().position(|(q, _)| *q == p) {
                    Some(i) if last[i].1 < first => last[i].1 = end,
                    Some(_) => return false,
                    None if last.len() < Self::MAX => last.push((p, end)),
                    None => return false,
                }
            }
        }
        self.last = last
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        true
    }
}

/// How [`Typed::distinct`] is being read.
#[derive(Clone, Debug)]
pub(super) enum DistinctRead {
    /// Dropped while shown distinct (by the runs so far); `dropped`: some chunk was.
    Check { runs: PrefixRuns, dropped: bool },
    /// Coded (after a chunk that was not shown distinct).
    Code,
}

/// What a typed read coded: the coders of [`Typed::ids`], and whether
/// [`Typed::distinct`] was shown distinct and dropped.
pub(crate) struct ReadCodes {
    pub coders: Vec<IdCoder>,
    pub distinct_dropped: bool,
}

/// The typed read's state across chunks and parts: the date format once detected, the
/// ids coded so far (one coder per [`Typed::ids`] column).
pub(super) struct TypedState<'a> {
    pub(super) typed: &'a Typed,
    pub(super) format: Option<DateFormat>,
    pub(super) coders: Vec<IdCoder>,
    pub(super) distinct: DistinctRead,
    /// A chunk showed `distinct` repeating after an earlier chunk had dropped it.
    pub(super) restart: bool,
}

impl TypedState<'_> {
    /// Convert one chunk's text columns; None when a value does not convert (or the
    /// format cannot be detected as the loader would: from fewer than 10,000 values
    /// when more chunks follow).
    pub(super) fn convert(&mut self, mut df: DataFrame, last: bool) -> Result<Option<DataFrame>> {
        let t = self.typed;
        if let Some((name, given)) = &t.date {
            if let Ok(c) = df.column(name) {
                let ca = c.str()?;
                if self.format.is_none() {
                    self.format = match given {
                        Some(f) => Some(f.clone()),
                        None => {
                            let values = crate::load::values::detect_sample(ca);
                            if values.len() < crate::load::values::DETECT_VALUES && !last {
                                return Ok(None);
                            }
                            match crate::dates::detect(values.into_iter().enumerate()) {
                                Ok(f) => Some(f),
                                Err(_) => return Ok(None),
                            }
                        }
                    };
                }
                let Some(fmt) = &self.format else {
                    return Ok(None);
                };
                let Some(days) = crate::load::values::parse_days(ca, fmt) else {
                    return Ok(None);
                };
                let col = Column::new(name.as_str().into(), days).cast(&DataType::Date)?;
                df.with_column(col)?;
            }
        }
        for name in &t.numbers {
            let Ok(c) = df.column(name) else { continue };
            let Ok(values) = crate::load::values::parse_amounts(c.str()?, t.decimal_comma) else {
                return Ok(None);
            };
            df.with_column(Column::new(name.as_str().into(), values))?;
        }
        self.convert_ids(df)
    }

    /// Code one chunk's id columns, and check (and drop) its distinct column
    /// ([`Typed::distinct`]); None when the read must start again (see `restart`).
    pub(super) fn convert_ids(&mut self, mut df: DataFrame) -> Result<Option<DataFrame>> {
        let t = self.typed;
        if let (Some(name), DistinctRead::Check { runs, dropped }) =
            (&t.distinct, &mut self.distinct)
        {
            if let Ok(c) = df.column(name) {
                let shown = c.null_count() == 0
                    && c.dtype() == &DataType::String
                    && runs.feed_column(c.str()?);
                if shown {
                    let _ = df.drop_in_place(name);
                    *dropped = true;
                } else if *dropped {
                    self.restart = true;
                    return Ok(None);
                } else {
                    self.distinct = DistinctRead::Code;
                }
            }
        }
        for ((name, blank_is_null), coder) in t.ids.iter().zip(&mut self.coders) {
            if let Ok(c) = df.column(name) {
                let codes = coder.code_values(c, *blank_is_null)?;
                df.with_column(codes)?;
            }
        }
        Ok(Some(df))
    }
}

/// Give the pages of `map[..end]` back to the kernel (they are re-read from the file if
/// touched again), so that the mapped text read so far does not stay in memory.
pub(super) fn release(map: &memmap2::Mmap, end: usize) {
    const PAGE: usize = 4096;
    let len = end / PAGE * PAGE;
    if len > 0 {
        // SAFETY: the map is a read-only mapping of a file this process does not write:
        // dropped pages hold no changes and are read again from the file when touched.
        #[cfg(unix)]
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
    }
}

/// The whole reading-policy check of a text part ([`check_text`]) when it was left for
/// later ([`Part::unchecked`]): before polars reads its text.
pub(super) fn ensure_checked(op: &Part) -> Result<()> {
    if let (true, Some(shape)) = (op.unchecked.get(), op.csv.get()) {
        check_text(op, shape.delim, shape.flexible, false)?;
        op.unchecked.set(false);
    }
    Ok(())
}

/// Parse one chunk of whole records (no header) with polars, every column of `schema`
/// as text, and select `exprs` (reading only the `projection`).
pub(super) fn parse_chunk(
    chunk: &[u8],
    shape: CsvShape,
    schema: &Schema,
    projection: Option<&[PlSmallStr]>,
    exprs: &[Expr],
) -> PolarsResult<DataFrame> {
    let parse = CsvParseOptions::default()
        .with_separator(shape.delim)
        .with_encoding(CsvEncoding::Utf8)
        .with_truncate_ragged_lines(shape.flexible)
        .with_missing_is_null(true);
    let df = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(Arc::new(schema.clone())))
        .with_columns(projection.map(Arc::from))
        .with_parse_options(parse)
        .into_reader_with_file_handle(std::io::Cursor::new(chunk))
        .finish()?;
    df.lazy().select(exprs).collect()
}

/// Read one text part in chunks of about [`CHUNK`] bytes cut at record ends, each parsed
/// by polars with the part's header as schema (every column text) and only the selected
/// columns, and converted by `typed` when given (None back: a value did not convert);
/// reading progress advances by each chunk's bytes, and the text read is let go.
pub(super) fn read_chunked(
    op: &Part,
    shape: CsvShape,
    names: &[String],
    exprs: &[Expr],
    chunk: usize,
    mut typed: Option<(&mut TypedState, bool)>,
) -> Result<Option<DataFrame>> {
    let cannot = |e: &dyn std::fmt::Display| {
        bad(format!(
            "cannot read {}: {}",
            op.label,
            crate::load::first_line(&e.to_string())
        ))
    };
    let file = std::fs::File::open(&op.path).map_err(|e| cannot(&e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let schema: Schema = names
        .iter()
        .map(|n| Field::new(n.as_str().into(), DataType::String))
        .collect();
    let projection: Option<Vec<PlSmallStr>> = exprs.iter().map(leaf).collect();
    let read = |chunk: &[u8]| -> Result<DataFrame> {
        ensure_checked(op)?;
        parse_chunk(chunk, shape, &schema, projection.as_deref(), exprs).map_err(|e| cannot(&e))
    };
    let empty = || {
        DataFrame::empty_with_schema(&schema)
            .lazy()
            .select(exprs)
            .collect()
            .map_err(|e| cannot(&e))
    };
    // An empty part converts like a chunk (its columns must have the typed types).
    let empty = |typed: &mut Option<(&mut TypedState, bool)>| -> Result<Option<DataFrame>> {
        let df = empty()?;
        match typed {
            None => Ok(Some(df)),
            Some((state, last_part)) => state.convert(df, *last_part),
        }
    };
    if len == 0 {
        return empty(&mut typed);
    }
    // SAFETY: the file is only read, and this process does not write it while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| cannot(&e))?;
    let data: &[u8] = map.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&map);
    // The header is the first record that is not blank.
    let mut body = 0;
    if shape.has_header {
        while body < data.len() {
            let end = record_end(data, shape.delim, body);
            let blank = data[body..end].iter().all(|b| matches!(b, b'\n' | b'\r'));
            body = end;
            if !blank {
                break;
            }
        }
    }
    let mut frames = Vec::new();
    let offset = map.len() - data.len();
    let plan = typed
        .as_ref()
        .and_then(|(state, _)| scan::Plan::new(names, exprs, state.typed, shape.delim));
    let mut start = 0;
    while start < data.len() {
        let end = next_bound(data, shape.delim, start, chunk);
        let (a, b) = (start.max(body), end);
        if a < b {
            let df = match typed.as_mut() {
                None => read(&data[a..b])?,
                Some((state, last_part)) => {
                    let last = *last_part && b == data.len();
                    let scanned = match &plan {
                        Some(plan) => scan::scan_chunk(&data[a..b], plan, state, last)?,
                        None => scan::Scanned::Leave,
                    };
                    match scanned {
                        scan::Scanned::Frame(df) => df,
                        scan::Scanned::GiveUp => return Ok(None),
                        scan::Scanned::Leave => match state.convert(read(&data[a..b])?, last)? {
                            Some(df) => df,
                            None => return Ok(None),
                        },
                    }
                }
            };
            let mut df = df;
            if typed.as_ref().is_some_and(|(s, _)| s.typed.scale_amount) {
                crate::load::amounts::scale_frame(&mut df)?;
            }
            frames.push(df);
        }
        release(&map, b + offset);
        // (the first chunk's bytes include the byte-order mark and the header)
        let from = if start == 0 { 0 } else { start + offset };
        crate::progress::advance((b + offset - from) as u64);
        start = end;
    }
    crate::load::amounts::unify(&mut frames)?;
    let mut it = frames.into_iter();
    let Some(mut out) = it.next() else {
        return empty(&mut typed);
    };
    for d in it {
        out.vstack_mut_owned(d)?;
    }
    Ok(Some(out))
}

/// Rows in each slice of a Parquet part ([`read_sliced`]).
pub(super) const SLICE_ROWS: usize = 1 << 20;

/// Read a Parquet part in slices of rows (polars reads only the row groups a slice
/// needs), coding each slice's ids as it comes ([`TypedState::convert_ids`]), so that
/// the whole id column never exists as text. None: the read must start again.
pub(super) fn read_sliced(
    lf: LazyFrame,
    exprs: &[Expr],
    op: &Part,
    state: &mut TypedState,
    rows: usize,
) -> Result<Option<DataFrame>> {
    let count = crate::load::collect(lf.clone().select([len().alias("n")]), &op.label)?;
    let n = count
        .column("n")?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(0)
        .unwrap_or(0) as usize;
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let take = rows.min(n - at);
        let slice = lf.clone().select(exprs).slice(at as i64, take as IdxSize);
        let df = crate::load::collect(slice, &op.label)?;
        let Some(mut df) = state.convert_ids(df)? else {
            return Ok(None);
        };
        // (an f64 amount column held as counts where every value is one; other types, and
        // NaN or infinities, stay as they are for the loader's checks)
        if state.typed.scale_amount {
            crate::load::amounts::scale_frame(&mut df)?;
        }
        frames.push(df);
        at += take;
        if at >= n {
            break;
        }
    }
    crate::load::amounts::unify(&mut frames)?;
    let mut it = frames.into_iter();
    let Some(mut out) = it.next() else {
        return Ok(None);
    };
    for d in it {
        out.vstack_mut_owned(d)?;
    }
    Ok(Some(out))
}

/// Collect the selected columns of every part and stack them into one frame, recording
/// where each part starts (for [`Input::at`]). Columns whose types differ between parts
/// (a CSV's text beside a Parquet's numbers) are stacked as text.
///
/// With `typed`, and when every part is CSV text, the columns it names come back typed
/// (`Date`, `Float64`) and the date format used is returned; when a value does not
/// convert, the input is read again as text (format None) for the loader to word the
/// error.
///
/// With `typed.ids`, those columns come back coded ([`IdCoder::code_values`]) with their
/// coders, when the typed read succeeded; else they are text, and the coders None.
pub(crate) fn collect_input(
    input: &mut Input,
    lfs: Vec<LazyFrame>,
    exprs: &[Expr],
    typed: Option<&Typed>,
) -> Result<(DataFrame, Option<DateFormat>, Option<ReadCodes>)> {
    let all_text = input
        .parts
        .iter()
        .all(|op| op.csv.get().is_some() && op.partition.is_empty());
    // Parquet parts code their ids by slices of rows (their dates and numbers are typed
    // already).
    let all_parquet = input
        .parts
        .iter()
        .all(|op| op.parquet && op.partition.is_empty());
    if let (Some(typed), true) = (typed, all_text || all_parquet) {
        let mut distinct = DistinctRead::Check {
            runs: PrefixRuns::default(),
            dropped: false,
        };
        loop {
            let mut state = TypedState {
                typed,
                format: None,
                coders: typed.ids.iter().map(|_| IdCoder::new()).collect(),
                distinct: distinct.clone(),
                restart: false,
            };
            if let Some(df) = collect_parts(input, lfs.clone(), exprs, Some(&mut state))? {
                let format = typed.date.as_ref().and(state.format);
                let distinct_dropped =
                    matches!(state.distinct, DistinctRead::Check { dropped: true, .. });
                let codes = ReadCodes {
                    coders: state.coders,
                    distinct_dropped,
                };
                return Ok((df, format, Some(codes)));
            }
            if !state.restart {
                break;
            }
            crate::progress::step("reading again (order ids repeat: coded)");
            distinct = DistinctRead::Code;
        }
        crate::progress::step("reading again as text (a value did not convert)");
    }
    let df = collect_parts(input, lfs, exprs, None)?;
    Ok((df.unwrap_or_default(), None, None))
}

/// [`collect_input`]'s reading, typed or not (None: a typed value did not convert).
pub(super) fn collect_parts(
    input: &mut Input,
    lfs: Vec<LazyFrame>,
    exprs: &[Expr],
    mut typed: Option<&mut TypedState>,
) -> Result<Option<DataFrame>> {
    let mut frames = Vec::with_capacity(lfs.len());
    input.starts.clear();
    let mut rows = 0;
    let size = |op: &Part| std::fs::metadata(&op.path).map_or(0, |m| m.len());
    let total: u64 = input.parts.iter().map(size).sum();
    let _reading = crate::progress::reading(&short_label(&input.label), total);
    let parts = input.parts.len();
    for (k, (mut lf, op)) in lfs.into_iter().zip(&input.parts).enumerate() {
        let df = match op.csv.get() {
            Some(shape) if op.partition.is_empty() => {
                let names = crate::load::names_of(&mut lf, &op.label)?;
                let state = typed.as_deref_mut().map(|s| (s, k + 1 == parts));
                match read_chunked(op, *shape, &names, exprs, CHUNK, state)? {
                    Some(df) => df,
                    None => return Ok(None),
                }
            }
            _ => {
                ensure_checked(op)?;
                let df = match typed.as_deref_mut() {
                    // Parquet read by slices of rows, their ids coded as they come.
                    Some(state) if op.parquet && op.partition.is_empty() => {
                        match read_sliced(lf, exprs, op, state, SLICE_ROWS)? {
                            Some(df) => df,
                            None => return Ok(None),
                        }
                    }
                    _ => crate::load::collect(lf.select(exprs), &op.label)?,
                };
                crate::progress::advance(size(op));
                df
            }
        };
        input.starts.push(rows);
        rows += df.height();
        frames.push(df);
    }
    let mut it = frames.into_iter();
    let Some(mut out) = it.next() else {
        return Ok(Some(DataFrame::empty()));
    };
    let rest: Vec<DataFrame> = it.collect();
    if rest.is_empty() {
        return Ok(Some(out));
    }
    let names: Vec<String> = out
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut all = vec![out];
    all.extend(rest);
    crate::load::amounts::unify(&mut all)?;
    for name in &names {
        let t0 = all[0].column(name)?.dtype().clone();
        if all
            .iter()
            .any(|d| d.column(name).map(|c| c.dtype() != &t0).unwrap_or(true))
        {
            for d in &mut all {
                let c = d.column(name)?.cast(&DataType::String)?;
                d.with_column(c)?;
            }
        }
    }
    let mut it = all.into_iter();
    out = it.next().unwrap_or_default();
    for d in it {
        out.vstack_mut_owned(d)?;
    }
    out.rechunk_mut_par();
    Ok(Some(out))
}
