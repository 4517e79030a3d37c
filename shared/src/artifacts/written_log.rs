//! `jobs/<jobId>/written.jsonl`: every key a `direct`-mode job wrote, one JSON object a line
//! (`{"table":"data","pk":…,"sk":…,"version":…,"outcome":"created|updated"}`).
//!
//! In `direct` mode the app's data-sync handlers (RDS read models …) do not run, so this list is
//! what a re-sync of the app's read models needs. It is streamed through a temporary file (a
//! 1M-row job's list is tens of MB) and uploaded once, at the end.

use std::io::Write;

use super::{Artifact, JobArtifacts};
use crate::error::Error;
use crate::publish::{Outcome, RowOutcome};

/// One line of `written.jsonl`, borrowed from the row's outcome. The fields are declared in the
/// order of their names: the lines are the same bytes as when they were written from a `json!`
/// map (whose names serde_json sorts).
#[derive(serde::Serialize)]
struct WrittenKey<'a> {
    outcome: &'static str,
    pk: &'a str,
    sk: &'a str,
    table: &'static str,
    version: u64,
}

pub struct WrittenLog {
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    pub count: u64,
}

impl WrittenLog {
    pub fn new() -> Result<Self, Error> {
        let file = tempfile::NamedTempFile::new()
            .map_err(|e| Error::Retryable(format!("temporary file for written.jsonl: {e}")))?;
        Ok(WrittenLog {
            file: std::io::BufWriter::new(file),
            count: 0,
        })
    }

    /// Records the data rows one row's write produced (the row's own and a normalize-tenant
    /// soft delete).
    pub fn record(&mut self, o: &RowOutcome) -> Result<(), Error> {
        let outcome = match o.outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            _ => return Ok(()),
        };
        if let Some(version) = o.new_version {
            self.write(&WrittenKey {
                table: "data",
                pk: &o.pk,
                sk: &o.sk,
                version,
                outcome,
            })?;
        }
        if let Some(side) = &o.side_change {
            self.write(&WrittenKey {
                table: "data",
                pk: &side.pk,
                sk: &side.sk,
                version: side.new_version,
                outcome: "updated",
            })?;
        }
        Ok(())
    }

    /// One line, written straight into the buffered file.
    fn write(&mut self, line: &WrittenKey<'_>) -> Result<(), Error> {
        serde_json::to_writer(&mut self.file, line)
            .map_err(|e| Error::Retryable(format!("written.jsonl: {e}")))?;
        self.file
            .write_all(b"\n")
            .map_err(|e| Error::Retryable(format!("written.jsonl: {e}")))?;
        self.count += 1;
        Ok(())
    }

    /// Uploads the list to `jobs/<jobId>/written.jsonl` and returns its key.
    pub async fn upload(self, artifacts: &JobArtifacts) -> Result<String, Error> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::Retryable(format!("written.jsonl: {e}")))?;
        let key = artifacts.put_file(Artifact::Written, file.path()).await?;
        drop(file);
        Ok(key)
    }
}
