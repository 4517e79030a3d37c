//! DynamoDB's own JSON form of items and values (`{"pk":{"S":"…"},"version":{"N":"1"}}`), in
//! one writer: what `migrate get --dynamodb-json` prints ([`TypedItem`]) and what the DynamoDB
//! adapter sends in a TransactWriteItems body, which also takes each item's size and depth as
//! DynamoDB counts them while writing it ([`ItemMeasure`]). Nested maps are written in name
//! order, so the same item gives the same bytes in any process.
//!
//! The writer appends to a byte buffer rather than going through serde: a transaction body is
//! written for every hundred puts, and serde_json's path (an escape-table lookup for every byte
//! of every string, a map serializer per value) was a tenth of Process's client CPU on moto.
//! Strings go through [`super::plain_json::write_json_str`], the same bytes as serde_json's.

use std::cell::Cell;

use serde::{Serialize, Serializer};

use super::plain_json::write_json_str;
use super::{AttributeValue, Item, MAX_DEPTH};

/// An item in DynamoDB's own JSON form: what the AWS CLI prints and what `PutItem` takes, so an
/// item can be copied byte for byte into another table (`migrate get/query --dynamodb-json`).
pub struct TypedItem<'a>(pub &'a Item);

/// One value in DynamoDB's own JSON form, nested maps in name order (deterministic bytes).
pub struct Typed<'a>(pub &'a AttributeValue);

/// Hands what our writer wrote to `serializer` as the JSON it is: read back as a
/// `serde_json::Value` (whose maps are in name order, as ours are), so any serializer takes it
/// and a pretty printer indents it (`migrate get --dynamodb-json`). Only the command line's
/// output takes this path; a transaction body is the writer's bytes themselves.
fn serialize_written<S: Serializer>(
    serializer: S,
    write: impl FnOnce(&mut Vec<u8>),
) -> Result<S::Ok, S::Error> {
    let mut out = Vec::new();
    write(&mut out);
    serde_json::from_slice::<serde_json::Value>(&out)
        .map_err(serde::ser::Error::custom)?
        .serialize(serializer)
}

impl Serialize for TypedItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_written(serializer, |out| {
            write_item(out, self.0, &Meter::default());
        })
    }
}

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_written(serializer, |out| {
            write_value(out, self.0, &Meter::default(), 0);
        })
    }
}

/// A put's item as DynamoDB measures it, taken while the item is written: its size (as
/// [`crate::limits::item_size`] counts it) and the first attribute, in the item's order, nested
/// deeper than DynamoDB allows. [`crate::limits::check_measured`] judges it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ItemMeasure {
    pub size: usize,
    pub too_deep: Option<String>,
}

/// What is counted while one item is written.
#[derive(Default)]
pub(crate) struct Meter<'a> {
    size: Cell<usize>,
    /// The deepest level reached inside the attribute being written (a scalar 0, `{}` 1).
    deepest: Cell<usize>,
    too_deep: Cell<Option<&'a str>>,
}

impl Meter<'_> {
    fn add(&self, bytes: usize) {
        self.size.set(self.size.get() + bytes);
    }

    fn reach(&self, level: usize) {
        if level > self.deepest.get() {
            self.deepest.set(level);
        }
    }

    /// What the meter found (read by the TransactWriteItems writer, which only the AWS adapter
    /// has).
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub(crate) fn measure(&self) -> ItemMeasure {
        ItemMeasure {
            size: self.size.get(),
            too_deep: self.too_deep.get().map(str::to_string),
        }
    }
}

/// A JSON string, as serde_json writes it (a string of ours is valid UTF-8: nothing fails).
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    if write_json_str(out, s).is_err() {
        // serde_json writing into a Vec cannot fail; were it to, the text is still escaped.
        out.extend_from_slice(serde_json::Value::from(s).to_string().as_bytes());
    }
}

/// `open`, then each of `items` written by `each`, separated by commas, then `close`: a JSON
/// array or object.
pub(crate) fn write_separated<T>(
    out: &mut Vec<u8>,
    (open, close): (u8, u8),
    items: impl IntoIterator<Item = T>,
    mut each: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(close);
}

const ARRAY: (u8, u8) = (b'[', b']');
const OBJECT: (u8, u8) = (b'{', b'}');

/// `{"<tag>":` before a value's content.
fn open(out: &mut Vec<u8>, tag: &[u8]) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(tag);
    out.extend_from_slice(b"\":");
}

/// Writes `item` in DynamoDB JSON, measured by `meter` as it goes (attributes in the item's
/// order, nested maps in name order).
pub(crate) fn write_item<'a>(out: &mut Vec<u8>, item: &'a Item, meter: &Meter<'a>) {
    write_separated(out, OBJECT, item, |out, (name, value)| {
        meter.deepest.set(0);
        meter.add(name.len());
        write_string(out, name);
        out.push(b':');
        write_value(out, value, meter, 0);
        if meter.deepest.get() > MAX_DEPTH && meter.too_deep.get().is_none() {
            meter.too_deep.set(Some(name));
        }
    });
}

/// Writes one value in DynamoDB JSON (nested maps in name order), its size added to the meter
/// as [`crate::limits::item_size`] counts it. `level` is how deep inside its attribute the
/// value's container is (0 for an attribute's own value).
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    value: &AttributeValue,
    meter: &Meter<'_>,
    level: usize,
) {
    use crate::limits::number_size;
    use base64::Engine as _;
    let b64 = |out: &mut Vec<u8>, b: &Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(b)
                .as_bytes(),
        );
        out.push(b'"');
    };
    let strings = |out: &mut Vec<u8>, items: &[super::Text]| {
        write_separated(out, ARRAY, items, |out, s| write_string(out, s));
    };
    let level = level + 1;
    match value {
        AttributeValue::S(s) => {
            meter.add(s.len());
            open(out, b"S");
            write_string(out, s);
        }
        AttributeValue::N(n) => {
            meter.add(number_size(n));
            open(out, b"N");
            write_string(out, n);
        }
        AttributeValue::Bool(b) => {
            meter.add(1);
            open(out, b"BOOL");
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        AttributeValue::Null(_) => {
            meter.add(1);
            open(out, b"NULL");
            out.extend_from_slice(b"true");
        }
        AttributeValue::B(b) => {
            meter.add(b.len());
            open(out, b"B");
            b64(out, b);
        }
        AttributeValue::Ss(v) => {
            meter.add(v.iter().map(|s| s.len()).sum());
            open(out, b"SS");
            strings(out, v);
        }
        AttributeValue::Ns(v) => {
            meter.add(v.iter().map(|n| number_size(n)).sum());
            open(out, b"NS");
            strings(out, v);
        }
        AttributeValue::Bs(v) => {
            meter.add(v.iter().map(Vec::len).sum());
            open(out, b"BS");
            write_separated(out, ARRAY, v, b64);
        }
        AttributeValue::L(list) => {
            meter.reach(level);
            meter.add(3 + list.len());
            open(out, b"L");
            write_separated(out, ARRAY, list, |out, value| {
                write_value(out, value, meter, level)
            });
        }
        AttributeValue::M(map) => {
            meter.reach(level);
            // A map is kept in name order: its members are written as they come.
            open(out, b"M");
            let mut names = 3;
            write_separated(out, OBJECT, map, |out, (name, value)| {
                names += 1 + name.len();
                write_string(out, name);
                out.push(b':');
                write_value(out, value, meter, level);
            });
            meter.add(names);
        }
    }
    out.push(b'}');
}
