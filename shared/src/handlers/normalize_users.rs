//! State `NormalizeUsers` (mode `normalize-users`): lowercases the tenant codes of every user of
//! a Cognito user pool ([`crate::users`]), in two passes the state machine loops over (each
//! invocation handles a bounded number of pages and hands back where it stopped):
//!
//! 1. **check**: every page is read and every user's change computed; a user whose roles JSON
//!    is broken is counted as failed and named in the report. If the failures exceed the job's
//!    tolerance, or the job is a dry run, the job ends here — nothing was written.
//! 2. **write**: the pages are read again and each user that still needs it is updated
//!    (`AdminUpdateUserAttributes`). Users already lowercase are unchanged, so a re-run changes
//!    nothing.

use serde::Deserialize;

use super::{Deps, PreparedJob};
use crate::artifacts::Artifact;
use crate::error::Error;
use crate::job::{JobResult, JobSpec, Verification};
use crate::process::Counts;
use crate::report::{ReportDetails, Samples, finish};
use crate::users::{Pass, UsersProgress};

/// Users per ListUsers page (Cognito allows up to 60).
pub const USERS_PAGE: usize = 50;
/// Pages one invocation handles before handing back.
pub const PAGES_PER_INVOCATION: u32 = 25;

#[derive(Debug, Deserialize)]
pub struct NormalizeUsersInput {
    pub job: PreparedJob,
    /// `null` on the first invocation.
    #[serde(default)]
    pub progress: Option<UsersProgress>,
}

fn sample(samples: &mut Vec<String>, item: String) {
    Samples::push(samples, item);
}

pub async fn handle(input: NormalizeUsersInput, deps: &Deps) -> Result<UsersProgress, Error> {
    let NormalizeUsersInput { job, progress } = input;
    let JobSpec::NormalizeUsers { user_pool_id } = &job.spec else {
        return Err(Error::invalid(
            "NormalizeUsers: the job is not normalize-users",
        ));
    };
    let mut p = progress.unwrap_or_default();
    if p.done {
        return Ok(p);
    }
    for _ in 0..PAGES_PER_INVOCATION {
        let page = deps
            .users
            .list_users(user_pool_id, p.token.as_deref(), USERS_PAGE)
            .await?;
        for user in &page.users {
            let change = crate::users::lowercase_tenants(user);
            match (p.pass, change) {
                (Pass::Check, Ok(updates)) => p.checked.record(outcome(&updates)),
                (Pass::Check, Err(why)) => {
                    reject(&mut p.checked);
                    sample(&mut p.samples, format!("user {}: {why}", user.username));
                }
                (Pass::Write, Ok(updates)) => {
                    if !updates.is_empty() {
                        deps.users
                            .update_attributes(user_pool_id, &user.username, &updates)
                            .await?;
                    }
                    p.written.record(outcome(&updates));
                }
                // Broken since the check: reported, left alone.
                (Pass::Write, Err(why)) => {
                    reject(&mut p.written);
                    sample(&mut p.samples, format!("user {}: {why}", user.username));
                }
            }
        }
        p.token = page.next;
        if p.token.is_none() {
            return end_of_pass(p, &job, deps).await;
        }
    }
    tracing::info!(job_id = %job.job_id, pass = ?p.pass, "users: handing back after a batch of pages");
    Ok(p)
}

/// A user whose roles cannot be read: rejected, like a bad row, and named in the report.
fn reject(counts: &mut Counts) {
    counts.total += 1;
    counts.rejected += 1;
}

fn outcome(updates: &crate::users::Updates) -> crate::publish::Outcome {
    if updates.is_empty() {
        crate::publish::Outcome::Unchanged
    } else {
        crate::publish::Outcome::Updated
    }
}

fn over_tolerance(counts: &Counts, tolerated: f64) -> Option<String> {
    let share = counts.rejected as f64 * 100.0 / counts.total.max(1) as f64;
    (counts.rejected > 0 && share > tolerated).then(|| {
        format!(
            "{} of {} users have roles that cannot be read ({share:.2}%), more than the tolerated {tolerated}%",
            counts.rejected, counts.total
        )
    })
}

async fn end_of_pass(
    mut p: UsersProgress,
    job: &PreparedJob,
    deps: &Deps,
) -> Result<UsersProgress, Error> {
    let tolerated = job.options.tolerated_failure_percentage;
    let (counts, cause) = match p.pass {
        Pass::Check => {
            let cause = over_tolerance(&p.checked, tolerated);
            if cause.is_none() && job.options.writes {
                // Checked: now write, from the first page again.
                p.pass = Pass::Write;
                p.token = None;
                p.samples.clear();
                return Ok(p);
            }
            // A dry run reports what it would change. Too many broken users: nothing was
            // written, and the counts say only that (the rejected users), like a CSV whose
            // rejections exceed the tolerance.
            match cause {
                Some(c) => (
                    Counts {
                        total: p.checked.rejected,
                        rejected: p.checked.rejected,
                        ..Counts::default()
                    },
                    Some(format!("{c}; nothing was written")),
                ),
                None => (p.checked, None),
            }
        }
        Pass::Write => (p.written, over_tolerance(&p.written, tolerated)),
    };
    let artifacts = job.artifacts(deps);
    let verification = Verification {
        success: cause.is_none(),
        source_count: counts.total,
        target_count: counts.updated + counts.unchanged,
        ..Verification::default()
    };
    let causes: Vec<String> = cause.into_iter().collect();
    let result = JobResult::concluded(
        &artifacts,
        job.mode(),
        counts,
        verification,
        artifacts.key(Artifact::Rejected),
        &causes,
    );
    // No rows, no rejected rows: the key the output names exists all the same.
    artifacts.ensure_rejected().await?;
    let details = ReportDetails {
        samples: Samples {
            failed: p.samples.clone(),
            ..Samples::default()
        },
        ..ReportDetails::default()
    };
    finish(
        &artifacts,
        &deps.job_records(),
        &result,
        &details,
        &super::now(),
    )
    .await?;
    p.done = true;
    p.result = Some(result);
    Ok(p)
}
