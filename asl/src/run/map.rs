//! Running Map states: Inline iterations and Distributed map runs (ItemReader, ItemBatcher,
//! tolerated failures, ResultWriter).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde_json::{Map, Value, json};

use crate::ast::{ItemBatcher, ItemReader, MapState, Mode, NumberOrPath, ResultWriter, State};
use crate::error::{StatesError, names};
use crate::json_array::{self, ArrayError};
use crate::path::{Context, ExecutionContext, now_timestamp};
use crate::run::executor::Runner;
use crate::run::history::HistoryEventKind;

impl NumberOrPath {
    fn resolve(&self, field: &str, input: &Value, ctx: &Context) -> Result<f64, StatesError> {
        match self {
            NumberOrPath::Number(n) => Ok(*n),
            NumberOrPath::Path(path) => {
                let v = path.select_required(input, ctx)?;
                v.as_f64().filter(|n| *n >= 0.0).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The value selected by '{path}' for '{field}' must be a non-negative number, got {v}"
                    ))
                })
            }
        }
    }
}

fn resolve_opt(
    value: &Option<NumberOrPath>,
    field: &str,
    input: &Value,
    ctx: &Context,
) -> Result<Option<f64>, StatesError> {
    value
        .as_ref()
        .map(|v| v.resolve(field, input, ctx))
        .transpose()
}

/// Runs a Map state on its effective input; the value is the Map's result (before ResultSelector).
pub(crate) async fn run_map(
    runner: &Runner<'_>,
    state: &State,
    map: &MapState,
    input: Value,
    ctx: &Context,
) -> Result<Value, StatesError> {
    let limit = match resolve_opt(&map.max_concurrency, "MaxConcurrency", &input, ctx)? {
        Some(n) if n >= 1.0 => n as usize,
        _ => usize::MAX,
    };
    match map.mode {
        Mode::Inline => run_inline(runner, state, map, input, ctx, limit).await,
        Mode::Distributed => run_distributed(runner, state, map, input, ctx, limit).await,
    }
}

fn item_context(ctx: &Context, index: usize, item: &Value) -> Context {
    Context {
        map_item: Some((index, item.clone())),
        ..ctx.clone()
    }
}

/// Applies the ItemSelector (or passes the item through).
fn select_item(
    map: &MapState,
    input: &Value,
    ctx: &Context,
    index: usize,
    item: &Value,
) -> Result<Value, StatesError> {
    match &map.item_selector {
        Some(template) => template.eval(input, &item_context(ctx, index, item)),
        None => Ok(item.clone()),
    }
}

fn items_from_path(
    map: &MapState,
    input: &Value,
    ctx: &Context,
) -> Result<Vec<Value>, StatesError> {
    match map.items_path.select_required(input, ctx)? {
        Value::Array(items) => Ok(items),
        other => Err(StatesError::runtime(format!(
            "Invalid path '{}': The ItemsPath must select a JSON array, got {}",
            map.items_path,
            crate::path::abbreviate(&other)
        ))),
    }
}

async fn run_inline(
    runner: &Runner<'_>,
    state: &State,
    map: &MapState,
    input: Value,
    ctx: &Context,
    limit: usize,
) -> Result<Value, StatesError> {
    let items = items_from_path(map, &input, ctx)?;
    let total = items.len();
    let name = Some(state.name.as_str());
    runner.history.record(
        HistoryEventKind::MapRunStarted,
        name,
        json!({ "mode": "INLINE", "totalItems": total }),
    );
    let input = &input;
    let iterations = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| async move {
            let child_input = match select_item(map, input, ctx, index, &item) {
                Ok(v) => v,
                Err(e) => return (index, Err(e)),
            };
            runner.history.record(
                HistoryEventKind::MapItemStarted,
                name,
                json!({ "index": index, "total": total }),
            );
            let out = runner
                .run_graph(
                    &map.processor,
                    child_input,
                    ctx.execution.clone(),
                    Some((index, item)),
                )
                .await;
            (index, out)
        });
    let mut results: Vec<Value> = vec![Value::Null; total];
    let mut stream = stream::iter(iterations).buffer_unordered(limit.min(total.max(1)));
    let mut done = 0usize;
    // The first failing iteration fails the Map; dropping the stream cancels the others.
    while let Some((index, outcome)) = stream.next().await {
        match outcome {
            Ok(value) => {
                done += 1;
                runner.history.record(
                    HistoryEventKind::MapItemSucceeded,
                    name,
                    json!({ "index": index, "total": total, "completed": done }),
                );
                results[index] = value;
            }
            Err(err) => {
                let detail = json!({ "index": index, "total": total, "error": err.error, "cause": err.cause });
                runner
                    .history
                    .record(HistoryEventKind::MapItemFailed, name, detail.clone());
                runner
                    .history
                    .record(HistoryEventKind::MapRunFailed, name, detail);
                return Err(err);
            }
        }
    }
    runner.history.record(
        HistoryEventKind::MapRunSucceeded,
        name,
        json!({ "totalItems": total }),
    );
    Ok(Value::Array(results))
}

/// The outcome of one child execution of a Distributed map run.
struct ChildRecord {
    name: String,
    arn: String,
    /// The child's input as JSON text: what the result files hold, and far smaller than the
    /// value (a run keeps one record per child until its ResultWriter writes them).
    input: String,
    start: DateTime<Utc>,
    stop: DateTime<Utc>,
    result: Result<Value, StatesError>,
}

/// The children's inputs: built batches (ItemBatcher), or the items, selected as each child
/// starts; in memory (ItemsPath), or one JSON value per line of a temp file (ItemReader, see
/// [`spool_items`]).
enum ChildInputs {
    Built(Vec<Value>),
    Selected(Vec<Value>),
    Spooled {
        file: std::fs::File,
        total: usize,
        built: bool,
    },
}

enum ChildInput {
    Built(Value),
    Selected(Value),
}

/// Where reading the spooled items back fails: the run stops starting children and fails
/// once the started ones end, whatever its tolerated failures.
type ReadBackError = Arc<std::sync::Mutex<Option<StatesError>>>;

impl ChildInputs {
    fn len(&self) -> usize {
        match self {
            ChildInputs::Built(v) | ChildInputs::Selected(v) => v.len(),
            ChildInputs::Spooled { total, .. } => *total,
        }
    }

    fn into_iter(self, read_back: ReadBackError) -> Box<dyn Iterator<Item = ChildInput> + Send> {
        use std::io::BufRead;
        match self {
            ChildInputs::Built(v) => Box::new(v.into_iter().map(ChildInput::Built)),
            ChildInputs::Selected(v) => Box::new(v.into_iter().map(ChildInput::Selected)),
            ChildInputs::Spooled { file, built, total } => Box::new(
                std::io::BufReader::new(file)
                    .lines()
                    .take(total)
                    .map_while(move |line| {
                        let value = line
                            .map_err(|e| e.to_string())
                            .and_then(|l| serde_json::from_str(&l).map_err(|e| e.to_string()));
                        match value {
                            Ok(v) if built => Some(ChildInput::Built(v)),
                            Ok(v) => Some(ChildInput::Selected(v)),
                            Err(e) => {
                                if let Ok(mut slot) = read_back.lock() {
                                    slot.get_or_insert(StatesError::new(
                                        names::ITEM_READER_FAILED,
                                        format!("Reading the map run's spooled items failed: {e}"),
                                    ));
                                }
                                None
                            }
                        }
                    }),
            ),
        }
    }
}

fn millis(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl ChildRecord {
    /// The record format AWS uses in ResultWriter files (Transformation NONE).
    fn to_json(&self, state_machine_arn: &str) -> Value {
        let mut obj = Map::new();
        obj.insert("ExecutionArn".into(), json!(self.arn));
        obj.insert("Input".into(), json!(self.input));
        obj.insert("InputDetails".into(), json!({ "Included": true }));
        obj.insert("Name".into(), json!(self.name));
        match &self.result {
            Ok(output) => {
                obj.insert("Output".into(), json!(output.to_string()));
                obj.insert("OutputDetails".into(), json!({ "Included": true }));
                obj.insert("RedriveCount".into(), json!(0));
                obj.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
                obj.insert(
                    "RedriveStatusReason".into(),
                    json!("Execution is SUCCEEDED and cannot be redriven"),
                );
            }
            Err(err) => {
                obj.insert("Error".into(), json!(err.error));
                obj.insert("Cause".into(), json!(err.cause));
                obj.insert("RedriveCount".into(), json!(0));
                obj.insert("RedriveStatus".into(), json!("REDRIVABLE"));
            }
        }
        obj.insert("StartDate".into(), json!(millis(&self.start)));
        obj.insert("StateMachineArn".into(), json!(state_machine_arn));
        obj.insert(
            "Status".into(),
            json!(if self.result.is_ok() {
                "SUCCEEDED"
            } else {
                "FAILED"
            }),
        );
        obj.insert("StopDate".into(), json!(millis(&self.stop)));
        Value::Object(obj)
    }
}

fn required_string(value: &Value, key: &str, what: &str) -> Result<String, StatesError> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            StatesError::runtime(format!("{what}.Parameters.{key} must evaluate to a string"))
        })
}

/// Reads a Distributed map run's items from its ItemReader without holding them: the object
/// is copied to a temp file, its array is parsed one item at a time, each item is checked
/// against the ItemSelector (a bad selector fails the state before any child starts, as it
/// does on AWS) and written, or its batch is, as one line of a second temp file, which the
/// children read back as they start. A manifest of any length costs the run only the
/// children in flight. Returns the children's inputs and the number of items read.
async fn spool_items(
    runner: &Runner<'_>,
    map: &MapState,
    reader: &ItemReader,
    input: &Value,
    ctx: &Context,
) -> Result<(ChildInputs, usize), StatesError> {
    use std::io::{Seek, Write};
    let params = reader.parameters.eval(input, ctx)?;
    let bucket = required_string(&params, "Bucket", "ItemReader")?;
    let key = required_string(&params, "Key", "ItemReader")?;
    let failed = |cause: String| StatesError::new(names::ITEM_READER_FAILED, cause);
    let spool_failed = |e: std::io::Error| failed(format!("Spooling s3://{bucket}/{key}: {e}"));
    let mut source = tempfile::tempfile().map_err(spool_failed)?;
    runner
        .resources
        .get_object_into(&bucket, &key, &mut source)
        .await
        .map_err(|e| {
            failed(format!(
                "Reading s3://{bucket}/{key} failed: {}: {}",
                e.error, e.cause
            ))
        })?;
    source.rewind().map_err(spool_failed)?;
    let max = resolve_opt(
        &reader.max_items,
        "ItemReader.ReaderConfig.MaxItems",
        input,
        ctx,
    )?
    .filter(|m| *m >= 1.0)
    .map(|m| m as usize);
    let mut batcher = map
        .item_batcher
        .as_ref()
        .map(|b| Batcher::new(b, input, ctx))
        .transpose()?;
    let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(spool_failed)?);
    let write_line = |out: &mut std::io::BufWriter<std::fs::File>, value: &Value| {
        serde_json::to_writer(&mut *out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(spool_failed)
    };
    let (mut items, mut children) = (0usize, 0usize);
    let mut item_failed: Option<StatesError> = None;
    let mut each = |item: Value| -> Result<(), StatesError> {
        if max.is_some_and(|m| items >= m) {
            return Ok(());
        }
        let selected = select_item(map, input, ctx, items, &item)?;
        items += 1;
        let line = match &mut batcher {
            Some(batcher) => batcher.push(selected),
            None => Some(item),
        };
        if let Some(line) = line {
            write_line(&mut out, &line)?;
            children += 1;
        }
        Ok(())
    };
    let read = json_array::for_each(std::io::BufReader::new(source), &mut |item: Value| {
        each(item).map_err(|e| item_failed = Some(e)).is_ok()
    });
    if let Some(e) = item_failed {
        return Err(e);
    }
    read.map_err(|e| match e {
        ArrayError::NotAnArray => {
            failed(format!("s3://{bucket}/{key} does not contain a JSON array"))
        }
        ArrayError::Json(e) => failed(format!("s3://{bucket}/{key} is not valid JSON: {e}")),
        ArrayError::Stopped => failed(format!("s3://{bucket}/{key}: reading stopped")),
    })?;
    let built = batcher.is_some();
    if let Some(last) = batcher.and_then(Batcher::finish) {
        write_line(&mut out, &last)?;
        children += 1;
    }
    let mut file = out.into_inner().map_err(|e| spool_failed(e.into_error()))?;
    file.rewind().map_err(spool_failed)?;
    Ok((
        ChildInputs::Spooled {
            file,
            total: children,
            built,
        },
        items,
    ))
}

/// Groups selected items into child inputs `{"Items": [...], "BatchInput": ...}`, as they come.
struct Batcher {
    max_items: Option<usize>,
    max_bytes: Option<usize>,
    batch_input: Option<Value>,
    current: Vec<Value>,
    current_bytes: usize,
}

impl Batcher {
    fn new(batcher: &ItemBatcher, input: &Value, ctx: &Context) -> Result<Self, StatesError> {
        let limit = |value: &Option<NumberOrPath>, field: &str| {
            resolve_opt(value, field, input, ctx)
                .map(|n| n.filter(|n| *n >= 1.0).map(|n| n as usize))
        };
        Ok(Batcher {
            max_items: limit(&batcher.max_items, "ItemBatcher.MaxItemsPerBatch")?,
            max_bytes: limit(&batcher.max_bytes, "ItemBatcher.MaxInputBytesPerBatch")?,
            batch_input: batcher
                .batch_input
                .as_ref()
                .map(|t| t.eval(input, ctx))
                .transpose()?,
            current: Vec::new(),
            current_bytes: 0,
        })
    }

    /// Adds an item; returns the batch it closed, if it did not fit there.
    fn push(&mut self, item: Value) -> Option<Value> {
        let size = item.to_string().len();
        let full_items = self.max_items.is_some_and(|m| self.current.len() >= m);
        let full_bytes = self
            .max_bytes
            .is_some_and(|m| !self.current.is_empty() && self.current_bytes + size > m);
        let closed = (full_items || full_bytes).then(|| self.take());
        self.current_bytes += size;
        self.current.push(item);
        closed
    }

    /// The last batch, if it has items.
    fn finish(mut self) -> Option<Value> {
        (!self.current.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Value {
        self.current_bytes = 0;
        let mut obj = Map::new();
        obj.insert(
            "Items".into(),
            Value::Array(std::mem::take(&mut self.current)),
        );
        if let Some(b) = &self.batch_input {
            obj.insert("BatchInput".into(), b.clone());
        }
        Value::Object(obj)
    }
}

fn batch(
    batcher: &ItemBatcher,
    items: Vec<Value>,
    input: &Value,
    ctx: &Context,
) -> Result<Vec<Value>, StatesError> {
    let mut batcher = Batcher::new(batcher, input, ctx)?;
    let mut batches: Vec<Value> = items.into_iter().filter_map(|i| batcher.push(i)).collect();
    batches.extend(batcher.finish());
    Ok(batches)
}

/// ARNs of a map run: (map run ARN, child state machine ARN, map run id).
fn map_run_arns(ctx: &Context, label: &str) -> (String, String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let sm = &ctx.execution.state_machine_id;
    let (head, name) = match sm.split_once(":stateMachine:") {
        Some((head, name)) => (head.to_owned(), name.to_owned()),
        None => ("arn:aws:states:local:000000000000".to_owned(), sm.clone()),
    };
    (
        format!("{head}:mapRun:{name}/{label}:{id}"),
        format!("{head}:stateMachine:{name}/{label}"),
        id,
    )
}

async fn run_distributed(
    runner: &Runner<'_>,
    state: &State,
    map: &MapState,
    input: Value,
    ctx: &Context,
    limit: usize,
) -> Result<Value, StatesError> {
    let name = Some(state.name.as_str());
    // Each child's input is built when the child starts, not all up front: a run of thousands
    // of chunks would otherwise hold every input (the job document, once per child) at once.
    // The ItemSelector is still evaluated for every item before any child starts, so a bad
    // selector fails the state as before, with nothing run.
    let (child_inputs, item_count) = match &map.item_reader {
        Some(reader) => spool_items(runner, map, reader, &input, ctx).await?,
        None => {
            let items = items_from_path(map, &input, ctx)?;
            let item_count = items.len();
            let inputs = match &map.item_batcher {
                Some(batcher) => {
                    let selected = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| select_item(map, &input, ctx, i, item))
                        .collect::<Result<Vec<_>, _>>()?;
                    ChildInputs::Built(batch(batcher, selected, &input, ctx)?)
                }
                None => {
                    for (i, item) in items.iter().enumerate() {
                        select_item(map, &input, ctx, i, item)?;
                    }
                    ChildInputs::Selected(items)
                }
            };
            (inputs, item_count)
        }
    };
    let tolerated_pct = resolve_opt(
        &map.tolerated_percentage,
        "ToleratedFailurePercentage",
        &input,
        ctx,
    )?;
    let tolerated_count = resolve_opt(&map.tolerated_count, "ToleratedFailureCount", &input, ctx)?;
    if tolerated_pct.is_some_and(|p| p > 100.0) {
        return Err(StatesError::runtime(
            "ToleratedFailurePercentage must be between 0 and 100",
        ));
    }

    let label = map.label.clone().unwrap_or_else(|| state.name.clone());
    let (map_run_arn, child_sm_arn, map_run_id) = map_run_arns(ctx, &label);
    let total = child_inputs.len();
    // With a ResultWriter, each child's record goes to a temp file as the child ends (see
    // `ResultSpool`); without one, the records are the state's result and stay in memory.
    let mut spool = match &map.result_writer {
        Some(_) => Some(ResultSpool::new()?),
        None => None,
    };
    // A record that could not be spooled fails the run once every child has ended (children
    // are not abandoned half way).
    let mut spool_error: Option<StatesError> = None;
    runner.history.record(
        HistoryEventKind::MapRunStarted,
        name,
        json!({ "mode": "DISTRIBUTED", "mapRunArn": map_run_arn, "totalItems": total, "itemCount": item_count }),
    );

    let (head, _) = map_run_arn.split_once(":mapRun:").unwrap_or(("", ""));
    let exec_prefix = format!(
        "{head}:execution:{}",
        child_sm_arn
            .split_once(":stateMachine:")
            .map_or("", |(_, n)| n)
    );
    let input_ref = &input;
    let read_back = ReadBackError::default();
    let children = child_inputs
        .into_iter(read_back.clone())
        .enumerate()
        .map(|(index, entry)| {
            // (child input, Map.Item.Value); selecting cannot fail here (checked above).
            let (child_input, item) = match entry {
                ChildInput::Built(batch) => (batch.clone(), batch),
                ChildInput::Selected(item) => (
                    select_item(map, input_ref, ctx, index, &item).unwrap_or(Value::Null),
                    item,
                ),
            };
            let child_name = uuid::Uuid::new_v4().to_string();
            let arn = format!("{exec_prefix}:{map_run_id}:{child_name}");
            let exec = Arc::new(ExecutionContext {
                id: arn.clone(),
                name: child_name.clone(),
                input: child_input.clone(),
                start_time: now_timestamp(),
                state_machine_id: child_sm_arn.clone(),
                state_machine_name: format!("{}/{label}", ctx.execution.state_machine_name),
            });
            async move {
                let start = Utc::now();
                runner.history.observe(
                    HistoryEventKind::MapItemStarted,
                    name,
                    json!({ "index": index, "total": total, "executionArn": arn }),
                );
                let child = Runner {
                    resources: runner.resources,
                    history: runner.history.for_child_execution(),
                    retry_scale: runner.retry_scale,
                };
                let input_text = child_input.to_string();
                let result = child
                    .run_graph(&map.processor, child_input, exec, Some((index, item)))
                    .await;
                (
                    index,
                    ChildRecord {
                        name: child_name,
                        arn,
                        input: input_text,
                        start,
                        stop: Utc::now(),
                        result,
                    },
                )
            }
        });
    let mut records: Vec<Option<ChildRecord>> = match spool {
        Some(_) => Vec::new(),
        None => (0..total).map(|_| None).collect(),
    };
    let (mut succeeded, mut failed) = (0usize, 0usize);
    let mut stream = stream::iter(children).buffer_unordered(limit.min(total.max(1)));
    while let Some((index, record)) = stream.next().await {
        match &record.result {
            Ok(_) => {
                succeeded += 1;
                runner.history.observe(
                    HistoryEventKind::MapItemSucceeded,
                    name,
                    json!({ "index": index, "total": total, "succeeded": succeeded, "failed": failed }),
                );
            }
            Err(err) => {
                failed += 1;
                runner.history.observe(
                    HistoryEventKind::MapItemFailed,
                    name,
                    json!({ "index": index, "total": total, "succeeded": succeeded, "failed": failed,
                            "error": err.error, "cause": err.cause }),
                );
            }
        }
        match &mut spool {
            Some(spool) => {
                if spool_error.is_none()
                    && let Err(e) = spool.add(&record, &child_sm_arn)
                {
                    spool_error = Some(e);
                }
            }
            None => records[index] = Some(record),
        }
    }
    drop(stream);
    // Ends the run with `err`, recorded as the map run's failure.
    let run_failed = |err: StatesError| {
        runner.history.record(
            HistoryEventKind::MapRunFailed,
            name,
            json!({ "mapRunArn": map_run_arn, "error": err.error, "cause": err.cause,
                    "succeeded": succeeded, "failed": failed, "total": total }),
        );
        Err(err)
    };
    let read_back_error = read_back.lock().ok().and_then(|mut slot| slot.take());
    if let Some(err) = read_back_error.or(spool_error) {
        return run_failed(err);
    }
    let records: Vec<ChildRecord> = records.into_iter().flatten().collect();

    let writer_result = match (&map.result_writer, spool) {
        (Some(writer), Some(spool)) => Some(
            write_results(
                runner,
                writer,
                spool,
                &input,
                ctx,
                &map_run_arn,
                &map_run_id,
            )
            .await,
        ),
        _ => None,
    };

    let exceeded = match (tolerated_pct, tolerated_count) {
        (None, None) => failed > 0,
        (pct, count) => {
            let pct_exceeded =
                pct.is_some_and(|p| total > 0 && (failed as f64) * 100.0 / (total as f64) > p);
            let count_exceeded = count.is_some_and(|c| failed as f64 > c);
            pct_exceeded || count_exceeded
        }
    };
    if exceeded {
        let err = StatesError::new(
            names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
            format!(
                "The specified tolerated failure threshold was exceeded: {failed} of {total} child executions failed \
                 ({succeeded} succeeded; tolerated failure percentage: {}, tolerated failure count: {})",
                tolerated_pct.map_or("none".to_owned(), |p| p.to_string()),
                tolerated_count.map_or("none".to_owned(), |c| c.to_string()),
            ),
        );
        return run_failed(err);
    }
    let result = match writer_result {
        Some(written) => written?,
        None => Value::Array(
            records
                .iter()
                .map(|r| match &r.result {
                    Ok(output) => output.clone(),
                    Err(_) => r.to_json(&child_sm_arn),
                })
                .collect(),
        ),
    };
    runner.history.record(
        HistoryEventKind::MapRunSucceeded,
        name,
        json!({ "mapRunArn": map_run_arn, "succeeded": succeeded, "failed": failed, "total": total }),
    );
    Ok(result)
}

/// Result files hold at most this much JSON each (Step Functions splits at 5 GB): the local run
/// builds one file in memory at a time.
const RESULT_FILE_BYTES: usize = 4 * 1024 * 1024;

/// The children's records on their way to the ResultWriter's files, one temp file per status:
/// each record is written (one JSON line) as its child ends, so a run of thousands of children
/// does not keep them all (≈3 KB each; a child's input holds the job document, and a 2M-row
/// file has 4,000 chunks). The files list records in the order the children ended, as Step
/// Functions' do not promise any order either.
struct ResultSpool {
    succeeded: std::io::BufWriter<std::fs::File>,
    failed: std::io::BufWriter<std::fs::File>,
}

fn writer_failed(e: impl std::fmt::Display) -> StatesError {
    StatesError::new(names::RESULT_WRITER_FAILED, e.to_string())
}

impl ResultSpool {
    fn new() -> Result<Self, StatesError> {
        let file = || {
            tempfile::tempfile()
                .map(std::io::BufWriter::new)
                .map_err(writer_failed)
        };
        Ok(ResultSpool {
            succeeded: file()?,
            failed: file()?,
        })
    }

    fn add(&mut self, record: &ChildRecord, state_machine_arn: &str) -> Result<(), StatesError> {
        use std::io::Write;
        let out = if record.result.is_ok() {
            &mut self.succeeded
        } else {
            &mut self.failed
        };
        // serde_json escapes newlines inside strings: one record per line.
        serde_json::to_writer(&mut *out, &record.to_json(state_machine_arn))
            .map_err(writer_failed)?;
        out.write_all(b"\n").map_err(writer_failed)
    }

    /// The records of a status, from the start of its file.
    fn lines(
        out: std::io::BufWriter<std::fs::File>,
    ) -> Result<std::io::Lines<std::io::BufReader<std::fs::File>>, StatesError> {
        use std::io::{BufRead, Seek};
        let mut file = out.into_inner().map_err(|e| writer_failed(e.error()))?;
        file.rewind().map_err(writer_failed)?;
        Ok(std::io::BufReader::new(file).lines())
    }
}

/// Writes `SUCCEEDED_n.json` / `FAILED_n.json` (when non-empty) and `manifest.json` under
/// `<Prefix>/<map run id>/`; the value is the Map's result `{MapRunArn, ResultWriterDetails}`.
async fn write_results(
    runner: &Runner<'_>,
    writer: &ResultWriter,
    spool: ResultSpool,
    input: &Value,
    ctx: &Context,
    map_run_arn: &str,
    map_run_id: &str,
) -> Result<Value, StatesError> {
    let params = writer.parameters.eval(input, ctx)?;
    let bucket = required_string(&params, "Bucket", "ResultWriter")?;
    let mut prefix = match params.get("Prefix") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(StatesError::runtime(
                "ResultWriter.Parameters.Prefix must evaluate to a string",
            ));
        }
    };
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let dir = format!("{prefix}{map_run_id}/");
    let put = |key: String, body: Vec<u8>| {
        let bucket = bucket.clone();
        async move {
            runner
                .resources
                .put_object(&bucket, &key, body)
                .await
                .map_err(|e| {
                    StatesError::new(
                        names::RESULT_WRITER_FAILED,
                        format!(
                            "Writing s3://{bucket}/{key} failed: {}: {}",
                            e.error, e.cause
                        ),
                    )
                })
        }
    };
    let mut files = Map::new();
    let ResultSpool { succeeded, failed } = spool;
    for (status, spooled) in [
        ("FAILED", Some(failed)),
        ("PENDING", None),
        ("SUCCEEDED", Some(succeeded)),
    ] {
        let mut listed = Vec::new();
        if let Some(spooled) = spooled {
            let mut lines = ResultSpool::lines(spooled)?.peekable();
            let mut body = Vec::new();
            while let Some(line) = lines.next() {
                let line = line.map_err(writer_failed)?;
                body.push(if body.is_empty() { b'[' } else { b',' });
                body.extend_from_slice(line.as_bytes());
                if body.len() >= RESULT_FILE_BYTES || lines.peek().is_none() {
                    body.push(b']');
                    let key = format!("{dir}{status}_{}.json", listed.len());
                    let size = body.len();
                    put(key.clone(), std::mem::take(&mut body)).await?;
                    listed.push(json!({ "Key": key, "Size": size }));
                }
            }
        }
        files.insert(status.into(), Value::Array(listed));
    }
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": Value::Object(files),
    });
    let manifest_key = format!("{dir}manifest.json");
    let body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StatesError::new(names::RESULT_WRITER_FAILED, e.to_string()))?;
    put(manifest_key.clone(), body).await?;
    Ok(json!({
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": { "Bucket": bucket, "Key": manifest_key },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    /// Spooled items are read back up to the count written; the first line that cannot be read
    /// stops the children there and is kept as the run's error.
    #[test]
    fn a_spool_read_back_stops_at_the_first_bad_line() {
        let spooled = |text: &str, total: usize| {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            file.rewind().unwrap();
            ChildInputs::Spooled {
                file,
                total,
                built: false,
            }
        };
        let read_back = ReadBackError::default();
        let items: Vec<ChildInput> = spooled("{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n", 2)
            .into_iter(read_back.clone())
            .collect();
        assert_eq!(items.len(), 2);
        assert!(read_back.lock().unwrap().is_none());

        let items: Vec<ChildInput> = spooled("{\"id\":1}\nnot json\n{\"id\":3}\n", 3)
            .into_iter(read_back.clone())
            .collect();
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], ChildInput::Selected(v) if v["id"] == 1));
        let err = read_back.lock().unwrap().take().unwrap();
        assert_eq!(err.error, names::ITEM_READER_FAILED);
        assert!(err.cause.contains("spooled items"), "{}", err.cause);
    }
}
