//! The migration CSV (DESIGN §5): header names, rows, a streaming reader and writer.
//!
//! Required columns `sourcePk,sourceSk,code,name,attributes,targetTenantCode` (any order),
//! optional `type, version, isDeleted, seq, ttl`. A row becomes the entity
//! `pk = "{TYPE}#{targetTenantCode}"`, `sk = sourceSk`.

mod reader;
mod records;
mod writer;

pub use reader::{CsvItem, HeaderError, MigrationCsvReader};
pub use writer::MigrationCsvWriter;

use serde::{Deserialize, Serialize};

use crate::keys::{self, Key};
use crate::value::plain_json::{Shape, ShapeReader};
use crate::value::{Attributes, Text, ValueError};

pub const REQUIRED_COLUMNS: [&str; 6] = [
    "sourcePk",
    "sourceSk",
    "code",
    "name",
    "attributes",
    "targetTenantCode",
];
pub const OPTIONAL_COLUMNS: [&str; 5] = ["type", "version", "isDeleted", "seq", "ttl"];

/// A valid row of a migration CSV (or of a transformed chunk). `A` is how its attributes are
/// held: as values ([`Attributes`], everywhere but Transform) or as Transform reads them
/// ([`RowAttributes`]: the JSON text, turned into values only when a rule needs them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(
    rename_all = "camelCase",
    bound(
        serialize = "A: crate::value::plain_attributes::ToPlainJson",
        deserialize = "A: crate::value::plain_attributes::FromPlainJson"
    )
)]
pub struct MigrationRow<A = Attributes> {
    /// The line of the source file where the row starts (1 is the header).
    pub line: u64,
    pub source_pk: Text,
    pub source_sk: Text,
    pub code: Text,
    pub name: Text,
    /// DynamoDB-typed values (numbers kept as exact text). In a chunk file they are the plain
    /// JSON object of the CSV column (`attributesJson`): Transform writes a row it did not need
    /// to change as the text it read, without turning it into values and back. (A chunk written
    /// by an earlier version, with DynamoDB-typed `attributes`, is refused as corrupt rather
    /// than read as plain JSON.)
    #[serde(
        rename = "attributesJson",
        with = "crate::value::plain_attributes",
        skip_serializing_if = "crate::value::plain_attributes::is_spliced"
    )]
    pub attributes: A,
    /// As written; empty means "keep the source tenant".
    pub target_tenant_code: Text,
    /// The `type` column, when present and non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub entity_type: Option<Text>,
    /// The version the row expects the target entity to have now (optimistic lock); empty: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Text>,
}

/// A row's attributes as Transform holds them.
#[derive(Debug, Clone)]
pub enum RowAttributes {
    /// The column as the CSV holds it, not read yet ([`RowAttributes::read`]).
    Text(String),
    /// The JSON object as it is in the file (one line: no line break in it), with its shape.
    /// Only text the shape reader took as a whole, valid object is held so (a property test
    /// holds serde_json, which reads the chunk row back, to accept all of it).
    Json { text: String, shape: Shape },
    /// Values: read from text a rule had to change (or that the shape could not take).
    Values(Attributes),
}

/// Equal when they are the same values (however the text was spaced or escaped).
impl PartialEq for RowAttributes {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RowAttributes::Values(a), RowAttributes::Values(b)) => a == b,
            _ => self.clone().into_values().ok() == other.clone().into_values().ok(),
        }
    }
}

impl Default for RowAttributes {
    fn default() -> Self {
        RowAttributes::Values(Attributes::new())
    }
}

impl RowAttributes {
    /// Reads the column's text: kept as JSON text where the shape reader takes it and it is
    /// one line (a chunk row is one line), else parsed into values. `Err` is the reason the
    /// row is rejected (column `attributes`).
    pub fn read(self, shapes: &mut ShapeReader) -> Result<RowAttributes, String> {
        let RowAttributes::Text(text) = self else {
            return Ok(self);
        };
        // One line: no line break between its tokens (inside strings JSON has them escaped).
        let one_line = memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none();
        if let Some(shape) = shapes.shape(&text).filter(|_| one_line) {
            return Ok(RowAttributes::Json { text, shape });
        }
        column_values(&text).map(RowAttributes::Values)
    }

    /// The attributes as values: an unread column parsed straight into values (no shape read
    /// first). `Err` is the reason the row is rejected (column `attributes`).
    pub fn into_column_values(self) -> Result<Attributes, String> {
        match self {
            RowAttributes::Text(text) => column_values(&text),
            other => other.into_values().map_err(|e| e.to_string()),
        }
    }

    /// The attributes as values (the JSON text parsed).
    pub fn into_values(self) -> Result<Attributes, ValueError> {
        match self {
            RowAttributes::Text(text) => crate::value::attributes_from_json_str(&text),
            RowAttributes::Json { text, .. } => crate::value::attributes_from_json_str(&text),
            RowAttributes::Values(v) => Ok(v),
        }
    }
}

/// The `attributes` column as values, or why the row is rejected.
fn column_values(text: &str) -> Result<Attributes, String> {
    crate::value::attributes_from_json_str(text).map_err(|e| match e {
        ValueError::Json(e) if text.trim().is_empty() => {
            format!("is empty; write {{}} for no attributes ({e})")
        }
        _ if crate::large_attributes::is_pointer(text.trim()) => {
            "is an s3:// pointer to attributes kept in S3 that could not be read (see the export's log); the row is left out".into()
        }
        e => e.to_string(),
    })
}

impl<A> MigrationRow<A> {
    /// The same row with `attributes` in place of its own (which are returned): the row's other
    /// fields move, nothing is copied.
    pub fn with_attributes<B>(self, attributes: B) -> (MigrationRow<B>, A) {
        let MigrationRow {
            line,
            source_pk,
            source_sk,
            code,
            name,
            attributes: own,
            target_tenant_code,
            entity_type,
            version,
            is_deleted,
            seq,
            ttl,
        } = self;
        (
            MigrationRow {
                line,
                source_pk,
                source_sk,
                code,
                name,
                attributes,
                target_tenant_code,
                entity_type,
                version,
                is_deleted,
                seq,
                ttl,
            },
            own,
        )
    }

    /// The same row with its attributes turned into others by `f`.
    pub fn map_attributes<B>(self, f: impl FnOnce(A) -> B) -> MigrationRow<B> {
        let (row, own) = self.with_attributes(());
        row.with_attributes(f(own)).0
    }

    /// TYPE: the `type` column, else the part of `sourcePk` before its last `#`.
    pub fn target_type(&self) -> &str {
        match &self.entity_type {
            Some(t) => t,
            None => keys::type_of_pk(&self.source_pk).unwrap_or_default(),
        }
    }

    /// The source tenant (text after the last `#` of `sourcePk`).
    pub fn source_tenant(&self) -> &str {
        keys::tenant_of_pk(&self.source_pk).unwrap_or_default()
    }

    /// `targetTenantCode`, or the source tenant when it is empty.
    pub fn target_tenant(&self) -> &str {
        if self.target_tenant_code.is_empty() {
            self.source_tenant()
        } else {
            &self.target_tenant_code
        }
    }

    pub fn target_pk(&self) -> Text {
        keys::pk(self.target_type(), self.target_tenant())
    }

    /// The data-table key the row publishes to.
    pub fn target_key(&self) -> Key {
        Key::new(self.target_pk(), &self.source_sk)
    }

    /// The data-table key it came from.
    pub fn source_key(&self) -> Key {
        Key::new(&self.source_pk, &self.source_sk)
    }
}

/// A row left out of a migration, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub reason: String,
    /// The row as it was in the file (for fixing and re-uploading).
    pub record: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}: column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Writes the `rejected.csv` report: `line,column,reason,record`.
pub struct RejectionWriter<W: std::io::Write> {
    inner: csv::Writer<W>,
}

impl<W: std::io::Write> RejectionWriter<W> {
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut inner = csv::Writer::from_writer(out);
        inner.write_record(["line", "column", "reason", "record"])?;
        Ok(RejectionWriter { inner })
    }

    pub fn write(&mut self, r: &Rejection) -> Result<(), csv::Error> {
        let line = r.line.to_string();
        self.inner.write_record([
            line.as_str(),
            r.column.as_deref().unwrap_or(""),
            &r.reason,
            &r.record,
        ])
    }

    pub fn into_inner(self) -> Result<W, std::io::Error> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
