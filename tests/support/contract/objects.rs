//! The object store port contract (DESIGN §2), for the directory store and for S3 (moto).

use shared::StoreError;
use shared::ports::objects::{ObjectStore, get_bytes, list_all};

pub async fn check_objects(o: &dyn ObjectStore, bucket: &str) {
    let missing = o.get_object(bucket, "nope/x").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "a missing object is NotFound"
    );
    assert_eq!(o.head_object(bucket, "nope/x").await.unwrap(), None);
    let info = o
        .put_object(bucket, "jobs/j1/a.json", b"{\"a\":1}".to_vec())
        .await
        .unwrap();
    assert_eq!(info.size, 7);
    assert_eq!(
        get_bytes(o, bucket, "jobs/j1/a.json").await.unwrap(),
        b"{\"a\":1}"
    );
    let head = o
        .head_object(bucket, "jobs/j1/a.json")
        .await
        .unwrap()
        .expect("head finds it");
    assert_eq!(head.size, 7);
    assert!(!head.etag.is_empty(), "an ETag identifies the content");
    let same = o
        .put_object(bucket, "jobs/j1/a2.json", b"{\"a\":1}".to_vec())
        .await
        .unwrap();
    assert_eq!(
        o.head_object(bucket, "jobs/j1/a2.json")
            .await
            .unwrap()
            .map(|h| h.etag),
        Some(head.etag.clone()),
        "same content, same ETag"
    );
    let _ = same;
    let other = o
        .put_object(bucket, "jobs/j1/a.json", b"{\"a\":2}".to_vec())
        .await
        .unwrap();
    let _ = other;
    assert_ne!(
        o.head_object(bucket, "jobs/j1/a.json")
            .await
            .unwrap()
            .map(|h| h.etag),
        Some(head.etag),
        "new content, new ETag"
    );
    // streamed put of a body larger than one part
    let big: Vec<u8> = (0..(6 * 1024 * 1024)).map(|i| (i % 251) as u8).collect();
    let reader: shared::ports::ObjectReader = Box::pin(std::io::Cursor::new(big.clone()));
    o.put_object_stream(bucket, "jobs/j1/big.bin", reader)
        .await
        .unwrap();
    assert_eq!(
        get_bytes(o, bucket, "jobs/j1/big.bin").await.unwrap(),
        big,
        "streamed put stores every byte"
    );
    // A store that offers a blocking reader (Transform's parser) reads the same bytes with it.
    // (A store that offers none answers `None`, and the caller bridges `get_object`.)
    match o.get_object_blocking(bucket, "nope/x").await {
        Ok(None) | Err(StoreError::NotFound(_)) => {}
        Ok(Some(_)) => panic!("a blocking reader of a missing object"),
        Err(e) => panic!("a missing object is NotFound for a blocking read too: {e}"),
    }
    if let Some(mut reader) = o
        .get_object_blocking(bucket, "jobs/j1/big.bin")
        .await
        .unwrap()
    {
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut out).map(|_| out)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(read, big, "a blocking read gives every byte");
    }
    for i in 0..5 {
        o.put_object(
            bucket,
            &format!("jobs/j1/results/{i:03}.json"),
            vec![b'x'; i],
        )
        .await
        .unwrap();
    }
    o.put_object(bucket, "jobs/j10/other.json", vec![])
        .await
        .unwrap();
    let page = o
        .list_objects(bucket, "jobs/j1/results/", None, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        vec!["jobs/j1/results/000.json", "jobs/j1/results/001.json"]
    );
    let rest = o
        .list_objects(
            bucket,
            "jobs/j1/results/",
            Some("jobs/j1/results/001.json"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 3, "listing continues after start_after");
    let all = list_all(o, bucket, "jobs/j1/").await.unwrap();
    assert_eq!(
        all.len(),
        8,
        "prefix jobs/j1/ does not include jobs/j10/: {:?}",
        all.iter().map(|a| &a.key).collect::<Vec<_>>()
    );
}
