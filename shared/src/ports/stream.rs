//! The change stream of a table (DynamoDB Streams, NEW_AND_OLD_IMAGES).

use async_trait::async_trait;

use crate::error::StoreError;
use crate::value::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamEventName {
    Insert,
    Modify,
    Remove,
}

impl StreamEventName {
    /// Every kind of record (a reader without a filter).
    pub const ALL: [StreamEventName; 3] = [
        StreamEventName::Insert,
        StreamEventName::Modify,
        StreamEventName::Remove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StreamEventName::Insert => "INSERT",
            StreamEventName::Modify => "MODIFY",
            StreamEventName::Remove => "REMOVE",
        }
    }
}

/// One change of one item, in order per item.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// Increasing within the stream (decimal digits, like DynamoDB's sequence numbers).
    pub sequence_number: String,
    pub event_name: StreamEventName,
    /// `pk` and `sk`.
    pub keys: Item,
    pub old_image: Option<Item>,
    pub new_image: Option<Item>,
}

/// Where a reader is in a stream: the sequence number of the last record it consumed (none at
/// the start), so a consumer can also checkpoint just before a record it failed to process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPosition(pub Option<String>);

#[async_trait]
pub trait StreamReader: Send + Sync {
    /// Records of `table`'s stream after `position` whose kind is in `events` (the event source
    /// mapping's `FilterCriteria`), at most `limit`, with the position to continue from. The
    /// position also passes the records the filter left out, so an empty result with a position
    /// past `position` means "skipped some, read on"; an empty result at `position` means the
    /// reader has caught up. The embedded store filters before it decodes any image.
    async fn read_stream(
        &self,
        table: &str,
        position: &StreamPosition,
        limit: usize,
        events: &[StreamEventName],
    ) -> Result<(Vec<StreamRecord>, StreamPosition), StoreError>;

    /// The consumer has checkpointed `position`: records up to it will not be read again.
    /// DynamoDB Streams keeps records 24 hours whatever consumers do, so the AWS adapter does
    /// nothing; the embedded store deletes them (otherwise it would keep both images of every
    /// write forever, ≈2 KB per write of the reference input).
    async fn trim_through(&self, table: &str, position: &StreamPosition) -> Result<(), StoreError>;
}
