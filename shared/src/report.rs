//! The end of every job: `report.json` (the execution's result with its details), the readable
//! `report.md` beside it, and the job record (Verify and RecordFailure both finish this way).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::artifacts::JobArtifacts;
use crate::error::Error;
use crate::job::{JobResult, JobStatus};
use crate::repositories::{JobRecord, JobRecords};

/// Up to this many examples of each kind of problem go into the report.
pub const SAMPLES: usize = 100;

/// Examples of each kind of problem, with line and reason.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Samples {
    pub missing: Vec<String>,
    pub differences: Vec<String>,
    pub extra: Vec<String>,
    pub conflicts: Vec<String>,
    pub failed: Vec<String>,
    /// Rows Transform rejected (line, column, reason), from `rejected.csv`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

impl Samples {
    /// Keeps `item` if the list has fewer than [`SAMPLES`].
    pub fn push(list: &mut Vec<String>, item: String) {
        if list.len() < SAMPLES {
            list.push(item);
        }
    }
}

/// What a report holds beside the [`JobResult`].
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_key: Option<String>,
    pub samples: Samples,
    /// What the job's writes used (or, in a dry run, would use), and the rate achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes: Option<WriteSummary>,
    /// A dry run: what the job would cost on AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_estimate: Option<crate::cost::CostEstimate>,
    /// normalize-tenant: the SQL that lowercases `tenant_code` in the app's RDS tables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rds_sql: Vec<crate::rds_sql::RdsStatements>,
}

/// The job's writes: units, requests, and the rate over the time chunks were processing.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteSummary {
    pub write_units: u64,
    pub write_requests: u64,
    /// From the first chunk's start to the last chunk's end.
    pub seconds: f64,
    pub units_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_units_per_second: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson<'a> {
    #[serde(flatten)]
    result: &'a JobResult,
    #[serde(flatten)]
    details: &'a ReportDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<&'a str>,
    finished_at: &'a str,
}

/// The first [`SAMPLES`] rows of rejected.csv, as `line N: column: reason`.
pub async fn rejected_samples(artifacts: &JobArtifacts) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let Some(bytes) = artifacts.read(crate::artifacts::Artifact::Rejected).await? else {
        return Ok(out);
    };
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    for record in reader.records().take(SAMPLES) {
        let Ok(record) = record else { break };
        let field = |i: usize| record.get(i).unwrap_or_default();
        let column = match field(1) {
            "" => String::new(),
            c => format!("{c}: "),
        };
        out.push(format!("line {}: {column}{}", field(0), field(2)));
    }
    Ok(out)
}

/// Writes the job record, then report.json and report.md. The record comes first: if the report
/// cannot be written, the record still tells the status.
pub async fn finish(
    artifacts: &JobArtifacts,
    records: &JobRecords<'_>,
    result: &JobResult,
    details: &ReportDetails,
    now: &str,
) -> Result<(), Error> {
    let existing = records.get(&result.job_id).await?;
    let started_at = existing.as_ref().and_then(|r| r.started_at.clone());
    let record = JobRecord {
        result: result.clone(),
        started_at: started_at.clone(),
        finished_at: Some(now.to_string()),
        document: existing.and_then(|r| r.document),
    };
    records.put(&record, now).await?;
    let json = serde_json::to_value(ReportJson {
        result,
        details,
        started_at: started_at.as_deref(),
        finished_at: now,
    })
    .map_err(|e| Error::MigrationFailed(format!("report.json: {e}")))?;
    let markdown = markdown(result, details, started_at.as_deref(), now);
    artifacts.save_report(&json, markdown).await
}

fn seconds_between(start: &str, end: &str) -> Option<i64> {
    let a = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    Some((b - a).num_seconds())
}

/// The readable report: counts, verification, samples of each kind, time taken.
pub fn markdown(
    result: &JobResult,
    details: &ReportDetails,
    started_at: Option<&str>,
    finished_at: &str,
) -> String {
    let mut md = String::new();
    let mode = result.mode.map_or("unknown", |m| m.as_str());
    let _ = writeln!(
        md,
        "# Job `{}`: {} ({mode})\n",
        result.job_id, result.status
    );
    if let Some(start) = started_at {
        let took = seconds_between(start, finished_at)
            .map(|s| format!(" ({s} s)"))
            .unwrap_or_default();
        let _ = writeln!(md, "Started {start}, finished {finished_at}{took}.\n");
    } else {
        let _ = writeln!(md, "Finished {finished_at}.\n");
    }
    if result.status == JobStatus::Failed
        && let Some(error) = &result.error
    {
        let _ = writeln!(
            md,
            "**{error}**: {}\n",
            result.cause.as_deref().unwrap_or("")
        );
    }
    let c = &result.counts;
    let _ = writeln!(md, "## Counts\n\n| outcome | rows |\n|---|---:|");
    for (label, n) in c.labeled() {
        let _ = writeln!(md, "| {label} | {n} |");
    }
    let v = &result.verification;
    let _ = writeln!(
        md,
        "\n## Verification: {}\n\n| check | count |\n|---|---:|",
        if v.success { "passed" } else { "FAILED" }
    );
    for (label, n) in [
        ("source rows", v.source_count),
        ("found in the data table", v.target_count),
        ("missing", v.missing_count),
        ("extra (drift)", v.extra_count),
        ("different", v.difference_count),
    ] {
        let _ = writeln!(md, "| {label} | {n} |");
    }
    let s = &details.samples;
    for (title, list) in [
        ("Rejected rows", &s.rejected),
        ("Missing", &s.missing),
        ("Extra", &s.extra),
        ("Differences", &s.differences),
        ("Conflicts", &s.conflicts),
        ("Failed", &s.failed),
    ] {
        if list.is_empty() {
            continue;
        }
        let more = if list.len() >= SAMPLES {
            format!(" (first {SAMPLES})")
        } else {
            String::new()
        };
        let _ = writeln!(md, "\n## {title}{more}\n");
        for item in list {
            let _ = writeln!(md, "- {}", item.replace('\n', " "));
        }
    }
    if let Some(w) = &details.writes {
        let budget = w
            .max_write_units_per_second
            .map(|b| format!(" (budget {b} units/s)"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "\n## Writes\n\n{} write units in {} TransactWriteItems requests over {:.1} s: {:.1} units/s{budget}.",
            w.write_units, w.write_requests, w.seconds, w.units_per_second
        );
    }
    if let Some(cost) = &details.cost_estimate {
        md.push_str(&cost.markdown());
    }
    if !details.rds_sql.is_empty() {
        let _ = writeln!(
            md,
            "\n## RDS read model\n\nRun after this job succeeded (the DynamoDB keys are lowercase) and before the app stops \
             its dual read: the count shows what the update will change, and shows 0 after it.\n"
        );
        for s in &details.rds_sql {
            let _ = writeln!(md, "```sql\n-- {}\n{}\n{}\n```", s.table, s.count, s.update);
        }
    }
    let _ = writeln!(md, "\n## Files\n");
    let _ = writeln!(md, "- report: `{}`", result.report_key);
    let _ = writeln!(md, "- rejected rows: `{}`", result.rejected_key);
    if let Some(w) = &details.written_key {
        let _ = writeln!(md, "- keys written (for a re-sync of read models): `{w}`");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Mode;

    #[test]
    fn markdown_has_counts_samples_and_time_taken() {
        let mut result = JobResult {
            job_id: "j1".into(),
            mode: Some(Mode::Import),
            status: JobStatus::Failed,
            report_key: "jobs/j1/report.json".into(),
            rejected_key: "jobs/j1/rejected.csv".into(),
            error: Some("MigrationFailed".into()),
            cause: Some("verification failed".into()),
            ..JobResult::default()
        };
        result.counts.created = 7;
        let mut details = ReportDetails::default();
        details
            .samples
            .conflicts
            .push("line 3: P#t / a: expected version 2, found version 3".into());
        let md = markdown(
            &result,
            &details,
            Some("2026-01-01T00:00:00+00:00"),
            "2026-01-01T00:01:05+00:00",
        );
        assert!(md.contains("| created | 7 |"), "{md}");
        assert!(md.contains("(65 s)"), "{md}");
        assert!(md.contains("## Conflicts"), "{md}");
        assert!(md.contains("expected version 2"), "{md}");
        assert!(md.contains("**MigrationFailed**"), "{md}");
        assert!(!md.contains("## Missing"), "{md}");
    }
}
