//! Plain JSON (the CSV's `attributes` column, a chunk row's attributes) read in one pass.
//!
//! [`parse`] builds the attribute value. [`Shape::of_attributes`] walks the same text without
//! building anything and answers what Transform asks of a row's attributes: whether they are a
//! valid object DynamoDB and the app can take (valid JSON, no duplicate key, at most 32 levels,
//! every number a DynamoDB number, every number one JavaScript reads exactly), and their sizes
//! (DynamoDB's count and the length of their compact JSON). A row whose attributes no job rule
//! needs to change is checked and written to its chunk without ever being turned into values.
//!
//! [`parse`] walks the text with [`jiter`], which hands over each number's exact text and decodes
//! strings without a copy per member; numbers stay decimal text (exact to 38 digits). The shape
//! reader is a scanner of its own (`Scan`): it never decodes a string without escapes, and its
//! answers are held equal to a jiter walk's by property tests.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use jiter::{Jiter, JiterError, Peek};

use super::{AttributeValue, MAX_DEPTH, ValueError, normalize_number};

fn json_err(e: JiterError) -> ValueError {
    ValueError::Json(e.to_string())
}

/// Parses plain JSON text into an attribute value, keeping every number's digits (normalized as
/// DynamoDB stores them). Refuses duplicate keys and nesting deeper than DynamoDB's 32 levels.
pub fn parse(text: &str) -> Result<AttributeValue, ValueError> {
    let mut jiter = Jiter::new(text.as_bytes());
    let peek = jiter.peek().map_err(json_err)?;
    let value = value(&mut jiter, peek, 1)?;
    jiter.finish().map_err(json_err)?;
    Ok(value)
}

/// `depth`: the nesting level of this value (DynamoDB allows [`MAX_DEPTH`]).
fn value(jiter: &mut Jiter<'_>, peek: Peek, depth: usize) -> Result<AttributeValue, ValueError> {
    match peek {
        Peek::Null => {
            jiter.known_null().map_err(json_err)?;
            Ok(AttributeValue::Null(true))
        }
        Peek::True | Peek::False => Ok(AttributeValue::Bool(
            jiter.known_bool(peek).map_err(json_err)?,
        )),
        Peek::String => Ok(AttributeValue::S(super::Text::from(
            jiter.known_str().map_err(json_err)?,
        ))),
        Peek::Array => {
            if depth > MAX_DEPTH {
                return Err(ValueError::TooDeep);
            }
            let mut list = Vec::new();
            let mut next = jiter.known_array().map_err(json_err)?;
            while let Some(peek) = next {
                list.push(value(jiter, peek, depth + 1)?);
                next = jiter.array_step().map_err(json_err)?;
            }
            Ok(AttributeValue::L(list))
        }
        Peek::Object => {
            if depth > MAX_DEPTH {
                return Err(ValueError::TooDeep);
            }
            let mut map = BTreeMap::new();
            let mut key = jiter
                .known_object()
                .map_err(json_err)?
                .map(super::Text::from);
            while let Some(name) = key {
                let peek = jiter.peek().map_err(json_err)?;
                let member = value(jiter, peek, depth + 1)?;
                match map.entry(name) {
                    Entry::Vacant(slot) => {
                        slot.insert(member);
                    }
                    Entry::Occupied(taken) => {
                        return Err(ValueError::DuplicateKey(taken.key().to_string()));
                    }
                }
                key = jiter.next_key().map_err(json_err)?.map(super::Text::from);
            }
            Ok(AttributeValue::M(map))
        }
        _ => {
            let bytes = jiter.known_number_bytes(peek).map_err(json_err)?;
            // jiter only hands over JSON number text, which is ASCII.
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ValueError::Json("a number is not ASCII".into()))?;
            Ok(AttributeValue::N(normalize_number(text)?))
        }
    }
}

/// What Transform needs to know of a row's attributes, read without building them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// DynamoDB's size of the entries of the attributes map: Σ 1 + name + value
    /// ([`crate::limits`]'s count of a map's members).
    pub entries_size: usize,
    /// How deeply the attributes map nests ([`crate::limits::depth`] of it: `{}` is 1).
    pub depth: usize,
    /// The length of its compact JSON as the pipeline writes it
    /// ([`super::attributes_to_json_string`]).
    pub json_len: usize,
    /// Entries at the top level.
    pub entries: usize,
    /// A top-level name starts with `_`: the pipeline's own metadata and `_schemaVersion` live
    /// there, so such a row goes through the rules on built values.
    pub underscore_names: bool,
    /// Some number is one JavaScript does not read exactly ([`crate::js_numbers::is_js_safe`]).
    pub unsafe_numbers: bool,
}

/// Reads shapes, keeping its buffers (the names of the objects being read, the last decoded
/// string) from row to row.
#[derive(Default)]
pub struct ShapeReader {
    names: Names,
    /// The value of the last string read that had escapes.
    decoded: String,
}

/// The names of the objects being read, to find a duplicate: `used` strings of `names` hold
/// them; the rest keep their buffers for the next names. (A summary of each name compared
/// first, length and first and last bytes, cost more than the comparisons it spared.)
#[derive(Default)]
struct Names {
    names: Vec<String>,
    used: usize,
}

impl Names {
    /// Whether `name` is among the names pushed since `mark`.
    fn has_since(&self, mark: usize, name: &str) -> bool {
        self.names[mark..self.used].iter().any(|n| n == name)
    }

    fn push(&mut self, name: &str) {
        match self.names.get_mut(self.used) {
            Some(buffer) => {
                buffer.clear();
                buffer.push_str(name);
            }
            None => self.names.push(name.to_string()),
        }
        self.used += 1;
    }
}

impl ShapeReader {
    /// See [`Shape::of_attributes`].
    pub fn shape(&mut self, text: &str) -> Option<Shape> {
        self.names.used = 0;
        let mut scan = Scan {
            text,
            b: text.as_bytes(),
            i: 0,
            shape: Shape::default(),
            names: &mut self.names,
            decoded: &mut self.decoded,
        };
        scan.skip_whitespace();
        if scan.peek() != Some(b'{') {
            return None;
        }
        let (size, depth, json_len) = scan.object(1, true)?;
        scan.skip_whitespace();
        if scan.i != scan.b.len() {
            return None;
        }
        let mut shape = scan.shape;
        // The map's own 3 bytes are the item's, not its entries'.
        shape.entries_size = size - 3;
        shape.depth = depth;
        shape.json_len = json_len;
        Some(shape)
    }
}

impl Shape {
    /// The shape of an attributes object, or `None` when the text is not one the pipeline
    /// takes as it is (not JSON, not an object, a duplicate name, too deep, a number DynamoDB
    /// refuses): [`parse`] names the reason.
    pub fn of_attributes(text: &str) -> Option<Shape> {
        ShapeReader::default().shape(text)
    }

    /// A number of JSON's grammar (`text`), kept as DynamoDB keeps it: its size, depth (0) and
    /// JSON length are those of its normalized text, and whether JavaScript reads it as the
    /// same value is noted; `None` when DynamoDB refuses it.
    fn number(&mut self, text: &str) -> Option<(usize, usize, usize)> {
        let owned;
        let normalized = if crate::value::is_normalized_number(text) {
            text
        } else {
            owned = normalize_number(text).ok()?;
            owned.as_str()
        };
        self.unsafe_numbers |= !crate::js_numbers::is_js_safe(normalized);
        Some((crate::limits::number_size(normalized), 0, normalized.len()))
    }
}

/// The most digits jiter reads in a number's integer part (jiter 0.19's `NumberRange`).
const JITER_MAX_INTEGER_DIGITS: usize = 4300;

/// Where the last string read is: in the text (it has no escape: its bytes are its value) or
/// decoded into the reader's buffer.
#[derive(Clone, Copy)]
enum Text {
    Raw { start: usize, end: usize },
    Decoded,
}

/// One pass over an attributes object's text: RFC 8259's grammar, checked byte by byte, and the
/// sizes of what it holds. It was a walk with jiter (the [`parse`] below still is one), which
/// decoded every string and key through its string decoder: with the numbers' checks, 8.2 k of
/// Transform's 24.9 k instructions per row of the reference file. Here a string's end is found
/// eight bytes at a time, and with `memchr2` past its first 16 bytes ([`first_special`]); a
/// string without an escape (nearly every one) is never copied, its length is its size. What
/// the values path will refuse, this refuses too: jiter's limits included
/// ([`JITER_MAX_INTEGER_DIGITS`]). Property tests hold this reader's answer equal to the jiter
/// walk's for valid objects, for broken copies of them and for hand-picked edges.
struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    shape: Shape,
    names: &'a mut Names,
    decoded: &'a mut String,
}

impl Scan<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// An object whose `{` is next: its DynamoDB size, depth and JSON length.
    fn object(&mut self, depth: usize, top: bool) -> Option<(usize, usize, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        if self.open(b'}')? {
            return Some((3, 1, 2));
        }
        // Names of this object are kept from `mark` on, to find a duplicate.
        let mark = self.names.used;
        let (mut size, mut inner_depth, mut json_len) = (3, 0, 2);
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let (name, escaped) = match self.string()? {
                Text::Raw { start, end } => {
                    let name = self.text.get(start..end)?;
                    (name, 2 + name.len())
                }
                Text::Decoded => (self.decoded.as_str(), escaped_len(self.decoded)),
            };
            if self.names.has_since(mark, name) {
                return None;
            }
            if top {
                self.shape.entries += 1;
                self.shape.underscore_names |= name.starts_with('_');
            }
            json_len += usize::from(self.names.used > mark) + escaped + 1;
            size += 1 + name.len();
            self.names.push(name);
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.skip_whitespace();
            let (member_size, member_depth, member_json) = self.value(depth + 1)?;
            size += member_size;
            inner_depth = inner_depth.max(member_depth);
            json_len += member_json;
            if !self.next_member(b'}')? {
                break;
            }
        }
        self.names.used = mark;
        Some((size, 1 + inner_depth, json_len))
    }

    /// A value (whitespace before it skipped): its DynamoDB size, depth
    /// ([`crate::limits::depth`]) and JSON length.
    fn value(&mut self, depth: usize) -> Option<(usize, usize, usize)> {
        match self.peek()? {
            b'n' => self.literal(b"null", (1, 0, 4)),
            b't' => self.literal(b"true", (1, 0, 4)),
            b'f' => self.literal(b"false", (1, 0, 5)),
            b'"' => match self.string()? {
                Text::Raw { start, end } => Some((end - start, 0, 2 + end - start)),
                Text::Decoded => Some((self.decoded.len(), 0, escaped_len(self.decoded))),
            },
            b'[' => self.array(depth),
            b'{' => self.object(depth, false),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// An array whose `[` is next: its DynamoDB size, depth and JSON length.
    fn array(&mut self, depth: usize) -> Option<(usize, usize, usize)> {
        if depth > MAX_DEPTH {
            return None;
        }
        if self.open(b']')? {
            return Some((3, 1, 2));
        }
        let (mut size, mut inner_depth, mut json_len, mut count) = (3, 0, 2, 0usize);
        loop {
            let (s, d, j) = self.value(depth + 1)?;
            size += 1 + s;
            inner_depth = inner_depth.max(d);
            json_len += usize::from(count > 0) + j;
            count += 1;
            if !self.next_member(b']')? {
                break;
            }
        }
        Some((size, 1 + inner_depth, json_len))
    }

    /// Steps past an object's or array's opening bracket and the whitespace after it: whether
    /// `close` follows at once (an empty one, then also stepped past).
    fn open(&mut self, close: u8) -> Option<bool> {
        self.i += 1;
        self.skip_whitespace();
        let empty = self.peek()? == close;
        self.i += usize::from(empty);
        Some(empty)
    }

    /// After a member or element: whether another follows (`,` and the whitespace after it
    /// stepped past) or `close` ends it (stepped past); `None` for anything else.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.skip_whitespace();
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    fn literal(
        &mut self,
        word: &[u8],
        shape: (usize, usize, usize),
    ) -> Option<(usize, usize, usize)> {
        if !self.b.get(self.i..)?.starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(shape)
    }

    /// A number (JSON's grammar), kept as DynamoDB keeps it: its size and JSON length are those
    /// of its normalized text.
    fn number(&mut self) -> Option<(usize, usize, usize)> {
        let b = self.b;
        let digits_from = |mut i: usize| {
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            i
        };
        let start = self.i;
        let mut i = start + usize::from(b.get(start) == Some(&b'-'));
        i = match b.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => {
                let end = digits_from(i + 1);
                // jiter, which reads the chunk row's attributes back into values, refuses an
                // integer part of more digits (even where an exponent brings the value back
                // into DynamoDB's range): such a row must take the values path and be refused.
                if end - i > JITER_MAX_INTEGER_DIGITS {
                    return None;
                }
                end
            }
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let end = digits_from(i);
            if end == i {
                return None;
            }
            i = end;
        }
        self.i = i;
        self.shape.number(self.text.get(start..i)?)
    }

    /// A string whose `"` is next. A control character must be escaped in JSON; a lone
    /// surrogate in a `\u` escape is no text.
    fn string(&mut self) -> Option<Text> {
        let start = self.i + 1;
        let rest = self.b.get(start..)?;
        let at = first_special(rest)?;
        match rest[at] {
            b'"' => {
                self.i = start + at + 1;
                return Some(Text::Raw {
                    start,
                    end: start + at,
                });
            }
            b'\\' => {}
            _ => return None,
        }
        self.decoded.clear();
        let mut i = start;
        loop {
            let rest = self.b.get(i..)?;
            let at = first_special(rest)?;
            self.decoded.push_str(self.text.get(i..i + at)?);
            i += at;
            match self.b[i] {
                b'"' => {
                    self.i = i + 1;
                    return Some(Text::Decoded);
                }
                b'\\' => {}
                _ => return None,
            }
            let escape = *self.b.get(i + 1)?;
            i += 2;
            let c = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = hex4(self.b.get(i..i + 4)?)?;
                    i += 4;
                    match unit {
                        0xD800..=0xDBFF => {
                            if self.b.get(i..i + 2)? != b"\\u" {
                                return None;
                            }
                            let low = hex4(self.b.get(i + 2..i + 6)?)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return None;
                            }
                            i += 6;
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => char::from_u32(unit)?,
                    }
                }
                _ => return None,
            };
            self.decoded.push(c);
        }
    }
}

/// Where a string's text stops being plain: its first `"`, `\\` or control character (which
/// JSON allows only escaped). Keys and most values are short: the first 16 bytes are looked at
/// eight at a time ([`special_bytes`]); `memchr2` takes over for longer text, and a branch-free
/// count (which the compiler vectorizes) says whether a control character came before what it
/// found.
#[inline]
pub(crate) fn first_special(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < 16 {
        let Some(word) = bytes.get(i..i + 8) else {
            // Fewer than eight bytes left: one by one.
            return bytes[i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .map(|k| i + k);
        };
        let mask = special_bytes(u64::from_le_bytes(<[u8; 8]>::try_from(word).ok()?));
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    let found = memchr::memchr2(b'"', b'\\', rest);
    // A control character before the quote or backslash found, or anywhere after the first 16
    // bytes when there is none (the text then has no end of string, but the answer is still
    // the first special byte).
    let before = rest.get(..found.unwrap_or(rest.len()))?;
    if before.iter().filter(|&&c| c < 0x20).count() == 0 {
        return found.map(|at| i + at);
    }
    before.iter().position(|&c| c < 0x20).map(|k| i + k)
}

/// The words of eight bytes (little-endian) that the scans here and in the CSV splitter test at
/// once: `0x01` and `0x80` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes (little-endian) at once: the high bit of each byte equal to `byte` is set in the
/// answer, exactly for the lowest one (`(x − 0x01…) & !x & 0x80…` marks the zero bytes of `x`,
/// the word xor `byte` in every byte; a byte above a marked one may be marked through a borrow,
/// never one below).
#[inline]
pub(crate) fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Eight bytes (little-endian) at once: the high bit of each byte that is `"`, `\\` or below
/// 0x20 is set in the answer, exactly for the lowest such byte (a byte above one may be marked
/// wrongly through a borrow, never one below): [`equal_bytes`] for `"` and `\\`, and
/// `(x − 0x20…) & !x & 0x80…` for bytes below 0x20.
#[inline]
fn special_bytes(word: u64) -> u64 {
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    equal_bytes(word, b'"') | equal_bytes(word, b'\\') | control
}

/// Whether `bytes` hold a byte JSON must escape (`"`, `\\`, below 0x20), looked at eight at a
/// time: the row's fields are short (keys, codes, names), where a loop byte by byte that stops
/// at the first one cost ≈170 instructions a field and the vectorized count's setup as much.
/// [`special_bytes`] marks a byte wrongly only above a special one, so its mask is not zero
/// exactly when one is there.
fn has_special(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut mask = 0;
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            return true; // cannot happen (words of eight); escaping is always correct
        };
        mask |= special_bytes(u64::from_le_bytes(word));
    }
    // The last bytes: the last eight again (overlapping the words before: a byte looked at
    // twice changes no answer), or one by one in a text shorter than eight.
    if !words.remainder().is_empty() {
        match bytes.len().checked_sub(8).and_then(|at| bytes.get(at..)) {
            Some(word) => match <[u8; 8]>::try_from(word) {
                Ok(word) => mask |= special_bytes(u64::from_le_bytes(word)),
                Err(_) => return true,
            },
            None => return bytes.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20),
        }
    }
    mask != 0
}

/// Four hex digits of a `\u` escape.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &d| {
        Some(value * 16 + char::from(d).to_digit(16)?)
    })
}

/// How many bytes of `s` serde_json escapes in a JSON string (`"`, `\\`, control characters;
/// not DEL, not `/`, not non-ASCII): a branch-free count that the compiler vectorizes.
fn escaped_bytes(s: &str) -> usize {
    s.bytes()
        .filter(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .count()
}

/// Writes `s` as a JSON string, the same bytes as serde_json writes. serde_json looks up every
/// byte in its escape table; a string with nothing to escape (nearly all) is copied whole here.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if has_special(s.as_bytes()) {
        return serde_json::to_writer(out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// The length of `s` as serde_json writes it in a JSON string, quotes included: `"` and `\`
/// and the short control escapes take 2 bytes, other control characters 6 (`\u001f`).
pub fn escaped_len(s: &str) -> usize {
    // Nearly every string has nothing to escape: a count of the bytes that would be escaped,
    // a loop without branches that the compiler vectorizes, says so for most strings, before
    // the byte-by-byte sum of what each escape adds.
    if escaped_bytes(s) == 0 {
        return 2 + s.len();
    }
    2 + s.len()
        + s.bytes()
            .map(|b| match b {
                b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 1,
                0x00..=0x1f => 5,
                _ => 0,
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Attributes, attributes_to_json_string};
    use proptest::prelude::*;

    /// The shape reader as it was, a walk with jiter: the oracle the scanner is held to.
    struct JiterShape {
        shape: Shape,
    }

    fn jiter_shape(text: &str) -> Option<Shape> {
        let mut names = Names::default();
        let mut jiter = Jiter::new(text.as_bytes());
        if jiter.peek().ok()? != Peek::Object {
            return None;
        }
        let mut walk = JiterShape {
            shape: Shape::default(),
        };
        let (size, depth, json_len) = walk.object(&mut jiter, 1, true, &mut names)?;
        jiter.finish().ok()?;
        let mut shape = walk.shape;
        shape.entries_size = size - 3;
        shape.depth = depth;
        shape.json_len = json_len;
        Some(shape)
    }

    impl JiterShape {
        /// An object whose `{` is next: its DynamoDB size, depth and JSON length.
        fn object(
            &mut self,
            jiter: &mut Jiter<'_>,
            depth: usize,
            top: bool,
            names: &mut Names,
        ) -> Option<(usize, usize, usize)> {
            if depth > MAX_DEPTH {
                return None;
            }
            // Names of this object are kept from `mark` on, to find a duplicate.
            let mark = names.used;
            let (mut size, mut inner_depth, mut json_len) = (3, 0, 2);
            let mut key = jiter.known_object().ok()?;
            while let Some(name) = key {
                if names.has_since(mark, name) {
                    return None;
                }
                if top {
                    self.shape.entries += 1;
                    self.shape.underscore_names |= name.starts_with('_');
                }
                json_len += usize::from(names.used > mark) + escaped_len(name) + 1;
                size += 1 + name.len();
                names.push(name);
                let peek = jiter.peek().ok()?;
                let (member_size, member_depth, member_json) =
                    self.value(jiter, peek, depth + 1, names)?;
                size += member_size;
                inner_depth = inner_depth.max(member_depth);
                json_len += member_json;
                key = jiter.next_key().ok()?;
            }
            names.used = mark;
            Some((size, 1 + inner_depth, json_len))
        }

        /// A value: its DynamoDB size, depth ([`crate::limits::depth`]) and JSON length.
        fn value(
            &mut self,
            jiter: &mut Jiter<'_>,
            peek: Peek,
            depth: usize,
            names: &mut Names,
        ) -> Option<(usize, usize, usize)> {
            match peek {
                Peek::Null => {
                    jiter.known_null().ok()?;
                    Some((1, 0, 4))
                }
                Peek::True | Peek::False => {
                    let b = jiter.known_bool(peek).ok()?;
                    Some((1, 0, if b { 4 } else { 5 }))
                }
                Peek::String => {
                    let s = jiter.known_str().ok()?;
                    Some((s.len(), 0, escaped_len(s)))
                }
                Peek::Array => {
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    let (mut size, mut inner_depth, mut json_len, mut count) = (3, 0, 2, 0usize);
                    let mut next = jiter.known_array().ok()?;
                    while let Some(peek) = next {
                        let (s, d, j) = self.value(jiter, peek, depth + 1, names)?;
                        size += 1 + s;
                        inner_depth = inner_depth.max(d);
                        json_len += usize::from(count > 0) + j;
                        count += 1;
                        next = jiter.array_step().ok()?;
                    }
                    Some((size, 1 + inner_depth, json_len))
                }
                Peek::Object => self.object(jiter, depth, false, names),
                _ => {
                    let text = std::str::from_utf8(jiter.known_number_bytes(peek).ok()?).ok()?;
                    self.shape.number(text)
                }
            }
        }
    }

    fn shape_by_values(attributes: &Attributes) -> Shape {
        let map = AttributeValue::M(attributes.clone());
        let mut unsafe_numbers = false;
        let mut copy = attributes.clone();
        if crate::js_numbers::apply(&mut copy, crate::js_numbers::UnsafeNumbers::Reject).is_err() {
            unsafe_numbers = true;
        }
        Shape {
            entries_size: crate::limits::value_size(&map) - 3,
            depth: crate::limits::depth(&map),
            json_len: attributes_to_json_string(attributes).len(),
            entries: attributes.len(),
            underscore_names: attributes.keys().any(|k| k.starts_with('_')),
            unsafe_numbers,
        }
    }

    proptest! {
        /// The first special byte (quote, backslash, control character) is the one a plain
        /// search finds, wherever it is: in the first words, after them, or nowhere.
        #[test]
        fn first_special_is_the_first_quote_backslash_or_control(
            text in prop::collection::vec(prop_oneof![
                8 => 0x20u8..=0xff,
                1 => Just(b'"'),
                1 => Just(b'\\'),
                1 => 0u8..0x20,
            ], 0..60),
        ) {
            let expected = text.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(first_special(&text), expected);
            prop_assert_eq!(has_special(&text), expected.is_some());
        }

        /// One special byte is found wherever it is in a text that has no other, of any length
        /// (words of eight and the padded tail).
        #[test]
        fn has_special_finds_one_special_byte_anywhere(
            plain in prop::collection::vec(0x20u8..=0xff, 0..40),
            special in prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20],
            at in any::<prop::sample::Index>(),
        ) {
            let plain: Vec<u8> = plain.into_iter().filter(|c| *c != b'"' && *c != b'\\').collect();
            prop_assert!(!has_special(&plain));
            let mut text = plain.clone();
            text.insert(at.index(plain.len() + 1), special);
            prop_assert!(has_special(&text));
        }
    }

    /// A control character with no quote or backslash after it, at every offset (past the first
    /// 16 bytes too, where `memchr2` finds nothing): the random texts above reach this seldom.
    #[test]
    fn a_control_character_is_found_without_a_quote_after_it() {
        for len in 0..48 {
            for at in 0..len {
                let mut text = vec![b'#'; len];
                text[at] = 0x1f;
                assert_eq!(first_special(&text), Some(at), "{len} {at}");
                assert!(has_special(&text), "{len} {at}");
            }
            assert_eq!(first_special(&vec![b'#'; len]), None);
        }
    }

    #[test]
    fn numbers_keep_their_digits_and_bad_text_is_refused() {
        for bad in [
            "01", "1.", ".5", "-", "+1", "1e", "NaN", "Infinity", "0x10", "1 2", "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
            assert_eq!(
                Shape::of_attributes(&format!("{{\"a\":{bad}}}")),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(parse("-1.50e2").unwrap(), AttributeValue::N("-150".into()));
        assert_eq!(
            parse(" [12345678901234567890123456789012345678] ").unwrap(),
            AttributeValue::L(vec![AttributeValue::N(
                "12345678901234567890123456789012345678".into()
            )])
        );
        assert!(matches!(parse("1e126"), Err(ValueError::Number(..))));
    }

    #[test]
    fn shapes_of_refused_text_are_none() {
        for bad in [
            "[1]",
            "\"x\"",
            "{\"a\":1,\"a\":2}",
            "{\"a\":{\"b\":1,\"b\":1}}",
            "{\"a\":1}x",
            "{\"a\":1e200}",
            "{\"a\":",
        ] {
            assert_eq!(Shape::of_attributes(bad), None, "{bad}");
        }
        let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(Shape::of_attributes(&deep(31)).is_some());
        assert_eq!(Shape::of_attributes(&deep(32)), None);
        assert!(parse(&deep(31)).is_ok());
        assert_eq!(parse(&deep(32)), Err(ValueError::TooDeep));
        // The same name in two objects is no duplicate.
        assert!(Shape::of_attributes(r#"{"a":{"a":1},"b":{"a":2}}"#).is_some());
        // Names of one length, first and last byte (the same summary) are told apart.
        assert!(Shape::of_attributes(r#"{"axb":1,"a b":2,"ab":3}"#).is_some());
        assert_eq!(Shape::of_attributes(r#"{"axb":1,"a b":2,"axb":3}"#), None);
        assert_eq!(Shape::of_attributes(r#"{"":1,"":2}"#), None);
    }

    /// The cases parsers are known to disagree on, one by one (the property test below breaks
    /// valid objects at random): what the shape reader takes, serde_json takes too.
    #[test]
    fn serde_json_accepts_what_the_shape_reader_takes_in_known_hard_cases() {
        let long = "a".repeat(40);
        let cases = [
            r#"{"a":1.}"#.to_string(),
            r#"{"a":.5}"#.to_string(),
            r#"{"a":+1}"#.to_string(),
            r#"{"a":01}"#.to_string(),
            r#"{"a":1,}"#.to_string(),
            r#"{"a":1}x"#.to_string(),
            r#"{"a":1} "#.to_string(),
            r#"{"a":NaN}"#.to_string(),
            r#"{"a":-Infinity}"#.to_string(),
            r#"{"a":1e999}"#.to_string(),
            "{\"a\":\"tab\there\"}".to_string(),
            format!("{{\"a\":\"{long}\u{1}{long}\"}}"),
            format!("{{\"a\":\"{long}\\ud800{long}\"}}"),
            format!("{{\"a\":\"{long}\\x{long}\"}}"),
            format!("{{\"{long}\":\"{long}\\u00e9\\ud83d\\ude00\"}}"),
            "{\"a\":\"\u{7f}\u{feff}\"}".to_string(),
            r#"{"a":{"b":[1,2,{"c":null}]}}"#.to_string(),
            // The scanner's own edges: escapes, surrogates, whitespace, empty containers.
            r#"{"a":"\u0000\/\b\f\n\r\t\"\\"}"#.to_string(),
            r#"{"a":"\udc00"}"#.to_string(),
            r#"{"a":"\ud83d"}"#.to_string(),
            r#"{"a":"\ud83d\u0041"}"#.to_string(),
            r#"{"a":"\ud83d\ude0"}"#.to_string(),
            r#"{"a":"\u00e"}"#.to_string(),
            r#"{"a\u0062":1,"ab":2}"#.to_string(),
            " \t\r\n{ \"a\" : [ ] , \"b\" : { } } \n".to_string(),
            "{}".to_string(),
            r#"{"":1}"#.to_string(),
            r#"{"a":-0,"b":1E+2,"c":-1.50e-3,"d":0.0}"#.to_string(),
            r#"{"a":tru}"#.to_string(),
            r#"{"a":nulll}"#.to_string(),
            r#"{"a" 1}"#.to_string(),
            r#"{"a":1 "b":2}"#.to_string(),
            r#"{"a":[1 2]}"#.to_string(),
            r#"{"a":[1,]}"#.to_string(),
            r#"{"a":"x"#.to_string(),
            r#"{"a":"x\"#.to_string(),
            // jiter's longest integer part, and one digit more (an exponent brings both back
            // into DynamoDB's range).
            format!("{{\"a\":1{}e-4299}}", "0".repeat(4299)),
            format!("{{\"a\":-1{}e-4300}}", "0".repeat(4300)),
            format!("{{\"a\":1{}.0e-4300}}", "0".repeat(4300)),
        ];
        for text in &cases {
            assert_eq!(
                Shape::of_attributes(text),
                jiter_shape(text),
                "the scanner and the jiter walk differ on {text:?}"
            );
        }
        let mut taken = 0;
        for text in &cases {
            if Shape::of_attributes(text).is_some() {
                taken += 1;
                assert!(
                    serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok(),
                    "the shape reader took what serde_json refuses: {text:?}"
                );
            }
        }
        // The valid ones among them (trailing space, a long escaped string, DEL and a BOM in a
        // string, nesting, a huge exponent DynamoDB refuses aside) were taken.
        assert!(taken >= 4, "only {taken} cases taken");
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            (-1e12f64..1e12).prop_map(|f| serde_json::json!(f)),
            "[a-z\"\\\\\u{0}-\u{1f}é😀/]{0,12}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("_?[a-c\"\u{1}]{0,3}", inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Text the shape reader takes is written into chunk rows as it is, unchecked by
        /// serde_json, which reads those rows back: whatever it takes, serde_json takes too.
        /// Valid objects are broken at a random place with what parsers disagree on (control
        /// characters, lone surrogates, bad escapes, stray brackets, non-finite numbers).
        #[test]
        fn serde_json_accepts_every_text_the_shape_reader_takes(
            members in prop::collection::btree_map("[a-z]{1,4}", json_value(), 0..5),
            at in any::<prop::sample::Index>(),
            cut in 0usize..3,
            insert in prop::sample::select(vec![
                "\u{0}", "\u{1f}", "\n", "\\", "\\u", "\\ud800", "\\udc00x", "\\x", "\"",
                "}", "]", "{", ",", ":", "NaN", "Infinity", "-", "1e999", "01", "\u{7f}", "\u{feff}",
            ]),
        ) {
            let text = serde_json::to_string(&serde_json::Value::Object(members.into_iter().collect()))
                .unwrap();
            let mut broken = text.clone();
            let mut i = at.index(text.len() + 1);
            while !broken.is_char_boundary(i) {
                i -= 1;
            }
            let end = (i + cut).min(broken.len());
            if broken.is_char_boundary(end) {
                broken.replace_range(i..end, insert);
            }
            for candidate in [&text, &broken] {
                prop_assert_eq!(
                    Shape::of_attributes(candidate),
                    jiter_shape(candidate),
                    "the scanner and the jiter walk differ on {:?}",
                    candidate
                );
                if Shape::of_attributes(candidate).is_some() {
                    prop_assert!(
                        serde_json::from_str::<&serde_json::value::RawValue>(candidate).is_ok(),
                        "the shape reader took what serde_json refuses: {candidate:?}"
                    );
                }
            }
        }

        /// The shape read from the text is the one computed from the parsed values, whatever
        /// the spacing and escapes of the text.
        #[test]
        fn shape_equals_the_values_shape(
            members in prop::collection::btree_map("_?[a-z\u{7f}]{1,6}", json_value(), 0..6),
            pretty in any::<bool>(),
            ascii in any::<bool>(),
        ) {
            let object = serde_json::Value::Object(members.into_iter().collect());
            let mut text = if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                serde_json::to_string(&object).unwrap()
            };
            if ascii {
                // Escape every non-ASCII character (\uXXXX, surrogate pairs): same values.
                text = text.chars().map(|c| if c.is_ascii() { c.to_string() } else {
                    let mut buf = [0u16; 2];
                    c.encode_utf16(&mut buf).iter().map(|u| format!("\\u{u:04x}")).collect()
                }).collect();
            }
            let attributes = crate::value::attributes_from_json_str(&text).unwrap();
            prop_assert_eq!(Shape::of_attributes(&text), Some(shape_by_values(&attributes)));
            prop_assert_eq!(Shape::of_attributes(&text), jiter_shape(&text));
        }

        /// A string's escaped length is the length of serde_json's text of it, whether it has
        /// something to escape (the byte-by-byte sum) or not (the quick count); and it is
        /// written as the same bytes.
        #[test]
        fn escaped_len_and_the_written_string_are_serde_jsons(s in "[a-zé ]{0,40}|[a-z\"\\\\\u{0}-\u{1f}\u{7f}é]{0,40}") {
            prop_assert_eq!(escaped_len(&s), serde_json::to_string(&s).unwrap().len());
            let mut written = Vec::new();
            write_json_str(&mut written, &s).unwrap();
            prop_assert_eq!(written, serde_json::to_vec(&s).unwrap());
        }
    }
}
