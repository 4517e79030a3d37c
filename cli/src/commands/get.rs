//! `migrate get TABLE PK SK`: one item as JSON; exit 1 if absent.

use std::process::ExitCode;

use shared::keys::Key;
use shared::local::LocalPipeline;
use shared::value::{PlainItem, TypedItem};

use super::{Outcome, failed, table_name};
use crate::output;

pub async fn run(
    pipeline: &LocalPipeline,
    table: &str,
    pk: &str,
    sk: &str,
    typed: bool,
) -> Outcome {
    let name = table_name(pipeline, table)?;
    let item = pipeline
        .deps
        .tables
        .get_item(&name, &Key::new(pk, sk))
        .await
        .map_err(failed)?;
    let Some(item) = item else {
        eprintln!("not found: {table} {pk} / {sk}");
        return Ok(ExitCode::from(1));
    };
    if typed {
        output::json(&TypedItem(&item), true);
    } else {
        output::json(&PlainItem(&item), true);
    }
    Ok(ExitCode::SUCCESS)
}
