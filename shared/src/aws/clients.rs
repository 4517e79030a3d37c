//! The one AWS client factory (as in vector's `aws` module): every client is built from one
//! `SdkConfig` loaded from the standard environment — region, credentials, `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` — with one retry policy.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;

/// Throttling and transient errors are retried by the SDK (standard mode, exponential backoff
/// with jitter); this bounds the attempts so a Lambda gives up well inside its timeout and the
/// state machine's own Retry takes over.
const MAX_ATTEMPTS: u32 = 6;

/// One attempt of a request (until its response arrives; a streamed body, such as the source
/// CSV, is read after it) gives up after this long and is retried. It stands in for the SDK's
/// upload stall check, which is off (see [`stalled_streams`]). Generous: it covers an upload's
/// whole body and S3 calls documented to take minutes (CompleteMultipartUpload), and a request
/// waiting behind moto's one-at-a-time lock; a Lambda's own timeout still bounds a task.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Download stalls are still detected; upload stalls are left to [`ATTEMPT_TIMEOUT`]. The
/// upload check wakes every request in flight every 100 ms until its response arrives (to
/// measure the upload's throughput), whatever the body: the whole request future is polled
/// again each time. Our request bodies are small and sent at once, so the check guards nothing
/// the attempt timeout does not, and it cost more client CPU than the rows themselves while a
/// store was slow to answer (against moto, whose TransactWriteItems take seconds: ≈90 % of the
/// client's CPU of a 1,200-row import).
fn stalled_streams() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::enabled()
        .upload_enabled(false)
        .download_enabled(true)
        .build()
}

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
            .stalled_stream_protection(stalled_streams())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
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
