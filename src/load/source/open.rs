//! Opening one file: standard input copied, gzip decompressed, text in other encodings
//! decoded strictly into UTF-8, a workbook's sheet written out as CSV.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use encoding_rs::{DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8};
use tempfile::NamedTempFile;

use crate::error::bad;

use super::{Part, Source};

pub(super) fn copy_to_temp(mut r: impl Read, label: &str) -> Result<NamedTempFile> {
    let mut tmp = NamedTempFile::new().context("cannot create a temporary file")?;
    std::io::copy(&mut r, &mut tmp).map_err(|e| bad(format!("cannot read {label}: {e}")))?;
    tmp.flush().context("cannot write a temporary file")?;
    Ok(tmp)
}

pub(super) fn open_raw(src: &Source, what: &str) -> Result<Part> {
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
pub(super) fn check_compression(mut op: Part) -> Result<Part> {
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
pub(super) fn is_workbook(p: &Path) -> bool {
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
pub(super) fn decode(mut op: Part, encoding: Option<&'static Encoding>) -> Result<Part> {
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
pub(super) fn transcode(
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
pub(super) fn workbook(mut op: Part, sheet: Option<&str>) -> Result<Part> {
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
