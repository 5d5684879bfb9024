//! Every integration test in one test binary (polars is linked once): end to end on the
//! built binary (`common`: the bundled data, the binary in a clean environment, a fresh
//! work directory), `--help` snapshots and the property tests.
//!
//! `cargo test --test e2e MODULE::` runs one module, e.g. `cargo test --test e2e sql::`.

mod common;

mod churn_ltv; // churn, survival, at-risk, ltv (historical and the models)
mod cli; // loading (every input rule), cohort, describe, output formats and errors
mod help; // --help of every command against testdata/help/
mod properties; // property tests and bounded fuzzing of the loader and the parsers
mod report_charts; // --chart, report (the dashboard), completions, man page
mod segment_wallet_summary; // segment, wallet, summary, whatif
mod sql; // retention sql: the stored queries and DuckDB results against the native reports
mod subscriptions; // MRR movements, cohorts, sBG against the pandas and scipy references
