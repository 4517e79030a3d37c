//! Lowercasing tenant codes in a Cognito user pool (the migration guide's Cognito step): a user's
//! `custom:tenant`, and the `tenant` of each role in its `custom:roles` JSON
//! (`[{"tenant": "MY_TENANT", "role": "admin"}, …]`). A user whose roles are not such JSON is
//! reported with the reason, never skipped silently and never half-updated.

use serde::{Deserialize, Serialize};

use crate::job::JobResult;
use crate::ports::users::User;
use crate::process::Counts;

pub const TENANT_ATTRIBUTE: &str = "custom:tenant";
pub const ROLES_ATTRIBUTE: &str = "custom:roles";

/// What one user needs: the attributes to set (none: already lowercase).
pub type Updates = Vec<(String, String)>;

/// The attributes that lowercase `user`'s tenant codes, or why they cannot be computed.
pub fn lowercase_tenants(user: &User) -> Result<Updates, String> {
    let mut updates = Vec::new();
    if let Some(tenant) = user.attributes.get(TENANT_ATTRIBUTE) {
        let lower = tenant.to_lowercase();
        if lower != *tenant {
            updates.push((TENANT_ATTRIBUTE.to_string(), lower));
        }
    }
    if let Some(text) = user.attributes.get(ROLES_ATTRIBUTE) {
        let mut roles: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("{ROLES_ATTRIBUTE} is not JSON: {e}"))?;
        let list = roles
            .as_array_mut()
            .ok_or_else(|| format!("{ROLES_ATTRIBUTE} is not a JSON array of roles"))?;
        let mut changed = false;
        for (i, role) in list.iter_mut().enumerate() {
            let Some(object) = role.as_object_mut() else {
                return Err(format!("{ROLES_ATTRIBUTE}[{i}] is not an object"));
            };
            match object.get_mut("tenant") {
                None => {}
                Some(serde_json::Value::String(tenant)) => {
                    let lower = tenant.to_lowercase();
                    if lower != *tenant {
                        *tenant = lower;
                        changed = true;
                    }
                }
                Some(_) => return Err(format!("{ROLES_ATTRIBUTE}[{i}].tenant is not a string")),
            }
        }
        if changed {
            // The same roles with their tenants lowercased (re-encoded: keys in sorted order).
            updates.push((ROLES_ATTRIBUTE.to_string(), roles.to_string()));
        }
    }
    Ok(updates)
}

/// The two passes of a normalize-users job (see `handlers::normalize_users`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pass {
    #[default]
    Check,
    Write,
}

/// Where the loop is (`$.users`): the pass, the page token, the counts so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersProgress {
    pub pass: Pass,
    #[serde(default)]
    pub token: Option<String>,
    /// The check pass's counts (what the write pass will do).
    #[serde(default)]
    pub checked: Counts,
    /// The write pass's counts (what was done).
    #[serde(default)]
    pub written: Counts,
    #[serde(default)]
    pub samples: Vec<String>,
    pub done: bool,
    /// The job's result, once `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(attrs: &[(&str, &str)]) -> User {
        User {
            username: "u".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn tenant_and_roles_are_lowercased_once() {
        let u = user(&[
            (TENANT_ATTRIBUTE, "MY_T"),
            (
                ROLES_ATTRIBUTE,
                r#"[{"tenant":"MY_T","role":"admin"},{"tenant":"other","role":"user"}]"#,
            ),
            ("email", "A@EXAMPLE.COM"),
        ]);
        let updates = lowercase_tenants(&u).unwrap();
        assert_eq!(updates[0], (TENANT_ATTRIBUTE.into(), "my_t".into()));
        assert_eq!(
            updates[1],
            (
                ROLES_ATTRIBUTE.into(),
                r#"[{"role":"admin","tenant":"my_t"},{"role":"user","tenant":"other"}]"#.into()
            )
        );
        assert_eq!(updates.len(), 2, "email is not a tenant code");
        let done = user(&[
            (TENANT_ATTRIBUTE, "my_t"),
            (ROLES_ATTRIBUTE, r#"[{"tenant":"my_t"}]"#),
        ]);
        assert!(lowercase_tenants(&done).unwrap().is_empty());
        for broken in [
            "{not json",
            r#"{"tenant":"X"}"#,
            r#"["X"]"#,
            r#"[{"tenant":1}]"#,
        ] {
            let err = lowercase_tenants(&user(&[(ROLES_ATTRIBUTE, broken)])).unwrap_err();
            assert!(err.contains(ROLES_ATTRIBUTE), "{broken}: {err}");
        }
    }
}
