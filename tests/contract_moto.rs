//! The port contract suites, unchanged, against the AWS adapters on moto (DynamoDB, DynamoDB
//! Streams, S3) through the real aws-sdk crates: every clause is its own test, on fresh tables.

use std::sync::Arc;

use integration_tests::contract::{ObjectFixture, TableFixture, UsersFixture};
use integration_tests::moto;
use shared::aws::{DynamoDbStreams, DynamoDbTables, S3Objects};

async fn dynamodb() -> Option<TableFixture> {
    let c = moto::clients().await?;
    let plain = moto::unique("contract");
    let streamed = moto::unique("streamed");
    moto::create_table(&c, &plain, false).await;
    moto::create_table(&c, &streamed, true).await;
    Some(TableFixture {
        table: Arc::new(DynamoDbTables::new(c.dynamodb.clone())),
        streams: Arc::new(DynamoDbStreams::new(c.dynamodb.clone(), c.streams.clone())),
        plain,
        streamed,
    })
}

async fn s3() -> Option<ObjectFixture> {
    let c = moto::clients().await?;
    let bucket = moto::unique("contract");
    moto::create_bucket(&c, &bucket).await;
    Some(ObjectFixture {
        objects: Arc::new(S3Objects::new(c.s3.clone())),
        bucket,
        keep_alive: None,
    })
}

async fn cognito() -> Option<UsersFixture> {
    let c = moto::clients().await?;
    let pool = moto::create_user_pool(&c).await;
    for user in integration_tests::contract::users::seed_users() {
        moto::create_user(&c, &pool, &user).await;
    }
    Some(UsersFixture {
        users: Arc::new(shared::aws::CognitoUsers::new(c.cognito.clone())),
        pool,
    })
}

mod cognito_user_pool {
    integration_tests::users_contract!(super::cognito);
}

mod dynamodb_table {
    integration_tests::table_contract!(super::dynamodb);
}

mod s3_objects {
    integration_tests::object_contract!(super::s3);
}
