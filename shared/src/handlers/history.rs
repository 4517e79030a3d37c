//! The `history` function: a DynamoDB Streams batch of the data table → history rows, with a
//! partial batch response (`batchItemFailures`) naming exactly the records that failed.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use tracing::Instrument;

use super::Deps;
use crate::history::{HistoryWrite, record};
use crate::ports::stream::StreamEventName;
use crate::value::Item;

fn to_item(image: &serde_dynamo::Item) -> Item {
    image.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub async fn handle(event: Event, deps: &Deps) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record_ in &event.records {
        let sequence = record_.change.sequence_number.clone();
        let span = tracing::info_span!("stream_record", event_id = %record_.event_id, event_name = %record_.event_name);
        let result = async {
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
            record(
                deps.tables.as_ref(),
                &deps.table_names.history,
                event_name,
                Some(&old),
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
                tracing::warn!(error_type = %e.error_type(), error = %e, "history record failed");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
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
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>()
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
