//! The user directory on Cognito user pools: `ListUsers` (pages of 60) and
//! `AdminUpdateUserAttributes`. The template grants exactly these two on the pool it names.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::AttributeType;

use super::errors::{build_error, store_error};
use crate::error::StoreError;
use crate::ports::users::{MAX_USERS_PAGE, User, UserDirectory, UserPage};

pub struct CognitoUsers {
    client: aws_sdk_cognitoidentityprovider::Client,
}

impl CognitoUsers {
    pub fn new(client: aws_sdk_cognitoidentityprovider::Client) -> Self {
        CognitoUsers { client }
    }
}

#[async_trait]
impl UserDirectory for CognitoUsers {
    async fn list_users(
        &self,
        pool: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<UserPage, StoreError> {
        let out = self
            .client
            .list_users()
            .user_pool_id(pool)
            .limit(limit.clamp(1, MAX_USERS_PAGE) as i32)
            .set_pagination_token(token.map(str::to_string))
            .send()
            .await
            .map_err(|e| store_error("ListUsers", e))?;
        let users = out
            .users()
            .iter()
            .map(|u| User {
                username: u.username().unwrap_or_default().to_string(),
                attributes: u
                    .attributes()
                    .iter()
                    .map(|a| {
                        (
                            a.name().to_string(),
                            a.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Ok(UserPage {
            users,
            next: out
                .pagination_token()
                .map(str::to_string)
                .filter(|t| !t.is_empty()),
        })
    }

    async fn update_attributes(
        &self,
        pool: &str,
        username: &str,
        attributes: &[(String, String)],
    ) -> Result<(), StoreError> {
        let attributes = attributes
            .iter()
            .map(|(name, value)| {
                AttributeType::builder()
                    .name(name)
                    .value(value)
                    .build()
                    .map_err(|e| build_error("AdminUpdateUserAttributes", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .admin_update_user_attributes()
            .user_pool_id(pool)
            .username(username)
            .set_user_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| store_error("AdminUpdateUserAttributes", e))?;
        Ok(())
    }
}
