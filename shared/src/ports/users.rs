//! A user directory (Cognito user pools): list a pool's users page by page and update a user's
//! attributes. The Cognito adapter is `crate::aws::CognitoUsers`; the embedded twin keeps users
//! in the state directory's tables (`crate::embedded::TableUsers`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Cognito's largest ListUsers page.
pub const MAX_USERS_PAGE: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    /// Attribute name (`email`, `custom:tenant`, …) → value.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    /// Where the next page starts (Cognito's PaginationToken); `None` on the last page.
    pub next: Option<String>,
}

#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// One page of the pool's users (at most `limit`, ≤ [`MAX_USERS_PAGE`]), after `token`.
    async fn list_users(
        &self,
        pool: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<UserPage, StoreError>;

    /// Sets these attributes of one user (others are kept); [`StoreError::NotFound`] when the
    /// user or the pool does not exist.
    async fn update_attributes(
        &self,
        pool: &str,
        username: &str,
        attributes: &[(String, String)],
    ) -> Result<(), StoreError>;
}
