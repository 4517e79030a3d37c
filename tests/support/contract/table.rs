//! The table port contract (DESIGN §2), for SQLite and for DynamoDB (moto).

use shared::keys::Key;
use shared::ports::stream::{StreamEventName, StreamPosition, StreamReader};
use shared::ports::table::{CancellationReason, Condition, Put, Table, WriteError};
use shared::value::{Item, n, s};

pub fn item(pk: &str, sk: &str, version: u64, extra: &str) -> Item {
    let mut i = Item::new();
    i.insert("pk".into(), s(pk));
    i.insert("sk".into(), s(sk));
    i.insert("version".into(), n(version));
    i.insert("extra".into(), s(extra));
    i.insert(
        "big".into(),
        shared::value::AttributeValue::N("12345678901234567890123456789012345678".into()),
    );
    i
}

/// A batch get's items (in no given order) by sort key.
fn by_sk(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by(|x, y| {
        x.get("sk")
            .map(|v| format!("{v:?}"))
            .cmp(&y.get("sk").map(|v| format!("{v:?}")))
    });
    items
}

/// DynamoDB's limits: key lengths, nesting depth, item size. Both adapters refuse what AWS
/// refuses, with an invalid-request error that says which limit, and write nothing.
pub async fn check_limits(t: &dyn Table, table: &str) {
    use shared::error::StoreError;
    use shared::value::AttributeValue;
    let refused = |r: Result<(), WriteError>, what: &str, why: &str| match r {
        Err(WriteError::Store(StoreError::InvalidRequest(m))) => {
            assert!(m.contains(why), "{what}: {m}")
        }
        other => panic!("{what} must be refused as an invalid request: {other:?}"),
    };
    let at_limit = item("P#limits", &"s".repeat(1024), 1, "x");
    t.put_item(Put::new(table, at_limit, Condition::None))
        .await
        .unwrap();
    let long_sk = item("P#limits", &"s".repeat(1025), 1, "x");
    refused(
        t.put_item(Put::new(table, long_sk, Condition::None)).await,
        "an sk of 1,025 bytes",
        "sk is 1025 bytes",
    );
    let long_pk = item(&format!("P#{}", "p".repeat(2047)), "a", 1, "x");
    refused(
        t.put_item(Put::new(table, long_pk.clone(), Condition::None))
            .await,
        "a pk of 2,049 bytes",
        "pk is 2049 bytes",
    );
    refused(
        t.transact_write(&[Put::new(table, long_pk, Condition::None)])
            .await,
        "a pk of 2,049 bytes in a transaction",
        "pk is 2049 bytes",
    );
    let mut deep = item("P#limits", "deep", 1, "x");
    let mut v = AttributeValue::N("1".into());
    for _ in 0..33 {
        v = AttributeValue::L(vec![v]);
    }
    deep.insert("nested".into(), v);
    refused(
        t.put_item(Put::new(table, deep.clone(), Condition::None))
            .await,
        "33 levels of nesting",
        "32 levels",
    );
    let mut big = item("P#limits", "big", 1, "x");
    big.insert("blob".into(), s("x".repeat(400 * 1024)));
    refused(
        t.put_item(Put::new(table, big.clone(), Condition::None))
            .await,
        "an item over 400 KB",
        "400 KB",
    );
    // In a transaction (the DynamoDB adapter measures each item while writing the request):
    // the same refusals, and the transaction's valid put is not written either.
    let fine = item("P#limits", "fine-in-transaction", 1, "x");
    for (bad, what, why) in [
        (
            deep,
            "33 levels of nesting in a transaction",
            "nested is nested deeper than DynamoDB's 32 levels",
        ),
        (big, "an item over 400 KB in a transaction", "400 KB"),
    ] {
        refused(
            t.transact_write(&[
                Put::new(table, fine.clone(), Condition::None),
                Put::new(table, bad, Condition::None),
            ])
            .await,
            what,
            why,
        );
    }
    for sk in ["deep", "big", "fine-in-transaction"] {
        assert_eq!(
            t.get_item(table, &Key::new("P#limits", sk)).await.unwrap(),
            None,
            "a refused item is not written"
        );
    }
}

/// Conditional puts, gets, batch gets.
pub async fn check_put_get(t: &dyn Table, table: &str) {
    let k = Key::new("P#t", "a");
    assert_eq!(
        t.get_item(table, &k).await.unwrap(),
        None,
        "absent item reads as None"
    );
    t.put_item(Put::new(
        table,
        item("P#t", "a", 1, "x"),
        Condition::NotExists,
    ))
    .await
    .unwrap();
    assert_eq!(
        t.get_item(table, &k).await.unwrap(),
        Some(item("P#t", "a", 1, "x")),
        "numbers round-trip exactly"
    );
    let again = t
        .put_item(Put::new(
            table,
            item("P#t", "a", 1, "y"),
            Condition::NotExists,
        ))
        .await;
    assert!(
        matches!(again, Err(WriteError::ConditionFailed)),
        "not-exists refuses an existing item: {again:?}"
    );
    let stale = t
        .put_item(Put::new(
            table,
            item("P#t", "a", 2, "y"),
            Condition::VersionEquals(7),
        ))
        .await;
    assert!(
        matches!(stale, Err(WriteError::ConditionFailed)),
        "version-equals refuses another version"
    );
    t.put_item(Put::new(
        table,
        item("P#t", "a", 2, "y"),
        Condition::VersionEquals(1),
    ))
    .await
    .unwrap();
    let absent = t
        .put_item(Put::new(
            table,
            item("P#t", "zz", 2, "y"),
            Condition::VersionEquals(1),
        ))
        .await;
    assert!(
        matches!(absent, Err(WriteError::ConditionFailed)),
        "version-equals refuses an absent item"
    );
    t.put_item(Put::new(table, item("P#t", "b", 1, "b"), Condition::None))
        .await
        .unwrap();
    let got = t
        .batch_get(
            table,
            &[
                Key::new("P#t", "a"),
                Key::new("P#t", "b"),
                Key::new("P#t", "missing"),
            ],
        )
        .await
        .unwrap();
    let got = by_sk(got);
    assert_eq!(
        got,
        vec![item("P#t", "a", 2, "y"), item("P#t", "b", 1, "b")],
        "batch get returns present items only"
    );
    // A projected batch get: only the named attributes an item has, reserved words
    // (`name`) included, the key attributes only when named.
    let mut named = item("P#t", "n", 1, "x");
    named.insert("name".into(), s("Named"));
    t.put_item(Put::new(table, named, Condition::None))
        .await
        .unwrap();
    let got = t
        .batch_get_projected(
            table,
            &[
                Key::new("P#t", "a"),
                Key::new("P#t", "n"),
                Key::new("P#t", "missing"),
            ],
            &["sk", "name", "extra", "absent"],
        )
        .await
        .unwrap();
    let got = by_sk(got);
    let only = |pairs: &[(&str, &str)]| -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string().into(), s(*v)))
            .collect()
    };
    assert_eq!(
        got,
        vec![
            only(&[("sk", "a"), ("extra", "y")]),
            only(&[("sk", "n"), ("name", "Named"), ("extra", "x")]),
        ],
        "a projected batch get returns the named attributes of present items only"
    );
    let keys: Vec<Key> = (0..101).map(|i| Key::new("P#t", format!("k{i}"))).collect();
    assert!(
        t.batch_get(table, &keys).await.is_err(),
        "batch get of 101 keys is refused"
    );
    assert!(
        t.batch_get_projected(table, &keys, &["sk"]).await.is_err(),
        "a projected batch get of 101 keys is refused"
    );
    for names in [&[][..], &["sk", "sk"][..], &["sk", ""][..]] {
        assert!(
            matches!(
                t.batch_get_projected(table, &[Key::new("P#t", "a")], names)
                    .await,
                Err(shared::StoreError::InvalidRequest(_))
            ),
            "a projection of {names:?} is refused as an invalid request"
        );
    }
}

/// Transactions are all or nothing, with one cancellation reason per item.
pub async fn check_transactions(t: &dyn Table, table: &str) {
    t.transact_write(&[
        Put::new(table, item("T#t", "1", 1, "a"), Condition::NotExists),
        Put::new(table, item("T#t", "2", 1, "a"), Condition::NotExists),
    ])
    .await
    .unwrap();
    let r = t
        .transact_write(&[
            Put::new(table, item("T#t", "3", 1, "new"), Condition::NotExists),
            Put::new(table, item("T#t", "1", 2, "b"), Condition::VersionEquals(5)),
        ])
        .await;
    match r {
        Err(WriteError::Cancelled(reasons)) => {
            assert_eq!(reasons.len(), 2, "one reason per item");
            assert_eq!(
                reasons[1],
                CancellationReason::ConditionalCheckFailed,
                "the failing item is named"
            );
            assert_ne!(reasons[0], CancellationReason::ConditionalCheckFailed);
        }
        other => panic!("a failed condition cancels the transaction: {other:?}"),
    }
    assert_eq!(
        t.get_item(table, &Key::new("T#t", "3")).await.unwrap(),
        None,
        "nothing of a cancelled transaction is written"
    );
    let dup = t
        .transact_write(&[
            Put::new(table, item("T#t", "4", 1, "a"), Condition::None),
            Put::new(table, item("T#t", "4", 1, "b"), Condition::None),
        ])
        .await;
    assert!(dup.is_err(), "two operations on one item are refused");
    let many: Vec<Put> = (0..101)
        .map(|i| {
            Put::new(
                table,
                item("T#t", &format!("m{i}"), 1, "a"),
                Condition::None,
            )
        })
        .collect();
    assert!(
        t.transact_write(&many).await.is_err(),
        "101 items are refused"
    );
    let hundred: Vec<Put> = (0..100)
        .map(|i| {
            Put::new(
                table,
                item("T#t", &format!("h{i:03}"), 1, "a"),
                Condition::NotExists,
            )
        })
        .collect();
    t.transact_write(&hundred)
        .await
        .expect("100 items are accepted");
}

/// Several transactions in one call: one result each, in order; each all or nothing on its
/// own (a refused one leaves nothing, the others stand); each sees the ones before it; a
/// refused one leaves no stream record.
pub async fn check_transaction_batches(t: &dyn Table, streams: &dyn StreamReader, table: &str) {
    let (_, start) = drain(
        streams,
        table,
        StreamPosition::default(),
        &StreamEventName::ALL,
    )
    .await;
    let first = [
        Put::new(table, item("B#t", "1", 1, "a"), Condition::NotExists),
        Put::new(table, item("B#t", "2", 1, "a"), Condition::NotExists),
    ];
    // Refused: "1" exists since the first transaction of this very call.
    let second = [
        Put::new(table, item("B#t", "3", 1, "lost"), Condition::NotExists),
        Put::new(table, item("B#t", "1", 1, "b"), Condition::NotExists),
    ];
    // Accepted: "3" was rolled back with the second, and "2" is at version 1.
    let third = [
        Put::new(table, item("B#t", "3", 1, "kept"), Condition::NotExists),
        Put::new(table, item("B#t", "2", 2, "b"), Condition::VersionEquals(1)),
    ];
    // Refused before any read: two operations on one item.
    let fourth = [
        Put::new(table, item("B#t", "4", 1, "a"), Condition::None),
        Put::new(table, item("B#t", "4", 1, "b"), Condition::None),
    ];
    // The refused one is sent second: it answers for itself, and the ones after it go out.
    let results = t
        .transact_write_all(&[&first, &fourth, &second, &third])
        .await;
    assert_eq!(results.len(), 4, "one result per transaction");
    assert!(results[0].is_ok(), "first: {:?}", results[0]);
    assert!(
        matches!(results[1], Err(WriteError::Store(_))),
        "fourth is refused: {:?}",
        results[1]
    );
    match &results[2] {
        Err(WriteError::Cancelled(reasons)) => assert_eq!(
            reasons[1],
            CancellationReason::ConditionalCheckFailed,
            "the second sees the first's write"
        ),
        other => panic!("the second is cancelled: {other:?}"),
    }
    assert!(results[3].is_ok(), "third: {:?}", results[3]);
    let get =
        |sk: &'static str| async move { t.get_item(table, &Key::new("B#t", sk)).await.unwrap() };
    assert_eq!(
        get("1").await,
        Some(item("B#t", "1", 1, "a")),
        "the first stands"
    );
    assert_eq!(
        get("2").await,
        Some(item("B#t", "2", 2, "b")),
        "the third stands"
    );
    assert_eq!(
        get("3").await,
        Some(item("B#t", "3", 1, "kept")),
        "nothing of the cancelled second, all of the third"
    );
    assert_eq!(get("4").await, None, "nothing of the refused fourth");
    let (records, _) = drain(streams, table, start, &StreamEventName::ALL).await;
    let mut changes: Vec<(String, StreamEventName)> = records
        .into_iter()
        .filter(|r| shared::value::get_s(&r.keys, "pk") == Some("B#t"))
        .map(|r| {
            let sk = shared::value::get_s(&r.keys, "sk").unwrap_or_default();
            (sk.to_string(), r.event_name)
        })
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        vec![
            ("1".to_string(), StreamEventName::Insert),
            ("2".to_string(), StreamEventName::Insert),
            ("2".to_string(), StreamEventName::Modify),
            ("3".to_string(), StreamEventName::Insert),
        ],
        "one record per write that happened, none for the refused"
    );
}

/// Query order, prefix, paging; parallel scan segments partition the table.
pub async fn check_query_scan(t: &dyn Table, table: &str) {
    let mut items: Vec<Item> = Vec::new();
    for sk in ["b@2", "a", "b@1", "ab", "c", "B", "b@10"] {
        items.push(item("Q#t", sk, 1, "q"));
    }
    items.push(item("Q#other", "a", 1, "q"));
    for i in items {
        t.put_item(shared::ports::table::Put::new(
            table,
            i,
            shared::ports::table::Condition::None,
        ))
        .await
        .unwrap();
    }
    let all = shared::ports::table::query_all(t, table, "Q#t", None)
        .await
        .unwrap();
    let sks: Vec<String> = all
        .iter()
        .map(|i| {
            shared::value::get_s(i, "sk")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        sks,
        vec!["B", "a", "ab", "b@1", "b@10", "b@2", "c"],
        "sk in byte order"
    );
    let page = t.query(table, "Q#t", Some("b@"), None, 2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let next = page
        .next
        .clone()
        .expect("a full page has a continuation key");
    let rest = t
        .query(table, "Q#t", Some("b@"), Some(&next), 2)
        .await
        .unwrap();
    let sk = |i: &Item| {
        shared::value::get_s(i, "sk")
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        rest.items.iter().map(sk).collect::<Vec<_>>(),
        vec!["b@2"],
        "paging continues after the key"
    );
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start: Option<Key> = None;
        loop {
            let page = t.scan(table, segment, 3, start.as_ref(), 2).await.unwrap();
            for i in &page.items {
                if shared::value::get_s(i, "pk").is_some_and(|p| p.starts_with("Q#")) {
                    seen.push(format!(
                        "{}|{}",
                        shared::value::get_s(i, "pk").unwrap_or_default(),
                        sk(i)
                    ));
                }
            }
            match page.next {
                Some(n) => start = Some(n),
                None => break,
            }
        }
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(before, seen.len(), "segments do not overlap");
    assert_eq!(seen.len(), 8, "segments together hold every item: {seen:?}");
}

/// Every successful write yields one stream record, in order; a no-op write yields none.
pub async fn check_stream(t: &dyn Table, streams: &dyn StreamReader, table: &str) {
    let (before, mut pos) = drain(
        streams,
        table,
        StreamPosition::default(),
        &StreamEventName::ALL,
    )
    .await;
    let _ = before;
    let start = pos.clone();
    t.put_item(Put::new(
        table,
        item("S#t", "x", 1, "one"),
        Condition::NotExists,
    ))
    .await
    .unwrap();
    t.put_item(Put::new(
        table,
        item("S#t", "x", 2, "two"),
        Condition::VersionEquals(1),
    ))
    .await
    .unwrap();
    t.put_item(Put::new(table, item("S#t", "x", 2, "two"), Condition::None))
        .await
        .unwrap(); // no change
    let refused = t
        .put_item(Put::new(
            table,
            item("S#t", "x", 3, "three"),
            Condition::VersionEquals(1),
        ))
        .await;
    assert!(refused.is_err());
    let (records, next) = drain(streams, table, pos, &StreamEventName::ALL).await;
    pos = next;
    let _ = pos;
    // DynamoDB writes no record for a put that changes nothing; moto writes a MODIFY whose old
    // and new images are equal. Consumers (history) ignore such records, so the contract allows
    // them and counts only real changes; the embedded store writes none (contract_embedded).
    let ours: Vec<_> = records
        .into_iter()
        .filter(|r| shared::value::get_s(&r.keys, "pk") == Some("S#t"))
        .filter(|r| r.old_image.is_none() || r.old_image != r.new_image)
        .collect();
    assert_eq!(
        ours.len(),
        2,
        "one record per successful change, none for a no-op or a refused write"
    );
    assert_eq!(ours[0].event_name, StreamEventName::Insert);
    assert_eq!(ours[0].old_image, None);
    assert_eq!(ours[1].event_name, StreamEventName::Modify);
    assert_eq!(
        ours[1].old_image,
        Some(item("S#t", "x", 1, "one")),
        "old image is the previous item"
    );
    assert_eq!(ours[1].new_image, Some(item("S#t", "x", 2, "two")));
    assert!(
        ours[0].sequence_number < ours[1].sequence_number,
        "records are in order"
    );

    // A filter (the history mapping's): only the kinds asked for come back, and the position
    // passes the others, so reading on from it finds nothing left.
    let changed = |records: Vec<shared::ports::StreamRecord>| -> Vec<_> {
        records
            .into_iter()
            .filter(|r| shared::value::get_s(&r.keys, "pk") == Some("S#t"))
            .filter(|r| r.old_image.is_none() || r.old_image != r.new_image)
            .collect()
    };
    let (modified, end) = drain(streams, table, start.clone(), &[StreamEventName::Modify]).await;
    assert!(
        modified
            .iter()
            .all(|r| r.event_name == StreamEventName::Modify)
    );
    let modified = changed(modified);
    assert_eq!(modified.len(), 1, "the one MODIFY, without the INSERT");
    assert_eq!(modified[0].new_image, Some(item("S#t", "x", 2, "two")));
    let (after_end, _) = drain(streams, table, end, &StreamEventName::ALL).await;
    assert!(
        after_end.is_empty(),
        "the filtered reader's position passed every record"
    );
    let (inserted, _) = drain(streams, table, start, &[StreamEventName::Insert]).await;
    let inserted = changed(inserted);
    assert_eq!(inserted.len(), 1);
    assert_eq!(inserted[0].event_name, StreamEventName::Insert);
}

/// Reads to the end of the stream: an empty page at the position it was asked for.
async fn drain(
    streams: &dyn StreamReader,
    table: &str,
    mut pos: StreamPosition,
    events: &[StreamEventName],
) -> (Vec<shared::ports::StreamRecord>, StreamPosition) {
    let mut out = Vec::new();
    loop {
        let (records, next) = streams.read_stream(table, &pos, 100, events).await.unwrap();
        let caught_up = records.is_empty() && next == pos;
        pos = next;
        if caught_up {
            return (out, pos);
        }
        out.extend(records);
    }
}
