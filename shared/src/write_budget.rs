//! What a chunk's writes cost, and the job's write budget (`maxWriteUnitsPerSecond`).
//!
//! DynamoDB charges a transactional write two write units per item per started KB. Every
//! `TransactWriteItems` a chunk makes (or, in a dry run, would make) is metered here; with a
//! budget, each chunk paces itself to its share — the budget divided by the chunks that run at
//! once (the Distributed Map's `MaxConcurrency`) — with a token bucket that starts empty and holds
//! at most a tenth of a second of its share, so no second of the job exceeds the budget by more
//! than about 10 %. Chunks need no coordination: the same pacing holds locally and on AWS.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::ports::table::Put;

/// The write units of one transactional write of `puts`.
pub fn transact_units(puts: &[Put]) -> u64 {
    puts.iter()
        .map(|p| {
            2 * (crate::limits::item_size(&p.item) as u64)
                .div_ceil(1024)
                .max(1)
        })
        .sum()
}

struct Bucket {
    capacity: f64,
    tokens: f64,
    last: Instant,
}

/// The meter (and pacer) of one chunk's writes.
#[derive(Default)]
pub struct WriteMeter {
    units: AtomicU64,
    requests: AtomicU64,
    /// The chunk's share of the budget, in units per second (none: unlimited).
    rate: Option<f64>,
    bucket: Option<Mutex<Bucket>>,
}

impl std::fmt::Debug for WriteMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteMeter")
            .field("units", &self.units())
            .field("requests", &self.requests())
            .field("rate", &self.rate())
            .finish()
    }
}

impl WriteMeter {
    /// A meter that paces to `units_per_second` (none: unlimited).
    pub fn new(units_per_second: Option<f64>) -> Self {
        let rate = units_per_second.filter(|r| *r > 0.0);
        WriteMeter {
            units: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            rate,
            bucket: rate.map(|rate| {
                Mutex::new(Bucket {
                    capacity: (rate * 0.1).max(1.0),
                    tokens: 0.0,
                    last: Instant::now(),
                })
            }),
        }
    }

    /// This chunk's share of the budget, in units per second.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The most units one request should carry to stay smooth (a tenth of a second of the
    /// share); `None` without a budget.
    pub fn max_request_units(&self) -> Option<u64> {
        self.rate().map(|r| ((r * 0.1) as u64).max(1))
    }

    /// Waits until `units` may be written, then counts them as written.
    pub async fn charge(&self, units: u64) {
        if let (Some(bucket), Some(rate)) = (&self.bucket, self.rate) {
            loop {
                let wait = match bucket.lock() {
                    Ok(mut b) => {
                        let now = Instant::now();
                        let limit = b.capacity.max(units as f64);
                        b.tokens =
                            (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(limit);
                        b.last = now;
                        if b.tokens >= units as f64 {
                            b.tokens -= units as f64;
                            None
                        } else {
                            Some(Duration::from_secs_f64((units as f64 - b.tokens) / rate))
                        }
                    }
                    Err(_) => None, // a poisoned lock: stop pacing rather than stop writing
                };
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => break,
                }
            }
        }
        self.record(units);
    }

    /// Counts a request without pacing (a dry run's planned write).
    pub fn record(&self, units: u64) {
        self.units.fetch_add(units, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn units(&self) -> u64 {
        self.units.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::table::Condition;
    use crate::value::{Item, s};

    #[test]
    fn a_transactional_write_costs_two_units_per_started_kb_per_item() {
        let mut small = Item::new();
        small.insert("pk".into(), s("a"));
        let mut big = Item::new();
        big.insert("pk".into(), s("a"));
        big.insert("x".into(), s("y".repeat(1500)));
        let puts = [
            Put::new("t", small, Condition::None),
            Put::new("t", big, Condition::None),
        ];
        assert_eq!(transact_units(&puts), 2 + 4);
    }

    #[tokio::test]
    async fn the_pace_holds_the_rate() {
        let meter = WriteMeter::new(Some(200.0));
        assert_eq!(meter.max_request_units(), Some(20));
        let start = Instant::now();
        for _ in 0..10 {
            meter.charge(20).await;
        }
        // 200 units at 200 units/s, starting from an empty bucket: at least a second.
        assert!(
            start.elapsed() >= Duration::from_millis(950),
            "{:?}",
            start.elapsed()
        );
        assert_eq!((meter.units(), meter.requests()), (200, 10));
        let free = WriteMeter::new(None);
        free.charge(1000).await;
        assert_eq!(free.units(), 1000);
    }
}
