//! Logs never contain attribute values: every log line of an import with a rejected row, an
//! update (history from the stream) and a rollback, at TRACE level, captured and searched for
//! the values the rows carried.

use std::io::Write;
use std::sync::{Arc, Mutex};

use integration_tests::local::{pipeline, upload_and_run};
use serde_json::json;
use shared::asl::ExecutionStatus;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn csv(name: &str, secret: &str) -> String {
    let mut out = String::from("sourcePk,sourceSk,code,name,attributes,targetTenantCode\n");
    for i in 1..=40 {
        out.push_str(&format!(
            "PRODUCT#SRC,P{i:03},P{i:03},{name}{i},\"{{\"\"secret\"\":\"\"{secret}{i}\"\",\"\"n\"\":59173864{i}}}\",dst\n"
        ));
    }
    // A row rejected for its attributes (broken JSON holding a value).
    out.push_str(&format!(
        "PRODUCT#SRC,P999,P999,{name}X,\"{{\"\"secret\"\":\"\"{secret}X\"\"\",dst\n"
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_holds_an_attribute_value() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let (status, out) = upload_and_run(
        &p,
        "incoming/one.csv",
        &csv("Zebulon-", "Kq7Secret-"),
        json!({"jobId": "one", "toleratedFailurePercentage": 10}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["rejected"], 1);
    let (status, out) = upload_and_run(
        &p,
        "incoming/two.csv",
        &csv("Xanthippe-", "Vw3Hidden-"),
        json!({"jobId": "two", "toleratedFailurePercentage": 10}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["updated"], 40);
    p.pump_history().await.unwrap();
    let r = p
        .run(
            "undo",
            json!({"jobId": "undo", "mode": "rollback", "rollbackOf": "two"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.lines().count() > 20 && logs.contains("chunk processed"),
        "the pipeline logged: {} lines",
        logs.lines().count()
    );
    for value in [
        "Zebulon-",
        "Kq7Secret-",
        "Xanthippe-",
        "Vw3Hidden-",
        "59173864",
    ] {
        let line = logs.lines().find(|l| l.contains(value));
        assert!(
            line.is_none(),
            "a log line holds the value {value:?}: {line:?}"
        );
    }
}
