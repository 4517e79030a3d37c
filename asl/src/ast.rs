//! The syntax tree of a parsed state machine: what [`crate::parse`] builds and [`crate::run`]
//! executes. Types only; parsing lives in `parse/`, execution in `run/`.

use std::collections::HashMap;

use serde_json::Value;

use crate::choice::Choice;
use crate::parse::fields::Transition;
use crate::path::Path;
use crate::payload::{Dynamic, Template};
use crate::retry::{Catcher, Retrier};

/// A parsed and validated state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) graph: Graph,
    pub(crate) timeout_seconds: Option<u64>,
}

/// A set of states with a start state: the machine itself, a Map's ItemProcessor or a Parallel branch.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub start_at: String,
    pub states: HashMap<String, State>,
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub name: String,
    pub kind: Kind,
    /// `InputPath`; `None` is `null` (the effective input is `{}`).
    pub input_path: Option<Path>,
    /// `OutputPath`; `None` is `null` (the output is `{}`).
    pub output_path: Option<Path>,
    /// `ResultPath`; `None` is `null` (the result is discarded, the input is kept).
    pub result_path: Option<Path>,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// `None` for Choice, Succeed and Fail.
    pub transition: Option<Transition>,
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(Path),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task {
        resource: String,
        timeout_seconds: Option<u64>,
    },
    Choice {
        choices: Vec<Choice>,
        default: Option<String>,
    },
    Wait(WaitFor),
    Succeed,
    Fail {
        error: Option<Dynamic>,
        cause: Option<Dynamic>,
        error_literal: Option<String>,
        cause_literal: Option<String>,
    },
    Parallel {
        branches: Vec<Graph>,
    },
    Map(Box<MapState>),
}

/// A number given literally or by a reference path into the state's effective input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NumberOrPath {
    Number(f64),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Inline,
    Distributed,
}

#[derive(Debug, Clone)]
pub(crate) struct ItemReader {
    /// `{Bucket, Key}` template.
    pub parameters: Template,
    pub max_items: Option<NumberOrPath>,
}

#[derive(Debug, Clone)]
pub(crate) struct ItemBatcher {
    pub max_items: Option<NumberOrPath>,
    pub max_bytes: Option<NumberOrPath>,
    pub batch_input: Option<Template>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResultWriter {
    /// `{Bucket, Prefix}` template.
    pub parameters: Template,
}

#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub mode: Mode,
    pub items_path: Path,
    pub item_selector: Option<Template>,
    pub processor: Graph,
    pub max_concurrency: Option<NumberOrPath>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub tolerated_percentage: Option<NumberOrPath>,
    pub tolerated_count: Option<NumberOrPath>,
    pub label: Option<String>,
    pub result_writer: Option<ResultWriter>,
}
