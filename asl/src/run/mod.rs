//! Phase two: running a parsed state machine ([`executor::run_execution`]).

pub(crate) mod executor;
pub(crate) mod history;
pub(crate) mod map;
pub(crate) mod resources;
