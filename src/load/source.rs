//! Where an input's rows come from, and the reading policy applied to them before any
//! parsing: paths, globs and directories (Hive-style `key=value` folders become columns)
//! expanded into parts read as one table; standard input; gzip; text encodings (UTF-8
//! checked, a UTF-16 byte-order mark or `--encoding LABEL` decoded); Excel workbooks;
//! rows with more or fewer fields than the header refused (or, with `--flexible`, padded
//! and cut with one warning). Nothing is silently replaced, merged or cut.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use encoding_rs::{DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8};
use polars::prelude::*;
use tempfile::NamedTempFile;

use super::ids::IdCoder;
use super::LoadOptions;
use crate::dates::DateFormat;
use crate::error::bad;

mod scan;

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

/// File names read from a directory: data files only (not `_SUCCESS`, `.crc`, hidden
/// files).
fn is_data_file(p: &Path) -> bool {
    let Some(name) = p.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
        return false;
    };
    if name.starts_with('.') || name.starts_with('_') {
        return false;
    }
    let inner = name.strip_suffix(".gz").unwrap_or(&name);
    [
        ".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm", ".xlsb", ".xls",
        ".ods",
    ]
    .iter()
    .any(|e| inner.ends_with(e))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
        if p.is_dir() {
            if !hidden {
                walk(&p, out)?;
            }
        } else if is_data_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The `key=value` folders of `file` below `root`.
fn partition_of(root: &Path, file: &Path) -> Vec<(String, String)> {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let mut out = Vec::new();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            let c = c.as_os_str().to_string_lossy();
            if let Some((k, v)) = c.split_once('=') {
                if !k.is_empty() {
                    out.push((k.to_string(), v.to_string()));
                }
            }
        }
    }
    out
}

/// Expand the sources of one input into files: a glob into its matches, a directory into
/// every data file below it (sorted by path), stdin and plain paths as they are.
/// `key=value` pairs of a Hive-style partition path.
type Partition = Vec<(String, String)>;

fn expand(srcs: &[Source], what: &str) -> Result<Vec<(Source, Partition)>> {
    let mut out = Vec::new();
    if srcs.iter().filter(|s| **s == Source::Stdin).count() > 1 {
        return Err(bad(format!(
            "{what}: standard input (-) can be given only once"
        )));
    }
    for s in srcs {
        let Source::Path(p) = s else {
            out.push((s.clone(), vec![]));
            continue;
        };
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).map_err(|e| {
                bad(format!(
                    "cannot read {what} directory '{}': {e}",
                    p.display()
                ))
            })?;
            files.sort();
            if files.is_empty() {
                return Err(bad(format!(
                    "{what} directory '{}' has no data files (.csv, .tsv, .parquet, .xlsx, …)",
                    p.display()
                )));
            }
            for f in files {
                let part = partition_of(p, &f);
                out.push((Source::Path(f), part));
            }
            continue;
        }
        let text = p.to_string_lossy();
        if !p.exists() && text.contains(['*', '?', '[']) {
            let paths =
                glob::glob(&text).map_err(|e| bad(format!("{what}: bad pattern '{text}': {e}")))?;
            let mut files: Vec<PathBuf> = paths
                .filter_map(|r| r.ok())
                .filter(|f| f.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(bad(format!("{what}: '{text}' matches no file")));
            }
            out.extend(files.into_iter().map(|f| (Source::Path(f), vec![])));
            continue;
        }
        out.push((s.clone(), vec![]));
    }
    Ok(out)
}

fn copy_to_temp(mut r: impl Read, label: &str) -> Result<NamedTempFile> {
    let mut tmp = NamedTempFile::new().context("cannot create a temporary file")?;
    std::io::copy(&mut r, &mut tmp).map_err(|e| bad(format!("cannot read {label}: {e}")))?;
    tmp.flush().context("cannot write a temporary file")?;
    Ok(tmp)
}

fn open_raw(src: &Source, what: &str) -> Result<Part> {
    match src {
        Source::Stdin => {
            let tmp = copy_to_temp(std::io::stdin().lock(), "standard input")?;
            Ok(Part {
                path: tmp.path().to_path_buf(),
                label: format!("{what} <stdin>"),
                parquet: false,
                tsv: false,
                row_word: "line",
                first: 1,
                partition: vec![],
                csv: Default::default(),
                unchecked: Default::default(),
                _tmp: Some(tmp),
            })
        }
        Source::Path(p) => {
            let label = format!("{what} file '{}'", p.display());
            std::fs::File::open(p).map_err(|e| bad(format!("cannot open {label}: {e}")))?;
            if p.is_dir() {
                return Err(bad(format!("{label} is a directory")));
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            // `x.csv.gz` is a CSV (decompressed by `check_compression`).
            let inner = name.strip_suffix(".gz").unwrap_or(&name);
            let parquet = inner.ends_with(".parquet") || inner.ends_with(".pq");
            Ok(Part {
                path: p.clone(),
                label,
                parquet,
                tsv: inner.ends_with(".tsv") || inner.ends_with(".tab"),
                row_word: if parquet { "row" } else { "line" },
                first: 1,
                partition: vec![],
                csv: Default::default(),
                unchecked: Default::default(),
                _tmp: None,
            })
        }
    }
}

/// The first bytes of a file tell compression apart from text: gzip is decompressed
/// whatever the file is called; zlib and zstd streams are refused (polars would otherwise
/// try to read them itself).
fn check_compression(mut op: Part) -> Result<Part> {
    if op.parquet {
        return Ok(op);
    }
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(&op.path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    match &magic[..n] {
        [0x1f, 0x8b, ..] => {
            let f = std::fs::File::open(&op.path)
                .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
            let tmp = copy_to_temp(flate2::read::MultiGzDecoder::new(f), &op.label)?;
            op.path = tmp.path().to_path_buf();
            op._tmp = Some(tmp);
            Ok(op)
        }
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] | [0x28, 0xb5, 0x2f, 0xfd] => Err(bad(format!(
            "{} looks compressed (zlib or zstd); decompress it first (gzip is read directly)",
            op.label
        ))),
        _ => Ok(op),
    }
}

/// A workbook by its extension (the `.gz` of a text file aside).
fn is_workbook(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    [".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// Text that is not UTF-8 becomes a temporary UTF-8 file: with `--encoding LABEL`, or
/// without asking when the file starts with a UTF-16 byte-order mark. Bytes the encoding
/// cannot decode are an error naming the line and byte offset (never replaced).
fn decode(mut op: Part, encoding: Option<&'static Encoding>) -> Result<Part> {
    if op.parquet {
        return Ok(op);
    }
    let mut magic = [0u8; 2];
    let n = std::fs::File::open(&op.path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let bom = match &magic[..n] {
        [0xff, 0xfe] => Some(UTF_16LE),
        [0xfe, 0xff] => Some(UTF_16BE),
        _ => None,
    };
    let enc = match (bom, encoding) {
        (Some(b), _) => b,
        (None, Some(e)) if e != UTF_8 => e,
        _ => return Ok(op),
    };
    let f =
        std::fs::File::open(&op.path).map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let tmp = NamedTempFile::new().context("cannot create a temporary file")?;
    let why = if bom.is_some() {
        "(the file starts with its byte-order mark)"
    } else {
        "(as --encoding says; is that the file's encoding?)"
    };
    transcode(f, enc, tmp.as_file(), &op.label).map_err(|e| bad(format!("{e} {why}")))?;
    op.path = tmp.path().to_path_buf();
    op._tmp = Some(tmp);
    Ok(op)
}

/// Decode `input` from `enc` (a byte-order mark wins and is removed) into UTF-8 `out`.
fn transcode(
    mut input: impl Read,
    enc: &'static Encoding,
    out: &std::fs::File,
    label: &str,
) -> Result<()> {
    let mut decoder = enc.new_decoder();
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut inbuf = vec![0u8; 1 << 20];
    let mut outbuf = vec![0u8; 3 << 20];
    let (mut consumed, mut lines) = (0usize, 1usize);
    loop {
        let len = input
            .read(&mut inbuf)
            .map_err(|e| bad(format!("cannot read {label}: {e}")))?;
        let last = len == 0;
        let mut start = 0;
        loop {
            let (res, read, written) =
                decoder.decode_to_utf8_without_replacement(&inbuf[start..len], &mut outbuf, last);
            let chunk = &outbuf[..written];
            w.write_all(chunk)
                .context("cannot write a temporary file")?;
            match res {
                DecoderResult::InputEmpty => {
                    lines += memchr::memchr_iter(b'\n', chunk).count();
                    consumed += read;
                    break;
                }
                DecoderResult::OutputFull => {
                    lines += memchr::memchr_iter(b'\n', chunk).count();
                    consumed += read;
                    start += read;
                }
                DecoderResult::Malformed(bad_len, extra) => {
                    lines += memchr::memchr_iter(b'\n', chunk).count();
                    let at =
                        (consumed + read).saturating_sub(usize::from(bad_len) + usize::from(extra));
                    return Err(bad(format!(
                        "{label} line {lines} (byte offset {at}): not valid {}",
                        enc.name()
                    )));
                }
            }
        }
        if last {
            break;
        }
    }
    w.flush().context("cannot write a temporary file")?;
    Ok(())
}

/// A workbook's sheet (`--sheet NAME`, else the first) as a temporary UTF-8 CSV: dates
/// (Excel date serials of date-formatted cells) as ISO dates, numbers in full precision,
/// error cells as their text (so that a used column with one names its row).
fn workbook(mut op: Part, sheet: Option<&str>) -> Result<Part> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto(&op.path)
        .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => {
            if !names.iter().any(|n| n == s) {
                return Err(bad(format!(
                    "{} has no sheet '{s}' (sheets: {})",
                    op.label,
                    names
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            s.to_string()
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| bad(format!("{} has no sheets", op.label)))?,
    };
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| bad(format!("cannot read sheet '{name}' of {}: {e}", op.label)))?;
    op.label = format!("{} sheet '{name}'", op.label);
    let Some((row0, _)) = range.start() else {
        return Err(bad(format!("{} is empty", op.label)));
    };
    let tmp = NamedTempFile::new().context("cannot create a temporary file")?;
    {
        let mut w = csv::Writer::from_writer(BufWriter::new(tmp.as_file()));
        for row in range.rows() {
            let rec: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                    Data::Int(i) => i.to_string(),
                    Data::Float(f) => f.to_string(),
                    Data::Bool(b) => b.to_string(),
                    Data::DateTime(d) => match d.as_datetime() {
                        Some(t) if t.time() == chrono::NaiveTime::MIN => {
                            t.format("%Y-%m-%d").to_string()
                        }
                        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        None => d.as_f64().to_string(),
                    },
                    Data::Error(e) => e.to_string(),
                })
                .collect();
            w.write_record(&rec)
                .context("cannot write a temporary file")?;
        }
        w.flush().context("cannot write a temporary file")?;
    }
    op.path = tmp.path().to_path_buf();
    op._tmp = Some(tmp);
    op.row_word = "row";
    // Sheet rows are 1-based; data row 0 is the row after the header.
    op.first = row0 as usize + 1;
    Ok(op)
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

/// Count each candidate delimiter outside quotes in one line.
fn count_delims(line: &[u8]) -> [usize; 4] {
    let mut n = [0; 4];
    let mut quoted = false;
    for &c in line {
        match c {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b',' => n[0] += 1,
            b';' => n[1] += 1,
            b'\t' => n[2] += 1,
            b'|' => n[3] += 1,
            _ => {}
        }
    }
    n
}

/// Pick the delimiter: the candidate most frequent in the first line, preferring one whose
/// count the second line repeats.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    const CANDS: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut lines = head.split(|&c| c == b'\n').filter(|l| !l.is_empty());
    let first = lines.next().map(count_delims).unwrap_or_default();
    let second = lines.next().map(count_delims);
    let mut best = (0usize, false, b',');
    for (i, &c) in CANDS.iter().enumerate() {
        let consistent = second.is_none_or(|s| s[i] == first[i]);
        let key = (first[i], consistent);
        if first[i] > 0 && (consistent, key.0) > (best.1, best.0) {
            best = (first[i], consistent, c);
        }
    }
    best.2
}

/// Read the start of a CSV, refuse an empty one, and return its delimiter.
fn sniff(op: &Part, given: Option<u8>) -> Result<u8> {
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(&op.path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&head);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(format!("{} is empty", op.label)));
    }
    Ok(given.unwrap_or_else(|| if op.tsv { b'\t' } else { sniff_delimiter(body) }))
}

/// What the reading-policy check of one text part found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ragged {
    /// Records with more or fewer fields than the header.
    pub count: usize,
    /// The physical line of the first one, and its field count.
    pub first_line: usize,
    pub found: usize,
    /// Fields in the header (the first record).
    pub expected: usize,
}

/// The result of checking one chunk of lines (no quotes anywhere in the file).
#[derive(Default)]
struct ChunkCheck {
    lines: usize,
    ragged: usize,
    first: Option<(usize, usize)>,
}

/// Field count of one unquoted line (a trailing `\r` ignored); None for a blank line.
fn plain_fields(line: &[u8], delim: u8) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    Some(1 + line.iter().filter(|&&b| b == delim).count())
}

fn check_chunk(chunk: &[u8], delim: u8, expected: usize) -> ChunkCheck {
    let mut c = ChunkCheck::default();
    let mut start = 0;
    while start < chunk.len() {
        let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |e| start + e);
        if let Some(n) = plain_fields(&chunk[start..end], delim) {
            if n != expected {
                c.ragged += 1;
                if c.first.is_none() {
                    c.first = Some((c.lines, n));
                }
            }
        }
        c.lines += 1;
        start = end + 1;
    }
    c
}

/// Fields of each record of a quoted file, in one sequential pass: (physical line of the
/// record's start, field count) for every record that is not blank. A quote opens a
/// quoted field only at the start of a field, as CSV readers treat it.
fn quoted_records(data: &[u8], delim: u8, mut f: impl FnMut(usize, usize)) {
    let (mut line, mut rec_line, mut fields) = (1usize, 1usize, 1usize);
    let (mut in_quote, mut at_start, mut empty) = (false, true, true);
    // Just after a quoted field's closing quote: a quote here is an escaped one ("").
    let mut closed = false;
    for &b in data {
        if in_quote {
            if b == b'"' {
                in_quote = false;
                closed = true;
            } else if b == b'\n' {
                line += 1;
            }
            continue;
        }
        if closed && b == b'"' {
            in_quote = true;
            closed = false;
            continue;
        }
        closed = false;
        if b == b'\n' {
            if !empty {
                f(rec_line, fields);
            }
            line += 1;
            (rec_line, fields, at_start, empty) = (line, 1, true, true);
            continue;
        }
        if b == b'\r' {
            continue;
        }
        empty = false;
        if b == delim {
            fields += 1;
            at_start = true;
        } else if b == b'"' && at_start {
            in_quote = true;
            at_start = false;
        } else {
            at_start = false;
        }
    }
    if !empty {
        f(rec_line, fields);
    }
}

/// Offsets that cut `data` into about `parts` chunks (at least 1 MiB each), each ending
/// at a line end (so never inside a UTF-8 character or a line): 0, …, data.len().
fn line_bounds(data: &[u8], parts: usize) -> Vec<usize> {
    let target = (data.len() / parts.max(1)).max(1 << 20);
    let mut bounds = vec![0usize];
    while let Some(&last) = bounds.last() {
        if last >= data.len() {
            break;
        }
        let want = (last + target).min(data.len());
        bounds.push(match memchr::memchr(b'\n', &data[want..]) {
            Some(e) => want + e + 1,
            None => data.len(),
        });
    }
    bounds
}

/// The reading policy on one text file: UTF-8 (else an error naming the line and byte
/// offset) and every record with the header's field count. Ragged records are an error
/// naming the line and both counts, unless `flexible` (then counted for one warning).
///
/// `head_only`: only the header (the first record that is not blank).
pub(crate) fn check_text(
    op: &Part,
    delim: u8,
    flexible: bool,
    head_only: bool,
) -> Result<Option<Ragged>> {
    use rayon::prelude::*;
    let file =
        std::fs::File::open(&op.path).map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the file is only read, and this process does not write it while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| bad(format!("cannot read {}: {e}", op.label)))?;
    let data: &[u8] = map.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&map);
    let bom = map.len() - data.len();
    let data = if head_only {
        let mut end = 0;
        while end < data.len() {
            let start = end;
            end = record_end(data, delim, start);
            if !data[start..end].iter().all(|b| matches!(b, b'\n' | b'\r')) {
                break;
            }
        }
        &data[..end]
    } else {
        data
    };
    // Chunks end at line ends (a line end is never inside a UTF-8 character).
    let parts = rayon::current_num_threads().max(1) * 8;
    let bounds = line_bounds(data, parts);
    let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &data[w[0]..w[1]]).collect();
    let utf8_errors: Vec<Option<(usize, usize)>> = chunks
        .par_iter()
        .map(|c| {
            std::str::from_utf8(c).err().map(|e| {
                let at = e.valid_up_to();
                (memchr::memchr_iter(b'\n', &c[..at]).count(), at)
            })
        })
        .collect();
    let mut lines_before = 0;
    for (k, e) in utf8_errors.iter().enumerate() {
        if let Some((line, at)) = e {
            return Err(bad(format!(
                "{} line {} (byte offset {}): not valid UTF-8; name the file's encoding with \
                 --encoding (e.g. windows-1252, latin1, windows-874, shift_jis)",
                op.label,
                lines_before + line + 1,
                bom + bounds[k] + at
            )));
        }
        lines_before += memchr::memchr_iter(b'\n', chunks[k]).count();
    }
    let mut ragged = Ragged::default();
    let note = |line: usize, n: usize, ragged: &mut Ragged| {
        if ragged.count == 0 {
            ragged.first_line = line;
            ragged.found = n;
        }
        ragged.count += 1;
    };
    if memchr::memchr(b'"', data).is_some() {
        let mut expected = None;
        quoted_records(data, delim, |line, n| match expected {
            None => {
                expected = Some(n);
                ragged.expected = n;
            }
            Some(e) if e != n => note(line, n, &mut ragged),
            _ => {}
        });
    } else {
        // The first non-blank line gives the expected count; the rest in parallel.
        let mut start = 0;
        let mut first_line = 0;
        let expected = loop {
            if start >= data.len() {
                return Ok(None);
            }
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |e| start + e);
            first_line += 1;
            if let Some(n) = plain_fields(&data[start..end], delim) {
                start = end + 1;
                break n;
            }
            start = end + 1;
        };
        ragged.expected = expected;
        let rest = &data[start.min(data.len())..];
        let cuts = line_bounds(rest, parts);
        let checks: Vec<ChunkCheck> = cuts
            .par_windows(2)
            .map(|w| check_chunk(&rest[w[0]..w[1]], delim, expected))
            .collect();
        let mut line = first_line;
        for c in &checks {
            if let Some((l, n)) = c.first {
                if ragged.count == 0 {
                    ragged.first_line = line + l + 1;
                    ragged.found = n;
                }
            }
            ragged.count += c.ragged;
            line += c.lines;
        }
    }
    if ragged.count == 0 {
        return Ok(None);
    }
    if !flexible {
        return Err(bad(format!(
            "{} line {}: {} fields where the header has {}; fix the file, or pass \
             --flexible to pad short rows and cut long ones",
            op.label, ragged.first_line, ragged.found, ragged.expected
        )));
    }
    Ok(Some(ragged))
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

/// Bytes per chunk of a text file: the unit of reading progress.
const CHUNK: usize = 16 << 20;

/// The column a selection reads (`col(a)` or `col(a).alias(b)`); None for anything else.
fn leaf(e: &Expr) -> Option<PlSmallStr> {
    match e {
        Expr::Column(n) => Some(n.clone()),
        Expr::Alias(inner, _) => leaf(inner),
        _ => None,
    }
}

/// Offsets that cut CSV text into chunks of about `target` bytes, each ending at a record
/// end ([`next_bound`]): 0, …, data.len().
#[cfg(test)]
fn record_bounds(data: &[u8], delim: u8, target: usize) -> Vec<usize> {
    let mut bounds = vec![0usize];
    let mut pos = 0;
    while pos < data.len() {
        pos = next_bound(data, delim, pos, target);
        bounds.push(pos);
    }
    bounds
}

/// The end of the chunk of about `target` bytes that starts at record start `pos`: the
/// first record end at or after `pos + target` (data.len() at the end). A record end is a
/// line end outside quotes, where a quote opens a quoted field only at a field's start
/// and `""` inside one is an escaped quote (as the reader and [`quoted_records`] treat
/// them). Only the chunk's own bytes are looked at, so that reading chunk by chunk does
/// not bring the whole file into memory at once.
fn next_bound(data: &[u8], delim: u8, pos: usize, target: usize) -> usize {
    let want = (pos + target.max(1)).min(data.len());
    // Without a quote before `want`, the walk can start just before it, outside quotes.
    let mut i = if memchr::memchr(b'"', &data[pos..want]).is_none() {
        want.saturating_sub(1).max(pos)
    } else {
        pos
    };
    let mut in_quote = false;
    while let Some(k) = memchr::memchr2(b'"', b'\n', &data[i..]) {
        let j = i + k;
        i = j + 1;
        if data[j] == b'"' {
            if in_quote {
                if data.get(j + 1) == Some(&b'"') {
                    i = j + 2; // an escaped quote
                } else {
                    in_quote = false;
                }
            } else if j == 0 || data[j - 1] == delim || data[j - 1] == b'\n' {
                in_quote = true;
            }
        } else if !in_quote && j + 1 >= want {
            return i;
        }
    }
    data.len()
}

/// The end of the record that starts at `from` (outside quotes): just after its line end.
fn record_end(data: &[u8], delim: u8, from: usize) -> usize {
    let mut in_quote = false;
    let mut i = from;
    while let Some(k) = memchr::memchr2(b'"', b'\n', &data[i..]) {
        let j = i + k;
        i = j + 1;
        if data[j] == b'"' {
            if in_quote {
                if data.get(j + 1) == Some(&b'"') {
                    i = j + 2;
                } else {
                    in_quote = false;
                }
            } else if j == from || data[j - 1] == delim {
                in_quote = true;
            }
        } else if !in_quote {
            return i;
        }
    }
    data.len()
}

/// Text columns turned into typed ones chunk by chunk as CSV text is read, so that the
/// whole input never exists as text columns at once (memory follows the typed columns):
/// the date column as `Date` with the given format, or the one detected from its first
/// 10,000 values as the loader detects it; number columns as `Float64` by
/// [`super::parse_amount`]. A value that does not convert sends the whole input back to
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
}

/// Values increasing within each prefix (the text before trailing digits), for at most
/// [`PrefixRuns::MAX`] prefixes: `O00000001`, … and `R00000001`, … (orders and returns
/// numbered in two series) are distinct. Fed chunk by chunk, keeping one value per prefix.
#[derive(Clone, Debug, Default)]
pub(crate) struct PrefixRuns {
    last: Vec<(String, String)>,
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
        let ranges = super::ids::row_ranges(lens.iter().copied());
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
            match spans.iter().position(|s| super::ids::same_bytes(s.0, p)) {
                Some(j) if super::ids::fast_cmp(spans[j].2, v).is_lt() => spans[j].2 = v,
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
enum DistinctRead {
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
struct TypedState<'a> {
    typed: &'a Typed,
    format: Option<DateFormat>,
    coders: Vec<IdCoder>,
    distinct: DistinctRead,
    /// A chunk showed `distinct` repeating after an earlier chunk had dropped it.
    restart: bool,
}

impl TypedState<'_> {
    /// Convert one chunk's text columns; None when a value does not convert (or the
    /// format cannot be detected as the loader would: from fewer than 10,000 values
    /// when more chunks follow).
    fn convert(&mut self, mut df: DataFrame, last: bool) -> Result<Option<DataFrame>> {
        let t = self.typed;
        if let Some((name, given)) = &t.date {
            if let Ok(c) = df.column(name) {
                let ca = c.str()?;
                if self.format.is_none() {
                    self.format = match given {
                        Some(f) => Some(f.clone()),
                        None => {
                            let values = super::values::detect_sample(ca);
                            if values.len() < super::values::DETECT_VALUES && !last {
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
                let Some(days) = super::values::parse_days(ca, fmt) else {
                    return Ok(None);
                };
                let col = Column::new(name.as_str().into(), days).cast(&DataType::Date)?;
                df.with_column(col)?;
            }
        }
        for name in &t.numbers {
            let Ok(c) = df.column(name) else { continue };
            let Ok(values) = super::values::parse_amounts(c.str()?, t.decimal_comma) else {
                return Ok(None);
            };
            df.with_column(Column::new(name.as_str().into(), values))?;
        }
        self.convert_ids(df)
    }

    /// Code one chunk's id columns, and check (and drop) its distinct column
    /// ([`Typed::distinct`]); None when the read must start again (see `restart`).
    fn convert_ids(&mut self, mut df: DataFrame) -> Result<Option<DataFrame>> {
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
fn release(map: &memmap2::Mmap, end: usize) {
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
fn ensure_checked(op: &Part) -> Result<()> {
    if let (true, Some(shape)) = (op.unchecked.get(), op.csv.get()) {
        check_text(op, shape.delim, shape.flexible, false)?;
        op.unchecked.set(false);
    }
    Ok(())
}

/// Parse one chunk of whole records (no header) with polars, every column of `schema`
/// as text, and select `exprs` (reading only the `projection`).
fn parse_chunk(
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
fn read_chunked(
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
            super::first_line(&e.to_string())
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
            frames.push(df);
        }
        release(&map, b + offset);
        // (the first chunk's bytes include the byte-order mark and the header)
        let from = if start == 0 { 0 } else { start + offset };
        crate::progress::advance((b + offset - from) as u64);
        start = end;
    }
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
const SLICE_ROWS: usize = 1 << 20;

/// Read a Parquet part in slices of rows (polars reads only the row groups a slice
/// needs), coding each slice's ids as it comes ([`TypedState::convert_ids`]), so that
/// the whole id column never exists as text. None: the read must start again.
fn read_sliced(
    lf: LazyFrame,
    exprs: &[Expr],
    op: &Part,
    state: &mut TypedState,
    rows: usize,
) -> Result<Option<DataFrame>> {
    let count = super::collect(lf.clone().select([len().alias("n")]), &op.label)?;
    let n = count
        .column("n")?
        .cast(&DataType::UInt64)?
        .u64()?
        .get(0)
        .unwrap_or(0) as usize;
    let mut out: Option<DataFrame> = None;
    let mut at = 0;
    loop {
        let take = rows.min(n - at);
        let slice = lf.clone().select(exprs).slice(at as i64, take as IdxSize);
        let df = super::collect(slice, &op.label)?;
        let Some(df) = state.convert_ids(df)? else {
            return Ok(None);
        };
        match out.as_mut() {
            None => out = Some(df),
            Some(o) => {
                o.vstack_mut_owned(df)?;
            }
        }
        at += take;
        if at >= n {
            break;
        }
    }
    Ok(out)
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
fn collect_parts(
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
                let names = super::names_of(&mut lf, &op.label)?;
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
                    _ => super::collect(lf.select(exprs), &op.label)?,
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn typed_chunks_equal_the_text_parse_or_give_up() {
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
        };
        let text = b"c,d,a\nx,15/01/2024,$1\ny,,2.5\nz,03/02/2024,(3.00)\n";
        let (op, _tmp) = part(text);
        for (chunk, converts) in [(1 << 20, true), (1, false)] {
            let mut state = TypedState {
                typed: &typed,
                format: None,
                coders: Vec::new(),
                distinct: DistinctRead::Code,
                restart: false,
            };
            let got =
                read_chunked(&op, shape, &names, &exprs, chunk, Some((&mut state, true))).unwrap();
            assert_eq!(got.is_some(), converts, "chunk {chunk}");
            if let Some(df) = got {
                assert_eq!(state.format, Some(DateFormat::Dmy));
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
        let (op, _tmp) = part(bad);
        let mut state = TypedState {
            typed: &typed,
            format: Some(DateFormat::Iso),
            coders: Vec::new(),
            distinct: DistinctRead::Code,
            restart: false,
        };
        let got = read_chunked(&op, shape, &names, &exprs, 1, Some((&mut state, true))).unwrap();
        assert!(got.is_none());
        // A date that does not parse with the format detected from the first chunk.
        let mixed = b"c,d,a\nx,2024-01-15,1\ny,20240116,2\n";
        let (op, _tmp) = part(mixed);
        let mut state = TypedState {
            typed: &typed,
            format: Some(DateFormat::Iso),
            coders: Vec::new(),
            distinct: DistinctRead::Code,
            restart: false,
        };
        let got = read_chunked(&op, shape, &names, &exprs, 1, Some((&mut state, true))).unwrap();
        assert!(got.is_none());
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
