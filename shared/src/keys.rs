//! Keys of the MBC CQRS data model (DESIGN §3).
//!
//! `pk = "{TYPE}#{tenantCode}"`, `id = "{pk}#{sk}"`, command and history rows live at
//! `"{sk}@{version}"`; the tenant code of a pk is the text after its last `#`.

use serde::{Deserialize, Serialize};

use crate::value::{IntoText, Text};

pub const KEY_SEPARATOR: char = '#';
pub const VER_SEPARATOR: char = '@';

/// The primary key shared by every table of the pipeline (all have `pk` + `sk` strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub pk: Text,
    pub sk: Text,
}

impl Key {
    pub fn new(pk: impl IntoText, sk: impl IntoText) -> Self {
        Key {
            pk: pk.into_text(),
            sk: sk.into_text(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.pk, self.sk)
    }
}

/// `"{TYPE}#{tenantCode}"`.
pub fn pk(entity_type: &str, tenant_code: &str) -> Text {
    joined(entity_type, KEY_SEPARATOR, tenant_code)
}

/// `"{pk}#{sk}"`, the entity id (sk without version).
pub fn id(pk: &str, sk: &str) -> Text {
    joined(pk, KEY_SEPARATOR, sk)
}

/// `"{sk}@{version}"`: the sort key of a command or history row.
pub fn versioned_sk(sk: &str, version: u64) -> Text {
    joined(sk, VER_SEPARATOR, itoa::Buffer::new().format(version))
}

/// `"{a}{separator}{b}"`, inline when short, else allocated once at its length. Keys are built
/// several times for every row a job reads or writes, and `format!` costs several times this
/// (its formatting machinery, and a string grown as it goes).
fn joined(a: &str, separator: char, b: &str) -> Text {
    let mut out = Text::with_capacity(a.len() + separator.len_utf8() + b.len());
    out.push_str(a);
    out.push(separator);
    out.push_str(b);
    out
}

/// Splits `"{sk}@{version}"` back into its parts (`None` if there is no numeric version suffix).
pub fn split_versioned_sk(versioned: &str) -> Option<(&str, u64)> {
    let (sk, version) = versioned.rsplit_once(VER_SEPARATOR)?;
    Some((sk, version.parse().ok()?))
}

/// A pk split at its last `#`. Transform asks for a row's type and tenant several times per row:
/// a backward loop over a pk's few bytes costs a tenth of `str::rsplit_once(char)`'s searcher
/// (which calls `memrchr` and re-checks the char). `#` is ASCII, so both sides are `str`s.
fn split_pk(pk: &str) -> Option<(&str, &str)> {
    const SEPARATOR: u8 = KEY_SEPARATOR as u8;
    let at = pk.bytes().rposition(|b| b == SEPARATOR)?;
    Some((&pk[..at], &pk[at + 1..]))
}

/// The tenant code of a pk: the text after its last `#` (`None` when there is no `#` or it is empty).
pub fn tenant_of_pk(pk: &str) -> Option<&str> {
    split_pk(pk).map(|(_, t)| t).filter(|t| !t.is_empty())
}

/// The entity type of a pk: the text before its last `#` (`None` when there is no `#` or it is empty).
pub fn type_of_pk(pk: &str) -> Option<&str> {
    split_pk(pk).map(|(t, _)| t).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_splits_keys() {
        let pk = pk("PRODUCT", "MY_TENANT");
        assert_eq!(pk, "PRODUCT#MY_TENANT");
        assert_eq!(id(&pk, "P001"), "PRODUCT#MY_TENANT#P001");
        assert_eq!(versioned_sk("P001", 3), "P001@3");
        assert_eq!(split_versioned_sk("P001@3"), Some(("P001", 3)));
        assert_eq!(split_versioned_sk("A@B@12"), Some(("A@B", 12)));
        assert_eq!(split_versioned_sk("P001"), None);
        assert_eq!(split_versioned_sk("P001@x"), None);
    }

    #[test]
    fn tenant_is_after_the_last_separator() {
        assert_eq!(tenant_of_pk("MASTER#SUB#tenant1"), Some("tenant1"));
        assert_eq!(type_of_pk("MASTER#SUB#tenant1"), Some("MASTER#SUB"));
        assert_eq!(tenant_of_pk("NOTENANT"), None);
        assert_eq!(tenant_of_pk("PRODUCT#"), None);
        assert_eq!(type_of_pk("#tenant"), None);
    }

    proptest::proptest! {
        #[test]
        fn a_pk_splits_as_rsplit_once_splits_it(pk in "[A#é_a-z\u{1F600}]{0,12}") {
            proptest::prop_assert_eq!(split_pk(&pk), pk.rsplit_once(KEY_SEPARATOR));
        }
    }
}
