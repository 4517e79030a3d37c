//! template.yaml against infra/statemachine.asl.json and the workspace: substitutions, error
//! names, least privilege, function builds. Each check passes on the real files and fails on a
//! deliberately broken copy, so a check that cannot fail would show here.
//!
//! The external validators (cfn-lint, sam validate --lint, asl-validator, cargo lambda build)
//! run in `scripts/check-infra.sh`, with the same real-and-broken pairs.

use std::path::Path;

use integration_tests::infra::*;
use serde_yaml_ng::Value as Yaml;

const TEMPLATE: &str = include_str!("../template.yaml");
const DEFINITION: &str = include_str!("../infra/statemachine.asl.json");

fn template(text: &str) -> Yaml {
    serde_yaml_ng::from_str(text).expect("template.yaml is YAML")
}

fn definition(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("the definition is JSON")
}

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn every_substitution_is_defined_in_the_template() {
    assert_eq!(
        substitutions_in(DEFINITION).len(),
        shared::handlers::TaskFunction::ALL.len(),
        "one FunctionArn per Task function"
    );
    assert_eq!(
        check_substitutions(&template(TEMPLATE), DEFINITION),
        Vec::<String>::new()
    );
    // Broken: a Task that names a function the template does not define.
    let broken = DEFINITION.replace("${VerifyFunctionArn}", "${VerifyFnArn}");
    let problems = check_substitutions(&template(TEMPLATE), &broken);
    assert!(
        problems.iter().any(|p| p.contains("${VerifyFnArn}")),
        "{problems:?}"
    );
}

#[test]
fn every_error_name_is_known() {
    assert_eq!(
        check_error_names(&definition(DEFINITION)),
        Vec::<String>::new()
    );
    let broken = DEFINITION.replacen("\"Retryable\"", "\"Retriable\"", 1);
    let problems = check_error_names(&definition(&broken));
    assert!(
        problems.iter().any(|p| p.contains("Retriable")),
        "{problems:?}"
    );
    let broken = DEFINITION.replace("\"Error\": \"MigrationFailed\"", "\"Error\": \"Failure\"");
    assert!(!check_error_names(&definition(&broken)).is_empty());
}

#[test]
fn no_policy_allows_a_wildcard_action() {
    assert_eq!(
        check_no_wildcard_actions(&template(TEMPLATE)),
        Vec::<String>::new()
    );
    let broken = TEMPLATE.replacen(
        "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]",
        "Action: [\"dynamodb:*\"]",
        1,
    );
    assert_ne!(broken, TEMPLATE);
    let problems = check_no_wildcard_actions(&template(&broken));
    assert!(
        problems.iter().any(|p| p.contains("dynamodb:*")),
        "{problems:?}"
    );
    let broken = TEMPLATE.replacen("Action: s3:ListBucket", "Action: \"*\"", 1);
    assert!(!check_no_wildcard_actions(&template(&broken)).is_empty());
}

#[test]
fn every_function_is_a_cargo_lambda_build_of_a_workspace_binary() {
    let binaries = function_binaries(workspace());
    // One per Task function, plus the stream's history and the triggers' start.
    assert_eq!(
        binaries.len(),
        shared::handlers::TaskFunction::ALL.len() + 2,
        "{binaries:?}"
    );
    let t = template(TEMPLATE);
    assert_eq!(check_functions(&t, &binaries), Vec::<String>::new());
    // Every binary is deployed.
    let deployed: std::collections::BTreeSet<String> = resources(&t)
        .iter()
        .filter_map(|(_, r)| {
            r.get("Metadata")?
                .get("BuildProperties")?
                .get("Binary")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        deployed, binaries,
        "every functions/* crate is in the template"
    );
    let broken = TEMPLATE.replacen("Binary: migration-export", "Binary: migration-exporter", 1);
    let problems = check_functions(&template(&broken), &binaries);
    assert!(
        problems.iter().any(|p| p.contains("migration-exporter")),
        "{problems:?}"
    );
    let broken = TEMPLATE.replacen("Architectures: [arm64]", "Architectures: [x86_64]", 1);
    assert!(!check_functions(&template(&broken), &binaries).is_empty());
}

#[test]
fn the_bucket_is_private_encrypted_and_refuses_plain_http() {
    let t = template(TEMPLATE);
    let bucket = resources(&t)
        .into_iter()
        .find(|(_, r)| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::S3::Bucket"))
        .map(|(_, r)| r.clone())
        .expect("a bucket");
    let props = bucket.get("Properties").expect("bucket properties");
    let block = props
        .get("PublicAccessBlockConfiguration")
        .expect("public access block");
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            block.get(flag).and_then(|b| b.as_bool()),
            Some(true),
            "{flag}"
        );
    }
    assert!(
        props.get("BucketEncryption").is_some(),
        "default encryption"
    );
    let text = TEMPLATE;
    assert!(
        text.contains("aws:SecureTransport") && text.contains("Sid: DenyInsecureTransport"),
        "a policy denies non-TLS requests"
    );
    assert!(text.contains("ReportBatchItemFailures") && text.contains("OnFailure"));
}

/// The example job documents in infra/jobs (the console's inputs) are valid for their mode.
#[test]
fn the_example_job_documents_are_valid() {
    let dir = workspace().join("infra/jobs");
    let mut modes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let doc = shared::job::JobDocument::parse(value)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        doc.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        modes.insert(doc.mode.as_str().to_string());
    }
    assert_eq!(modes.len(), 7, "one example per mode: {modes:?}");
}
