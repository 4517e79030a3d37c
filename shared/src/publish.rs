//! Compare, map and publish (DESIGN §3): what one migration row does to the tables.
//!
//! * compare → [`Comparison`] (`NOT_EXIST | CHANGED | EQUAL`) by MBC's dirty-field rule, on the
//!   result of the merge (or replace) with the existing row;
//! * map → the next version of the entity (1 for a new one, v+1 otherwise) with the pipeline's
//!   metadata attributes;
//! * publish → the puts of one atomic write: command `{sk}@{v+1}` if it does not exist, data row
//!   if its version is still v (or it does not exist). A normalize-tenant row also soft-deletes
//!   the old (uppercase) entity in the same transaction.

use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use crate::job::{AttributesMode, Mode, PublishMode};
use crate::keys::{self, Key};
use crate::merge::merge_deep;
use crate::migration_csv::MigrationRow;
use crate::model::{self, DIRECT_COMMAND_STATUS, EntityRow, SYNC_MODE, dirty_fields};
use crate::ports::table::{Condition, Put};
use crate::value::{AttributeValue, Attributes, Text, s};

/// Names of the tables a migration writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableNames {
    pub command: String,
    pub data: String,
    pub history: String,
    pub jobs: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Comparison {
    NotExist,
    Changed,
    Equal,
}

/// Compares the desired next state with the existing data row. A `ttl` the row did not ask for
/// (it comes from the app's TTL rules, counted from now) is not a change: otherwise every
/// re-run would publish again.
pub fn compare(
    desired: &EntityRow,
    existing: Option<&EntityRow>,
    row_sets_ttl: bool,
) -> Comparison {
    match existing {
        None => Comparison::NotExist,
        Some(e) => {
            let mut dirty = dirty_fields(desired, e);
            if !row_sets_ttl {
                dirty.remove("ttl");
            }
            if dirty.is_empty() {
                Comparison::Equal
            } else {
                Comparison::Changed
            }
        }
    }
}

/// The `ttl` the app's TTL rules give a new data row, by tenant code (TtlService's
/// `calculateTtl(DATA, tenant)`: epoch seconds); a tenant without a rule is absent (`NULL`).
pub type TtlByTenant = HashMap<Text, Text>;

/// Everything about the job that shapes the rows it writes.
#[derive(Debug, Clone)]
pub struct PublishContext {
    pub job_id: Text,
    pub mode: Mode,
    /// Each row moves its entity to a new key and soft-deletes the old one in the same
    /// transaction (normalize-tenant; copy-tenant with `softDeleteSource`).
    pub moves_entities: bool,
    pub attributes_mode: AttributesMode,
    /// `direct` or `app` (which command-row shape, and whether the data row is ours to write).
    pub publish_mode: PublishMode,
    /// The framework's date form ([`model::timestamp`]), the same for every row of one chunk.
    pub now: Text,
    /// `createdBy` / `updatedBy` / `_migratedBy`.
    pub actor: Text,
    pub tables: TableNames,
    /// Mode rollback: the job being undone.
    pub rollback_of: Option<String>,
    /// Where and from what size attributes go to S3 (the app's bucket and limit).
    pub large_attributes: crate::large_attributes::LargeAttributes,
    /// The app's master data table, for TTL rules (none: rows get no ttl unless they say so).
    pub master_data_table: Option<String>,
    /// Meters (and, with a budget, paces) this chunk's writes.
    pub writes: std::sync::Arc<crate::write_budget::WriteMeter>,
}

impl PublishContext {
    /// Metadata recorded on every row this job writes (ignored when comparing).
    fn metadata(&self) -> Vec<(&'static str, AttributeValue)> {
        let mut out = vec![
            ("_migrated", AttributeValue::Bool(true)),
            ("_migrationId", s(&self.job_id)),
            ("_migratedAt", s(&self.now)),
            ("_migratedBy", s(&self.actor)),
        ];
        if let Some(j) = &self.rollback_of {
            out.push(("_rolledBackFrom", s(j)));
            out.push(("_rolledBackAt", s(&self.now)));
        }
        out
    }
}

/// The next version of the entity at `row`'s target key, given the existing data row (its
/// `s3://` attributes resolved). The row is the *data* row's view: `created*` of the entity's
/// first version; the command item takes its own `created*` ([`EntityRow::to_command_item`]).
pub fn map_row(
    row: &MigrationRow,
    existing: Option<&EntityRow>,
    ctx: &PublishContext,
    rule_ttl: Option<&Text>,
) -> EntityRow {
    let attributes: Attributes = match (ctx.attributes_mode, existing) {
        (AttributesMode::Merge, Some(e)) => merge_deep(&e.attributes, &row.attributes),
        _ => row.attributes.clone(),
    };
    entity_of(row, attributes, existing, ctx, rule_ttl)
}

/// [`map_row`] of a new entity, leaving the row's own attributes out (its attributes map holds
/// only the pipeline's metadata): what Transform checks DynamoDB's limits on, adding the size
/// of the row's attributes by arithmetic.
pub fn map_row_skeleton<A>(row: &MigrationRow<A>, ctx: &PublishContext) -> EntityRow {
    entity_of(row, Attributes::new(), None, ctx, None)
}

fn entity_of<A>(
    row: &MigrationRow<A>,
    mut attributes: Attributes,
    existing: Option<&EntityRow>,
    ctx: &PublishContext,
    rule_ttl: Option<&Text>,
) -> EntityRow {
    let pk = row.target_pk();
    let sk = row.source_sk.clone();
    let version = existing.map_or(1, |e| e.version + 1);
    for (k, v) in ctx.metadata() {
        attributes.insert(k.into(), v);
    }
    // The target key is the source's sk under the target pk: the row moves when its pk does.
    if row.source_pk != pk && ctx.mode != Mode::Rollback {
        let source_id = keys::id(&row.source_pk, &row.source_sk);
        // The guide's `_migratedFrom`: the source entity's id.
        attributes.insert("_migratedFrom".into(), s(&source_id));
        attributes.insert("_sourceKey".into(), s(&source_id));
        if let Some(v) = row.version {
            attributes.insert("_sourceVersion".into(), crate::value::n(v));
        }
    }
    let mut next = EntityRow {
        id: keys::id(&pk, &sk),
        code: row.code.clone(),
        name: row.name.clone(),
        version,
        tenant_code: row.target_tenant().into(),
        entity_type: row.target_type().into(),
        is_deleted: row.is_deleted.unwrap_or(false),
        seq: row
            .seq
            .clone()
            .or_else(|| existing.and_then(|e| e.seq.clone())),
        // As publishPartialUpdate*: the row's own ttl, else the app's rule from now.
        ttl: row.ttl.clone().or_else(|| rule_ttl.cloned()),
        attributes,
        attributes_pointer: None,
        source: None,
        request_id: compact_str::format_compact!("{}:{}", ctx.job_id, row.line),
        created_at: ctx.now.clone(),
        created_by: ctx.actor.clone(),
        created_ip: None,
        updated_at: ctx.now.clone(),
        updated_by: ctx.actor.clone(),
        updated_ip: None,
        cpk: Some(pk.clone()),
        csk: Some(keys::versioned_sk(&sk, version)),
        sync_mode: None,
        status: None,
        extra: existing.map(|e| e.extra.clone()).unwrap_or_default(),
        pk,
        sk,
    };
    if let Some(e) = existing {
        keep_first_creation(&mut next, e);
    }
    command_shape(&mut next, ctx);
    next
}

/// The data row keeps the entity's first `createdAt/createdBy/createdIp` (in the framework's
/// date form, as the framework rewrites a date it read).
fn keep_first_creation(next: &mut EntityRow, existing: &EntityRow) {
    if !existing.created_at.is_empty() {
        next.created_at = model::normalize_timestamp(&existing.created_at);
    }
    if !existing.created_by.is_empty() {
        next.created_by = existing.created_by.clone();
    }
    next.created_ip = existing.created_ip.clone();
}

/// `source`, `syncMode` and `status` of the command row, by publish mode: `direct` is
/// `publishSync`'s row (SYNC, finished), `app` is `publishAsync`'s (neither: the saga sets status).
fn command_shape(next: &mut EntityRow, ctx: &PublishContext) {
    next.source = Some(compact_str::format_compact!("migration:{}", ctx.job_id));
    (next.sync_mode, next.status) = match ctx.publish_mode {
        PublishMode::Direct => (Some(SYNC_MODE.into()), Some(DIRECT_COMMAND_STATUS.into())),
        PublishMode::App => (None, None),
    };
}

/// The old entity of a moved row (normalize-tenant, copy-tenant with `softDeleteSource`),
/// soft-deleted and pointing at its new key.
pub fn soft_deleted(
    existing: &EntityRow,
    moved_to: &Key,
    ctx: &PublishContext,
    rule_ttl: Option<&Text>,
) -> EntityRow {
    let mut row = existing.clone();
    row.version = existing.version + 1;
    row.is_deleted = true;
    for (k, v) in ctx.metadata() {
        row.attributes.insert(k.into(), v);
    }
    row.attributes.insert(
        "_migratedTo".into(),
        s(keys::id(&moved_to.pk, &moved_to.sk)),
    );
    row.ttl = rule_ttl.cloned();
    row.request_id = compact_str::format_compact!("{}:soft-delete", ctx.job_id);
    row.created_at = ctx.now.clone();
    row.created_by = ctx.actor.clone();
    keep_first_creation(&mut row, existing);
    row.updated_at = ctx.now.clone();
    row.updated_by = ctx.actor.clone();
    row.updated_ip = None;
    row.cpk = Some(row.pk.clone());
    row.csk = Some(keys::versioned_sk(&row.sk, row.version));
    command_shape(&mut row, ctx);
    row
}

/// The puts of publishing `next` over a data row at version `next.version - 1` (or none):
/// `direct`: command `{sk}@{v+1}` if it does not exist, and the data row if its version is
/// still v; `app`: the command row only (the app's saga checks the version and writes data).
pub fn publish_puts(next: EntityRow, tables: &TableNames, mode: PublishMode) -> Vec<Put> {
    match mode {
        PublishMode::App => vec![Put::new(
            &tables.command,
            next.into_command_item(),
            Condition::NotExists,
        )],
        PublishMode::Direct => {
            let data_condition = if next.version == 1 {
                Condition::NotExists
            } else {
                Condition::VersionEquals(next.version - 1)
            };
            let (command, data) = next.into_command_and_data_items();
            vec![
                Put::new(&tables.command, command, Condition::NotExists),
                Put::new(&tables.data, data, data_condition),
            ]
        }
    }
}

/// What happened (or, in a dry run, would happen) to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Conflict,
    Failed,
}

/// A second entity changed by the same atomic write (normalize-tenant: the old key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideChange {
    pub pk: Text,
    pub sk: Text,
    pub previous_version: u64,
    pub new_version: u64,
}

/// The outcome of one row, as recorded in the chunk's result file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    pub line: u64,
    pub pk: Text,
    pub sk: Text,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_change: Option<SideChange>,
    /// The write was found already done by this job (a resumed or retried chunk).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

/// The plan for one row, before anything is written.
#[derive(Debug, Clone)]
pub enum Plan {
    Done(RowOutcome),
    Write { outcome: RowOutcome, puts: Vec<Put> },
}

/// Whether publishing `row` over the stored entity `existing` would change nothing by the
/// dirty-field rule ([`compare`] of [`map_row`]'s result), decided without mapping the row:
/// every field the row sets is the stored one, and its attributes are contained in the stored
/// ones as a merge leaves them (merge mode) or are them (replace mode), metadata aside. `true`
/// only where the mapped comparison says Equal (a property test holds the two together);
/// `false` sends the row the long way.
pub fn is_unchanged(row: &MigrationRow, existing: &EntityRow, ctx: &PublishContext) -> bool {
    let fields_equal = row.code == existing.code
        && row.name == existing.name
        && row.target_tenant() == existing.tenant_code
        && row.target_type() == existing.entity_type
        && row.is_deleted.unwrap_or(false) == existing.is_deleted
        && row
            .seq
            .as_ref()
            .is_none_or(|s| Some(s) == existing.seq.as_ref())
        && row
            .ttl
            .as_ref()
            .is_none_or(|t| Some(t) == existing.ttl.as_ref());
    if !fields_equal {
        return false;
    }
    fn own(a: &Attributes) -> impl Iterator<Item = (&Text, &AttributeValue)> {
        a.iter().filter(|(k, _)| !model::is_metadata(k))
    }
    match ctx.attributes_mode {
        AttributesMode::Merge => own(&row.attributes).all(|(k, v)| {
            existing
                .attributes
                .get(k)
                .is_some_and(|stored| crate::merge::is_merged_into(v, stored))
        }),
        AttributesMode::Replace => own(&row.attributes).eq(own(&existing.attributes)),
    }
}

/// Plans one row against the current data rows (`target` at the row's target key, `source`
/// at its source key when the mode moves entities), their `s3://` attributes resolved.
pub fn plan_row(
    row: &MigrationRow,
    target: Option<&EntityRow>,
    source: Option<&EntityRow>,
    ctx: &PublishContext,
    ttls: &TtlByTenant,
) -> Plan {
    let key = row.target_key();
    let outcome = |outcome: Outcome,
                   previous: Option<u64>,
                   new: Option<u64>,
                   reason: Option<String>| RowOutcome {
        line: row.line,
        pk: key.pk.clone(),
        sk: key.sk.clone(),
        outcome,
        previous_version: previous,
        new_version: new,
        reason,
        side_change: None,
        recovered: false,
    };
    let moves = ctx.moves_entities && (row.source_pk != key.pk || row.source_sk != key.sk);

    // The optimistic lock a row may carry: the version it expects (see README "version column").
    // `None`: the mode takes no lock (copy-tenant and reconcile record the version instead).
    let locked: Option<Option<&EntityRow>> = match ctx.mode {
        _ if moves => Some(source),
        Mode::CopyTenant | Mode::Reconcile => None,
        _ => Some(target),
    };
    if let (Some(expected), Some(locked)) = (row.version, locked) {
        let current = locked.map(|e| e.version);
        // A version this job already moved on from itself (resume) is not a conflict.
        let done_by_us = if moves {
            source_done(source, &key)
        } else {
            target.is_some_and(|t| written_by(t, ctx))
        };
        if current != Some(expected) && !done_by_us {
            let now = current.map_or("no entity".to_string(), |v| format!("version {v}"));
            return Plan::Done(outcome(
                Outcome::Conflict,
                current,
                None,
                Some(format!("expected version {expected}, found {now}")),
            ));
        }
    }

    // An unchanged row is known by comparing it with the stored entity directly: most rows of a
    // re-run are, and mapping one (merge, metadata, a whole new row) only to find it equal
    // would cost more than the rest of its planning.
    // `None`: publishing would change nothing (EQUAL).
    let next = match target {
        Some(t) if is_unchanged(row, t, ctx) => None,
        _ => {
            let next = map_row(row, target, ctx, ttls.get(row.target_tenant()));
            (compare(&next, target, row.ttl.is_some()) != Comparison::Equal).then_some(next)
        }
    };
    let mut puts = Vec::new();
    let mut result = match next {
        None => {
            let t = target.map(|t| t.version);
            let mut done = outcome(Outcome::Unchanged, t, t, None);
            if let Some(t) = target.filter(|t| written_by(t, ctx)) {
                // Written by this very job before a crash or retry: report it as this job's write.
                done.outcome = if t.version == 1 {
                    Outcome::Created
                } else {
                    Outcome::Updated
                };
                done.previous_version = t.version.checked_sub(1).filter(|v| *v > 0);
                done.recovered = true;
            }
            done
        }
        Some(next) => {
            // NOT_EXIST (no stored entity) or CHANGED.
            let kind = if target.is_none() {
                Outcome::Created
            } else {
                Outcome::Updated
            };
            let written = outcome(kind, target.map(|t| t.version), Some(next.version), None);
            puts.extend(publish_puts(next, &ctx.tables, ctx.publish_mode));
            written
        }
    };

    if moves {
        match source {
            Some(old) if !source_done(Some(old), &key) => {
                let deleted = soft_deleted(old, &key, ctx, ttls.get(&old.tenant_code));
                result.side_change = Some(SideChange {
                    pk: old.pk.clone(),
                    sk: old.sk.clone(),
                    previous_version: old.version,
                    new_version: deleted.version,
                });
                puts.extend(publish_puts(deleted, &ctx.tables, ctx.publish_mode));
                if result.outcome == Outcome::Unchanged {
                    result.outcome = Outcome::Updated;
                }
            }
            Some(old) => {
                if let (true, Some(o)) = (written_by(old, ctx), old.version.checked_sub(1)) {
                    result.side_change = Some(SideChange {
                        pk: old.pk.clone(),
                        sk: old.sk.clone(),
                        previous_version: o,
                        new_version: old.version,
                    });
                }
            }
            None => {
                return Plan::Done(outcome(
                    Outcome::Conflict,
                    target.map(|t| t.version),
                    None,
                    Some(format!(
                        "source entity {} no longer exists",
                        keys::id(&row.source_pk, &row.source_sk)
                    )),
                ));
            }
        }
    }
    if puts.is_empty() {
        Plan::Done(result)
    } else {
        Plan::Write {
            outcome: result,
            puts,
        }
    }
}

/// Whether the row carries this job's migration id (it was written by this job).
fn written_by(row: &EntityRow, ctx: &PublishContext) -> bool {
    matches!(row.attributes.get("_migrationId"), Some(AttributeValue::S(j)) if *j == ctx.job_id)
}

/// The old entity of a normalize-tenant row is already soft-deleted towards `moved_to`.
fn source_done(source: Option<&EntityRow>, moved_to: &Key) -> bool {
    source.is_some_and(|old| {
        old.is_deleted
            && matches!(old.attributes.get("_migratedTo"), Some(AttributeValue::S(to)) if *to == keys::id(&moved_to.pk, &moved_to.sk))
    })
}
