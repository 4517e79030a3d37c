//! Processing one chunk of migration rows against the tables, in batches.
//!
//! * Reads: one `BatchGetItem` per 100 keys (target keys, and source keys when entities move).
//! * Writes: each row's puts (2, or 4 for normalize-tenant) stay together; rows are grouped into
//!   `TransactWriteItems` of at most 100 items. A group that is cancelled falls back to one
//!   transaction per row, so one bad or conflicting row never fails its neighbours.
//! * A row whose own transaction is cancelled by a condition is re-read and re-compared once:
//!   if the fresh row already equals what we wanted it is unchanged, otherwise it is reported
//!   as a conflict. A concurrent change is never overwritten.
//! * Rows of one chunk that write the same item run in successive "waves", so the second sees
//!   the first one's version.

use serde::{Deserialize, Serialize};

use crate::error::{Error, StoreError};
use crate::hashing::FastMap;
use crate::keys::Key;
use crate::migration_csv::MigrationRow;
use crate::model::EntityRow;
use crate::ports::ObjectStore;
use crate::ports::table::{
    CancellationReason, MAX_BATCH_GET, MAX_TRANSACT_ITEMS, Put, Table, WriteError,
};
use crate::publish::{Outcome, Plan, PublishContext, RowOutcome, TtlByTenant, plan_row};
use crate::write_budget::transact_units;

/// The counts of the execution output contract (DESIGN §7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub conflicts: u64,
    pub failed: u64,
}

impl Counts {
    /// Each count with its name, in the output contract's order.
    pub fn labeled(&self) -> [(&'static str, u64); 7] {
        [
            ("total", self.total),
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("rejected", self.rejected),
            ("conflicts", self.conflicts),
            ("failed", self.failed),
        ]
    }

    pub fn record(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Conflict => self.conflicts += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
        self.conflicts += other.conflicts;
        self.failed += other.failed;
    }

    pub fn of(outcomes: &[RowOutcome]) -> Counts {
        let mut c = Counts::default();
        for o in outcomes {
            c.record(o.outcome);
        }
        c
    }
}

/// The fields of a data row a check of its state reads: key, version and whether it is live
/// (a reference check, Verify's count of entities without a source).
pub const STATE_FIELDS: &[&str] = &["pk", "sk", "version", "isDeleted"];

/// [`STATE_FIELDS`] and what Verify compares (`code`, `name`, `attributes`; `compareFields`
/// names only these and attributes).
pub const COMPARED_FIELDS: &[&str] = &[
    "pk",
    "sk",
    "version",
    "isDeleted",
    "code",
    "name",
    "attributes",
];

/// Reads the current data rows of `keys`, 100 keys per batch: whole (`None`, what a new
/// version is built from), or only the fields in `fields` (the rows' other fields are then
/// empty or derived from the key).
pub async fn read_data_rows(
    table: &dyn Table,
    data_table: &str,
    keys: &[Key],
    fields: Option<&[&str]>,
) -> Result<FastMap<Key, EntityRow>, Error> {
    let mut out = FastMap::with_capacity_and_hasher(keys.len(), Default::default());
    let mut unique: Vec<Key> = keys.to_vec();
    unique.sort();
    unique.dedup();
    for batch in unique.chunks(MAX_BATCH_GET) {
        let items = match fields {
            None => table.batch_get(data_table, batch).await?,
            Some(names) => table.batch_get_projected(data_table, batch, names).await?,
        };
        for item in items {
            let row =
                EntityRow::from_data_item_owned(item).map_err(|e| Error::invalid(e.to_string()))?;
            out.insert(row.data_key(), row);
        }
    }
    Ok(out)
}

/// The current data rows of a wave, resolved, with the TTL rules of their tenants.
pub struct Current {
    pub rows: FastMap<Key, EntityRow>,
    /// Rows whose `s3://` attributes could not be read, and why.
    pub unreadable: FastMap<Key, String>,
    pub ttls: TtlByTenant,
}

/// Resolves the `s3://` attributes of `rows` in place; returns the rows that could not be.
pub async fn resolve_rows(
    rows: &mut FastMap<Key, EntityRow>,
    objects: &dyn ObjectStore,
) -> FastMap<Key, String> {
    let mut unreadable = FastMap::default();
    for (key, row) in rows.iter_mut() {
        if let Err(why) = crate::large_attributes::resolve(row, objects).await {
            unreadable.insert(key.clone(), why);
        }
    }
    unreadable
}

/// Reads, resolves and looks up the TTL rules for the rows a wave writes.
pub async fn read_current(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    ctx: &PublishContext,
    keys: &[Key],
) -> Result<Current, Error> {
    let mut rows = read_data_rows(table, &ctx.tables.data, keys, None).await?;
    let unreadable = resolve_rows(&mut rows, objects).await;
    let ttls = match &ctx.master_data_table {
        None => TtlByTenant::new(),
        Some(master) => {
            let tenants = keys
                .iter()
                .filter_map(|k| crate::keys::tenant_of_pk(&k.pk).map(str::to_string))
                .collect();
            let now = chrono::DateTime::parse_from_rfc3339(&ctx.now)
                .map(|t| t.timestamp())
                .unwrap_or_else(|_| chrono::Utc::now().timestamp());
            crate::ttl_rules::ttls_for(table, master, &ctx.tables.data, &tenants, now).await?
        }
    };
    Ok(Current {
        rows,
        unreadable,
        ttls,
    })
}

/// Plans one row against the current rows; a row whose existing attributes cannot be read fails.
///
/// The row's keys are built once here (each is two strings) and looked up by reference: the
/// source is looked up only when the row moves an entity, the one case `plan_row` reads it.
fn plan(row: &MigrationRow, current: &Current, ctx: &PublishContext) -> Plan {
    let target = row.target_key();
    let source = ctx
        .moves_entities
        .then(|| row.source_key())
        .filter(|source| *source != target);
    for key in std::iter::once(&target).chain(source.as_ref()) {
        if let Some(why) = current.unreadable.get(key) {
            return Plan::Done(RowOutcome {
                line: row.line,
                previous_version: current.rows.get(key).map(|r| r.version),
                pk: target.pk,
                sk: target.sk,
                outcome: Outcome::Failed,
                new_version: None,
                reason: Some(why.clone()),
                side_change: None,
                recovered: false,
            });
        }
    }
    plan_row(
        row,
        current.rows.get(&target),
        source.as_ref().and_then(|key| current.rows.get(key)),
        ctx,
        &current.ttls,
    )
}

/// The items a row writes: its target, and its source when the job moves entities.
fn write_keys(row: &MigrationRow, moves_entities: bool) -> Vec<Key> {
    let target = row.target_key();
    let source = row.source_key();
    if moves_entities && source != target {
        vec![target, source]
    } else {
        vec![target]
    }
}

/// Splits rows into waves in which no two rows write the same item (order kept per item).
fn waves(rows: Vec<MigrationRow>, moves_entities: bool) -> Vec<Vec<MigrationRow>> {
    let mut last_wave: FastMap<Key, usize> = FastMap::default();
    let mut out: Vec<Vec<MigrationRow>> = Vec::new();
    for row in rows {
        let keys = write_keys(&row, moves_entities);
        let wave = keys
            .iter()
            .filter_map(|k| last_wave.get(k).map(|w| w + 1))
            .max()
            .unwrap_or(0);
        for k in keys {
            last_wave.insert(k, wave);
        }
        if out.len() <= wave {
            out.resize_with(wave + 1, Vec::new);
        }
        out[wave].push(row);
    }
    out
}

/// Processes rows (a chunk) and returns one outcome per row, in input order per wave.
/// `dry_run` plans without writing. Store failures that may pass (throttling) are returned as
/// errors so the whole chunk is retried; that is safe because planning is idempotent.
pub async fn process_rows(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    rows: Vec<MigrationRow>,
    ctx: &PublishContext,
    dry_run: bool,
) -> Result<Vec<RowOutcome>, Error> {
    let mut outcomes = Vec::with_capacity(rows.len());
    for wave in waves(rows, ctx.moves_entities) {
        let keys: Vec<Key> = wave
            .iter()
            .flat_map(|r| write_keys(r, ctx.moves_entities))
            .collect();
        let current = read_current(table, objects, ctx, &keys).await?;
        let mut pending: Vec<(&MigrationRow, RowOutcome, Vec<Put>)> = Vec::new();
        for row in &wave {
            match plan(row, &current, ctx) {
                Plan::Done(outcome) => outcomes.push(outcome),
                Plan::Write { outcome, mut puts } => {
                    if !dry_run {
                        for put in &mut puts {
                            ctx.large_attributes.offload(put, objects).await?;
                        }
                    }
                    pending.push((row, outcome, puts))
                }
            }
        }
        // Rows go out in transactions of up to 100 items (with a write budget, of at most a
        // tenth of a second of the chunk's share); a dry run meters what it would send. A
        // group's puts are moved into one list, each row keeping its range of it, so the
        // group's transaction and a row's own one (the fallback) send the same puts uncopied.
        let max_units = ctx.writes.max_request_units();
        let mut groups = Vec::new();
        let mut group = Group::default();
        let mut group_units = 0;
        for (row, outcome, puts) in pending {
            let units = transact_units(&puts);
            let full = group.puts.len() + puts.len() > MAX_TRANSACT_ITEMS
                || max_units.is_some_and(|m| group_units + units > m);
            if full && !group.rows.is_empty() {
                groups.push(std::mem::take(&mut group));
                group_units = 0;
            }
            group_units += units;
            group.push(row, outcome, puts, units);
        }
        if !group.rows.is_empty() {
            groups.push(group);
        }
        if dry_run || max_units.is_some() {
            // A dry run meters each group; a write budget paces each group as it goes out.
            for group in groups {
                outcomes.extend(send_group(table, objects, group, ctx, dry_run).await?);
            }
        } else {
            outcomes.extend(write_groups(table, objects, groups, ctx).await?);
        }
    }
    Ok(outcomes)
}

/// Writes groups: those of several rows go to the store in one call — still one
/// `TransactWriteItems` each, but the embedded store commits them together, one SQLite commit
/// per wave instead of one per group (with a write budget, each group is sent on its own). A
/// refused group is then written row by row, and a group of one row takes the row's own path.
async fn write_groups(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    groups: Vec<Group<'_>>,
    ctx: &PublishContext,
) -> Result<Vec<RowOutcome>, Error> {
    let transactions: Vec<&[Put]> = groups
        .iter()
        .filter(|g| g.rows.len() > 1)
        .map(|g| g.puts.as_slice())
        .collect();
    let results = if transactions.is_empty() {
        Vec::new()
    } else {
        for group in groups.iter().filter(|g| g.rows.len() > 1) {
            ctx.writes.charge(group.total_units()).await;
        }
        crate::kill_points::reached("process:before-write");
        table.transact_write_all(&transactions).await
    };
    drop(transactions);
    let mut results = results.into_iter();
    let mut out = Vec::new();
    for group in groups {
        if group.rows.len() == 1 {
            out.extend(write_rows(table, objects, group, ctx).await?);
            continue;
        }
        match results.next() {
            Some(Ok(())) => {
                crate::kill_points::reached("process:after-write");
                out.extend(group.outcomes());
            }
            Some(Err(WriteError::Store(e))) if e.is_retriable() => return Err(e.into()),
            Some(Err(e)) => {
                tracing::debug!(rows = group.rows.len(), error = %e, "group transaction refused; writing row by row");
                out.extend(write_rows(table, objects, group, ctx).await?);
            }
            None => {
                return Err(Error::Retryable(
                    "the table store returned fewer transaction results than it was sent".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Rows that go out in one transaction: each row's planned outcome, its range of `puts` and
/// their write units (an item's size is measured once, when its row joins the group).
#[derive(Default)]
struct Group<'a> {
    rows: Vec<(&'a MigrationRow, RowOutcome, std::ops::Range<usize>)>,
    puts: Vec<Put>,
    units: Vec<u64>,
}

impl<'a> Group<'a> {
    fn push(&mut self, row: &'a MigrationRow, outcome: RowOutcome, puts: Vec<Put>, units: u64) {
        let start = self.puts.len();
        self.puts.extend(puts);
        self.rows.push((row, outcome, start..self.puts.len()));
        self.units.push(units);
    }

    fn total_units(&self) -> u64 {
        self.units.iter().sum()
    }

    fn outcomes(self) -> Vec<RowOutcome> {
        self.rows.into_iter().map(|(_, o, _)| o).collect()
    }
}

/// Writes a group, or in a dry run only meters the transaction it would be.
async fn send_group(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    group: Group<'_>,
    ctx: &PublishContext,
    dry_run: bool,
) -> Result<Vec<RowOutcome>, Error> {
    if dry_run {
        ctx.writes.record(group.total_units());
        return Ok(group.outcomes());
    }
    write_groups(table, objects, vec![group], ctx).await
}

/// Writes a group's rows one transaction each (a refused group's fallback, or a group of one).
async fn write_rows(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    group: Group<'_>,
    ctx: &PublishContext,
) -> Result<Vec<RowOutcome>, Error> {
    let mut out = Vec::with_capacity(group.rows.len());
    for ((row, outcome, range), units) in group.rows.into_iter().zip(group.units) {
        out.push(write_row(table, objects, row, outcome, &group.puts[range], units, ctx).await?);
    }
    Ok(out)
}

async fn write_row(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    row: &MigrationRow,
    planned: RowOutcome,
    puts: &[Put],
    units: u64,
    ctx: &PublishContext,
) -> Result<RowOutcome, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        ctx.writes.charge(units).await;
        match table.transact_write(puts).await {
            Ok(()) => return Ok(planned),
            Err(WriteError::Cancelled(reasons))
                if reasons.contains(&CancellationReason::ConditionalCheckFailed) =>
            {
                return recheck(table, objects, row, planned, ctx).await;
            }
            Err(WriteError::ConditionFailed) => {
                return recheck(table, objects, row, planned, ctx).await;
            }
            Err(WriteError::Cancelled(reasons)) if attempt < 3 => {
                // e.g. TransactionConflict with another writer's transaction: try again shortly.
                tracing::debug!(line = row.line, ?reasons, "transaction cancelled; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(WriteError::Cancelled(reasons)) => {
                return Ok(failed(
                    planned,
                    format!("transaction cancelled: {reasons:?}"),
                ));
            }
            Err(WriteError::Store(e)) if e.is_retriable() => return Err(e.into()),
            Err(WriteError::Store(StoreError::InvalidRequest(why))) => {
                return Ok(failed(planned, why));
            }
            Err(WriteError::Store(e)) => return Err(e.into()),
        }
    }
}

fn failed(mut planned: RowOutcome, reason: String) -> RowOutcome {
    planned.outcome = Outcome::Failed;
    planned.new_version = None;
    planned.side_change = None;
    planned.reason = Some(reason);
    planned
}

/// After a condition failed: re-read, re-compare once, report. Never writes.
async fn recheck(
    table: &dyn Table,
    objects: &dyn ObjectStore,
    row: &MigrationRow,
    planned: RowOutcome,
    ctx: &PublishContext,
) -> Result<RowOutcome, Error> {
    let keys = write_keys(row, ctx.moves_entities);
    let fresh = read_current(table, objects, ctx, &keys).await?;
    let target = fresh.rows.get(&row.target_key());
    match plan(row, &fresh, ctx) {
        // Already as wanted (unchanged / written by this job), or an expected-version conflict.
        Plan::Done(outcome) => Ok(outcome),
        Plan::Write { .. } => {
            let now = target.map_or("absent".to_string(), |t| {
                format!("at version {}", t.version)
            });
            let mut conflict = planned;
            conflict.outcome = Outcome::Conflict;
            conflict.reason = Some(format!(
                "version conflict: the data row changed concurrently (now {now}, expected {}); left as it is",
                conflict
                    .previous_version
                    .map_or("absent".to_string(), |v| format!("version {v}"))
            ));
            conflict.previous_version = target.map(|t| t.version);
            conflict.new_version = None;
            conflict.side_change = None;
            Ok(conflict)
        }
    }
}
