//! A dry run's estimate of what the job will cost on AWS, from what the dry run measured (rows,
//! chunks, the write units and transactions it would send) and a stated price table. Every line
//! is `requests or units × unit price`, and the total is their sum.
//!
//! Assumptions (stated in the report): on-demand tables, us-east-1 prices, items read with
//! strongly consistent reads (one read unit per started 4 KB), arm64 functions with the
//! template's memory, and the durations below per invocation. Writes are exact: Process meters
//! the very transactions it would send (two write units per item per started KB).

use std::fmt::Write as _;

use serde::Serialize;

/// Prices in USD (us-east-1, on-demand, as published for 2025).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTable {
    pub region: &'static str,
    pub write_request_unit: f64,
    pub read_request_unit: f64,
    pub s3_put: f64,
    pub s3_get: f64,
    pub lambda_request: f64,
    pub lambda_gb_second_arm64: f64,
    pub step_functions_transition: f64,
}

pub const PRICES: PriceTable = PriceTable {
    region: "us-east-1",
    write_request_unit: 0.625 / 1e6,
    read_request_unit: 0.125 / 1e6,
    s3_put: 0.005 / 1e3,
    s3_get: 0.0004 / 1e3,
    lambda_request: 0.20 / 1e6,
    lambda_gb_second_arm64: 0.000_013_333_4,
    step_functions_transition: 0.025 / 1e3,
};

/// Assumed per invocation: the template's memory and a duration.
const PROCESS_GB: f64 = 1.0;
const PROCESS_SECONDS_PER_ROW: f64 = 0.004;
const OTHER_GB: f64 = 0.5;
const OTHER_SECONDS: f64 = 2.0;
const TRANSFORM_SECONDS_PER_ROW: f64 = 0.000_05;
/// An item's size for reads (one read unit per started 4 KB): the entity rows are about 1 KB.
const READ_UNITS_PER_ITEM: f64 = 1.0;

/// What the dry run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub rows: u64,
    pub chunks: u64,
    /// Rows that would be written (created + updated).
    pub written_rows: u64,
    pub write_units: u64,
    pub write_requests: u64,
    /// Table-sourced modes read their rows in Export first.
    pub exported_rows: u64,
    /// Parallel-scan segments (table-wide normalize).
    pub scan_segments: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostLine {
    pub service: &'static str,
    pub operation: String,
    /// Requests (or invocations, transitions).
    pub requests: f64,
    /// Billed units (write/read units, GB-seconds); equal to `requests` where billed per request.
    pub units: f64,
    pub unit_price: f64,
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    pub lines: Vec<CostLine>,
    pub total: f64,
    pub prices: PriceTable,
    pub assumptions: Vec<String>,
}

fn line(
    service: &'static str,
    operation: &str,
    requests: f64,
    units: f64,
    unit_price: f64,
) -> CostLine {
    CostLine {
        service,
        operation: operation.to_string(),
        requests,
        units,
        unit_price,
        cost: units * unit_price,
    }
}

/// A line billed per request (the units are the requests).
fn per_request(service: &'static str, operation: &str, requests: f64, unit_price: f64) -> CostLine {
    line(service, operation, requests, requests, unit_price)
}

pub fn estimate(m: Measured) -> CostEstimate {
    let p = PRICES;
    let rows = m.rows as f64;
    let chunks = m.chunks as f64;
    let segments = m.scan_segments as f64;
    let batches = |items: f64| (items / 100.0).ceil();
    // Process reads each row's current entity; Verify re-reads each row it checks.
    let process_reads = rows;
    let verify_reads = rows;
    let invocations = 4.0 + chunks + segments;
    let other_gb_seconds = (3.0 + segments) * OTHER_GB * OTHER_SECONDS
        + OTHER_GB * (OTHER_SECONDS + rows * TRANSFORM_SECONDS_PER_ROW);
    let process_gb_seconds = PROCESS_GB * rows * PROCESS_SECONDS_PER_ROW;
    // The main execution's ~12 transitions, three per chunk's child, two per segment.
    let transitions = 12.0 + 3.0 * chunks + 2.0 * segments;
    let mut lines = vec![
        line(
            "DynamoDB",
            "TransactWriteItems (command + data rows, 2 units per item per KB)",
            m.write_requests as f64,
            m.write_units as f64,
            p.write_request_unit,
        ),
        line(
            "DynamoDB",
            "PutItem by the history function (one earlier version per updated row)",
            m.written_rows as f64,
            m.written_rows as f64,
            p.write_request_unit,
        ),
        line(
            "DynamoDB",
            "BatchGetItem in Process and Verify (strongly consistent)",
            batches(process_reads) + batches(verify_reads),
            (process_reads + verify_reads) * READ_UNITS_PER_ITEM,
            p.read_request_unit,
        ),
    ];
    if m.exported_rows > 0 || m.scan_segments > 0 {
        lines.push(line(
            "DynamoDB",
            if m.scan_segments > 0 {
                "Scan of the data table (segments)"
            } else {
                "Query of the source partition"
            },
            (m.exported_rows as f64 / 500.0).ceil().max(1.0),
            m.exported_rows as f64 * READ_UNITS_PER_ITEM,
            p.read_request_unit,
        ));
    }
    lines.extend([
        per_request(
            "S3",
            "PUT (chunks, results, summaries, reports)",
            2.0 * chunks + 10.0 + segments * 2.0,
            p.s3_put,
        ),
        per_request(
            "S3",
            "GET (chunks read by Process and Verify, results, manifest)",
            3.0 * chunks + 6.0 + segments * 2.0,
            p.s3_get,
        ),
        per_request("Lambda", "invocations", invocations, p.lambda_request),
        line(
            "Lambda",
            "GB-seconds (arm64)",
            invocations,
            other_gb_seconds + process_gb_seconds,
            p.lambda_gb_second_arm64,
        ),
        per_request(
            "Step Functions",
            "state transitions (Standard)",
            transitions,
            p.step_functions_transition,
        ),
    ]);
    let total = lines.iter().map(|l| l.cost).sum();
    CostEstimate {
        lines,
        total,
        prices: p,
        assumptions: vec![
            "on-demand tables in us-east-1; entity items of about 1 KB read with strongly consistent reads".into(),
            format!("Process: {PROCESS_GB} GB for {PROCESS_SECONDS_PER_ROW} s per row; other functions: {OTHER_GB} GB for {OTHER_SECONDS} s each"),
            "history: one PutItem per updated row (created rows have no earlier version)".into(),
            "writes are what this dry run planned, transaction by transaction".into(),
        ],
    }
}

impl CostEstimate {
    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "\n## Estimated cost on AWS (dry run)\n\n| service | operation | requests | units | unit price (USD) | cost (USD) |\n|---|---|---:|---:|---:|---:|\n",
        );
        for l in &self.lines {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.1} | {:.10} | {:.6} |",
                l.service, l.operation, l.requests, l.units, l.unit_price, l.cost
            );
        }
        let _ = writeln!(md, "| **total** | | | | | **{:.6}** |", self.total);
        let _ = writeln!(md, "\nPrices: {} (USD). Assumptions:", self.prices.region);
        for a in &self.assumptions {
            let _ = writeln!(md, "- {a}");
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_add_up_and_writes_are_priced_as_measured() {
        let e = estimate(Measured {
            rows: 1000,
            chunks: 2,
            written_rows: 1000,
            write_units: 4000,
            write_requests: 40,
            ..Measured::default()
        });
        let sum: f64 = e.lines.iter().map(|l| l.cost).sum();
        assert!((sum - e.total).abs() < 1e-12);
        for l in &e.lines {
            assert!((l.units * l.unit_price - l.cost).abs() < 1e-12, "{l:?}");
        }
        assert_eq!(e.lines[0].units, 4000.0);
        assert!((e.lines[0].cost - 4000.0 * 0.625 / 1e6).abs() < 1e-12);
        assert!(e.markdown().contains("| **total** |"));
    }
}
