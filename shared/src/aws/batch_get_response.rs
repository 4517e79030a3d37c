//! A BatchGetItem response body, read straight into our items.
//!
//! Why a reader of its own: the items of BatchGetItem responses are most of what a job reads
//! from DynamoDB (Process reads every row's data row, Verify reads each written row back).
//! Read through serde_json's visitors, each value (`{"S": "…"}`, a map of one tag) cost
//! ≈2,600 instructions (callgrind, the moto parity test, 1,800 items of ≈11 values): a map
//! access per value, its tag and its text each handed through a visitor. The format is small
//! and fixed (DynamoDB JSON), so it is read here by a reader that knows it: each name, tag and
//! text is found with one scan ([`plain_json`]'s, eight bytes at a time) and borrowed from the
//! body until the value that keeps it copies it; only a text with an escape is unescaped, by
//! serde_json, exactly as JSON says. The same responses cost 50.9 M instructions through serde,
//! 48.9 M walked with jiter (the crate that reads plain JSON here: a generic walk that checks
//! each string's UTF-8 again), 39.0 M with this reader.
//!
//! What DynamoDB never sends is refused, as serde_dynamo refuses it (an unknown tag, no tag,
//! two tags, bad base64, a text where a map belongs); serde_dynamo's reader is the reference the
//! tests compare this one against (`dynamodb_json`'s round-trip property). Fields the response
//! may carry besides `Responses` and `UnprocessedKeys` (`ConsumedCapacity`), and the other
//! fields of an unprocessed table's entry (`ConsistentRead`, `ProjectionExpression`, ...), are
//! skipped, whatever JSON they hold (a text among them is unescaped all the same, so a lone
//! surrogate escape, which serde_json skipped unread, is refused).
//!
//! Where it differs from the serde reader, on bodies DynamoDB does not send: values may nest up
//! to 128 levels of `L`/`M` (DynamoDB allows 32; serde_json stopped at 128 levels of JSON, about
//! 62 of values), a skipped field up to 128 levels (serde_json skipped any depth), and an array
//! where the response or an unprocessed table's entry (objects) belong is refused (a derived
//! serde struct also took its fields in order from an array).
//!
//! [`plain_json`]: crate::value::plain_json

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::value::plain_json::first_special;
use crate::value::{AttributeValue, EntryName, Item, Name, Text};

/// The parts of a BatchGetItem response we use: the items found, per table, and the keys
/// DynamoDB did not get to (to be asked again).
#[derive(Debug, Default)]
pub struct BatchGetResponse {
    responses: HashMap<String, Vec<Item>>,
    unprocessed_keys: HashMap<String, Vec<Item>>,
}

impl BatchGetResponse {
    /// The items found in `table` (taken out of the response).
    pub fn take_items(&mut self, table: &str) -> Vec<Item> {
        self.responses.remove(table).unwrap_or_default()
    }

    /// The keys of `table` DynamoDB did not get to (taken out of the response).
    pub fn take_unprocessed_keys(&mut self, table: &str) -> Vec<Item> {
        self.unprocessed_keys.remove(table).unwrap_or_default()
    }
}

/// Why a response body could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct ReadError {
    pub offset: usize,
    pub reason: String,
}

/// Reads a BatchGetItem response body.
pub fn batch_get_response(body: &[u8]) -> Result<BatchGetResponse, ReadError> {
    let text = std::str::from_utf8(body).map_err(|e| ReadError {
        offset: e.valid_up_to(),
        reason: "not UTF-8".into(),
    })?;
    let mut reader = Reader { text, pos: 0 };
    let mut response = BatchGetResponse::default();
    // A field given twice is refused, as serde's derived reader refused it.
    let (mut responses, mut unprocessed) = (false, false);
    reader.object(|r, field| match field {
        "Responses" => {
            r.once(&mut responses, "Responses")?;
            r.object(|r, table| {
                let items = r.items()?;
                response.responses.insert(table.to_string(), items);
                Ok(())
            })
        }
        "UnprocessedKeys" => {
            r.once(&mut unprocessed, "UnprocessedKeys")?;
            r.object(|r, table| {
                let mut keys_seen = false;
                r.object(|r, field| match field {
                    "Keys" => {
                        r.once(&mut keys_seen, "Keys")?;
                        let keys = r.items()?;
                        response.unprocessed_keys.insert(table.to_string(), keys);
                        Ok(())
                    }
                    _ => r.skip_value(0),
                })
            })
        }
        _ => r.skip_value(0),
    })?;
    reader.whitespace();
    if reader.pos != text.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(response)
}

/// How deep values may nest before the body is refused: DynamoDB's items nest at most 32
/// levels; this bounds the reader's recursion on a body that is not DynamoDB's.
const MAX_NESTING: usize = 128;

/// A reader of JSON text at a position.
struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: impl Into<String>) -> ReadError {
        ReadError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// Marks a field as read, or refuses it when it was read before.
    fn once(&self, seen: &mut bool, field: &str) -> Result<(), ReadError> {
        if std::mem::replace(seen, true) {
            return Err(self.error(format!("duplicate field `{field}`")));
        }
        Ok(())
    }

    fn whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte` (after whitespace), or fails naming what was expected.
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ReadError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    /// A JSON string: borrowed from the body when it has no escape, else unescaped by
    /// serde_json.
    fn string(&mut self) -> Result<Cow<'a, str>, ReadError> {
        self.expect(b'"', "a string")?;
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let Some(found) = first_special(&bytes[start..]) else {
            self.pos = bytes.len();
            return Err(self.error("an unterminated string"));
        };
        let mut i = start + found;
        match bytes[i] {
            b'"' => {
                self.pos = i + 1;
                return Ok(Cow::Borrowed(&self.text[start..i]));
            }
            b'\\' => {}
            _ => {
                self.pos = i;
                return Err(self.error("a control character in a string"));
            }
        }
        // An escape: find the string's end (a quote not escaped), then let serde_json read
        // the whole literal, quotes included (it refuses a bad escape).
        loop {
            match bytes.get(i) {
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(&b) if b < 0x20 => {
                    self.pos = i;
                    return Err(self.error("a control character in a string"));
                }
                Some(_) => i += 1,
                None => {
                    self.pos = bytes.len();
                    return Err(self.error("an unterminated string"));
                }
            }
        }
        let literal = &self.text[start - 1..=i];
        let unescaped: String = serde_json::from_str(literal).map_err(|e| ReadError {
            offset: start - 1 + e.column().saturating_sub(1),
            reason: format!("a string: {e}"),
        })?;
        self.pos = i + 1;
        Ok(Cow::Owned(unescaped))
    }

    /// `true` or `false`.
    fn boolean(&mut self) -> Result<bool, ReadError> {
        self.whitespace();
        let rest = &self.text.as_bytes()[self.pos..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.error("expected true or false"))
        }
    }

    /// An object whose values `field` reads, one call per member (its name given).
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &str) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        self.expect(b'{', "an object")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let name = self.string()?;
            self.expect(b':', "':'")?;
            field(self, &name)?;
            if self.end_of(b'}')? {
                return Ok(());
            }
        }
    }

    /// After a member or an element: `,` (more follow) or `close` (the end).
    fn end_of(&mut self, close: u8) -> Result<bool, ReadError> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.error(format!("expected ',' or '{}'", char::from(close)))),
        }
    }

    /// An array whose elements `element` reads, one call each.
    fn array<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T, ReadError>,
    ) -> Result<Vec<T>, ReadError> {
        self.expect(b'[', "an array")?;
        let mut all = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(all);
        }
        loop {
            all.push(element(self)?);
            if self.end_of(b']')? {
                return Ok(all);
            }
        }
    }

    /// An array of items.
    fn items(&mut self) -> Result<Vec<Item>, ReadError> {
        self.array(|r| Ok(crate::value::item_from_fields(r.entries::<Name>(0)?)))
    }

    /// The members of an item or of a nested map: names and their values, in the body's order.
    fn entries<K: EntryName>(
        &mut self,
        depth: usize,
    ) -> Result<Vec<(K, AttributeValue)>, ReadError> {
        self.expect(b'{', "an object")?;
        let mut members = Vec::with_capacity(if depth == 0 { 24 } else { 8 });
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            let name = match self.string()? {
                Cow::Borrowed(text) => K::of_str(text),
                Cow::Owned(text) => K::of_string(text),
            };
            self.expect(b':', "':'")?;
            members.push((name, self.value(depth)?));
            if self.end_of(b'}')? {
                return Ok(members);
            }
        }
    }

    /// One value: an object of exactly one type tag.
    fn value(&mut self, depth: usize) -> Result<AttributeValue, ReadError> {
        if depth > MAX_NESTING {
            return Err(self.error("values nested too deep"));
        }
        self.expect(b'{', "a value (an object of one type tag)")?;
        if self.peek() == Some(b'}') {
            return Err(self.error("Expected exactly one key in the object, found none"));
        }
        let tag_at = self.pos;
        let tag = self.string()?;
        self.expect(b':', "':'")?;
        let value = match &*tag {
            "S" => AttributeValue::S(Text::from(self.string()?)),
            "N" => AttributeValue::N(Text::from(self.string()?)),
            "BOOL" => AttributeValue::Bool(self.boolean()?),
            "NULL" => AttributeValue::Null(self.boolean()?),
            "B" => AttributeValue::B(self.binary()?),
            "SS" => AttributeValue::Ss(self.array(|r| Ok(Text::from(r.string()?)))?),
            "NS" => AttributeValue::Ns(self.array(|r| Ok(Text::from(r.string()?)))?),
            "BS" => AttributeValue::Bs(self.array(Self::binary)?),
            "L" => AttributeValue::L(self.array(|r| r.value(depth + 1))?),
            "M" => AttributeValue::M(
                self.entries::<Text>(depth + 1)?
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
            ),
            other => {
                self.pos = tag_at;
                return Err(self.error(format!(
                    "unknown variant `{other}`, expected one of `S`, `N`, `B`, `BOOL`, `NULL`, `SS`, `NS`, `BS`, `L`, `M`"
                )));
            }
        };
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                Ok(value)
            }
            Some(b',') => {
                Err(self.error("Expected exactly one key in the object, found multiple keys"))
            }
            _ => Err(self.error("expected '}'")),
        }
    }

    /// Binary data: base64 text.
    fn binary(&mut self) -> Result<Vec<u8>, ReadError> {
        use base64::Engine as _;
        self.whitespace();
        let at = self.pos;
        let text = self.string()?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| ReadError {
                offset: at,
                reason: format!("Failed to decode base64: {e}"),
            })
    }

    /// Any JSON value, read and dropped (a field we do not use).
    fn skip_value(&mut self, depth: usize) -> Result<(), ReadError> {
        if depth > MAX_NESTING {
            return Err(self.error("values nested too deep"));
        }
        match self.peek() {
            Some(b'{') => self.object(|r, _| r.skip_value(depth + 1)),
            Some(b'[') => self.array(|r| r.skip_value(depth + 1)).map(drop),
            Some(b'"') => self.string().map(drop),
            Some(b't' | b'f') => self.boolean().map(drop),
            Some(b'n') if self.text.as_bytes()[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                // The number's text, then serde_json's judgement of it.
                let bytes = self.text.as_bytes();
                let start = self.pos;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = bytes.get(self.pos)
                {
                    self.pos += 1;
                }
                serde_json::from_str::<serde::de::IgnoredAny>(&self.text[start..self.pos])
                    .map(drop)
                    .map_err(|e| ReadError {
                        offset: start,
                        reason: format!("a number: {e}"),
                    })
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::dynamodb_json::tests::every_kind;

    #[test]
    fn a_batch_get_response_reads_items_and_unprocessed_keys() {
        let v = every_kind(&["a"]);
        let wire = serde_json::to_value(&v).unwrap();
        let body = json!({
            "Responses": {"data": [{"pk": {"S": "P#t"}, "sk": {"S": "1"}, "v": wire}]},
            "UnprocessedKeys": {"data": {"Keys": [{"pk": {"S": "P#t"}, "sk": {"S": "2"}}], "ConsistentRead": true}},
            "ConsumedCapacity": []
        });
        let mut read = batch_get_response(body.to_string().as_bytes()).unwrap();
        let items = read.take_items("data");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].get("v").unwrap().clone(), v);
        assert_eq!(items[0].get("sk").unwrap().clone(), crate::value::s("1"));
        assert_eq!(
            read.take_unprocessed_keys("data")[0]
                .get("sk")
                .unwrap()
                .clone(),
            crate::value::s("2")
        );
        // Nothing found, nothing left: both empty.
        let mut empty =
            batch_get_response(br#"{"Responses":{"data":[]},"UnprocessedKeys":{}}"#).unwrap();
        assert!(
            empty.take_items("data").is_empty() && empty.take_unprocessed_keys("data").is_empty()
        );
        // What DynamoDB never sends is refused, as serde_dynamo refuses it: an unknown tag, no
        // tag, two tags, bad base64.
        for bad in [
            r#"{"pk":{"X":"1"}}"#,
            r#"{"pk":{}}"#,
            r#"{"pk":{"S":"1","N":"1"}}"#,
            r#"{"pk":{"B":"***"}}"#,
            r#"{"pk":{"BS":["AA==","***"]}}"#,
            r#"{"pk":{"M":{"a":{"S":1}}}}"#,
        ] {
            let body = format!(r#"{{"Responses":{{"data":[{bad}]}}}}"#);
            assert!(batch_get_response(body.as_bytes()).is_err(), "{bad}");
            let item: Result<std::collections::HashMap<String, serde_dynamo::AttributeValue>, _> =
                serde_json::from_str(bad);
            assert!(item.is_err(), "serde_dynamo also refuses {bad}");
        }
    }

    /// Read as serde_dynamo reads the same item (its serde impls: the reference).
    fn as_serde_dynamo_reads(item: &str) -> Item {
        let theirs: HashMap<String, serde_dynamo::AttributeValue> =
            serde_json::from_str(item).unwrap();
        theirs
            .iter()
            .map(|(k, v)| (k.clone().into(), v.into()))
            .collect()
    }

    fn read_one(item: &str) -> Result<Item, ReadError> {
        let body = format!(r#"{{"Responses":{{"t":[{item}]}}}}"#);
        let mut read = batch_get_response(body.as_bytes())?;
        Ok(read.take_items("t").remove(0))
    }

    #[test]
    fn escapes_whitespace_and_every_tag_read_as_serde_dynamo_reads_them() {
        for item in [
            // Escaped names and texts: quotes, backslashes, control characters, \\u escapes,
            // a surrogate pair, non-ASCII text as it is.
            r#"{"pk":{"S":"P#t"},"n\"a\\me":{"S":"a\"b\\c\n\t\u00e9\ud83d\ude00 é"}}"#,
            r#"{"pk":{"S":"\u0050#t"},"sk":{"S":"\/x"}}"#,
            // Whitespace wherever JSON allows it.
            " { \"pk\" : { \"S\" : \"P#t\" } ,\n\t\"l\" : { \"L\" : [ { \"N\" : \"1\" } , { \"NULL\" : true } ] } } ",
            r#"{"m":{"M":{}},"l":{"L":[]},"ss":{"SS":["a","b"]},"ns":{"NS":["1","-2.5"]},"bs":{"BS":["AAH/",""]},"b":{"B":"AAH/"},"t":{"BOOL":true},"f":{"BOOL":false},"z":{"NULL":true}}"#,
            r#"{}"#,
        ] {
            assert_eq!(
                read_one(item).unwrap(),
                as_serde_dynamo_reads(item),
                "{item}"
            );
        }
        let every = serde_json::to_string(&every_kind(&["a", "b\"", "é"])).unwrap();
        let item = format!(r#"{{"v":{every}}}"#);
        assert_eq!(read_one(&item).unwrap(), as_serde_dynamo_reads(&item));
    }

    #[test]
    fn escaped_names_and_tags_and_dynamodbs_depth_are_read() {
        // A field, a table, a name and a tag spelled with escapes are the same names.
        let body = r#"{"Re\u0073ponses":{"\u0074":[{"p\u006b":{"\u0053":"x"},"v":{"S":"a very long text, past its first sixteen bytes: \u00e9\n"}}]}}"#;
        let mut read = batch_get_response(body.as_bytes()).unwrap();
        let items = read.take_items("t");
        assert_eq!(items[0].get("pk").unwrap().clone(), crate::value::s("x"));
        assert_eq!(
            items[0].get("v").unwrap().clone(),
            crate::value::s("a very long text, past its first sixteen bytes: é\n")
        );
        // DynamoDB's 32 levels (the property test goes 3 deep): read, and the same value.
        let deep = format!(
            r#"{{"v":{}{{"S":"x"}}{}}}"#,
            r#"{"M":{"k":{"L":["#.repeat(16),
            "]}}}".repeat(16)
        );
        assert_eq!(read_one(&deep).unwrap(), as_serde_dynamo_reads(&deep));
    }

    #[test]
    fn fields_we_do_not_use_are_skipped_whatever_they_hold() {
        // Written by hand: whitespace, an exponent, escapes and literals reach the skipping
        // code as they are (serde_json's writer would normalize them away).
        let body = r##" {
            "ConsumedCapacity" : [ { "TableName" : "t", "CapacityUnits" : 1.5e0, "Table" : { "CapacityUnits" : -0.5E-1 } } ] ,
            "Responses" : { "t" : [ { "pk" : { "S" : "P#t" } } ] , "other" : [ ] } ,
            "UnprocessedKeys" : { "t" : { "ConsistentRead" : true, "ProjectionExpression" : "#p0",
                "ExpressionAttributeNames" : { "#p0" : "pk" }, "AttributesToGet" : null,
                "Keys" : [ { "pk" : { "S" : "P#u" } } ] } } ,
            "Extra" : { "a\u0041" : [ 1, "x\"\u00e9", { "b" : null }, false, -3, 0.25, [ ] , { } ] }
        } "##;
        let mut read = batch_get_response(body.as_bytes()).unwrap();
        assert_eq!(read.take_items("t").len(), 1);
        assert!(read.take_items("other").is_empty());
        assert_eq!(
            read.take_unprocessed_keys("t")[0]
                .get("pk")
                .unwrap()
                .clone(),
            crate::value::s("P#u")
        );
        // Taken out: a second take finds nothing.
        assert!(read.take_items("t").is_empty());
    }

    #[test]
    fn a_body_that_is_not_a_response_is_refused_with_where() {
        for (bad, why) in [
            (
                r#"{"Responses":{"t":[{"pk":{"S":"a"}}]}"#,
                "expected ',' or '}'",
            ),
            (
                r#"{"Responses":{"t":[{"pk":{"S":"a}}]}}"#,
                "an unterminated string",
            ),
            (
                "{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"a\nb\"}}]}}",
                "a control character",
            ),
            (
                "{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"\\n\nb\"}}]}}",
                "a control character in a string",
            ),
            (
                r#"{"Responses":{"t":[{"pk":{"S":"\x"}}]}}"#,
                "a string: invalid escape",
            ),
            (
                r#"{"Responses":{"t":[{"pk":{"S":"\"}}]}}"#,
                "an unterminated string",
            ),
            (r#"{"Responses":{"t":[]}} x"#, "trailing characters"),
            (
                r#"{"Responses":{"t":[{"pk":"a"}]}}"#,
                "expected a value (an object of one type tag)",
            ),
            (r#"{"Responses":{"t":["a"]}}"#, "expected an object"),
            (
                r#"{"Responses":{"t":[{"pk":{"BOOL":1}}]}}"#,
                "expected true or false",
            ),
            (
                r#"{"Responses":{"t":[{"pk":{"S":"a"}}],}}"#,
                "expected a string",
            ),
            (r#"{"Responses":{"t":{}}}"#, "expected an array"),
            (r#"{"Extra":01x}"#, "a number"),
            (r#"{"Extra":nul}"#, "expected a JSON value"),
            ("", "expected an object"),
        ] {
            let error = batch_get_response(bad.as_bytes()).unwrap_err();
            assert!(error.reason.contains(why), "{bad}: {error}");
            assert!(error.offset <= bad.len(), "{bad}: {error}");
        }
        // Where: the byte the reader stopped at.
        let at = |bad: &str| batch_get_response(bad.as_bytes()).unwrap_err().offset;
        assert_eq!(at(r#"{"Responses":{"t":[{"pk":{"S":"a"}}]}"#), 37);
        assert_eq!(
            at("{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"a\nb\"}}]}}"),
            32
        );
        // A control character after an escape, and after the first 16 bytes of a text.
        assert_eq!(
            at("{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"\\n\nb\"}}]}}"),
            33
        );
        let long = format!(
            "{{\"Responses\":{{\"t\":[{{\"pk\":{{\"S\":\"{}\tb\"}}}}]}}}}",
            "x".repeat(40)
        );
        assert_eq!(at(&long), 31 + 40);
        assert_eq!(at(r#"{"Responses":{"t":[{"pk":{"X":"1"}}]}}"#), 26);
        assert_eq!(at(r#"{"Responses":{"t":[]}} x"#), 23);
        // A field given twice.
        for twice in [
            r#"{"Responses":{"t":[]},"Responses":{"t":[]}}"#,
            r#"{"UnprocessedKeys":{},"UnprocessedKeys":{}}"#,
            r#"{"UnprocessedKeys":{"t":{"Keys":[],"Keys":[]}}}"#,
        ] {
            let error = batch_get_response(twice.as_bytes()).unwrap_err();
            assert!(error.reason.contains("duplicate field"), "{twice}: {error}");
        }
        let not_utf8 =
            batch_get_response(b"{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"\xff\"}}]}}").unwrap_err();
        assert_eq!(
            (not_utf8.offset, not_utf8.reason.as_str()),
            (31, "not UTF-8")
        );
        // Nesting is bounded (the reader recurses): refused, not a stack overflow.
        let deep = format!(
            r#"{{"Responses":{{"t":[{{"v":{}{{"S":"x"}}{}}}]}}}}"#,
            r#"{"L":["#.repeat(200),
            "]}".repeat(200)
        );
        assert!(
            batch_get_response(deep.as_bytes())
                .unwrap_err()
                .reason
                .contains("too deep")
        );
        // A skipped field too.
        let deep_extra = format!(r#"{{"Extra":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
        assert!(
            batch_get_response(deep_extra.as_bytes())
                .unwrap_err()
                .reason
                .contains("too deep")
        );
    }
}
