//! Command, data and history rows of MBC CQRS Serverless (DESIGN §3), and their items.
//!
//! One struct, [`EntityRow`], holds every MBC field. The three tables differ only in the sort
//! key (`{sk}` in data, `{sk}@{version}` in command and history) and in a few fields:
//! data rows carry `cpk`/`csk` (the command that produced them), command rows carry
//! `syncMode: "SYNC"` so an existing MBC data-sync pipeline ignores them. Top-level fields we
//! do not know are kept in `extra` so rewriting a row never drops them.

use std::collections::BTreeSet;

use crate::keys::{self, Key};
use crate::value::{AttributeValue, Attributes, Item, get_bool, get_n, get_s, n, s};

/// Attributes written by the pipeline itself: recorded on write, ignored when comparing.
pub const METADATA_ATTRIBUTES: [&str; 10] = [
    "_migrated",
    "_migrationId",
    "_migratedAt",
    "_migratedBy",
    "_migratedFrom",
    "_migratedTo",
    "_sourceKey",
    "_sourceVersion",
    "_rolledBackFrom",
    "_rolledBackAt",
];

pub fn is_metadata(name: &str) -> bool {
    METADATA_ATTRIBUTES.contains(&name)
}

/// `syncMode` value of the command rows we publish.
pub const SYNC_MODE: &str = "SYNC";

const KNOWN_FIELDS: [&str; 23] = [
    "pk",
    "sk",
    "id",
    "code",
    "name",
    "version",
    "tenantCode",
    "type",
    "isDeleted",
    "seq",
    "ttl",
    "attributes",
    "source",
    "requestId",
    "createdAt",
    "createdBy",
    "createdIp",
    "updatedAt",
    "updatedBy",
    "updatedIp",
    "cpk",
    "csk",
    "syncMode",
];

/// An entity version: a data row, a command row or a history row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityRow {
    pub pk: String,
    /// The sort key *without* version (the table-specific key is built by `to_*_item`).
    pub sk: String,
    pub id: String,
    pub code: String,
    pub name: String,
    pub version: u64,
    pub tenant_code: String,
    pub entity_type: String,
    pub is_deleted: bool,
    /// Normalized decimal text (DynamoDB number).
    pub seq: Option<String>,
    /// Epoch seconds (DynamoDB number, normalized decimal text).
    pub ttl: Option<String>,
    pub attributes: Attributes,
    pub source: String,
    pub request_id: String,
    pub created_at: String,
    pub created_by: String,
    pub created_ip: String,
    pub updated_at: String,
    pub updated_by: String,
    pub updated_ip: String,
    /// Data rows: key of the command row that produced this version.
    pub cpk: Option<String>,
    pub csk: Option<String>,
    /// Top-level fields this pipeline does not interpret, preserved as they are.
    pub extra: Item,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored item {key}: {reason}")]
pub struct ModelError {
    pub key: String,
    pub reason: String,
}

impl EntityRow {
    /// The key of this entity in the data table.
    pub fn data_key(&self) -> Key {
        Key::new(&self.pk, &self.sk)
    }

    /// The key of this version in the command (or history) table.
    pub fn versioned_key(&self) -> Key {
        Key::new(&self.pk, keys::versioned_sk(&self.sk, self.version))
    }

    /// The attributes without pipeline metadata (what comparison looks at).
    pub fn content_attributes(&self) -> Attributes {
        content_attributes(&self.attributes)
    }

    fn common_item(&self, sk: String) -> Item {
        let mut item = self.extra.clone();
        item.insert("pk".into(), s(&self.pk));
        item.insert("sk".into(), s(sk));
        item.insert("id".into(), s(&self.id));
        item.insert("code".into(), s(&self.code));
        item.insert("name".into(), s(&self.name));
        item.insert("version".into(), n(self.version));
        item.insert("tenantCode".into(), s(&self.tenant_code));
        item.insert("type".into(), s(&self.entity_type));
        item.insert("isDeleted".into(), AttributeValue::Bool(self.is_deleted));
        if let Some(seq) = &self.seq {
            item.insert("seq".into(), AttributeValue::N(seq.clone()));
        }
        if let Some(ttl) = &self.ttl {
            item.insert("ttl".into(), AttributeValue::N(ttl.clone()));
        }
        item.insert(
            "attributes".into(),
            AttributeValue::M(self.attributes.clone().into_iter().collect()),
        );
        for (field, value) in [
            ("source", &self.source),
            ("requestId", &self.request_id),
            ("createdAt", &self.created_at),
            ("createdBy", &self.created_by),
            ("createdIp", &self.created_ip),
            ("updatedAt", &self.updated_at),
            ("updatedBy", &self.updated_by),
            ("updatedIp", &self.updated_ip),
        ] {
            item.insert(field.into(), s(value));
        }
        item
    }

    /// The data-table item: sk without version, `cpk`/`csk` pointing at the command row.
    pub fn to_data_item(&self) -> Item {
        let mut item = self.common_item(self.sk.clone());
        let cpk = self.cpk.clone().unwrap_or_else(|| self.pk.clone());
        let csk = self
            .csk
            .clone()
            .unwrap_or_else(|| keys::versioned_sk(&self.sk, self.version));
        item.insert("cpk".into(), s(cpk));
        item.insert("csk".into(), s(csk));
        item.remove("syncMode");
        item
    }

    /// The command-table item: `{sk}@{version}`, `syncMode: "SYNC"`.
    pub fn to_command_item(&self) -> Item {
        let mut item = self.common_item(keys::versioned_sk(&self.sk, self.version));
        item.remove("cpk");
        item.remove("csk");
        item.insert("syncMode".into(), s(SYNC_MODE));
        item
    }

    /// The history-table item for this (earlier) version: the data row at `{sk}@{version}`.
    pub fn to_history_item(&self) -> Item {
        let mut item = self.to_data_item();
        item.insert("sk".into(), s(keys::versioned_sk(&self.sk, self.version)));
        item
    }

    /// Reads a data-table row (sk without version).
    pub fn from_data_item(item: &Item) -> Result<EntityRow, ModelError> {
        Self::from_item(item, false)
    }

    /// Reads a command- or history-table row (`{sk}@{version}` is split back).
    pub fn from_versioned_item(item: &Item) -> Result<EntityRow, ModelError> {
        Self::from_item(item, true)
    }

    fn from_item(item: &Item, versioned: bool) -> Result<EntityRow, ModelError> {
        let pk = get_s(item, "pk").unwrap_or_default().to_string();
        let raw_sk = get_s(item, "sk").unwrap_or_default().to_string();
        let bad = |reason: String| ModelError {
            key: format!("{pk} / {raw_sk}"),
            reason,
        };
        if pk.is_empty() || raw_sk.is_empty() {
            return Err(bad("missing pk or sk".into()));
        }
        let version: u64 = match get_n(item, "version") {
            Some(v) => v
                .parse()
                .map_err(|_| bad(format!("version {v:?} is not a whole number")))?,
            None => return Err(bad("missing version".into())),
        };
        let sk = if versioned {
            match keys::split_versioned_sk(&raw_sk) {
                Some((base, v)) if v == version => base.to_string(),
                _ => return Err(bad(format!("sk does not end with @{version}"))),
            }
        } else {
            raw_sk.clone()
        };
        let attributes = match item.get("attributes") {
            Some(AttributeValue::M(m)) => m.clone().into_iter().collect(),
            None | Some(AttributeValue::Null(_)) => Attributes::new(),
            Some(_) => return Err(bad("attributes is not a map".into())),
        };
        let text = |name: &str| get_s(item, name).unwrap_or_default().to_string();
        let extra: Item = item
            .iter()
            .filter(|(k, _)| !KNOWN_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let tenant_code = match get_s(item, "tenantCode") {
            Some(t) => t.to_string(),
            None => keys::tenant_of_pk(&pk).unwrap_or_default().to_string(),
        };
        let entity_type = match get_s(item, "type") {
            Some(t) => t.to_string(),
            None => keys::type_of_pk(&pk).unwrap_or_default().to_string(),
        };
        Ok(EntityRow {
            id: get_s(item, "id")
                .map(str::to_string)
                .unwrap_or_else(|| keys::id(&pk, &sk)),
            code: text("code"),
            name: text("name"),
            version,
            tenant_code,
            entity_type,
            is_deleted: get_bool(item, "isDeleted").unwrap_or(false),
            seq: get_n(item, "seq").map(str::to_string),
            ttl: get_n(item, "ttl").map(str::to_string),
            attributes,
            source: text("source"),
            request_id: text("requestId"),
            created_at: text("createdAt"),
            created_by: text("createdBy"),
            created_ip: text("createdIp"),
            updated_at: text("updatedAt"),
            updated_by: text("updatedBy"),
            updated_ip: text("updatedIp"),
            cpk: get_s(item, "cpk").map(str::to_string),
            csk: get_s(item, "csk").map(str::to_string),
            extra,
            pk,
            sk,
        })
    }
}

/// Attributes without the pipeline's metadata keys.
pub fn content_attributes(attributes: &Attributes) -> Attributes {
    attributes
        .iter()
        .filter(|(k, _)| !is_metadata(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The names of the fields that differ between two rows by MBC's dirty-field rule
/// (`code, name, tenantCode, type, isDeleted, seq, ttl, attributes`; metadata ignored).
pub fn dirty_fields(a: &EntityRow, b: &EntityRow) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    if a.code != b.code {
        out.insert("code");
    }
    if a.name != b.name {
        out.insert("name");
    }
    if a.tenant_code != b.tenant_code {
        out.insert("tenantCode");
    }
    if a.entity_type != b.entity_type {
        out.insert("type");
    }
    if a.is_deleted != b.is_deleted {
        out.insert("isDeleted");
    }
    if a.seq != b.seq {
        out.insert("seq");
    }
    if a.ttl != b.ttl {
        out.insert("ttl");
    }
    if a.content_attributes() != b.content_attributes() {
        out.insert("attributes");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> EntityRow {
        let mut attributes = Attributes::new();
        attributes.insert(
            "price".into(),
            AttributeValue::N("12345678901234567890123456789012345678".into()),
        );
        attributes.insert("_migrationId".into(), s("job1"));
        EntityRow {
            pk: "PRODUCT#t1".into(),
            sk: "P001".into(),
            id: "PRODUCT#t1#P001".into(),
            code: "P001".into(),
            name: "Pen".into(),
            version: 2,
            tenant_code: "t1".into(),
            entity_type: "PRODUCT".into(),
            seq: Some("7".into()),
            attributes,
            created_at: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        }
    }

    #[test]
    fn items_round_trip_for_every_table() {
        let r = row();
        let data = r.to_data_item();
        assert_eq!(get_s(&data, "sk"), Some("P001"));
        assert_eq!(get_s(&data, "csk"), Some("P001@2"));
        let mut expected = r.clone();
        expected.cpk = Some("PRODUCT#t1".into());
        expected.csk = Some("P001@2".into());
        assert_eq!(EntityRow::from_data_item(&data).unwrap(), expected);

        let command = r.to_command_item();
        assert_eq!(get_s(&command, "sk"), Some("P001@2"));
        assert_eq!(get_s(&command, "syncMode"), Some("SYNC"));
        assert!(!command.contains_key("cpk"));
        let back = EntityRow::from_versioned_item(&command).unwrap();
        assert_eq!(back.sk, "P001");
        assert_eq!(back.version, 2);

        let history = r.to_history_item();
        assert_eq!(get_s(&history, "sk"), Some("P001@2"));
        assert_eq!(EntityRow::from_versioned_item(&history).unwrap().sk, "P001");
    }

    #[test]
    fn sk_with_at_sign_in_data_row_is_kept() {
        let mut r = row();
        r.sk = "mail@3".into();
        r.version = 1;
        let back = EntityRow::from_data_item(&r.to_data_item()).unwrap();
        assert_eq!(back.sk, "mail@3");
    }

    #[test]
    fn unknown_fields_survive() {
        let mut item = row().to_data_item();
        item.insert("customTopLevel".into(), s("kept"));
        let back = EntityRow::from_data_item(&item).unwrap();
        assert_eq!(back.to_data_item().get("customTopLevel"), Some(&s("kept")));
    }

    #[test]
    fn dirty_fields_ignore_metadata() {
        let a = row();
        let mut b = row();
        b.attributes.insert("_migrationId".into(), s("other"));
        b.version = 9;
        b.updated_at = "later".into();
        assert!(dirty_fields(&a, &b).is_empty());
        b.attributes.insert("price".into(), n(1));
        b.is_deleted = true;
        assert_eq!(
            dirty_fields(&a, &b).into_iter().collect::<Vec<_>>(),
            vec!["attributes", "isDeleted"]
        );
    }

    #[test]
    fn rejects_items_without_version() {
        let mut item = row().to_data_item();
        item.remove("version");
        assert!(EntityRow::from_data_item(&item).is_err());
    }
}
