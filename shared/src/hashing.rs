//! Maps and sets that a chunk's work keys by item key ([`crate::keys::Key`]) or by line number:
//! the rows read for a wave, the waves themselves, the lines Verify checks.
//!
//! They hash with foldhash (hashbrown's own default, seeded afresh for every map) instead of
//! std's SipHash-1-3: a key is hashed several times per row (read, planned, written, verified),
//! and SipHash of two strings cost about as much as the lookup it served (≈2 % of the handlers'
//! instructions in the moto parity test). foldhash is not meant to resist an adversary who can
//! see its outputs, which no one here can: these maps live inside one invocation, never leave it,
//! and hold at most a chunk's keys.

/// A `HashMap` hashed with foldhash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` hashed with foldhash.
pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
