//! DynamoDB's own JSON form of items and values (`{"pk":{"S":"…"},"version":{"N":"1"}}`), in
//! one writer: what `migrate get --dynamodb-json` prints ([`TypedItem`]) and what the DynamoDB
//! adapter sends in a TransactWriteItems body, which also takes each item's size and depth as
//! DynamoDB counts them while writing it ([`ItemMeasure`]). Nested maps are written in name
//! order, so the same item gives the same bytes in any process.

use std::cell::Cell;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{AttributeValue, Item, MAX_DEPTH};

/// An item in DynamoDB's own JSON form: what the AWS CLI prints and what `PutItem` takes, so an
/// item can be copied byte for byte into another table (`migrate get/query --dynamodb-json`).
pub struct TypedItem<'a>(pub &'a Item);

/// One value in DynamoDB's own JSON form, nested maps in name order (deterministic bytes).
pub struct Typed<'a>(pub &'a AttributeValue);

impl Serialize for TypedItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireItem {
            item: self.0,
            meter: &Meter::default(),
        }
        .serialize(serializer)
    }
}

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireValue {
            value: self.0,
            meter: &Meter::default(),
            level: 0,
        }
        .serialize(serializer)
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

/// An item in DynamoDB JSON, measured as it is written.
pub(crate) struct WireItem<'a> {
    pub(crate) item: &'a Item,
    pub(crate) meter: &'a Meter<'a>,
}

impl Serialize for WireItem<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let meter = self.meter;
        let mut out = serializer.serialize_map(Some(self.item.len()))?;
        for (name, value) in self.item {
            meter.deepest.set(0);
            meter.add(name.len());
            out.serialize_entry(
                name,
                &WireValue {
                    value,
                    meter,
                    level: 0,
                },
            )?;
            if meter.deepest.get() > MAX_DEPTH && meter.too_deep.get().is_none() {
                meter.too_deep.set(Some(name.as_str()));
            }
        }
        out.end()
    }
}

/// One value in DynamoDB JSON (nested maps in name order), its size added to the meter as
/// [`crate::limits::item_size`] counts it. `level` is how deep inside its attribute it is.
struct WireValue<'a> {
    value: &'a AttributeValue,
    meter: &'a Meter<'a>,
    level: usize,
}

impl Serialize for WireValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use crate::limits::number_size;
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let (meter, level) = (self.meter, self.level + 1);
        let mut m = serializer.serialize_map(Some(1))?;
        match self.value {
            AttributeValue::S(s) => {
                meter.add(s.len());
                m.serialize_entry("S", s)?
            }
            AttributeValue::N(n) => {
                meter.add(number_size(n));
                m.serialize_entry("N", n)?
            }
            AttributeValue::Bool(b) => {
                meter.add(1);
                m.serialize_entry("BOOL", b)?
            }
            AttributeValue::Null(_) => {
                meter.add(1);
                m.serialize_entry("NULL", &true)?
            }
            AttributeValue::B(b) => {
                meter.add(b.len());
                m.serialize_entry("B", &b64(b))?
            }
            AttributeValue::Ss(v) => {
                meter.add(v.iter().map(String::len).sum());
                m.serialize_entry("SS", v)?
            }
            AttributeValue::Ns(v) => {
                meter.add(v.iter().map(|n| number_size(n)).sum());
                m.serialize_entry("NS", v)?
            }
            AttributeValue::Bs(v) => {
                meter.add(v.iter().map(Vec::len).sum());
                m.serialize_entry("BS", &v.iter().map(|b| b64(b)).collect::<Vec<_>>())?
            }
            AttributeValue::L(list) => {
                meter.reach(level);
                meter.add(3 + list.len());
                m.serialize_entry("L", &WireList { list, meter, level })?
            }
            AttributeValue::M(map) => {
                meter.reach(level);
                meter.add(3 + map.keys().map(|k| 1 + k.len()).sum::<usize>());
                let mut entries: Vec<(&String, &AttributeValue)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                m.serialize_entry(
                    "M",
                    &WireMap {
                        entries,
                        meter,
                        level,
                    },
                )?
            }
        }
        m.end()
    }
}

struct WireList<'a> {
    list: &'a [AttributeValue],
    meter: &'a Meter<'a>,
    level: usize,
}

impl Serialize for WireList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_seq(Some(self.list.len()))?;
        for value in self.list {
            out.serialize_element(&WireValue {
                value,
                meter: self.meter,
                level: self.level,
            })?;
        }
        out.end()
    }
}

/// A nested map's entries, sorted by name.
struct WireMap<'a> {
    entries: Vec<(&'a String, &'a AttributeValue)>,
    meter: &'a Meter<'a>,
    level: usize,
}

impl Serialize for WireMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            out.serialize_entry(
                name,
                &WireValue {
                    value,
                    meter: self.meter,
                    level: self.level,
                },
            )?;
        }
        out.end()
    }
}
