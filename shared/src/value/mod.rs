//! Attribute values with DynamoDB semantics, and exact conversion from and to plain JSON.
//!
//! Values are [`AttributeValue`]s (serde_dynamo's model, with maps in name order): a number is
//! kept as its decimal text, so a 38-digit number or `0.1` round-trips exactly. Plain JSON (the
//! CSV `attributes` column, a chunk row) is read by [`plain_json`], which hands us each number's
//! text untouched; numbers are written back through `serde_json::value::RawValue`. This avoids serde_json's
//! `arbitrary_precision` feature, which would change number handling for every crate in the
//! build.
//!
//! Numbers are normalized the way DynamoDB stores them (no leading or trailing zeros, no
//! exponent, at most 38 significant digits, magnitude 1E-130 to 9.99…E+125), so that a value
//! read back from either store compares equal to the value that was written.

pub mod plain_json;
pub mod typed;

pub use typed::{Typed, TypedItem};

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

mod attribute_value;
pub use attribute_value::AttributeValue;

/// The text of a value, a map member's name, a key or an entity's field: a string kept inline
/// up to 24 bytes ([`compact_str::CompactString`], the size of a `String`), on the heap beyond.
///
/// Why: nearly every string a migration handles is short (keys such as `PRODUCT#acme` and
/// `P000001`, codes, names, numbers, attribute names; the framework's dates,
/// `2026-11-25T02:11:40+00:00`, are 25 bytes and stay on the heap), and a
/// row's strings are built, copied and freed over and over: read from a chunk and from the
/// table, copied into the next version, into its command and data items, into the keys of a
/// wave. As `String`s that was about 260 of the ≈480 allocations the moto parity test made
/// per row (callgrind, 300 against 600 rows), each a call into the allocator to make it and
/// another to free it. Inline, a copy is 24 bytes moved. Measured: docs/performance-log.md
/// ("What the seventeenth session changed").
///
/// It reads as a `&str` (`Deref`), compares, orders and hashes as its text, and its serde form
/// is a string's: the JSON and the embedded store's postcard bytes are those of a `String`.
/// (It is read through `deserialize_str`, which postcard answers only from a slice it borrows
/// from: the embedded store reads with `postcard::from_bytes`, never from a reader.)
pub type Text = compact_str::CompactString;

/// Whatever becomes a [`Text`]: moved when it is one, copied from a borrowed text; a `String`
/// is copied inline when it fits (its buffer freed) and keeps its buffer otherwise. What [`s`]
/// and [`crate::keys::Key::new`] take.
pub trait IntoText {
    fn into_text(self) -> Text;
}

impl IntoText for Text {
    fn into_text(self) -> Text {
        self
    }
}

impl IntoText for &Text {
    fn into_text(self) -> Text {
        self.clone()
    }
}

impl IntoText for &str {
    fn into_text(self) -> Text {
        Text::from(self)
    }
}

impl IntoText for String {
    fn into_text(self) -> Text {
        Text::from(self)
    }
}

impl IntoText for &String {
    fn into_text(self) -> Text {
        Text::from(self.as_str())
    }
}

/// A DynamoDB item (top-level attributes), ordered for deterministic output.
///
/// Its names are [`Name`]s: an item of ours has the same two dozen top-level names as every
/// other, so they are borrowed from one static table rather than owned by each item. A
/// migration builds two items a row and reads one back; owned names were a sixth of their
/// allocations, each freed again once the item was written.
///
/// The names are kept in one vector in their order ([`litemap::LiteMap`]), not in a B-tree: an
/// item has about two dozen, is read by name a few times and then dropped whole, and the items
/// a job builds by the thousand come as lists in name order (the published entity's fields,
/// the embedded store's rows, and the items we wrote when moto gives them back). Built from
/// such a list ([`item_from_fields`]), it takes the list as it is; a B-tree built its nodes
/// entry by entry and freed them node by node. A list in another order (DynamoDB's order is
/// unspecified, the SDK's maps have none) is sorted once. Lookups are a binary search;
/// iteration is in name order, as before; and a name given twice keeps its last value, as
/// before. Measured against the B-tree: docs/performance-log.md ("What the fifteenth
/// session changed").
///
/// As JSON, write an item through [`TypedItem`] or [`PlainItem`] (as every caller does): the
/// map's own serde form writes an empty item as `[]` in a human-readable format. Its binary
/// form (the embedded store's postcard) is a B-tree's: the length, then the names and values
/// in order.
pub type Item = litemap::LiteMap<Name, AttributeValue>;

/// An item from its fields: taken as it is when they are in name order, each name once;
/// otherwise sorted, the last value of a name given twice kept (as collecting into a map keeps
/// it).
pub fn item_from_fields(fields: Vec<(Name, AttributeValue)>) -> Item {
    if fields.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        Item::from_sorted_store_unchecked(fields)
    } else {
        fields.into_iter().collect()
    }
}

/// A top-level attribute name: borrowed when it is one of [`KNOWN_NAMES`], owned otherwise.
/// It reads as a `&str` (`item.get("pk")`, `&*name`).
pub type Name = Cow<'static, str>;

/// The top-level names of the framework's items (DESIGN §3), in byte order: the names
/// [`name`] borrows (its lookup by length holds the same names; a test holds the two together).
pub const KNOWN_NAMES: &[&str] = &[
    "attributes",
    "code",
    "cpk",
    "createdAt",
    "createdBy",
    "createdIp",
    "csk",
    "id",
    "isDeleted",
    "name",
    "pk",
    "requestId",
    "seq",
    "sk",
    "source",
    "status",
    "syncMode",
    "tenantCode",
    "ttl",
    "type",
    "updatedAt",
    "updatedBy",
    "updatedIp",
    "version",
];

/// Reads JSON from bytes as serde_json reads it from a `&str`: the UTF-8 is checked once, over
/// the whole input, instead of once per string (serde_json's byte reader checks every string it
/// hands out, a call per key and value: 3 % of Verify's CPU, reading BatchGetItem responses and
/// chunk rows). Input that is not UTF-8 is read as bytes, for serde_json's own error (where the
/// bad byte is).
pub fn from_json_bytes<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// `text` as an item's attribute name: the static name when it is a known one (no allocation),
/// else the text itself.
pub fn name(text: &str) -> Name {
    match known_name(text) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(text.to_string()),
    }
}

/// [`name`] of an owned text (kept as it is when it is not a known name).
pub fn owned_name(text: String) -> Name {
    match known_name(&text) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(text),
    }
}

/// The known name equal to `text`, if there is one: looked up among the few of its length (a
/// bisection of the whole table compared text a dozen times a name, which cost more than the
/// allocation it saves).
fn known_name(text: &str) -> Option<&'static str> {
    let same_length: &[&'static str] = match text.len() {
        2 => &["id", "pk", "sk"],
        3 => &["cpk", "csk", "seq", "ttl"],
        4 => &["code", "name", "type"],
        6 => &["source", "status"],
        7 => &["version"],
        8 => &["syncMode"],
        9 => &[
            "createdAt",
            "createdBy",
            "createdIp",
            "isDeleted",
            "requestId",
            "updatedAt",
            "updatedBy",
            "updatedIp",
        ],
        10 => &["attributes", "tenantCode"],
        _ => return None,
    };
    same_length.iter().copied().find(|known| *known == text)
}

/// A name as read (DynamoDB JSON, the embedded store's encoding): an item's known names are
/// borrowed from the static table (no allocation, see [`name`]).
pub(crate) trait EntryName: Sized {
    fn of_str(text: &str) -> Self;
    fn of_string(text: String) -> Self;
}

impl EntryName for String {
    fn of_str(text: &str) -> Self {
        text.to_string()
    }
    fn of_string(text: String) -> Self {
        text
    }
}

impl EntryName for Text {
    fn of_str(text: &str) -> Self {
        Text::from(text)
    }
    fn of_string(text: String) -> Self {
        // A short name is kept inline (the string's buffer freed).
        Text::from(text)
    }
}

impl EntryName for Name {
    fn of_str(text: &str) -> Self {
        name(text)
    }
    fn of_string(text: String) -> Self {
        owned_name(text)
    }
}

/// A member's name, read where it lies in the input when the format allows (no copy before it
/// is looked up).
pub(crate) struct NameIn<K>(pub(crate) K);

impl<'de, K: EntryName> serde::Deserialize<'de> for NameIn<K> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameText<K>(std::marker::PhantomData<K>);
        impl<K: EntryName> serde::de::Visitor<'_> for NameText<K> {
            type Value = NameIn<K>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<NameIn<K>, E> {
                Ok(NameIn(K::of_str(text)))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<NameIn<K>, E> {
                Ok(NameIn(K::of_string(text)))
            }
        }
        deserializer.deserialize_str(NameText(std::marker::PhantomData))
    }
}

/// A map's members, names read by [`NameIn`], gathered to be built into a map at once (a B-tree
/// from its members sorted, an item from its names in order) rather than inserted one by one.
/// A name given twice keeps its last value once built.
pub(crate) fn read_members<'de, A, K, V>(mut map: A) -> Result<Vec<(K, V)>, A::Error>
where
    A: serde::de::MapAccess<'de>,
    K: EntryName,
    V: serde::Deserialize<'de>,
{
    let mut members = Vec::with_capacity(map.size_hint().map_or(16, |n| n.min(1024)));
    while let Some((NameIn(name), value)) = map.next_entry::<NameIn<K>, V>()? {
        members.push((name, value));
    }
    Ok(members)
}

/// An item read from a format that spells out its names (the embedded store's encoding), its
/// known names borrowed ([`NameIn`]). Only the embedded store reads that encoding.
#[cfg(feature = "embedded")]
pub(crate) struct ItemIn(pub(crate) Item);

#[cfg(feature = "embedded")]
impl<'de> serde::Deserialize<'de> for ItemIn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = ItemIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an item")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ItemIn, A::Error> {
                // An item is written in name order: the list becomes the item as it is.
                let members = read_members::<A, Name, AttributeValue>(map)?;
                Ok(ItemIn(item_from_fields(members)))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// The `attributes` map of an entity.
pub type Attributes = BTreeMap<Text, AttributeValue>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("must be a JSON object")]
    NotAnObject,
    #[error("number {0:?}: {1}")]
    Number(String, &'static str),
    #[error("key {0:?} appears twice in one object (only one value would be kept)")]
    DuplicateKey(String),
    #[error("is nested deeper than DynamoDB's {MAX_DEPTH} levels")]
    TooDeep,
}

/// DynamoDB's limit on nested maps and lists (an item's top-level attribute is level 1).
pub const MAX_DEPTH: usize = 32;

/// Maximum significant digits of a DynamoDB number.
pub const MAX_NUMBER_DIGITS: usize = 38;

/// Whether `text` is a number already in the form [`normalize_number`] gives (most numbers in
/// real data are): `0`, or an optional `-`, digits without a leading zero (or `0` before the
/// point) and, after a point, digits not ending in `0`; no exponent; at most 38 digits in all
/// (so within DynamoDB's digits and range).
pub fn is_normalized_number(text: &str) -> bool {
    let b = text.as_bytes();
    if b == b"0" {
        return true;
    }
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match digits.iter().position(|c| *c == b'.') {
        Some(i) => (&digits[..i], Some(&digits[i + 1..])),
        None => (digits, None),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if int.is_empty() || !all_digits(int) || (int[0] == b'0' && (int.len() > 1 || frac.is_none())) {
        return false;
    }
    // Every byte but the point is a digit once the parts are checked (one pass over a short
    // number, where a separate count of its digits cost as much as the rest).
    if int.len() + frac.map_or(0, <[u8]>::len) > MAX_NUMBER_DIGITS {
        return false;
    }
    match frac {
        None => true,
        Some(f) => {
            !f.is_empty()
                && all_digits(f)
                && f.last() != Some(&b'0')
                // `-0.x` is fine; a value of zero would be written `0`.
                && (int != b"0" || f.iter().any(|d| *d != b'0'))
        }
    }
}

/// Normalizes a decimal number the way DynamoDB stores it.
pub fn normalize_number(text: &str) -> Result<Text, ValueError> {
    if is_normalized_number(text) {
        return Ok(Text::from(text));
    }
    normalize_number_by_digits(text)
}

/// [`normalize_number`] by taking the digits and exponent apart and putting them back.
fn normalize_number_by_digits(text: &str) -> Result<Text, ValueError> {
    let err = |why| ValueError::Number(text.to_string(), why);
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(err("is not a decimal number"));
    }
    let mut exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !all_digits(digits) || digits.len() > 6 {
                return Err(err("has an invalid exponent"));
            }
            e.parse().map_err(|_| err("has an invalid exponent"))?
        }
    };
    let mut digits = String::with_capacity(int_part.len() + frac_part.len());
    digits.push_str(int_part);
    digits.push_str(frac_part);
    exp -= frac_part.len() as i64;
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Ok(Text::const_new("0"));
    }
    digits = trimmed.to_string();
    while digits.ends_with('0') {
        digits.pop();
        exp += 1;
    }
    if digits.len() > MAX_NUMBER_DIGITS {
        return Err(err("has more than 38 significant digits"));
    }
    let adjusted = exp + digits.len() as i64 - 1;
    if adjusted > 125 {
        return Err(err("is larger than DynamoDB allows (9.99E+125)"));
    }
    if adjusted < -130 {
        return Err(err("is smaller than DynamoDB allows (1E-130)"));
    }
    let mut out = Text::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if exp >= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', exp as usize));
    } else {
        let point = digits.len() as i64 + exp;
        if point > 0 {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        }
    }
    Ok(out)
}

/// Parses plain JSON text into an attribute value, keeping every number's digits.
pub fn from_json_str(text: &str) -> Result<AttributeValue, ValueError> {
    plain_json::parse(text)
}

/// Parses the `attributes` column: a JSON object.
pub fn attributes_from_json_str(text: &str) -> Result<Attributes, ValueError> {
    match from_json_str(text)? {
        AttributeValue::M(map) => Ok(map),
        _ => Err(ValueError::NotAnObject),
    }
}

/// Serializes an attribute value as plain JSON (numbers as bare, exact JSON numbers; sets as
/// arrays; binary as base64-free byte arrays are not expected in MBC data and come out as arrays).
pub struct PlainJson<'a>(pub &'a AttributeValue);

impl Serialize for PlainJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AttributeValue::N(n) => match RawValue::from_string(n.to_string()) {
                Ok(raw) => raw.serialize(serializer),
                // A number that is not valid JSON text cannot come from our stores; keep it visible.
                Err(_) => serializer.serialize_str(n),
            },
            AttributeValue::S(s) => serializer.serialize_str(s),
            AttributeValue::Bool(b) => serializer.serialize_bool(*b),
            AttributeValue::Null(_) => serializer.serialize_unit(),
            AttributeValue::B(bytes) => serializer.serialize_bytes(bytes),
            AttributeValue::M(map) => PlainItem(map).serialize(serializer),
            AttributeValue::L(list) => {
                let mut s = serializer.serialize_seq(Some(list.len()))?;
                for v in list {
                    s.serialize_element(&PlainJson(v))?;
                }
                s.end()
            }
            AttributeValue::Ss(v) => v.serialize(serializer),
            AttributeValue::Ns(v) => {
                let mut s = serializer.serialize_seq(Some(v.len()))?;
                for n in v {
                    s.serialize_element(&PlainJson(&AttributeValue::N(n.clone())))?;
                }
                s.end()
            }
            AttributeValue::Bs(v) => v.serialize(serializer),
        }
    }
}

/// A whole item ([`Item`]) or attribute map ([`Attributes`]) as plain JSON, in the order of
/// its names.
pub struct PlainItem<'a, M>(pub &'a M);

impl<'a, M, K> Serialize for PlainItem<'a, M>
where
    &'a M: IntoIterator<Item = (&'a K, &'a AttributeValue), IntoIter: ExactSizeIterator>,
    K: Serialize + 'a,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.0.into_iter();
        let mut m = serializer.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, &PlainJson(v))?;
        }
        m.end()
    }
}

/// Plain JSON text of an attribute map (exact numbers, keys sorted).
pub fn attributes_to_json_string(attributes: &Attributes) -> String {
    // Serializing a map of strings/numbers/bools into a String cannot fail.
    serde_json::to_string(&PlainItem(attributes)).unwrap_or_else(|_| "{}".to_string())
}

/// The length of [`attributes_to_json_string`] of `over` laid over `base` (an entry of `over`
/// replaces `base`'s of the same name), counted as it is written: nothing is built or copied.
pub fn overlaid_json_len(base: &Attributes, over: &Attributes) -> usize {
    struct Overlay<'a>(&'a Attributes, &'a Attributes);
    impl Serialize for Overlay<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let (base, over) = (self.0, self.1);
            let mut m = serializer.serialize_map(None)?;
            for (k, v) in over
                .iter()
                .chain(base.iter().filter(|(k, _)| !over.contains_key(*k)))
            {
                m.serialize_entry(k, &PlainJson(v))?;
            }
            m.end()
        }
    }
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing into a counter cannot fail (see attributes_to_json_string).
    let _ = serde_json::to_writer(&mut count, &Overlay(base, over));
    count.0
}

/// `#[serde(with)]` for an attribute map kept as a plain JSON object (exact numbers). Reading
/// borrows the object's text from the input (`serde_json::from_slice`/`from_str`) and parses it
/// in one pass ([`plain_json::parse`]).
pub mod plain_attributes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    use super::{Attributes, PlainItem, attributes_from_json_str};
    use crate::migration_csv::RowAttributes;

    /// Attributes that can be written as a plain JSON object.
    pub trait ToPlainJson {
        fn serialize_plain<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;

        /// The attributes as the JSON text they were read as, when they are held so (a chunk
        /// row writes it as it is: [`crate::artifacts::JobArtifacts::save_chunk`]).
        fn json_text(&self) -> Option<&str> {
            None
        }

        /// Left out of the row's own JSON object ([`Spliced`]).
        fn is_spliced(&self) -> bool {
            false
        }
    }

    /// The attributes of a row whose JSON object is written without them, because they are
    /// written next to it as their own text (serde_json can write a text as it is only after
    /// checking it once more, as a `RawValue`; the shape reader has checked it already).
    #[derive(Debug, Clone, Copy, PartialEq, Default)]
    pub struct Spliced;

    impl ToPlainJson for Spliced {
        fn serialize_plain<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom(
                "attributes written apart from their row are not part of its object",
            ))
        }

        fn is_spliced(&self) -> bool {
            true
        }
    }

    /// `skip_serializing_if` of a row's attributes.
    pub fn is_spliced<A: ToPlainJson>(attributes: &A) -> bool {
        attributes.is_spliced()
    }

    /// Attributes that can be read from a plain JSON object.
    pub trait FromPlainJson: Sized {
        fn from_plain(text: &str) -> Result<Self, super::ValueError>;
    }

    impl ToPlainJson for Attributes {
        fn serialize_plain<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            PlainItem(self).serialize(s)
        }
    }

    impl FromPlainJson for Attributes {
        fn from_plain(text: &str) -> Result<Self, super::ValueError> {
            attributes_from_json_str(text)
        }
    }

    impl ToPlainJson for RowAttributes {
        fn serialize_plain<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                // The text as read (valid JSON, one line): copied through, not re-encoded (a
                // chunk row splices it in without this check and copy: `json_text`).
                RowAttributes::Json { text, .. } => RawValue::from_string(text.clone())
                    .map_err(serde::ser::Error::custom)?
                    .serialize(s),
                RowAttributes::Values(v) => PlainItem(v).serialize(s),
                // Not read: written only if it is JSON (what a chunk row needs).
                RowAttributes::Text(text) => RawValue::from_string(text.clone())
                    .map_err(serde::ser::Error::custom)?
                    .serialize(s),
            }
        }

        fn json_text(&self) -> Option<&str> {
            match self {
                RowAttributes::Json { text, .. } => Some(text),
                _ => None,
            }
        }
    }

    pub fn serialize<A: ToPlainJson, S: Serializer>(
        attributes: &A,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        attributes.serialize_plain(s)
    }

    pub fn deserialize<'de, A: FromPlainJson, D: Deserializer<'de>>(d: D) -> Result<A, D::Error> {
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        A::from_plain(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// Helpers to read typed top-level fields of an item.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

pub fn get_n<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => Some(n),
        _ => None,
    }
}

pub fn get_bool(item: &Item, name: &str) -> Option<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

pub fn s(value: impl IntoText) -> AttributeValue {
    AttributeValue::S(value.into_text())
}

/// A number attribute from anything written as its decimal text by `Display` (as it was
/// before `Text`: compact_str's own `to_compact_string` writes floats its own way, `1.0`).
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    use std::fmt::Write as _;
    let mut text = Text::default();
    // Writing into a `Text` cannot fail but for memory, which aborts.
    let _ = write!(text, "{value}");
    AttributeValue::N(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bytes_read_as_from_a_str_and_bad_utf8_is_reported_where_it_is() {
        let text = "{\"a\":\"b\\u00e9c\",\"d\":[1,\"\u{e9}\"]}".as_bytes();
        let read: serde_json::Value = from_json_bytes(text).unwrap();
        assert_eq!(
            read,
            serde_json::from_slice::<serde_json::Value>(text).unwrap()
        );
        assert_eq!(read["d"][1], "\u{e9}");
        // Not UTF-8: the error serde_json gives for the bytes, with its position.
        let bad = b"{\"a\":\"b\xff\"}";
        let error = from_json_bytes::<serde_json::Value>(bad).unwrap_err();
        let expected = serde_json::from_slice::<serde_json::Value>(bad).unwrap_err();
        assert_eq!(error.to_string(), expected.to_string());
        assert!(error.to_string().contains("column"), "{error}");
    }

    #[test]
    fn duplicate_keys_and_deep_nesting_are_refused() {
        assert_eq!(
            from_json_str(r#"{"a":1,"b":{"c":1,"c":2}}"#),
            Err(ValueError::DuplicateKey("c".into()))
        );
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(from_json_str(&deep(32)).is_ok());
        assert_eq!(from_json_str(&deep(33)), Err(ValueError::TooDeep));
        // Far deeper than serde_json's own recursion limit: still an error, not a crash.
        assert!(from_json_str(&deep(1000)).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The shortcut for numbers already normalized answers as the full normalization.
        #[test]
        fn normalized_numbers_are_recognized(
            text in "-?[0-9]{0,22}(\\.[0-9]{0,22})?([eE][-+]?[0-9]{1,3})?",
        ) {
            if is_normalized_number(&text) {
                proptest::prop_assert_eq!(normalize_number_by_digits(&text), Ok(Text::from(text.as_str())));
            }
            if let Ok(n) = normalize_number_by_digits(&text) {
                let all_digits = n.bytes().filter(u8::is_ascii_digit).count();
                proptest::prop_assert!(is_normalized_number(&n) || all_digits > MAX_NUMBER_DIGITS, "{}", n);
                proptest::prop_assert_eq!(normalize_number(&text), Ok(n));
            }
        }
    }

    proptest::proptest! {
        /// An item from a list of fields holds what a map collected from them holds, in name
        /// order, the last value of a repeated name kept, whether the list came in order (taken
        /// as it is) or not (sorted). Names from a small set, so that repeats are common.
        #[test]
        fn an_item_from_fields_is_the_map_of_them(
            fields in proptest::collection::vec(("[a-d]{1,2}|pk|sk", 0u32..1000), 0..30),
            in_order: bool,
        ) {
            let mut fields: Vec<(Name, AttributeValue)> =
                fields.into_iter().map(|(k, v)| (name(&k), n(v.to_string()))).collect();
            if in_order {
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                fields.dedup_by(|later, earlier| later.0 == earlier.0);
            }
            let map: BTreeMap<Name, AttributeValue> = fields.iter().cloned().collect();
            let list = fields.as_ptr();
            let item = item_from_fields(fields);
            if in_order {
                // A list in order is the item's own storage, not a copy of it.
                proptest::prop_assert_eq!(item.as_slice().as_ptr(), list);
            }
            proptest::prop_assert!(item.iter().map(|(k, v)| (k.clone(), v.clone())).eq(map.clone()));
            for (k, v) in &map {
                proptest::prop_assert_eq!(item.get(k.as_ref()), Some(v));
            }
            proptest::prop_assert_eq!(item.get("zz"), None);
        }
    }

    #[test]
    fn typed_items_are_dynamodb_json() {
        let mut item = Item::new();
        item.insert("pk".into(), s("P#t"));
        item.insert("ttl".into(), AttributeValue::Null(true));
        item.insert(
            "attributes".into(),
            from_json_str(r#"{"n":12345678901234567890123456789012345678,"l":[true,"x"]}"#)
                .unwrap(),
        );
        assert_eq!(
            serde_json::to_string(&TypedItem(&item)).unwrap(),
            r#"{"attributes":{"M":{"l":{"L":[{"BOOL":true},{"S":"x"}]},"n":{"N":"12345678901234567890123456789012345678"}}},"pk":{"S":"P#t"},"ttl":{"NULL":true}}"#
        );
        // `migrate get --dynamodb-json` prints it indented, as every other JSON it prints.
        let pretty = serde_json::to_string_pretty(&TypedItem(&item)).unwrap();
        assert!(
            pretty.starts_with("{\n  \"attributes\": {\n    \"M\": {"),
            "{pretty}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
            serde_json::to_value(TypedItem(&item)).unwrap()
        );
        assert_eq!(
            serde_json::to_string_pretty(&super::Typed(&s("x"))).unwrap(),
            "{\n  \"S\": \"x\"\n}"
        );
    }

    #[test]
    fn numbers_are_normalized_like_dynamodb() {
        let cases = [
            ("0.1", "0.1"),
            ("1.50", "1.5"),
            ("-0", "0"),
            ("0.000", "0"),
            ("007", "7"),
            ("1e2", "100"),
            ("1.25E-3", "0.00125"),
            ("-12.3400", "-12.34"),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            (
                "0.12345678901234567890123456789012345678",
                "0.12345678901234567890123456789012345678",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_number(input).as_deref(), Ok(want), "{input}");
        }
        assert!(normalize_number("123456789012345678901234567890123456789").is_err());
        assert!(normalize_number("1e126").is_err());
        assert!(normalize_number("1e-131").is_err());
        assert!(normalize_number("abc").is_err());
        assert!(normalize_number("").is_err());
        assert!(normalize_number("1e").is_err());
    }

    #[test]
    fn attributes_round_trip_exactly() {
        let text = r#"{"big":12345678901234567890123456789012345678,"tenth":0.1,"s":"x\"y","b":true,"nul":null,"list":[1,{"deep":2.50}]}"#;
        let attrs = attributes_from_json_str(text).unwrap();
        assert_eq!(
            attrs["big"],
            AttributeValue::N("12345678901234567890123456789012345678".into())
        );
        assert_eq!(attrs["tenth"], AttributeValue::N("0.1".into()));
        let back = attributes_to_json_string(&attrs);
        assert_eq!(
            back,
            r#"{"b":true,"big":12345678901234567890123456789012345678,"list":[1,{"deep":2.5}],"nul":null,"s":"x\"y","tenth":0.1}"#
        );
        assert_eq!(attributes_from_json_str(&back).unwrap(), attrs);
    }

    #[test]
    fn rejects_non_objects_and_bad_json() {
        assert_eq!(
            attributes_from_json_str("[1]"),
            Err(ValueError::NotAnObject)
        );
        assert!(matches!(
            attributes_from_json_str("{\"a\":}"),
            Err(ValueError::Json(_))
        ));
        assert!(matches!(
            attributes_from_json_str("{\"a\":1234567890123456789012345678901234567890}"),
            Err(ValueError::Number(..))
        ));
    }

    #[test]
    fn dynamodb_json_form_keeps_number_text() {
        let v = AttributeValue::N("12345678901234567890123456789012345678".into());
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, r#"{"N":"12345678901234567890123456789012345678"}"#);
        let back: AttributeValue = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn known_names_are_borrowed_and_others_owned() {
        use std::borrow::Cow;
        // The table is in byte order, without repeats; each of its names is found by the
        // lookup (below), and near misses are not.
        assert!(super::KNOWN_NAMES.windows(2).all(|w| w[0] < w[1]));
        for known in super::KNOWN_NAMES {
            assert!(matches!(super::name(known), Cow::Borrowed(n) if n == *known));
            assert!(
                matches!(super::owned_name(known.to_string()), Cow::Borrowed(n) if n == *known)
            );
        }
        for other in [
            "",
            "pk ",
            "Pk",
            "pq",
            "attribute",
            "attributez",
            "versions",
            "createdAx",
            "_migrationId",
        ] {
            assert!(matches!(super::name(other), Cow::Owned(n) if n == other));
            assert!(matches!(super::owned_name(other.to_string()), Cow::Owned(n) if n == other));
        }
        // Borrowed or owned, a name is its text: items compare, and are found, by content.
        let mut borrowed = super::Item::new();
        borrowed.insert(super::name("pk"), super::s("p"));
        let mut owned = super::Item::new();
        owned.insert(Cow::Owned("pk".to_string()), super::s("p"));
        assert_eq!(borrowed, owned);
        assert!(owned.contains_key("pk"));
    }
}
