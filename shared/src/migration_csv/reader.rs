//! Streaming reader of migration CSVs: one record in memory at a time.
//!
//! Each record yields either a valid [`MigrationRow`] or a [`Rejection`] naming the line,
//! the column and the reason. Only a wrong header (or an I/O error) stops the reader.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use super::{MigrationRow, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Rejection, RowAttributes, quoting};
use crate::keys::{self, VER_SEPARATOR};
use crate::value::{self, Attributes};

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

/// Keeps the raw bytes the csv parser has consumed but that we have not yet attributed to a
/// record, so a rejection can quote the record and its quoting can be checked strictly.
#[derive(Default)]
struct RawBuffer {
    /// Stream offset of `bytes[start]`.
    base: u64,
    /// Line terminators before `bytes[start]` (line numbers are counted here: the csv crate's
    /// own count is off by one after a BOM).
    newlines_before: u64,
    bytes: Vec<u8>,
    /// Bytes before `start` are attributed to records already; they are dropped in one move
    /// once they are many, not after every record.
    start: usize,
}

impl RawBuffer {
    /// The bytes not yet attributed to a record.
    fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// Attributes the next `n` pending bytes to a record.
    fn consume(&mut self, n: usize) {
        self.newlines_before += count_newlines(&self.bytes[self.start..self.start + n]);
        self.start += n;
        self.base += n as u64;
        if self.start >= 16 * 1024 && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

struct Tee<R> {
    inner: R,
    raw: Arc<Mutex<RawBuffer>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        if let Ok(mut raw) = self.raw.lock() {
            raw.bytes.extend_from_slice(&out[..n]);
        }
        Ok(n)
    }
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

/// The input with a leading UTF-8 BOM removed (the csv crate's byte positions skip a BOM, so
/// we remove it first to keep its positions and our raw buffer in step).
type Unbommed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

fn strip_bom<R: Read>(mut input: R) -> std::io::Result<Unbommed<R>> {
    let mut head = Vec::with_capacity(3);
    while head.len() < 3 {
        let mut byte = [0u8; 3];
        let want = 3 - head.len();
        match input.read(&mut byte[..want]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if head == b"\xEF\xBB\xBF" {
        head.clear();
    }
    Ok(std::io::Cursor::new(head).chain(input))
}

pub struct MigrationCsvReader<R: Read> {
    csv: csv::Reader<Tee<Unbommed<R>>>,
    raw: Arc<Mutex<RawBuffer>>,
    columns: Columns,
    names: Vec<String>,
    record: csv::ByteRecord,
    /// The raw text of the record the iterator returned last (for a rejection decided after
    /// parsing; [`Self::next_record`] hands each record's text over instead).
    last_record: String,
}

impl<R: Read> MigrationCsvReader<R> {
    /// Reads and checks the header row. UTF-8 with or without BOM, LF or CRLF.
    pub fn new(input: R) -> Result<Self, HeaderError> {
        let raw = Arc::new(Mutex::new(RawBuffer::default()));
        let input = strip_bom(input).map_err(|e| HeaderError::Malformed(e.to_string()))?;
        let tee = Tee {
            inner: input,
            raw: Arc::clone(&raw),
        };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(tee);
        let mut header = csv::ByteRecord::new();
        match csv.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(HeaderError::Empty),
            Err(e) => return Err(HeaderError::Malformed(e.to_string())),
        }
        let mut names = Vec::with_capacity(header.len());
        for (i, field) in header.iter().enumerate() {
            let field = if i == 0 {
                field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
            } else {
                field
            };
            let name = std::str::from_utf8(field).map_err(|_| {
                HeaderError::Malformed(format!("column {} is not valid UTF-8", i + 1))
            })?;
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
        let end = csv.position().byte();
        if let Ok(mut raw) = raw.lock() {
            let cut = (end.saturating_sub(raw.base) as usize).min(raw.pending().len());
            raw.consume(cut);
        }
        Ok(MigrationCsvReader {
            csv,
            raw,
            columns,
            names,
            record: csv::ByteRecord::new(),
            last_record: String::new(),
        })
    }

    /// The record last returned, as it is in the file (terminator removed).
    pub fn last_record(&self) -> &str {
        &self.last_record
    }

    /// Bytes held for the record being parsed (bounded by one record plus the parser's buffer;
    /// the memory test asserts it does not grow with the file).
    pub fn buffered_bytes(&self) -> usize {
        self.raw.lock().map(|r| r.bytes.capacity()).unwrap_or(0)
    }

    /// The raw text of the record just read (terminator removed), and its strict quoting check.
    fn take_raw(&mut self, start: u64) -> (u64, String, Result<(), (usize, &'static str)>) {
        let end = self.csv.position().byte();
        let Ok(mut raw) = self.raw.lock() else {
            return (0, String::new(), Ok(()));
        };
        let pending = raw.pending();
        let mut from = (start.saturating_sub(raw.base) as usize).min(pending.len());
        let to = (end.saturating_sub(raw.base) as usize).min(pending.len());
        // The csv crate may end a record between the '\r' and '\n' of a CRLF; a record never
        // starts with a line terminator, so leftovers belong to the previous line.
        while from < to && matches!(pending[from], b'\r' | b'\n') {
            from += 1;
        }
        let line = raw.newlines_before + count_newlines(&pending[..from]) + 1;
        let bytes = &pending[from..to];
        let check = quoting::check(bytes);
        let mut text = match std::str::from_utf8(bytes) {
            Ok(t) => t.to_string(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        };
        let kept = text.trim_end_matches(['\r', '\n']).len();
        text.truncate(kept);
        raw.consume(to);
        (line, text, check)
    }

    fn parse(&self, line: u64, record_text: &str) -> CsvItem<RowAttributes> {
        let reject = |column: Option<&str>, reason: String| {
            CsvItem::Rejected(Rejection {
                line,
                column: column.map(str::to_string),
                reason,
                record: record_text.to_string(),
            })
        };
        let rec = &self.record;
        if rec.len() != self.names.len() {
            return reject(
                None,
                format!(
                    "has {} fields but the header has {} columns",
                    rec.len(),
                    self.names.len()
                ),
            );
        }
        let mut fields: Vec<&str> = Vec::with_capacity(rec.len());
        for (i, f) in rec.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(s),
                Err(_) => return reject(Some(&self.names[i]), "is not valid UTF-8".into()),
            }
        }
        match self.build(line, &fields) {
            Ok(row) => CsvItem::Row(row),
            Err((column, reason)) => reject(Some(column), reason),
        }
    }

    fn build(
        &self,
        line: u64,
        f: &[&str],
    ) -> Result<MigrationRow<RowAttributes>, (&'static str, String)> {
        let c = self.columns;
        let key_field = |name: &'static str,
                         value: &str,
                         required: bool|
         -> Result<String, (&'static str, String)> {
            if required && value.is_empty() {
                return Err((name, "is empty".into()));
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
            Ok(value.to_string())
        };
        let source_pk = key_field("sourcePk", f[c.source_pk], true)?;
        if keys::tenant_of_pk(&source_pk).is_none() || keys::type_of_pk(&source_pk).is_none() {
            return Err((
                "sourcePk",
                format!("{source_pk:?} is not TYPE#tenantCode (no tenant code after the last '#')"),
            ));
        }
        let source_sk = key_field("sourceSk", f[c.source_sk], true)?;
        if source_sk.contains(VER_SEPARATOR) {
            return Err((
                "sourceSk",
                format!("{source_sk:?} contains '@', the version separator of command keys"),
            ));
        }
        let code = key_field("code", f[c.code], true)?;
        let name = f[c.name].to_string();
        // Read later (RowAttributes::read): in Transform on the rules' thread, not the parser's.
        let attributes = RowAttributes::Text(f[c.attributes].to_string());
        let target_tenant_code = key_field("targetTenantCode", f[c.target_tenant], false)?;
        if target_tenant_code.contains('#') {
            return Err((
                "targetTenantCode",
                format!("{target_tenant_code:?} contains '#'"),
            ));
        }
        let optional = |idx: Option<usize>| idx.map(|i| f[i]).filter(|v| !v.is_empty());
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
}

impl<R: Read> MigrationCsvReader<R> {
    /// The next record as Transform reads it, with its raw text (terminator removed): a row's
    /// attributes stay JSON text where they can ([`RowAttributes::Json`]).
    pub fn next_record(
        &mut self,
    ) -> Option<Result<(CsvItem<RowAttributes>, String), std::io::Error>> {
        let mut record = std::mem::take(&mut self.record);
        let read = self.csv.read_byte_record(&mut record);
        self.record = record;
        match read {
            Ok(false) => None,
            Ok(true) => {
                let start = match self.record.position() {
                    Some(p) => p.byte(),
                    None => self.csv.position().byte(),
                };
                let (line, text, quoting) = self.take_raw(start);
                if let Err((field, why)) = quoting {
                    let column = self.names.get(field - 1).cloned();
                    let rejection = Rejection {
                        line,
                        column,
                        reason: why.to_string(),
                        record: text.clone(),
                    };
                    return Some(Ok((CsvItem::Rejected(rejection), text)));
                }
                let item = self.parse(line, &text);
                Some(Ok((item, text)))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => Some(Err(std::io::Error::other(e.to_string()))),
                _ => Some(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    e.to_string(),
                ))),
            },
        }
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

/// Characters that must not hide in a key: controls, the byte order mark, zero-width spaces.
fn is_invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}')
}
