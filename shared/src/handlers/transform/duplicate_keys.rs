//! One job writes each entity once: a second row for a target key (also a second source row that
//! maps to the same key) is rejected, naming the first. The check spans the whole file, in memory
//! that does not grow with it.
//!
//! Each row that goes into a chunk leaves a [`KeyEntry`]: a 128-bit seeded hash of its target key
//! and its line. The entries are sorted on disk ([`crate::external_sort`]: runs of
//! [`RUN_ENTRIES`], 6 MB, sorted in memory and spilled to a temp file, merged at the end). Once the file is read, equal
//! hashes are next to each other: the first line keeps the entity, each later line is a
//! duplicate. The duplicates are sorted by line the same way, so Transform can take them out of
//! their chunks and quote their records in one pass over the file and the chunks in order.
//!
//! Why a hash, unconfirmed: the key's bytes are hashed once with XXH3-128 under a seed that is
//! new in every run. Two different keys look alike with a chance of about n²/2¹²⁹, 10⁻²¹ for
//! 10⁹ rows. XXH3 is not a cryptographic hash, so a file crafted for it could make two keys
//! collide; the file is the operator's own, and a collision would only reject a row as a
//! duplicate, naming the other line (nothing is written wrongly). Two SipHash-1-3 passes (the
//! earlier 128 bits, keyed) cost 1.2 k instructions per row, 5 % of Transform's; this costs a
//! tenth of that.
//!
//! An earlier version kept a `HashSet<u64>` of the keys in memory: 19 MB per million rows
//! (28 MB while it grew), so a file of two million rows took Transform past 64 MB.

use std::hash::{BuildHasher, RandomState};

use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::external_sort::{ExternalSorter, Record, Sorted};
use crate::migration_csv::MigrationRow;

/// Entries sorted in memory before a run is spilled: 2¹⁸ × 24 bytes = 6 MB.
pub const RUN_ENTRIES: usize = 1 << 18;

/// A row's target key, hashed, and its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct KeyEntry {
    hash: u128,
    line: u64,
}

impl Record for KeyEntry {
    const SIZE: usize = 24;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        let (mut hash, mut line) = ([0u8; 16], [0u8; 8]);
        hash.copy_from_slice(&bytes[..16]);
        line.copy_from_slice(&bytes[16..24]);
        KeyEntry {
            hash: u128::from_le_bytes(hash),
            line: u64::from_le_bytes(line),
        }
    }
}

/// A later row for an entity that an earlier line of the file already writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duplicate {
    pub line: u64,
    /// The line that writes the entity.
    pub first: u64,
}

impl Record for Duplicate {
    const SIZE: usize = 16;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&self.first.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        let (mut line, mut first) = ([0u8; 8], [0u8; 8]);
        line.copy_from_slice(&bytes[..8]);
        first.copy_from_slice(&bytes[8..16]);
        Duplicate {
            line: u64::from_le_bytes(line),
            first: u64::from_le_bytes(first),
        }
    }
}

/// The duplicates of a file, in line order (read from disk as they are taken).
pub type Duplicates = Sorted<Duplicate>;

/// The target keys of the rows written to chunks so far.
pub struct KeyLog {
    sorter: ExternalSorter<KeyEntry>,
    seed: u64,
    /// The key's bytes of the row being recorded (kept from row to row).
    key: Vec<u8>,
    run_entries: usize,
}

impl KeyLog {
    pub fn new(run_entries: usize) -> Self {
        KeyLog {
            sorter: ExternalSorter::new(run_entries),
            // std's random keys (drawn once per thread, advanced for every `RandomState`).
            seed: RandomState::new().hash_one(0u8),
            key: Vec::with_capacity(128),
            run_entries,
        }
    }

    /// Records the row's target key. The hashed bytes are the pk's length, the pk
    /// (`TYPE#tenant`) and the sk, written into a buffer kept from row to row: the length makes
    /// the pair readable back from the bytes, so different keys give different bytes.
    pub fn record<A>(&mut self, row: &MigrationRow<A>) -> std::io::Result<()> {
        let (entity_type, tenant) = (row.target_type(), row.target_tenant());
        let pk_len = entity_type.len() + 1 + tenant.len();
        self.key.clear();
        self.key.extend_from_slice(&(pk_len as u64).to_le_bytes());
        self.key.extend_from_slice(entity_type.as_bytes());
        self.key.push(crate::keys::KEY_SEPARATOR as u8);
        self.key.extend_from_slice(tenant.as_bytes());
        self.key.extend_from_slice(row.source_sk.as_bytes());
        let hash = xxh3_128_with_seed(&self.key, self.seed);
        self.sorter.push(KeyEntry {
            hash,
            line: row.line,
        })
    }

    /// Every later row of an entity, with the line of its first row, in line order. Blocking
    /// (it merges the runs on disk): call it off the async threads.
    pub fn duplicates(self) -> std::io::Result<Duplicates> {
        let mut later = ExternalSorter::new(self.run_entries);
        let mut first: Option<KeyEntry> = None;
        for entry in self.sorter.finish()? {
            let entry = entry?;
            match first {
                Some(f) if f.hash == entry.hash => later.push(Duplicate {
                    line: entry.line,
                    first: f.line,
                })?,
                _ => first = Some(entry),
            }
        }
        later.finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn row(line: u64, source_pk: &str, sk: &str, tenant: &str) -> MigrationRow<()> {
        MigrationRow {
            line,
            source_pk: source_pk.into(),
            source_sk: sk.into(),
            target_tenant_code: tenant.into(),
            ..Default::default()
        }
    }

    fn duplicates(rows: &[MigrationRow<()>], run_entries: usize) -> Vec<Duplicate> {
        let mut log = KeyLog::new(run_entries);
        for r in rows {
            log.record(r).expect("record");
        }
        log.duplicates()
            .expect("merge")
            .collect::<Result<_, _>>()
            .expect("read")
    }

    #[test]
    fn later_rows_of_an_entity_name_the_first_in_line_order() {
        let rows = [
            row(2, "PRODUCT#SRC", "A", "dst"),
            row(3, "PRODUCT#SRC", "B", "dst"),
            row(4, "PRODUCT#OTHER", "A", "dst"), // another source, the same target
            row(5, "PRODUCT#SRC", "A", ""),      // keeps the source tenant: another entity
            row(7, "ORDER#SRC", "A", "dst"),     // another type
            row(9, "PRODUCT#SRC", "B", "dst"),
            row(11, "PRODUCT#X", "A", "dst"),
        ];
        let expected = vec![
            Duplicate { line: 4, first: 2 },
            Duplicate { line: 9, first: 3 },
            Duplicate { line: 11, first: 2 },
        ];
        // In memory, and spilled in runs of two and of one entry.
        for run in [RUN_ENTRIES, 2, 1] {
            assert_eq!(duplicates(&rows, run), expected, "runs of {run}");
        }
    }

    #[test]
    fn a_file_without_duplicates_has_none() {
        let rows: Vec<_> = (0..1000)
            .map(|i| row(i + 2, "PRODUCT#SRC", &format!("P-{i:06}"), "dst"))
            .collect();
        assert!(duplicates(&rows, 64).is_empty());
    }

    proptest! {
        /// Against a plain set of keys, whatever the run size.
        #[test]
        fn the_same_as_a_set_of_keys(
            keys in proptest::collection::vec((0u8..4, 0u8..20), 0..200),
            run in 1usize..50,
        ) {
            let rows: Vec<_> = keys
                .iter()
                .enumerate()
                .map(|(i, (t, k))| row(i as u64 + 2, &format!("T{t}#SRC"), &format!("K{k}"), "dst"))
                .collect();
            let mut firsts = std::collections::HashMap::new();
            let mut expected = Vec::new();
            for r in &rows {
                let first = *firsts.entry(r.target_key()).or_insert(r.line);
                if first != r.line {
                    expected.push(Duplicate { line: r.line, first });
                }
            }
            prop_assert_eq!(duplicates(&rows, run), expected);
        }
    }
}
