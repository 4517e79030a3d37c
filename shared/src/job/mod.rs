//! The job document (DESIGN §4): the execution input of the state machine.
//!
//! [`JobDocument`] is the wire form (DESIGN §4): unknown fields are rejected with their names
//! (serde's `deny_unknown_fields`). [`JobDocument::validate`] turns it, once, into the typed
//! [`JobSpec`] (what the mode works on) and [`JobOptions`] (how rows are changed and published),
//! naming every missing or wrong field before anything is written.

mod result;
mod spec;
mod status;

use serde::{Deserialize, Serialize};

use crate::error::Error;
pub use crate::js_numbers::UnsafeNumbers;
pub use result::{ContractOutput, JobResult, Verification};
pub use spec::{JobOptions, JobSpec, TenantScope};
pub use status::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Import,
    CopyTenant,
    NormalizeTenant,
    Transform,
    Reconcile,
    Rollback,
    NormalizeUsers,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Import => "import",
            Mode::CopyTenant => "copy-tenant",
            Mode::NormalizeTenant => "normalize-tenant",
            Mode::Transform => "transform",
            Mode::Reconcile => "reconcile",
            Mode::Rollback => "rollback",
            Mode::NormalizeUsers => "normalize-users",
        }
    }

    /// Modes whose rows come from a table (the Export state runs for them).
    pub fn has_source_table(self) -> bool {
        !matches!(self, Mode::Import | Mode::NormalizeUsers)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributesMode {
    /// Changed attributes are merged into the existing ones (MBC's `map` behaviour).
    #[default]
    Merge,
    /// The row's attributes replace the existing ones.
    Replace,
}

/// How a changed row reaches the app's tables (DESIGN §3 "Publish modes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// One transaction: command row (`syncMode: "SYNC"`) and data row; history from the data
    /// table's stream. The app's data-sync handlers do not run.
    #[default]
    Direct,
    /// Only the command row, as the framework's `publishAsync` writes it; the app's own command
    /// saga writes data and history and runs its data-sync handlers. Verify waits for it.
    App,
}

impl PublishMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishMode::Direct => "direct",
            PublishMode::App => "app",
        }
    }
}

/// The first framework version whose command stream ignores `syncMode: "SYNC"` rows
/// (`DefaultEventFactory.transformDynamodbStream`, and the CDK filter `syncMode notExists`).
pub const SYNC_MODE_FRAMEWORK_VERSION: semver::Version = semver::Version::new(1, 1, 4);

/// Parses a framework version as npm writes it (`1.2.5`, `0.1.48-beta.0`, a leading `v`).
pub fn parse_framework_version(text: &str) -> Result<semver::Version, Error> {
    semver::Version::parse(text.trim().trim_start_matches('v')).map_err(|e| {
        Error::invalid(format!(
            "job document: appFrameworkVersion {text:?} is not a version like 1.2.5: {e}"
        ))
    })
}

/// Prepare's rule: `direct` needs an app whose command stream ignores our `SYNC` command rows.
pub fn check_publish_mode(mode: PublishMode, framework: Option<&str>) -> Result<(), Error> {
    let (PublishMode::Direct, Some(text)) = (mode, framework) else {
        return Ok(());
    };
    let version = parse_framework_version(text)?;
    // A pre-release of 1.1.4 (1.1.4-beta.0) predates the check too.
    if version < SYNC_MODE_FRAMEWORK_VERSION {
        return Err(Error::invalid(format!(
            "job document: publishMode \"direct\" needs @mbc-cqrs-serverless/core 1.1.4 or later, but appFrameworkVersion is {text}: \
             older apps start one command saga per migrated row, which fails check_version and raises an alarm. \
             Either use \"publishMode\": \"app\" (the app's own saga writes data and history and runs its data-sync handlers), \
             or add the filter `syncMode notExists` (CDK: FilterCriteria on the command table's event source mapping) to the app's \
             command stream and declare the version that has it"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    pub key: String,
}

/// A schema-evolution operation on `attributes` (applied in order by the Transform state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Operation {
    /// Moves attribute `from` to `to` (no-op when `from` is absent).
    Rename { from: String, to: String },
    /// Sets `field` to `value` when it is absent.
    Default {
        field: String,
        value: serde_json::Value,
    },
    /// Removes `field`.
    Remove { field: String },
    /// Splits the string `from` by `separator` into the attributes named in `into`.
    Split {
        from: String,
        into: Vec<String>,
        #[serde(default = "default_separator")]
        separator: String,
        #[serde(default, rename = "keepSource")]
        keep_source: bool,
    },
    /// Lowercases the string `field`.
    Lowercase { field: String },
}

fn default_separator() -> String {
    " ".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub field: String,
    #[serde(rename = "entityType")]
    pub entity_type: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Validation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_schema: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifySpec {
    #[serde(default)]
    pub compare_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceObject>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_delete_source: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes_mode: Option<AttributesMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    /// What a number JavaScript cannot read exactly does (DESIGN §3); default `reject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsafe_numbers: Option<UnsafeNumbers>,
    /// `direct` (default) or `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_mode: Option<PublishMode>,
    /// The app's `@mbc-cqrs-serverless/core` version; default: the stack's `AppFrameworkVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_framework_version: Option<String>,
    /// Mode rollback of entities: the data-table keys to restore …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<crate::keys::Key>,
    /// … to this version of each (from history), published as a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u64>,
    /// Mode normalize-tenant: the app's RDS read-model tables with a `tenant_code` column; the
    /// report holds the SQL that lowercases them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rds_tables: Vec<String>,
    /// Mode normalize-users: the Cognito user pool (`us-east-1_AbC123`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pool_id: Option<String>,
    /// A write budget across all chunks running at once, in DynamoDB write units per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_write_units_per_second: Option<f64>,
}

/// Checks a job id: `[A-Za-z0-9_-]`, 1 to 80 characters (it becomes part of S3 keys and
/// execution names).
pub fn check_job_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 80
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(format!(
            "jobId {id:?} must be 1 to 80 characters of A-Z, a-z, 0-9, '_' and '-'"
        )));
    }
    Ok(())
}

fn not_an_object(value: &serde_json::Value) -> Error {
    let what = match value {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    };
    Error::invalid(format!(
        "job document: must be a JSON object (one job), not {what}"
    ))
}

fn named<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    if path == "." || path.is_empty() {
        Error::invalid(format!("job document: {}", e.inner()))
    } else {
        Error::invalid(format!("job document: {path}: {}", e.inner()))
    }
}

impl JobDocument {
    /// Parses a job document; an unknown field, or a field of the wrong type, is named.
    pub fn parse(value: serde_json::Value) -> Result<JobDocument, Error> {
        if !value.is_object() {
            return Err(not_an_object(&value));
        }
        serde_path_to_error::deserialize(value).map_err(named)
    }

    /// Parses a job document's JSON text, where a field given twice is still visible (a parsed
    /// JSON value keeps only one of them, silently): the entry points that read text (`migrate
    /// start`, an uploaded `.job.json`) use this.
    pub fn parse_text(text: &str) -> Result<(serde_json::Value, JobDocument), Error> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("job document: not JSON: {e}")))?;
        if !value.is_object() {
            return Err(not_an_object(&value));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let doc = serde_path_to_error::deserialize(de).map_err(named)?;
        Ok((value, doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named() {
        let err =
            JobDocument::parse(json!({"mode": "import", "source": {"key": "k"}, "colour": 1}))
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        let err =
            JobDocument::parse(json!({"mode": "import", "source": {"key": "k", "region": "x"}}))
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `region`"), "{err}");
        let err = JobDocument::parse(json!({"mode": "merge"})).unwrap_err();
        assert!(err.to_string().contains("unknown variant `merge`"), "{err}");
    }

    #[test]
    fn arrays_duplicates_and_wrong_types_are_named() {
        let err = JobDocument::parse(json!([{"mode": "import"}])).unwrap_err();
        assert!(
            err.to_string()
                .contains("must be a JSON object (one job), not an array"),
            "{err}"
        );
        let err = JobDocument::parse(
            json!({"mode": "import", "source": {"key": "k"}, "toleratedFailurePercentage": "abc"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("toleratedFailurePercentage: invalid type: string \"abc\""),
            "{err}"
        );
        let err = JobDocument::parse_text(
            r#"{"mode": "import", "source": {"key": "a"}, "source": {"key": "b"}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("duplicate field `source`"),
            "{err}"
        );
        let err =
            JobDocument::parse_text(r#"{"mode": "import", "source": {"key": "a", "key": "b"}}"#)
                .unwrap_err();
        assert!(
            err.to_string().contains("source: duplicate field `key`"),
            "{err}"
        );
        let (value, doc) =
            JobDocument::parse_text(r#"{"mode": "import", "source": {"key": "a"}}"#).unwrap();
        assert_eq!(doc.mode, Mode::Import);
        assert_eq!(value["source"]["key"], "a");
    }

    #[test]
    fn required_fields_per_mode() {
        let doc =
            JobDocument::parse(json!({"mode": "copy-tenant", "entityType": "PRODUCT"})).unwrap();
        let err = doc.validate().unwrap_err().to_string();
        assert!(err.contains("requires sourceTenant, targetTenant"), "{err}");
        let doc = JobDocument::parse(json!({"mode": "rollback"})).unwrap();
        assert!(
            doc.validate()
                .unwrap_err()
                .to_string()
                .contains("rollbackOf")
        );
        let doc = JobDocument::parse(
            json!({"mode": "import", "source": {"key": "incoming/a.csv"}, "jobId": "bad id"}),
        )
        .unwrap();
        assert!(doc.validate().unwrap_err().to_string().contains("jobId"));
        let doc = JobDocument::parse(json!({
            "mode": "transform", "entityType": "PRODUCT", "sourceTenant": "t",
            "operations": [{"op": "rename", "from": "a", "to": "b"}, {"op": "split", "from": "n", "into": ["f", "l"]}]
        }))
        .unwrap();
        let (spec, options) = doc.validate().unwrap();
        assert!(options.writes);
        assert_eq!(spec.mode(), Mode::Transform);
        assert_eq!(options.attributes_mode, AttributesMode::Replace);
    }

    #[test]
    fn direct_publish_is_refused_below_1_1_4_naming_both_ways_out() {
        for old in ["1.1.3", "0.1.48-beta.0", "1.1.4-beta.0", "v1.0.9"] {
            let err = check_publish_mode(PublishMode::Direct, Some(old))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("\"app\"") && err.contains("syncMode notExists"),
                "{err}"
            );
            check_publish_mode(PublishMode::App, Some(old)).unwrap();
        }
        for new in ["1.1.4", "1.2.5", "2.0.0"] {
            check_publish_mode(PublishMode::Direct, Some(new)).unwrap();
        }
        check_publish_mode(PublishMode::Direct, None).unwrap();
        let doc = JobDocument::parse(
            json!({"mode": "import", "source": {"key": "k"}, "appFrameworkVersion": "one"}),
        )
        .unwrap();
        assert!(
            doc.validate()
                .unwrap_err()
                .to_string()
                .contains("appFrameworkVersion")
        );
        let doc = JobDocument::parse(json!({"mode": "import", "source": {"key": "k"}, "unsafeNumbers": "string", "publishMode": "app"})).unwrap();
        let options = doc.options().unwrap();
        assert_eq!(options.unsafe_numbers, UnsafeNumbers::String);
        assert_eq!(options.publish_mode, PublishMode::App);
        assert!(
            JobDocument::parse(
                json!({"mode": "import", "source": {"key": "k"}, "unsafeNumbers": "round"})
            )
            .is_err()
        );
    }

    #[test]
    fn reconcile_writes_only_with_repair() {
        let doc = JobDocument::parse(json!({"mode": "reconcile", "entityType": "P", "sourceTenant": "a", "targetTenant": "b"})).unwrap();
        assert!(!doc.options().unwrap().writes);
        let doc = JobDocument {
            repair: Some(true),
            ..doc
        };
        assert!(doc.options().unwrap().writes);
        assert!(matches!(
            doc.spec().unwrap(),
            JobSpec::Reconcile { repair: true, .. }
        ));
    }

    #[test]
    fn each_mode_gets_exactly_its_fields() {
        let doc = JobDocument::parse(
            json!({"mode": "normalize-tenant", "entityType": "P", "sourceTenant": "MY_T"}),
        )
        .unwrap();
        let JobSpec::NormalizeTenant {
            from,
            target_tenant,
            ..
        } = doc.spec().unwrap()
        else {
            panic!("normalize-tenant")
        };
        assert_eq!(
            (from.pk().as_str(), target_tenant.as_str()),
            ("P#MY_T", "my_t")
        );
        assert!(doc.spec().unwrap().moves_entities());
        let doc = JobDocument::parse(json!({"mode": "copy-tenant", "entityType": "P", "sourceTenant": "a", "targetTenant": "b", "softDeleteSource": true})).unwrap();
        assert!(doc.spec().unwrap().moves_entities());
        let doc = JobDocument {
            soft_delete_source: None,
            ..doc
        };
        assert!(!doc.spec().unwrap().moves_entities());
        let doc = JobDocument::parse(json!({"mode": "rollback", "rollbackOf": "j1"})).unwrap();
        assert_eq!(doc.spec().unwrap().rollback_of(), Some("j1"));
        let doc =
            JobDocument::parse(json!({"mode": "rollback", "rollbackOf": "not an id"})).unwrap();
        assert!(doc.spec().unwrap_err().to_string().contains("jobId"));
    }
}
