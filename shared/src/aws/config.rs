//! A Lambda's configuration: table and bucket names from environment variables set by
//! `template.yaml`, read once in `main`.

use crate::app_settings::AppSettings;
use crate::artifacts::DEFAULT_CHUNK_ROWS;
use crate::error::Error;
use crate::publish::TableNames;

/// The environment variables every function reads (set in `template.yaml`).
pub const COMMAND_TABLE: &str = "COMMAND_TABLE";
pub const DATA_TABLE: &str = "DATA_TABLE";
pub const HISTORY_TABLE: &str = "HISTORY_TABLE";
pub const JOBS_TABLE: &str = "JOBS_TABLE";
pub const BUCKET: &str = "BUCKET";
/// Optional: rows per chunk (default [`DEFAULT_CHUNK_ROWS`]).
pub const CHUNK_ROWS: &str = "CHUNK_ROWS";
/// Optional: chunks processed at once by the Distributed Map (default [`DEFAULT_MAX_CONCURRENCY`]).
pub const MAX_CONCURRENCY: &str = "MAX_CONCURRENCY";
/// Optional: segments of the parallel scan of a table-wide normalize (default [`DEFAULT_SCAN_SEGMENTS`]).
pub const SCAN_SEGMENTS: &str = "SCAN_SEGMENTS";
pub const DEFAULT_SCAN_SEGMENTS: u32 = 16;
/// On-demand tables absorb this many concurrent chunk writers (each ≤ 100-item transactions).
pub const DEFAULT_MAX_CONCURRENCY: u32 = 20;
/// The `start` function's: the state machine it starts, and the nightly reconcile job.
pub const STATE_MACHINE_ARN: &str = "STATE_MACHINE_ARN";
pub const RECONCILE_JOB: &str = "RECONCILE_JOB";

/// What a function knows about its deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    pub table_names: TableNames,
    pub bucket: String,
    pub chunk_rows: usize,
    pub max_concurrency: u32,
    pub scan_segments: u32,
    pub actor: String,
    pub app: AppSettings,
}

/// Reads a required variable, naming it when it is missing.
pub fn required(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<String, Error> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Error::invalid(format!("environment variable {name} is not set")))
}

/// An optional whole number from 1 to 10,000, naming the variable when it is anything else.
fn number(lookup: &dyn Fn(&str) -> Option<String>, name: &str, default: u32) -> Result<u32, Error> {
    match lookup(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                Error::invalid(format!("{name}={v:?}: expected a number from 1 to 10000"))
            }),
    }
}

impl FunctionConfig {
    /// From a variable lookup (`std::env::var` in `main`, a map in tests).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let chunk_rows = number(lookup, CHUNK_ROWS, DEFAULT_CHUNK_ROWS as u32)? as usize;
        let max_concurrency = number(lookup, MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY)?;
        let scan_segments = number(lookup, SCAN_SEGMENTS, DEFAULT_SCAN_SEGMENTS)?;
        let table_names = TableNames {
            command: required(lookup, COMMAND_TABLE)?,
            data: required(lookup, DATA_TABLE)?,
            history: required(lookup, HISTORY_TABLE)?,
            jobs: required(lookup, JOBS_TABLE)?,
        };
        let bucket = required(lookup, BUCKET)?;
        Ok(FunctionConfig {
            app: AppSettings::from_lookup(lookup, &bucket)?,
            table_names,
            bucket,
            chunk_rows,
            max_concurrency,
            scan_segments,
            // The function's name: who wrote a row, as MBC's createdBy/updatedBy.
            actor: lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "migration".into()),
        })
    }

    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_names_and_names_what_is_missing() {
        let full = lookup(&[
            (COMMAND_TABLE, "c"),
            (DATA_TABLE, "d"),
            (HISTORY_TABLE, "h"),
            (JOBS_TABLE, "j"),
            (BUCKET, "b"),
            (CHUNK_ROWS, "250"),
        ]);
        let config = FunctionConfig::from_lookup(&full).unwrap();
        assert_eq!(config.table_names.history, "h");
        assert_eq!(config.chunk_rows, 250);
        let partial = lookup(&[(COMMAND_TABLE, "c")]);
        let err = FunctionConfig::from_lookup(&partial).unwrap_err();
        assert!(err.to_string().contains(DATA_TABLE), "{err}");
        let bad = lookup(&[
            (COMMAND_TABLE, "c"),
            (DATA_TABLE, "d"),
            (HISTORY_TABLE, "h"),
            (JOBS_TABLE, "j"),
            (BUCKET, "b"),
            (CHUNK_ROWS, "lots"),
        ]);
        assert!(
            FunctionConfig::from_lookup(&bad)
                .unwrap_err()
                .to_string()
                .contains("CHUNK_ROWS")
        );
    }
}
