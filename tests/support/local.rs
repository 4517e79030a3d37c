//! Helpers for the pipeline tests on the embedded store: a local pipeline on a temporary state
//! directory, a job run from an uploaded CSV, data-row reads.

use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::keys::Key;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::model::EntityRow;
use shared::ports::objects::PutObject;
use shared::ports::table::query_all;
use shared::value::Item;

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
    let r = p.run(&name, doc).await.unwrap();
    let out = match &r.output {
        Some(o) => o.clone(),
        None => shared::handlers::job_record::get(&p.deps, &name)
            .await
            .unwrap()
            .unwrap_or(Value::Null),
    };
    (r.status, out)
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
