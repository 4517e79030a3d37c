//! The app's TTL rules, read as the framework's `TtlService` reads them: the master data table
//! holds, per tenant, `pk = "MASTER#{tenantCode}"`, `sk = "TTL#{tableName}"` with
//! `attributes.days`; a row written to `tableName` then gets `ttl = now + days × 86,400`
//! (epoch seconds). No rule (or no master data table) means no ttl (`NULL`).

use std::collections::{BTreeSet, HashMap};

use crate::error::Error;
use crate::keys::Key;
use crate::ports::table::{MAX_BATCH_GET, Table};
use crate::value::{AttributeValue, get_s, normalize_number};

/// `masterPk(tenantCode)` and `ttlSk(tableName)`.
pub fn rule_key(tenant: &str, table: &str) -> Key {
    Key::new(format!("MASTER#{tenant}"), format!("TTL#{table}"))
}

/// `calculateUnixTime(days, now)`: whole seconds of now plus the days.
pub fn ttl_from(days: f64, now_epoch_seconds: i64) -> Option<crate::value::Text> {
    if days.is_nan() || days <= 0.0 || !days.is_finite() {
        return None;
    }
    let ttl = now_epoch_seconds as f64 + days * 86_400.0;
    normalize_number(&format!("{ttl}")).ok()
}

/// The ttl the rules give rows of `table` for each of `tenants` (tenants without a rule absent).
pub async fn ttls_for(
    store: &dyn Table,
    master_table: &str,
    table: &str,
    tenants: &BTreeSet<String>,
    now_epoch_seconds: i64,
) -> Result<HashMap<crate::value::Text, crate::value::Text>, Error> {
    let keys: Vec<Key> = tenants.iter().map(|t| rule_key(t, table)).collect();
    let mut out = HashMap::new();
    for batch in keys.chunks(MAX_BATCH_GET) {
        for item in store.batch_get(master_table, batch).await? {
            let Some(tenant) = get_s(&item, "pk").and_then(|pk| pk.strip_prefix("MASTER#")) else {
                continue;
            };
            let days = match item.get("attributes") {
                Some(AttributeValue::M(m)) => match m.get("days") {
                    // `+numberOfDay`: a number or numeric text.
                    Some(AttributeValue::N(n)) | Some(AttributeValue::S(n)) => {
                        n.trim().parse::<f64>().ok()
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(ttl) = days.and_then(|d| ttl_from(d, now_epoch_seconds)) {
                out.insert(tenant.into(), ttl);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_epoch_seconds() {
        assert_eq!(ttl_from(90.0, 1_700_000_000), Some("1707776000".into()));
        assert_eq!(ttl_from(0.0, 1_700_000_000), None);
        assert_eq!(ttl_from(-1.0, 1_700_000_000), None);
        assert_eq!(
            rule_key("my_tenant", "dev-app-product-data"),
            Key::new("MASTER#my_tenant", "TTL#dev-app-product-data")
        );
    }
}
