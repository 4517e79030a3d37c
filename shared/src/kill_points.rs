//! Named points in the pipeline where the crash-and-resume tests kill the process.
//!
//! With `MIGRATE_KILL_AT=<point>:<n>` in the environment, the process sends itself SIGKILL the
//! n-th time it reaches `<point>` (e.g. `process:after-write:2`): no destructor runs, no buffer
//! is flushed, an open SQLite transaction is lost — as when a machine dies or Lambda times out.
//! Without the variable (always, outside those tests) a point costs one check of a cached
//! `None`.
//!
//! Points: `export:page`, `export:done`, `transform:chunk`, `transform:done`,
//! `process:before-write`, `process:after-write`, `process:chunk-done`, `history:delivered`,
//! `verify:start`, `verify:done`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

struct Target {
    point: String,
    nth: u64,
    seen: Mutex<HashMap<&'static str, u64>>,
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let spec = std::env::var("MIGRATE_KILL_AT").ok()?;
            let (point, nth) = spec.rsplit_once(':')?;
            Some(Target {
                point: point.to_string(),
                nth: nth.parse().ok()?,
                seen: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
}

/// The pipeline passes `point`.
pub fn reached(point: &'static str) {
    let Some(target) = target() else {
        return;
    };
    if target.point != point {
        return;
    }
    let count = {
        let Ok(mut seen) = target.seen.lock() else {
            return;
        };
        let c = seen.entry(point).or_insert(0);
        *c += 1;
        *c
    };
    if count == target.nth {
        eprintln!("MIGRATE_KILL_AT: killing the process at {point} ({count})");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // `kill` missing: end as abruptly as possible all the same.
        std::process::abort();
    }
}
