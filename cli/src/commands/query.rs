//! `migrate query TABLE PK [--sk-prefix P]`: the items of one partition in sk order.

use std::process::ExitCode;

use shared::local::LocalPipeline;
use shared::ports::table::query_all;
use shared::value::{PlainItem, TypedItem};

use super::{Outcome, failed, table_name};
use crate::output;

pub async fn run(
    pipeline: &LocalPipeline,
    table: &str,
    pk: &str,
    prefix: Option<&str>,
    typed: bool,
) -> Outcome {
    let name = table_name(pipeline, table)?;
    let items = query_all(pipeline.deps.tables.as_ref(), &name, pk, prefix)
        .await
        .map_err(failed)?;
    if typed {
        output::json(&items.iter().map(TypedItem).collect::<Vec<_>>(), true);
    } else {
        output::json(&items.iter().map(PlainItem).collect::<Vec<_>>(), true);
    }
    Ok(ExitCode::SUCCESS)
}
