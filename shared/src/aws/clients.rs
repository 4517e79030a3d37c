//! The one AWS client factory (as in vector's `aws` module): every client is built from one
//! `SdkConfig` loaded from the standard environment — region, credentials, `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` — with one retry policy.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

/// Throttling and transient errors are retried by the SDK (standard mode, exponential backoff
/// with jitter); this bounds the attempts so a Lambda gives up well inside its timeout and the
/// state machine's own Retry takes over.
const MAX_ATTEMPTS: u32 = 6;

/// The clients of one process, built once in `main` (or once per test).
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
}

impl AwsClients {
    /// Loads the standard AWS configuration chain from the environment.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        // Virtual-hosted-style S3 addressing needs DNS for `<bucket>.<host>`; an endpoint override
        // (moto, LocalStack, a VPC endpoint) serves buckets as paths.
        let path_style = endpoint_overridden("S3") || config.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            streams: aws_sdk_dynamodbstreams::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sfn: aws_sdk_sfn::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
        }
    }
}

/// Whether `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>` is set.
fn endpoint_overridden(service: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    set("AWS_ENDPOINT_URL") || set(&format!("AWS_ENDPOINT_URL_{service}"))
}
