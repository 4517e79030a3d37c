//! The `history` function: a DynamoDB Streams batch of the data table → history rows, with a
//! partial batch response (`batchItemFailures`) naming exactly the records that failed.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use tracing::Instrument;

use super::Deps;
use crate::history::{Change, HistoryWrite, record};
use crate::ports::stream::{StreamEventName, StreamPosition, StreamReader};
use crate::value::Item;

fn to_item(image: &serde_dynamo::Item) -> Item {
    image
        .iter()
        .map(|(k, v)| (crate::value::name(k), v.into()))
        .collect()
}

/// Whether a REMOVE was made by DynamoDB's TTL process, not by a writer.
fn expired_by_ttl(record_: &aws_lambda_events::event::dynamodb::EventRecord) -> bool {
    record_
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com")
}

/// The history ttl of the batch's tenants (one batched read of the app's TTL rules).
async fn history_ttls(
    event: &Event,
    deps: &Deps,
) -> Result<crate::publish::TtlByTenant, crate::Error> {
    let Some(master) = &deps.app.master_data_table else {
        return Ok(Default::default());
    };
    let tenants = event
        .records
        .iter()
        .filter_map(|r| match r.change.keys.get("pk") {
            Some(serde_dynamo::AttributeValue::S(pk)) => {
                crate::keys::tenant_of_pk(pk).map(str::to_string)
            }
            _ => None,
        })
        .collect();
    crate::ttl_rules::ttls_for(
        deps.tables.as_ref(),
        master,
        &deps.table_names.history,
        &tenants,
        chrono::Utc::now().timestamp(),
    )
    .await
}

pub async fn handle(event: Event, deps: &Deps) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    // Without the TTL rules no record can be written right: every record is retried.
    let ttls = match history_ttls(&event, deps).await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error_type = %e.error_type(), "reading the history TTL rules failed");
            None
        }
    };
    for record_ in &event.records {
        let sequence = record_.change.sequence_number.clone();
        let span = tracing::info_span!("stream_record", event_id = %record_.event_id, event_name = %record_.event_name);
        let result = async {
            let Some(ttls) = &ttls else {
                return Err(crate::Error::Retryable(
                    "history TTL rules unreadable".into(),
                ));
            };
            let event_name = match record_.event_name.as_str() {
                "INSERT" => StreamEventName::Insert,
                "MODIFY" => StreamEventName::Modify,
                "REMOVE" => StreamEventName::Remove,
                other => {
                    return Err(crate::Error::invalid(format!(
                        "unknown event name {other:?}"
                    )));
                }
            };
            let old = to_item(&record_.change.old_image);
            let new = to_item(&record_.change.new_image);
            let tenant = crate::value::get_s(&old, "pk").and_then(crate::keys::tenant_of_pk);
            let change = Change {
                event: event_name,
                old_image: Some(&old),
                new_image: Some(&new),
                expired_by_ttl: expired_by_ttl(record_),
            };
            record(
                deps.tables.as_ref(),
                &deps.table_names.history,
                change,
                tenant.and_then(|t| ttls.get(t)),
            )
            .await
        }
        .instrument(span.clone())
        .await;
        let _guard = span.enter();
        match result {
            Ok(HistoryWrite::Recorded) => tracing::debug!("history recorded"),
            Ok(HistoryWrite::AlreadyRecorded) => {
                tracing::debug!("history already recorded (redelivery)")
            }
            Ok(HistoryWrite::NotApplicable) => {}
            Err(e) => {
                tracing::warn!(error_type = %e.error_type(), "history record failed");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

/// One batch delivered by [`deliver_batch`].
/// The events the stream mapping delivers (its `FilterCriteria` in template.yaml): an INSERT
/// has no earlier version, so history has nothing to do with it.
pub const DELIVERED_EVENTS: [StreamEventName; 2] =
    [StreamEventName::Modify, StreamEventName::Remove];

#[derive(Debug)]
pub struct DeliveredBatch {
    /// Records handed to the handler.
    pub delivered: u64,
    /// Where the reader continues: after the batch, or just before its first failed record.
    pub position: StreamPosition,
    /// The sequence number of the first record that failed, if any.
    pub failed_at: Option<String>,
}

/// Plays the event source mapping once (batch size 100, `ReportBatchItemFailures`): reads the
/// records after `position`, hands them to [`handle`] in the Lambda event shape, and says where
/// to continue. `None` when the reader has caught up.
pub async fn deliver_batch(
    streams: &dyn StreamReader,
    table: &str,
    position: &StreamPosition,
    deps: &Deps,
) -> Result<Option<DeliveredBatch>, crate::Error> {
    let (records, next) = streams
        .read_stream(table, position, 100, &DELIVERED_EVENTS)
        .await?;
    if records.is_empty() {
        if next == *position {
            return Ok(None); // caught up
        }
        // Every record was filtered out: nothing to deliver, continue after them.
        return Ok(Some(DeliveredBatch {
            delivered: 0,
            position: next,
            failed_at: None,
        }));
    }
    let response = handle(event_from_records(&records, table), deps).await;
    let failed: Vec<&String> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.as_ref())
        .collect();
    // The first record (in stream order) that failed: everything from it on is redelivered.
    let failed_at = records
        .iter()
        .find(|r| failed.contains(&&r.sequence_number))
        .map(|r| r.sequence_number.clone());
    let position = match &failed_at {
        None => next,
        Some(seq) => StreamPosition(
            records
                .iter()
                .take_while(|r| &r.sequence_number != seq)
                .last()
                .map(|r| r.sequence_number.clone())
                .or(position.0.clone()),
        ),
    };
    Ok(Some(DeliveredBatch {
        delivered: records.len() as u64,
        position,
        failed_at,
    }))
}

/// Builds the Lambda event shape from stream records (the embedded event source mapping and
/// the moto tests feed the handler exactly what Lambda would).
pub fn event_from_records(records: &[crate::ports::StreamRecord], table: &str) -> Event {
    let mut event = Event::default();
    for r in records {
        let mut record_ = aws_lambda_events::event::dynamodb::EventRecord::default();
        record_.aws_region = "local".into();
        record_.event_id = r.sequence_number.clone();
        record_.event_name = r.event_name.as_str().into();
        record_.event_source = Some("aws:dynamodb".into());
        record_.event_version = Some("1.1".into());
        record_.event_source_arn = Some(format!(
            "arn:aws:dynamodb:local:000000000000:table/{table}/stream/local"
        ));
        let conv = |i: &Item| -> serde_dynamo::Item {
            i.iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect::<std::collections::HashMap<_, serde_dynamo::AttributeValue>>()
                .into()
        };
        record_.change.keys = conv(&r.keys);
        if let Some(o) = &r.old_image {
            record_.change.old_image = conv(o);
        }
        if let Some(n) = &r.new_image {
            record_.change.new_image = conv(n);
        }
        record_.change.sequence_number = Some(r.sequence_number.clone());
        record_.change.stream_view_type =
            Some(aws_lambda_events::event::dynamodb::StreamViewType::NewAndOldImages);
        event.records.push(record_);
    }
    event
}
