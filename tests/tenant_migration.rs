//! The framework's tenant migration guide end to end through the embedded pipeline: a
//! table-wide `normalize-tenant` (parallel scan in the state machine's `ExportSegments` Map),
//! its verification by the dual read, the RDS statements of its report, a re-run that finds
//! nothing, and the rollback that restores the table.

use std::collections::BTreeMap;

use integration_tests::local::{job_record, pipeline, run_checked, upload_and_run};
use serde_json::json;
use shared::asl::ExecutionStatus;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::model::EntityRow;
use shared::ports::objects::get_bytes;
use shared::ports::table::ScanItems;
use shared::value::Item;

const TYPES: [&str; 6] = [
    "PRODUCT", "ORDER", "CUSTOMER", "INVOICE", "STOCK", "SHIPMENT",
];
/// Four already lowercase, four uppercase, four mixed-case tenants (all distinct once lowercased).
const TENANTS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "ECHO", "FOXTROT", "GOLF", "HOTEL", "India", "Juliet",
    "Kilo_Co", "Lima",
];
const PER_PARTITION: usize = 42; // 6 × 12 × 42 = 3,024 items

fn has_upper(tenant: &str) -> bool {
    tenant.chars().any(char::is_uppercase)
}

/// Every item of the data table by (pk, sk), through the port's parallel scan.
async fn data_table(p: &LocalPipeline) -> BTreeMap<(String, String), EntityRow> {
    let mut out = BTreeMap::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let page = p
                .tables
                .scan("data", segment, 3, start.as_ref(), 700)
                .await
                .unwrap();
            for item in &page.items {
                let e = EntityRow::from_data_item(item).unwrap();
                out.insert((e.pk.to_string(), e.sk.to_string()), e);
            }
            match page.next {
                Some(n) => start = Some(n),
                None => break,
            }
        }
    }
    out
}

async fn command_count(p: &LocalPipeline) -> usize {
    let mut n = 0;
    let mut start = None;
    loop {
        let page: shared::ports::table::Page = p
            .tables
            .scan("command", 0, 1, start.as_ref(), 1000)
            .await
            .unwrap();
        n += page.items.len();
        match page.next {
            Some(k) => start = Some(k),
            None => return n,
        }
    }
}

/// The live entities as (pk, sk) → (name, attributes without metadata).
fn live_content(
    table: &BTreeMap<(String, String), EntityRow>,
) -> BTreeMap<(String, String), (String, Item)> {
    table
        .iter()
        .filter(|(_, e)| !e.is_deleted)
        .map(|(k, e)| {
            let attributes = e
                .attributes
                .iter()
                .filter(|(name, _)| !name.starts_with('_'))
                .map(|(k, v)| (k.to_string().into(), v.clone()))
                .collect();
            (k.clone(), (e.name.to_string(), attributes))
        })
        .collect()
}

async fn seed(p: &LocalPipeline) {
    let mut csv =
        String::from("sourcePk,sourceSk,code,name,attributes,targetTenantCode,isDeleted\n");
    for ty in TYPES {
        for tenant in TENANTS {
            for i in 0..PER_PARTITION {
                // Every seventh entity is soft-deleted: a normalize leaves it where it is.
                let deleted = i % 7 == 3;
                csv.push_str(&format!(
                    "{ty}#{tenant},E{i:04},E{i:04},{ty} {i},\"{{\"\"n\"\":{i},\"\"tags\"\":[\"\"a\"\"]}}\",,{deleted}\n"
                ));
            }
        }
    }
    let (status, out) =
        upload_and_run(p, "incoming/seed.csv", &csv, json!({"jobId": "seed"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["created"], 3024, "{out}");
}

#[tokio::test]
async fn table_wide_normalize_leaves_no_live_uppercase_item_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    seed(&p).await;
    let before = data_table(&p).await;
    assert_eq!(before.len(), 3024);
    let live_upper: usize = before
        .values()
        .filter(|e| !e.is_deleted && has_upper(&e.tenant_code))
        .count();
    assert_eq!(
        live_upper,
        6 * 8 * 36,
        "8 tenants with capitals, 36 live entities each"
    );

    // One type first: `entityType` without `sourceTenant` scopes the scan to that type.
    let r = run_checked(
        &p,
        "norm-stock",
        json!({"jobId": "norm-stock", "mode": "normalize-tenant", "entityType": "STOCK"}),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["created"], 8 * 36);

    // Then the whole table: one job document for every type and tenant.
    let r = run_checked(
        &p,
        "norm-all",
        json!({"jobId": "norm-all", "mode": "normalize-tenant", "rdsTables": ["orders"]}),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    let out = r.output.unwrap();
    assert_eq!(out["counts"]["created"], 5 * 8 * 36, "{out}");
    assert_eq!(out["verification"]["success"], true, "{out}");
    assert_eq!(out["verification"]["extraCount"], 0, "{out}");

    let after = data_table(&p).await;
    for ((pk, sk), e) in &after {
        let tenant = pk.rsplit_once('#').unwrap().1;
        if e.is_deleted {
            continue;
        }
        assert!(!has_upper(tenant), "live uppercase item left: {pk} / {sk}");
        // Every live item's id, cpk, csk and tenantCode agree with its key.
        assert_eq!(e.id, format!("{pk}#{sk}"));
        assert_eq!(e.tenant_code, tenant);
        assert_eq!(e.cpk.as_deref(), Some(pk.as_str()));
        assert_eq!(
            e.csk.as_deref(),
            Some(format!("{sk}@{}", e.version).as_str())
        );
    }
    for ((pk, sk), old) in before.iter().filter(|(_, e)| has_upper(&e.tenant_code)) {
        let now = &after[&(pk.clone(), sk.clone())];
        if old.is_deleted {
            assert_eq!(
                now.version, old.version,
                "a soft-deleted item is left alone: {pk} / {sk}"
            );
            continue;
        }
        let new_pk = pk
            .rsplit_once('#')
            .map(|(t, c)| format!("{t}#{}", c.to_lowercase()))
            .unwrap();
        assert!(now.is_deleted, "the old item is soft-deleted: {pk} / {sk}");
        assert!(
            matches!(now.attributes.get("_migratedTo"), Some(shared::value::AttributeValue::S(to)) if *to == format!("{new_pk}#{sk}")),
            "{pk} / {sk}: _migratedTo"
        );
        assert_eq!(after[&(new_pk, sk.clone())].name, old.name);
    }

    // The report holds the RDS statements for every tenant the scan found.
    let md = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/norm-all/report.md")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        md.contains("UPDATE orders SET tenant_code = LOWER(tenant_code) WHERE tenant_code <> LOWER(tenant_code) AND tenant_code IN ('ECHO', 'FOXTROT', 'GOLF', 'HOTEL', 'India', 'Juliet', 'Kilo_Co', 'Lima');"),
        "{md}"
    );

    // The same job again finds nothing and writes nothing.
    let commands = command_count(&p).await;
    let r = run_checked(
        &p,
        "norm-again",
        json!({"jobId": "norm-again", "mode": "normalize-tenant"}),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["total"], 0);
    assert_eq!(command_count(&p).await, commands, "a re-run writes nothing");

    // Rolling back both jobs restores the live entities exactly.
    for job in ["norm-all", "norm-stock"] {
        let r = run_checked(
            &p,
            &format!("rollback-{job}"),
            json!({"jobId": format!("rollback-{job}"), "mode": "rollback", "rollbackOf": job}),
        )
        .await;
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{job}: {:?}", r.cause);
    }
    let restored = data_table(&p).await;
    assert_eq!(live_content(&restored), live_content(&before));
    let record = job_record(&p, "rollback-norm-all").await.unwrap();
    assert_eq!(record["counts"]["conflicts"], 0, "{record}");
}

#[tokio::test]
async fn a_table_wide_dry_run_reports_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    seed(&p).await;
    let commands = command_count(&p).await;
    let r = run_checked(
        &p,
        "norm-dry",
        json!({"jobId": "norm-dry", "mode": "normalize-tenant", "dryRun": true}),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["created"], 6 * 8 * 36);
    assert_eq!(
        command_count(&p).await,
        commands,
        "a dry run writes nothing"
    );
    // targetTenant makes no sense without sourceTenant: refused before anything runs.
    let r = p
        .run(
            "norm-bad",
            json!({"jobId": "norm-bad", "mode": "normalize-tenant", "targetTenant": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert!(
        r.cause
            .unwrap_or_default()
            .contains("targetTenant needs a sourceTenant")
    );
}

/// The app's users, with tenants in both spellings and roles JSON; one has broken roles.
fn app_users() -> Vec<shared::ports::users::User> {
    let mut users: Vec<shared::ports::users::User> = (0..119)
        .map(|i| shared::ports::users::User {
            username: format!("user{i:03}"),
            attributes: [
                (
                    "custom:tenant".to_string(),
                    ["ACME", "acme", "Beta_Co"][i % 3].to_string(),
                ),
                (
                    "custom:roles".to_string(),
                    format!(
                        r#"[{{"role":"admin","tenant":"{}"}},{{"role":"user","tenant":"common"}}]"#,
                        ["ACME", "acme", "Beta_Co"][i % 3]
                    ),
                ),
                ("email".to_string(), format!("User{i}@Example.com")),
            ]
            .into_iter()
            .collect(),
        })
        .collect();
    users.push(shared::ports::users::User {
        username: "broken".into(),
        attributes: [
            ("custom:tenant".to_string(), "ACME".to_string()),
            ("custom:roles".to_string(), "[{\"tenant\": ".to_string()),
        ]
        .into_iter()
        .collect(),
    });
    users
}

async fn all_users(
    d: &dyn shared::ports::UserDirectory,
    pool: &str,
) -> Vec<shared::ports::users::User> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = d.list_users(pool, token.as_deref(), 60).await.unwrap();
        out.extend(page.users);
        match page.next {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

#[tokio::test]
async fn normalize_users_lowercases_tenants_reports_broken_roles_and_reruns_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let pool = "us-east-1_local";
    let directory = shared::embedded::TableUsers::new(p.tables.clone());
    for user in app_users() {
        directory.put_user(pool, &user).await.unwrap();
    }
    let before = all_users(&directory, pool).await;

    // Under the default tolerance, one broken user fails the job before anything is written.
    let r = run_checked(
        &p,
        "users-strict",
        json!({"jobId": "users-strict", "mode": "normalize-users", "userPoolId": pool}),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert!(r.cause.unwrap_or_default().contains("nothing was written"));
    assert_eq!(all_users(&directory, pool).await, before);
    let strict = job_record(&p, "users-strict").await.unwrap();
    assert_eq!(
        strict["counts"]["updated"], 0,
        "counts claim no write: {strict}"
    );
    assert_eq!(strict["counts"]["rejected"], 1, "{strict}");

    // A dry run counts what it would change and writes nothing.
    let dry = json!({"jobId": "users-dry", "mode": "normalize-users", "userPoolId": pool, "dryRun": true, "toleratedFailurePercentage": 1});
    let r = run_checked(&p, "users-dry", dry).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    let counts = &r.output.as_ref().unwrap()["counts"];
    // 119 users: a third already lowercase in both places; the broken one is rejected.
    assert_eq!(
        (
            counts["updated"].as_u64(),
            counts["unchanged"].as_u64(),
            counts["rejected"].as_u64()
        ),
        (Some(79), Some(40), Some(1)),
        "{counts}"
    );
    assert_eq!(all_users(&directory, pool).await, before);

    let run = json!({"jobId": "users-run", "mode": "normalize-users", "userPoolId": pool, "toleratedFailurePercentage": 1});
    let r = run_checked(&p, "users-run", run).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(
        r.output.as_ref().unwrap()["counts"],
        *counts,
        "the dry run's counts are the run's"
    );
    // Counts are facts: exactly the users it reports as updated changed.
    let after = all_users(&directory, pool).await;
    let changed = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert_eq!(changed, 79);
    for user in all_users(&directory, pool).await {
        let tenant = &user.attributes["custom:tenant"];
        if user.username == "broken" {
            assert_eq!(tenant, "ACME", "a broken user is left alone");
            continue;
        }
        assert_eq!(*tenant, tenant.to_lowercase());
        let roles: serde_json::Value =
            serde_json::from_str(&user.attributes["custom:roles"]).unwrap();
        assert_eq!(roles[0]["tenant"], tenant.as_str());
        assert_eq!(roles[1]["tenant"], "common");
        assert!(
            user.attributes["email"].starts_with("User"),
            "other attributes untouched"
        );
    }
    let md = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/users-run/report.md")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(md.contains("user broken: custom:roles is not JSON"), "{md}");

    // Again: nothing left to change.
    let again = json!({"jobId": "users-again", "mode": "normalize-users", "userPoolId": pool, "toleratedFailurePercentage": 1});
    let r = run_checked(&p, "users-again", again).await;
    assert_eq!(r.output.as_ref().unwrap()["counts"]["updated"], 0);
}
