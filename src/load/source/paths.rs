//! Where an input's files are: paths, globs and directories expanded (data files only),
//! Hive-style `key=value` folders read as partition columns.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::bad;

use super::Source;

/// File names read from a directory: data files only (not `_SUCCESS`, `.crc`, hidden
/// files).
pub(super) fn is_data_file(p: &Path) -> bool {
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

pub(super) fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
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
pub(super) fn partition_of(root: &Path, file: &Path) -> Vec<(String, String)> {
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
pub(super) type Partition = Vec<(String, String)>;

pub(super) fn expand(srcs: &[Source], what: &str) -> Result<Vec<(Source, Partition)>> {
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
