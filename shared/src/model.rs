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
use crate::value::{AttributeValue, Attributes, Item, Name, Text, s};

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
    pub pk: Text,
    /// The sort key *without* version (the table-specific key is built by `to_*_item`).
    pub sk: Text,
    pub id: Text,
    pub code: Text,
    pub name: Text,
    pub version: u64,
    pub tenant_code: Text,
    pub entity_type: Text,
    pub is_deleted: bool,
    /// Normalized decimal text (DynamoDB number).
    pub seq: Option<Text>,
    /// Epoch seconds (DynamoDB number, normalized decimal text); `None` is written as `NULL`.
    pub ttl: Option<Text>,
    pub attributes: Attributes,
    /// Set when the stored `attributes` is an `s3://` pointer: until it is resolved
    /// (`large_attributes::resolve`), `attributes` is empty.
    pub attributes_pointer: Option<Text>,
    /// Command rows only.
    pub source: Option<Text>,
    pub request_id: Text,
    pub created_at: Text,
    pub created_by: Text,
    pub created_ip: Option<Text>,
    pub updated_at: Text,
    pub updated_by: Text,
    pub updated_ip: Option<Text>,
    /// Data rows: key of the command row that produced this version.
    pub cpk: Option<Text>,
    pub csk: Option<Text>,
    /// Command rows only: `syncMode` and `status` (see the module documentation).
    pub sync_mode: Option<Text>,
    pub status: Option<Text>,
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
            _ => AttributeValue::M(std::mem::take(&mut self.attributes)),
        }
    }

    /// The item of one table, in the framework's shape, moved out of the row, with `sk` and
    /// `attributes` (the row's, taken out by [`Self::take_attributes_value`]). The table's own
    /// fields are the row's `cpk`/`csk` (data) or `source`/`syncMode`/`status` (command): each
    /// caller leaves only its own set.
    ///
    /// Process builds two of these for every row it writes. The fields are listed in the order
    /// of their names, and that list becomes the item as it is ([`crate::value::item_from_fields`]:
    /// one check of the order, no copy).
    fn into_common_item(mut self, sk: Text, attributes: AttributeValue) -> Item {
        let preserved = std::mem::take(&mut self.extra);
        let mut fields = Fields(Vec::with_capacity(24));
        // In the order of the names (bytes: upper case sorts before lower case).
        fields.put("attributes", attributes);
        fields.put("code", s(self.code));
        fields.put_s("cpk", self.cpk);
        fields.put("createdAt", s(self.created_at));
        fields.put("createdBy", s(self.created_by));
        fields.put_ip("createdIp", self.created_ip);
        fields.put_s("csk", self.csk);
        fields.put("id", s(self.id));
        fields.put("isDeleted", AttributeValue::Bool(self.is_deleted));
        fields.put("name", s(self.name));
        fields.put("pk", s(self.pk));
        fields.put("requestId", s(self.request_id));
        if let Some(seq) = self.seq {
            fields.put("seq", AttributeValue::N(seq));
        }
        fields.put("sk", s(sk));
        fields.put_s("source", self.source);
        fields.put_s("status", self.status);
        fields.put_s("syncMode", self.sync_mode);
        fields.put("tenantCode", s(self.tenant_code));
        fields.put(
            "ttl",
            match self.ttl {
                Some(ttl) => AttributeValue::N(ttl),
                None => AttributeValue::Null(true),
            },
        );
        fields.put("type", s(self.entity_type));
        fields.put("updatedAt", s(self.updated_at));
        fields.put("updatedBy", s(self.updated_by));
        fields.put_ip("updatedIp", self.updated_ip);
        fields.put(
            "version",
            AttributeValue::N(Text::from(itoa::Buffer::new().format(self.version))),
        );
        debug_assert!(
            fields.0.windows(2).all(|w| w[0].0 < w[1].0),
            "fields out of order"
        );
        if preserved.is_empty() {
            return crate::value::item_from_fields(fields.0);
        }
        // The row's preserved fields, but none of those each table sets (or leaves out) itself.
        let mut item = preserved;
        for field in [
            "createdIp",
            "updatedIp",
            "source",
            "syncMode",
            "status",
            "cpk",
            "csk",
        ] {
            item.remove(field);
        }
        item.extend(fields.0);
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
        (self.cpk, self.csk) = (Some(cpk), Some(csk));
        (self.source, self.sync_mode, self.status) = (None, None, None);
        self.into_common_item(sk, attributes)
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
        (self.cpk, self.csk) = (None, None);
        let sk = keys::versioned_sk(&self.sk, self.version);
        self.into_common_item(sk, attributes)
    }

    /// The command item and the data item of a direct publish, consuming the row: the same as
    /// ([`Self::to_command_item`], [`Self::to_data_item`]), but the attributes are turned into
    /// the item's map once, and that map copied for the command, rather than the row's copied
    /// and turned into a map twice (Process builds these for every row it writes).
    ///
    /// Each item is built from its list of fields. Copying the finished data item instead and
    /// editing the few fields in which the command differs cost more when items were B-trees
    /// (cloned node by node): 13.2 M instructions against 12.8 M for the 660 rows the moto
    /// parity test writes (callgrind), the clone of the tree alone 9.3 M.
    pub fn into_command_and_data_items(mut self) -> (Item, Item) {
        let attributes = self.take_attributes_value();
        let command = self.clone().into_command_item_with(attributes.clone());
        (command, self.into_data_item_with(attributes))
    }

    /// The history-table item for this (earlier) version: the data row at `{sk}@{version}`
    /// with the history table's own `ttl` (HistoryService sets it from the app's TTL rules).
    pub fn to_history_item(&self, ttl: Option<Text>) -> Item {
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
    fn from_item(item: Item, versioned: bool) -> Result<EntityRow, ModelError> {
        let f = StoredFields::of(item);
        let pk = string(f.pk).unwrap_or_default();
        let raw_sk = string(f.sk).unwrap_or_default();
        let bad = |reason: String| ModelError {
            key: format!("{pk} / {raw_sk}"),
            reason,
        };
        if pk.is_empty() || raw_sk.is_empty() {
            return Err(bad("missing pk or sk".into()));
        }
        let version: u64 = match f.version {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| bad(format!("version {v:?} is not a whole number")))?,
            _ => return Err(bad("missing version".into())),
        };
        let sk = if versioned {
            match keys::split_versioned_sk(&raw_sk) {
                Some((base, v)) if v == version => Text::from(base),
                _ => return Err(bad(format!("sk does not end with @{version}"))),
            }
        } else {
            raw_sk.clone()
        };
        let (attributes, attributes_pointer) = attributes_of(f.attributes).map_err(bad)?;
        let text = |value| string(value).unwrap_or_default();
        let optional = |value| string(value).filter(|v| !v.is_empty());
        let tenant_code = string(f.tenant_code)
            .unwrap_or_else(|| keys::tenant_of_pk(&pk).unwrap_or_default().into());
        let entity_type = string(f.entity_type)
            .unwrap_or_else(|| keys::type_of_pk(&pk).unwrap_or_default().into());
        Ok(EntityRow {
            id: string(f.id).unwrap_or_else(|| keys::id(&pk, &sk)),
            code: text(f.code),
            name: text(f.name),
            version,
            tenant_code,
            entity_type,
            is_deleted: matches!(f.is_deleted, Some(AttributeValue::Bool(true))),
            seq: number(f.seq),
            ttl: number(f.ttl),
            attributes,
            attributes_pointer,
            source: optional(f.source),
            request_id: text(f.request_id),
            created_at: text(f.created_at),
            created_by: text(f.created_by),
            created_ip: optional(f.created_ip),
            updated_at: text(f.updated_at),
            updated_by: text(f.updated_by),
            updated_ip: optional(f.updated_ip),
            cpk: string(f.cpk),
            csk: string(f.csk),
            sync_mode: optional(f.sync_mode),
            status: optional(f.status),
            // Every field the row interprets was taken out, whatever its type: the rest are
            // the fields it keeps as they are (listed in order: built without a search each).
            extra: f.extra.into_iter().collect(),
            pk,
            sk,
        })
    }
}

/// The fields of a stored item an [`EntityRow`] interprets, whatever their type, and the rest:
/// taken apart in one pass over the item (rows are read for every row a job plans or checks;
/// a removal per field searched and rebalanced the item two dozen times).
#[derive(Default)]
struct StoredFields {
    pk: Option<AttributeValue>,
    sk: Option<AttributeValue>,
    version: Option<AttributeValue>,
    attributes: Option<AttributeValue>,
    tenant_code: Option<AttributeValue>,
    entity_type: Option<AttributeValue>,
    id: Option<AttributeValue>,
    code: Option<AttributeValue>,
    name: Option<AttributeValue>,
    is_deleted: Option<AttributeValue>,
    seq: Option<AttributeValue>,
    ttl: Option<AttributeValue>,
    source: Option<AttributeValue>,
    request_id: Option<AttributeValue>,
    created_at: Option<AttributeValue>,
    created_by: Option<AttributeValue>,
    created_ip: Option<AttributeValue>,
    updated_at: Option<AttributeValue>,
    updated_by: Option<AttributeValue>,
    updated_ip: Option<AttributeValue>,
    cpk: Option<AttributeValue>,
    csk: Option<AttributeValue>,
    sync_mode: Option<AttributeValue>,
    status: Option<AttributeValue>,
    /// Fields the row keeps as they are, in the item's (name) order.
    extra: Vec<(Name, AttributeValue)>,
}

impl StoredFields {
    fn of(item: Item) -> Self {
        let mut f = StoredFields::default();
        for (name, value) in item {
            let slot = match &*name {
                "pk" => &mut f.pk,
                "sk" => &mut f.sk,
                "version" => &mut f.version,
                "attributes" => &mut f.attributes,
                "tenantCode" => &mut f.tenant_code,
                "type" => &mut f.entity_type,
                "id" => &mut f.id,
                "code" => &mut f.code,
                "name" => &mut f.name,
                "isDeleted" => &mut f.is_deleted,
                "seq" => &mut f.seq,
                "ttl" => &mut f.ttl,
                "source" => &mut f.source,
                "requestId" => &mut f.request_id,
                "createdAt" => &mut f.created_at,
                "createdBy" => &mut f.created_by,
                "createdIp" => &mut f.created_ip,
                "updatedAt" => &mut f.updated_at,
                "updatedBy" => &mut f.updated_by,
                "updatedIp" => &mut f.updated_ip,
                "cpk" => &mut f.cpk,
                "csk" => &mut f.csk,
                "syncMode" => &mut f.sync_mode,
                "status" => &mut f.status,
                _ => {
                    f.extra.push((name, value));
                    continue;
                }
            };
            *slot = Some(value);
        }
        f
    }
}

/// A string field's text (`None` when absent or of another type).
fn string(value: Option<AttributeValue>) -> Option<Text> {
    match value {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// A number field's text (`None` when absent or of another type).
fn number(value: Option<AttributeValue>) -> Option<Text> {
    match value {
        Some(AttributeValue::N(v)) => Some(v),
        _ => None,
    }
}

/// An item's fields as they are listed, before the item is built from them.
struct Fields(Vec<(Name, AttributeValue)>);

impl Fields {
    fn put(&mut self, name: &'static str, value: AttributeValue) {
        self.0.push((Name::Borrowed(name), value));
    }

    /// A string field, when set.
    fn put_s(&mut self, name: &'static str, value: Option<Text>) {
        if let Some(v) = value {
            self.put(name, s(v));
        }
    }

    /// An IP field, when set and not empty (the framework leaves an unknown IP out).
    fn put_ip(&mut self, name: &'static str, value: Option<Text>) {
        if let Some(ip) = value.filter(|ip| !ip.is_empty()) {
            self.put(name, s(ip));
        }
    }
}

/// A stored `attributes`: a map, nothing, or an `s3://` pointer to the offloaded object.
fn attributes_of(value: Option<AttributeValue>) -> Result<(Attributes, Option<Text>), String> {
    match value {
        Some(AttributeValue::M(m)) => Ok((m, None)),
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
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Text {
    compact_str::ToCompactString::to_compact_string(&at.format("%Y-%m-%dT%H:%M:%S+00:00"))
}

/// A stored date in the framework's form: RFC 3339 text written by any writer (milliseconds,
/// `Z`, another offset) is rewritten as [`timestamp`] writes it, as the framework does when it
/// reads a row (`new Date(createdAt)`) and writes it again; other text is kept as it is.
pub fn normalize_timestamp(text: &str) -> Text {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => timestamp(t.with_timezone(&chrono::Utc)),
        Err(_) => Text::from(text),
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
    use crate::value::{get_n, get_s, n};

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
        // The entity's first creation came from an IP, this version's update from none (or an
        // empty one): the command has no createdIp, the data row keeps the entity's.
        let mut no_update_ip = row();
        no_update_ip.created_ip = Some("10.0.0.9".into());
        no_update_ip.updated_ip = None;
        let mut empty_update_ip = no_update_ip.clone();
        empty_update_ip.updated_ip = Some(Text::default());
        for r in [row(), direct, pointed, moved, no_update_ip, empty_update_ip] {
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
        r.created_ip = Some(Text::default());
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

    /// Preserved top-level fields travel with the entity, but never in place of a field each
    /// table sets or leaves out itself: the row's own values win, and a field a table must not
    /// hold is left out even when it was preserved.
    #[test]
    fn preserved_fields_never_stand_in_for_a_tables_own() {
        use crate::value::get_s;
        let mut r = row();
        r.source = Some("migration:j1".into());
        r.sync_mode = Some("SYNC".into());
        r.updated_ip = Some("10.0.0.1".into());
        for name in [
            "cpk",
            "csk",
            "source",
            "syncMode",
            "status",
            "createdIp",
            "updatedIp",
            "code",
        ] {
            r.extra.insert(name.into(), s("preserved"));
        }
        r.extra.insert("customTopLevel".into(), s("kept"));
        let (command, data) = r.clone().into_command_and_data_items();
        assert_eq!(command, r.to_command_item());
        assert_eq!(data, r.to_data_item());

        assert_eq!(get_s(&command, "customTopLevel"), Some("kept"));
        assert_eq!(get_s(&command, "code"), Some("P001"));
        assert_eq!(get_s(&command, "source"), Some("migration:j1"));
        assert_eq!(get_s(&command, "syncMode"), Some("SYNC"));
        // A command's created* are its own: its updated*.
        assert_eq!(get_s(&command, "createdIp"), Some("10.0.0.1"));
        assert_eq!(get_s(&command, "updatedIp"), Some("10.0.0.1"));
        for absent in ["cpk", "csk", "status"] {
            assert!(!command.contains_key(absent), "command holds {absent}");
        }

        assert_eq!(get_s(&data, "customTopLevel"), Some("kept"));
        assert_eq!(get_s(&data, "code"), Some("P001"));
        assert_eq!(get_s(&data, "cpk"), Some("PRODUCT#t1"));
        assert_eq!(get_s(&data, "csk"), Some("P001@2"));
        assert_eq!(get_s(&data, "updatedIp"), Some("10.0.0.1"));
        for absent in ["source", "syncMode", "status", "createdIp"] {
            assert!(!data.contains_key(absent), "data holds {absent}");
        }

        assert_eq!(command, r.to_command_item());
        assert_eq!(data, r.to_data_item());
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
