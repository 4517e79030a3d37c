//! A job's status, as the job record, the execution's output (DESIGN §7) and `migrate jobs`
//! spell it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobStatus {
    /// Recorded by Prepare; also what a job killed mid-run still says.
    #[default]
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_the_contract() {
        for s in [JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(serde_json::from_value::<JobStatus>("DONE".into()).is_err());
    }
}
