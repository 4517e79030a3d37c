//! Running an execution: the state loop, input/output processing, Retry and Catch.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, try_join_all};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ast::{Graph, Kind, State, StateMachine, WaitFor};
use crate::choice::parse_timestamp;
use crate::error::{StatesError, names};
use crate::parse::fields::Transition;
use crate::path::{Context, ExecutionContext, now_timestamp};
use crate::retry::{error_matches, random_unit};
use crate::run::history::{History, HistoryEvent, HistoryEventKind, Observer};
use crate::run::resources::Resources;

/// How to run an execution.
#[derive(Clone)]
pub struct ExecutionOptions {
    /// Execution name (`$$.Execution.Name`).
    pub name: String,
    /// State machine ARN (`$$.StateMachine.Id`); the execution ARN is derived from it.
    pub state_machine_id: String,
    /// Every Retry interval is multiplied by this (tests use 0.0).
    pub retry_interval_scale: f64,
    pub observer: Option<Arc<dyn Observer>>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            name: uuid::Uuid::new_v4().to_string(),
            state_machine_id: "arn:aws:states:local:000000000000:stateMachine:local".into(),
            retry_interval_scale: 1.0,
            observer: None,
        }
    }
}

impl std::fmt::Debug for ExecutionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionOptions")
            .field("name", &self.name)
            .field("state_machine_id", &self.state_machine_id)
            .field("retry_interval_scale", &self.retry_interval_scale)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
}

/// Outcome of [`run_execution`]: output on success, error/cause on failure, and the full history.
#[derive(Debug, Clone)]
pub struct ExecutionResult {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
}

/// `arn:...:stateMachine:Name` → (`arn:...:execution:Name:<name>`, `Name`).
pub(crate) fn execution_arn(state_machine_id: &str, name: &str) -> (String, String) {
    match state_machine_id.split_once(":stateMachine:") {
        Some((head, sm_name)) => (
            format!("{head}:execution:{sm_name}:{name}"),
            sm_name.to_owned(),
        ),
        None => (
            format!("arn:aws:states:local:000000000000:execution:{state_machine_id}:{name}"),
            state_machine_id.to_owned(),
        ),
    }
}

/// Runs `sm` on `input` until it succeeds or fails.
pub async fn run_execution(
    sm: &StateMachine,
    resources: &dyn Resources,
    input: Value,
    options: ExecutionOptions,
) -> ExecutionResult {
    let history = History::new(options.observer.clone());
    let (id, sm_name) = execution_arn(&options.state_machine_id, &options.name);
    let exec = Arc::new(ExecutionContext {
        id: id.clone(),
        name: options.name.clone(),
        input: input.clone(),
        start_time: now_timestamp(),
        state_machine_id: options.state_machine_id.clone(),
        state_machine_name: sm_name,
    });
    history.record(
        HistoryEventKind::ExecutionStarted,
        None,
        json!({ "executionArn": id, "name": options.name, "input": input }),
    );
    let runner = Runner {
        resources,
        history: history.clone(),
        retry_scale: options.retry_interval_scale,
    };
    let run = runner.run_graph(&sm.graph, input, exec, None);
    let outcome = match sm.timeout_seconds {
        Some(secs) => tokio::time::timeout(Duration::from_secs(secs), run)
            .await
            .unwrap_or_else(|_| {
                Err(StatesError::new(
                    names::TIMEOUT,
                    format!("The execution timed out after {secs} seconds"),
                ))
            }),
        None => run.await,
    };
    let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
    match outcome {
        Ok(output) => {
            history.record(
                HistoryEventKind::ExecutionSucceeded,
                None,
                json!({ "output": output }),
            );
            ExecutionResult {
                status: ExecutionStatus::Succeeded,
                output: Some(output),
                error: None,
                cause: None,
                history: history.snapshot(),
            }
        }
        Err(err) => {
            history.record(
                HistoryEventKind::ExecutionFailed,
                None,
                json!({ "error": err.error, "cause": err.cause }),
            );
            ExecutionResult {
                status: ExecutionStatus::Failed,
                output: None,
                error: non_empty(err.error),
                cause: non_empty(err.cause),
                history: history.snapshot(),
            }
        }
    }
}

/// Shared state of one run (including Map children and Parallel branches).
pub(crate) struct Runner<'r> {
    pub resources: &'r dyn Resources,
    pub history: History,
    pub retry_scale: f64,
}

/// Where to go after a state.
struct Step<'g> {
    output: Value,
    next: Option<&'g str>,
}

fn next_of(state: &State) -> Option<&str> {
    match &state.transition {
        Some(Transition::Next(n)) => Some(n),
        _ => None,
    }
}

impl<'r> Runner<'r> {
    /// Runs the states of `graph` from its StartAt until an end; the value is the final output.
    pub fn run_graph<'s>(
        &'s self,
        graph: &'s Graph,
        input: Value,
        exec: Arc<ExecutionContext>,
        map_item: Option<(usize, Value)>,
    ) -> BoxFuture<'s, Result<Value, StatesError>> {
        Box::pin(async move {
            let mut name = graph.start_at.as_str();
            let mut input = input;
            loop {
                let state = graph.states.get(name).ok_or_else(|| {
                    StatesError::runtime(format!("state \"{name}\" does not exist"))
                })?;
                let ctx = Context {
                    execution: exec.clone(),
                    state_name: state.name.clone(),
                    entered_time: now_timestamp(),
                    retry_count: 0,
                    map_item: map_item.clone(),
                };
                self.history.record(
                    HistoryEventKind::StateEntered,
                    Some(name),
                    json!({ "input": input }),
                );
                let step = match self.run_state(state, input, ctx).await {
                    Ok(step) => step,
                    Err(err) => {
                        self.history.record(
                            HistoryEventKind::StateFailed,
                            Some(name),
                            json!({ "error": err.error, "cause": err.cause }),
                        );
                        return Err(err);
                    }
                };
                self.history.record(
                    HistoryEventKind::StateExited,
                    Some(name),
                    json!({ "output": step.output }),
                );
                match step.next {
                    Some(next) => {
                        name = next;
                        input = step.output;
                    }
                    None => return Ok(step.output),
                }
            }
        })
    }

    async fn run_state<'g>(
        &self,
        state: &'g State,
        raw: Value,
        ctx: Context,
    ) -> Result<Step<'g>, StatesError> {
        match &state.kind {
            Kind::Choice { choices, default } => {
                let effective = apply_input_path(state, &raw, &ctx)?;
                let mut next = None;
                for choice in choices {
                    if choice.rule.eval(&effective, &ctx)? {
                        next = Some(choice.next.as_str());
                        break;
                    }
                }
                let next = next.or(default.as_deref()).ok_or_else(|| {
                    StatesError::new(
                        names::NO_CHOICE_MATCHED,
                        format!(
                            "No Choice rule matched and there is no Default in state \"{}\"",
                            state.name
                        ),
                    )
                })?;
                let output = apply_output_path(state, effective, &ctx)?;
                Ok(Step {
                    output,
                    next: Some(next),
                })
            }
            Kind::Succeed => {
                let effective = apply_input_path(state, &raw, &ctx)?;
                let output = apply_output_path(state, effective, &ctx)?;
                Ok(Step { output, next: None })
            }
            Kind::Fail {
                error,
                cause,
                error_literal,
                cause_literal,
            } => {
                let text = |lit: &Option<String>,
                            dynamic: &Option<crate::payload::Dynamic>,
                            field: &str| {
                    match (lit, dynamic) {
                        (Some(s), _) => Ok(s.clone()),
                        (None, Some(d)) => match d.eval(field, &raw, &ctx)? {
                            Value::String(s) => Ok(s),
                            other => Err(StatesError::runtime(format!(
                                "The value of '{field}' must be a string, got {other}"
                            ))),
                        },
                        (None, None) => Ok(String::new()),
                    }
                };
                let error = text(error_literal, error, "ErrorPath")?;
                let cause = text(cause_literal, cause, "CausePath")?;
                Err(StatesError::new(error, cause))
            }
            Kind::Wait(wait) => {
                let effective = apply_input_path(state, &raw, &ctx)?;
                let delay = wait_duration(wait, &effective, &ctx)?;
                self.history.record(
                    HistoryEventKind::WaitStarted,
                    Some(&state.name),
                    json!({ "seconds": delay.as_secs_f64() }),
                );
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let output = apply_output_path(state, effective, &ctx)?;
                Ok(Step {
                    output,
                    next: next_of(state),
                })
            }
            Kind::Pass { .. } | Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map(_) => {
                self.run_with_retry(state, raw, ctx).await
            }
        }
    }

    async fn run_with_retry<'g>(
        &self,
        state: &'g State,
        raw: Value,
        ctx: Context,
    ) -> Result<Step<'g>, StatesError> {
        let mut attempts = vec![0u64; state.retry.len()];
        let mut ctx = ctx;
        loop {
            let err = match self.attempt(state, &raw, &ctx).await {
                Ok(output) => {
                    return Ok(Step {
                        output,
                        next: next_of(state),
                    });
                }
                Err(err) => err,
            };
            if let Some(i) = state
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, &err.error))
            {
                let retrier = &state.retry[i];
                if attempts[i] < retrier.max_attempts {
                    let delay = retrier.delay(attempts[i], self.retry_scale, random_unit());
                    attempts[i] += 1;
                    ctx.retry_count += 1;
                    let kind = if matches!(state.kind, Kind::Task { .. }) {
                        HistoryEventKind::TaskRetried
                    } else {
                        HistoryEventKind::StateRetried
                    };
                    self.history.record(
                        kind,
                        Some(&state.name),
                        json!({
                            "error": err.error,
                            "cause": err.cause,
                            "retrier": i,
                            "attempt": attempts[i],
                            "delaySeconds": delay.as_secs_f64(),
                        }),
                    );
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    continue;
                }
            }
            if let Some(catcher) = state
                .catch
                .iter()
                .find(|c| error_matches(&c.error_equals, &err.error))
            {
                let output = match &catcher.result_path {
                    Some(path) => path.set(raw, err.to_output())?,
                    None => raw,
                };
                self.history.record(
                    HistoryEventKind::CaughtError,
                    Some(&state.name),
                    json!({ "error": err.error, "cause": err.cause, "next": catcher.next }),
                );
                return Ok(Step {
                    output,
                    next: Some(&catcher.next),
                });
            }
            return Err(err);
        }
    }

    /// One attempt of a Pass/Task/Parallel/Map state: input processing, the work, output processing.
    async fn attempt(
        &self,
        state: &State,
        raw: &Value,
        ctx: &Context,
    ) -> Result<Value, StatesError> {
        let effective = apply_input_path(state, raw, ctx)?;
        let effective = match &state.parameters {
            Some(template) => template.eval(&effective, ctx)?,
            None => effective,
        };
        let result = match &state.kind {
            Kind::Pass { result } => result.clone().unwrap_or(effective),
            Kind::Task {
                resource,
                timeout_seconds,
            } => {
                let result = self
                    .invoke(state, resource, *timeout_seconds, effective)
                    .await?;
                select_result(state, result, ctx)?
            }
            Kind::Parallel { branches } => {
                let runs = branches
                    .iter()
                    .map(|b| self.run_graph(b, effective.clone(), ctx.execution.clone(), None));
                let outputs = try_join_all(runs).await?;
                select_result(state, Value::Array(outputs), ctx)?
            }
            Kind::Map(map) => {
                let result = crate::run::map::run_map(self, state, map, effective, ctx).await?;
                select_result(state, result, ctx)?
            }
            Kind::Choice { .. } | Kind::Succeed | Kind::Fail { .. } | Kind::Wait(_) => effective,
        };
        let output = match &state.result_path {
            Some(path) => path.set(raw.clone(), result)?,
            None => raw.clone(),
        };
        apply_output_path(state, output, ctx)
    }

    async fn invoke(
        &self,
        state: &State,
        resource: &str,
        timeout_seconds: Option<u64>,
        input: Value,
    ) -> Result<Value, StatesError> {
        self.history.record(
            HistoryEventKind::TaskScheduled,
            Some(&state.name),
            json!({ "resource": resource, "input": input }),
        );
        let call = self.resources.invoke(resource, input);
        let outcome = match timeout_seconds {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), call).await {
                Ok(r) => r.map_err(StatesError::from),
                Err(_) => Err(StatesError::new(
                    names::TIMEOUT,
                    format!("Task timed out after {secs} seconds"),
                )),
            },
            None => call.await.map_err(StatesError::from),
        };
        match &outcome {
            Ok(output) => self.history.record(
                HistoryEventKind::TaskSucceeded,
                Some(&state.name),
                json!({ "resource": resource, "output": output }),
            ),
            Err(err) => self.history.record(
                HistoryEventKind::TaskFailed,
                Some(&state.name),
                json!({ "resource": resource, "error": err.error, "cause": err.cause }),
            ),
        }
        outcome
    }
}

fn select_result(state: &State, result: Value, ctx: &Context) -> Result<Value, StatesError> {
    match &state.result_selector {
        Some(template) => template.eval(&result, ctx),
        None => Ok(result),
    }
}

fn apply_input_path(state: &State, raw: &Value, ctx: &Context) -> Result<Value, StatesError> {
    match &state.input_path {
        Some(path) => path.select_required(raw, ctx),
        None => Ok(json!({})),
    }
}

fn apply_output_path(state: &State, output: Value, ctx: &Context) -> Result<Value, StatesError> {
    match &state.output_path {
        Some(path) if path.is_root() && path.root() == crate::path::Root::Input => Ok(output),
        Some(path) => path.select_required(&output, ctx),
        None => Ok(json!({})),
    }
}

fn wait_duration(wait: &WaitFor, input: &Value, ctx: &Context) -> Result<Duration, StatesError> {
    let until = |ts: &str| -> Result<Duration, StatesError> {
        let target = parse_timestamp(ts)
            .ok_or_else(|| StatesError::runtime(format!("'{ts}' is not a valid timestamp")))?;
        let millis = (target.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
        Ok(Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
    };
    match wait {
        WaitFor::Seconds(s) => Ok(Duration::from_secs(*s)),
        WaitFor::Timestamp(ts) => until(ts),
        WaitFor::SecondsPath(path) => {
            let v = path.select_required(input, ctx)?;
            v.as_u64().map(Duration::from_secs).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The SecondsPath '{path}' must select a non-negative integer, got {v}"
                ))
            })
        }
        WaitFor::TimestampPath(path) => {
            let v = path.select_required(input, ctx)?;
            match v.as_str() {
                Some(ts) => until(ts),
                None => Err(StatesError::runtime(format!(
                    "The TimestampPath '{path}' must select a timestamp string, got {v}"
                ))),
            }
        }
    }
}
