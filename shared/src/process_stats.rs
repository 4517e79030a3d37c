//! This process's resource use: what `migrate bench` and the moto parity test print per row.
//! `None` where the system does not say (peak RSS comes from Linux's `/proc`).

/// Peak resident set size so far (`VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time so far (user + system, all threads, also those that have ended), in seconds, to
/// the nanosecond (`CLOCK_PROCESS_CPUTIME_ID`; `/proc/self/stat` counts 10 ms ticks, too coarse
/// for the CPU of a few hundred rows).
pub fn cpu_seconds() -> Option<f64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a local.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    (status == 0).then(|| now.tv_sec as f64 + now.tv_nsec as f64 / 1e9)
}

/// CPU time so far split into user and system time (all threads, also those that have ended),
/// in seconds (`getrusage`): how much of a client's CPU is the kernel's (sockets, page faults)
/// rather than its own code's. The sum is the exact runtime, but Linux splits it by the timer
/// ticks that found the task in each mode, so over a few ticks (tens of milliseconds) the split
/// is an estimate: compare it over runs, not within one.
pub fn user_and_system_seconds() -> Option<(f64, f64)> {
    let usage = usage()?;
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some((seconds(usage.ru_utime), seconds(usage.ru_stime)))
}

/// Minor page faults so far (pages the kernel had to map in, zeroed, on first touch), all
/// threads: what a heap that gives its pages back and takes them again costs (`getrusage`).
pub fn minor_page_faults() -> Option<u64> {
    Some(u64::try_from(usage()?.ru_minflt).unwrap_or(0))
}

/// This process's resource usage so far, all threads (`getrusage(RUSAGE_SELF)`).
fn usage() -> Option<libc::rusage> {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage through a valid pointer to a local.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (status == 0).then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_faults_count_pages_touched_for_the_first_time() {
        let before = minor_page_faults().unwrap();
        // 16 MB: mapped by the allocator on its own, each 4 KB page faulted in when written.
        let mut fresh = vec![0u8; 16 << 20];
        for page in fresh.chunks_mut(4096) {
            page[0] = 1;
        }
        let after = minor_page_faults().unwrap();
        assert_eq!(fresh.iter().filter(|b| **b == 1).count(), 4096);
        // 4,096 pages of 4 KB, or 8 transparent huge pages of 2 MB: 8 is the floor either way.
        assert!(after - before >= 8, "{before} -> {after}");
    }

    #[test]
    fn cpu_time_and_peak_rss_are_read() {
        assert!(cpu_seconds().is_some_and(|s| s > 0.0));
        let (user, system) = user_and_system_seconds().unwrap();
        // Either part may be 0 (every tick so far may have found the process in one mode).
        assert!(
            user >= 0.0 && system >= 0.0 && user + system > 0.0,
            "user {user}, system {system}"
        );
        // The two clocks count the same time: the split cannot exceed the total read after it.
        assert!(user + system <= cpu_seconds().unwrap() + 0.01);
        assert!(peak_rss().is_some_and(|b| b > 0));
    }
}
