//! The embedded twin of a Cognito user pool: users kept in the state directory's tables
//! (`users`, `pk = "USERPOOL#<pool>"`, `sk` = username), loaded with `migrate users load`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::keys::Key;
use crate::ports::table::{Condition, Put, Table, WriteError};
use crate::ports::users::{MAX_USERS_PAGE, User, UserDirectory, UserPage};
use crate::value::{AttributeValue, Item, get_s, s};

pub const USERS_TABLE: &str = "users";

pub struct TableUsers {
    tables: Arc<dyn Table>,
}

fn pool_pk(pool: &str) -> String {
    format!("USERPOOL#{pool}")
}

fn to_item(pool: &str, user: &User) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(pool_pk(pool)));
    item.insert("sk".into(), s(&user.username));
    item.insert(
        "attributes".into(),
        AttributeValue::M(
            user.attributes
                .iter()
                .map(|(k, v)| (k.into(), s(v)))
                .collect(),
        ),
    );
    item
}

fn from_item(item: &Item) -> Result<User, StoreError> {
    let username = get_s(item, "sk")
        .ok_or_else(|| StoreError::Corrupt("user without a username".into()))?
        .to_string();
    let mut attributes = BTreeMap::new();
    if let Some(AttributeValue::M(m)) = item.get("attributes") {
        for (k, v) in m {
            if let AttributeValue::S(text) = v {
                attributes.insert(k.to_string(), text.to_string());
            }
        }
    }
    Ok(User {
        username,
        attributes,
    })
}

fn write_error(e: WriteError) -> StoreError {
    match e {
        WriteError::Store(e) => e,
        other => StoreError::Other(other.to_string()),
    }
}

impl TableUsers {
    pub fn new(tables: Arc<dyn Table>) -> Self {
        TableUsers { tables }
    }

    /// Adds or replaces users of a pool (what `migrate users load` does).
    pub async fn put_user(&self, pool: &str, user: &User) -> Result<(), StoreError> {
        self.tables
            .put_item(Put::new(USERS_TABLE, to_item(pool, user), Condition::None))
            .await
            .map_err(write_error)
    }
}

#[async_trait]
impl UserDirectory for TableUsers {
    async fn list_users(
        &self,
        pool: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<UserPage, StoreError> {
        let pk = pool_pk(pool);
        let start = token.map(|t| Key::new(&pk, t));
        let page = self
            .tables
            .query(
                USERS_TABLE,
                &pk,
                None,
                start.as_ref(),
                limit.clamp(1, MAX_USERS_PAGE),
            )
            .await?;
        Ok(UserPage {
            users: page.items.iter().map(from_item).collect::<Result<_, _>>()?,
            next: page.next.map(|k| k.sk.into_string()),
        })
    }

    async fn update_attributes(
        &self,
        pool: &str,
        username: &str,
        attributes: &[(String, String)],
    ) -> Result<(), StoreError> {
        let key = Key::new(pool_pk(pool), username);
        let Some(item) = self.tables.get_item(USERS_TABLE, &key).await? else {
            return Err(StoreError::NotFound(format!(
                "user {username:?} in pool {pool:?}"
            )));
        };
        let mut user = from_item(&item)?;
        for (name, value) in attributes {
            user.attributes.insert(name.clone(), value.clone());
        }
        self.tables
            .put_item(Put::new(USERS_TABLE, to_item(pool, &user), Condition::None))
            .await
            .map_err(write_error)
    }
}
