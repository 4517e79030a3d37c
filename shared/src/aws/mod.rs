//! The AWS adapters of the ports: DynamoDB ([`DynamoDbTables`]), DynamoDB Streams
//! ([`DynamoDbStreams`]), S3 ([`S3Objects`]), Step Functions ([`StepFunctionsStarter`]) and
//! Cognito user pools ([`CognitoUsers`]).
//!
//! They are configured only through the standard AWS environment ([`clients`]): the same code
//! talks to AWS in a Lambda and to moto in the tests, with no test-only branch.

pub mod batch_get_response;
pub mod clients;
pub mod cognito_users;
pub mod config;
pub mod dynamodb_json;
pub mod dynamodb_streams;
pub mod dynamodb_table;
pub mod errors;
pub mod response_body;
pub mod s3_objects;
pub mod sfn_starter;

pub use clients::AwsClients;
pub use cognito_users::CognitoUsers;
pub use config::FunctionConfig;
pub use dynamodb_streams::DynamoDbStreams;
pub use dynamodb_table::DynamoDbTables;
pub use errors::{is_retriable_code, is_retriable_error};
pub use s3_objects::S3Objects;
pub use sfn_starter::StepFunctionsStarter;
