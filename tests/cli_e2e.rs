//! End-to-end: the `migrate` binary on fixtures, with its JSON output and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn migrate(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migrate"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("MIGRATE_RETRY_INTERVAL_SCALE", "0")
        .output()
        .expect("run migrate")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn csv(rows: usize) -> String {
    let mut s = String::from("sourcePk,sourceSk,code,name,attributes,targetTenantCode\n");
    for i in 0..rows {
        s.push_str(&format!(
            "PRODUCT#SRC,K{i:06},K{i:06},Name {i},\"{{\"\"n\"\":{i}}}\",dst\n"
        ));
    }
    s
}

#[test]
fn upload_prints_the_contract_output_and_exit_codes_follow_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.csv");
    std::fs::write(&file, csv(25)).unwrap();
    let state = dir.path().join("state");
    let out = migrate(
        &state,
        &["--json", "upload", file.to_str().unwrap(), "incoming/p.csv"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    for k in [
        "jobId",
        "mode",
        "status",
        "counts",
        "verification",
        "reportKey",
        "rejectedKey",
    ] {
        assert!(v.get(k).is_some(), "output has {k}: {v}");
    }
    assert_eq!(
        (
            v["mode"].as_str(),
            v["status"].as_str(),
            v["counts"]["created"].as_u64()
        ),
        (Some("import"), Some("SUCCEEDED"), Some(25))
    );
    let job = v["jobId"].as_str().unwrap();
    let got = migrate(&state, &["get", "data", "PRODUCT#dst", "K000003"]);
    assert_eq!(got.status.code(), Some(0));
    assert_eq!(json(&got)["attributes"]["n"], 3);
    assert_eq!(
        migrate(&state, &["get", "data", "PRODUCT#dst", "nope"])
            .status
            .code(),
        Some(1),
        "absent item: exit 1"
    );
    // The dual read answers an uppercase spelling from the lowercase key.
    let got = migrate(
        &state,
        &["get", "data", "PRODUCT#DST", "K000003", "--tenant-fallback"],
    );
    assert_eq!(got.status.code(), Some(0));
    assert_eq!(json(&got)["pk"], "PRODUCT#dst");
    assert_eq!(
        migrate(&state, &["get", "nosuch", "a", "b"]).status.code(),
        Some(2),
        "bad table: usage error"
    );
    let q = migrate(
        &state,
        &["query", "command", "PRODUCT#dst", "--sk-prefix", "K00001"],
    );
    assert_eq!(json(&q).as_array().map(Vec::len), Some(10));
    let report = migrate(&state, &["cat", &format!("jobs/{job}/report.json")]);
    assert_eq!(json(&report)["status"], "SUCCEEDED");
    assert_eq!(json(&migrate(&state, &["job", job]))["status"], "SUCCEEDED");
    // The readable report beside report.json.
    let md = migrate(&state, &["report", job]);
    assert_eq!(md.status.code(), Some(0));
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains(&format!("# Job `{job}`: SUCCEEDED (import)")),
        "{md}"
    );
    assert!(md.contains("| created | 25 |"), "{md}");
    assert!(md.contains("## Verification: passed"), "{md}");
    assert_eq!(
        migrate(&state, &["report", "no-such-job"]).status.code(),
        Some(1)
    );

    // A job document that fails: bad rows under the default tolerance -> exit 1, error on stderr.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nNOTENANT,a,a,a,{},x\n",
    )
    .unwrap();
    let out = migrate(
        &state,
        &[
            "--json",
            "upload",
            bad.to_str().unwrap(),
            "incoming/bad.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["status"], "FAILED");
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidInput"));
    // Its readable report names the rejected row, its line and why.
    let failed_job = json(&out)["jobId"].as_str().unwrap().to_string();
    let md = migrate(&state, &["report", &failed_job]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("FAILED") && md.contains("## Rejected rows"),
        "{md}"
    );
    assert!(md.contains("- line 2: sourcePk:"), "{md}");

    // Usage errors: exit 2.
    assert_eq!(migrate(&state, &["start"]).status.code(), Some(2));
    let unknown = dir.path().join("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"mode":"import","source":{"key":"k"},"colour":"red"}"#,
    )
    .unwrap();
    let out = migrate(&state, &["start", unknown.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
}

#[test]
fn verification_failure_names_migration_failed() {
    let dir = tempfile::tempdir().unwrap();
    // An object merged over a string leaves the string (the framework's mergeDeep): the row is
    // not what the table holds, so verification fails.
    let first = dir.path().join("first.csv");
    std::fs::write(&first, "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nT#s,a,a,one,\"{\"\"d\"\":\"\"text\"\"}\",d\n").unwrap();
    let out = migrate(
        &dir.path().join("s"),
        &["upload", first.to_str().unwrap(), "incoming/first.csv"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.path().join("dup.csv");
    std::fs::write(&file, "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nT#s,a,a,one,\"{\"\"d\"\":{\"\"x\"\":1}}\",d\n").unwrap();
    let out = migrate(
        &dir.path().join("s"),
        &["upload", file.to_str().unwrap(), "incoming/dup.csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MigrationFailed") && stderr.contains("verification failed"),
        "{stderr}"
    );
}

fn dump(state: &Path) -> Vec<String> {
    dump_partitions(state, &["PRODUCT#dst"])
}

/// The command, data and history rows of the partitions, without what differs between runs.
fn dump_partitions(state: &Path, partitions: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, pk) in ["command", "data", "history"]
        .iter()
        .flat_map(|t| partitions.iter().map(move |pk| (*t, *pk)))
    {
        let v = json(&migrate(state, &["query", table, pk]));
        for item in v.as_array().cloned().unwrap_or_default() {
            let mut item = item;
            // timestamps and job ids differ between runs; everything else must not
            for k in ["createdAt", "updatedAt", "requestId", "source"] {
                item.as_object_mut().map(|o| o.remove(k));
            }
            if let Some(a) = item.get_mut("attributes").and_then(|a| a.as_object_mut()) {
                a.remove("_migratedAt");
                a.remove("_migrationId");
            }
            out.push(format!("{table} {pk} {item}"));
        }
    }
    out
}

#[test]
fn killed_mid_process_then_rerun_gives_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    std::fs::write(&file, csv(6000)).unwrap();
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        r#"{"jobId":"resumable","mode":"import","source":{"key":"incoming/big.csv"}}"#,
    )
    .unwrap();

    // Uninterrupted reference run.
    let reference = dir.path().join("reference");
    let out = migrate(
        &reference,
        &["upload", file.to_str().unwrap(), "incoming/big.csv"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Interrupted run: kill -9 once some chunk results exist, then run the same job again.
    let state = dir.path().join("interrupted");
    std::fs::create_dir_all(state.join("s3/migration-local/incoming")).unwrap();
    std::fs::copy(&file, state.join("s3/migration-local/incoming/big.csv")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "--json",
            "start",
            job.to_str().unwrap(),
        ])
        .env("MIGRATE_CHUNK_ROWS", "100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = state.join("s3/migration-local/jobs/resumable/results/chunks");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let done = std::fs::read_dir(&results).map(|d| d.count()).unwrap_or(0);
        if done >= 5 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = std::fs::read_dir(&results).map(|d| d.count()).unwrap_or(0);
    assert!(
        (5..60).contains(&partial),
        "killed mid-Process ({partial} of 60 chunks done)"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "--json",
            "start",
            job.to_str().unwrap(),
        ])
        .env("MIGRATE_CHUNK_ROWS", "100")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(
        v["counts"]["created"], 6000,
        "every row counted once as created: {v}"
    );
    assert_eq!(
        dump(&state),
        dump(&reference),
        "same tables as an uninterrupted run"
    );
    let commands = json(&migrate(&state, &["query", "command", "PRODUCT#dst"]));
    assert_eq!(
        commands.as_array().map(Vec::len),
        Some(6000),
        "no duplicate versions"
    );
}

#[test]
fn bench_runs_the_three_phases_and_reports_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("bench");
    let out = migrate(
        &dir.path().join("unused"),
        &[
            "--json",
            "bench",
            "--rows",
            "1200",
            "--dir",
            work.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let phases = &report["phases"];
    let counts: Vec<(u64, u64, u64)> = phases
        .as_array()
        .expect("one object per phase")
        .iter()
        .map(|p| {
            let c = &p["counts"];
            (
                c["created"].as_u64().unwrap_or(99),
                c["unchanged"].as_u64().unwrap_or(99),
                c["updated"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![(1200, 0, 0), (0, 1200, 0), (0, 1080, 120)],
        "import, unchanged re-run, every tenth row changed"
    );
    assert!(phases[0]["rowsPerSecond"].as_f64().unwrap_or(0.0) > 0.0);
    // Requests per row, counted at the table port: the import reads each key once in batches
    // of 100 and writes two items per row in transactions of 100 items; the unchanged re-run
    // only reads.
    let requests = |i: usize, op: &str| phases[i]["requests"][op]["requests"].as_u64();
    assert_eq!(requests(0, "TransactWriteItems"), Some(1200 * 2 / 100));
    assert_eq!(requests(1, "TransactWriteItems"), None, "nothing written");
    assert_eq!(
        requests(1, "BatchGetItem"),
        Some(2 * 1200 / 100),
        "Process and Verify each read every key once, 100 per request"
    );
    assert!(phases[0]["dbBytesPerRow"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(
        phases[0]["states"]["Transform"]["mbPerSecond"]
            .as_f64()
            .is_some()
    );
    assert!(report["baseline"]["seconds"].as_f64().is_some());
    // A given CSV: the same three jobs on it.
    let csv = dir.path().join("given.csv");
    std::fs::copy(work.join("bench.csv"), &csv).unwrap();
    let out = migrate(
        &dir.path().join("unused"),
        &[
            "--json",
            "bench",
            "--csv",
            csv.to_str().unwrap(),
            "--dir",
            work.to_str().unwrap(),
            "--no-baseline",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["input"]["rows"], 1200);
    // A fresh state: the first run's was moved aside (not reused), and deleted after the run.
    assert_eq!(report["phases"][0]["counts"]["created"], 1200);
    assert_eq!(report["phases"][2]["counts"]["updated"], 120);
    assert!(report["baseline"].is_null());
    let left: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("state"))
        .collect();
    assert_eq!(
        left,
        vec!["state".to_string()],
        "only this run's state is left"
    );
    let bad = migrate(dir.path(), &["bench", "--rows", "0"]);
    assert_eq!(bad.status.code(), Some(2), "zero rows is a usage error");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = dir.path().join("p.csv");
    std::fs::write(&file, csv(2000)).unwrap();
    assert_eq!(
        migrate(
            &state,
            &["upload", file.to_str().unwrap(), "incoming/p.csv"]
        )
        .status
        .code(),
        Some(0)
    );
    // `migrate query … | head -c 10`: far more output than a pipe buffers, reader gone early.
    let mut child = Command::new(env!("CARGO_BIN_EXE_migrate"))
        .arg("--state-dir")
        .arg(&state)
        .args(["query", "data", "PRODUCT#dst"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then dropped: closed
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// The jobs of the crash suite: an import of 600 rows, an update of every third row (history),
/// and a copy of the tenant (Export's pages), each a `migrate start` of its job document.
fn crash_suite_jobs(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut jobs = Vec::new();
    for (id, doc) in [
        (
            "imp",
            r#"{"jobId":"imp","mode":"import","source":{"key":"incoming/imp.csv"}}"#,
        ),
        (
            "upd",
            r#"{"jobId":"upd","mode":"import","source":{"key":"incoming/upd.csv"}}"#,
        ),
        (
            "copy",
            r#"{"jobId":"copy","mode":"copy-tenant","entityType":"PRODUCT","sourceTenant":"dst","targetTenant":"dst2"}"#,
        ),
    ] {
        let path = dir.join(format!("{id}.job.json"));
        std::fs::write(&path, doc).unwrap();
        jobs.push((id.to_string(), path));
    }
    jobs
}

fn crash_suite_state(dir: &Path, name: &str) -> std::path::PathBuf {
    let state = dir.join(name);
    let incoming = state.join("s3/migration-local/incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::write(incoming.join("imp.csv"), csv(600)).unwrap();
    let updated: String = csv(600)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i > 0 && i % 3 == 0 {
                format!("{}\n", l.replace("Name ", "Renamed "))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(incoming.join("upd.csv"), updated).unwrap();
    state
}

fn start(state: &Path, job: &Path, kill_at: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
    cmd.args(["--state-dir", state.to_str().unwrap(), "--json", "start"])
        .arg(job)
        .env("MIGRATE_CHUNK_ROWS", "100")
        .env("MIGRATE_RETRY_INTERVAL_SCALE", "0");
    if let Some(point) = kill_at {
        cmd.env("MIGRATE_KILL_AT", point);
    }
    cmd.output().unwrap()
}

/// SIGKILL at 13 points across Export, Transform, Process, the history stream and Verify (each
/// `MIGRATE_KILL_AT=<point>:<n>` makes a `migrate` process kill itself the n-th time it gets
/// there; every job that gets there is killed), then the same `migrate start` again: every job ends as in an uninterrupted run — the same
/// command, data and history rows (no version missing, none twice) and the same counts.
#[test]
fn killed_at_any_point_the_rerun_ends_with_the_tables_of_an_uninterrupted_run() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let jobs = crash_suite_jobs(dir.path());
    let reference = crash_suite_state(dir.path(), "reference");
    let mut expected_counts = Vec::new();
    for (id, job) in &jobs {
        let out = start(&reference, job, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        expected_counts.push(json(&out)["counts"].clone());
    }
    let partitions = ["PRODUCT#dst", "PRODUCT#dst2"];
    let expected = dump_partitions(&reference, &partitions);
    assert_eq!(
        expected.len(),
        600 + 200 + 600 + 600 + 600 + 200,
        "command, data, history rows"
    );

    for point in [
        "transform:chunk:1",
        "transform:chunk:4",
        "transform:done:1",
        "process:before-write:1",
        "process:after-write:3",
        "process:chunk-done:2",
        "history:delivered:1",
        "verify:start:1",
        "verify:done:1",
        "export:page:1",
        "export:page:2",
        "export:done:1",
        "process:after-write:6",
    ] {
        let state = crash_suite_state(dir.path(), &point.replace(':', "-"));
        let mut killed = 0;
        for ((id, job), want) in jobs.iter().zip(&expected_counts) {
            let out = start(&state, job, Some(point));
            // SIGKILL (SIGABRT only where the `kill` command is missing: see kill_points.rs).
            let out = if matches!(out.status.signal(), Some(9 | 6)) {
                killed += 1;
                start(&state, job, None) // the same command again resumes the job
            } else {
                out
            };
            assert_eq!(
                out.status.code(),
                Some(0),
                "{point} {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                &json(&out)["counts"],
                want,
                "{point} {id}: the counts of an uninterrupted run"
            );
        }
        // Each job is a process of its own: every job that gets to the point is killed there.
        assert!(killed >= 1, "{point}: the process was killed there");
        assert!(
            dump_partitions(&state, &partitions) == expected,
            "{point}: the tables differ from an uninterrupted run"
        );
    }
}

/// Two `migrate` processes on one state directory, each running a job over the same 1,200
/// entities side by side: one renames them, the other renames them the same way and adds an
/// attribute. Both finish and verify; every row of each job is written, unchanged or reported
/// as a conflict (none failed); each job's counts are the versions it published; no version is
/// lost or doubled (every entity's data row is at the version its command rows reach, with
/// every earlier version in history); and the added attribute is missing from exactly as many
/// entities as the second job reported conflicts — no write was silently overwritten.
#[test]
fn two_processes_on_one_state_dir_lose_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let state = crash_suite_state(dir.path(), "shared");
    // 1,200 rows in chunks of 50 on both sides: long enough that the two processes overlap.
    std::fs::write(state.join("s3/migration-local/incoming/imp.csv"), csv(1200)).unwrap();
    let jobs = crash_suite_jobs(dir.path());
    let out = start(&state, &jobs[0].1, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let incoming = state.join("s3/migration-local/incoming");
    let renamed = csv(1200).replace("Name ", "A-name ");
    let with_m: String = renamed
        .lines()
        .map(|l| format!("{}\n", l.replace("{\"\"n\"\":", "{\"\"m\"\":1,\"\"n\"\":")))
        .collect();
    std::fs::write(incoming.join("a.csv"), &renamed).unwrap();
    std::fs::write(incoming.join("b.csv"), &with_m).unwrap();
    let mut children = Vec::new();
    for id in ["a", "b"] {
        let job = dir.path().join(format!("{id}.job.json"));
        std::fs::write(
            &job,
            format!(
                r#"{{"jobId":"{id}","mode":"import","source":{{"key":"incoming/{id}.csv"}},"toleratedFailurePercentage":100}}"#
            ),
        )
        .unwrap();
        children.push((
            id,
            Command::new(env!("CARGO_BIN_EXE_migrate"))
                .args(["--state-dir", state.to_str().unwrap(), "--json", "start"])
                .arg(&job)
                .env("MIGRATE_CHUNK_ROWS", "50")
                .env("MIGRATE_RETRY_INTERVAL_SCALE", "0")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        ));
    }
    let mut counts = std::collections::BTreeMap::new();
    for (id, child) in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out);
        let c = v["counts"].clone();
        let n = |k: &str| c[k].as_u64().unwrap_or(u64::MAX);
        assert_eq!(n("failed"), 0, "{id}: {v}");
        assert_eq!(
            n("created") + n("updated") + n("unchanged") + n("conflicts"),
            1200,
            "{id}: every row written, unchanged or a conflict: {v}"
        );
        counts.insert(id, c);
    }
    eprintln!("side by side: {counts:?}");
    // The two jobs did run side by side: their Process phases (first chunk started to last
    // chunk finished, from the chunk results) overlap.
    let span = |id: &str| {
        let dir = state.join(format!("s3/migration-local/jobs/{id}/results/chunks"));
        let (mut first, mut last) = (u64::MAX, 0u64);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            first = first.min(r["startedMs"].as_u64().unwrap());
            last = last.max(r["finishedMs"].as_u64().unwrap());
        }
        (first, last)
    };
    let ((a0, a1), (b0, b1)) = (span("a"), span("b"));
    assert!(
        a0 <= b1 && b0 <= a1,
        "the two jobs' writes overlapped in time: a {a0}..{a1}, b {b0}..{b1}"
    );
    let n = |id: &str, k: &str| counts[id][k].as_u64().unwrap_or(u64::MAX);
    let commands = json(&migrate(&state, &["query", "command", "PRODUCT#dst"]));
    let commands = commands.as_array().unwrap();
    for id in ["a", "b"] {
        let source = format!("migration:{id}");
        let versions = commands
            .iter()
            .filter(|c| c["source"] == source.as_str())
            .count() as u64;
        assert_eq!(
            versions,
            n(id, "created") + n(id, "updated"),
            "job {id}: counts are the versions it published"
        );
    }
    let data = json(&migrate(&state, &["query", "data", "PRODUCT#dst"]));
    let data = data.as_array().unwrap();
    assert_eq!(data.len(), 1200);
    assert!(
        data.iter()
            .all(|r| r["name"].as_str().is_some_and(|n| n.starts_with("A-name "))),
        "every entity renamed (by one job or the other)"
    );
    let without_m = data
        .iter()
        .filter(|r| r["attributes"]["m"].is_null())
        .count() as u64;
    assert_eq!(
        without_m,
        n("b", "conflicts"),
        "an attribute is missing only where a conflict was reported"
    );
    let history = json(&migrate(&state, &["query", "history", "PRODUCT#dst"]));
    let history = history.as_array().unwrap();
    for row in data {
        let sk = row["sk"].as_str().unwrap();
        let version = row["version"].as_u64().unwrap();
        let of_entity = |items: &[serde_json::Value]| {
            let mut v: Vec<u64> = items
                .iter()
                .filter(|c| {
                    c["sk"]
                        .as_str()
                        .is_some_and(|s| s.split('@').next() == Some(sk))
                })
                .filter_map(|c| c["version"].as_u64())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            of_entity(commands),
            (1..=version).collect::<Vec<_>>(),
            "{sk}: one command row per version up to the data row's"
        );
        assert_eq!(
            of_entity(history),
            (1..version).collect::<Vec<_>>(),
            "{sk}: every earlier version in history"
        );
    }
}
