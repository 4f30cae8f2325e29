//! Token buckets in front of the public URLs, per endpoint and per client address, so one URL
//! (or one client) cannot flood the queue. In memory, per replica: with N replicas a client
//! may get up to N times the rate; the daily limit is the one counted across replicas.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use uuid::Uuid;

/// Buckets past this many are swept of idle (full) ones before a new one is added.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A set of token buckets: `rate` per second, bursts of `burst`.
#[derive(Debug)]
struct Buckets<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Copy> Buckets<K> {
    fn new(rate: f64, burst: f64) -> Self {
        Buckets {
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; otherwise the seconds until one is there.
    fn take(&self, key: K, now: Instant) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(&key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * self.rate)
            .min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
    }
}

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Client { retry_after_s: u64 },
    Endpoint { retry_after_s: u64 },
}

/// The public calls' rate limits.
#[derive(Debug)]
pub struct Limiter {
    per_client: Buckets<IpAddr>,
    per_endpoint: Buckets<Uuid>,
}

impl Limiter {
    pub fn new(
        client_rate: f64,
        client_burst: f64,
        endpoint_rate: f64,
        endpoint_burst: f64,
    ) -> Self {
        Limiter {
            per_client: Buckets::new(client_rate, client_burst),
            per_endpoint: Buckets::new(endpoint_rate, endpoint_burst),
        }
    }

    /// Spends one call of `client` (checked before anything is read from the database).
    pub fn client(&self, client: Option<IpAddr>) -> Result<(), Refused> {
        let Some(client) = client else { return Ok(()) };
        self.per_client
            .take(client, Instant::now())
            .map_err(|retry_after_s| Refused::Client { retry_after_s })
    }

    /// Spends one call of `endpoint`.
    pub fn endpoint(&self, endpoint: Uuid) -> Result<(), Refused> {
        self.per_endpoint
            .take(endpoint, Instant::now())
            .map_err(|retry_after_s| Refused::Endpoint { retry_after_s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let buckets = Buckets::new(2.0, 3.0);
        let start = Instant::now();
        assert!((0..3).all(|_| buckets.take(1u8, start).is_ok()));
        assert_eq!(buckets.take(1, start), Err(1));
        assert!(
            buckets.take(2, start).is_ok(),
            "other keys are not affected"
        );
        assert!(buckets.take(1, start + Duration::from_millis(500)).is_ok());
        assert!(buckets.take(1, start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn idle_buckets_are_swept_when_the_map_is_large() {
        let buckets = Buckets::new(1000.0, 1.0);
        let start = Instant::now();
        for key in 0..SWEEP_AT as u32 {
            assert!(buckets.take(key, start).is_ok());
        }
        let later = start + Duration::from_secs(1);
        assert!(buckets.take(u32::MAX, later).is_ok());
        let size = buckets.buckets.lock().map(|map| map.len()).unwrap_or(0);
        assert_eq!(size, 1, "every refilled bucket was dropped");
    }
}
