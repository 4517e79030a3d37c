//! Choice rules: parsing (with validation) and evaluation.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::error::{AslError, StatesError};
use crate::parse::fields::Fields;
use crate::path::{Context, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Value(Value),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare(Kind, Cmp, Operand),
    Matches(String),
    Type(TypeTest, bool),
}

/// A (possibly nested) choice rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, test: Test },
}

/// A top-level choice rule with its `Next` state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub rule: Rule,
    pub next: String,
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn operator_allowed(name: &str) -> bool {
    OPERATORS.contains(&name)
        || name
            .strip_suffix("Path")
            .is_some_and(|base| OPERATORS[..17].contains(&base) && base != "StringMatches")
}

fn comparison(name: &str) -> Option<(Kind, Cmp)> {
    let (kind, rest) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .iter()
    .find_map(|(p, k)| name.strip_prefix(p).map(|rest| (*k, rest)))?;
    let cmp = match rest {
        "Equals" => Cmp::Eq,
        "LessThan" => Cmp::Lt,
        "GreaterThan" => Cmp::Gt,
        "LessThanEquals" => Cmp::Le,
        "GreaterThanEquals" => Cmp::Ge,
        _ => return None,
    };
    Some((kind, cmp))
}

fn type_test(name: &str) -> Option<TypeTest> {
    Some(match name {
        "IsNull" => TypeTest::Null,
        "IsPresent" => TypeTest::Present,
        "IsNumeric" => TypeTest::Numeric,
        "IsString" => TypeTest::String,
        "IsBoolean" => TypeTest::Boolean,
        "IsTimestamp" => TypeTest::Timestamp,
        _ => return None,
    })
}

pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

impl Choice {
    /// Parses one entry of `Choices` (`prefix` is e.g. `Choices[0].`).
    pub fn parse(value: &Value, state: Option<&str>, prefix: &str) -> Result<Choice, AslError> {
        let rule = Rule::parse(value, state, prefix, true)?;
        // All keys were validated by `Rule::parse`; only `Next` is read here.
        let keys: Vec<&str> = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let fields = Fields::new(value, state, prefix, &keys)?;
        let next = fields.required_str("Next")?.to_owned();
        Ok(Choice { rule, next })
    }
}

fn allowed_keys(top: bool) -> Vec<&'static str> {
    let mut keys = vec!["Variable", "Comment", "And", "Or", "Not"];
    if top {
        keys.push("Next");
    }
    keys
}

impl Rule {
    fn parse(
        value: &Value,
        state: Option<&str>,
        prefix: &str,
        top: bool,
    ) -> Result<Rule, AslError> {
        let obj = value.as_object();
        // Operators are checked separately so that `...Path` variants need not be listed.
        let ops: Vec<&String> = obj
            .map(|o| o.keys().filter(|k| operator_allowed(k)).collect())
            .unwrap_or_default();
        let mut allowed = allowed_keys(top);
        allowed.extend(ops.iter().map(|k| k.as_str()));
        let fields = Fields::new(value, state, prefix, &allowed)?;

        let combinators: Vec<&str> = ["And", "Or", "Not"]
            .into_iter()
            .filter(|k| fields.has(k))
            .collect();
        let count = ops.len() + combinators.len();
        if count != 1 {
            return Err(fields.invalid(
                "",
                "a choice rule needs exactly one comparison operator or one of And/Or/Not",
            ));
        }
        if let Some(&combinator) = combinators.first() {
            if fields.has("Variable") {
                return Err(fields.invalid("Variable", "is not allowed with And/Or/Not"));
            }
            let sub = fields.required(combinator)?;
            if combinator == "Not" {
                let inner = Rule::parse(sub, state, &fields.name("Not."), false)?;
                return Ok(Rule::Not(Box::new(inner)));
            }
            let items = sub
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| fields.invalid(combinator, "must be a non-empty array"))?;
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    Rule::parse(
                        r,
                        state,
                        &fields.name(&format!("{combinator}[{i}].")),
                        false,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if combinator == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            });
        }

        let op = ops[0].as_str();
        let variable = Path::parse(fields.required_str("Variable")?)
            .map_err(|e| fields.invalid("Variable", e))?;
        let operand = fields.required(op)?;
        let test = if let Some(t) = type_test(op) {
            let b = operand
                .as_bool()
                .ok_or_else(|| fields.invalid(op, "must be a boolean"))?;
            Test::Type(t, b)
        } else if op == "StringMatches" {
            let pattern = operand
                .as_str()
                .ok_or_else(|| fields.invalid(op, "must be a string"))?;
            Test::Matches(pattern.to_owned())
        } else if let Some(base) = op.strip_suffix("Path") {
            let (kind, cmp) = comparison(base).ok_or_else(|| fields.unsupported(op))?;
            let text = operand
                .as_str()
                .ok_or_else(|| fields.invalid(op, "must be a path string"))?;
            let path = Path::parse(text).map_err(|e| fields.invalid(op, e))?;
            Test::Compare(kind, cmp, Operand::Path(path))
        } else {
            let (kind, cmp) = comparison(op).ok_or_else(|| fields.unsupported(op))?;
            let ok = match kind {
                Kind::String => operand.is_string(),
                Kind::Numeric => operand.is_number(),
                Kind::Boolean => operand.is_boolean() && cmp == Cmp::Eq,
                Kind::Timestamp => operand.as_str().and_then(parse_timestamp).is_some(),
            };
            if !ok {
                return Err(fields.invalid(op, format!("invalid operand {operand}")));
            }
            Test::Compare(kind, cmp, Operand::Value(operand.clone()))
        };
        Ok(Rule::Test { variable, test })
    }

    /// Evaluates the rule. A variable that does not exist is a `States.Runtime` error
    /// (except for `IsPresent`).
    pub fn eval(&self, input: &Value, ctx: &Context) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, ctx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, ctx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(input, ctx)?),
            Rule::Test { variable, test } => {
                let value = variable.select(input, ctx);
                if let Test::Type(TypeTest::Present, expected) = test {
                    return Ok(value.is_some() == *expected);
                }
                let value = value.ok_or_else(|| {
                    StatesError::runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ))
                })?;
                match test {
                    Test::Type(t, expected) => Ok(type_matches(*t, &value) == *expected),
                    Test::Matches(pattern) => {
                        Ok(value.as_str().is_some_and(|s| string_matches(s, pattern)))
                    }
                    Test::Compare(kind, cmp, operand) => {
                        let other = match operand {
                            Operand::Value(v) => v.clone(),
                            Operand::Path(p) => p.select(input, ctx).ok_or_else(|| {
                                StatesError::runtime(format!(
                                    "Invalid path '{p}': The choice state's condition path references an invalid value."
                                ))
                            })?,
                        };
                        Ok(compare(*kind, *cmp, &value, &other))
                    }
                }
            }
        }
    }
}

fn type_matches(t: TypeTest, v: &Value) -> bool {
    match t {
        TypeTest::Null => v.is_null(),
        TypeTest::Present => true,
        TypeTest::Numeric => v.is_number(),
        TypeTest::String => v.is_string(),
        TypeTest::Boolean => v.is_boolean(),
        TypeTest::Timestamp => v.as_str().and_then(parse_timestamp).is_some(),
    }
}

fn compare(kind: Kind, cmp: Cmp, a: &Value, b: &Value) -> bool {
    let ordering = match kind {
        Kind::String => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.partial_cmp(y),
            _ => None,
        },
        Kind::Numeric => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if a.is_number() && b.is_number() => x.partial_cmp(&y),
            _ => None,
        },
        Kind::Boolean => match (a.as_bool(), b.as_bool()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        Kind::Timestamp => match (
            a.as_str().and_then(parse_timestamp),
            b.as_str().and_then(parse_timestamp),
        ) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    let Some(o) = ordering else {
        return false;
    };
    match cmp {
        Cmp::Eq => o.is_eq(),
        Cmp::Lt => o.is_lt(),
        Cmp::Gt => o.is_gt(),
        Cmp::Le => o.is_le(),
        Cmp::Ge => o.is_ge(),
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub(crate) fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Char(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = s.chars().collect();
    // Classic greedy wildcard matching with backtracking to the last star.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|tok| *tok == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::test_context;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        Rule::parse(&v, Some("C"), "", false).unwrap()
    }

    fn check(v: Value, input: Value) -> bool {
        rule(v).eval(&input, &test_context()).unwrap()
    }

    #[test]
    fn string_operators() {
        let input = json!({"s": "banana", "t": "cherry"});
        assert!(check(
            json!({"Variable": "$.s", "StringEquals": "banana"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringLessThan": "cherry"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.s", "StringGreaterThan": "cherry"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringLessThanEquals": "banana"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "StringGreaterThanEquals": "cherry"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringLessThanPath": "$.t"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.s", "StringEqualsPath": "$.t"}),
            input.clone()
        ));
        // Type mismatch is simply false.
        assert!(!check(
            json!({"Variable": "$.s", "NumericEquals": 1}),
            input
        ));
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("anything", "*"));
        assert!(string_matches("a*b", r"a\*b"));
        assert!(!string_matches("axb", r"a\*b"));
        assert!(string_matches("a\\b", r"a\\b"));
        assert!(!string_matches("log.txt.bak", "*.txt"));
        assert!(string_matches("abcbc", "a*bc"));
        assert!(check(
            json!({"Variable": "$.f", "StringMatches": "*.csv"}),
            json!({"f": "data.csv"})
        ));
    }

    #[test]
    fn numeric_and_boolean_operators() {
        let input = json!({"n": 5, "m": 5.0, "f": 2.5, "b": true, "c": true});
        assert!(check(
            json!({"Variable": "$.n", "NumericEquals": 5}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.f", "NumericLessThan": 3}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericGreaterThan": 2.5}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.f"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.b", "BooleanEquals": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.b", "BooleanEqualsPath": "$.c"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.b", "NumericEquals": 1}),
            input
        ));
    }

    #[test]
    fn timestamp_operators() {
        let input = json!({"t": "2016-03-14T01:59:00Z", "u": "2016-03-14T02:59:00+01:00"});
        assert!(check(
            json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampEqualsPath": "$.u"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T01:59:00Z"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampLessThanEquals": "2017-01-01T00:00:00Z"}),
            input
        ));
        let bad = json!({"Variable": "$.t", "TimestampEquals": "yesterday"});
        assert!(Rule::parse(&bad, Some("C"), "", false).is_err());
    }

    #[test]
    fn type_tests() {
        let input = json!({"n": null, "x": 1, "s": "a", "b": false, "t": "2020-01-01T00:00:00Z"});
        assert!(check(
            json!({"Variable": "$.n", "IsNull": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsNull": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsPresent": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.zzz", "IsPresent": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsNumeric": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsString": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.b", "IsBoolean": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "IsTimestamp": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsTimestamp": false}),
            input
        ));
    }

    /// The boolean combination example of the specification.
    #[test]
    fn spec_and_or_not() {
        let r = json!({
            "And": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}
            ]
        });
        assert!(check(r.clone(), json!({"type": "Public", "value": 25})));
        assert!(!check(r.clone(), json!({"type": "Private", "value": 25})));
        assert!(!check(r, json!({"type": "Public", "value": 30})));
        let or = json!({"Or": [
            {"Variable": "$.a", "IsPresent": true},
            {"Variable": "$.b", "BooleanEquals": true}
        ]});
        assert!(check(or.clone(), json!({"b": true})));
        assert!(!check(or, json!({"b": false})));
    }

    #[test]
    fn missing_variable_is_runtime_error() {
        let err = rule(json!({"Variable": "$.nope", "StringEquals": "x"}))
            .eval(&json!({}), &test_context())
            .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("$.nope"));
    }

    #[test]
    fn invalid_rules_are_refused() {
        let bad = [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}),
            json!({"Variable": "$.a", "StringEquals": 1}),
            json!({"Variable": "$.a", "StringMatchesPath": "$.b"}),
            json!({"Variable": "$.a", "Foo": 1}),
            json!({"And": []}),
            json!({"Variable": "$.a", "Not": {"Variable": "$.a", "IsNull": true}}),
            json!({"Variable": "$.a", "IsNull": true, "Next": "X"}),
        ];
        for b in bad {
            assert!(
                Rule::parse(&b, Some("C"), "", false).is_err(),
                "{b} should be refused"
            );
        }
        let c = Choice::parse(
            &json!({"Variable": "$.a", "IsNull": true}),
            Some("C"),
            "Choices[0].",
        );
        assert!(c.unwrap_err().to_string().contains("Choices[0].Next"));
    }
}
