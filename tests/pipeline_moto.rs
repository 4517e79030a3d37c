//! The pipeline through the AWS adapters against moto: the same state machine definition and
//! handlers as on AWS (Step Functions and Lambda played by the local interpreter and an in-test
//! event source mapping), compared with the embedded store; the history handler's partial batch
//! response; `start` creating a real execution in moto's Step Functions.

use std::sync::Arc;

use integration_tests::local::table_contents;
use integration_tests::{moto, products_csv};
use serde_json::{Value, json};
use shared::asl::{self, ExecutionOptions, ExecutionStatus, StateMachine};
use shared::aws::{AwsClients, DynamoDbStreams, FunctionConfig, S3Objects, StepFunctionsStarter};
use shared::handlers::{self, Deps};
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;
use shared::process_stats::{cpu_seconds, minor_page_faults, user_and_system_seconds};
use shared::publish::TableNames;
use shared::request_count::CountedTable;
use shared::runner::{HistoryPump, MemoryPositions, TaskRunner};

const DEFINITION: &str = include_str!("../infra/statemachine.asl.json");
const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:migration-";

/// Step Functions' Lambda integration and the stream's event source mapping on moto: the same
/// in-process runner `migrate` uses, with the AWS adapters a Lambda's `main` wires.
///
/// History is delivered after each execution rather than after each task, so the client CPU of
/// the execution (the state machine's Lambdas) and of the stream's delivery (the event source
/// mapping's polling, which on AWS is not a Lambda's work, and the history handler) are
/// measured apart.
struct AwsRunner {
    deps: Deps,
    /// Every table request the handlers make, counted at the port.
    requests: Arc<CountedTable>,
    runner: TaskRunner,
    history: HistoryPump,
    state_machine: StateMachine,
}

impl AwsRunner {
    async fn pump_history(&self) {
        self.history
            .pump(&self.deps)
            .await
            .expect("history delivered on moto without failures");
    }

    async fn run(&self, name: &str, input: Value) -> asl::ExecutionResult {
        self.run_measured(name, input).await.0
    }

    /// `run`, with what the client spent on the execution and on the history delivery after it.
    async fn run_measured(&self, name: &str, input: Value) -> (asl::ExecutionResult, Measured) {
        let by_state = Arc::new(StateCpu::default());
        let options = ExecutionOptions {
            name: name.into(),
            state_machine_id: "arn:aws:states:us-east-1:123456789012:stateMachine:migration".into(),
            retry_interval_scale: 0.0,
            observer: Some(by_state.clone()),
        };
        let cpu = || cpu_seconds().unwrap_or(0.0);
        let faults = || minor_page_faults().unwrap_or(0);
        let split = || user_and_system_seconds().unwrap_or((0.0, 0.0));
        let (split_before, started, faults_before) = (split(), cpu(), faults());
        let result = self.runner.run(&self.state_machine, input, options).await;
        let (ran, faults_after, split_after) = (cpu(), faults(), split());
        self.pump_history().await;
        let by_state = by_state
            .0
            .lock()
            .map(|s| s.spent.clone())
            .unwrap_or_default();
        let measured = Measured {
            cpu: ran - started,
            user: split_after.0 - split_before.0,
            system: split_after.1 - split_before.1,
            page_faults: faults_after.saturating_sub(faults_before),
            history_cpu: cpu() - ran,
            by_state,
        };
        (result, measured)
    }
}

/// The client's share of an execution on moto.
struct Measured {
    /// CPU seconds of the execution (all threads, user and system).
    cpu: f64,
    /// The same split into user and system time (`getrusage`, to the microsecond).
    user: f64,
    system: f64,
    /// Pages the kernel mapped in for the execution (a heap that gave pages back and took them
    /// again shows here).
    page_faults: u64,
    /// CPU seconds of delivering the execution's stream records to the history table after it.
    history_cpu: f64,
    /// CPU seconds of each top-level state.
    by_state: Vec<(String, f64)>,
}

/// The process's CPU spent in each top-level state of an execution (its Distributed Map's
/// children run inside the Process state).
#[derive(Default)]
struct StateCpu(std::sync::Mutex<StateCpuInner>);

#[derive(Default)]
struct StateCpuInner {
    entered: Option<(String, f64)>,
    spent: Vec<(String, f64)>,
}

impl asl::Observer for StateCpu {
    fn on_event(&self, event: &asl::HistoryEvent) {
        const TOP: [&str; 4] = ["Prepare", "Transform", "Process", "Verify"];
        let Some(state) = event.state.as_deref().filter(|s| TOP.contains(s)) else {
            return;
        };
        let Ok(mut inner) = self.0.lock() else {
            return;
        };
        let now = cpu_seconds().unwrap_or(0.0);
        match event.kind {
            asl::HistoryEventKind::StateEntered => inner.entered = Some((state.to_string(), now)),
            asl::HistoryEventKind::StateExited => {
                if let Some((name, at)) = inner.entered.take().filter(|(n, _)| n == state) {
                    inner.spent.push((name, now - at));
                }
            }
            _ => {}
        }
    }
}

/// Fresh tables and bucket in moto, wired exactly as a Lambda wires them (`FunctionConfig`).
async fn aws_runner(c: &AwsClients, chunk_rows: usize) -> AwsRunner {
    let names = TableNames {
        command: moto::unique("command"),
        data: moto::unique("data"),
        history: moto::unique("history"),
        jobs: moto::unique("jobs"),
    };
    moto::create_table(c, &names.command, false).await;
    moto::create_table(c, &names.data, true).await;
    moto::create_table(c, &names.history, false).await;
    moto::create_table(c, &names.jobs, false).await;
    let bucket = moto::unique("migration");
    moto::create_bucket(c, &bucket).await;
    let config = FunctionConfig {
        table_names: names,
        app: shared::app_settings::AppSettings::new(&bucket),
        bucket,
        chunk_rows,
        max_concurrency: 4,
        scan_segments: 2,
        actor: "migrate".into(),
    };
    let mut deps = shared::wiring::aws::deps(&config, c);
    let requests = Arc::new(CountedTable::new(deps.tables.clone()));
    deps.tables = requests.clone();
    let history = HistoryPump::new(
        Arc::new(DynamoDbStreams::new(c.dynamodb.clone(), c.streams.clone())),
        Arc::new(MemoryPositions::default()),
    );
    let runner = AwsRunner {
        runner: TaskRunner::new(deps.clone(), ARN_PREFIX, None),
        history,
        state_machine: shared::runner::state_machine(DEFINITION, ARN_PREFIX)
            .expect("definition parses"),
        deps,
        requests,
    };
    // Start after whatever the stream holds (nothing: the table is new).
    runner.pump_history().await;
    runner
}

/// `n` products with a nested attribute; `changed` rows update only `dims.w` (a partial nested
/// update, which must keep `dims.h`: the framework's deep merge).
fn nested_products_csv(n: usize, changed: impl Fn(usize) -> bool) -> String {
    let mut out = String::from("sourcePk,sourceSk,code,name,attributes,targetTenantCode\n");
    for i in 1..=n {
        let attributes = if changed(i) {
            r#"{""dims"":{""w"":99}}"#.to_string()
        } else {
            format!(r#"{{""price"":{i}.5,""dims"":{{""w"":{i},""h"":2}}}}"#)
        };
        out.push_str(&format!(
            "PRODUCT#SRC,P{i:06},P{i:06},n{i},\"{attributes}\",dst\n"
        ));
    }
    out
}

/// `PARITY_WARM=N` (`0`: none; a value that is not a number counts as 1): before the measured
/// jobs, N imports of the same size, each into tables of its own, on the same clients, so that
/// the figures printed are those of warm functions. A Lambda processes chunk after chunk: after
/// its first, its heap has grown to what a chunk needs (jemalloc keeps the freed pages,
/// `LAMBDA_MALLOC_CONF`), its code is paged in and its connections are open. In a fresh test
/// process, each of the chunks processed at once grows the heap again, a page fault per 4 KB
/// (≈4 per row), which no Lambda pays chunk after chunk. More than one warm-up shows whether
/// the heap has settled after the first (the page faults of the measured job).
async fn warm_up(c: &AwsClients, rows: u64, chunk_rows: u64, round: u32) {
    let warm = aws_runner(c, chunk_rows as usize).await;
    let key = &format!("incoming/warm-up-{round}.csv");
    let csv = nested_products_csv(rows as usize, |_| false);
    warm.deps
        .objects
        .put_object(&warm.deps.bucket, key, csv.into_bytes())
        .await
        .unwrap();
    let job_id = format!("warm-up-{round}");
    let job = json!({"jobId": job_id, "mode": "import", "source": {"bucket": warm.deps.bucket, "key": key}});
    let (result, measured) = warm.run_measured(&job_id, job).await;
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        result.cause
    );
    eprintln!(
        "warm-up {round} on moto (tables of its own): {rows} rows; client CPU of the execution {:.3} s ({:.0} µs per row, {} page faults)",
        measured.cpu,
        measured.cpu * 1e6 / rows as f64,
        measured.page_faults
    );
}

/// Kept small: moto copies a whole table for every TransactWriteItems, so its cost grows with
/// the table; 300 rows in 6 chunks cover batching, chunking and history all the same.
/// `PARITY_ROWS` (a multiple of 50) runs it larger, to measure the client's CPU per row: the
/// slope between two sizes leaves out what a job costs whatever its size. `PARITY_CHUNK_ROWS`
/// (a divisor of the rows, default 50) sets the chunk size: the production default is 500, and
/// moto's cost does not depend on it (the same TransactWriteItems of 100 items).
/// On tokio's current-thread runtime, as every Lambda `main` runs its handler (`shared::lambda`),
/// so the client CPU measured is the CPU a Lambda would spend.
#[tokio::test(flavor = "current_thread")]
async fn an_import_and_a_nested_update_on_moto_match_the_embedded_store() {
    let Some(c) = moto::clients().await else {
        return;
    };
    let rows: u64 = std::env::var("PARITY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| n % 50 == 0 && *n >= 50)
        .unwrap_or(300);
    let chunk_rows: u64 = std::env::var("PARITY_CHUNK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 50 && rows.is_multiple_of(*n))
        .unwrap_or(50);
    let chunks = rows / chunk_rows;
    let aws = aws_runner(&c, chunk_rows as usize).await;
    let dir = tempfile::tempdir().unwrap();
    let mut local = LocalPipeline::open(dir.path(), DEFINITION).unwrap();
    local.retry_interval_scale = 0.0;
    local.deps.chunk_rows = chunk_rows as usize;
    local.deps.max_concurrency = 4;
    let local_requests = Arc::new(CountedTable::new(local.deps.tables.clone()));
    local.deps.tables = local_requests.clone();
    if let Some(warm) = std::env::var_os("PARITY_WARM") {
        let rounds = warm.to_str().map_or(1, |v| v.parse::<u32>().unwrap_or(1));
        for round in 1..=rounds {
            warm_up(&c, rows, chunk_rows, round).await;
        }
    }
    // `PARITY_MOTO_ONLY=1`: the AWS adapters' runs alone, for a profile of the client
    // (`scripts/parity_instructions.sh --moto-only`): the embedded store's runs and every
    // comparison with them are left out; the moto runs and their request counts are checked.
    let moto_only = std::env::var("PARITY_MOTO_ONLY").is_ok_and(|v| v == "1");

    // An import, then a re-import where 30 rows changed (so history has rows too).
    let first = nested_products_csv(rows as usize, |_| false);
    let second = nested_products_csv(rows as usize, |i| i % 10 == 0);
    for (job_id, csv) in [("parity-1", &first), ("parity-2", &second)] {
        let key = format!("incoming/{job_id}.csv");
        aws.deps
            .objects
            .put_object(&aws.deps.bucket, &key, csv.clone().into_bytes())
            .await
            .unwrap();
        local
            .objects
            .put_object(LOCAL_BUCKET, &key, csv.clone().into_bytes())
            .await
            .unwrap();
        let job = |bucket: &str| json!({"jobId": job_id, "mode": "import", "source": {"bucket": bucket, "key": key}});
        let (aws_before, local_before) = (aws.requests.counts(), local_requests.counts());
        let (on_aws, measured) = aws.run_measured(job_id, job(&aws.deps.bucket)).await;
        assert_eq!(
            on_aws.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            on_aws.cause
        );
        // Few requests per row: reads 100 keys per BatchGetItem, writes 100 items per
        // TransactWriteItems, history one PutItem per changed row.
        let on_moto = aws.requests.counts().since(&aws_before);
        let per_row = on_moto.requests() as f64 / rows as f64;
        eprintln!(
            "{job_id} on moto: {rows} rows, {} requests ({per_row:.3} per row) {:?}; client CPU of the execution {:.3} s ({:.0} µs per row: user {:.0}, system {:.0}; {} page faults), of the history delivery after it {:.3} s ({:.0} µs per row)",
            on_moto.requests(),
            on_moto.0,
            measured.cpu,
            measured.cpu * 1e6 / rows as f64,
            measured.user * 1e6 / rows as f64,
            measured.system * 1e6 / rows as f64,
            measured.page_faults,
            measured.history_cpu,
            measured.history_cpu * 1e6 / rows as f64
        );
        for (state, cpu) in &measured.by_state {
            eprintln!(
                "  {state}: {:.3} s ({:.0} µs per row)",
                cpu,
                cpu * 1e6 / rows as f64
            );
        }
        if job_id == "parity-1" {
            // Per chunk, in requests of at most 100 items: Process reads each data row and
            // writes two items a row (command and data), Verify reads the data rows again (300
            // rows in chunks of 50: 6 BatchGetItem + 6 TransactWriteItems in Process, 6
            // BatchGetItem in Verify), and the job record's reads and writes.
            let per_chunk = |items: u64| chunks * items.div_ceil(100);
            assert_eq!(
                on_moto.0["TransactWriteItems"].requests,
                per_chunk(2 * chunk_rows)
            );
            assert_eq!(
                on_moto.0["BatchGetItem"].requests,
                2 * per_chunk(chunk_rows)
            );
            assert!(
                per_row <= 0.08,
                "{per_row} requests per row on a fresh import"
            );
        }
        if moto_only {
            continue;
        }
        let on_local = local.run(job_id, job(LOCAL_BUCKET)).await.unwrap();
        assert_eq!(
            on_local.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            on_local.cause
        );
        let (a, l) = (on_aws.output.unwrap(), on_local.output.unwrap());
        assert_eq!(a["counts"], l["counts"], "same counts on moto and SQLite");
        // The same requests on both stores.
        let on_sqlite = local_requests.counts().since(&local_before);
        assert_eq!(
            on_moto, on_sqlite,
            "{job_id}: table requests on moto and SQLite"
        );
        assert_eq!(a["verification"], l["verification"]);
    }

    if moto_only {
        return;
    }
    let names = &aws.deps.table_names;
    let local_names = &local.deps.table_names;
    for (aws_table, local_table, expected) in [
        (
            &names.command,
            &local_names.command,
            (rows + rows / 10) as usize,
        ),
        (&names.data, &local_names.data, rows as usize),
        (&names.history, &local_names.history, (rows / 10) as usize),
    ] {
        let on_aws = table_contents(aws.deps.tables.as_ref(), aws_table).await;
        let on_local = table_contents(local.deps.tables.as_ref(), local_table).await;
        assert_eq!(on_aws.len(), expected, "{local_table} rows on moto");
        assert_eq!(on_local.len(), expected, "{local_table} rows on SQLite");
        for ((key, a), (local_key, l)) in on_aws.iter().zip(on_local.iter()) {
            assert_eq!(key, local_key, "{local_table}: the same keys");
            assert_eq!(a, l, "{local_table} item {key:?} differs");
        }
    }
    // The nested update kept the siblings on moto (deep merge), as on SQLite (compared above).
    let item = aws
        .deps
        .tables
        .get_item(
            &names.data,
            &shared::keys::Key::new("PRODUCT#dst", "P000010"),
        )
        .await
        .unwrap()
        .unwrap();
    let entity = shared::model::EntityRow::from_data_item(&item).unwrap();
    assert_eq!(entity.version, 2);
    assert_eq!(
        shared::value::attributes_to_json_string(&shared::model::content_attributes(
            &entity.attributes
        )),
        r#"{"dims":{"h":2,"w":99},"price":10.5}"#
    );
}

/// The official DynamoDB Streams fixture, with MBC data-row images: one MODIFY per entity.
fn stream_event(records: &[(&str, Value)]) -> aws_lambda_events::event::dynamodb::Event {
    let fixture: Value =
        serde_json::from_str(include_str!("../infra/events/example-dynamodb-event.json")).unwrap();
    let template = fixture["Records"][0].clone();
    let mut out = Vec::new();
    for (i, (seq, old_image)) in records.iter().enumerate() {
        let mut r = template.clone();
        r["eventID"] = json!(format!("event-{i}"));
        r["eventName"] = json!("MODIFY");
        r["dynamodb"]["SequenceNumber"] = json!(seq);
        r["dynamodb"]["Keys"] = json!({"pk": old_image["pk"], "sk": old_image["sk"]});
        r["dynamodb"]["OldImage"] = old_image.clone();
        let mut new_image = old_image.clone();
        new_image["name"] = json!({"S": "changed"});
        r["dynamodb"]["NewImage"] = new_image;
        r["dynamodb"]["StreamViewType"] = json!("NEW_AND_OLD_IMAGES");
        out.push(r);
    }
    serde_json::from_value(json!({ "Records": out })).unwrap()
}

fn data_row(sk: &str, version: Value) -> Value {
    json!({"pk": {"S": "PRODUCT#t1"}, "sk": {"S": sk}, "id": {"S": format!("PRODUCT#t1#{sk}")},
           "code": {"S": sk}, "name": {"S": "n"}, "version": version, "tenantCode": {"S": "t1"},
           "type": {"S": "PRODUCT"}, "isDeleted": {"BOOL": false}, "attributes": {"M": {}}})
}

#[tokio::test]
async fn history_reports_exactly_the_failed_record_and_redelivery_writes_no_duplicate() {
    let Some(c) = moto::clients().await else {
        return;
    };
    let aws = aws_runner(&c, 50).await;
    // The official fixture as it is (two INSERTs): nothing to record, nothing fails.
    let official: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(include_str!("../infra/events/example-dynamodb-event.json")).unwrap();
    let response = handlers::history::handle(official, &aws.deps).await;
    assert!(response.batch_item_failures.is_empty());

    let event = stream_event(&[
        ("100", data_row("A", json!({"N": "1"}))),
        ("101", data_row("B", json!({"S": "not-a-version"}))), // cannot be written
        ("102", data_row("C", json!({"N": "3"}))),
    ]);
    for delivery in 1..=2 {
        let response = handlers::history::handle(event.clone(), &aws.deps).await;
        let failed: Vec<Option<String>> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(
            failed,
            vec![Some("101".to_string())],
            "delivery {delivery}: exactly the bad record, by sequence number"
        );
        let history = table_contents(aws.deps.tables.as_ref(), &aws.deps.table_names.history).await;
        assert_eq!(
            history
                .keys()
                .map(|(_, sk)| sk.as_str())
                .collect::<Vec<_>>(),
            vec!["A@1", "C@3"],
            "delivery {delivery}: the good records once each, no duplicates"
        );
    }
    // The response is what Lambda expects: {"batchItemFailures":[{"itemIdentifier":"101"}]}.
    let response = handlers::history::handle(event, &aws.deps).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "101"}]})
    );
}

#[tokio::test]
async fn start_creates_one_execution_in_step_functions_per_upload() {
    use aws_sdk_sfn::types::StateMachineType;
    use shared::handlers::start::{StartDeps, handle_event};
    let Some(c) = moto::clients().await else {
        return;
    };
    let bucket = moto::unique("uploads");
    moto::create_bucket(&c, &bucket).await;
    // Our ASL, with the Lambda ARNs substituted as SAM's DefinitionSubstitutions would.
    let mut definition = DEFINITION.to_string();
    for (sub, arn) in shared::runner::substitutions(ARN_PREFIX) {
        definition = definition.replace(&format!("${{{sub}}}"), &arn);
    }
    assert!(!definition.contains("${"), "every substitution is resolved");
    let created = c
        .sfn
        .create_state_machine()
        .name(moto::unique("migration"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/migration-state-machine")
        .r#type(StateMachineType::Standard)
        .send()
        .await
        .expect("moto accepts our state machine");
    let sm_arn = created.state_machine_arn;
    let starter = StepFunctionsStarter::new(c.sfn.clone(), &sm_arn);
    let objects = S3Objects::new(c.s3.clone());
    let info = objects
        .put_object(
            &bucket,
            "incoming/my products.csv",
            products_csv(3, "dst", |i| format!("n{i}")).into_bytes(),
        )
        .await
        .unwrap();
    let deps = StartDeps {
        starter: &starter,
        objects: &objects,
        reconcile_job: None,
    };
    // The official S3 fixture, pointed at our upload (key URL-encoded as S3 sends it).
    let mut event: Value =
        serde_json::from_str(include_str!("../infra/events/example-s3-event.json")).unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!("incoming/my+products.csv");
    event["Records"][0]["s3"]["object"]["eTag"] = json!(info.etag.trim_matches('"'));
    let first = handle_event(event.clone(), &deps).await.unwrap();
    let again = handle_event(event, &deps).await.unwrap();
    assert_eq!(
        first["started"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    assert_eq!(
        first["started"][0]["executionName"], again["started"][0]["executionName"],
        "a duplicated event names the same execution"
    );
    assert_eq!(
        first["started"][0]["input"]["source"]["key"], "incoming/my products.csv",
        "the key is URL-decoded"
    );
    let executions = c
        .sfn
        .list_executions()
        .state_machine_arn(&sm_arn)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(executions.len(), 1, "one execution for a duplicated event");
    let described = c
        .sfn
        .describe_execution()
        .execution_arn(&executions[0].execution_arn)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap_or("null")).unwrap();
    assert_eq!(input["mode"], "import");
    assert_eq!(input["source"]["bucket"], json!(bucket));
    // S3's test event when the notification is configured: ignored.
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket});
    assert_eq!(
        handle_event(test_event, &deps).await.unwrap()["started"],
        json!([])
    );
}

#[tokio::test]
async fn normalize_users_on_cognito_three_pages_dry_run_and_rerun() {
    let Some(c) = moto::clients().await else {
        return;
    };
    let aws = aws_runner(&c, 50).await;
    let pool = moto::create_user_pool(&c).await;
    for i in 0..120 {
        let tenant = ["ACME", "acme", "Beta_Co"][i % 3];
        let user = shared::ports::users::User {
            username: format!("user{i:03}"),
            attributes: [
                ("custom:tenant".to_string(), tenant.to_string()),
                (
                    "custom:roles".to_string(),
                    format!(r#"[{{"role":"admin","tenant":"{tenant}"}}]"#),
                ),
            ]
            .into_iter()
            .collect(),
        };
        moto::create_user(&c, &pool, &user).await;
    }
    let directory = shared::aws::CognitoUsers::new(c.cognito.clone());
    let before = users_of(&directory, &pool).await;
    assert_eq!(before.len(), 120);

    let dry = aws.run("users-dry", json!({"jobId": "users-dry", "mode": "normalize-users", "userPoolId": pool, "dryRun": true})).await;
    assert_eq!(dry.status, ExecutionStatus::Succeeded, "{:?}", dry.cause);
    assert_eq!(dry.output.as_ref().unwrap()["counts"]["updated"], 80);
    assert_eq!(
        users_of(&directory, &pool).await,
        before,
        "a dry run writes nothing"
    );

    let run = aws
        .run(
            "users-run",
            json!({"jobId": "users-run", "mode": "normalize-users", "userPoolId": pool}),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.cause);
    assert_eq!(run.output.as_ref().unwrap()["counts"]["updated"], 80);
    for (name, attributes) in users_of(&directory, &pool).await {
        let tenant = &attributes["custom:tenant"];
        assert_eq!(*tenant, tenant.to_lowercase(), "{name}");
        assert!(
            attributes["custom:roles"].contains(&format!("\"tenant\":\"{tenant}\"")),
            "{name}"
        );
    }
    let again = aws
        .run(
            "users-again",
            json!({"jobId": "users-again", "mode": "normalize-users", "userPoolId": pool}),
        )
        .await;
    assert_eq!(
        again.output.as_ref().unwrap()["counts"]["updated"],
        0,
        "a re-run changes nothing"
    );
}

/// Every user of the pool: username → attributes.
async fn users_of(
    d: &shared::aws::CognitoUsers,
    pool: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = shared::ports::UserDirectory::list_users(d, pool, token.as_deref(), 60)
            .await
            .unwrap();
        for u in page.users {
            out.insert(u.username.clone(), u.attributes);
        }
        match page.next {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

// The Lambdas' allocator and settings, so the client CPU measured is theirs.
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);
