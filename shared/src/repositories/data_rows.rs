//! The data table's rows by partition, page by page: the one place the query loop is written
//! (Export reads a partition, Verify counts extra and legacy-key rows).

use crate::error::Error;
use crate::keys::Key;
use crate::ports::Table;
use crate::value::Item;

/// A partition's items, one page at a time (never the whole partition in memory).
pub struct PartitionPages<'a> {
    table: &'a dyn Table,
    name: &'a str,
    pk: String,
    page_size: usize,
    start: Option<Key>,
    done: bool,
}

impl<'a> PartitionPages<'a> {
    pub fn new(table: &'a dyn Table, name: &'a str, pk: &str, page_size: usize) -> Self {
        PartitionPages {
            table,
            name,
            pk: pk.to_string(),
            page_size,
            start: None,
            done: false,
        }
    }

    /// The next page's items; `None` after the last page.
    pub async fn next(&mut self) -> Result<Option<Vec<Item>>, Error> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .table
            .query(
                self.name,
                &self.pk,
                None,
                self.start.as_ref(),
                self.page_size,
            )
            .await?;
        self.start = page.next;
        self.done = self.start.is_none();
        Ok(Some(page.items))
    }
}
