//! Property tests: the laws `mergeDeep` obeys, and "publish, then compare is EQUAL" through the
//! embedded store (what makes an unchanged re-run write nothing), for arbitrary attributes.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use shared::embedded::SqliteTables;
use shared::job::{AttributesMode, Mode, PublishMode};
use shared::keys::Key;
use shared::large_attributes::LargeAttributes;
use shared::merge::{is_merged_into, merge_deep};
use shared::migration_csv::MigrationRow;
use shared::model::EntityRow;
use shared::ports::table::{GetItem, TransactWrite};
use shared::publish::{
    Comparison, Outcome, Plan, PublishContext, TableNames, compare, is_unchanged, map_row, plan_row,
};
use shared::value::{AttributeValue, Attributes};

/// Keys from a small alphabet, so that two maps share keys often.
fn key() -> impl Strategy<Value = shared::value::Text> {
    prop::sample::select(vec!["a", "b", "c", "d", "name", "x_1"])
        .prop_map(shared::value::Text::from)
}

fn scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        any::<String>().prop_map(|s| AttributeValue::S(s.into())),
        (-1_000_000i64..1_000_000).prop_map(|n| AttributeValue::N(n.to_string().into())),
        (-1_000_000i64..1_000_000, 1u32..99).prop_map(|(i, f)| {
            // A decimal in DynamoDB's normal form (no trailing zero in the fraction).
            let f = format!("{f:02}");
            AttributeValue::N(format!("{i}.{}", f.trim_end_matches('0')).into())
        }),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null(true)),
    ]
}

fn value() -> impl Strategy<Value = AttributeValue> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            prop::collection::btree_map(key(), inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Attributes> {
    prop::collection::btree_map(key(), value(), 0..5)
}

fn as_map(a: &Attributes) -> AttributeValue {
    AttributeValue::M(a.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn merging_nothing_changes_nothing(a in attributes()) {
        prop_assert_eq!(merge_deep(&a, &Attributes::new()), a.clone());
        prop_assert_eq!(merge_deep(&Attributes::new(), &a), a);
    }

    #[test]
    fn merging_the_same_update_twice_is_merging_it_once(a in attributes(), b in attributes()) {
        let once = merge_deep(&a, &b);
        prop_assert_eq!(merge_deep(&once, &b), once);
    }

    #[test]
    fn every_key_is_kept_and_the_update_wins_outside_maps(a in attributes(), b in attributes()) {
        let merged = merge_deep(&a, &b);
        for k in a.keys().chain(b.keys()) {
            prop_assert!(merged.contains_key(k), "key {k} lost");
        }
        for (k, v) in &b {
            if !matches!(v, AttributeValue::M(_)) {
                prop_assert_eq!(&merged[k], v);
            }
        }
    }

    /// What Verify and compare rely on: when the stored attributes (here the result of a merge)
    /// contain the update, merging it again changes nothing.
    #[test]
    fn an_update_contained_in_the_stored_attributes_merges_to_them(a in attributes(), b in attributes()) {
        let stored = merge_deep(&a, &b);
        prop_assume!(is_merged_into(&as_map(&b), &as_map(&stored)));
        prop_assert_eq!(merge_deep(&stored, &b), stored);
    }
}

/// The context of job `job_id` (each run of a file is a job of its own: a job that meets its
/// own earlier write counts it as written, which is how a retried chunk keeps counts true).
fn context(job_id: &str, mode: AttributesMode) -> PublishContext {
    PublishContext {
        job_id: job_id.into(),
        mode: Mode::Import,
        moves_entities: false,
        attributes_mode: mode,
        publish_mode: PublishMode::Direct,
        now: "2026-11-25T10:00:00+00:00".into(),
        actor: "migrate".into(),
        tables: TableNames {
            command: "command".into(),
            data: "data".into(),
            history: "history".into(),
            jobs: "jobs".into(),
        },
        rollback_of: None,
        large_attributes: LargeAttributes {
            bucket: "bucket".into(),
            limit: 1_000_000,
        },
        master_data_table: None,
        writes: Arc::new(shared::write_budget::WriteMeter::new(None)),
    }
}

fn row(attributes: Attributes, name: String) -> MigrationRow {
    MigrationRow {
        line: 2,
        source_pk: "PRODUCT#SRC".into(),
        source_sk: "P1".into(),
        code: "P1".into(),
        name: name.into(),
        attributes,
        target_tenant_code: "dst".into(),
        ..MigrationRow::default()
    }
}

/// Plans `row` against the stored data row, writes what it plans, and says what it decided.
async fn publish(tables: &SqliteTables, ctx: &PublishContext, row: &MigrationRow) -> Outcome {
    let stored = tables
        .get_item("data", &Key::new("PRODUCT#dst", "P1"))
        .await
        .unwrap()
        .map(|item| EntityRow::from_data_item(&item).unwrap());
    match plan_row(row, stored.as_ref(), None, ctx, &HashMap::new()) {
        Plan::Done(o) => o.outcome,
        Plan::Write { outcome, puts } => {
            tables.transact_write(&puts).await.unwrap();
            outcome.outcome
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// A row published and read back from the store compares EQUAL: running it again writes
    /// nothing, in either attributes mode, after a first version and after an update.
    #[test]
    fn a_published_row_compares_equal_when_run_again(
        first in attributes(),
        second in attributes(),
        name in "[^\u{0}]{0,20}",
        merge in any::<bool>(),
    ) {
        let mode = if merge { AttributesMode::Merge } else { AttributesMode::Replace };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let tables = SqliteTables::in_memory().unwrap();
            let job = |n: u32| context(&format!("job-{n}"), mode);
            let one = row(first, name.clone());
            prop_assert_eq!(publish(&tables, &job(1), &one).await, Outcome::Created);
            prop_assert_eq!(publish(&tables, &job(2), &one).await, Outcome::Unchanged);
            let two = row(second, name);
            let outcome = publish(&tables, &job(3), &two).await;
            prop_assert!(matches!(outcome, Outcome::Updated | Outcome::Unchanged));
            prop_assert_eq!(publish(&tables, &job(4), &two).await, Outcome::Unchanged);
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Planning's shortcut for unchanged rows never calls a row unchanged that mapping it and
    /// comparing it with the stored entity would call changed, in both attributes modes,
    /// whatever the row sets. (It may send an unchanged row the long way: mergeDeep leaves a
    /// stored scalar in place of an object the row gives, which the shortcut does not count
    /// as contained.)
    #[test]
    fn unchanged_is_known_without_mapping(
        stored_attributes in attributes(),
        row_attributes in attributes(),
        same_name in any::<bool>(),
        deleted in prop::option::of(any::<bool>()),
        seq in prop::option::of(prop::sample::select(vec!["1", "2"])),
        ttl in prop::option::of(prop::sample::select(vec!["1700000000", "1800000000"])),
        merge in any::<bool>(),
        reuse in 0u8..3,
    ) {
        let mode = if merge { AttributesMode::Merge } else { AttributesMode::Replace };
        let ctx = context("job-1", mode);
        // Often the row holds what is stored (all of it, or some keys): the unchanged cases.
        let row_attributes = match reuse {
            0 => stored_attributes.clone(),
            1 => stored_attributes.iter().filter(|(k, _)| k.as_str() < "c").map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => row_attributes,
        };
        let mut first = row(stored_attributes, "n".into());
        first.seq = Some("1".into());
        first.ttl = Some("1700000000".into());
        let stored = map_row(&first, None, &ctx, None);
        let mut next = row(row_attributes, if same_name { "n".into() } else { "m".into() });
        next.is_deleted = deleted;
        next.seq = seq.map(Into::into);
        next.ttl = ttl.map(Into::into);
        let mapped = compare(&map_row(&next, Some(&stored), &ctx, None), Some(&stored), next.ttl.is_some());
        if is_unchanged(&next, &stored, &ctx) {
            prop_assert_eq!(mapped, Comparison::Equal);
        }
        // Every row that is the stored one exactly is recognised.
        if reuse == 0 && same_name && deleted != Some(true) && seq.is_none_or(|s| s == "1")
            && ttl.is_none_or(|t| t == "1700000000")
        {
            prop_assert!(is_unchanged(&next, &stored, &ctx));
        }
    }
}
