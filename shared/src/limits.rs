//! The limits DynamoDB enforces on an item, checked the same way by both table adapters (so the
//! embedded store refuses what AWS would) and by Transform (so a file with such a row fails
//! before anything is written).

use crate::value::{AttributeValue, Item, MAX_DEPTH, get_s};

/// DynamoDB's maximum item size.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's maximum partition key (hash key) length, in UTF-8 bytes.
pub const MAX_PK_BYTES: usize = 2048;
/// DynamoDB's maximum sort key (range key) length, in UTF-8 bytes.
pub const MAX_SK_BYTES: usize = 1024;

/// An item's size as DynamoDB counts it: attribute names and values in UTF-8 bytes; a number
/// about one byte per two significant digits plus one; a map or list 3 bytes plus one per
/// element (and its members' names).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub(crate) fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(|s| s.len()).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
    }
}

pub(crate) fn number_size(n: &str) -> usize {
    let unsigned = n.strip_prefix('-').unwrap_or(n);
    let digits = if matches!(unsigned.as_bytes().first(), Some(b'1'..=b'9')) {
        // No leading zero to skip (most numbers): a count the compiler vectorizes.
        unsigned.bytes().filter(u8::is_ascii_digit).count()
    } else {
        significant_digits(n)
    };
    digits.div_ceil(2) + 1
}

/// The digits of `n` after its leading zeros.
fn significant_digits(n: &str) -> usize {
    n.bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|d| *d == b'0')
        .count()
}

/// [`value_size`] and [`depth`] of a value, in one walk.
fn size_and_depth(v: &AttributeValue) -> (usize, usize) {
    let nested = |members: &mut dyn Iterator<Item = (usize, &AttributeValue)>| {
        let (mut size, mut deepest) = (3, 0);
        for (name_len, e) in members {
            let (s, d) = size_and_depth(e);
            size += 1 + name_len + s;
            deepest = deepest.max(d);
        }
        (size, 1 + deepest)
    };
    match v {
        AttributeValue::L(l) => nested(&mut l.iter().map(|e| (0, e))),
        AttributeValue::M(m) => nested(&mut m.iter().map(|(k, e)| (k.len(), e))),
        scalar => (value_size(scalar), 0),
    }
}

/// How deeply maps and lists nest inside a value (a scalar is 0, `{}` is 1).
pub fn depth(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::L(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
        AttributeValue::M(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Checks the key lengths, the nesting depth and the size of an item about to be written.
pub fn check_item(item: &Item) -> Result<(), String> {
    check_item_with_added(item, 0, 0)
}

/// [`check_item`] of `item` with entries added to its `attributes` map (names the map does not
/// hold yet) that take `added_size` bytes as DynamoDB counts a map's members (Σ 1 + name +
/// value) and nest `added_depth` levels inside the map (1 + the deepest value's depth): the
/// same answer as building the whole item, without building it. Transform checks every row
/// this way: the row's attributes are neither cloned nor, where no rule needs them, built.
pub fn check_item_with_added(
    item: &Item,
    added_size: usize,
    added_depth: usize,
) -> Result<(), String> {
    check_keys(item)?;
    // The added entries count only where `attributes` is a map (not an `s3://` pointer).
    let (more_size, more_depth) = if matches!(item.get("attributes"), Some(AttributeValue::M(_))) {
        (added_size, added_depth)
    } else {
        (0, 0)
    };
    // Size and depth in one walk over the item (each put is checked before it is sent).
    let mut size = more_size;
    for (name, v) in item {
        let (value_size, value_depth) = size_and_depth(v);
        let value_depth = if name == "attributes" {
            value_depth.max(more_depth)
        } else {
            value_depth
        };
        if value_depth > MAX_DEPTH {
            return Err(too_deep(name));
        }
        size += name.len() + value_size;
    }
    check_size(size)
}

/// [`check_item`] of an item whose size ([`item_size`]) and first attribute nested deeper than
/// DynamoDB allows were measured elsewhere: by the DynamoDB adapter while it writes the item
/// into its request, which saves a second walk over every item it sends. The same answers, in
/// the same order, as [`check_item`].
pub fn check_measured(
    item: &Item,
    size: usize,
    too_deep_attribute: Option<&str>,
) -> Result<(), String> {
    check_keys(item)?;
    if let Some(name) = too_deep_attribute {
        return Err(too_deep(name));
    }
    check_size(size)
}

/// The key attributes: present, strings, not empty, within DynamoDB's lengths.
fn check_keys(item: &Item) -> Result<(), String> {
    for (name, max) in [("pk", MAX_PK_BYTES), ("sk", MAX_SK_BYTES)] {
        match get_s(item, name) {
            Some("") => return Err(format!("{name} is empty")),
            Some(k) if k.len() > max => {
                return Err(format!(
                    "{name} is {} bytes, more than DynamoDB's {max}",
                    k.len()
                ));
            }
            Some(_) => {}
            None => return Err(format!("{name} is missing or not a string")),
        }
    }
    Ok(())
}

fn too_deep(name: &str) -> String {
    format!("{name} is nested deeper than DynamoDB's {MAX_DEPTH} levels")
}

fn check_size(size: usize) -> Result<(), String> {
    if size > MAX_ITEM_BYTES {
        return Err(format!(
            "the item is {size} bytes, more than DynamoDB's 400 KB"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{from_json_str, s};

    fn item(sk: &str) -> Item {
        let mut i = Item::new();
        i.insert("pk".into(), s("P#t"));
        i.insert("sk".into(), s(sk));
        i
    }

    proptest::proptest! {
        /// A number's size counts its digits after the leading zeros, whatever its text.
        #[test]
        fn number_sizes_count_the_significant_digits(n in "-?[0-9]{0,20}(\\.[0-9]{0,20})?") {
            proptest::prop_assert_eq!(number_size(&n), significant_digits(&n).div_ceil(2) + 1);
        }
    }

    #[test]
    fn sizes_follow_dynamodb() {
        let mut i = item("a");
        // "pk"+"P#t" + "sk"+"a" = 2+3+2+1
        assert_eq!(item_size(&i), 8);
        i.insert("n".into(), AttributeValue::N("12345".into()));
        assert_eq!(item_size(&i), 8 + 1 + 4);
        i.insert("m".into(), from_json_str(r#"{"a":[true]}"#).unwrap());
        // m: 1 + (3 + 1 + 1 + (3 + 1 + 1))
        assert_eq!(item_size(&i), 13 + 1 + 10);
    }

    #[test]
    fn one_walk_gives_the_size_and_the_depth() {
        for json in [
            r#"{"a":[true,{"b":[1,2,{"c":"xyz"}]}],"d":null}"#,
            r#"[]"#,
            r#"{}"#,
            r#"[[[[1]]],{"k":{"l":{}}}]"#,
            r#""text""#,
            r#"12345.678"#,
        ] {
            let v = from_json_str(json).unwrap();
            assert_eq!(size_and_depth(&v), (value_size(&v), depth(&v)), "{json}");
        }
    }

    #[test]
    fn limits_are_named() {
        assert!(check_item(&item(&"k".repeat(1024))).is_ok());
        assert!(
            check_item(&item(&"k".repeat(1025)))
                .unwrap_err()
                .contains("sk is 1025 bytes")
        );
        assert!(check_item(&item("")).unwrap_err().contains("sk is empty"));
        let mut big = item("a");
        big.insert("blob".into(), s("x".repeat(MAX_ITEM_BYTES)));
        assert!(check_item(&big).unwrap_err().contains("400 KB"));
        let mut deep = item("a");
        let mut v = AttributeValue::N("1".into());
        for _ in 0..33 {
            v = AttributeValue::L(vec![v]);
        }
        deep.insert("d".into(), v);
        assert!(check_item(&deep).unwrap_err().contains("32 levels"));
    }
}
