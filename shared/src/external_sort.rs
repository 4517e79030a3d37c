//! Sorting more fixed-size records than memory should hold: runs sorted in memory, spilled to
//! one temp file, merged with a heap. Memory is one run plus a small read buffer per run.
//!
//! Why not the `extsort` crate: its 0.5.0 loses every spilled run when the input ends exactly at
//! a run boundary (`PushExternalSorter::done` then returns the empty in-memory buffer as the whole
//! result), and it pulls in rayon. Records here are fixed-size and `Copy`, which keeps this
//! small: positional reads of one file, no allocation per record.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;

/// A record of `SIZE` bytes.
pub trait Record: Ord + Copy {
    const SIZE: usize;
    /// Appends the record's `SIZE` bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// From `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

/// Records read from a run at a time while merging (a few KB per run).
const READ_BATCH: usize = 512;

pub struct ExternalSorter<T: Record> {
    run_len: usize,
    buffer: Vec<T>,
    spilled: Option<BufWriter<File>>,
    /// (first record, records) of each run in the file.
    runs: Vec<(u64, u64)>,
    /// Records in the file so far.
    written: u64,
    bytes: Vec<u8>,
}

impl<T: Record> ExternalSorter<T> {
    /// Runs of `run_len` records (at least 1).
    pub fn new(run_len: usize) -> Self {
        ExternalSorter {
            run_len: run_len.max(1),
            buffer: Vec::new(),
            spilled: None,
            runs: Vec::new(),
            written: 0,
            bytes: Vec::new(),
        }
    }

    pub fn push(&mut self, record: T) -> std::io::Result<()> {
        if self.buffer.len() == self.buffer.capacity() && self.buffer.len() * 2 > self.run_len {
            // Exactly one run's room instead of doubling past it.
            self.buffer.reserve_exact(self.run_len - self.buffer.len());
        }
        self.buffer.push(record);
        if self.buffer.len() >= self.run_len {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        self.buffer.sort_unstable();
        let out = match &mut self.spilled {
            Some(out) => out,
            None => self
                .spilled
                .insert(BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?)),
        };
        let count = self.buffer.len() as u64;
        for record in self.buffer.drain(..) {
            self.bytes.clear();
            record.encode(&mut self.bytes);
            out.write_all(&self.bytes)?;
        }
        self.runs.push((self.written, count));
        self.written += count;
        Ok(())
    }

    /// Every record pushed, in order.
    pub fn finish(mut self) -> std::io::Result<Sorted<T>> {
        if self.spilled.is_none() {
            self.buffer.sort_unstable();
            return Ok(Sorted::Memory(self.buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        self.buffer = Vec::new();
        let Some(out) = self.spilled.take() else {
            return Ok(Sorted::Memory(Vec::new().into_iter()));
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        let mut merge = Merge {
            file,
            runs: self
                .runs
                .iter()
                .map(|&(start, len)| Run {
                    next: start,
                    end: start + len,
                    batch: Vec::new(),
                    at: 0,
                })
                .collect(),
            heap: BinaryHeap::new(),
            bytes: Vec::new(),
        };
        for index in 0..merge.runs.len() {
            merge.take_next(index)?;
        }
        Ok(Sorted::Disk(merge))
    }
}

/// The records in order: from memory when they never filled a run, else merged from disk.
pub enum Sorted<T: Record> {
    Memory(std::vec::IntoIter<T>),
    Disk(Merge<T>),
}

impl<T: Record> Iterator for Sorted<T> {
    type Item = std::io::Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory(records) => records.next().map(Ok),
            Sorted::Disk(merge) => merge.next(),
        }
    }
}

pub struct Merge<T: Record> {
    file: File,
    runs: Vec<Run<T>>,
    /// The next record of each run that has one, with the run's index.
    heap: BinaryHeap<Reverse<(T, usize)>>,
    bytes: Vec<u8>,
}

struct Run<T> {
    /// The next record to read from the file, and the end of the run (in records).
    next: u64,
    end: u64,
    batch: Vec<T>,
    at: usize,
}

impl<T: Record> Merge<T> {
    /// Puts run `index`'s next record on the heap, reading a batch when its batch is used up.
    fn take_next(&mut self, index: usize) -> std::io::Result<()> {
        let run = &mut self.runs[index];
        if run.at == run.batch.len() {
            let count = (run.end - run.next).min(READ_BATCH as u64) as usize;
            if count == 0 {
                return Ok(());
            }
            self.bytes.resize(count * T::SIZE, 0);
            self.file
                .read_exact_at(&mut self.bytes, run.next * T::SIZE as u64)?;
            run.batch.clear();
            run.batch
                .extend(self.bytes.chunks_exact(T::SIZE).map(T::decode));
            run.next += count as u64;
            run.at = 0;
        }
        self.heap.push(Reverse((run.batch[run.at], index)));
        run.at += 1;
        Ok(())
    }

    fn next(&mut self) -> Option<std::io::Result<T>> {
        let Reverse((record, index)) = self.heap.pop()?;
        match self.take_next(index) {
            Ok(()) => Some(Ok(record)),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    impl Record for u32 {
        const SIZE: usize = 4;
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.to_le_bytes());
        }
        fn decode(bytes: &[u8]) -> Self {
            let mut b = [0u8; 4];
            b.copy_from_slice(bytes);
            u32::from_le_bytes(b)
        }
    }

    fn sorted(records: &[u32], run_len: usize) -> Vec<u32> {
        let mut sorter = ExternalSorter::new(run_len);
        for r in records {
            sorter.push(*r).expect("push");
        }
        sorter
            .finish()
            .expect("finish")
            .collect::<Result<_, _>>()
            .expect("read")
    }

    proptest! {
        /// Every record, in order, whether the input fits a run, ends at a run's boundary or
        /// spans many runs and read batches.
        #[test]
        fn the_records_in_order(
            records in proptest::collection::vec(0u32..5000, 0..3000),
            run_len in 1usize..1200,
        ) {
            let mut expected = records.clone();
            expected.sort_unstable();
            prop_assert_eq!(sorted(&records, run_len), expected);
        }
    }

    #[test]
    fn input_ending_at_a_run_boundary_keeps_every_run() {
        let records: Vec<u32> = (0..12).rev().collect();
        for run_len in [1, 2, 3, 4, 6, 12] {
            assert_eq!(
                sorted(&records, run_len),
                (0..12).collect::<Vec<_>>(),
                "runs of {run_len}"
            );
        }
        assert!(sorted(&[], 3).is_empty());
    }
}
