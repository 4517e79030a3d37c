//! `$.job`: the job as the state machine carries it from Prepare to every later state.
//!
//! On the wire it is the contract's job document plus what Prepare fixed (`jobId`, the bucket,
//! the Distributed Map's concurrency, tolerance and result prefix, which the ASL reads by path).
//! In Rust it is the typed [`JobSpec`] and [`JobOptions`], parsed once where the payload enters.

use serde::{Deserialize, Serialize};

use super::Deps;
use crate::artifacts::{Artifact, JobArtifacts};
use crate::error::Error;
use crate::job::{JobDocument, JobOptions, JobSpec, Mode};
use crate::publish::PublishContext;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PreparedJobWire", into = "PreparedJobWire")]
pub struct PreparedJob {
    pub job_id: String,
    pub spec: JobSpec,
    pub options: JobOptions,
    /// The document as validated (with `jobId` and `appFrameworkVersion` filled in): what the
    /// job record keeps.
    pub document: JobDocument,
    pub bucket: String,
    pub max_concurrency: u32,
    /// Segments of the parallel scan (table-wide jobs; 0 otherwise).
    pub scan_segments: u32,
}

/// The JSON form; `mode`, `hasSourceTable`, `toleratedFailurePercentage` and `resultsPrefix` are
/// derived, and read by the ASL (`$.job.hasSourceTable`, `MaxConcurrencyPath`, …).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreparedJobWire {
    job_id: String,
    mode: Mode,
    document: JobDocument,
    bucket: String,
    has_source_table: bool,
    /// The `ExportSegments` Map runs over `scanSegments` (`[0, 1, …]`) when this is true.
    #[serde(default)]
    scans_table: bool,
    #[serde(default)]
    scan_segments: Vec<u32>,
    max_concurrency: u32,
    tolerated_failure_percentage: f64,
    results_prefix: String,
}

impl TryFrom<PreparedJobWire> for PreparedJob {
    type Error = Error;

    fn try_from(wire: PreparedJobWire) -> Result<Self, Error> {
        let (spec, options) = wire.document.validate()?;
        let mut job = PreparedJob::new(
            wire.job_id,
            spec,
            options,
            wire.document,
            wire.bucket,
            wire.max_concurrency,
        )?;
        job.scan_segments = wire.scan_segments.len() as u32;
        Ok(job)
    }
}

impl From<PreparedJob> for PreparedJobWire {
    fn from(job: PreparedJob) -> Self {
        let mode = job.spec.mode();
        PreparedJobWire {
            results_prefix: Artifact::MapResults.key(&job.job_id),
            tolerated_failure_percentage: job.options.tolerated_failure_percentage,
            has_source_table: mode.has_source_table(),
            scans_table: job.spec.scans_table(),
            scan_segments: (0..job.scan_segments).collect(),
            mode,
            job_id: job.job_id,
            document: job.document,
            bucket: job.bucket,
            max_concurrency: job.max_concurrency,
        }
    }
}

impl PreparedJob {
    pub fn new(
        job_id: String,
        spec: JobSpec,
        options: JobOptions,
        document: JobDocument,
        bucket: String,
        max_concurrency: u32,
    ) -> Result<Self, Error> {
        crate::job::check_job_id(&job_id)?;
        Ok(PreparedJob {
            job_id,
            spec,
            options,
            document,
            bucket,
            max_concurrency,
            scan_segments: 0,
        })
    }

    pub fn mode(&self) -> Mode {
        self.spec.mode()
    }

    /// The job's files.
    pub fn artifacts(&self, deps: &Deps) -> JobArtifacts {
        deps.artifacts(&self.job_id)
    }

    /// Everything about the job that shapes the rows it writes.
    pub fn publish_context(&self, deps: &Deps) -> PublishContext {
        PublishContext {
            job_id: self.job_id.as_str().into(),
            mode: self.mode(),
            moves_entities: self.spec.moves_entities(),
            attributes_mode: self.options.attributes_mode,
            publish_mode: self.options.publish_mode,
            now: super::now(),
            actor: deps.actor.as_str().into(),
            tables: deps.table_names.clone(),
            rollback_of: self.spec.rollback_of().map(str::to_string),
            large_attributes: deps.app.large_attributes.clone(),
            master_data_table: deps.app.master_data_table.clone(),
            writes: std::sync::Arc::new(crate::write_budget::WriteMeter::new(
                self.chunk_write_budget(),
            )),
        }
    }

    /// One chunk's share of `maxWriteUnitsPerSecond`: the chunks that run at once split it.
    pub fn chunk_write_budget(&self) -> Option<f64> {
        self.options
            .max_write_units_per_second
            .map(|budget| budget / f64::from(self.max_concurrency.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_round_trips_the_scan_segments() {
        let document =
            JobDocument::parse(serde_json::json!({"mode": "normalize-tenant", "jobId": "n"}))
                .unwrap();
        let (spec, options) = document.validate().unwrap();
        let mut job = PreparedJob::new("n".into(), spec, options, document, "b".into(), 4).unwrap();
        job.scan_segments = 3;
        let wire = serde_json::to_value(&job).unwrap();
        assert_eq!(wire["scansTable"], true);
        assert_eq!(wire["scanSegments"], serde_json::json!([0, 1, 2]));
        assert_eq!(wire["resultsPrefix"], "jobs/n/results/map");
        assert_eq!(serde_json::from_value::<PreparedJob>(wire).unwrap(), job);
        // A payload whose document does not validate is refused where it enters.
        let mut bad = serde_json::to_value(&job).unwrap();
        bad["document"]["targetTenant"] = "x".into();
        assert!(serde_json::from_value::<PreparedJob>(bad).is_err());
    }
}
