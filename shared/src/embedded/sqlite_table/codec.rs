//! Items as the embedded store keeps them: postcard (serde with varint lengths, no field or type
//! names spelled out) over the DynamoDB value model, so numbers keep their exact text.
//!
//! A data-table row of the reference input is ≈1.1 KB as DynamoDB JSON and ≈0.8 KB here, which
//! keeps every row inside one 4 KB page (no overflow chain), and decoding it is a walk rather than
//! a JSON parse.

use crate::error::StoreError;
use crate::value::Item;

pub fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(item)
        .map_err(|e| StoreError::InvalidRequest(format!("item cannot be encoded: {e}")))
}

pub fn decode(body: &[u8]) -> Result<Item, StoreError> {
    // Known names are borrowed, not allocated for every row read (`value::ItemIn`).
    postcard::from_bytes::<crate::value::ItemIn>(body)
        .map(|item| item.0)
        .map_err(|e| StoreError::Corrupt(format!("stored item: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{AttributeValue, n, s};

    #[test]
    fn every_kind_of_value_round_trips_exactly() {
        let mut item = Item::new();
        item.insert("pk".into(), s("PRODUCT#t"));
        item.insert("n".into(), n("12345678901234567890123456789012345678"));
        item.insert("f".into(), n("0.1"));
        item.insert("b".into(), AttributeValue::B(vec![0, 1, 255]));
        item.insert("bool".into(), AttributeValue::Bool(true));
        item.insert("null".into(), AttributeValue::Null(true));
        item.insert(
            "ss".into(),
            AttributeValue::Ss(vec!["a".into(), "b".into()]),
        );
        item.insert("ns".into(), AttributeValue::Ns(vec!["1".into()]));
        item.insert("bs".into(), AttributeValue::Bs(vec![vec![7]]));
        item.insert(
            "m".into(),
            AttributeValue::M(
                [("x".into(), AttributeValue::L(vec![s("é"), n("-1")]))]
                    .into_iter()
                    .collect(),
            ),
        );
        let bytes = encode(&item).unwrap();
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded, item);
        // A known name is read without an allocation of its own; any other is kept as written.
        let names: Vec<bool> = decoded
            .keys()
            .map(|k| matches!(k, std::borrow::Cow::Borrowed(_)))
            .collect();
        let expected: Vec<bool> = decoded.keys().map(|k| k == "pk").collect();
        assert_eq!(names, expected);
        let json = serde_json::to_vec(&item).unwrap();
        assert!(
            bytes.len() < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn a_damaged_body_is_corrupt_not_a_panic() {
        let bytes = encode(&[("pk".into(), s("p"))].into_iter().collect()).unwrap();
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
