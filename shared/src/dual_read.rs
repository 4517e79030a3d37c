//! Reading while tenant codes are being lowercased (the migration guide's dual read): an entity
//! may still live under its legacy uppercase key. Reads try the lowercase key first, then the
//! legacy spellings, and merge preferring lowercase. Each legacy hit is logged (keys only, never
//! attribute values) so a team can watch them go to zero.
//!
//! Used by Verify (a normalize job proves no live legacy item remains in its scope) and by
//! `migrate get/query --tenant-fallback`.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::keys::{KEY_SEPARATOR, Key};
use crate::ports::table::{Table, query_all};
use crate::value::{Item, get_bool, get_s};

/// The partition keys `pk`'s entities may live under, lowercase first: `TYPE#tenant`,
/// then the spelling given, then the all-uppercase one (each once).
pub fn tenant_spellings(pk: &str) -> Vec<String> {
    let Some((entity_type, tenant)) = pk.rsplit_once(KEY_SEPARATOR) else {
        return vec![pk.to_string()];
    };
    let mut out: Vec<String> = Vec::with_capacity(3);
    for tenant in [
        tenant.to_lowercase(),
        tenant.to_string(),
        tenant.to_uppercase(),
    ] {
        let candidate = crate::keys::pk(entity_type, &tenant).to_string();
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// Whether a partition key's tenant code has uppercase letters (a legacy key).
pub fn is_legacy_pk(pk: &str) -> bool {
    pk.rsplit_once(KEY_SEPARATOR)
        .is_some_and(|(_, tenant)| tenant.chars().any(char::is_uppercase))
}

/// An item and the key it was found under.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub item: Item,
    /// Served from a legacy (uppercase) key, not the lowercase one.
    pub legacy: bool,
}

impl Found {
    pub fn is_live(&self) -> bool {
        get_bool(&self.item, "isDeleted") != Some(true)
    }
}

fn log_legacy(table: &str, item: &Item) {
    tracing::info!(
        table,
        pk = get_s(item, "pk").unwrap_or_default(),
        sk = get_s(item, "sk").unwrap_or_default(),
        "dual read: served from a legacy uppercase tenant key"
    );
}

/// One entity with the tenant fallback: the lowercase key's item if there is one, else the first
/// legacy spelling that has it.
pub async fn get(table: &dyn Table, name: &str, key: &Key) -> Result<Option<Found>, Error> {
    let spellings = tenant_spellings(&key.pk);
    let lowercase = spellings.first().cloned();
    for pk in spellings {
        if let Some(item) = table.get_item(name, &Key::new(&pk, &key.sk)).await? {
            let legacy = Some(&pk) != lowercase.as_ref();
            if legacy {
                log_legacy(name, &item);
            }
            return Ok(Some(Found { item, legacy }));
        }
    }
    Ok(None)
}

/// A partition with the tenant fallback, in sk order: every sk under any spelling, the
/// lowercase key's item winning over legacy ones.
pub async fn list(
    table: &dyn Table,
    name: &str,
    pk: &str,
    sk_prefix: Option<&str>,
) -> Result<Vec<Found>, Error> {
    let mut merged: BTreeMap<String, Found> = BTreeMap::new();
    for (i, spelling) in tenant_spellings(pk).into_iter().enumerate() {
        for item in query_all(table, name, &spelling, sk_prefix).await? {
            let sk = get_s(&item, "sk").unwrap_or_default().to_string();
            if merged.contains_key(&sk) {
                continue; // an earlier (lowercase-first) spelling has it
            }
            let legacy = i > 0;
            if legacy {
                log_legacy(name, &item);
            }
            merged.insert(sk, Found { item, legacy });
        }
    }
    Ok(merged.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_first_then_the_legacy_spellings() {
        assert_eq!(
            tenant_spellings("PRODUCT#My_Tenant"),
            [
                "PRODUCT#my_tenant",
                "PRODUCT#My_Tenant",
                "PRODUCT#MY_TENANT"
            ]
        );
        assert_eq!(
            tenant_spellings("PRODUCT#acme"),
            ["PRODUCT#acme", "PRODUCT#ACME"]
        );
        assert!(is_legacy_pk("PRODUCT#Acme"));
        assert!(!is_legacy_pk("PRODUCT#acme"));
        assert!(!is_legacy_pk("PRODUCT#123"));
    }
}
