//! The user directory contract (Cognito user pools), for the embedded twin and for Cognito (moto).

use shared::error::StoreError;
use shared::ports::users::{User, UserDirectory};

/// The users a fixture seeds its pool with: `u000` … `u129`.
pub fn seed_users() -> Vec<User> {
    (0..130)
        .map(|i| User {
            username: format!("u{i:03}"),
            attributes: [
                ("custom:tenant".to_string(), format!("T{}", i % 3)),
                ("email".to_string(), format!("u{i}@example.com")),
            ]
            .into_iter()
            .collect(),
        })
        .collect()
}

/// Pages cover every user exactly once; an update sets the named attributes and keeps the
/// others; an unknown user is NotFound.
pub async fn check_users(d: &dyn UserDirectory, pool: &str) {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = d.list_users(pool, token.as_deref(), 50).await.unwrap();
        assert!(page.users.len() <= 50, "a page holds at most the limit");
        pages += 1;
        seen.extend(page.users);
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert!(pages >= 3, "130 users in pages of 50: {pages} pages");
    let mut names: Vec<&str> = seen.iter().map(|u| u.username.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 130, "every user once");
    let u7 = seen.iter().find(|u| u.username == "u007").unwrap();
    assert_eq!(
        u7.attributes.get("custom:tenant").map(String::as_str),
        Some("T1")
    );

    d.update_attributes(pool, "u007", &[("custom:tenant".into(), "t1".into())])
        .await
        .unwrap();
    let mut after = None;
    let mut token: Option<String> = None;
    while after.is_none() {
        let page = d.list_users(pool, token.as_deref(), 60).await.unwrap();
        after = page.users.into_iter().find(|u| u.username == "u007");
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    let after = after.expect("u007 still listed");
    assert_eq!(
        after.attributes.get("custom:tenant").map(String::as_str),
        Some("t1")
    );
    assert_eq!(
        after.attributes.get("email").map(String::as_str),
        Some("u7@example.com"),
        "other attributes kept"
    );
    match d
        .update_attributes(pool, "nobody", &[("custom:tenant".into(), "x".into())])
        .await
    {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("an unknown user is NotFound: {other:?}"),
    }
}
