//! The job as the pipeline works with it: [`JobSpec`] (what the mode works on, each variant with
//! exactly the fields that mode needs) and [`JobOptions`] (how rows are changed, checked and
//! published), both parsed once from the contract's [`JobDocument`].
//!
//! The JSON contract (DESIGN §4) is the flat document; handlers never look at its `Option`s.

use super::{
    AttributesMode, JobDocument, Mode, Operation, PublishMode, SourceObject, UnsafeNumbers,
    Validation, check_job_id, parse_framework_version,
};
use crate::error::Error;

/// One partition of the data table: the entities of one type in one tenant (`pk = TYPE#tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    pub entity_type: String,
    pub tenant: String,
}

impl TenantScope {
    pub fn pk(&self) -> String {
        crate::keys::pk(&self.entity_type, &self.tenant).into_string()
    }
}

/// What a job works on, by mode.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// A migration CSV already on S3.
    Import { source: SourceObject },
    /// The live entities of `from` copied to `target_tenant` (source untouched unless
    /// `soft_delete_source`: then each source entity is soft-deleted with `_migratedTo`).
    CopyTenant {
        from: TenantScope,
        target_tenant: String,
        soft_delete_source: bool,
    },
    /// The live entities of `from` moved to `target_tenant` (default: the lowercased tenant code),
    /// the old rows soft-deleted with `_migratedTo`.
    NormalizeTenant {
        from: TenantScope,
        target_tenant: String,
        /// RDS tables whose `tenant_code` the report's SQL lowercases.
        rds_tables: Vec<String>,
    },
    /// Every live entity of the data table (of `entity_type`, if given) whose tenant code has
    /// uppercase letters, found by a parallel scan, moved to its lowercased tenant.
    NormalizeTable {
        entity_type: Option<String>,
        rds_tables: Vec<String>,
    },
    /// Schema evolution in place (the operations and schema version are in [`JobOptions`]).
    Transform { scope: TenantScope },
    /// Compare `from` with `target_tenant`; writes only with `repair`.
    Reconcile {
        from: TenantScope,
        target_tenant: String,
        repair: bool,
    },
    /// Undo job `of_job`.
    Rollback { of_job: String },
    /// Lowercase the tenant codes of every user of a Cognito user pool.
    NormalizeUsers { user_pool_id: String },
    /// Restore each of `keys` to its version `to_version` (from history) as a new version,
    /// like the guide's `rollbackToVersion`; a key whose version moves meanwhile is a conflict.
    RollbackEntities {
        keys: Vec<crate::keys::Key>,
        to_version: u64,
    },
}

/// At most this many keys in one entity rollback (the job document travels in every state's
/// payload, which Step Functions caps at 256 KB).
pub const MAX_ROLLBACK_KEYS: usize = 1000;

impl JobSpec {
    pub fn mode(&self) -> Mode {
        match self {
            JobSpec::Import { .. } => Mode::Import,
            JobSpec::CopyTenant { .. } => Mode::CopyTenant,
            JobSpec::NormalizeTenant { .. } | JobSpec::NormalizeTable { .. } => {
                Mode::NormalizeTenant
            }
            JobSpec::Transform { .. } => Mode::Transform,
            JobSpec::Reconcile { .. } => Mode::Reconcile,
            JobSpec::Rollback { .. } | JobSpec::RollbackEntities { .. } => Mode::Rollback,
            JobSpec::NormalizeUsers { .. } => Mode::NormalizeUsers,
        }
    }

    /// Rows that restore earlier content exactly: no operation, schema or reference check
    /// changes them.
    pub fn restores_rows(&self) -> bool {
        matches!(
            self,
            JobSpec::Rollback { .. } | JobSpec::RollbackEntities { .. }
        )
    }

    /// Whether each row moves an entity to a new key and soft-deletes the old one in the same
    /// transaction (normalize-tenant; copy-tenant with `softDeleteSource`).
    pub fn moves_entities(&self) -> bool {
        matches!(
            self,
            JobSpec::NormalizeTenant { .. }
                | JobSpec::NormalizeTable { .. }
                | JobSpec::CopyTenant {
                    soft_delete_source: true,
                    ..
                }
        )
    }

    /// Whether Export scans the whole data table in parallel segments (the `ExportSegments` Map).
    pub fn scans_table(&self) -> bool {
        matches!(self, JobSpec::NormalizeTable { .. })
    }

    /// The job being undone (mode rollback).
    pub fn rollback_of(&self) -> Option<&str> {
        match self {
            JobSpec::Rollback { of_job } => Some(of_job),
            _ => None,
        }
    }
}

/// How a job changes, checks and publishes its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOptions {
    pub operations: Vec<Operation>,
    pub schema_version: Option<u64>,
    pub validation: Validation,
    /// `verify.compareFields` (empty: code, name and the row's attributes).
    pub compare_fields: Vec<String>,
    /// How a changed row's attributes meet the existing ones (transform and rollback restore
    /// exact attribute sets: always `replace`).
    pub attributes_mode: AttributesMode,
    pub unsafe_numbers: UnsafeNumbers,
    pub publish_mode: PublishMode,
    /// The app's framework version, when known (the job's, else the stack's).
    pub app_framework_version: Option<String>,
    pub dry_run: bool,
    pub tolerated_failure_percentage: f64,
    /// False for a dry run and a reconcile without `repair`.
    pub writes: bool,
    /// The job's write budget across all chunks at once (`maxWriteUnitsPerSecond`).
    pub max_write_units_per_second: Option<f64>,
}

fn required<'a>(
    value: &'a Option<String>,
    name: &'static str,
    missing: &mut Vec<&'static str>,
) -> &'a str {
    match value {
        Some(v) => v,
        None => {
            missing.push(name);
            ""
        }
    }
}

/// A Cognito user pool id: `<region>_<id>`, letters, digits, `-` and one or more `_`.
fn check_user_pool_id(id: &str) -> Result<(), Error> {
    let ok = id.len() <= 55
        && id.contains('_')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "job document: userPoolId {id:?} is not a user pool id like us-east-1_AbC123"
        )))
    }
}

impl JobDocument {
    /// The mode's fields, checked: every missing one is named at once, before anything is written.
    pub fn spec(&self) -> Result<JobSpec, Error> {
        let mut missing = Vec::new();
        let scope = |missing: &mut Vec<&'static str>| TenantScope {
            entity_type: required(&self.entity_type, "entityType", missing).to_string(),
            tenant: required(&self.source_tenant, "sourceTenant", missing).to_string(),
        };
        let spec = match self.mode {
            Mode::Import => match &self.source {
                Some(source) => JobSpec::Import {
                    source: source.clone(),
                },
                None => {
                    missing.push("source");
                    JobSpec::Import {
                        source: SourceObject {
                            bucket: None,
                            key: String::new(),
                        },
                    }
                }
            },
            Mode::CopyTenant => JobSpec::CopyTenant {
                from: scope(&mut missing),
                target_tenant: required(&self.target_tenant, "targetTenant", &mut missing)
                    .to_string(),
                soft_delete_source: self.soft_delete_source.unwrap_or(false),
            },
            Mode::Reconcile => JobSpec::Reconcile {
                from: scope(&mut missing),
                target_tenant: required(&self.target_tenant, "targetTenant", &mut missing)
                    .to_string(),
                repair: self.repair.unwrap_or(false),
            },
            Mode::NormalizeTenant if self.source_tenant.is_none() => {
                if self.target_tenant.is_some() {
                    return Err(Error::invalid(
                        "job document: normalize-tenant without sourceTenant lowercases every tenant it finds; targetTenant needs a sourceTenant",
                    ));
                }
                JobSpec::NormalizeTable {
                    entity_type: self.entity_type.clone(),
                    rds_tables: self.rds_tables.clone(),
                }
            }
            Mode::NormalizeTenant => {
                let from = scope(&mut missing);
                JobSpec::NormalizeTenant {
                    target_tenant: self
                        .target_tenant
                        .clone()
                        .unwrap_or_else(|| from.tenant.to_lowercase()),
                    from,
                    rds_tables: self.rds_tables.clone(),
                }
            }
            Mode::Transform => {
                let scope = scope(&mut missing);
                if self.operations.is_empty() && self.schema_version.is_none() {
                    missing.push("operations");
                }
                JobSpec::Transform { scope }
            }
            Mode::NormalizeUsers => JobSpec::NormalizeUsers {
                user_pool_id: required(&self.user_pool_id, "userPoolId", &mut missing).to_string(),
            },
            Mode::Rollback => match (&self.rollback_of, self.keys.is_empty(), self.to_version) {
                (Some(of_job), true, None) => JobSpec::Rollback {
                    of_job: of_job.clone(),
                },
                (None, false, Some(to_version)) => JobSpec::RollbackEntities {
                    keys: self.keys.clone(),
                    to_version,
                },
                (Some(_), _, _) => {
                    return Err(Error::invalid(
                        "job document: mode rollback takes either rollbackOf (undo a job) or keys and toVersion (restore entities), not both",
                    ));
                }
                (None, true, None) => {
                    missing.push("rollbackOf (or keys and toVersion)");
                    JobSpec::Rollback {
                        of_job: String::new(),
                    }
                }
                (None, true, Some(_)) => {
                    missing.push("keys");
                    JobSpec::Rollback {
                        of_job: String::new(),
                    }
                }
                (None, false, None) => {
                    missing.push("toVersion");
                    JobSpec::Rollback {
                        of_job: String::new(),
                    }
                }
            },
        };
        if self.user_pool_id.is_some() && self.mode != Mode::NormalizeUsers {
            return Err(Error::invalid(
                "job document: userPoolId belongs to mode normalize-users",
            ));
        }
        if !self.rds_tables.is_empty() && self.mode != Mode::NormalizeTenant {
            return Err(Error::invalid(
                "job document: rdsTables belongs to mode normalize-tenant",
            ));
        }
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "job document: mode {} requires {}",
                self.mode.as_str(),
                missing.join(", ")
            )));
        }
        for (name, value) in [
            ("entityType", &self.entity_type),
            ("sourceTenant", &self.source_tenant),
            ("targetTenant", &self.target_tenant),
        ] {
            if let Some(v) = value
                && (v.is_empty() || v.contains('#') || v.trim() != v)
            {
                return Err(Error::invalid(format!(
                    "job document: {name} {v:?} must be non-empty, without '#' or surrounding spaces"
                )));
            }
        }
        match &spec {
            JobSpec::CopyTenant {
                from,
                target_tenant,
                ..
            } if from.tenant == *target_tenant => {
                return Err(Error::invalid(
                    "job document: copy-tenant needs a targetTenant different from sourceTenant",
                ));
            }
            JobSpec::Import { source } if source.key.is_empty() => {
                return Err(Error::invalid("job document: source.key is empty"));
            }
            JobSpec::Rollback { of_job } => check_job_id(of_job)?,
            JobSpec::NormalizeUsers { user_pool_id } => check_user_pool_id(user_pool_id)?,
            JobSpec::NormalizeTenant { rds_tables, .. }
            | JobSpec::NormalizeTable { rds_tables, .. } => {
                for table in rds_tables {
                    crate::rds_sql::check_table_name(table)?;
                }
            }
            JobSpec::RollbackEntities { keys, to_version } => {
                if *to_version == 0 {
                    return Err(Error::invalid(
                        "job document: toVersion must be 1 or more (versions start at 1)",
                    ));
                }
                if keys.len() > MAX_ROLLBACK_KEYS {
                    return Err(Error::invalid(format!(
                        "job document: keys has {} entries, at most {MAX_ROLLBACK_KEYS} per job",
                        keys.len()
                    )));
                }
                if let Some((i, _)) = keys
                    .iter()
                    .enumerate()
                    .find(|(_, k)| k.pk.is_empty() || k.sk.is_empty() || !k.pk.contains('#'))
                {
                    return Err(Error::invalid(format!(
                        "job document: keys[{i}] must name a data-table entity (pk TYPE#tenant, sk non-empty)"
                    )));
                }
            }
            _ => {}
        }
        Ok(spec)
    }

    /// The options every mode shares, with their defaults, checked.
    pub fn options(&self) -> Result<JobOptions, Error> {
        if let Some(p) = self.tolerated_failure_percentage
            && !(0.0..=100.0).contains(&p)
        {
            return Err(Error::invalid(format!(
                "job document: toleratedFailurePercentage {p} is not within 0..100"
            )));
        }
        if let Some(version) = &self.app_framework_version {
            parse_framework_version(version)?;
        }
        if let Some(budget) = self.max_write_units_per_second
            && !(budget.is_finite() && budget >= 1.0)
        {
            return Err(Error::invalid(format!(
                "job document: maxWriteUnitsPerSecond {budget} must be 1 or more"
            )));
        }
        let validation = self.validation.clone().unwrap_or_default();
        if let Some(schema) = &validation.attributes_schema {
            crate::operations::compile_schema(schema)?;
        }
        let dry_run = self.dry_run.unwrap_or(false);
        Ok(JobOptions {
            operations: self.operations.clone(),
            schema_version: self.schema_version,
            validation,
            compare_fields: self
                .verify
                .as_ref()
                .map(|v| v.compare_fields.clone())
                .unwrap_or_default(),
            attributes_mode: match self.mode {
                Mode::Transform | Mode::Rollback => AttributesMode::Replace,
                _ => self.attributes_mode.unwrap_or_default(),
            },
            unsafe_numbers: self.unsafe_numbers.unwrap_or_default(),
            publish_mode: self.publish_mode.unwrap_or_default(),
            app_framework_version: self.app_framework_version.clone(),
            dry_run,
            tolerated_failure_percentage: self.tolerated_failure_percentage.unwrap_or(0.0),
            writes: !dry_run && (self.mode != Mode::Reconcile || self.repair.unwrap_or(false)),
            max_write_units_per_second: self.max_write_units_per_second,
        })
    }

    /// Checks the whole document (mode fields, options, job id) before anything is written.
    pub fn validate(&self) -> Result<(JobSpec, JobOptions), Error> {
        let spec = self.spec()?;
        if let Some(id) = &self.job_id {
            check_job_id(id)?;
        }
        Ok((spec, self.options()?))
    }
}
