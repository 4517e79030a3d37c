//! Helpers for the pipeline tests on the embedded store: a local pipeline on a temporary state
//! directory, a job run from an uploaded CSV, data-row reads.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::keys::Key;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::model::EntityRow;
use shared::ports::objects::PutObject;
use shared::ports::table::{Table, query_all};
use shared::value::{AttributeValue, Item, get_s};

pub const DEFINITION: &str = include_str!("../../infra/statemachine.asl.json");

pub fn pipeline(dir: &std::path::Path) -> LocalPipeline {
    let mut p = LocalPipeline::open(dir, DEFINITION).unwrap();
    p.retry_interval_scale = 0.0;
    p
}

pub async fn upload_and_run(
    p: &LocalPipeline,
    key: &str,
    csv: &str,
    job: Value,
) -> (ExecutionStatus, Value) {
    p.objects
        .put_object(LOCAL_BUCKET, key, csv.as_bytes().to_vec())
        .await
        .unwrap();
    let mut doc = job;
    doc["mode"] = json!("import");
    doc["source"] = json!({ "key": key });
    let name = doc["jobId"].as_str().unwrap().to_string();
    let r = run_checked(p, &name, doc).await;
    let out = match &r.output {
        Some(o) => o.clone(),
        None => job_record(p, &name).await.unwrap_or(Value::Null),
    };
    (r.status, out)
}

/// The job record of `job_id` as JSON (as `migrate job` prints it), if there is one.
pub async fn job_record(p: &LocalPipeline, job_id: &str) -> Option<Value> {
    p.deps
        .job_records()
        .get(job_id)
        .await
        .unwrap()
        .map(|r| serde_json::to_value(r).unwrap())
}

/// The live data row of (pk, sk), decoded; panics (the test fails) when it is absent.
pub async fn data_entity(p: &LocalPipeline, pk: &str, sk: &str) -> EntityRow {
    let item = p
        .deps
        .tables
        .get_item("data", &Key::new(pk, sk))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no data row {pk} / {sk}"));
    EntityRow::from_data_item(&item).unwrap()
}

pub async fn data_rows(p: &LocalPipeline, table: &str, pk: &str) -> Vec<Item> {
    query_all(p.deps.tables.as_ref(), table, pk, None)
        .await
        .unwrap()
}

/// Runs a job and checks that its counts are facts.
pub async fn run_checked(
    p: &LocalPipeline,
    name: &str,
    doc: Value,
) -> shared::asl::ExecutionResult {
    let job_id = doc["jobId"].as_str().unwrap_or(name).to_string();
    let r = p.run(name, doc).await.unwrap();
    assert_counts_are_facts(p, &job_id).await;
    r
}

/// Counts are facts (DESIGN §7): `created + updated` of a job equals the versions it actually
/// published (its command rows, `source = migration:<jobId>`), not counting the soft deletes a
/// normalize-tenant row publishes beside its entity. In `app` mode a command row counts only
/// once the app's saga brought its data row there (Verify), so there the equation is checked
/// against the data rows instead. Jobs that write nothing (dry runs, a reconcile without
/// `repair`) report what they would write and are not checked.
pub async fn assert_counts_are_facts(p: &LocalPipeline, job_id: &str) {
    use shared::ports::table::ScanItems;
    let Some(record) = job_record(p, job_id).await else {
        return; // refused before it started: nothing to count
    };
    // A job refused in Prepare has no document in its record: nothing was written.
    let Ok(document) = shared::job::JobDocument::parse(record["document"].clone()) else {
        return;
    };
    // normalize-users writes to the user directory, not the tables: its test checks the users.
    if !document.options().is_ok_and(|o| o.writes)
        || document.mode == shared::job::Mode::NormalizeUsers
    {
        return; // a dry run or a compare-only reconcile: its counts say what *would* be written
    }
    let claimed = record["counts"]["created"].as_u64().unwrap_or(0)
        + record["counts"]["updated"].as_u64().unwrap_or(0);
    let app_mode = record["document"]["publishMode"] == "app";
    let source = format!("migration:{job_id}");
    let mut published = 0u64;
    let mut start = None;
    loop {
        let page = p
            .tables
            .scan("command", 0, 1, start.as_ref(), 1000)
            .await
            .unwrap();
        for item in &page.items {
            let row = EntityRow::from_versioned_item(item).unwrap();
            let soft_delete = row.is_deleted && row.attributes.contains_key("_migratedTo");
            if row.source.as_deref() != Some(source.as_str()) || soft_delete {
                continue;
            }
            if app_mode {
                let data = data_entity_if_exists(p, &row.pk, &row.sk).await;
                if data.is_none_or(|d| d.version < row.version) {
                    continue; // the saga did not finish it: not written
                }
            }
            published += 1;
        }
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    assert_eq!(
        claimed, published,
        "job {job_id}: counts say {claimed} created + updated, {published} versions were published: {record}"
    );
}

async fn data_entity_if_exists(p: &LocalPipeline, pk: &str, sk: &str) -> Option<EntityRow> {
    let item = p
        .deps
        .tables
        .get_item("data", &Key::new(pk, sk))
        .await
        .unwrap()?;
    Some(EntityRow::from_data_item(&item).unwrap())
}

/// Every item of a table, keyed by (pk, sk), without the attributes that are timestamps.
pub async fn table_contents(t: &dyn Table, name: &str) -> BTreeMap<(String, String), Item> {
    let mut out = BTreeMap::new();
    for segment in 0..2 {
        let mut start = None;
        loop {
            let page = t.scan(name, segment, 2, start.as_ref(), 500).await.unwrap();
            for mut item in page.items {
                for volatile in ["createdAt", "updatedAt"] {
                    item.remove(volatile);
                }
                if let Some(AttributeValue::M(attributes)) = item.get_mut("attributes") {
                    attributes.remove("_migratedAt");
                }
                let key = (
                    get_s(&item, "pk").unwrap_or_default().to_string(),
                    get_s(&item, "sk").unwrap_or_default().to_string(),
                );
                out.insert(key, item);
            }
            match page.next {
                Some(n) => start = Some(n),
                None => break,
            }
        }
    }
    out
}
