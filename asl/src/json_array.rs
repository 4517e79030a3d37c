//! Reading a JSON array one item at a time, from any reader: a Distributed Map's ItemReader
//! (and the pipeline's chunk manifest) of any length costs one item in memory.

use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};

/// Why an array could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    #[error("not a JSON array")]
    NotAnArray,
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    /// The callback asked to stop.
    #[error("stopped")]
    Stopped,
}

/// Calls `f` with each item of the JSON array `reader` holds, in order, one at a time; `f`
/// returns `false` to stop (then [`ArrayError::Stopped`]). The whole input must be one array:
/// anything after it, or an item that is not a `T`, is an error.
pub fn for_each<T: DeserializeOwned>(
    reader: impl std::io::Read,
    f: &mut dyn FnMut(T) -> bool,
) -> Result<(), ArrayError> {
    struct Each<'a, T> {
        f: &'a mut dyn FnMut(T) -> bool,
        stopped: &'a mut bool,
        /// Set once the top-level value is an array.
        entered: &'a mut bool,
    }
    impl<'de, T: DeserializeOwned> Visitor<'de> for Each<'_, T> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            *self.entered = true;
            while let Some(item) = seq.next_element::<T>()? {
                if !(self.f)(item) {
                    *self.stopped = true;
                    return Err(A::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    let (mut stopped, mut entered) = (false, false);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let read = serde::Deserializer::deserialize_seq(
        &mut de,
        Each {
            f,
            stopped: &mut stopped,
            entered: &mut entered,
        },
    )
    .and_then(|()| de.end());
    if stopped {
        return Err(ArrayError::Stopped);
    }
    read.map_err(|e| {
        // A top-level value of another type (an item of the wrong type is a data error too,
        // once the array has begun).
        if e.is_data() && !entered {
            ArrayError::NotAnArray
        } else {
            ArrayError::Json(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn all(text: &str) -> Result<Vec<Value>, ArrayError> {
        let mut out = Vec::new();
        for_each(text.as_bytes(), &mut |v: Value| {
            out.push(v);
            true
        })
        .map(|()| out)
    }

    #[test]
    fn reads_items_in_order_and_refuses_what_is_not_one_array() {
        assert_eq!(
            all(" [1, {\"a\": [2]}, \"x\"] ").unwrap(),
            vec![json!(1), json!({"a": [2]}), json!("x")]
        );
        assert_eq!(all("[]").unwrap(), Vec::<Value>::new());
        for other in ["{\"a\": 1}", "123", "\"x\"", "null", " \n true"] {
            assert!(matches!(all(other), Err(ArrayError::NotAnArray)), "{other}");
        }
        for bad in ["[1, 2", "[1] 2", "[1,]", ""] {
            assert!(matches!(all(bad), Err(ArrayError::Json(_))), "{bad}");
        }
    }

    #[test]
    fn stops_when_asked() {
        let mut seen = 0;
        let read = for_each("[1, 2, 3, 4]".as_bytes(), &mut |_: Value| {
            seen += 1;
            seen < 2
        });
        assert!(matches!(read, Err(ArrayError::Stopped)));
        assert_eq!(seen, 2);
    }
}
