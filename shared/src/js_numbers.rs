//! Numbers as the app's JavaScript readers see them (DESIGN §3 "Numbers").
//!
//! The pipeline keeps DynamoDB numbers exactly (38 digits), but `@mbc-cqrs-serverless/core`
//! unmarshalls without `wrapNumbers`: an integer beyond 2^53−1 comes back as a BigInt (the app's
//! API answers 500 on `JSON.stringify`, and every later publish of the entity throws) and a
//! longer decimal is rounded or throws. The job's `unsafeNumbers` decides what such a number
//! does at Transform, before anything is written.

use serde::{Deserialize, Serialize};

use crate::value::{AttributeValue, Attributes, normalize_number};

/// The job's `unsafeNumbers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsafeNumbers {
    /// The row is rejected, naming the attribute path and the value.
    #[default]
    Reject,
    /// Stored as a string of its exact decimal text.
    String,
    /// Stored exactly, for readers that are not JavaScript.
    Keep,
}

/// 2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: &str = "9007199254740991";

/// Whether JavaScript reads this (DynamoDB-normalized) number as the same value: an integer
/// within ±(2^53−1), or a decimal whose shortest float64 form reads back as the same decimal.
pub fn is_js_safe(normalized: &str) -> bool {
    // At most 15 characters is at most 15 digits: an integer below 10^15 (< 2^53) or a decimal
    // of at most 15 significant digits, safe either way (most numbers in real data; the shape
    // reader asks this of every number of every row).
    normalized.len() <= 15 || is_js_safe_with(normalized, 15)
}

/// [`is_js_safe`], taking decimals of at most `exact_digits` significant digits as safe
/// without the float64 round trip.
fn is_js_safe_with(normalized: &str, exact_digits: usize) -> bool {
    let digits = normalized.strip_prefix('-').unwrap_or(normalized);
    if !digits.contains('.') {
        return digits.len() < MAX_SAFE_INTEGER.len()
            || (digits.len() == MAX_SAFE_INTEGER.len() && digits <= MAX_SAFE_INTEGER);
    }
    // A decimal of at most 15 significant digits (within DynamoDB's range, far from float64's
    // subnormals) always reads back as itself: float64 holds 15 decimal digits exactly.
    let significant = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|d| *d == b'0')
        .count();
    if significant <= exact_digits {
        return true;
    }
    match normalized.parse::<f64>() {
        // Rust prints a float64 in its shortest round-tripping form, as JavaScript does.
        Ok(f) if f.is_finite() => normalize_number(&format!("{f}")).as_deref() == Ok(normalized),
        _ => false,
    }
}

/// Applies the policy to every number in `attributes` (nested maps and lists included). With
/// `Reject`, the error names the first unsafe number's path and value.
pub fn apply(attributes: &mut Attributes, policy: UnsafeNumbers) -> Result<(), String> {
    if policy == UnsafeNumbers::Keep {
        return Ok(());
    }
    for (name, value) in attributes.iter_mut() {
        visit(value, &mut format!("attributes.{name}"), policy)?;
    }
    Ok(())
}

/// Checks a top-level number field (`seq`, `ttl`): these are always read by JavaScript, so an
/// unsafe one is rejected whatever the policy.
pub fn check_field(field: &str, value: &str) -> Result<(), String> {
    if is_js_safe(value) {
        Ok(())
    } else {
        Err(format!(
            "{field}: number {value} is beyond what JavaScript reads exactly (2^53-1, or a float64)"
        ))
    }
}

fn visit(
    value: &mut AttributeValue,
    path: &mut String,
    policy: UnsafeNumbers,
) -> Result<(), String> {
    match value {
        AttributeValue::N(n) if !is_js_safe(n) => match policy {
            UnsafeNumbers::String => *value = AttributeValue::S(std::mem::take(n)),
            _ => {
                return Err(format!(
                    "{path}: number {n} is beyond what JavaScript reads exactly (an integer over 2^53-1, or more digits than a float64 holds); the app would read it as a BigInt or a rounded value. Set \"unsafeNumbers\": \"string\" to store it as text, or \"keep\" for non-JavaScript readers"
                ));
            }
        },
        AttributeValue::Ns(set) => {
            if let Some(bad) = set.iter().find(|n| !is_js_safe(n)) {
                return Err(format!(
                    "{path}: number set member {bad} is beyond what JavaScript reads exactly"
                ));
            }
        }
        AttributeValue::M(map) => {
            for (name, v) in map.iter_mut() {
                let len = path.len();
                path.push('.');
                path.push_str(name);
                visit(v, path, policy)?;
                path.truncate(len);
            }
        }
        AttributeValue::L(list) => {
            for (i, v) in list.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                visit(v, path, policy)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// Decimals of up to 15 significant digits survive the float64 round trip, at every
        /// magnitude DynamoDB allows: the shortcut answers as the round trip.
        #[test]
        fn fifteen_digit_decimals_are_exact(
            digits in "[1-9][0-9]{0,14}",
            point in 0usize..16,
            zeros in 0usize..125,
            negative in proptest::prelude::any::<bool>(),
        ) {
            let point = point.min(digits.len());
            let text = if zeros % 2 == 0 {
                format!("{}{}.{}1", &digits[..point], "0".repeat(zeros / 8), &digits[point..])
            } else {
                format!("0.{}{}", "0".repeat(zeros), digits)
            };
            let text = format!("{}{text}", if negative { "-" } else { "" });
            let Ok(normalized) = normalize_number(&text) else { return Ok(()); };
            if normalized.contains('.') {
                proptest::prop_assert_eq!(
                    is_js_safe_with(&normalized, 15),
                    is_js_safe_with(&normalized, 0),
                    "{}", normalized
                );
            }
        }
    }
    proptest::proptest! {
        /// The length shortcut answers as the digits do, for any normalized number.
        #[test]
        fn short_numbers_are_safe_as_their_digits_say(
            text in "-?(0|[1-9][0-9]{0,17})(\\.[0-9]{0,16}[1-9])?",
        ) {
            let normalized = normalize_number(&text).unwrap();
            proptest::prop_assert_eq!(
                is_js_safe(&normalized),
                is_js_safe_with(&normalized, 15),
                "{}", normalized
            );
        }

        /// Integers around the shortcut's length and 2^53 (15 to 17 digits, signed or not).
        #[test]
        fn integers_near_the_shortcut_are_judged_by_value(text in "-?[1-9][0-9]{14,16}") {
            let digits = text.trim_start_matches('-');
            let safe = digits.len() < 16 || digits.parse::<u64>().unwrap() < 1u64 << 53;
            proptest::prop_assert_eq!(is_js_safe(&text), safe, "{}", text);
        }
    }

    use crate::value::attributes_from_json_str;

    #[test]
    fn safe_and_unsafe_numbers() {
        for safe in [
            "0",
            "162.59",
            "-9007199254740991",
            "9007199254740991",
            "-900719925474099",
            "999999999999999",
            "0.1",
            "1.5",
            "0.0000001",
            "123456789012.25",
        ] {
            assert!(is_js_safe(safe), "{safe}");
        }
        for text in [
            "12345678901234567890123456789012345678",
            "9007199254740992",
            "-9007199254740993",
            "1.5E+30",
            "12345678901234567890.12345",
            "0.12345678901234567890123",
        ] {
            let n = normalize_number(text).unwrap();
            assert!(!is_js_safe(&n), "{text}");
        }
    }

    #[test]
    fn reject_names_the_path_and_string_keeps_the_digits() {
        let json =
            r#"{"ok":1,"dims":{"list":[1,{"precise":12345678901234567890123456789012345678}]}}"#;
        let mut attrs = attributes_from_json_str(json).unwrap();
        let err = apply(&mut attrs.clone(), UnsafeNumbers::Reject).unwrap_err();
        assert!(
            err.starts_with(
                "attributes.dims.list[1].precise: number 12345678901234567890123456789012345678"
            ),
            "{err}"
        );
        apply(&mut attrs, UnsafeNumbers::String).unwrap();
        let AttributeValue::M(dims) = &attrs["dims"] else {
            panic!()
        };
        let AttributeValue::L(list) = &dims["list"] else {
            panic!()
        };
        let AttributeValue::M(inner) = &list[1] else {
            panic!()
        };
        assert_eq!(
            inner["precise"],
            AttributeValue::S("12345678901234567890123456789012345678".into())
        );
        assert_eq!(attrs["ok"], AttributeValue::N("1".into()));
        let mut kept = attributes_from_json_str(json).unwrap();
        apply(&mut kept, UnsafeNumbers::Keep).unwrap();
        assert_eq!(kept, attributes_from_json_str(json).unwrap());
    }
}
