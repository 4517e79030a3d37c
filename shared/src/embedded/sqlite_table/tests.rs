use super::*;

#[test]
fn hash_ranges_cover_every_pk() {
    let total = 3u32;
    let width = (1u64 << 32) / u64::from(total);
    for pk in ["a", "b", "PRODUCT#t1", ""] {
        let seg = (u64::from(pk_hash(pk)) / width).min(u64::from(total - 1));
        assert!(seg < u64::from(total));
    }
}

/// A state directory written by an earlier `migrate` (layout 1: JSON bodies, `WITHOUT ROWID`)
/// opens with its items, stream records and stream settings intact.
#[tokio::test]
async fn a_layout_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tables.sqlite3");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            r#"
            CREATE TABLE items (tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
                h INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tbl, pk, sk)) WITHOUT ROWID;
            CREATE INDEX items_by_hash ON items (tbl, h, pk, sk);
            CREATE TABLE stream_tables (tbl TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TABLE stream_records (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL,
                event_name TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
                old_image TEXT, new_image TEXT);
            CREATE INDEX stream_by_table ON stream_records (tbl, seq);
            INSERT INTO stream_tables VALUES ('data');
            INSERT INTO items VALUES ('data', 'P#t', 'a', 0,
                '{"pk":{"S":"P#t"},"sk":{"S":"a"},"version":{"N":"12345678901234567890.5"}}');
            INSERT INTO items VALUES ('command', 'P#t', 'a@1', 0,
                '{"pk":{"S":"P#t"},"sk":{"S":"a@1"}}');
            INSERT INTO stream_records VALUES (7, 'data', 'INSERT', 'P#t', 'a', NULL,
                '{"pk":{"S":"P#t"},"sk":{"S":"a"},"version":{"N":"12345678901234567890.5"}}');
            "#,
        )
        .unwrap();
    }
    let tables = SqliteTables::open(&path).unwrap();
    let item = tables
        .get_item("data", &Key::new("P#t", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(get_n(&item, "version"), Some("12345678901234567890.5"));
    let page = tables
        .query("command", "P#t", None, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let (records, next) = tables
        .read_stream(
            "data",
            &StreamPosition::default(),
            10,
            &StreamEventName::ALL,
        )
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(next.0.as_deref(), Some("000000000000000000007"));
    // The stream setting survived: a write to `data` appends record 8.
    let mut changed = item.clone();
    changed.insert("version".into(), crate::value::n(2));
    tables
        .put_item(Put::new("data", changed, Condition::None))
        .await
        .unwrap();
    let (records, _) = tables
        .read_stream("data", &next, 10, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sequence_number, "000000000000000000008");
    assert_eq!(records[0].old_image.as_ref(), Some(&item));
    drop(tables);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, LAYOUT_VERSION);
}

#[tokio::test]
async fn trimmed_records_are_gone_and_later_ones_stay() {
    let tables = SqliteTables::in_memory().unwrap();
    tables.enable_stream("s").unwrap();
    for i in 0..3 {
        let mut item = Item::new();
        item.insert("pk".into(), crate::value::s("p"));
        item.insert("sk".into(), crate::value::s(format!("{i}")));
        tables
            .put_item(Put::new("s", item, Condition::None))
            .await
            .unwrap();
    }
    let (first, at) = tables
        .read_stream("s", &StreamPosition::default(), 2, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    tables.trim_through("s", &at).await.unwrap();
    let (all, _) = tables
        .read_stream("s", &StreamPosition::default(), 10, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].keys.get("sk"), Some(&crate::value::s("2")));
}

#[tokio::test]
async fn a_narrowed_stream_keeps_only_the_kinds_asked_for() {
    let tables = SqliteTables::in_memory().unwrap();
    tables.enable_stream("s").unwrap();
    tables.enable_stream("all").unwrap();
    tables
        .keep_stream_events("s", &[StreamEventName::Modify, StreamEventName::Remove])
        .unwrap();
    let item = |version: u64| {
        let mut item = Item::new();
        item.insert("pk".into(), crate::value::s("p"));
        item.insert("sk".into(), crate::value::s("a"));
        item.insert("version".into(), crate::value::n(version));
        item
    };
    for table in ["s", "all"] {
        for version in [1, 2] {
            tables
                .put_item(Put::new(table, item(version), Condition::None))
                .await
                .unwrap();
        }
    }
    let (narrowed, _) = tables
        .read_stream("s", &StreamPosition::default(), 10, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(
        narrowed.iter().map(|r| r.event_name).collect::<Vec<_>>(),
        [StreamEventName::Modify],
        "the INSERT was not kept"
    );
    assert_eq!(narrowed[0].old_image, Some(item(1)));
    let (all, _) = tables
        .read_stream("all", &StreamPosition::default(), 10, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|r| r.event_name).collect::<Vec<_>>(),
        [StreamEventName::Insert, StreamEventName::Modify],
        "a table not narrowed keeps every kind"
    );
}
