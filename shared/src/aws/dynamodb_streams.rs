//! The stream port on DynamoDB Streams: records of a table's latest stream after a sequence
//! number, across its shards, in sequence-number order.
//!
//! In AWS the `history` Lambda is fed by an event source mapping, not by this reader; it exists
//! so tests (against moto) and operators can read a stream through the same port as the
//! embedded store, and turn records into the Lambda event shape.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as StreamsValue, OperationType, Record, ShardIteratorType,
};

use super::errors::store_error;
use crate::error::StoreError;
use crate::ports::stream::{StreamEventName, StreamPosition, StreamReader, StreamRecord};
use crate::value::{AttributeValue, Item};

/// Consecutive empty GetRecords pages after which a shard counts as read to its end for now.
const MAX_EMPTY_PAGES: u32 = 3;

#[derive(Debug)]
pub struct DynamoDbStreams {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    arns: Mutex<HashMap<String, String>>,
}

impl DynamoDbStreams {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
    ) -> Self {
        DynamoDbStreams {
            dynamodb,
            streams,
            arns: Mutex::new(HashMap::new()),
        }
    }

    async fn stream_arn(&self, table: &str) -> Result<String, StoreError> {
        if let Some(arn) = self.arns.lock().ok().and_then(|a| a.get(table).cloned()) {
            return Ok(arn);
        }
        let out = self
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| store_error("DescribeTable", e))?;
        let arn = out
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| StoreError::NotFound(format!("table {table} has no stream")))?;
        if let Ok(mut arns) = self.arns.lock() {
            arns.insert(table.to_string(), arn.clone());
        }
        Ok(arn)
    }

    /// Reads one shard from `iterator` until `limit` records or the end of what is there now.
    /// Returns the records and whether the shard may hold more right now.
    async fn read_shard(
        &self,
        mut iterator: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Record>, bool), StoreError> {
        let mut out = Vec::new();
        let mut empty_pages = 0;
        while let Some(it) = iterator.take() {
            let want = (limit - out.len()).clamp(1, 1000) as i32;
            let page = self
                .streams
                .get_records()
                .shard_iterator(it)
                .limit(want)
                .send()
                .await
                .map_err(|e| store_error("GetRecords", e))?;
            let records = page.records.unwrap_or_default();
            if records.is_empty() {
                empty_pages += 1;
                // GetRecords may return empty pages before later records of a shard; an open
                // shard always has a next iterator, so a few empty pages in a row mean "caught up".
                if empty_pages >= MAX_EMPTY_PAGES {
                    break;
                }
            } else {
                empty_pages = 0;
            }
            out.extend(records);
            if out.len() >= limit {
                return Ok((out, true));
            }
            iterator = page.next_shard_iterator;
        }
        Ok((out, false))
    }
}

/// Compares two decimal sequence numbers (DynamoDB's vary in length).
pub fn compare_sequence_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn sequence_number(r: &Record) -> &str {
    r.dynamodb
        .as_ref()
        .and_then(|d| d.sequence_number.as_deref())
        .unwrap_or("")
}

/// DynamoDB Streams has its own AttributeValue type; numbers stay strings, exact.
fn value(v: StreamsValue) -> AttributeValue {
    match v {
        StreamsValue::S(s) => AttributeValue::S(s.into()),
        StreamsValue::N(n) => AttributeValue::N(n.into()),
        StreamsValue::B(b) => AttributeValue::B(b.into_inner()),
        StreamsValue::Bool(b) => AttributeValue::Bool(b),
        StreamsValue::Null(_) => AttributeValue::Null(true),
        StreamsValue::Ss(v) => AttributeValue::Ss(v.into_iter().map(Into::into).collect()),
        StreamsValue::Ns(v) => AttributeValue::Ns(v.into_iter().map(Into::into).collect()),
        StreamsValue::Bs(v) => AttributeValue::Bs(v.into_iter().map(|b| b.into_inner()).collect()),
        StreamsValue::L(v) => AttributeValue::L(v.into_iter().map(value).collect()),
        StreamsValue::M(m) => {
            AttributeValue::M(m.into_iter().map(|(k, v)| (k.into(), value(v))).collect())
        }
        // A type newer than this code: keep the record readable, mark the value as unknown.
        _ => AttributeValue::Null(true),
    }
}

fn image(i: Option<HashMap<String, StreamsValue>>) -> Option<Item> {
    i.map(|m| {
        m.into_iter()
            .map(|(k, v)| (crate::value::owned_name(k), value(v)))
            .collect()
    })
}

fn convert(r: Record) -> Result<StreamRecord, StoreError> {
    let event_name = match r.event_name {
        Some(OperationType::Insert) => StreamEventName::Insert,
        Some(OperationType::Modify) => StreamEventName::Modify,
        Some(OperationType::Remove) => StreamEventName::Remove,
        other => {
            return Err(StoreError::Corrupt(format!(
                "stream record with event name {other:?}"
            )));
        }
    };
    let d = r
        .dynamodb
        .ok_or_else(|| StoreError::Corrupt("stream record without dynamodb".into()))?;
    Ok(StreamRecord {
        sequence_number: d.sequence_number.unwrap_or_default(),
        event_name,
        keys: image(d.keys).unwrap_or_default(),
        old_image: image(d.old_image),
        new_image: image(d.new_image),
    })
}

#[async_trait]
impl StreamReader for DynamoDbStreams {
    async fn read_stream(
        &self,
        table: &str,
        position: &StreamPosition,
        limit: usize,
        events: &[StreamEventName],
    ) -> Result<(Vec<StreamRecord>, StreamPosition), StoreError> {
        let arn = self.stream_arn(table).await?;
        let mut shards = Vec::new();
        let mut start_shard: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(start_shard.take())
                .send()
                .await
                .map_err(|e| store_error("DescribeStream", e))?;
            let description = out.stream_description;
            let last = description
                .as_ref()
                .and_then(|d| d.last_evaluated_shard_id.clone());
            shards.extend(description.and_then(|d| d.shards).unwrap_or_default());
            match last {
                Some(id) => start_shard = Some(id),
                None => break,
            }
        }
        let after = position.0.as_deref();
        let mut records: Vec<Record> = Vec::new();
        // The highest sequence number up to which every shard has been read completely.
        let mut cutoff: Option<String> = None;
        for shard in shards {
            let Some(shard_id) = shard.shard_id else {
                continue;
            };
            let range = shard.sequence_number_range;
            let starts = range
                .as_ref()
                .and_then(|r| r.starting_sequence_number.clone());
            let ends = range
                .as_ref()
                .and_then(|r| r.ending_sequence_number.clone());
            let request = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard_id);
            let request = match after {
                // A closed shard that ended before the position holds nothing new.
                Some(pos)
                    if ends
                        .as_deref()
                        .is_some_and(|e| compare_sequence_numbers(e, pos) != Ordering::Greater) =>
                {
                    continue;
                }
                // The shard holding the position: continue right after it.
                Some(pos)
                    if starts
                        .as_deref()
                        .is_some_and(|s| compare_sequence_numbers(s, pos) != Ordering::Greater) =>
                {
                    request
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(pos)
                }
                _ => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = match request.send().await {
                Ok(out) => out.shard_iterator,
                // The position belongs to a sibling shard: read this one from its start.
                Err(e) if after.is_some() && e.as_service_error().is_some() => {
                    tracing::debug!(shard = %shard_id, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "position not in this shard");
                    self.streams
                        .get_shard_iterator()
                        .stream_arn(&arn)
                        .shard_id(&shard_id)
                        .shard_iterator_type(ShardIteratorType::TrimHorizon)
                        .send()
                        .await
                        .map_err(|e| store_error("GetShardIterator", e))?
                        .shard_iterator
                }
                Err(e) => return Err(store_error("GetShardIterator", e)),
            };
            let (mut shard_records, more) = self.read_shard(iterator, limit).await?;
            shard_records.retain(|r| {
                after.is_none_or(|p| {
                    compare_sequence_numbers(sequence_number(r), p) == Ordering::Greater
                })
            });
            if more && let Some(last) = shard_records.last() {
                let last = sequence_number(last).to_string();
                if cutoff
                    .as_deref()
                    .is_none_or(|c| compare_sequence_numbers(&last, c) == Ordering::Less)
                {
                    cutoff = Some(last);
                }
            }
            records.extend(shard_records);
        }
        records.sort_by(|a, b| compare_sequence_numbers(sequence_number(a), sequence_number(b)));
        if let Some(c) = &cutoff {
            records
                .retain(|r| compare_sequence_numbers(sequence_number(r), c) != Ordering::Greater);
        }
        records.truncate(limit);
        let next = match records.last() {
            Some(r) => StreamPosition(Some(sequence_number(r).to_string())),
            None => position.clone(),
        };
        // GetRecords has no filter: the records left out are dropped here, after the position
        // has passed them.
        let mut records: Vec<StreamRecord> =
            records.into_iter().map(convert).collect::<Result<_, _>>()?;
        records.retain(|r| events.contains(&r.event_name));
        Ok((records, next))
    }

    /// DynamoDB Streams trims itself (24-hour retention); nothing to do.
    async fn trim_through(
        &self,
        _table: &str,
        _position: &StreamPosition,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence_numbers("9", "10"), Ordering::Less);
        assert_eq!(compare_sequence_numbers("000100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence_numbers("300000000000000000000001", "300000000000000000000000"),
            Ordering::Greater
        );
    }
}
