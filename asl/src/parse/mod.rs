//! Phase one: a definition's text → a checked [`definition::StateMachine`].

pub(crate) mod definition;
pub(crate) mod fields;
pub(crate) mod map;
pub(crate) mod substitution;
