use proptest::prelude::*;

use super::*;
use crate::value::AttributeValue;

const HEADER: &str = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n";

fn read_all(text: &str) -> (Vec<MigrationRow>, Vec<Rejection>) {
    let reader = MigrationCsvReader::new(text.as_bytes()).unwrap();
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for item in reader {
        match item.unwrap() {
            CsvItem::Row(r) => rows.push(r),
            CsvItem::Rejected(r) => rejected.push(r),
        }
    }
    (rows, rejected)
}

#[test]
fn reads_rfc4180_quoting_bom_and_crlf() {
    let text = "\u{feff}sourcePk,sourceSk,code,name,attributes,targetTenantCode\r\n\
        PRODUCT#T1,P1,P1,\"Pen, blue\",\"{\"\"color\"\":\"\"blue\"\",\"\"price\"\":0.1}\",t1\r\n\
        PRODUCT#T1,P2,P2,\"two\nlines\",{},\r\n";
    let (rows, rejected) = read_all(text);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].name, "Pen, blue");
    assert_eq!(rows[0].attributes["price"], AttributeValue::N("0.1".into()));
    assert_eq!(
        rows[0].target_key(),
        crate::keys::Key::new("PRODUCT#t1", "P1")
    );
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[1].name, "two\nlines");
    assert_eq!(rows[1].line, 3);
    // empty targetTenantCode keeps the source tenant
    assert_eq!(rows[1].target_pk(), "PRODUCT#T1");
}

#[test]
fn optional_columns_in_any_order() {
    let text = "ttl,attributes,name,code,type,sourceSk,targetTenantCode,sourcePk,version,isDeleted,seq\n\
        1700000000,{},N,C,ITEM,S1,t2,PRODUCT#T1,3,TRUE,010\n";
    let (rows, rejected) = read_all(text);
    assert!(rejected.is_empty(), "{rejected:?}");
    let r = &rows[0];
    assert_eq!(r.target_pk(), "ITEM#t2");
    assert_eq!(
        (r.version, r.is_deleted, r.seq.as_deref(), r.ttl.as_deref()),
        (Some(3), Some(true), Some("10"), Some("1700000000"))
    );
}

#[test]
fn bad_rows_are_rejected_with_line_column_and_reason() {
    let text = format!(
        "{HEADER}\
PRODUCT#T1,P1,P1,ok,{{}},t1\n\
PRODUCT#T1,P2,P2,badjson,\"{{\"\"a\"\":}}\",t1\n\
PRODUCT#T1,,P3,nosk,{{}},t1\n\
PRODUCT#T1,P4,P4,extra,{{}},t1,surplus\n\
PRODUCT#T1,P5,P5,\"broken \"quote\",{{}},t1\n\
PRODUCTNOTENANT,P6,P6,notenant,{{}},t1\n\
PRODUCT#T1,P7,P7,ok,\"{{\"\"n\"\":12345678901234567890123456789012345678}}\",t1\n\
PRODUCT#T1,P8@2,P8,at,{{}},t1\n\
PRODUCT#T1,P9,P9,arr,[1],t1\n"
    );
    let (rows, rejected) = read_all(&text);
    assert_eq!(
        rows.iter()
            .map(|r| r.source_sk.as_str())
            .collect::<Vec<_>>(),
        vec!["P1", "P7"]
    );
    let got: Vec<(u64, Option<&str>)> = rejected
        .iter()
        .map(|r| (r.line, r.column.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, Some("attributes")),
            (4, Some("sourceSk")),
            (5, None),
            (6, Some("name")),
            (7, Some("sourcePk")),
            (9, Some("sourceSk")),
            (10, Some("attributes")),
        ]
    );
    assert!(
        rejected[0].reason.contains("not valid JSON"),
        "{}",
        rejected[0].reason
    );
    assert!(
        rejected[2].reason.contains("7 fields but the header has 6"),
        "{}",
        rejected[2].reason
    );
    assert!(
        rejected[3].reason.contains("quote"),
        "{}",
        rejected[3].reason
    );
    assert!(
        rejected[4].reason.contains("tenant"),
        "{}",
        rejected[4].reason
    );
    assert_eq!(rejected[2].record, "PRODUCT#T1,P4,P4,extra,{},t1,surplus");
    assert_eq!(
        rows[1].attributes["n"],
        AttributeValue::N("12345678901234567890123456789012345678".into())
    );
}

#[test]
fn a_second_byte_order_mark_is_dropped_and_a_broken_header_named() {
    let text = format!("\u{feff}\u{feff}{HEADER}PRODUCT#T1,P1,P1,n,{{}},t1\n");
    let rows: Vec<_> = MigrationCsvReader::new(text.as_bytes()).unwrap().collect();
    assert!(matches!(rows[..], [Ok(CsvItem::Row(_))]), "{rows:?}");
    let err = MigrationCsvReader::new(&b"\"sourcePk\" ,sourceSk\n"[..])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("column 1: text after a closing quote"),
        "{err}"
    );
    let wide = format!("{}\n", ",".repeat(5000));
    let err = MigrationCsvReader::new(wide.as_bytes())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("5001 columns"), "{err}");
}

#[test]
fn wrong_headers_fail() {
    let err = |t: &str| {
        MigrationCsvReader::new(t.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err("").contains("empty"));
    assert!(
        err("sourcePk,sourceSk,code,name,attributes\n")
            .contains("missing required column(s): targetTenantCode")
    );
    assert!(
        err("sourcePk,sourceSk,code,name,attributes,targetTenantCode,color\n")
            .contains("unknown column(s): color")
    );
    assert!(
        err("sourcePk,sourceSk,code,name,attributes,targetTenantCode,code\n")
            .contains("code appears more than once")
    );
}

/// A reader over a generated file of `rows` rows that is never held in memory.
struct Generated {
    rows: usize,
    next: usize,
    pending: Vec<u8>,
}

impl std::io::Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.next == 0 {
                self.pending.extend_from_slice(HEADER.as_bytes());
            } else if self.next <= self.rows {
                let i = self.next;
                self.pending.extend_from_slice(
                    format!("PRODUCT#T1,P{i},C{i},\"Name, {i}\",\"{{\"\"n\"\":{i}}}\",t1\n")
                        .as_bytes(),
                );
            } else {
                return Ok(0);
            }
            self.next += 1;
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn reader_memory_does_not_grow_with_the_file() {
    let mut reader = MigrationCsvReader::new(Generated {
        rows: 200_000,
        next: 0,
        pending: Vec::new(),
    })
    .unwrap();
    let mut count = 0;
    let mut max_buffered = 0;
    while let Some(item) = reader.next() {
        assert!(matches!(item.unwrap(), CsvItem::Row(_)));
        count += 1;
        if count % 1000 == 0 {
            max_buffered = max_buffered.max(reader.buffered_bytes());
        }
    }
    assert_eq!(count, 200_000);
    // The file is ~10 MB; what the reader holds stays its read buffer (and the ranges of one
    // record's fields).
    assert!(
        max_buffered <= super::records::READ_BUFFER + 4096,
        "reader buffered {max_buffered} bytes"
    );
}

fn arb_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 ,\"\n\r\u{e9}\u{3042}]{0,12}".prop_map(|s| AttributeValue::S(s.into())),
        any::<bool>().prop_map(AttributeValue::Bool),
        (any::<i64>(), 0u32..6).prop_map(|(n, scale)| {
            let text = if scale == 0 {
                n.to_string()
            } else {
                format!("{n}e-{scale}")
            };
            AttributeValue::N(crate::value::normalize_number(&text).unwrap_or_else(|_| "0".into()))
        }),
        Just(AttributeValue::Null(true)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4).prop_map(
                |m| AttributeValue::M(m.into_iter().map(|(k, v)| (k.into(), v)).collect())
            ),
        ]
    })
}

fn arb_row() -> impl Strategy<Value = MigrationRow> {
    (
        "[A-Z_]{1,8}",
        "[A-Za-z0-9_]{1,8}",
        "[A-Za-z0-9#_\\-]{1,10}",
        "[^\u{0}]{0,20}",
        prop::collection::btree_map("[a-zA-Z_]{1,8}", arb_value(), 0..5).prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect::<Attributes>()
        }),
        prop::option::of("[a-z0-9_]{1,8}"),
        prop::option::of("[A-Z]{1,6}"),
        prop::option::of(1u64..1000),
        prop::option::of(any::<bool>()),
        prop::option::of(0u64..100_000),
        prop::option::of(0u64..4_000_000_000),
    )
        .prop_map(
            |(
                ty,
                tenant,
                sk,
                name,
                attributes,
                target,
                entity_type,
                version,
                is_deleted,
                seq,
                ttl,
            )| MigrationRow {
                line: 0,
                source_pk: format!("{ty}#{tenant}").into(),
                code: sk.as_str().into(),
                source_sk: sk.into(),
                name: name.into(),
                attributes,
                target_tenant_code: target.unwrap_or_default().into(),
                entity_type: entity_type.map(Into::into),
                version,
                is_deleted,
                seq: seq.map(|s| s.to_string().into()),
                ttl: ttl.map(|t| t.to_string().into()),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn writer_output_reads_back_identically(rows in prop::collection::vec(arb_row(), 1..8)) {
        let mut writer = MigrationCsvWriter::new(Vec::new()).unwrap();
        for row in &rows {
            writer.write(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let reader = MigrationCsvReader::new(bytes.as_slice()).unwrap();
        let mut back = Vec::new();
        for item in reader {
            match item.unwrap() {
                CsvItem::Row(r) => back.push(MigrationRow { line: 0, ..r }),
                CsvItem::Rejected(r) => prop_assert!(false, "rejected {r}"),
            }
        }
        prop_assert_eq!(back, rows);
    }
}
