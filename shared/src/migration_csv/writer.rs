//! Streaming writer of migration CSVs (used by Export); the reader reads its output back
//! identically.

use std::io::Write;

use super::{MigrationRow, OPTIONAL_COLUMNS, REQUIRED_COLUMNS};
use crate::value::attributes_to_json_string;

pub struct MigrationCsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> MigrationCsvWriter<W> {
    /// Writes the header: every required column, then every optional one.
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        inner.write_record(REQUIRED_COLUMNS.iter().chain(OPTIONAL_COLUMNS.iter()))?;
        Ok(MigrationCsvWriter { inner })
    }

    pub fn write(&mut self, row: &MigrationRow) -> Result<(), csv::Error> {
        self.write_with_attributes(row, &attributes_to_json_string(&row.attributes))
    }

    /// Writes `row` with `attributes` as given: Export writes the `s3://` pointer of an entity
    /// whose attributes object could not be read, so Transform rejects exactly that row.
    pub fn write_with_attributes(
        &mut self,
        row: &MigrationRow,
        attributes: &str,
    ) -> Result<(), csv::Error> {
        let version = row.version.map(|v| v.to_string()).unwrap_or_default();
        let is_deleted = row.is_deleted.map(|d| d.to_string()).unwrap_or_default();
        self.inner.write_record([
            row.source_pk.as_str(),
            &row.source_sk,
            &row.code,
            &row.name,
            attributes,
            &row.target_tenant_code,
            row.entity_type.as_deref().unwrap_or(""),
            &version,
            &is_deleted,
            row.seq.as_deref().unwrap_or(""),
            row.ttl.as_deref().unwrap_or(""),
        ])
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    pub fn into_inner(self) -> Result<W, std::io::Error> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
