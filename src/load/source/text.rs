//! The reading policy on CSV text before any parsing: the delimiter sniffed, UTF-8
//! checked, rows with more or fewer fields than the header found by line; and where
//! chunks may be cut (at record ends, quotes respected).

use std::io::Read;

use anyhow::Result;

use crate::error::bad;

use super::Part;

/// Count each candidate delimiter outside quotes in one line.
pub(super) fn count_delims(line: &[u8]) -> [usize; 4] {
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
pub(super) fn sniff(op: &Part, given: Option<u8>) -> Result<u8> {
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
pub(super) struct ChunkCheck {
    pub(super) lines: usize,
    pub(super) ragged: usize,
    pub(super) first: Option<(usize, usize)>,
}

/// Field count of one unquoted line (a trailing `\r` ignored); None for a blank line.
pub(super) fn plain_fields(line: &[u8], delim: u8) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    Some(1 + line.iter().filter(|&&b| b == delim).count())
}

pub(super) fn check_chunk(chunk: &[u8], delim: u8, expected: usize) -> ChunkCheck {
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
pub(super) fn quoted_records(data: &[u8], delim: u8, mut f: impl FnMut(usize, usize)) {
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
pub(super) fn line_bounds(data: &[u8], parts: usize) -> Vec<usize> {
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

/// Offsets that cut CSV text into chunks of about `target` bytes, each ending at a record
/// end ([`next_bound`]): 0, …, data.len().
#[cfg(test)]
pub(super) fn record_bounds(data: &[u8], delim: u8, target: usize) -> Vec<usize> {
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
pub(super) fn next_bound(data: &[u8], delim: u8, pos: usize, target: usize) -> usize {
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
pub(super) fn record_end(data: &[u8], delim: u8, from: usize) -> usize {
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
