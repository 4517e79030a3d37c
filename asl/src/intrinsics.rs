//! Intrinsic functions (`States.Format(...)` and friends) usable in `.$` values.

use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::path::{Context, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    JsonMerge,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn lookup(name: &str) -> Option<(Func, usize, usize)> {
        // (function, minimum arity, maximum arity)
        Some(match name {
            "Format" => (Func::Format, 1, usize::MAX),
            "StringToJson" => (Func::StringToJson, 1, 1),
            "JsonToString" => (Func::JsonToString, 1, 1),
            "Array" => (Func::Array, 0, usize::MAX),
            "ArrayPartition" => (Func::ArrayPartition, 2, 2),
            "ArrayContains" => (Func::ArrayContains, 2, 2),
            "ArrayRange" => (Func::ArrayRange, 3, 3),
            "ArrayGetItem" => (Func::ArrayGetItem, 2, 2),
            "ArrayLength" => (Func::ArrayLength, 1, 1),
            "ArrayUnique" => (Func::ArrayUnique, 1, 1),
            "JsonMerge" => (Func::JsonMerge, 3, 3),
            "MathAdd" => (Func::MathAdd, 2, 2),
            "StringSplit" => (Func::StringSplit, 2, 2),
            "UUID" => (Func::Uuid, 0, 0),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A quoted string, kept with its escapes (`\'`, `\{`, `\}`, `\\`) unprocessed.
    Str(String),
    Literal(Value),
    Path(Path),
    Call(Intrinsic),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Intrinsic {
    name: String,
    func: Func,
    args: Vec<Arg>,
}

impl Intrinsic {
    pub fn is_intrinsic(text: &str) -> bool {
        text.trim_start().starts_with("States.")
    }

    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
        };
        let call = parser
            .call()
            .map_err(|e| format!("invalid intrinsic function \"{text}\": {e}"))?;
        parser.skip_ws();
        if parser.pos != parser.chars.len() {
            return Err(format!(
                "invalid intrinsic function \"{text}\": unexpected text after the call"
            ));
        }
        Ok(call)
    }

    pub fn eval(&self, input: &Value, ctx: &Context) -> Result<Value, StatesError> {
        let fail = |msg: String| StatesError::intrinsic(format!("States.{}: {msg}", self.name));
        let mut values = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            values.push(match arg {
                Arg::Str(raw) => Value::String(unescape(raw)),
                Arg::Literal(v) => v.clone(),
                Arg::Path(p) => p.select_required(input, ctx)?,
                Arg::Call(c) => c.eval(input, ctx)?,
            });
        }
        match self.func {
            Func::Format => {
                let template = match &self.args[0] {
                    Arg::Str(raw) => raw.clone(),
                    _ => as_str(&values[0]).map_err(fail)?.to_owned(),
                };
                format(&template, &values[1..])
                    .map(Value::String)
                    .map_err(fail)
            }
            Func::StringToJson => {
                let s = as_str(&values[0]).map_err(fail)?;
                serde_json::from_str(s).map_err(|e| fail(format!("invalid JSON string: {e}")))
            }
            Func::JsonToString => Ok(Value::String(values[0].to_string())),
            Func::Array => Ok(Value::Array(values)),
            Func::ArrayPartition => {
                let arr = as_array(&values[0]).map_err(fail)?;
                let size = as_int(&values[1]).map_err(fail)?;
                if size <= 0 {
                    return Err(fail("chunk size must be positive".into()));
                }
                let size = usize::try_from(size).map_err(|e| fail(e.to_string()))?;
                Ok(Value::Array(
                    arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
                ))
            }
            Func::ArrayContains => {
                let arr = as_array(&values[0]).map_err(fail)?;
                Ok(Value::Bool(arr.contains(&values[1])))
            }
            Func::ArrayRange => {
                let (start, end, step) = (
                    as_int(&values[0]).map_err(fail)?,
                    as_int(&values[1]).map_err(fail)?,
                    as_int(&values[2]).map_err(fail)?,
                );
                if step == 0 {
                    return Err(fail("step must not be 0".into()));
                }
                let mut out = Vec::new();
                let mut i = start;
                while (step > 0 && i <= end) || (step < 0 && i >= end) {
                    if out.len() >= 1000 {
                        return Err(fail("the range has more than 1000 items".into()));
                    }
                    out.push(Value::from(i));
                    i += step;
                }
                Ok(Value::Array(out))
            }
            Func::ArrayGetItem => {
                let arr = as_array(&values[0]).map_err(fail)?;
                let index = as_int(&values[1]).map_err(fail)?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| arr.get(i))
                    .cloned()
                    .ok_or_else(|| fail(format!("index {index} is out of bounds")))
            }
            Func::ArrayLength => Ok(Value::from(as_array(&values[0]).map_err(fail)?.len())),
            Func::ArrayUnique => {
                let arr = as_array(&values[0]).map_err(fail)?;
                let mut out: Vec<Value> = Vec::new();
                for v in arr {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            Func::JsonMerge => {
                let (Value::Object(a), Value::Object(b)) = (&values[0], &values[1]) else {
                    return Err(fail("the first two arguments must be JSON objects".into()));
                };
                if values[2] != Value::Bool(false) {
                    return Err(fail("only shallow merging (false) is supported".into()));
                }
                let mut merged: Map<String, Value> = a.clone();
                merged.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(Value::Object(merged))
            }
            Func::MathAdd => {
                let (a, b) = (&values[0], &values[1]);
                if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                    return x
                        .checked_add(y)
                        .map(Value::from)
                        .ok_or_else(|| fail("integer overflow".into()));
                }
                match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => Ok(Value::from(x + y)),
                    _ => Err(fail("both arguments must be numbers".into())),
                }
            }
            Func::StringSplit => {
                let s = as_str(&values[0]).map_err(fail)?;
                let delims = as_str(&values[1]).map_err(fail)?;
                Ok(Value::Array(
                    s.split(|c| delims.contains(c))
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_owned()))
                        .collect(),
                ))
            }
            Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn as_array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array, got {v}"))
}

fn as_int(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("expected an integer, got {v}"))
}

/// Resolves `\x` escapes to `x`.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `States.Format`: replaces each `{}` with the next argument; `\{` and `\}` are literal braces.
fn format(template: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next_arg = args.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = next_arg.next().ok_or("more placeholders than arguments")?;
                match arg {
                    Value::String(s) => out.push_str(s),
                    Value::Number(_) | Value::Bool(_) | Value::Null => {
                        out.push_str(&arg.to_string())
                    }
                    _ => return Err(format!("cannot format a JSON array or object: {arg}")),
                }
            }
            _ => out.push(c),
        }
    }
    if next_arg.next().is_some() {
        return Err("more arguments than placeholders".into());
    }
    Ok(out)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{c}' at position {}", self.pos))
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.skip_ws();
        if !self.starts_with("States.") {
            return Err("expected 'States.'".into());
        }
        self.pos += "States.".len();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let (func, min, max) =
            Func::lookup(&name).ok_or_else(|| format!("unknown function States.{name}"))?;
        self.eat('(')?;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' at position {}", self.pos)),
                }
            }
        }
        if args.len() < min || args.len() > max {
            return Err(format!(
                "States.{name} does not take {} argument(s)",
                args.len()
            ));
        }
        Ok(Intrinsic { name, func, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut raw = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            raw.push('\\');
                            self.pos += 1;
                            if let Some(c) = self.peek() {
                                raw.push(c);
                                self.pos += 1;
                            }
                        }
                        Some('\'') => {
                            self.pos += 1;
                            return Ok(Arg::Str(raw));
                        }
                        Some(c) => {
                            raw.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some('$') => {
                let start = self.pos;
                let (mut depth, mut quote) = (0usize, None::<char>);
                while let Some(c) = self.peek() {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => depth = depth.saturating_sub(1),
                        (None, ',' | ')') if depth == 0 => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                Path::parse(text.trim()).map(Arg::Path)
            }
            Some('S') if self.starts_with("States.") => self.call().map(Arg::Call),
            Some(_) => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) if !v.is_string() && !v.is_array() && !v.is_object() => {
                        Ok(Arg::Literal(v))
                    }
                    _ => Err(format!("invalid argument \"{text}\" at position {start}")),
                }
            }
            None => Err("unexpected end of input".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::test_context as ctx;
    use serde_json::json;

    fn eval(expr: &str, input: Value) -> Result<Value, StatesError> {
        Intrinsic::parse(expr).unwrap().eval(&input, &ctx())
    }

    #[test]
    fn format_with_paths_and_escapes() {
        let input = json!({"name": "Ann", "n": 3});
        assert_eq!(
            eval(
                "States.Format('Hello, {}! You have {} items', $.name, $.n)",
                input.clone()
            )
            .unwrap(),
            json!("Hello, Ann! You have 3 items")
        );
        assert_eq!(
            eval(
                r"States.Format('It\'s \{literal\} {}', $.name)",
                input.clone()
            )
            .unwrap(),
            json!("It's {literal} Ann")
        );
        assert_eq!(
            eval("States.Format('{}')", input).unwrap_err().error,
            "States.IntrinsicFailure"
        );
    }

    #[test]
    fn json_round_trip_and_nested_calls() {
        let input = json!({"s": "{\"a\":[1,2]}", "o": {"k": true}});
        assert_eq!(
            eval("States.StringToJson($.s)", input.clone()).unwrap(),
            json!({"a": [1, 2]})
        );
        assert_eq!(
            eval("States.JsonToString($.o)", input.clone()).unwrap(),
            json!("{\"k\":true}")
        );
        assert_eq!(
            eval(
                "States.ArrayLength(States.Array(1, 'two', $.o, null))",
                input
            )
            .unwrap(),
            json!(4)
        );
    }

    #[test]
    fn merge_add_split_uuid() {
        let input = json!({"a": {"x": 1, "y": {"p": 1}}, "b": {"y": {"q": 2}}, "v": 111});
        assert_eq!(
            eval("States.JsonMerge($.a, $.b, false)", input.clone()).unwrap(),
            json!({"x": 1, "y": {"q": 2}})
        );
        assert!(eval("States.JsonMerge($.a, $.b, true)", input.clone()).is_err());
        assert_eq!(
            eval("States.MathAdd($.v, -1)", input.clone()).unwrap(),
            json!(110)
        );
        assert_eq!(
            eval("States.MathAdd(1.5, 1)", input.clone()).unwrap(),
            json!(2.5)
        );
        assert_eq!(
            eval(
                "States.StringSplit('This.is+a,test=string', '.+,=')",
                input.clone()
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        let id = eval("States.UUID()", input).unwrap();
        assert_eq!(id.as_str().map(str::len), Some(36));
    }

    #[test]
    fn array_helpers() {
        let input = json!({"l": [1, 2, 2, 3, 4]});
        assert_eq!(
            eval("States.ArrayPartition($.l, 2)", input.clone()).unwrap(),
            json!([[1, 2], [2, 3], [4]])
        );
        assert_eq!(
            eval("States.ArrayContains($.l, 3)", input.clone()).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("States.ArrayRange(1, 9, 4)", input.clone()).unwrap(),
            json!([1, 5, 9])
        );
        assert_eq!(
            eval("States.ArrayGetItem($.l, 4)", input.clone()).unwrap(),
            json!(4)
        );
        assert_eq!(
            eval("States.ArrayUnique($.l)", input).unwrap(),
            json!([1, 2, 3, 4])
        );
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "States.Nope(1)",
            "States.Format(",
            "States.UUID(1)",
            "States.Format('a') extra",
            "States.Array(foo)",
        ] {
            assert!(Intrinsic::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn missing_path_argument_is_runtime_error() {
        let err = eval("States.Format('{}', $.missing)", json!({})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("$.missing"));
    }
}
