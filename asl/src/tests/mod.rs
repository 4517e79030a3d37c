//! Execution-level tests (the unit tests of each module live next to the code).

mod definition_tests;
mod distributed_map;
mod inline_map;
mod io_processing;
mod retry_catch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::{
    ExecutionOptions, ExecutionResult, HistoryEventKind, Resources, StateMachine, TaskFailure,
    run_execution,
};

type Handler = Box<dyn Fn(Value) -> Result<Value, TaskFailure> + Send + Sync>;
type DelayFn = Box<dyn Fn(&Value) -> Duration + Send + Sync>;

/// In-memory task handlers and object store.
#[derive(Default)]
pub(crate) struct Fake {
    handlers: HashMap<String, Handler>,
    delays: HashMap<String, DelayFn>,
    pub calls: Mutex<Vec<(String, Value)>>,
    pub objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn handler(
        mut self,
        resource: &str,
        f: impl Fn(Value) -> Result<Value, TaskFailure> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(resource.to_owned(), Box::new(f));
        self
    }

    /// Makes calls to `resource` take some time (computed from the input).
    pub fn delay(
        mut self,
        resource: &str,
        f: impl Fn(&Value) -> Duration + Send + Sync + 'static,
    ) -> Self {
        self.delays.insert(resource.to_owned(), Box::new(f));
        self
    }

    /// A handler failing with `error` the first `n` times, then echoing its input.
    pub fn failing(self, resource: &str, n: usize, error: &'static str) -> Self {
        let count = AtomicUsize::new(0);
        self.handler(resource, move |input| {
            if count.fetch_add(1, Ordering::SeqCst) < n {
                Err(TaskFailure::new(error, "it failed"))
            } else {
                Ok(input)
            }
        })
    }

    pub fn object(self, bucket: &str, key: &str, body: &str) -> Self {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), body.as_bytes().to_vec());
        self
    }

    pub fn call_count(&self, resource: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == resource)
            .count()
    }

    pub fn json_object(&self, bucket: &str, key: &str) -> Option<Value> {
        let objects = self.objects.lock().unwrap();
        let body = objects.get(&(bucket.to_owned(), key.to_owned()))?;
        Some(serde_json::from_slice(body).unwrap())
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .map(|(_, k)| k.clone())
            .collect();
        keys.sort();
        keys
    }
}

#[async_trait::async_trait]
impl Resources for Fake {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((resource.to_owned(), input.clone()));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(delay) = self.delays.get(resource) {
            tokio::time::sleep(delay(&input)).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        match self.handlers.get(resource) {
            Some(h) => h(input),
            None => Err(TaskFailure::new("UnknownResource", resource)),
        }
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskFailure> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| TaskFailure::new("NoSuchKey", format!("{bucket}/{key}")))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskFailure> {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.to_owned(), key.to_owned()), body);
        Ok(())
    }
}

pub(crate) fn options() -> ExecutionOptions {
    ExecutionOptions {
        name: "test-run".into(),
        state_machine_id: "arn:aws:states:local:000000000000:stateMachine:Test".into(),
        retry_interval_scale: 0.0,
        observer: None,
    }
}

pub(crate) fn parse(definition: &Value) -> StateMachine {
    StateMachine::parse(&definition.to_string(), &HashMap::new()).unwrap()
}

pub(crate) async fn run(definition: Value, input: Value, fake: &Fake) -> ExecutionResult {
    run_execution(&parse(&definition), fake, input, options()).await
}

/// Every event an observer saw (a Distributed Map's item events reach the observer only).
#[derive(Default)]
pub(crate) struct Seen(std::sync::Mutex<Vec<crate::HistoryEvent>>);

impl crate::Observer for Seen {
    fn on_event(&self, event: &crate::HistoryEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Seen {
    pub(crate) fn count(&self, kind: HistoryEventKind) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind == kind)
            .count()
    }
}

/// `run`, with an observer that keeps every event it sees.
pub(crate) async fn run_observed(
    definition: Value,
    input: Value,
    fake: &Fake,
) -> (ExecutionResult, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let mut opts = options();
    opts.observer = Some(seen.clone());
    (
        run_execution(&parse(&definition), fake, input, opts).await,
        seen,
    )
}

pub(crate) fn count(result: &ExecutionResult, kind: HistoryEventKind) -> usize {
    result.history.iter().filter(|e| e.kind == kind).count()
}

pub(crate) fn shared<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
