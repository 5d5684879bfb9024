//! Where an input's rows come from, and the reading policy applied to them before any
//! parsing: paths, globs and directories (Hive-style `key=value` folders become columns)
//! expanded into parts read as one table; standard input; gzip; text encodings (UTF-8
//! checked, a UTF-16 byte-order mark or `--encoding LABEL` decoded); Excel workbooks;
//! rows with more or fewer fields than the header refused (or, with `--flexible`, padded
//! and cut with one warning). Nothing is silently replaced, merged or cut.

use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;
use tempfile::NamedTempFile;

use super::LoadOptions;
use crate::error::bad;

mod open;
mod paths;
mod read;
mod scan;
mod text;

use open::{check_compression, decode, is_workbook, open_raw, workbook};
use paths::expand;
use read::ensure_checked;
use text::{check_text, sniff};

pub(crate) use read::{collect_input, PrefixRuns, Typed};
pub use text::sniff_delimiter;

/// A file path (which may be a glob or a directory) or standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    Path(PathBuf),
}

impl Source {
    pub fn from_arg(s: &str) -> Source {
        if s == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(s))
        }
    }

    pub fn label(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::Path(p) => p.display().to_string(),
        }
    }
}

/// One file of an input, ready for polars: `path` is what polars reads (a temporary
/// UTF-8 CSV when the file was gzip, another encoding, stdin or a workbook).
pub(crate) struct Part {
    pub path: PathBuf,
    /// `transactions file 'x.csv'` (and the sheet of a workbook), for messages.
    pub label: String,
    pub parquet: bool,
    tsv: bool,
    /// "line" for text files, "row" for Parquet and workbooks.
    row_word: &'static str,
    /// The line (or row) number of data row 0.
    first: usize,
    /// Hive-style `key=value` folders between the given directory and the file.
    partition: Vec<(String, String)>,
    /// How a text part is read (set when it is scanned): read in chunks by [`collect_input`].
    csv: std::cell::OnceCell<CsvShape>,
    /// The reading policy ([`check_text`]) is still to be checked past the header: the
    /// typed read's scanner checks the records it reads itself (UTF-8, the header's field
    /// count), so the whole check runs only before text the scanner leaves to polars
    /// ([`ensure_checked`]).
    unchecked: std::cell::Cell<bool>,
    _tmp: Option<NamedTempFile>,
}

/// The reading options of a text part.
#[derive(Clone, Copy, Debug)]
struct CsvShape {
    delim: u8,
    has_header: bool,
    flexible: bool,
}

/// All the parts of one input (`-t` repeated, a glob, a directory), read as one table.
pub(crate) struct Input {
    /// `transactions file 'x.csv'`, or `transactions (3 files: 'a.csv', …)`.
    pub label: String,
    pub parts: Vec<Part>,
    /// Row index at which each part starts in the collected table.
    starts: Vec<usize>,
}

impl Input {
    /// The reading-policy check of every part, where it was left for later
    /// ([`Part::unchecked`]).
    pub fn check_all(&self) -> Result<()> {
        self.parts.iter().try_for_each(ensure_checked)
    }

    /// `r`, unless it is an error and a part fails the reading-policy check: then that
    /// error (a file's ragged or undecodable line is what to fix first, as when the whole
    /// check ran before the columns were looked at).
    pub fn checked<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(e) => {
                self.check_all()?;
                Err(e)
            }
            ok => ok,
        }
    }

    /// Where a 0-based row of the collected table comes from: `transactions file 'x.csv'
    /// line 7`.
    pub fn at(&self, i: usize) -> String {
        let k = match self.starts.binary_search(&i) {
            Ok(k) => k,
            Err(k) => k.saturating_sub(1),
        };
        let (Some(p), Some(s)) = (self.parts.get(k), self.starts.get(k)) else {
            return format!("{} row {}", self.label, i + 1);
        };
        format!("{} {} {}", p.label, p.row_word, p.first + (i - s))
    }

    /// [`Input::at`] without the label when there is one file: `line 7`.
    pub fn pos(&self, i: usize) -> String {
        if self.parts.len() == 1 {
            let p = &self.parts[0];
            format!("{} {}", p.row_word, p.first + i)
        } else {
            self.at(i)
        }
    }
}

/// Open every file of an input: expand globs and directories, copy stdin, decompress,
/// convert workbooks and other encodings.
pub(crate) fn open_input(srcs: &[Source], what: &str, opts: &LoadOptions) -> Result<Input> {
    let files = expand(srcs, what)?;
    let mut parts = Vec::with_capacity(files.len());
    for (src, partition) in &files {
        let raw = open_raw(src, what)?;
        let mut op = if is_workbook(&raw.path) {
            workbook(raw, opts.sheet.as_deref())?
        } else {
            decode(check_compression(raw)?, opts.encoding)?
        };
        // (a header line moves text rows down one; Parquet's rows are data rows from 1)
        if !op.parquet {
            op.first += usize::from(opts.has_header);
        }
        op.partition = partition.clone();
        parts.push(op);
    }
    let label = match parts.as_slice() {
        [one] => one.label.clone(),
        many => {
            let names: Vec<String> = files
                .iter()
                .take(3)
                .map(|(s, _)| format!("'{}'", s.label()))
                .collect();
            let more = if many.len() > 3 { ", …" } else { "" };
            format!("{what} ({} files: {}{more})", many.len(), names.join(", "))
        }
    };
    Ok(Input {
        label,
        parts,
        starts: vec![],
    })
}

/// Parquet column types this build cannot read are an error naming the column (polars
/// would stop on them with an internal error): DECIMAL columns, as warehouses often write
/// money, until decimal support is built in.
fn check_parquet_types(op: &Part) -> Result<()> {
    let cannot = |e: &dyn std::fmt::Display| bad(format!("cannot read {}: {e}", op.label));
    let file = std::fs::File::open(&op.path).map_err(|e| cannot(&e))?;
    let schema = ParquetReader::new(file)
        .schema()
        .map_err(|e| cannot(&super::first_line(&e.to_string())))?;
    for (name, field) in schema.iter() {
        if let ArrowDataType::Decimal(p, s)
        | ArrowDataType::Decimal32(p, s)
        | ArrowDataType::Decimal64(p, s)
        | ArrowDataType::Decimal256(p, s) = field.dtype()
        {
            return Err(bad(format!(
                "{}: column '{name}' is DECIMAL({p}, {s}), which retention cannot read yet; \
                 write it as DOUBLE (e.g. CAST({name} AS DOUBLE) in the export) or export CSV",
                op.label
            )));
        }
    }
    Ok(())
}

/// Scan one part into a lazy frame of text columns (CSV) or typed columns (Parquet),
/// after the reading-policy checks; its Hive partition columns added as text.
fn scan_part(op: &Part, opts: &LoadOptions, warnings: &mut Vec<String>) -> Result<LazyFrame> {
    let path = op.path.to_string_lossy().to_string();
    let lf = if op.parquet {
        check_parquet_types(op)?;
        LazyFrame::scan_parquet(PlRefPath::new(path), ScanArgsParquet::default())
    } else {
        let delim = sniff(op, opts.delimiter)?;
        // (ragged rows read with --flexible are counted for a warning here; else only
        // the header now, the rest before polars reads it)
        let head_only = !opts.flexible;
        if let Some(r) = check_text(op, delim, opts.flexible, head_only)? {
            warnings.push(format!(
                "{}: {} rows with more or fewer fields than the header ({}) were padded or \
                 cut (--flexible; first at line {})",
                op.label, r.count, r.expected, r.first_line
            ));
        }
        op.unchecked.set(head_only);
        let _ = op.csv.set(CsvShape {
            delim,
            has_header: opts.has_header,
            flexible: opts.flexible,
        });
        LazyCsvReader::new(PlRefPath::new(path))
            .with_has_header(opts.has_header)
            .with_separator(delim)
            .with_infer_schema_length(Some(0))
            .with_encoding(CsvEncoding::Utf8)
            .with_truncate_ragged_lines(opts.flexible)
            .with_missing_is_null(true)
            .finish()
    };
    let mut lf = lf.map_err(|e| {
        bad(format!(
            "cannot read {}: {}",
            op.label,
            super::first_line(&e.to_string())
        ))
    })?;
    if !op.partition.is_empty() {
        let names = super::names_of(&mut lf, &op.label)?;
        let add: Vec<Expr> = op
            .partition
            .iter()
            .filter(|(k, _)| !names.contains(k))
            .map(|(k, v)| lit(v.clone()).alias(k.as_str()))
            .collect();
        if !add.is_empty() {
            lf = lf.with_columns(add);
        }
    }
    Ok(lf)
}

/// Scan every part; all must have the same columns (matched by name, in any order).
/// Returns one lazy frame per part and the first part's column names.
pub(crate) fn scan_input(
    input: &Input,
    opts: &LoadOptions,
    warnings: &mut Vec<String>,
) -> Result<(Vec<LazyFrame>, Vec<String>)> {
    let mut lfs = Vec::with_capacity(input.parts.len());
    let mut first: Option<Vec<String>> = None;
    for op in &input.parts {
        let mut lf = scan_part(op, opts, warnings)?;
        let names = super::names_of(&mut lf, &op.label)?;
        match &first {
            None => first = Some(names),
            Some(f) => {
                let mut a = f.clone();
                let mut b = names.clone();
                a.sort();
                b.sort();
                if a != b {
                    let missing: Vec<&String> = f.iter().filter(|n| !names.contains(n)).collect();
                    let extra: Vec<&String> = names.iter().filter(|n| !f.contains(n)).collect();
                    return Err(bad(format!(
                        "{}: its columns differ from those of {} (missing: {}; extra: {}); \
                         the files of one input must have the same columns",
                        op.label,
                        input.parts[0].label,
                        super::roles::quoted(&missing, ", "),
                        super::roles::quoted(&extra, ", ")
                    )));
                }
            }
        }
        lfs.push(lf);
    }
    Ok((lfs, first.unwrap_or_default()))
}

/// `transactions file 'dir/x.csv'` → `x.csv`, for the progress line; other labels as is.
fn short_label(label: &str) -> String {
    match (label.find('\''), label.rfind('\'')) {
        (Some(a), Some(b)) if b > a && !label.contains(" files") => {
            let path = Path::new(&label[a + 1..b]);
            path.file_name()
                .map_or_else(|| label.to_string(), |n| n.to_string_lossy().into_owned())
        }
        _ => label.to_string(),
    }
}

/// Bytes per chunk of a text file: the unit of reading progress. Each chunk's pieces and
/// its mapped pages are held while it is converted: 8 MiB held the 1M benchmark's cohort
/// at 178 MB against 189 MB with 16 MiB, in the same time (smaller chunks gained nothing
/// more; `benches/RESULTS-2026-12-07d.md`).
const CHUNK: usize = 8 << 20;

/// The column a selection reads (`col(a)` or `col(a).alias(b)`); None for anything else.
fn leaf(e: &Expr) -> Option<PlSmallStr> {
    match e {
        Expr::Column(n) => Some(n.clone()),
        Expr::Alias(inner, _) => leaf(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::open::*;
    use super::paths::*;
    use super::read::*;
    use super::text::*;
    use super::*;
    use crate::dates::DateFormat;
    use crate::load::ids::IdCoder;
    use encoding_rs::{Encoding, UTF_16LE};
    use std::io::Write;

    #[test]
    fn progress_names_the_file_only() {
        assert_eq!(short_label("transactions file 'a/b/x.csv'"), "x.csv");
        assert_eq!(
            short_label("transactions (3 files: 'a.csv', …)"),
            "transactions (3 files: 'a.csv', …)"
        );
    }

    #[test]
    fn record_bounds_cut_at_record_ends_only() {
        let text = b"a,b\n\"x\ny\",2\n\"q\"\"\n,\",3\nplain,4\n";
        // every cut is a record start: never inside the quoted line break or after ""
        let b = record_bounds(text, b',', 1);
        assert_eq!(b, vec![0, 4, 12, 22, 30]);
        assert_eq!(record_bounds(text, b',', 1000), vec![0, text.len()]);
        // without quotes: line ends
        assert_eq!(record_bounds(b"a\nb\nc", b',', 1), vec![0, 2, 4, 5]);
        assert_eq!(record_end(text, b',', 4), 12);
        assert_eq!(record_end(text, b',', 12), 22);
        // a quote inside a field is a character, not an opening quote
        assert_eq!(record_end(b"5\" screen,1\nx", b',', 0), 12);
    }

    /// The typed read converts every chunk as the text read and the loader's parse
    /// would; a value that does not convert (in any chunk) gives None, and a format
    /// detected from fewer values than the loader looks at, with more chunks to come,
    /// is not trusted.
    /// A typed read that only codes customer and order ids (the order ids checked).
    fn ids_typed() -> Typed {
        Typed {
            date: None,
            numbers: vec![],
            decimal_comma: false,
            ids: vec![("customer_id".into(), true), ("order_id".into(), false)],
            distinct: Some("order_id".into()),
            scale_amount: false,
        }
    }

    fn ids_state(typed: &Typed, distinct: DistinctRead) -> TypedState<'_> {
        TypedState {
            typed,
            format: None,
            coders: vec![IdCoder::new(), IdCoder::new()],
            distinct,
            restart: false,
        }
    }

    fn check_distinct() -> DistinctRead {
        DistinctRead::Check {
            runs: PrefixRuns::default(),
            dropped: false,
        }
    }

    fn codes_of(df: &DataFrame, name: &str) -> Vec<Option<u32>> {
        df.column(name).unwrap().u32().unwrap().iter().collect()
    }

    #[test]
    fn parquet_is_coded_slice_by_slice_as_a_whole_read_would() {
        let mut df = df!(
            "c" => ["x", "y", "x", "z", "y"],
            "o" => ["O1", "O2", "O3", "O4", "O5"],
        )
        .unwrap();
        let tmp = NamedTempFile::new().unwrap();
        ParquetWriter::new(std::fs::File::create(tmp.path()).unwrap())
            .finish(&mut df)
            .unwrap();
        let path = tmp.path().to_string_lossy().to_string();
        let lf =
            LazyFrame::scan_parquet(PlRefPath::new(&path), ScanArgsParquet::default()).unwrap();
        let exprs = vec![col("c").alias("customer_id"), col("o").alias("order_id")];
        let typed = ids_typed();
        let (op, _t) = part(b"");
        for rows in [1, 2, 100] {
            let mut state = ids_state(&typed, check_distinct());
            let got = read_sliced(lf.clone(), &exprs, &op, &mut state, rows)
                .unwrap()
                .unwrap();
            assert_eq!(got.height(), 5, "{rows} rows a slice");
            // Distinct order ids: dropped; customers coded alike across slices.
            assert!(got.column("order_id").is_err());
            let c = codes_of(&got, "customer_id");
            assert!(c[0] == c[2] && c[1] == c[4] && c[0] != c[1] && c[3] != c[0] && c[3] != c[1]);
        }
    }

    #[test]
    fn order_ids_are_dropped_while_shown_distinct_else_coded() {
        let shape = CsvShape {
            delim: b',',
            has_header: true,
            flexible: false,
        };
        let names: Vec<String> = ["o", "c"].map(String::from).to_vec();
        let exprs = vec![col("o").alias("order_id"), col("c").alias("customer_id")];
        let typed = ids_typed();
        let state = |distinct| ids_state(&typed, distinct);
        let check = check_distinct;
        // Distinct (two series): dropped, chunk by chunk; customers coded.
        let (op, _tmp) = part(b"o,c\nO1,x\nR1,y\nO2,x\n");
        let mut s = state(check());
        let df = read_chunked(&op, shape, &names, &exprs, 1, Some((&mut s, true)))
            .unwrap()
            .unwrap();
        assert!(df.column("order_id").is_err());
        let codes = codes_of(&df, "customer_id");
        assert!(codes[0].is_some() && codes[0] == codes[2] && codes[1] != codes[0]);
        assert!(matches!(
            s.distinct,
            DistinctRead::Check { dropped: true, .. }
        ));
        // A repeat in a later chunk: the read must start again (coding them).
        let (op, _tmp) = part(b"o,c\nO1,x\nO2,y\nO1,x\n");
        let mut s = state(check());
        let got = read_chunked(&op, shape, &names, &exprs, 1, Some((&mut s, true))).unwrap();
        assert!(got.is_none() && s.restart);
        let mut s = state(DistinctRead::Code);
        let df = read_chunked(&op, shape, &names, &exprs, 1, Some((&mut s, true)))
            .unwrap()
            .unwrap();
        let orders = codes_of(&df, "order_id");
        assert!(orders[0].is_some() && orders[0] == orders[2] && orders[1] != orders[0]);
        // A repeat in the first chunk: coded from there on, no second read.
        let (op, _tmp) = part(b"o,c\nA,x\nA,x\nB,y\n");
        let mut s = state(check());
        let df = read_chunked(&op, shape, &names, &exprs, 1 << 20, Some((&mut s, true)))
            .unwrap()
            .unwrap();
        let orders = codes_of(&df, "order_id");
        assert!(orders[0].is_some() && orders[0] == orders[1] && orders[2] != orders[0]);
        assert!(!s.restart && matches!(s.distinct, DistinctRead::Code));
    }

    /// The typed read of `text` (columns `c`, `d` the date, `a` the amount) in chunks of
    /// `chunk` bytes, starting from date format `format`: the frame (None: a value did not
    /// convert) and the format used.
    fn typed_read(
        text: &[u8],
        chunk: usize,
        format: Option<DateFormat>,
        scale_amount: bool,
    ) -> (Option<DataFrame>, Option<DateFormat>) {
        let shape = CsvShape {
            delim: b',',
            has_header: true,
            flexible: false,
        };
        let names: Vec<String> = ["c", "d", "a"].map(String::from).to_vec();
        let exprs = vec![col("c"), col("d").alias("date"), col("a").alias("amount")];
        let typed = Typed {
            date: Some(("date".into(), None)),
            numbers: vec!["amount".into()],
            decimal_comma: false,
            ids: Vec::new(),
            distinct: None,
            scale_amount,
        };
        let (op, _tmp) = part(text);
        let mut state = TypedState {
            typed: &typed,
            format,
            coders: Vec::new(),
            distinct: DistinctRead::Code,
            restart: false,
        };
        let got =
            read_chunked(&op, shape, &names, &exprs, chunk, Some((&mut state, true))).unwrap();
        (got, state.format)
    }

    #[test]
    fn typed_chunks_equal_the_text_parse_or_give_up() {
        let text = b"c,d,a\nx,15/01/2024,$1\ny,,2.5\nz,03/02/2024,(3.00)\n";
        for (chunk, converts) in [(1 << 20, true), (1, false)] {
            let (got, format) = typed_read(text, chunk, None, false);
            assert_eq!(got.is_some(), converts, "chunk {chunk}");
            if let Some(df) = got {
                assert_eq!(format, Some(DateFormat::Dmy));
                let days: Vec<Option<i32>> = df
                    .column("date")
                    .unwrap()
                    .date()
                    .unwrap()
                    .physical()
                    .iter()
                    .collect();
                assert_eq!(days, vec![Some(19737), None, Some(19756)]);
                let amounts: Vec<Option<f64>> =
                    df.column("amount").unwrap().f64().unwrap().iter().collect();
                assert_eq!(amounts, vec![Some(1.0), Some(2.5), Some(-3.0)]);
            }
        }
        // A value that does not parse, in the last chunk: None, for the text read.
        let bad = b"c,d,a\nx,2024-01-15,1\ny,2024-01-16,abc\n";
        assert!(typed_read(bad, 1, Some(DateFormat::Iso), false).0.is_none());
        // A date that does not parse with the format detected from the first chunk.
        let mixed = b"c,d,a\nx,2024-01-15,1\ny,20240116,2\n";
        assert!(typed_read(mixed, 1, Some(DateFormat::Iso), false)
            .0
            .is_none());
    }

    /// Amounts held as counts chunk by chunk: chunks needing more decimals than earlier
    /// ones bring all to the most; one that cannot be a count (too many decimals) turns
    /// the column back into `f64`; the values read back are the parsed ones either way.
    #[test]
    fn chunked_counts_share_one_scale_or_stay_float() {
        let read = |text: &[u8], chunk: usize| {
            typed_read(text, chunk, Some(DateFormat::Iso), true)
                .0
                .unwrap()
        };
        let values = |df: &DataFrame| -> Vec<Option<f64>> {
            crate::load::amounts::Amounts::of(df)
                .unwrap()
                .iter()
                .collect()
        };
        let fits = b"c,d,a\nx,2024-01-15,3\ny,2024-01-16,\nz,2024-01-17,-2.5\nw,2024-01-18,0.125\n";
        for chunk in [1, 20, 1 << 20] {
            let df = read(fits, chunk);
            assert!(df.column("__amount_e3").is_ok(), "chunk {chunk}: {df}");
            assert_eq!(values(&df), [Some(3.0), None, Some(-2.5), Some(0.125)]);
        }
        let wide = b"c,d,a\nx,2024-01-15,2.25\ny,2024-01-16,0.123456789\n";
        for chunk in [1, 1 << 20] {
            let df = read(wide, chunk);
            assert!(df.column("amount").is_ok(), "chunk {chunk}: {df}");
            assert_eq!(values(&df), [Some(2.25), Some(0.123456789)]);
        }
    }

    #[test]
    fn escaped_quotes_do_not_end_a_quoted_field() {
        let mut seen = Vec::new();
        quoted_records(b"a,b\n\"x\"\",y\",2\n", b',', |line, n| {
            seen.push((line, n))
        });
        assert_eq!(seen, vec![(1, 2), (2, 2)]);
    }

    #[test]
    fn chunked_reading_equals_one_read() {
        let text = b"\xef\xbb\xbf\ncustomer,date,amount\nc1,2024-01-01,\"1,5\"\n\"c\"\"2\",2024-01-02,\"multi\nline\"\n\nc3,,7\r\nc4,2024-01-04,8";
        let (op, _tmp) = part(text);
        let shape = CsvShape {
            delim: b',',
            has_header: true,
            flexible: false,
        };
        let names: Vec<String> = ["customer", "date", "amount"].map(String::from).to_vec();
        let exprs = vec![col("amount").alias("a"), col("customer")];
        let whole = LazyCsvReader::new(PlRefPath::new(op.path.to_string_lossy().to_string()))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_missing_is_null(true)
            .finish()
            .unwrap()
            .select(&exprs)
            .collect()
            .unwrap();
        assert_eq!(whole.height(), 5, "{whole}"); // the blank line is a row of nulls
        for chunk in [1, 5, 17, 1 << 20] {
            let df = read_chunked(&op, shape, &names, &exprs, chunk, None)
                .unwrap()
                .unwrap();
            assert!(df.equals_missing(&whole), "chunk {chunk}: {df} vs {whole}");
        }
    }

    fn part(text: &[u8]) -> (Part, NamedTempFile) {
        let mut tmp = NamedTempFile::new().unwrap();
        tmp.write_all(text).unwrap();
        tmp.flush().unwrap();
        let p = Part {
            path: tmp.path().to_path_buf(),
            label: "transactions file 't.csv'".into(),
            parquet: false,
            tsv: false,
            row_word: "line",
            first: 2,
            partition: vec![],
            csv: Default::default(),
            unchecked: Default::default(),
            _tmp: None,
        };
        (p, tmp)
    }

    #[test]
    fn ragged_rows_are_found_with_their_line() {
        let (p, _t) = part(b"a,b,c\n1,2,3\n\n3,2024-03-01,4,9\n5,6\n");
        let e = check_text(&p, b',', false, false).unwrap_err().to_string();
        assert!(e.contains("line 4: 4 fields where the header has 3"), "{e}");
        let r = check_text(&p, b',', true, false).unwrap().unwrap();
        assert_eq!((r.count, r.first_line, r.found, r.expected), (2, 4, 4, 3));
        let (p, _t) = part(b"a,b,c\r\n1,2,3\r\n4,5,6");
        assert_eq!(check_text(&p, b',', false, false).unwrap(), None);
    }

    /// Left for later, the check still runs before polars reads the text, and its error
    /// comes before an error found in the columns.
    #[test]
    fn a_check_left_for_later_runs_before_polars_and_comes_first() {
        let text = b"\n\xef,b,c\n1,2,3\n";
        let (p, _t) = part(text);
        assert!(
            check_text(&p, b',', false, true).is_err(),
            "the header is checked"
        );
        let (p, _t) = part(b"a,b,c\n1,2,3\n4,5\n");
        assert_eq!(check_text(&p, b',', false, true).unwrap(), None);
        p.unchecked.set(true);
        let _ = p.csv.set(CsvShape {
            delim: b',',
            has_header: true,
            flexible: false,
        });
        let input = Input {
            label: "transactions file 't.csv'".into(),
            parts: vec![p],
            starts: vec![],
        };
        let e = input
            .checked::<()>(Err(bad("no customer_id column found")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3: 2 fields where the header has 3"), "{e}");
        // (no error: nothing is checked yet)
        assert!(input.checked(Ok(1)).is_ok());
        assert!(input.parts[0].unchecked.get());
        // A file that passes: the columns' own error is kept, and the check is done.
        let (good, _g) = part(b"a,b,c\n1,2,3\n");
        good.unchecked.set(true);
        let _ = good.csv.set(*input.parts[0].csv.get().unwrap());
        let input = Input {
            label: "transactions file 't.csv'".into(),
            parts: vec![good],
            starts: vec![],
        };
        let e = input.checked::<()>(Err(bad("no customer_id"))).unwrap_err();
        assert_eq!(e.to_string(), "no customer_id");
        assert!(!input.parts[0].unchecked.get());
    }

    #[test]
    fn quotes_hold_delimiters_and_line_ends() {
        let (p, _t) = part(b"a,b,c\n1,\"x,y\",3\n2,\"multi\nline\",4\n5,5\" tall,6\n7,8\n");
        let e = check_text(&p, b',', false, false).unwrap_err().to_string();
        assert!(e.contains("line 6: 2 fields where the header has 3"), "{e}");
    }

    #[test]
    fn invalid_utf8_names_line_and_byte() {
        let (p, _t) = part(b"a,b\nx,1\nM\xfcller,2\n");
        let e = check_text(&p, b',', false, false).unwrap_err().to_string();
        assert!(e.contains("line 3 (byte offset 9): not valid UTF-8"), "{e}");
        assert!(e.contains("--encoding"), "{e}");
    }

    #[test]
    fn other_encodings_are_decoded_strictly() {
        let mut out = NamedTempFile::new().unwrap();
        transcode(
            &b"id,amount\nM\xfcller,1\n"[..],
            Encoding::for_label(b"latin1").unwrap(),
            out.as_file(),
            "t",
        )
        .unwrap();
        out.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path()).unwrap(),
            "id,amount\nMüller,1\n"
        );
        // UTF-16LE with a byte-order mark and a stray final byte.
        let mut bytes = vec![0xff, 0xfe];
        for u in "a,b\nx,1\n".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        bytes.push(b'z');
        let out = NamedTempFile::new().unwrap();
        let e = transcode(&bytes[..], UTF_16LE, out.as_file(), "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("not valid UTF-16LE"),
            "{e}"
        );
    }

    #[test]
    fn hive_partitions() {
        let p = partition_of(
            Path::new("/d"),
            Path::new("/d/year=2024/month=01/part-0.parquet"),
        );
        assert_eq!(
            p,
            vec![
                ("year".into(), "2024".into()),
                ("month".into(), "01".into())
            ]
        );
        assert!(is_data_file(Path::new("x/a.csv.gz")));
        assert!(!is_data_file(Path::new("x/_SUCCESS")));
        assert!(!is_data_file(Path::new("x/.a.csv.crc")));
    }
}
