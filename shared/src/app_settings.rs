//! What the pipeline knows about the MBC app whose tables it writes: the app's bucket and
//! `ATTRIBUTE_LIMIT_SIZE` (large attributes), its master data table (TTL rules), its framework
//! version (which publish modes are safe) and how long Verify waits for the app's own command
//! saga in `app` publish mode. Read once from the environment (the stack parameters in
//! `template.yaml`; the same variables for `migrate`).

use std::time::Duration;

use crate::error::Error;
use crate::large_attributes::{DEFAULT_ATTRIBUTE_LIMIT_SIZE, LargeAttributes};

/// The app's bucket (its `S3_BUCKET_NAME`), where attributes over the limit are kept.
pub const APP_BUCKET: &str = "APP_BUCKET";
/// The app's `ATTRIBUTE_LIMIT_SIZE` (bytes).
pub const ATTRIBUTE_LIMIT_SIZE: &str = "ATTRIBUTE_LIMIT_SIZE";
/// The app's master data table (`{env}-{app}-master-data`), read for TTL rules; unset: none.
pub const MASTER_DATA_TABLE: &str = "MASTER_DATA_TABLE";
/// The app's `@mbc-cqrs-serverless/core` version, the default of a job's `appFrameworkVersion`.
pub const APP_FRAMEWORK_VERSION: &str = "APP_FRAMEWORK_VERSION";
/// How long Verify waits for the app's saga to bring each data row to its command's version.
pub const APP_MODE_WAIT_SECONDS: &str = "APP_MODE_WAIT_SECONDS";
/// Default wait: well under the Verify function's 900 s timeout.
pub const DEFAULT_APP_MODE_WAIT_SECONDS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    pub large_attributes: LargeAttributes,
    pub master_data_table: Option<String>,
    pub framework_version: Option<String>,
    pub saga_wait: Duration,
}

impl AppSettings {
    /// Defaults for a state whose app bucket is `bucket` (the pipeline's own, when unset).
    pub fn new(bucket: &str) -> Self {
        AppSettings {
            large_attributes: LargeAttributes {
                bucket: bucket.to_string(),
                limit: DEFAULT_ATTRIBUTE_LIMIT_SIZE,
            },
            master_data_table: None,
            framework_version: None,
            saga_wait: Duration::from_secs(DEFAULT_APP_MODE_WAIT_SECONDS),
        }
    }

    /// From a variable lookup; a malformed value is named.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        default_bucket: &str,
    ) -> Result<Self, Error> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let whole = |name: &str, default: u64, max: u64| -> Result<u64, Error> {
            match set(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| {
                        Error::invalid(format!("{name}={v:?}: expected a whole number up to {max}"))
                    }),
            }
        };
        let mut settings =
            AppSettings::new(&set(APP_BUCKET).unwrap_or_else(|| default_bucket.into()));
        settings.large_attributes.limit = whole(
            ATTRIBUTE_LIMIT_SIZE,
            DEFAULT_ATTRIBUTE_LIMIT_SIZE as u64,
            400 * 1024,
        )? as usize;
        settings.master_data_table = set(MASTER_DATA_TABLE);
        settings.framework_version = set(APP_FRAMEWORK_VERSION);
        if let Some(v) = &settings.framework_version {
            crate::job::parse_framework_version(v)
                .map_err(|e| Error::invalid(format!("{APP_FRAMEWORK_VERSION}: {e}")))?;
        }
        settings.saga_wait = Duration::from_secs(whole(
            APP_MODE_WAIT_SECONDS,
            DEFAULT_APP_MODE_WAIT_SECONDS,
            840,
        )?);
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_app_settings_and_names_bad_ones() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = AppSettings::from_lookup(&vars(&[]), "own").unwrap();
        assert_eq!(s, AppSettings::new("own"));
        let s = AppSettings::from_lookup(
            &vars(&[
                (APP_BUCKET, "app"),
                (ATTRIBUTE_LIMIT_SIZE, "2000"),
                (APP_MODE_WAIT_SECONDS, "1"),
                (MASTER_DATA_TABLE, "m"),
            ]),
            "own",
        )
        .unwrap();
        assert_eq!(
            s.large_attributes,
            LargeAttributes {
                bucket: "app".into(),
                limit: 2000
            }
        );
        assert_eq!(s.saga_wait, Duration::from_secs(1));
        assert_eq!(s.master_data_table.as_deref(), Some("m"));
        let err =
            AppSettings::from_lookup(&vars(&[(ATTRIBUTE_LIMIT_SIZE, "big")]), "own").unwrap_err();
        assert!(err.to_string().contains(ATTRIBUTE_LIMIT_SIZE), "{err}");
        let err =
            AppSettings::from_lookup(&vars(&[(APP_FRAMEWORK_VERSION, "x")]), "own").unwrap_err();
        assert!(err.to_string().contains(APP_FRAMEWORK_VERSION), "{err}");
    }
}
