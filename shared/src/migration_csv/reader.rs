//! Streaming reader of migration CSVs: one record in memory at a time.
//!
//! Each record yields either a valid [`MigrationRow`] or a [`Rejection`] naming the line,
//! the column and the reason. Only a wrong header (or an I/O error) stops the reader.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use super::records::{Record, Splitter};
use super::{MigrationRow, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Rejection, RowAttributes};
use crate::keys::{self, VER_SEPARATOR};
use crate::value::{self, Attributes, Text};

/// What a header can get wrong; it fails the whole job before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty: a header row is required ({})", REQUIRED_COLUMNS.join(","))]
    Empty,
    #[error("header: missing required column(s): {0}")]
    Missing(String),
    #[error("header: unknown column(s): {0} (allowed: {allowed})", allowed = allowed_columns())]
    Unknown(String),
    #[error("header: column {0} appears more than once")]
    Duplicate(String),
    #[error("header: {0}")]
    Malformed(String),
}

fn allowed_columns() -> String {
    REQUIRED_COLUMNS
        .iter()
        .chain(OPTIONAL_COLUMNS.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// One record of the file: a row (its attributes held as `A`) or a rejection.
#[derive(Debug, Clone, PartialEq)]
pub enum CsvItem<A = Attributes> {
    Row(MigrationRow<A>),
    Rejected(Rejection),
}

#[derive(Clone, Copy)]
struct Columns {
    source_pk: usize,
    source_sk: usize,
    code: usize,
    name: usize,
    attributes: usize,
    target_tenant: usize,
    entity_type: Option<usize>,
    version: Option<usize>,
    is_deleted: Option<usize>,
    seq: Option<usize>,
    ttl: Option<usize>,
}

pub struct MigrationCsvReader<R: Read> {
    records: Splitter<R>,
    columns: Columns,
    names: Vec<String>,
    /// The raw text of the record the iterator returned last (for a rejection decided after
    /// parsing; [`Self::next_record`] hands each record's text over instead).
    last_record: String,
}

impl<R: Read> MigrationCsvReader<R> {
    /// Reads and checks the header row. UTF-8 with or without BOM, LF or CRLF.
    pub fn new(input: R) -> Result<Self, HeaderError> {
        let mut records =
            Splitter::new(input).map_err(|e| HeaderError::Malformed(e.to_string()))?;
        let header = match records.next_record() {
            None => return Err(HeaderError::Empty),
            Some(Err(e)) => return Err(HeaderError::Malformed(e.to_string())),
            Some(Ok(header)) => header,
        };
        // Stricter than the csv crate, which read `"sourcePk" ,…` as `sourcePk `: a header
        // with broken quoting is named as such.
        if let Err((field, why)) = header.quoting {
            return Err(HeaderError::Malformed(format!("column {field}: {why}")));
        }
        if header.field_count > header.fields.len() {
            return Err(HeaderError::Malformed(format!(
                "{} columns; a migration CSV has at most {}",
                header.field_count,
                REQUIRED_COLUMNS.len() + OPTIONAL_COLUMNS.len()
            )));
        }
        let mut names = Vec::with_capacity(header.fields.len());
        for i in 0..header.fields.len() {
            let field = header.field(i).unwrap_or_default();
            let name = std::str::from_utf8(&field).map_err(|_| {
                HeaderError::Malformed(format!("column {} is not valid UTF-8", i + 1))
            })?;
            // A second byte order mark (the stream's first is dropped by the splitter) is
            // dropped too, as before.
            let name = if i == 0 {
                name.strip_prefix('\u{feff}').unwrap_or(name)
            } else {
                name
            };
            names.push(name.trim().to_string());
        }
        let mut index = HashMap::new();
        let mut unknown = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if !REQUIRED_COLUMNS.contains(&name.as_str())
                && !OPTIONAL_COLUMNS.contains(&name.as_str())
            {
                unknown.push(if name.is_empty() {
                    format!("(empty name at position {})", i + 1)
                } else {
                    name.clone()
                });
            } else if index.insert(name.clone(), i).is_some() {
                return Err(HeaderError::Duplicate(name.clone()));
            }
        }
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|c| !index.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing(missing.join(", ")));
        }
        if !unknown.is_empty() {
            return Err(HeaderError::Unknown(unknown.join(", ")));
        }
        let columns = Columns {
            source_pk: index["sourcePk"],
            source_sk: index["sourceSk"],
            code: index["code"],
            name: index["name"],
            attributes: index["attributes"],
            target_tenant: index["targetTenantCode"],
            entity_type: index.get("type").copied(),
            version: index.get("version").copied(),
            is_deleted: index.get("isDeleted").copied(),
            seq: index.get("seq").copied(),
            ttl: index.get("ttl").copied(),
        };
        records.limit_fields(names.len() + 1);
        Ok(MigrationCsvReader {
            records,
            columns,
            names,
            last_record: String::new(),
        })
    }

    /// The record last returned, as it is in the file (terminator removed).
    pub fn last_record(&self) -> &str {
        &self.last_record
    }

    /// Bytes held for the record being parsed (the read buffer, larger only while a record
    /// longer than it is read, and where its fields are; the memory tests assert it does not
    /// grow with the file).
    pub fn buffered_bytes(&self) -> usize {
        self.records.buffered_bytes()
    }
}

impl<R: Read> MigrationCsvReader<R> {
    /// The next record as Transform reads it, with its raw text (terminator removed): a row's
    /// attributes stay JSON text where they can ([`RowAttributes::Json`]).
    pub fn next_record(
        &mut self,
    ) -> Option<Result<(CsvItem<RowAttributes>, String), std::io::Error>> {
        let record = match self.records.next_record()? {
            Ok(record) => record,
            Err(e) => return Some(Err(e)),
        };
        let line = record.line;
        let (mut text, utf8) = match std::str::from_utf8(record.bytes) {
            Ok(t) => (t.to_string(), true),
            Err(_) => (String::from_utf8_lossy(record.bytes).into_owned(), false),
        };
        if let Err((field, why)) = record.quoting {
            // A record whose quote is never closed runs to the end of the file, line end and all.
            let kept = text.trim_end_matches(['\r', '\n']).len();
            text.truncate(kept);
            let rejection = Rejection {
                line,
                column: self.names.get(field - 1).cloned(),
                reason: why.to_string(),
                record: text.clone(),
            };
            return Some(Ok((CsvItem::Rejected(rejection), text)));
        }
        let item = parse(&self.names, self.columns, &record, &text, utf8);
        Some(Ok((item, text)))
    }
}

/// A record's fields as text (cut from `text`, the record's, when it is valid UTF-8), built
/// into a row; or its rejection.
fn parse(
    names: &[String],
    columns: Columns,
    record: &Record<'_>,
    text: &str,
    utf8: bool,
) -> CsvItem<RowAttributes> {
    let line = record.line;
    let reject = |column: Option<&str>, reason: String| {
        CsvItem::Rejected(Rejection {
            line,
            column: column.map(str::to_string),
            reason,
            record: text.to_string(),
        })
    };
    if record.field_count != names.len() {
        return reject(
            None,
            format!(
                "has {} fields but the header has {} columns",
                record.field_count,
                names.len()
            ),
        );
    }
    let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(record.fields.len());
    for (i, f) in record.fields.iter().enumerate() {
        let field = if utf8 {
            // A field of valid UTF-8 text is valid too: fields are cut at ASCII quotes, commas
            // and line ends, so no check is needed a second time.
            if f.escaped() {
                record.unescaped_str(f, text).map(Cow::Owned)
            } else {
                text.get(f.range.clone()).map(Cow::Borrowed)
            }
        } else {
            record
                .field(i)
                .and_then(|bytes| String::from_utf8(bytes.into_owned()).ok())
                .map(Cow::Owned)
        };
        match field {
            Some(s) => fields.push(s),
            None => return reject(Some(&names[i]), "is not valid UTF-8".into()),
        }
    }
    match build(columns, line, fields) {
        Ok(row) => CsvItem::Row(row),
        Err((column, reason)) => reject(Some(column), reason),
    }
}

impl<R: Read> Iterator for MigrationCsvReader<R> {
    type Item = Result<CsvItem, std::io::Error>;

    /// The next record, its attributes as values.
    fn next(&mut self) -> Option<Self::Item> {
        let (item, text) = match self.next_record()? {
            Ok(next) => next,
            Err(e) => return Some(Err(e)),
        };
        let item = match item {
            CsvItem::Rejected(r) => CsvItem::Rejected(r),
            CsvItem::Row(row) => {
                let (row, attributes) = row.with_attributes(());
                match attributes.into_column_values() {
                    Ok(values) => CsvItem::Row(row.with_attributes(values).0),
                    Err(reason) => CsvItem::Rejected(Rejection {
                        line: row.line,
                        column: Some("attributes".into()),
                        reason,
                        record: text.clone(),
                    }),
                }
            }
        };
        self.last_record = text;
        Some(Ok(item))
    }
}

/// Most keys are printable ASCII not starting or ending with a space: nothing to trim and
/// nothing invisible, known from one loop over the bytes instead of two over characters.
fn is_plain_key(value: &str) -> bool {
    let b = value.as_bytes();
    b.iter().all(|c| (0x20..0x7f).contains(c))
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
}

/// Characters that must not hide in a key: controls, the byte order mark, zero-width spaces.
fn is_invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}')
}

/// A row from its fields (the header's order), or the column that is wrong and why.
fn build(
    c: Columns,
    line: u64,
    mut f: Vec<Cow<'_, str>>,
) -> Result<MigrationRow<RowAttributes>, (&'static str, String)> {
    let key_field =
        |name: &'static str, value: &str, required: bool| -> Result<Text, (&'static str, String)> {
            if required && value.is_empty() {
                return Err((name, "is empty".into()));
            }
            if is_plain_key(value) {
                return Ok(Text::from(value));
            }
            if value.trim() != value {
                return Err((name, "has leading or trailing whitespace".into()));
            }
            if let Some(c) = value.chars().find(|c| is_invisible(*c)) {
                let hint = if c == '\u{feff}' {
                    " (a byte order mark inside the file: were two files concatenated?)"
                } else {
                    ""
                };
                return Err((
                    name,
                    format!("contains the invisible character U+{:04X}{hint}", c as u32),
                ));
            }
            Ok(Text::from(value))
        };
    let source_pk = key_field("sourcePk", &f[c.source_pk], true)?;
    if keys::tenant_of_pk(&source_pk).is_none() || keys::type_of_pk(&source_pk).is_none() {
        return Err((
            "sourcePk",
            format!("{source_pk:?} is not TYPE#tenantCode (no tenant code after the last '#')"),
        ));
    }
    let source_sk = key_field("sourceSk", &f[c.source_sk], true)?;
    if source_sk.contains(VER_SEPARATOR) {
        return Err((
            "sourceSk",
            format!("{source_sk:?} contains '@', the version separator of command keys"),
        ));
    }
    let code = key_field("code", &f[c.code], true)?;
    let name = Text::from(std::mem::take(&mut f[c.name]));
    // Read later (RowAttributes::read): in Transform on the rules' thread, not the parser's.
    let attributes = RowAttributes::Text(std::mem::take(&mut f[c.attributes]).into_owned());
    let target_tenant_code = key_field("targetTenantCode", &f[c.target_tenant], false)?;
    if target_tenant_code.contains('#') {
        return Err((
            "targetTenantCode",
            format!("{target_tenant_code:?} contains '#'"),
        ));
    }
    let optional = |idx: Option<usize>| idx.map(|i| &*f[i]).filter(|v| !v.is_empty());
    let entity_type = match optional(c.entity_type) {
        Some(t) => Some(key_field("type", t, true)?),
        None => None,
    };
    let version = match optional(c.version) {
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err((
                    "version",
                    format!("{v:?} is not a version number (a whole number >= 1)"),
                ));
            }
        },
        None => None,
    };
    let is_deleted = match optional(c.is_deleted) {
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(v) => return Err(("isDeleted", format!("{v:?} is not true or false"))),
        None => None,
    };
    let seq = match optional(c.seq) {
        Some(v) => Some(value::normalize_number(v).map_err(|e| ("seq", e.to_string()))?),
        None => None,
    };
    let ttl = match optional(c.ttl) {
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.len() <= 12 => {
            Some(value::normalize_number(v).map_err(|e| ("ttl", e.to_string()))?)
        }
        Some(v) => {
            return Err((
                "ttl",
                format!("{v:?} is not epoch seconds (a whole number)"),
            ));
        }
        None => None,
    };
    Ok(MigrationRow {
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
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// A key the quick check passes would pass the full checks too.
        #[test]
        fn a_plain_key_has_nothing_to_trim_and_nothing_invisible(
            value in "[ -~\t\r\n\u{b}\u{c}\u{7f}\u{a0}\u{feff}\u{200b}\u{3000}é]{0,12}"
        ) {
            if super::is_plain_key(&value) {
                prop_assert_eq!(value.trim(), value.as_str());
                prop_assert!(!value.chars().any(super::is_invisible));
            }
        }
    }
}
