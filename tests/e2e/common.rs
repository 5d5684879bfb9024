//! The end-to-end harness shared by the test files: paths to the bundled data, the built
//! binary in a clean environment and a fresh work directory, and readers for its output.
#![allow(dead_code)] // each test file uses its own part of the harness

use std::path::Path;

use assert_cmd::Command;
use polars::prelude::*;

/// A path under the crate root.
pub fn root(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .to_string_lossy()
        .to_string()
}

/// A file of `testdata/`.
pub fn data(p: &str) -> String {
    root(&format!("testdata/{p}"))
}

/// A file of `examples/shop/`.
pub fn example(p: &str) -> String {
    root(&format!("examples/shop/{p}"))
}

/// The text of `testdata/expected/NAME`.
pub fn expected(name: &str) -> String {
    std::fs::read_to_string(data(&format!("expected/{name}"))).unwrap()
}

/// The binary with a clean environment in `dir`.
pub fn retention(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("retention").unwrap();
    c.current_dir(dir)
        .env_remove("COLUMNS")
        .env_remove("RUST_BACKTRACE");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the binary in `dir` (with `stdin` when given) and log what it printed.
pub fn run(dir: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let mut c = retention(dir);
    c.args(args);
    if let Some(s) = stdin {
        c.write_stdin(s);
    }
    let out = c.output().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    };
    let shown = r
        .stdout
        .char_indices()
        .nth(4000)
        .map_or(r.stdout.len(), |(i, _)| i);
    eprintln!(
        "$ retention {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        r.code,
        &r.stdout[..shown],
        r.stderr
    );
    r
}

/// Run the binary in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run(dir, args, None)
}

/// Run the binary in a fresh temporary directory.
pub fn run_tmp(args: &[&str]) -> Run {
    let w = workdir();
    run_in(w.path(), args)
}

pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn read_parquet(path: &Path) -> DataFrame {
    LazyFrame::scan_parquet(
        PlRefPath::new(path.to_string_lossy().to_string()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap()
}

/// A CSV text as a frame.
pub fn csv_frame(text: &str) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .into_reader_with_file_handle(std::io::Cursor::new(text.as_bytes().to_vec()))
        .finish()
        .unwrap()
}

/// A column as f64 values.
pub fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}
