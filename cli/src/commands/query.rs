//! `migrate query TABLE PK [--sk-prefix P]`: the items of one partition in sk order.

use std::process::ExitCode;

use shared::local::LocalPipeline;
use shared::ports::table::query_all;

use super::get::{Read, print_items};
use super::{Outcome, failed, table_name};

pub async fn run(
    pipeline: &LocalPipeline,
    table: &str,
    pk: &str,
    prefix: Option<&str>,
    how: Read,
) -> Outcome {
    let name = table_name(pipeline, table)?;
    let tables = pipeline.deps.tables.as_ref();
    let items = if how.tenant_fallback {
        let found = shared::dual_read::list(tables, &name, pk, prefix)
            .await
            .map_err(failed)?;
        let legacy = found.iter().filter(|f| f.legacy).count();
        if legacy > 0 {
            eprintln!("{legacy} item(s) served from a legacy uppercase tenant key");
        }
        found.into_iter().map(|f| f.item).collect()
    } else {
        query_all(tables, &name, pk, prefix).await.map_err(failed)?
    };
    print_items(&items, how.typed);
    Ok(ExitCode::SUCCESS)
}
