//! The moto server as the stand-in for AWS: clients from the standard environment (exported by
//! `scripts/test.sh`), and fresh uniquely named tables and buckets per test, so tests share one
//! server in parallel.
//!
//! With `CI` set, a missing moto is a failure with a clear message, never a silent skip.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use shared::aws::AwsClients;

/// Clients for moto, or `None` (test skipped with a note) outside CI when moto is not running.
pub async fn clients() -> Option<AwsClients> {
    let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "moto is required when CI is set: MOTO_ENDPOINT is not set. Run the tests with \
                 `bash scripts/test.sh`, which starts moto_server (pip install 'moto[server]')"
            );
        }
        eprintln!("skipped: moto is not running (bash scripts/test.sh starts it when installed)");
        return None;
    };
    // The adapters read only the standard environment; make sure it points at moto, not AWS.
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(endpoint.as_str()),
        "AWS_ENDPOINT_URL must be MOTO_ENDPOINT ({endpoint}) so no test reaches real AWS"
    );
    Some(AwsClients::from_env().await)
}

/// A name no other test uses: `<prefix>-<8 hex>`.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

/// A table with string `pk` (hash) and `sk` (range), on demand, optionally with a
/// NEW_AND_OLD_IMAGES stream, as `template.yaml` defines them.
pub async fn create_table(c: &AwsClients, name: &str, stream: bool) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key schema")
    };
    let mut request = c
        .dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest);
    if stream {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification"),
        );
    }
    request.send().await.expect("create table in moto");
}

pub async fn create_bucket(c: &AwsClients, name: &str) {
    c.s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("create bucket in moto");
}

/// A user pool in moto with the app's custom attributes (`custom:tenant`, `custom:roles`).
pub async fn create_user_pool(c: &AwsClients) -> String {
    use aws_sdk_cognitoidentityprovider::types::{AttributeDataType, SchemaAttributeType};
    let attribute = |name: &str| {
        SchemaAttributeType::builder()
            .name(name)
            .attribute_data_type(AttributeDataType::String)
            .mutable(true)
            .build()
    };
    let out = c
        .cognito
        .create_user_pool()
        .pool_name(unique("pool"))
        .schema(attribute("tenant"))
        .schema(attribute("roles"))
        .send()
        .await
        .expect("create a user pool in moto");
    out.user_pool()
        .and_then(|p| p.id())
        .expect("a pool id")
        .to_string()
}

/// A user with these attributes, as the app's sign-up would leave it.
pub async fn create_user(c: &AwsClients, pool: &str, user: &shared::ports::users::User) {
    use aws_sdk_cognitoidentityprovider::types::AttributeType;
    let mut request = c
        .cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(&user.username);
    for (name, value) in &user.attributes {
        request = request.user_attributes(
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .unwrap(),
        );
    }
    request.send().await.expect("create a user in moto");
}
