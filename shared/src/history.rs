//! History (DESIGN §3): each earlier data row, written from the data table's stream.
//!
//! For a MODIFY or REMOVE record, the OldImage is put at `{sk}@{oldVersion}` in the history table
//! with `attribute_not_exists`, so a redelivered or duplicated record is harmless.
//!
//! As the framework's HistoryService: the history row gets the history table's own ttl (the
//! app's TTL rule for the history table, else `NULL`), not the data row's; and a REMOVE made by
//! DynamoDB's TTL expiry is not history (the framework never keeps expired rows). An `s3://`
//! attributes pointer is kept as it is: the object it names is never deleted.

use crate::error::Error;
use crate::keys;
use crate::ports::stream::StreamEventName;
use crate::ports::table::{Condition, Put, Table, WriteError};
use crate::value::{AttributeValue, Item, get_n, get_s, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryWrite {
    /// The old image was stored.
    Recorded,
    /// It was stored before (a redelivered record).
    AlreadyRecorded,
    /// Nothing to record (an INSERT has no earlier version, or a TTL expiry).
    NotApplicable,
}

/// What the stream says of one change.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub event: StreamEventName,
    pub old_image: Option<&'a Item>,
    pub new_image: Option<&'a Item>,
    /// A REMOVE by DynamoDB's TTL process (`userIdentity` = Service `dynamodb.amazonaws.com`).
    pub expired_by_ttl: bool,
}

/// The history item for an old data-row image: the same item at `{sk}@{version}`, with the
/// history ttl (`None`: `NULL`, as the framework writes a missing rule).
pub fn history_item(old_image: &Item, ttl: Option<&crate::value::Text>) -> Result<Item, Error> {
    let sk = get_s(old_image, "sk").ok_or_else(|| Error::invalid("old image has no string sk"))?;
    let version = get_n(old_image, "version")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Error::invalid(format!(
                "old image of sk {sk:?} has no whole-number version"
            ))
        })?;
    if get_s(old_image, "pk").is_none() {
        return Err(Error::invalid("old image has no string pk"));
    }
    let mut item = old_image.clone();
    item.insert("sk".into(), s(keys::versioned_sk(sk, version)));
    item.insert(
        "ttl".into(),
        ttl.map_or(AttributeValue::Null(true), |t| {
            AttributeValue::N(t.as_str().into())
        }),
    );
    Ok(item)
}

/// Records one stream change in the history table.
///
/// A MODIFY whose old and new images are equal changed nothing: DynamoDB writes no record for
/// such a put, but moto does, and recording it would put the *current* version into history.
pub async fn record(
    table: &dyn Table,
    history_table: &str,
    change: Change<'_>,
    ttl: Option<&crate::value::Text>,
) -> Result<HistoryWrite, Error> {
    if change.expired_by_ttl && change.event == StreamEventName::Remove {
        return Ok(HistoryWrite::NotApplicable);
    }
    let old = match (change.event, change.old_image) {
        (StreamEventName::Insert, _) | (_, None) => return Ok(HistoryWrite::NotApplicable),
        (_, Some(old)) if old.is_empty() => return Ok(HistoryWrite::NotApplicable),
        (StreamEventName::Modify, Some(old)) if Some(old) == change.new_image => {
            return Ok(HistoryWrite::NotApplicable);
        }
        (_, Some(old)) => old,
    };
    let item = history_item(old, ttl)?;
    match table
        .put_item(Put::new(history_table, item, Condition::NotExists))
        .await
    {
        Ok(()) => Ok(HistoryWrite::Recorded),
        Err(WriteError::ConditionFailed) => Ok(HistoryWrite::AlreadyRecorded),
        Err(WriteError::Cancelled(r)) => {
            Err(Error::Retryable(format!("history put cancelled: {r:?}")))
        }
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}
