//! Execution history: timestamped events, recorded in order and forwarded to an [`Observer`].

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum HistoryEventKind {
    ExecutionStarted,
    StateEntered,
    StateExited,
    TaskScheduled,
    TaskSucceeded,
    TaskFailed,
    TaskRetried,
    StateFailed,
    StateRetried,
    CaughtError,
    WaitStarted,
    MapRunStarted,
    MapItemStarted,
    MapItemSucceeded,
    MapItemFailed,
    MapRunSucceeded,
    MapRunFailed,
    ExecutionSucceeded,
    ExecutionFailed,
}

/// One entry of the execution history.
///
/// `state` is the state the event belongs to (`None` for execution level events).
/// `detail` carries event specific data, e.g. `{"input": ...}` for `StateEntered`,
/// `{"error": ..., "cause": ...}` for failures, `{"index": 3, "total": 10}` for map items.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub timestamp: DateTime<Utc>,
    pub kind: HistoryEventKind,
    pub state: Option<String>,
    pub detail: Value,
}

impl Serialize for HistoryEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("HistoryEvent", 4)?;
        s.serialize_field(
            "timestamp",
            &self
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("state", &self.state)?;
        s.serialize_field("detail", &self.detail)?;
        s.end()
    }
}

/// Observer for progress display and logs (called synchronously; must be cheap).
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &HistoryEvent);
}

/// Shared recorder used by every (sub-)execution of one run.
#[derive(Clone, Default)]
pub(crate) struct History {
    /// `None` for a Distributed Map's child execution: its events reach the observer only.
    events: Option<Arc<Mutex<Vec<HistoryEvent>>>>,
    observer: Option<Arc<dyn Observer>>,
}

impl History {
    pub fn new(observer: Option<Arc<dyn Observer>>) -> Self {
        History {
            events: Some(Arc::default()),
            observer,
        }
    }

    /// The history of a Distributed Map's child execution. Step Functions keeps a child's
    /// events in the child execution, not in the parent's history (which records the map run
    /// and its items); here they reach the observer (progress) and are not kept, so a run's
    /// history does not grow with the number of chunks (2,000 for a 1M-row file).
    pub fn for_child_execution(&self) -> Self {
        History {
            events: None,
            observer: self.observer.clone(),
        }
    }

    /// An event of a Distributed Map's item: the observer sees it (progress), the history does
    /// not keep it. Step Functions records a map run's items in the map run, not in the
    /// execution's history; keeping them here would grow the history with the number of chunks.
    pub fn observe(&self, kind: HistoryEventKind, state: Option<&str>, detail: Value) {
        if let Some(observer) = &self.observer {
            observer.on_event(&HistoryEvent {
                timestamp: Utc::now(),
                kind,
                state: state.map(str::to_owned),
                detail,
            });
        }
    }

    pub fn record(&self, kind: HistoryEventKind, state: Option<&str>, detail: Value) {
        let event = HistoryEvent {
            timestamp: Utc::now(),
            kind,
            state: state.map(str::to_owned),
            detail,
        };
        if let Some(observer) = &self.observer {
            observer.on_event(&event);
        }
        if let Some(events) = &self.events {
            events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event);
        }
    }

    pub fn snapshot(&self) -> Vec<HistoryEvent> {
        self.events.as_ref().map_or_else(Vec::new, |events| {
            events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Counter(Mutex<Vec<HistoryEventKind>>);
    impl Observer for Counter {
        fn on_event(&self, event: &HistoryEvent) {
            self.0.lock().unwrap().push(event.kind);
        }
    }

    #[test]
    fn records_in_order_and_notifies_observer() {
        let counter = Arc::new(Counter(Mutex::new(Vec::new())));
        let history = History::new(Some(counter.clone()));
        history.record(HistoryEventKind::ExecutionStarted, None, json!({}));
        history.record(
            HistoryEventKind::StateEntered,
            Some("A"),
            json!({"input": 1}),
        );
        let events = history.snapshot();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].state.as_deref(), Some("A"));
        assert!(events[0].timestamp <= events[1].timestamp);
        assert_eq!(
            *counter.0.lock().unwrap(),
            vec![
                HistoryEventKind::ExecutionStarted,
                HistoryEventKind::StateEntered
            ]
        );
    }
}
