//! `${Name}` substitution in the raw definition text (like SAM `DefinitionSubstitutions`).

use std::collections::HashMap;

use crate::error::AslError;

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Replaces every `${Name}`; an undefined name is an error naming it.
/// Text such as `${ not a name }` is left untouched.
pub(crate) fn substitute(raw: &str, subs: &HashMap<String, String>) -> Result<String, AslError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}').map(|end| (&after[..end], end)) {
            Some((name, end)) if is_name(name) => {
                let value = subs
                    .get(name)
                    .ok_or_else(|| AslError::UndefinedSubstitution(name.to_owned()))?;
                out.push_str(value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_refuses_undefined() {
        let subs = HashMap::from([("Fn".to_string(), "arn:fn".to_string())]);
        assert_eq!(
            substitute("a ${Fn} b ${Fn}", &subs).unwrap(),
            "a arn:fn b arn:fn"
        );
        assert_eq!(substitute("${ x } ${", &subs).unwrap(), "${ x } ${");
        assert_eq!(
            substitute("${Missing}", &subs).unwrap_err(),
            AslError::UndefinedSubstitution("Missing".into())
        );
        assert!(
            substitute("${Missing}", &subs)
                .unwrap_err()
                .to_string()
                .contains("${Missing}")
        );
    }
}
