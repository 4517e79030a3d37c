//! `migrate get TABLE PK SK`: one item as JSON; exit 1 if absent.

use std::process::ExitCode;

use shared::keys::Key;
use shared::local::LocalPipeline;
use shared::value::{Item, PlainItem, TypedItem};

use super::{Outcome, failed, table_name};
use crate::output;

/// How `get` and `query` read and print.
#[derive(Debug, Clone, Copy)]
pub struct Read {
    /// DynamoDB JSON instead of plain JSON.
    pub typed: bool,
    /// The dual read of [`shared::dual_read`].
    pub tenant_fallback: bool,
}

pub fn print_items(items: &[Item], typed: bool) {
    if typed {
        output::json(&items.iter().map(TypedItem).collect::<Vec<_>>(), true);
    } else {
        output::json(&items.iter().map(PlainItem).collect::<Vec<_>>(), true);
    }
}

pub async fn run(pipeline: &LocalPipeline, table: &str, key: &Key, how: Read) -> Outcome {
    let name = table_name(pipeline, table)?;
    let tables = pipeline.deps.tables.as_ref();
    let item = if how.tenant_fallback {
        let found = shared::dual_read::get(tables, &name, key)
            .await
            .map_err(failed)?;
        if let Some(f) = found.as_ref().filter(|f| f.legacy) {
            eprintln!(
                "served from the legacy key {}",
                shared::value::get_s(&f.item, "pk").unwrap_or_default()
            );
        }
        found.map(|f| f.item)
    } else {
        tables.get_item(&name, key).await.map_err(failed)?
    };
    let Some(item) = item else {
        eprintln!("not found: {table} {key}");
        return Ok(ExitCode::from(1));
    };
    if how.typed {
        output::json(&TypedItem(&item), true);
    } else {
        output::json(&PlainItem(&item), true);
    }
    Ok(ExitCode::SUCCESS)
}
