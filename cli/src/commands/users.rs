//! `migrate users load POOL FILE` / `migrate users list POOL`: the embedded twin of a Cognito
//! user pool (what a `normalize-users` job reads and updates locally). FILE is a JSON array of
//! `{"username": …, "attributes": {"custom:tenant": …, "custom:roles": …}}`.

use std::path::Path;
use std::process::ExitCode;

use shared::embedded::TableUsers;
use shared::local::LocalPipeline;
use shared::ports::users::{MAX_USERS_PAGE, User, UserDirectory};

use super::{Outcome, failed, usage};
use crate::output;

fn users_of(pipeline: &LocalPipeline) -> TableUsers {
    TableUsers::new(pipeline.tables.clone())
}

pub async fn load(pipeline: &LocalPipeline, pool: &str, file: &Path) -> Outcome {
    let text = std::fs::read_to_string(file)
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let users: Vec<User> = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{}: not a JSON array of {{\"username\", \"attributes\"}}: {e}",
            file.display()
        ))
    })?;
    let directory = users_of(pipeline);
    for user in &users {
        directory.put_user(pool, user).await.map_err(failed)?;
    }
    eprintln!("loaded {} users into pool {pool}", users.len());
    Ok(ExitCode::SUCCESS)
}

pub async fn list(pipeline: &LocalPipeline, pool: &str) -> Outcome {
    let directory = users_of(pipeline);
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = directory
            .list_users(pool, token.as_deref(), MAX_USERS_PAGE)
            .await
            .map_err(failed)?;
        all.extend(page.users);
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    output::json(&all, true);
    Ok(ExitCode::SUCCESS)
}
