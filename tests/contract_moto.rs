//! The port contract suites, unchanged, against the AWS adapters on moto (DynamoDB, DynamoDB
//! Streams, S3) through the real aws-sdk crates.

use integration_tests::contract::{objects, table};
use integration_tests::moto;
use shared::aws::{DynamoDbStreams, DynamoDbTables, S3Objects};

#[tokio::test]
async fn dynamodb_table_contract() {
    let Some(c) = moto::clients().await else {
        return;
    };
    let plain = moto::unique("contract");
    let streamed = moto::unique("streamed");
    moto::create_table(&c, &plain, false).await;
    moto::create_table(&c, &streamed, true).await;
    let t = DynamoDbTables::new(c.dynamodb.clone());
    table::check_put_get(&t, &plain).await;
    table::check_limits(&t, &plain).await;
    table::check_transactions(&t, &plain).await;
    table::check_query_scan(&t, &plain).await;
    let streams = DynamoDbStreams::new(c.dynamodb.clone(), c.streams.clone());
    table::check_stream(&t, &streams, &streamed).await;
}

#[tokio::test]
async fn s3_object_contract() {
    let Some(c) = moto::clients().await else {
        return;
    };
    let bucket = moto::unique("contract");
    moto::create_bucket(&c, &bucket).await;
    objects::check_objects(&S3Objects::new(c.s3.clone()), &bucket).await;
}
