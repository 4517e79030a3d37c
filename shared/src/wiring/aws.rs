//! A deployed function's dependencies: the AWS adapters, configured by the environment
//! `template.yaml` sets ([`FunctionConfig`]).

use std::sync::Arc;

use crate::aws::{AwsClients, DynamoDbTables, FunctionConfig, S3Objects};
use crate::error::Error;
use crate::handlers::{Deps, NoProgress};

/// The handlers' dependencies on the AWS adapters.
pub fn deps(config: &FunctionConfig, clients: &AwsClients) -> Deps {
    Deps {
        tables: Arc::new(DynamoDbTables::new(clients.dynamodb.clone())),
        objects: Arc::new(S3Objects::new(clients.s3.clone())),
        users: Arc::new(crate::aws::CognitoUsers::new(clients.cognito.clone())),
        table_names: config.table_names.clone(),
        bucket: config.bucket.clone(),
        chunk_rows: config.chunk_rows,
        max_concurrency: config.max_concurrency,
        scan_segments: config.scan_segments,
        actor: config.actor.clone(),
        app: config.app.clone(),
        // In Lambda the logs and the execution history tell the story.
        progress: Arc::new(NoProgress),
    }
}

/// Configuration and clients from the environment: what every Task function's `main` builds once.
pub async fn deps_from_env() -> Result<Deps, Error> {
    let config = FunctionConfig::from_env()?;
    let clients = AwsClients::from_env().await;
    Ok(deps(&config, &clients))
}
