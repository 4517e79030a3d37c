//! The final output of an execution (DESIGN §7): what Verify or RecordFailure returns, what the
//! job record keeps and what `migrate --json` prints.

use serde::{Deserialize, Serialize};

use super::{JobStatus, Mode};
use crate::process::Counts;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub success: bool,
    pub source_count: u64,
    pub target_count: u64,
    pub missing_count: u64,
    pub extra_count: u64,
    pub difference_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub job_id: String,
    /// `None` only for a job whose document did not even name a valid mode ("unknown").
    #[serde(with = "mode_or_unknown")]
    pub mode: Option<Mode>,
    pub status: JobStatus,
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub verification: Verification,
    pub report_key: String,
    pub rejected_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl JobResult {
    /// How a job that ran to its end concludes: SUCCEEDED when nothing stops it, else FAILED with
    /// `MigrationFailed` and every cause, joined. The keys are the job's report and rejected rows.
    pub fn concluded(
        artifacts: &crate::artifacts::JobArtifacts,
        mode: Mode,
        counts: Counts,
        verification: Verification,
        rejected_key: String,
        causes: &[String],
    ) -> JobResult {
        let failed = !causes.is_empty();
        JobResult {
            job_id: artifacts.job_id().to_string(),
            mode: Some(mode),
            status: if failed {
                JobStatus::Failed
            } else {
                JobStatus::Succeeded
            },
            counts,
            verification,
            report_key: artifacts.key(crate::artifacts::Artifact::ReportJson),
            rejected_key,
            error: failed.then(|| "MigrationFailed".to_string()),
            cause: failed.then(|| causes.join("; ")),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status == JobStatus::Succeeded
    }

    /// Exactly the fields of the output contract (DESIGN §7), in its order: what `migrate
    /// --json` prints (error and cause go to stderr).
    pub fn contract(&self) -> ContractOutput<'_> {
        ContractOutput {
            job_id: &self.job_id,
            mode: self.mode,
            status: self.status,
            counts: &self.counts,
            verification: &self.verification,
            report_key: &self.report_key,
            rejected_key: &self.rejected_key,
        }
    }
}

/// The execution's output as DESIGN §7 spells it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractOutput<'a> {
    pub job_id: &'a str,
    #[serde(with = "mode_or_unknown")]
    pub mode: Option<Mode>,
    pub status: JobStatus,
    pub counts: &'a Counts,
    pub verification: &'a Verification,
    pub report_key: &'a str,
    pub rejected_key: &'a str,
}

/// A mode, or `"unknown"` for a job that failed before its document was understood.
mod mode_or_unknown {
    use super::Mode;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<_>`
    pub fn serialize<S: Serializer>(mode: &Option<Mode>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(m) => m.serialize(s),
            None => s.serialize_str("unknown"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mode>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "unknown" {
            return Ok(None);
        }
        Mode::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&text)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_contract_round_trips() {
        let result = JobResult {
            job_id: "j".into(),
            mode: Some(Mode::CopyTenant),
            status: JobStatus::Failed,
            report_key: "jobs/j/report.json".into(),
            rejected_key: "jobs/j/rejected.csv".into(),
            ..JobResult::default()
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["mode"], "copy-tenant");
        assert_eq!(json["status"], "FAILED");
        assert_eq!(json["counts"]["total"], 0);
        assert_eq!(serde_json::from_value::<JobResult>(json).unwrap(), result);
        let unknown = JobResult {
            mode: None,
            ..result
        };
        let json = serde_json::to_value(&unknown).unwrap();
        assert_eq!(json["mode"], "unknown");
        assert_eq!(serde_json::from_value::<JobResult>(json).unwrap(), unknown);
    }
}
