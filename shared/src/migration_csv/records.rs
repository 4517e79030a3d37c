//! Splits a migration CSV into records, and checks each record's quoting strictly (RFC 4180).
//!
//! Why our own splitter rather than the csv crate's reader: the csv crate is lenient
//! (`a,"b"c,d` or a quote inside an unquoted field are silently reinterpreted) and does not hand
//! out a record's raw text, which a rejection must quote exactly as the file has it. Reading it
//! through the csv crate meant copying every byte a second time (to keep the raw text), a
//! byte-at-a-time parse, and a second pass for the strict check: together the longest of
//! Transform's three stages. Here one pass over the bytes, jumping from quote to quote and
//! from delimiter to delimiter with `memchr`, finds where the record ends, where each field is,
//! and the first quoting error; the record's bytes are borrowed from the read buffer.
//!
//! Where a record ends is decided exactly as the csv crate decides it (a property test compares
//! the two on random text), so a file splits into the same records and lines as before:
//! * a record ends at `\n`, `\r` or `\r\n` outside a quoted field; empty lines are skipped;
//! * a quoted field runs to its closing quote (`""` is a quote inside it), and a record whose
//!   quoted field is never closed runs to the end of the file;
//! * text after a closing quote continues the field, a quote inside an unquoted field is kept
//!   (both are quoting errors here: the record is rejected, naming the field).

use std::io::Read;
use std::ops::Range;

use memchr::{memchr, memchr3};

use crate::value::plain_json::equal_bytes;

/// Bytes read from the input at a time (each read of a local object is a trip to tokio's
/// blocking pool, so reads are large); the buffer grows only for a record longer than it.
pub(super) const READ_BUFFER: usize = 128 * 1024;

/// Fields whose ranges are kept for the header (more columns than that is no migration CSV).
const MAX_HEADER_FIELDS: usize = 1024;

/// A field of a record: where its text is (inside the quotes of a quoted field), and which of
/// the record's doubled quotes are in it (found while splitting, so unescaping needs no search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub range: Range<usize>,
    /// Indices into [`Record::doubled`].
    pub doubled: Range<usize>,
}

impl Field {
    /// Whether the field holds a doubled quote to unescape.
    pub fn escaped(&self) -> bool {
        !self.doubled.is_empty()
    }
}

/// A quoting error: the 1-based field and the reason.
pub(super) type QuotingError = (usize, &'static str);

/// One record, borrowed from the splitter's buffer.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// The line of the file where the record starts (1 is the header).
    pub line: u64,
    /// The record as the file has it, without its line terminator.
    pub bytes: &'a [u8],
    /// Its fields, as ranges of `bytes`, at most [`Splitter::limit_fields`] of them. After a
    /// quoting error they are only approximate: such a record is rejected, never read.
    pub fields: &'a [Field],
    /// How many fields the record has (more than `fields` holds past the limit).
    pub field_count: usize,
    /// The offset in `bytes` of the second quote of each doubled quote, in order.
    pub doubled: &'a [usize],
    pub quoting: Result<(), QuotingError>,
}

impl Record<'_> {
    /// Field `i` (unescaped), borrowed when it holds no doubled quote.
    pub fn field(&self, i: usize) -> Option<std::borrow::Cow<'_, [u8]>> {
        let f = self.fields.get(i)?;
        let raw = self.bytes.get(f.range.clone())?;
        if !f.escaped() {
            return Some(std::borrow::Cow::Borrowed(raw));
        }
        let mut out = Vec::with_capacity(raw.len());
        self.unescaped_parts(f, |part| {
            out.extend_from_slice(self.bytes.get(part)?);
            Some(())
        })?;
        Some(std::borrow::Cow::Owned(out))
    }

    /// Field `f` unescaped, as text, given the record's bytes as text (`text`, valid UTF-8):
    /// its pieces between doubled quotes copied into one string (each cut is next to an ASCII
    /// quote, so on a character boundary). `None` if `f` is not this record's.
    pub fn unescaped_str(&self, f: &Field, text: &str) -> Option<String> {
        let mut out = String::with_capacity(f.range.len());
        self.unescaped_parts(f, |part| text.get(part).map(|piece| out.push_str(piece)))?;
        Some(out)
    }

    /// Hands `part` the ranges of `bytes` that make field `f` unescaped, in order: its text
    /// without the second quote of each doubled quote (each cut is next to an ASCII quote, so on
    /// a UTF-8 boundary). Stops at the first `None`.
    pub fn unescaped_parts(
        &self,
        f: &Field,
        mut part: impl FnMut(Range<usize>) -> Option<()>,
    ) -> Option<()> {
        let mut from = f.range.start;
        for &drop in self.doubled.get(f.doubled.clone())? {
            part(from..drop)?;
            from = drop + 1;
        }
        part(from..f.range.end)
    }
}

/// What [`scan`] found at the start of the unread bytes.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// More input is needed to know where the record ends.
    Incomplete,
    /// Only line terminators are left, and the input has ended.
    End,
    /// Only line terminators are left, and more input may follow: they are consumed (empty
    /// lines), so a long run of them does not grow the buffer.
    Blank,
    /// A record: `skip` empty-line bytes before it, `len` bytes of record, `consumed` bytes in
    /// all (skipped lines, record and its terminator).
    Record {
        skip: usize,
        len: usize,
        consumed: usize,
        quoting: Result<(), QuotingError>,
    },
}

const NOT_CLOSED: &str = "quoted field is not closed (missing closing quote)";
const AFTER_CLOSING: &str =
    "text after a closing quote (a quote inside a quoted field must be doubled)";
const QUOTE_INSIDE: &str = "quote inside an unquoted field (quote the field and double the quote)";

/// The next quote in `r` from `from`. Inside a quoted field quotes are a few bytes apart (every
/// JSON key and string is quoted, and doubled), so the first 16 bytes are looked at eight at a
/// time ([`equal_bytes`]; a loop byte by byte was an eighth of Transform's parser), and
/// `memchr`, whose setup costs more than that, takes over for longer text.
#[inline]
fn next_quote(r: &[u8], from: usize) -> Option<usize> {
    let rest = r.get(from..)?;
    let mut i = 0;
    while i < 16 {
        let Some(word) = rest.get(i..i + 8) else {
            // Fewer than eight bytes left: one by one.
            return rest
                .get(i..)?
                .iter()
                .position(|b| *b == b'"')
                .map(|at| from + i + at);
        };
        let mask = equal_bytes(u64::from_le_bytes(<[u8; 8]>::try_from(word).ok()?), b'"');
        if mask != 0 {
            return Some(from + i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr(b'"', rest.get(i..)?).map(|at| from + i + at)
}

/// Where a record's fields and doubled quotes are, kept from record to record.
#[derive(Debug)]
struct Parts {
    fields: Vec<Field>,
    doubled: Vec<usize>,
    /// Fields of the record, also those past `max_fields` (whose ranges are not kept: a record
    /// of a million commas must not take a million ranges of memory).
    count: usize,
    max_fields: usize,
}

/// Doubled-quote positions kept in memory between records at most (after a record with more,
/// the vector is given back).
const KEPT_DOUBLED: usize = 1 << 16;

impl Parts {
    fn clear(&mut self) {
        self.fields.clear();
        self.count = 0;
        if self.doubled.capacity() > KEPT_DOUBLED {
            self.doubled = Vec::new();
        }
        self.doubled.clear();
    }

    fn push(&mut self, field: Field) {
        self.count += 1;
        if self.fields.len() < self.max_fields {
            self.fields.push(field);
        }
    }

    fn bytes(&self) -> usize {
        self.fields.capacity() * std::mem::size_of::<Field>()
            + self.doubled.capacity() * std::mem::size_of::<usize>()
    }
}

/// Finds the next record in `s` (`eof`: no input follows `s`), its fields into `parts`.
fn scan(s: &[u8], eof: bool, parts: &mut Parts) -> Scan {
    parts.clear();
    let Some(skip) = s.iter().position(|b| !matches!(b, b'\r' | b'\n')) else {
        return if eof { Scan::End } else { Scan::Blank };
    };
    let r = &s[skip..];
    let n = r.len();
    let record = |len: usize, consumed: usize, error: Option<QuotingError>| Scan::Record {
        skip,
        len,
        consumed: skip + consumed,
        quoting: error.map_or(Ok(()), Err),
    };
    let mut error: Option<QuotingError> = None;
    let mut field_no = 1;
    let mut i = 0;
    loop {
        // At the start of field `field_no`; `after` becomes the byte that ends it.
        let mut after;
        if r.get(i) == Some(&b'"') {
            let mut j = i + 1;
            let first_doubled = parts.doubled.len();
            let close = loop {
                let Some(q) = next_quote(r, j) else {
                    break None;
                };
                match r.get(q + 1) {
                    Some(b'"') => {
                        parts.doubled.push(q + 1);
                        j = q + 2;
                    }
                    Some(_) => break Some(q),
                    // The quote is the last byte read: is it doubled?
                    None if !eof => return Scan::Incomplete,
                    None => break Some(q),
                }
            };
            let Some(q) = close else {
                if !eof {
                    return Scan::Incomplete;
                }
                error.get_or_insert((field_no, NOT_CLOSED));
                parts.push(Field {
                    range: i + 1..n,
                    doubled: first_doubled..parts.doubled.len(),
                });
                return record(n, n, error);
            };
            parts.push(Field {
                range: i + 1..q,
                doubled: first_doubled..parts.doubled.len(),
            });
            after = q + 1;
            if r.get(after)
                .is_some_and(|b| !matches!(b, b',' | b'\r' | b'\n'))
            {
                // The csv crate reads on to the field's end as unquoted text.
                error.get_or_insert((field_no, AFTER_CLOSING));
                after = match memchr3(b',', b'\r', b'\n', &r[after..]) {
                    Some(at) => after + at,
                    None if !eof => return Scan::Incomplete,
                    None => n,
                };
            }
        } else {
            let rest = r.get(i..).unwrap_or_default();
            after = match memchr3(b',', b'\r', b'\n', rest) {
                Some(at) => i + at,
                None if !eof => return Scan::Incomplete,
                None => n,
            };
            if error.is_none() && memchr(b'"', &r[i..after]).is_some() {
                error = Some((field_no, QUOTE_INSIDE));
            }
            parts.push(Field {
                range: i..after,
                doubled: 0..0,
            });
        }
        match r.get(after) {
            None if !eof => return Scan::Incomplete,
            None => return record(n, n, error),
            Some(b',') => {
                i = after + 1;
                field_no += 1;
            }
            Some(b'\r') => match r.get(after + 1) {
                Some(b'\n') => return record(after, after + 2, error),
                Some(_) => return record(after, after + 1, error),
                // A '\n' may follow: it belongs to this terminator.
                None if !eof => return Scan::Incomplete,
                None => return record(after, after + 1, error),
            },
            Some(_) => return record(after, after + 1, error),
        }
    }
}

/// Records of a CSV stream, one at a time; holds one read buffer (more only for a record longer
/// than it).
pub(super) struct Splitter<R> {
    input: R,
    buf: Vec<u8>,
    /// The first byte not yet consumed, and the end of what was read.
    start: usize,
    end: usize,
    eof: bool,
    /// Line feeds before `buf[start]`.
    newlines: u64,
    parts: Parts,
}

impl<R: Read> Splitter<R> {
    /// A splitter that drops a leading UTF-8 byte order mark.
    pub fn new(input: R) -> std::io::Result<Self> {
        let mut s = Splitter {
            input,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            newlines: 0,
            parts: Parts {
                fields: Vec::new(),
                doubled: Vec::new(),
                count: 0,
                max_fields: MAX_HEADER_FIELDS,
            },
        };
        // One fill reads until the buffer is full or the input ends: the first 3 bytes are in.
        s.fill()?;
        if s.buf[..s.end].starts_with(b"\xEF\xBB\xBF") {
            s.start = 3;
        }
        Ok(s)
    }

    /// Keeps the ranges of at most `max` fields per record from now on (the reader sets the
    /// header's count and one more: a record with more is rejected by its count alone).
    pub fn limit_fields(&mut self, max: usize) {
        self.parts.max_fields = max;
    }

    /// Bytes held: the read buffer and where the last record's fields and doubled quotes are.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.capacity() + self.parts.bytes()
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Option<std::io::Result<Record<'_>>> {
        loop {
            let unread = &self.buf[self.start..self.end];
            match scan(unread, self.eof, &mut self.parts) {
                scan @ (Scan::Blank | Scan::Incomplete) => {
                    if scan == Scan::Blank {
                        self.newlines += count_newlines(unread);
                        self.start = self.end;
                    }
                    if let Err(e) = self.fill() {
                        return Some(Err(e));
                    }
                }
                Scan::End => {
                    self.start = self.end;
                    return None;
                }
                Scan::Record {
                    skip,
                    len,
                    consumed,
                    quoting,
                } => {
                    let line = self.newlines + count_newlines(&unread[..skip]) + 1;
                    self.newlines += count_newlines(&unread[..consumed]);
                    let from = self.start + skip;
                    self.start += consumed;
                    return Some(Ok(Record {
                        line,
                        bytes: &self.buf[from..from + len],
                        fields: &self.parts.fields,
                        field_count: self.parts.count,
                        doubled: &self.parts.doubled,
                        quoting,
                    }));
                }
            }
        }
    }

    /// Reads more input behind the unread bytes (moved to the front, or into a buffer twice as
    /// large when they fill it), until the buffer is full or the input ends. A record is
    /// scanned again from its start after each fill, so filling the whole buffer (not one read)
    /// keeps a record of many megabytes (large attributes) from being scanned once per read.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() > READ_BUFFER && self.end <= READ_BUFFER / 2 {
            // The record that grew the buffer is behind us: give the memory back.
            self.buf.truncate(READ_BUFFER);
            self.buf.shrink_to_fit();
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        while self.end < self.buf.len() {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each record's line, raw text, fields (unescaped) and quoting verdict.
    type Split = Vec<(u64, Vec<u8>, Vec<Vec<u8>>, Result<(), QuotingError>)>;

    fn split_with<R: Read>(input: R) -> Split {
        let mut s = Splitter::new(input).unwrap();
        let mut out = Vec::new();
        while let Some(r) = s.next_record() {
            let r = r.unwrap();
            let fields = (0..r.fields.len())
                .map(|i| r.field(i).unwrap().into_owned())
                .collect();
            out.push((r.line, r.bytes.to_vec(), fields, r.quoting));
        }
        out
    }

    fn split(text: &[u8]) -> Split {
        split_with(text)
    }

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn quoting(text: &[u8]) -> Result<(), QuotingError> {
        let records = split(text);
        assert_eq!(records.len(), 1, "{}", String::from_utf8_lossy(text));
        records[0].3
    }

    #[test]
    fn accepts_rfc4180() {
        for ok in [
            &b"a,b,c\n"[..],
            b"\"a,b\",\"c\"\"d\",\r\n",
            b"\"multi\nline\",x",
            b",,",
            b"\"\"",
        ] {
            assert_eq!(quoting(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn rejects_broken_quoting_naming_the_field() {
        assert_eq!(quoting(b"a,\"b\"c,d\n"), Err((2, AFTER_CLOSING)));
        assert_eq!(quoting(b"a,b\"c\n"), Err((2, QUOTE_INSIDE)));
        assert_eq!(quoting(b"a,\"open\n"), Err((2, NOT_CLOSED)));
        // The first error is the one reported.
        assert_eq!(quoting(b"x\"y,\"b\"c\n"), Err((1, QUOTE_INSIDE)));
    }

    #[test]
    fn records_lines_and_fields() {
        let text = b"\xEF\xBB\xBFh1,h2\r\n\r\n\"a\nb\",\"c\"\"d\"\n\nx,\n\ry\r";
        let got = split(text);
        let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 3, 6, 7]);
        assert_eq!(got[0].1, b"h1,h2");
        assert_eq!(got[1].1, b"\"a\nb\",\"c\"\"d\"");
        assert_eq!(got[1].2, [b"a\nb".to_vec(), b"c\"d".to_vec()]);
        assert_eq!(got[2].2, [b"x".to_vec(), b"".to_vec()]);
        assert_eq!(got[3].2, [b"y".to_vec()]);
        assert!(split(b"").is_empty());
        assert!(split(b"\r\n\n").is_empty());
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end_of_the_file() {
        let got = split(b"a,\"b\nc,d\ne\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, b"a,\"b\nc,d\ne\n");
        assert_eq!(got[0].3, Err((2, NOT_CLOSED)));
    }

    #[test]
    fn a_record_longer_than_the_buffer_grows_it() {
        let long = "x".repeat(READ_BUFFER * 2 + 17);
        let text = format!("a,\"{long}\"\nb,c\n");
        let got = split(text.as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].2[1], long.as_bytes());
        assert_eq!(got[1].0, 2);
        // Read in small pieces, the same (and the buffer grew to hold the record only).
        let mut s = Splitter::new(Trickle {
            data: text.as_bytes(),
            step: 1000,
        })
        .unwrap();
        assert_eq!(s.next_record().unwrap().unwrap().fields.len(), 2);
        assert!(s.buffered_bytes() <= READ_BUFFER * 4 + 4096);
        assert_eq!(s.next_record().unwrap().unwrap().bytes, b"b,c");
    }

    #[test]
    fn a_run_of_empty_lines_does_not_grow_the_buffer() {
        let text = format!("h\n{}r\n", "\n".repeat(READ_BUFFER * 3));
        let mut s = Splitter::new(Trickle {
            data: text.as_bytes(),
            step: 4096,
        })
        .unwrap();
        assert_eq!(s.next_record().unwrap().unwrap().line, 1);
        let r = s.next_record().unwrap().unwrap();
        assert_eq!((r.line, r.bytes), (READ_BUFFER as u64 * 3 + 2, &b"r"[..]));
        assert!(
            s.buffered_bytes() < READ_BUFFER + 4096,
            "{}",
            s.buffered_bytes()
        );
    }

    #[test]
    fn fields_past_the_limit_are_counted_not_kept() {
        let text = format!("a,b\n{}\nc,d\n", ",".repeat(200_000));
        let mut s = Splitter::new(text.as_bytes()).unwrap();
        s.limit_fields(3);
        assert_eq!(s.next_record().unwrap().unwrap().field_count, 2);
        let wide = s.next_record().unwrap().unwrap();
        assert_eq!((wide.fields.len(), wide.field_count), (3, 200_001));
        assert!(
            s.buffered_bytes() < 2 * READ_BUFFER + 4096,
            "{}",
            s.buffered_bytes()
        );
        let next = s.next_record().unwrap().unwrap();
        assert_eq!((next.line, next.field_count), (3, 2));
    }

    #[test]
    fn the_buffer_shrinks_after_a_long_record() {
        let text = format!(
            "a,\"{}\"\n{}",
            "x".repeat(READ_BUFFER * 3),
            "b,c\n".repeat(100_000)
        );
        let mut s = Splitter::new(Trickle {
            data: text.as_bytes(),
            step: 8192,
        })
        .unwrap();
        assert_eq!(
            s.next_record().unwrap().unwrap().bytes.len(),
            READ_BUFFER * 3 + 4
        );
        let mut rows = 0;
        while let Some(r) = s.next_record() {
            assert_eq!(r.unwrap().bytes, b"b,c");
            rows += 1;
        }
        assert_eq!(rows, 100_000);
        assert!(
            s.buffered_bytes() < READ_BUFFER + 4096,
            "{}",
            s.buffered_bytes()
        );
    }

    /// The csv crate's records of `text`: (fields, whether its raw text passed our check is
    /// not known there), in order.
    fn csv_crate_records(text: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).unwrap() {
            out.push(record.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Records end where the csv crate ends them, and a record that passes the strict check
        /// has the csv crate's fields.
        #[test]
        fn splits_as_the_csv_crate_does(text in "[ab,\"\r\n\u{e9}]{0,40}") {
            let ours = split(text.as_bytes());
            let theirs = csv_crate_records(text.as_bytes());
            prop_assert_eq!(ours.len(), theirs.len(), "{:?}", text);
            for (o, t) in ours.iter().zip(&theirs) {
                if o.3.is_ok() {
                    prop_assert_eq!(&o.2, t, "{:?}", text);
                }
            }
        }

        /// The next quote is the first one at or after `from`, near or far (the words of
        /// eight, the tail byte by byte, `memchr` past 16 bytes), or none.
        #[test]
        fn next_quote_finds_the_first_quote_from_anywhere(
            text in prop::collection::vec(prop_oneof![20 => any::<u8>(), 1 => Just(b'"')], 0..80),
            from in any::<prop::sample::Index>(),
        ) {
            let from = from.index(text.len() + 1);
            let expected = text[from..].iter().position(|b| *b == b'"').map(|at| from + at);
            prop_assert_eq!(next_quote(&text, from), expected);
        }

        /// A field unescaped as text (the reader's path for a UTF-8 record) is the field's
        /// unescaped bytes (the path of every other record), for fields of any quoting.
        #[test]
        fn unescaped_text_is_the_unescaped_bytes(text in "[ab,\"\r\n\u{e9}]{0,40}") {
            let mut s = Splitter::new(text.as_bytes()).unwrap();
            while let Some(r) = s.next_record() {
                let r = r.unwrap();
                let Ok(record_text) = std::str::from_utf8(r.bytes) else { continue };
                for (i, f) in r.fields.iter().enumerate() {
                    let bytes = r.field(i).unwrap().into_owned();
                    let expected = String::from_utf8(bytes).unwrap();
                    prop_assert_eq!(r.unescaped_str(f, record_text), Some(expected), "{:?}", text);
                }
            }
        }

        /// Reading the input in small pieces changes nothing.
        #[test]
        fn reads_of_any_size_split_alike(text in "[ab,\"\r\n]{0,60}", step in 1usize..7) {
            let whole = split(text.as_bytes());
            let trickled = split_with(Trickle { data: text.as_bytes(), step });
            prop_assert_eq!(whole, trickled);
        }

        /// A line counts every line feed before the record, whatever the terminators.
        #[test]
        fn lines_count_line_feeds(text in "[ab,\"\r\n]{0,60}") {
            let bytes = text.as_bytes();
            let mut at = 0;
            for (line, raw, _, _) in split(bytes) {
                // The record starts after the empty lines that follow the one before it.
                while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
                    at += 1;
                }
                prop_assert!(bytes[at..].starts_with(&raw), "{:?}", text);
                let before = bytes[..at].iter().filter(|b| **b == b'\n').count() as u64;
                prop_assert_eq!(line, before + 1, "{:?}", text);
                at += raw.len();
                // Its terminator.
                if bytes.get(at) == Some(&b'\r') { at += 1; }
                if bytes.get(at) == Some(&b'\n') { at += 1; }
            }
        }
    }
}
