//! Command, data and history rows of MBC CQRS Serverless (DESIGN §3), and their items.
//!
//! One struct, [`EntityRow`], holds every MBC field. The three tables differ only in the sort
//! key (`{sk}` in data, `{sk}@{version}` in command and history) and in a few fields, exactly
//! as `@mbc-cqrs-serverless/core` writes them (CommandService, DataService `transformCommandToData`,
//! HistoryService):
//! * data rows carry `cpk`/`csk` (the command that produced them) and never `source`, `status`
//!   or `syncMode`;
//! * command rows carry `source` and, when published directly (`publishSync`'s shape),
//!   `syncMode: "SYNC"` and `status`; in the app's own saga mode (`publishAsync`'s shape) neither;
//! * `createdIp`/`updatedIp`/`seq`/`source` are left out when unknown (the framework marshalls
//!   with `removeUndefinedValues`), while `ttl` is always written, as `NULL` when no TTL applies
//!   (the framework's `calculateTtl` answers `null`, which marshalls to `NULL`);
//! * dates are whole seconds with an explicit offset (`toISOStringWithTimezone`), see [`timestamp`];
//! * `attributes` is a map, or an `s3://bucket/key` pointer to a JSON object when it was larger
//!   than the app's `ATTRIBUTE_LIMIT_SIZE` (see [`crate::large_attributes`]).
//!
//! Top-level fields we do not know are kept in `extra` so rewriting a row never drops them
//! (the framework spreads the existing data row the same way).

use std::collections::BTreeSet;

use crate::keys::{self, Key};
use crate::value::{AttributeValue, Attributes, Item, n, s};

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

/// `syncMode` value of the command rows we publish directly (ignored by the app's command
/// stream from core 1.1.4 on).
pub const SYNC_MODE: &str = "SYNC";

/// `status` of a command row published directly: where the framework's `publishSync` leaves it
/// (`getCommandStatus('finish', STATUS_FINISHED)`).
pub const DIRECT_COMMAND_STATUS: &str = "finish:FINISHED";

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
    /// Epoch seconds (DynamoDB number, normalized decimal text); `None` is written as `NULL`.
    pub ttl: Option<String>,
    pub attributes: Attributes,
    /// Set when the stored `attributes` is an `s3://` pointer: until it is resolved
    /// (`large_attributes::resolve`), `attributes` is empty.
    pub attributes_pointer: Option<String>,
    /// Command rows only.
    pub source: Option<String>,
    pub request_id: String,
    pub created_at: String,
    pub created_by: String,
    pub created_ip: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
    pub updated_ip: Option<String>,
    /// Data rows: key of the command row that produced this version.
    pub cpk: Option<String>,
    pub csk: Option<String>,
    /// Command rows only: `syncMode` and `status` (see the module documentation).
    pub sync_mode: Option<String>,
    pub status: Option<String>,
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

    /// `attributes` as an item holds it, moved out of the row: the map, or the `s3://` pointer
    /// while unresolved.
    fn take_attributes_value(&mut self) -> AttributeValue {
        match &self.attributes_pointer {
            Some(pointer) if self.attributes.is_empty() => s(pointer),
            _ => AttributeValue::M(std::mem::take(&mut self.attributes).into_iter().collect()),
        }
    }

    /// The fields every table shares, in the framework's shape, moved out of the row, with
    /// `attributes` (the row's, taken out by [`Self::take_attributes_value`]).
    fn into_common_item(mut self, sk: String, attributes: AttributeValue) -> Item {
        let mut item = std::mem::take(&mut self.extra);
        item.insert("pk".into(), s(self.pk));
        item.insert("sk".into(), s(sk));
        item.insert("id".into(), s(self.id));
        item.insert("code".into(), s(self.code));
        item.insert("name".into(), s(self.name));
        item.insert("version".into(), n(self.version));
        item.insert("tenantCode".into(), s(self.tenant_code));
        item.insert("type".into(), s(self.entity_type));
        item.insert("isDeleted".into(), AttributeValue::Bool(self.is_deleted));
        if let Some(seq) = self.seq {
            item.insert("seq".into(), AttributeValue::N(seq));
        }
        item.insert(
            "ttl".into(),
            match self.ttl {
                Some(ttl) => AttributeValue::N(ttl),
                None => AttributeValue::Null(true),
            },
        );
        item.insert("attributes".into(), attributes);
        item.insert("requestId".into(), s(self.request_id));
        item.insert("createdAt".into(), s(self.created_at));
        item.insert("createdBy".into(), s(self.created_by));
        item.insert("updatedAt".into(), s(self.updated_at));
        item.insert("updatedBy".into(), s(self.updated_by));
        for (field, value) in [
            ("createdIp", self.created_ip),
            ("updatedIp", self.updated_ip),
        ] {
            match value {
                Some(ip) if !ip.is_empty() => {
                    item.insert(field.into(), s(ip));
                }
                _ => {
                    item.remove(field);
                }
            }
        }
        for field in ["source", "syncMode", "status", "cpk", "csk"] {
            item.remove(field);
        }
        item
    }

    /// The data-table item: sk without version, `cpk`/`csk` pointing at the command row; no
    /// `source`, `syncMode` or `status` (DataService's `transformCommandToData`).
    pub fn to_data_item(&self) -> Item {
        self.clone().into_data_item()
    }

    /// [`Self::to_data_item`], consuming the row: its strings and attributes move into the
    /// item.
    pub fn into_data_item(mut self) -> Item {
        let attributes = self.take_attributes_value();
        self.into_data_item_with(attributes)
    }

    fn into_data_item_with(mut self, attributes: AttributeValue) -> Item {
        let cpk = self.cpk.take().unwrap_or_else(|| self.pk.clone());
        let csk = self
            .csk
            .take()
            .unwrap_or_else(|| keys::versioned_sk(&self.sk, self.version));
        let sk = std::mem::take(&mut self.sk);
        let mut item = self.into_common_item(sk, attributes);
        item.insert("cpk".into(), s(cpk));
        item.insert("csk".into(), s(csk));
        item
    }

    /// The command-table item: `{sk}@{version}`, `source`, and `syncMode`/`status` when set.
    /// A command's `created*` are its own (`new Date()`, the caller, the caller's IP: the same as
    /// its `updated*`), not the entity's first creation, which only the data row keeps.
    pub fn to_command_item(&self) -> Item {
        self.clone().into_command_item()
    }

    /// [`Self::to_command_item`], consuming the row (a publish in `app` mode writes only the
    /// command).
    pub fn into_command_item(mut self) -> Item {
        let attributes = self.take_attributes_value();
        self.into_command_item_with(attributes)
    }

    fn into_command_item_with(mut self, attributes: AttributeValue) -> Item {
        self.created_at = self.updated_at.clone();
        self.created_by = self.updated_by.clone();
        self.created_ip = self.updated_ip.clone();
        let command_fields = [
            ("source", self.source.take()),
            ("syncMode", self.sync_mode.take()),
            ("status", self.status.take()),
        ];
        let sk = keys::versioned_sk(&self.sk, self.version);
        let mut item = self.into_common_item(sk, attributes);
        for (field, value) in command_fields {
            if let Some(v) = value {
                item.insert(field.into(), s(v));
            }
        }
        item
    }

    /// The command item and the data item of a direct publish, consuming the row: the same as
    /// ([`Self::to_command_item`], [`Self::to_data_item`]), but the attributes are turned into
    /// the item's map once, and that map copied for the command, rather than the row's copied
    /// and turned into a map twice (Process builds these for every row it writes).
    pub fn into_command_and_data_items(mut self) -> (Item, Item) {
        let attributes = self.take_attributes_value();
        let command = self.clone().into_command_item_with(attributes.clone());
        (command, self.into_data_item_with(attributes))
    }

    /// The history-table item for this (earlier) version: the data row at `{sk}@{version}`
    /// with the history table's own `ttl` (HistoryService sets it from the app's TTL rules).
    pub fn to_history_item(&self, ttl: Option<String>) -> Item {
        let mut item = self.to_data_item();
        item.insert("sk".into(), s(keys::versioned_sk(&self.sk, self.version)));
        item.insert(
            "ttl".into(),
            ttl.map_or(AttributeValue::Null(true), AttributeValue::N),
        );
        item
    }

    /// Reads a data-table row (sk without version).
    pub fn from_data_item(item: &Item) -> Result<EntityRow, ModelError> {
        Self::from_item(item.clone(), false)
    }

    /// [`Self::from_data_item`] of an item read for this row alone: its strings and attributes
    /// move into the row instead of being copied (the read paths of Process and Verify).
    pub fn from_data_item_owned(item: Item) -> Result<EntityRow, ModelError> {
        Self::from_item(item, false)
    }

    /// Reads a command- or history-table row (`{sk}@{version}` is split back).
    pub fn from_versioned_item(item: &Item) -> Result<EntityRow, ModelError> {
        Self::from_item(item.clone(), true)
    }

    /// Takes the row's fields out of `item`: what is left are the fields this pipeline does not
    /// interpret (`extra`). A known field of another type than the framework writes is read as
    /// missing.
    fn from_item(mut item: Item, versioned: bool) -> Result<EntityRow, ModelError> {
        let pk = take_s(&mut item, "pk").unwrap_or_default();
        let raw_sk = take_s(&mut item, "sk").unwrap_or_default();
        let bad = |reason: String| ModelError {
            key: format!("{pk} / {raw_sk}"),
            reason,
        };
        if pk.is_empty() || raw_sk.is_empty() {
            return Err(bad("missing pk or sk".into()));
        }
        let version: u64 = match item.remove("version") {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| bad(format!("version {v:?} is not a whole number")))?,
            _ => return Err(bad("missing version".into())),
        };
        let sk = if versioned {
            match keys::split_versioned_sk(&raw_sk) {
                Some((base, v)) if v == version => base.to_string(),
                _ => return Err(bad(format!("sk does not end with @{version}"))),
            }
        } else {
            raw_sk.clone()
        };
        let (attributes, attributes_pointer) =
            attributes_of(item.remove("attributes")).map_err(bad)?;
        let text = |item: &mut Item, name: &str| take_s(item, name).unwrap_or_default();
        let optional = |item: &mut Item, name: &str| take_s(item, name).filter(|v| !v.is_empty());
        let tenant_code = take_s(&mut item, "tenantCode")
            .unwrap_or_else(|| keys::tenant_of_pk(&pk).unwrap_or_default().to_string());
        let entity_type = take_s(&mut item, "type")
            .unwrap_or_else(|| keys::type_of_pk(&pk).unwrap_or_default().to_string());
        let row = EntityRow {
            id: take_s(&mut item, "id").unwrap_or_else(|| keys::id(&pk, &sk)),
            code: text(&mut item, "code"),
            name: text(&mut item, "name"),
            version,
            tenant_code,
            entity_type,
            is_deleted: matches!(item.remove("isDeleted"), Some(AttributeValue::Bool(true))),
            seq: take_n(&mut item, "seq"),
            ttl: take_n(&mut item, "ttl"),
            attributes,
            attributes_pointer,
            source: optional(&mut item, "source"),
            request_id: text(&mut item, "requestId"),
            created_at: text(&mut item, "createdAt"),
            created_by: text(&mut item, "createdBy"),
            created_ip: optional(&mut item, "createdIp"),
            updated_at: text(&mut item, "updatedAt"),
            updated_by: text(&mut item, "updatedBy"),
            updated_ip: optional(&mut item, "updatedIp"),
            cpk: take_s(&mut item, "cpk"),
            csk: take_s(&mut item, "csk"),
            sync_mode: optional(&mut item, "syncMode"),
            status: optional(&mut item, "status"),
            extra: Item::new(),
            pk,
            sk,
        };
        // Every field the row interprets was taken out above, whatever its type: the rest are
        // the fields it keeps as they are.
        Ok(EntityRow { extra: item, ..row })
    }
}

/// Takes a string field out of an item (`None`, and the field gone, when it is another type).
fn take_s(item: &mut Item, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// Takes a number field's text out of an item (`None`, and the field gone, when it is another
/// type).
fn take_n(item: &mut Item, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::N(v)) => Some(v),
        _ => None,
    }
}

/// A stored `attributes`: a map, nothing, or an `s3://` pointer to the offloaded object.
fn attributes_of(value: Option<AttributeValue>) -> Result<(Attributes, Option<String>), String> {
    match value {
        Some(AttributeValue::M(m)) => Ok((m.into_iter().collect(), None)),
        None | Some(AttributeValue::Null(_)) => Ok((Attributes::new(), None)),
        Some(AttributeValue::S(p)) if crate::large_attributes::is_pointer(&p) => {
            Ok((Attributes::new(), Some(p)))
        }
        Some(_) => Err("attributes is neither a map nor an s3:// pointer".into()),
    }
}

/// A date as the framework writes it (`toISOStringWithTimezone` in a Lambda, whose zone is
/// UTC): whole seconds with an explicit offset, `2026-11-25T02:11:40+00:00`. Text in this one
/// form sorts in time order, which mixed forms (`…40.123Z` beside `…40+00:00`) do not.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// A stored date in the framework's form: RFC 3339 text written by any writer (milliseconds,
/// `Z`, another offset) is rewritten as [`timestamp`] writes it, as the framework does when it
/// reads a row (`new Date(createdAt)`) and writes it again; other text is kept as it is.
pub fn normalize_timestamp(text: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => timestamp(t.with_timezone(&chrono::Utc)),
        Err(_) => text.to_string(),
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
    // Both maps are sorted: compare their non-metadata entries pairwise, without copying them.
    if !a
        .attributes
        .iter()
        .filter(|(k, _)| !is_metadata(k))
        .eq(b.attributes.iter().filter(|(k, _)| !is_metadata(k)))
    {
        out.insert("attributes");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{get_n, get_s};

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

        let mut direct = r.clone();
        direct.sync_mode = Some(SYNC_MODE.into());
        direct.status = Some(DIRECT_COMMAND_STATUS.into());
        direct.source = Some("migration:j1".into());
        let command = direct.to_command_item();
        assert_eq!(get_s(&command, "sk"), Some("P001@2"));
        assert_eq!(get_s(&command, "syncMode"), Some("SYNC"));
        assert_eq!(get_s(&command, "status"), Some("finish:FINISHED"));
        assert_eq!(get_s(&command, "source"), Some("migration:j1"));
        assert!(!command.contains_key("cpk"));
        // The command's creation is its own; the data row keeps the entity's first.
        direct.updated_at = "2026-11-25T02:11:40+00:00".into();
        let command = direct.to_command_item();
        assert_eq!(
            get_s(&command, "createdAt"),
            Some("2026-11-25T02:11:40+00:00")
        );
        assert_eq!(
            get_s(&direct.to_data_item(), "createdAt"),
            Some("2026-01-01T00:00:00Z")
        );
        // The same entity as a data row: none of the command-only fields.
        let data_of_direct = direct.to_data_item();
        for field in ["source", "syncMode", "status"] {
            assert!(!data_of_direct.contains_key(field), "{field}");
        }
        let back = EntityRow::from_versioned_item(&command).unwrap();
        assert_eq!(back.sk, "P001");
        assert_eq!(back.version, 2);

        let history = r.to_history_item(Some("1800000000".into()));
        assert_eq!(get_s(&history, "sk"), Some("P001@2"));
        assert_eq!(get_n(&history, "ttl"), Some("1800000000"));
        assert_eq!(EntityRow::from_versioned_item(&history).unwrap().sk, "P001");
    }

    /// Both items built together are the two built one by one: with attributes and extra
    /// fields, with an `s3://` pointer instead of attributes, and with command-only fields.
    #[test]
    fn command_and_data_items_built_together_are_those_built_apart() {
        let mut direct = row();
        direct.sync_mode = Some(SYNC_MODE.into());
        direct.status = Some(DIRECT_COMMAND_STATUS.into());
        direct.source = Some("migration:j1".into());
        direct.updated_at = "2026-11-25T02:11:40+00:00".into();
        direct.updated_ip = Some("10.0.0.2".into());
        direct.extra.insert("custom".into(), s("kept"));
        let mut pointed = row();
        pointed.attributes.clear();
        pointed.attributes_pointer = Some("s3://bucket/large/P001@2.json".into());
        let mut moved = row();
        moved.cpk = Some("PRODUCT#t1".into());
        moved.csk = Some("P001@1".into());
        for r in [row(), direct, pointed, moved] {
            let (command, data) = r.clone().into_command_and_data_items();
            assert_eq!(command, r.to_command_item());
            assert_eq!(data, r.to_data_item());
            assert_eq!(r.clone().into_command_item(), command);
            assert_ne!(command, data);
        }
    }

    #[test]
    fn unknown_optional_fields_are_left_out_and_ttl_is_null() {
        let mut r = row();
        r.created_ip = Some(String::new());
        r.updated_ip = None;
        let item = r.to_data_item();
        assert!(!item.contains_key("createdIp"));
        assert!(!item.contains_key("updatedIp"));
        assert!(!item.contains_key("source"));
        assert_eq!(item.get("ttl"), Some(&AttributeValue::Null(true)));
        r.created_ip = Some("10.0.0.1".into());
        assert_eq!(get_s(&r.to_data_item(), "createdIp"), Some("10.0.0.1"));
        // A data row written by an earlier version of the pipeline, with `source` and empty IPs:
        // rewriting it drops them.
        let mut old = r.to_data_item();
        old.insert("source".into(), s("migration:old"));
        old.insert("updatedIp".into(), s(""));
        let again = EntityRow::from_data_item(&old).unwrap().to_data_item();
        assert!(!again.contains_key("source"));
        assert!(!again.contains_key("updatedIp"));
    }

    #[test]
    fn dates_are_whole_seconds_with_an_offset() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T02:11:40.123Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(timestamp(at), "2026-11-25T02:11:40+00:00");
        assert_eq!(
            normalize_timestamp("2026-11-25T11:11:40+09:00"),
            "2026-11-25T02:11:40+00:00"
        );
        assert_eq!(normalize_timestamp("yesterday"), "yesterday");
    }

    #[test]
    fn attributes_pointer_round_trips() {
        let mut item = row().to_data_item();
        let pointer = "s3://app-bucket/ddb/data/PRODUCT#t1/P001/01J00000000000000000000000.json";
        item.insert("attributes".into(), s(pointer));
        let back = EntityRow::from_data_item(&item).unwrap();
        assert_eq!(back.attributes_pointer.as_deref(), Some(pointer));
        assert!(back.attributes.is_empty());
        assert_eq!(get_s(&back.to_data_item(), "attributes"), Some(pointer));
        item.insert("attributes".into(), s("plain text"));
        assert!(EntityRow::from_data_item(&item).is_err());
    }

    /// Reading an owned item gives the row reading it borrowed gives, error or not.
    #[test]
    fn an_owned_item_reads_as_the_borrowed_one() {
        let pointer = "s3://app-bucket/ddb/data/PRODUCT#t1/P001/01J00000000000000000000000.json";
        let mut items = Vec::new();
        let mut item = row().to_data_item();
        item.insert("customTopLevel".into(), s("kept"));
        items.push(item.clone());
        item.insert("attributes".into(), s(pointer));
        items.push(item.clone());
        item.remove("attributes");
        items.push(item.clone());
        item.insert("attributes".into(), s("plain text"));
        items.push(item.clone());
        item.remove("version");
        items.push(item);
        for item in items {
            let borrowed = EntityRow::from_data_item(&item);
            assert_eq!(EntityRow::from_data_item_owned(item), borrowed);
        }
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
