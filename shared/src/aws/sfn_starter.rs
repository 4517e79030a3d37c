//! The workflow port on Step Functions: StartExecution by name, idempotent.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;

use super::errors::store_error;
use crate::error::StoreError;
use crate::ports::workflow::{StartOutcome, WorkflowStarter};

#[derive(Clone, Debug)]
pub struct StepFunctionsStarter {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsStarter {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctionsStarter {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The ARN an execution named `name` of our state machine has.
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

#[async_trait]
impl WorkflowStarter for StepFunctionsStarter {
    async fn start_execution(
        &self,
        name: &str,
        input: serde_json::Value,
    ) -> Result<StartOutcome, StoreError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            // Step Functions also answers a repeated start of a running execution with the same
            // name and input with success and the same ARN: idempotent either way.
            Ok(out) => Ok(StartOutcome::Started {
                execution_id: out.execution_arn,
            }),
            Err(e) => match e.as_service_error() {
                Some(StartExecutionError::ExecutionAlreadyExists(_)) => {
                    Ok(StartOutcome::AlreadyExists {
                        execution_id: self.execution_arn(name),
                    })
                }
                _ => Err(store_error("StartExecution", e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn execution_arn_is_derived_from_the_state_machine() {
        // Building a client needs no network.
        let config = aws_sdk_sfn::Config::builder()
            .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
            .build();
        let s = super::StepFunctionsStarter::new(
            aws_sdk_sfn::Client::from_conf(config),
            "arn:aws:states:eu-west-1:123456789012:stateMachine:migration",
        );
        assert_eq!(
            s.execution_arn("import-abc"),
            "arn:aws:states:eu-west-1:123456789012:execution:migration:import-abc"
        );
    }
}
