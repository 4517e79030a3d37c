//! Retry and Catch: definitions, error name matching and backoff computation.

use std::time::Duration;

use serde_json::Value;

use crate::error::{AslError, names};
use crate::parse::fields::Fields;
use crate::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    Full,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    /// `None` means `"ResultPath": null` (discard the error output, keep the input).
    pub result_path: Option<Path>,
}

/// Whether `error` is matched by the names in `error_equals`.
///
/// `States.ALL` matches every error and `States.TaskFailed` every error except
/// `States.Timeout`, but neither matches the terminal `States.Runtime` and
/// `States.DataLimitExceeded` errors, which can never be retried or caught.
pub(crate) fn error_matches(error_equals: &[String], error: &str) -> bool {
    if error == names::RUNTIME || error == names::DATA_LIMIT_EXCEEDED {
        return false;
    }
    error_equals.iter().any(|name| {
        name == error
            || name == names::ALL
            || (name == names::TASK_FAILED && error != names::TIMEOUT)
    })
}

impl Retrier {
    /// The delay before retry number `attempt + 1` (attempt counts from 0), scaled by `scale`.
    /// `random` is a value in `[0, 1)` used by the FULL jitter strategy.
    pub fn delay(&self, attempt: u64, scale: f64, random: f64) -> Duration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut seconds = self.interval_seconds * self.backoff_rate.powi(exponent);
        if let Some(max) = self.max_delay_seconds {
            seconds = seconds.min(max);
        }
        if self.jitter == Jitter::Full {
            seconds *= random;
        }
        let seconds = seconds * scale;
        if seconds.is_finite() && seconds > 0.0 {
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        }
    }
}

/// A random number in `[0, 1)` (from the v4 UUID generator; no extra dependency).
pub(crate) fn random_unit() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    (u64::from_le_bytes(raw) >> 11) as f64 / (1u64 << 53) as f64
}

fn parse_error_equals(fields: &Fields<'_>) -> Result<Vec<String>, AslError> {
    let list = fields
        .required("ErrorEquals")?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| fields.invalid("ErrorEquals", "must be a non-empty array of strings"))?;
    let names: Vec<String> = list
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| fields.invalid("ErrorEquals", "must be a non-empty array of strings"))?;
    if names.len() > 1 && names.iter().any(|n| n == names::ALL) {
        return Err(fields.invalid("ErrorEquals", "\"States.ALL\" must appear alone"));
    }
    Ok(names)
}

fn list<'a>(fields: &Fields<'a>, key: &str) -> Result<Vec<(String, &'a Value)>, AslError> {
    match fields.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{key}[{i}]."), v))
            .collect()),
        Some(_) => Err(fields.invalid(key, "must be an array")),
    }
}

fn check_all_is_last(
    fields: &Fields<'_>,
    key: &str,
    lists: &[&Vec<String>],
) -> Result<(), AslError> {
    let n = lists.len();
    if lists[..n.saturating_sub(1)]
        .iter()
        .any(|l| l.iter().any(|e| e == names::ALL))
    {
        return Err(fields.invalid(key, "\"States.ALL\" must only appear in the last element"));
    }
    Ok(())
}

/// Parses the state's `Retry` field (empty when absent).
pub(crate) fn parse_retry(state: &Fields<'_>) -> Result<Vec<Retrier>, AslError> {
    let mut out = Vec::new();
    for (prefix, value) in list(state, "Retry")? {
        let f = Fields::new(
            value,
            state.state(),
            &prefix,
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ],
        )?;
        let error_equals = parse_error_equals(&f)?;
        let interval_seconds = f.u64("IntervalSeconds")?.unwrap_or(1);
        if interval_seconds == 0 {
            return Err(f.invalid("IntervalSeconds", "must be a positive integer"));
        }
        let backoff_rate = f.f64("BackoffRate")?.unwrap_or(2.0);
        if backoff_rate < 1.0 {
            return Err(f.invalid("BackoffRate", "must be at least 1.0"));
        }
        let max_delay_seconds = f.u64("MaxDelaySeconds")?;
        if max_delay_seconds == Some(0) {
            return Err(f.invalid("MaxDelaySeconds", "must be a positive integer"));
        }
        let jitter = match f.str("JitterStrategy")? {
            None | Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            Some(other) => {
                return Err(f.invalid("JitterStrategy", format!("unknown value \"{other}\"")));
            }
        };
        out.push(Retrier {
            error_equals,
            interval_seconds: interval_seconds as f64,
            max_attempts: f.u64("MaxAttempts")?.unwrap_or(3),
            backoff_rate,
            max_delay_seconds: max_delay_seconds.map(|s| s as f64),
            jitter,
        });
    }
    check_all_is_last(
        state,
        "Retry",
        &out.iter().map(|r| &r.error_equals).collect::<Vec<_>>(),
    )?;
    Ok(out)
}

/// Parses the state's `Catch` field (empty when absent).
pub(crate) fn parse_catch(state: &Fields<'_>) -> Result<Vec<Catcher>, AslError> {
    let mut out = Vec::new();
    for (prefix, value) in list(state, "Catch")? {
        let f = Fields::new(
            value,
            state.state(),
            &prefix,
            &["ErrorEquals", "Next", "ResultPath", "Comment"],
        )?;
        let result_path = match f.get("ResultPath") {
            None => Some(Path::parse("$").map_err(|e| f.invalid("ResultPath", e))?),
            Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(parse_result_path(s).map_err(|e| f.invalid("ResultPath", e))?)
            }
            Some(_) => return Err(f.invalid("ResultPath", "must be a path or null")),
        };
        out.push(Catcher {
            error_equals: parse_error_equals(&f)?,
            next: f.required_str("Next")?.to_owned(),
            result_path,
        });
    }
    check_all_is_last(
        state,
        "Catch",
        &out.iter().map(|c| &c.error_equals).collect::<Vec<_>>(),
    )?;
    Ok(out)
}

/// A ResultPath: a reference path on the input (not the context object).
pub(crate) fn parse_result_path(text: &str) -> Result<Path, String> {
    let path = Path::parse_reference(text)?;
    if path.root() != crate::path::Root::Input {
        return Err(format!("\"{text}\" cannot refer to the context object"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(v: Value) -> Result<(Vec<Retrier>, Vec<Catcher>), AslError> {
        let f = Fields::new(&v, Some("T"), "", &["Retry", "Catch"])?;
        Ok((parse_retry(&f)?, parse_catch(&f)?))
    }

    #[test]
    fn defaults() {
        let (r, c) = state(json!({"Retry": [{"ErrorEquals": ["E"]}], "Catch": [{"ErrorEquals": ["E"], "Next": "N"}]})).unwrap();
        assert_eq!(r[0].interval_seconds, 1.0);
        assert_eq!(r[0].max_attempts, 3);
        assert_eq!(r[0].backoff_rate, 2.0);
        assert_eq!(r[0].jitter, Jitter::None);
        assert_eq!(
            c[0].result_path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("$")
        );
    }

    #[test]
    fn states_all_rules() {
        assert!(state(json!({"Retry": [{"ErrorEquals": ["States.ALL", "E"]}]})).is_err());
        let err = state(json!({"Catch": [
            {"ErrorEquals": ["States.ALL"], "Next": "A"},
            {"ErrorEquals": ["E"], "Next": "B"}
        ]}))
        .unwrap_err();
        assert!(err.to_string().contains("last"), "{err}");
        assert!(
            state(json!({"Retry": [{"ErrorEquals": ["E"]}, {"ErrorEquals": ["States.ALL"]}]}))
                .is_ok()
        );
    }

    #[test]
    fn invalid_retriers() {
        assert!(state(json!({"Retry": [{"ErrorEquals": []}]})).is_err());
        assert!(state(json!({"Retry": [{"ErrorEquals": ["E"], "BackoffRate": 0.5}]})).is_err());
        assert!(
            state(json!({"Retry": [{"ErrorEquals": ["E"], "JitterStrategy": "HALF"}]})).is_err()
        );
        let err = state(json!({"Retry": [{"ErrorEquals": ["E"], "Foo": 1}]})).unwrap_err();
        assert!(err.to_string().contains("Retry[0].Foo"), "{err}");
    }

    #[test]
    fn matching_rules() {
        let all = vec![names::ALL.to_string()];
        let task_failed = vec![names::TASK_FAILED.to_string()];
        assert!(error_matches(&all, "Retryable"));
        assert!(error_matches(&all, names::TIMEOUT));
        assert!(!error_matches(&all, names::RUNTIME));
        assert!(!error_matches(
            &[names::RUNTIME.to_string()],
            names::RUNTIME
        ));
        assert!(error_matches(&task_failed, "Lambda.ServiceException"));
        assert!(!error_matches(&task_failed, names::TIMEOUT));
        assert!(error_matches(&["A".into(), "B".into()], "B"));
        assert!(!error_matches(&["A".into()], "B"));
    }

    #[test]
    fn backoff_and_max_delay() {
        let r = Retrier {
            error_equals: vec!["E".into()],
            interval_seconds: 2.0,
            max_attempts: 5,
            backoff_rate: 3.0,
            max_delay_seconds: Some(10.0),
            jitter: Jitter::None,
        };
        assert_eq!(r.delay(0, 1.0, 0.5), Duration::from_secs(2));
        assert_eq!(r.delay(1, 1.0, 0.5), Duration::from_secs(6));
        assert_eq!(r.delay(2, 1.0, 0.5), Duration::from_secs(10));
        assert_eq!(r.delay(1, 0.0, 0.5), Duration::ZERO);
        assert_eq!(r.delay(1, 0.5, 0.5), Duration::from_secs(3));
        let full = Retrier {
            jitter: Jitter::Full,
            ..r
        };
        assert_eq!(full.delay(1, 1.0, 0.5), Duration::from_secs(3));
        let x = random_unit();
        assert!((0.0..1.0).contains(&x));
    }
}
