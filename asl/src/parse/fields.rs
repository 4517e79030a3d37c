//! Strict access to the fields of a definition object: unknown fields are refused by name,
//! and every error names the state and the (dotted) field.

use serde_json::{Map, Value};

use crate::error::AslError;

/// A JSON object of the definition, with the fields that are allowed in it.
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    state: Option<&'a str>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// `value` must be an object whose keys are all in `allowed`.
    /// `prefix` is the dotted path of this object inside the state (`""` for the state itself).
    pub fn new(
        value: &'a Value,
        state: Option<&'a str>,
        prefix: &str,
        allowed: &[&str],
    ) -> Result<Self, AslError> {
        let Some(obj) = value.as_object() else {
            return Err(AslError::InvalidField {
                state: state.map(str::to_owned),
                field: prefix.trim_end_matches('.').to_owned(),
                message: "must be a JSON object".into(),
            });
        };
        let fields = Fields {
            obj,
            state,
            prefix: prefix.to_owned(),
        };
        if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(fields.unsupported(key));
        }
        Ok(fields)
    }

    pub fn state(&self) -> Option<&'a str> {
        self.state
    }

    /// The dotted name of `key` inside the state, e.g. `ItemReader.ReaderConfig.InputType`.
    pub fn name(&self, key: &str) -> String {
        if key.is_empty() {
            return self.prefix.trim_end_matches('.').to_owned();
        }
        format!("{}{key}", self.prefix)
    }

    pub fn unsupported(&self, key: &str) -> AslError {
        AslError::Unsupported {
            state: self.state.map(str::to_owned),
            field: self.name(key),
        }
    }

    pub fn unsupported_value(&self, key: &str, value: &Value) -> AslError {
        AslError::UnsupportedValue {
            state: self.state.map(str::to_owned),
            field: self.name(key),
            value: value.to_string(),
        }
    }

    pub fn invalid(&self, key: &str, message: impl Into<String>) -> AslError {
        AslError::InvalidField {
            state: self.state.map(str::to_owned),
            field: self.name(key),
            message: message.into(),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    pub fn required(&self, key: &str) -> Result<&'a Value, AslError> {
        self.get(key)
            .ok_or_else(|| self.invalid(key, "is required"))
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, AslError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(key, "must be a string")),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, AslError> {
        self.str(key)?
            .ok_or_else(|| self.invalid(key, "is required"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, AslError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "must be a boolean")),
        }
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, AslError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(key, "must be a non-negative integer")),
        }
    }

    pub fn f64(&self, key: &str) -> Result<Option<f64>, AslError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.invalid(key, "must be a number")),
        }
    }

    /// A nested object, checked against its own allowed keys.
    pub fn object(&self, key: &str, allowed: &[&str]) -> Result<Option<Fields<'a>>, AslError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                Fields::new(v, self.state, &format!("{}{key}.", self.prefix), allowed).map(Some)
            }
        }
    }

    /// `Next`/`End`: exactly one of them.
    pub fn transition(&self) -> Result<Transition, AslError> {
        let next = self.str("Next")?;
        let end = self.bool("End")?.unwrap_or(false);
        match (next, end) {
            (Some(n), false) => Ok(Transition::Next(n.to_owned())),
            (None, true) => Ok(Transition::End),
            (Some(_), true) => Err(self.invalid("End", "cannot be combined with \"Next\"")),
            (None, false) => {
                Err(self.invalid("Next", "either \"Next\" or \"End\": true is required"))
            }
        }
    }
}

/// Where a state goes when it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(String),
    End,
}
