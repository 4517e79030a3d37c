//! The bad-input corpus: CSVs, job documents, keys, numbers, JSON, encodings and limits that
//! must be refused through `migrate`, each with its exit code, an error naming the line, field
//! and reason, and zero writes (DESIGN §5: a migration is all or nothing at validation).

use std::path::Path;
use std::process::{Command, Output};

const HEADER: &str = "sourcePk,sourceSk,code,name,attributes,targetTenantCode";
/// Every CSV case starts with this good row (line 2): it must not be written either.
const GOOD: &str = "PRODUCT#SRC,G1,G1,good,{},dst";

fn migrate(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
    cmd.arg("--state-dir").arg(state).args(args);
    cmd.env("MIGRATE_RETRY_INTERVAL_SCALE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run migrate")
}

/// Nothing was written to the command or data table of the state dir.
fn assert_no_writes(state: &Path, case: &str) {
    for table in ["command", "data"] {
        for pk in ["PRODUCT#dst", "PRODUCT#SRC", "PRODUCT#src"] {
            let out = migrate(state, &["query", table, pk], &[]);
            let items: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{case}: query output: {e}"));
            assert_eq!(
                items,
                serde_json::json!([]),
                "{case}: {table} {pk} must be empty"
            );
        }
    }
}

/// A CSV case: `rows` follow the header (and the good row unless `raw`); the upload must fail
/// with exit 1, and rejected.csv (or stderr, for file-level errors) must name `expect`.
struct CsvCase {
    name: &'static str,
    body: Vec<u8>,
    expect: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
}

fn csv_case(name: &'static str, bad_row: &str, line: u64, column: &str, reason: &str) -> CsvCase {
    CsvCase {
        name,
        body: format!("{HEADER}\n{GOOD}\n{bad_row}\n").into_bytes(),
        expect: vec![format!("{line},{column},"), reason.to_string()],
        env: vec![],
    }
}

fn file_case(name: &'static str, body: &[u8], reason: &str) -> CsvCase {
    CsvCase {
        name,
        body: body.to_vec(),
        expect: vec![reason.to_string()],
        env: vec![],
    }
}

fn nested(depth: usize) -> String {
    format!(
        "\"{{\"\"a\"\":{}1{}}}\"",
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

fn csv_cases() -> Vec<CsvCase> {
    let long_sk = "s".repeat(1020);
    let long_tenant = "t".repeat(2045);
    let big_attr = format!("\"{{\"\"blob\"\":\"\"{}\"\"}}\"", "x".repeat(409_300));
    let big_name = "n".repeat(10 * 1024 * 1024);
    let mut cases = vec![
        // The header: the job fails before anything is read further.
        file_case(
            "header without attributes",
            b"sourcePk,sourceSk,code,name,targetTenantCode\nA#b,c,d,e,f\n",
            "attributes",
        ),
        file_case(
            "header with an unknown column",
            format!("{HEADER},colour\n{GOOD},red\n").as_bytes(),
            "colour",
        ),
        file_case(
            "header with a column twice",
            format!("{HEADER},code\n{GOOD},G1\n").as_bytes(),
            "code",
        ),
        file_case("an empty file", b"", "header"),
        // Records.
        csv_case(
            "too few fields",
            "PRODUCT#SRC,B1,B1,bad,{}",
            3,
            "",
            "fields but the header has 6",
        ),
        csv_case(
            "too many fields",
            "PRODUCT#SRC,B1,B1,bad,{},dst,extra",
            3,
            "",
            "fields but the header has 6",
        ),
        csv_case(
            "a stray quote",
            "PRODUCT#SRC,B1,B1,\"bad\"x,{},dst",
            3,
            "name",
            "quote",
        ),
        // attributes JSON.
        csv_case(
            "attributes not JSON",
            "PRODUCT#SRC,B1,B1,bad,{nope},dst",
            3,
            "attributes",
            "JSON",
        ),
        csv_case(
            "attributes an array",
            "PRODUCT#SRC,B1,B1,bad,[1],dst",
            3,
            "attributes",
            "object",
        ),
        csv_case(
            "attributes empty",
            "PRODUCT#SRC,B1,B1,bad,,dst",
            3,
            "attributes",
            "is empty",
        ),
        csv_case(
            "attributes with a key twice",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"a\"\":1,\"\"a\"\":2}\",dst",
            3,
            "attributes",
            "appears twice",
        ),
        csv_case(
            "attributes nested 33 deep",
            &format!("PRODUCT#SRC,B1,B1,bad,{},dst", nested(33)),
            3,
            "attributes",
            "32 levels",
        ),
        csv_case(
            "attributes nested 1000 deep",
            &format!("PRODUCT#SRC,B1,B1,bad,{},dst", nested(1000)),
            3,
            "attributes",
            "",
        ),
        csv_case(
            "an s3 pointer as attributes",
            "PRODUCT#SRC,B1,B1,bad,s3://b/k.json,dst",
            3,
            "attributes",
            "s3://",
        ),
        // Numbers.
        csv_case(
            "a number of 39 digits",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"n\"\":123456789012345678901234567890123456789}\",dst",
            3,
            "attributes",
            "38 significant digits",
        ),
        csv_case(
            "a number over DynamoDB's range",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"n\"\":1E+126}\",dst",
            3,
            "attributes",
            "larger than DynamoDB allows",
        ),
        csv_case(
            "an integer over 2^53-1",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"n\"\":9007199254740993}\",dst",
            3,
            "attributes",
            "attributes.n: number 9007199254740993",
        ),
        csv_case(
            "a decimal float64 cannot hold",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"m\"\":{\"\"n\"\":12345678901234567890.12345}}\",dst",
            3,
            "attributes",
            "attributes.m.n",
        ),
        csv_case(
            "an unsafe number in a list",
            "PRODUCT#SRC,B1,B1,bad,\"{\"\"l\"\":[1,1.5E+30]}\",dst",
            3,
            "attributes",
            "attributes.l[1]",
        ),
        // Keys.
        csv_case(
            "sourcePk without a tenant",
            "PRODUCT,B1,B1,bad,{},dst",
            3,
            "sourcePk",
            "TYPE#tenantCode",
        ),
        csv_case(
            "sourcePk empty",
            ",B1,B1,bad,{},dst",
            3,
            "sourcePk",
            "is empty",
        ),
        csv_case(
            "sourceSk empty",
            "PRODUCT#SRC,,B1,bad,{},dst",
            3,
            "sourceSk",
            "is empty",
        ),
        csv_case(
            "sourceSk with the version separator",
            "PRODUCT#SRC,B1@2,B1,bad,{},dst",
            3,
            "sourceSk",
            "'@'",
        ),
        csv_case(
            "sourceSk with a leading space",
            "PRODUCT#SRC, B1,B1,bad,{},dst",
            3,
            "sourceSk",
            "whitespace",
        ),
        csv_case(
            "code empty",
            "PRODUCT#SRC,B1,,bad,{},dst",
            3,
            "code",
            "is empty",
        ),
        csv_case(
            "targetTenantCode with '#'",
            "PRODUCT#SRC,B1,B1,bad,{},d#st",
            3,
            "targetTenantCode",
            "'#'",
        ),
        csv_case(
            "sourceSk with a newline",
            "PRODUCT#SRC,\"B\n1\",B1,bad,{},dst",
            3,
            "sourceSk",
            "U+000A",
        ),
        csv_case(
            "sourceSk over 1,024 bytes as a command key",
            &format!("PRODUCT#SRC,{long_sk},B1,bad,{{}},dst"),
            3,
            "sourceSk",
            "more than DynamoDB's 1024",
        ),
        csv_case(
            "pk over 2,048 bytes",
            &format!("PRODUCT#SRC,B1,B1,bad,{{}},{long_tenant}"),
            3,
            "targetTenantCode",
            "more than DynamoDB's 2048",
        ),
        csv_case(
            "the same key twice",
            "PRODUCT#SRC,G1,G1,again,{},dst",
            3,
            "sourceSk",
            "like line 2",
        ),
        csv_case(
            "two sources, one target",
            "PRODUCT#OTHER,G1,G1,other,{},dst",
            3,
            "sourceSk",
            "like line 2",
        ),
        // Other columns.
        csv_case(
            "a 10 MB name",
            &format!("PRODUCT#SRC,B1,B1,{big_name},{{}},dst"),
            3,
            "attributes",
            "400 KB",
        ),
    ];
    // A byte order mark in the middle of the file (two files concatenated).
    cases.push(file_case(
        "a BOM inside the file",
        format!("{HEADER}\n{GOOD}\n\u{feff}PRODUCT#SRC,B1,B1,bad,{{}},dst\n").as_bytes(),
        "U+FEFF",
    ));
    // Invalid UTF-8 in a field.
    let mut bytes = format!("{HEADER}\n{GOOD}\nPRODUCT#SRC,B1,B1,").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b",{},dst\n");
    cases.push(file_case("invalid UTF-8 in a field", &bytes, "UTF-8"));
    // An item over 400 KB where the app's limit keeps the attributes in the item.
    cases.push(CsvCase {
        env: vec![("ATTRIBUTE_LIMIT_SIZE", "409600")],
        ..csv_case(
            "an item over 400 KB",
            &format!("PRODUCT#SRC,B1,B1,bad,{big_attr},dst"),
            3,
            "attributes",
            "400 KB",
        )
    });
    // Optional columns.
    let opt = |name: &'static str, col: &str, value: &str, reason: &str| CsvCase {
        name,
        body: format!("{HEADER},{col}\n{GOOD},\nPRODUCT#SRC,B1,B1,bad,{{}},dst,{value}\n")
            .into_bytes(),
        expect: vec![format!("3,{col},"), reason.to_string()],
        env: vec![],
    };
    cases.extend([
        opt(
            "version not a number",
            "version",
            "abc",
            "not a version number",
        ),
        opt("version zero", "version", "0", "not a version number"),
        opt(
            "isDeleted not a boolean",
            "isDeleted",
            "yes",
            "not true or false",
        ),
        opt("seq not a number", "seq", "x1", "not a decimal number"),
        opt(
            "seq over 2^53-1",
            "seq",
            "9007199254740993",
            "beyond what JavaScript",
        ),
        opt("ttl a decimal", "ttl", "1.5", "not epoch seconds"),
        opt("ttl negative", "ttl", "-5", "not epoch seconds"),
        opt("type with a trailing space", "type", "ITEM ", "whitespace"),
        opt(
            "type with a zero-width space",
            "type",
            "IT\u{200b}EM",
            "U+200B",
        ),
    ]);
    cases
}

#[test]
fn bad_csv_rows_fail_the_job_before_any_write_naming_line_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = csv_cases();
    assert!(cases.len() >= 40, "{} CSV cases", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let state = dir.path().join(format!("s{i}"));
        let file = dir.path().join(format!("c{i}.csv"));
        std::fs::write(&file, &case.body).unwrap();
        let out = migrate(
            &state,
            &[
                "--json",
                "upload",
                file.to_str().unwrap(),
                "incoming/case.csv",
            ],
            &case.env,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: exit code; stderr: {stderr}",
            case.name
        );
        let output: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: output not JSON ({e}): {stderr}", case.name));
        assert_eq!(output["status"], "FAILED", "{}", case.name);
        assert_eq!(output["counts"]["created"], 0, "{}", case.name);
        let key = output["rejectedKey"].as_str().unwrap();
        let rejected = migrate(&state, &["cat", key], &[]);
        let rejected = String::from_utf8_lossy(&rejected.stdout);
        let said = format!("{rejected}\n{stderr}");
        for fragment in &case.expect {
            assert!(
                said.contains(fragment.as_str()),
                "{}: expected {fragment:?} in:\n{}",
                case.name,
                said.chars().take(2000).collect::<String>()
            );
        }
        assert_no_writes(&state, case.name);
    }
}

#[test]
fn bad_job_documents_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    let csv = dir.path().join("ok.csv");
    std::fs::write(&csv, format!("{HEADER}\n{GOOD}\n")).unwrap();
    let put = migrate(
        &state,
        &["upload", csv.to_str().unwrap(), "data/ok.csv"],
        &[],
    );
    assert_eq!(put.status.code(), Some(0));
    let src = r#""source":{"key":"data/ok.csv"}"#;
    let cases: Vec<(&str, String, i32, &str)> = vec![
        (
            "an array",
            format!(r#"[{{"mode":"import",{src}}}]"#),
            2,
            "must be a JSON object (one job), not an array",
        ),
        (
            "a field twice",
            format!(r#"{{"mode":"import",{src},"mode":"copy-tenant"}}"#),
            2,
            "duplicate field `mode`",
        ),
        (
            "a nested field twice",
            r#"{"mode":"import","source":{"key":"a","key":"b"}}"#.into(),
            2,
            "source: duplicate field `key`",
        ),
        (
            "a tolerance that is text",
            format!(r#"{{"mode":"import",{src},"toleratedFailurePercentage":"abc"}}"#),
            2,
            "toleratedFailurePercentage: invalid type",
        ),
        (
            "a tolerance over 100",
            format!(r#"{{"mode":"import",{src},"toleratedFailurePercentage":101}}"#),
            2,
            "toleratedFailurePercentage 101",
        ),
        (
            "an unknown field",
            format!(r#"{{"mode":"import",{src},"colour":"red"}}"#),
            2,
            "unknown field `colour`",
        ),
        (
            "an unknown mode",
            format!(r#"{{"mode":"merge",{src}}}"#),
            2,
            "unknown variant `merge`",
        ),
        (
            "import without source",
            r#"{"mode":"import"}"#.into(),
            2,
            "requires source",
        ),
        (
            "copy-tenant without tenants",
            r#"{"mode":"copy-tenant","entityType":"PRODUCT"}"#.into(),
            2,
            "requires sourceTenant, targetTenant",
        ),
        (
            "a job id with a space",
            format!(r#"{{"mode":"import",{src},"jobId":"my job"}}"#),
            2,
            "jobId",
        ),
        (
            "a framework version that is no version",
            format!(r#"{{"mode":"import",{src},"appFrameworkVersion":"latest"}}"#),
            2,
            "appFrameworkVersion",
        ),
        (
            "an unknown number policy",
            format!(r#"{{"mode":"import",{src},"unsafeNumbers":"round"}}"#),
            2,
            "unsafeNumbers: unknown variant `round`",
        ),
        (
            "an unknown publish mode",
            format!(r#"{{"mode":"import",{src},"publishMode":"later"}}"#),
            2,
            "publishMode: unknown variant `later`",
        ),
        (
            "an operation with a missing field",
            r#"{"mode":"transform","entityType":"P","sourceTenant":"t","operations":[{"op":"rename","from":"a"}]}"#.to_string(),
            2,
            "missing field `to`",
        ),
        (
            "direct mode on core 1.1.3",
            format!(r#"{{"mode":"import",{src},"appFrameworkVersion":"1.1.3"}}"#),
            1,
            "syncMode notExists",
        ),
        ("not JSON", "{mode: import}".into(), 2, "not JSON"),
    ];
    for (name, text, code, fragment) in cases {
        let file = dir.path().join("job.json");
        std::fs::write(&file, &text).unwrap();
        let out = migrate(&state, &["start", file.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains(fragment),
            "{name}: expected {fragment:?} in {stderr}"
        );
        assert_no_writes(&state, name);
    }
}

#[test]
fn an_object_key_longer_than_s3_allows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    let csv = dir.path().join("ok.csv");
    std::fs::write(&csv, format!("{HEADER}\n{GOOD}\n")).unwrap();
    let key = format!(
        "incoming/{}/{}/{}/{}/{}.csv",
        "a".repeat(250),
        "b".repeat(250),
        "c".repeat(250),
        "d".repeat(250),
        "e".repeat(20)
    );
    let out = migrate(&state, &["upload", csv.to_str().unwrap(), &key], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("more than S3's 1024"), "{stderr}");
    assert_no_writes(&state, "long key");
}
