//! jemalloc as a binary's global allocator: `shared::use_jemalloc!(CONF)` in the binary's root
//! (a library cannot choose for its binaries, and one workspace build unifies features, so
//! this is a macro each binary invokes rather than a feature).
//!
//! A migration builds and drops DynamoDB items by the thousand (maps of maps of strings, ≈130
//! allocations a row). With glibc's malloc, freeing them (and consolidating its free lists
//! before every large request body) took a fifth of Process's client CPU.
//!
//! - `migrate` ([`MIGRATE_MALLOC_CONF`]): the 1M-row reference import took 44 s on glibc, 32-37 s
//!   on jemalloc (docs/performance-log.md).
//! - The Lambdas ([`LAMBDA_MALLOC_CONF`]): against moto (`tests/pipeline_moto.rs`, 600 rows,
//!   2-core machine) the client CPU of an import went from 76-99 to 67-81 µs per row, of which
//!   jemalloc's default decay gave 67-72, the 100 ms decay of `migrate` 71-81 (pages given back
//!   and faulted in again). Never giving pages back (below): a warm execution of 600 rows
//!   (`PARITY_WARM=1`) faults 348-351 pages instead of 943-976, the whole test 4,648 instead of
//!   6,477; its CPU moved less than the noise (2-4 µs per row lower in four alternated pairs,
//!   no different in five more).
//!
//! Only on Linux with glibc (the Lambdas' provided.al2023 and this machine); elsewhere the
//! system allocator stays.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub use tikv_jemallocator;

/// The Lambdas: one arena (a function runs one event at a time on one thread) and freed pages
/// never given back to the system (`dirty_decay_ms:-1,muzzy_decay_ms:-1`).
///
/// A Lambda's memory is its own: a page given back serves no one else, and the next chunk
/// faults it in again (zeroed and charged to the sandbox's cgroup, a kernel entry per 4 KB).
/// jemalloc's default decay gives dirty pages back over 10 s, and a chunk's requests leave that
/// long idle whenever DynamoDB is slow to answer (throttling, or moto in the tests): the items
/// of the next wave were then built on freshly faulted pages (a profile of Process on moto found
/// half of building them in the kernel's page-fault path; with the pages kept, a tenth, what a
/// fresh process's growing heap still costs). The resident set stays at the largest heap a
/// function has needed (a chunk of a few MB, in a 512 MB function).
///
/// The thread cache is jemalloc's own. A larger one (up to 2,048 objects a size class,
/// `tcache_nslots_small_min:1000,tcache_nslots_small_max:2048,lg_tcache_nslots_mul:6,
/// lg_tcache_flush_small_div:4,tcache_gc_incr_bytes:67108864`, kept for one session) cut the
/// client's instructions against moto by 2.5 % (`scripts/parity_instructions.sh --moto-only 600
/// 300`: 333.2 M → 324.7 M), because a chunk's items are freed all at once, far more objects of
/// one size than the default cache holds. But the objects it holds are memory the next wave
/// cannot use for another size, so a warm heap kept growing: with three warm-up imports of 600
/// rows (`PARITY_WARM=3`), the three warm-ups and then the measured execution faulted 2,840,
/// 926, 541 and 489 pages, against 2,601, 298, 181 and 94 with the default cache (and 931–1,079 against 307–314
/// after one warm-up, in two alternated pairs). A page fault is a kernel entry and a zeroed
/// page; the CPU of the two settings could not be told apart on this machine (80 and 97 against
/// 83 and 82 µs per row in the pairs), so the default, which settles, is kept.
pub const LAMBDA_MALLOC_CONF: &[u8] = b"narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

/// `migrate`: the resident set stays within the 64 MB bound: one arena (memory freed on one
/// thread is reused by the others), freed pages returned after 100 ms, and thread caches only
/// for objects up to 4 KB (the larger ones, chunk buffers and encoded pages, would otherwise sit
/// in each thread's cache). Measured at 1M rows, 2 cores: two arenas and 1 s decay 81 MB;
/// without the thread-cache limit 78 MB; these 58-61 MB.
pub const MIGRATE_MALLOC_CONF: &[u8] =
    b"narenas:1,dirty_decay_ms:100,muzzy_decay_ms:0,tcache_max:4096\0";

/// Makes jemalloc the binary's global allocator, with `$conf` (a NUL-terminated option string,
/// [`LAMBDA_MALLOC_CONF`] or [`MIGRATE_MALLOC_CONF`]) as its settings (`_RJEM_MALLOC_CONF` in
/// the environment still overrides them, for experiments).
#[macro_export]
macro_rules! use_jemalloc {
    ($conf:expr) => {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        #[global_allocator]
        static ALLOCATOR: $crate::allocator::tikv_jemallocator::Jemalloc =
            $crate::allocator::tikv_jemallocator::Jemalloc;

        /// jemalloc reads its settings from this symbol (as tikv-jemallocator documents it:
        /// the slice's data pointer is what jemalloc reads as its `const char *`).
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        #[allow(non_upper_case_globals)]
        #[unsafe(export_name = "_rjem_malloc_conf")]
        pub static malloc_conf: &[u8] = $conf;

        // jemalloc reads the settings as a C string: refuse, at compile time, one without its NUL.
        const _: () = {
            let conf: &[u8] = $conf;
            assert!(
                !conf.is_empty() && conf[conf.len() - 1] == 0,
                "jemalloc settings must end with a NUL byte"
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_nul_terminated_option_lists() {
        for conf in [LAMBDA_MALLOC_CONF, MIGRATE_MALLOC_CONF] {
            let (last, options) = conf.split_last().unwrap();
            assert_eq!(*last, 0);
            let text = std::str::from_utf8(options).unwrap();
            assert!(!text.contains('\0'));
            for option in text.split(',') {
                let (name, value) = option.split_once(':').unwrap();
                // jemalloc only warns on stderr about a name or value it does not take, and
                // runs on with its default: each must be one it takes.
                let numeric = match name {
                    "narenas"
                    | "tcache_max"
                    | "tcache_nslots_small_min"
                    | "tcache_nslots_small_max"
                    | "lg_tcache_nslots_mul"
                    | "lg_tcache_flush_small_div"
                    | "tcache_gc_incr_bytes" => value.parse::<u64>().is_ok(),
                    // -1: never give pages back.
                    "dirty_decay_ms" | "muzzy_decay_ms" => {
                        value.parse::<i64>().is_ok_and(|ms| ms >= -1)
                    }
                    _ => panic!("{option}: not an option these settings are meant to use"),
                };
                assert!(numeric, "{option}: not a value jemalloc takes");
            }
        }
    }
}
