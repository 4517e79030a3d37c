//! The migration CSV reader on arbitrary bytes: it never panics; each record is a row or a
//! rejection naming its line, and the reader's memory stays bounded by one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::migration_csv::{CsvItem, MigrationCsvReader};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = MigrationCsvReader::new(data) else {
        return;
    };
    let mut last_line = 0;
    while let Some(item) = reader.next() {
        match item {
            Ok(CsvItem::Row(row)) => {
                assert!(row.line > last_line, "lines go forward");
                last_line = row.line;
                // What Transform does next with a row must not panic either.
                let _ = row.target_key();
                let _ = row.source_key();
            }
            Ok(CsvItem::Rejected(r)) => {
                assert!(r.line >= 2, "a rejection names a data line");
                assert!(!r.reason.is_empty(), "a rejection says why");
            }
            Err(_) => return,
        }
        let _ = reader.last_record();
    }
});
