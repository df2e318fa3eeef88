//! Rate limits per key (token buckets) and the lock-out of addresses that keep sending
//! invalid keys. Both take the time as an argument, so tests need no sleeps.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `rate` requests per second per key, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub rate: f64,
    pub burst: f64,
}

/// One key's bucket, kept as the time at which it would be full again (nanoseconds after
/// the limiter's origin; the "theoretical arrival time" of the generic cell rate
/// algorithm). Its tokens are `burst - (full_at - now) / interval`, so a request is one
/// compare-and-swap on this word, shared by every worker: the limit holds exactly across
/// workers, without a lock and without splitting the rate between them. A time past
/// `now + burst × interval` is a debt (a batch paid for its items after admission).
#[repr(align(64))] // one cache line per key: workers charging two keys do not collide
struct Bucket(AtomicU64);

/// One bucket per key (by the key's index; the last ones are the admin token and the
/// anonymous caller of a server without keys).
pub struct RateLimiter {
    limit: RateLimit,
    /// Nanoseconds a token takes to come back (at least one).
    interval: u64,
    /// How far `full_at` may run ahead of now and still admit: `(burst - 1) × interval`.
    slack: u64,
    origin: Instant,
    buckets: Vec<Bucket>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, keys: usize, now: Instant) -> Self {
        // Rounded towards fewer requests: never more than burst + rate × time.
        let interval = (1e9 / limit.rate).ceil().clamp(1.0, u64::MAX as f64 / 4.0) as u64;
        let slack = ((limit.burst - 1.0).max(0.0) * interval as f64).floor();
        RateLimiter {
            limit,
            interval,
            slack: slack.min(u64::MAX as f64 / 4.0) as u64,
            origin: now,
            // Full: `full_at` 0 is in the past from the start.
            buckets: (0..keys).map(|_| Bucket(AtomicU64::new(0))).collect(),
        }
    }

    /// A limiter with `buckets` buckets, bucket `i` carrying the state of this one's
    /// `before(i)` (a key that stays keeps its tokens) or starting full.
    pub fn rekeyed(
        &self,
        buckets: usize,
        before: impl Fn(usize) -> Option<usize>,
        now: Instant,
    ) -> Self {
        let mut rekeyed = RateLimiter::new(self.limit, buckets, now);
        // The same origin, so carried times keep their meaning.
        rekeyed.origin = self.origin;
        for (i, bucket) in rekeyed.buckets.iter().enumerate() {
            if let Some(old) = before(i).and_then(|j| self.buckets.get(j)) {
                bucket
                    .0
                    .store(old.0.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        rekeyed
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Take one token for a request, or say how long until one is there.
    pub fn admit(&self, key: usize, now: Instant) -> Result<(), Duration> {
        // A key index beyond the table is a bug; it is not rate-limited rather than refused.
        let Some(bucket) = self.buckets.get(key) else {
            return Ok(());
        };
        let now = self.nanos(now);
        let mut full_at = bucket.0.load(Ordering::Relaxed);
        loop {
            let ahead = full_at.saturating_sub(now);
            if ahead > self.slack {
                return Err(Duration::from_nanos(ahead - self.slack));
            }
            let next = full_at.max(now).saturating_add(self.interval);
            match bucket.0.compare_exchange_weak(
                full_at,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => full_at = seen,
            }
        }
    }

    /// Charge `items` more tokens to an admitted request (the rest of a batch's items).
    pub fn charge(&self, key: usize, items: usize, now: Instant) {
        let Some(bucket) = self.buckets.get(key).filter(|_| items > 0) else {
            return;
        };
        let now = self.nanos(now);
        let cost = (items as u64).saturating_mul(self.interval);
        // The closure always answers Some: the update cannot be refused.
        let _ = bucket
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |full_at| {
                Some(full_at.max(now).saturating_add(cost))
            });
    }
}

/// Repeated invalid keys from one address within `window` → that address is refused for
/// `cooldown`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockoutPolicy {
    pub failures: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            failures: 10,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
struct Failures {
    since: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

/// Addresses tracked at most; beyond it, entries whose window and lock have passed are dropped.
const TRACKED_MAX: usize = 10_000;

pub struct Lockout {
    policy: LockoutPolicy,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
    /// Entries in the map: while zero, a request checks nothing under the lock.
    tracked: AtomicUsize,
}

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            addresses: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        }
    }

    /// No address has failed lately: none can be locked out.
    pub fn is_idle(&self) -> bool {
        self.tracked.load(Ordering::Relaxed) == 0
    }

    /// How long `address` stays locked out, if it is.
    pub fn locked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        if self.is_idle() {
            return None;
        }
        let addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let until = addresses.get(&address)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Count an invalid key from `address`; true when this failure locks it out.
    pub fn failed(&self, address: IpAddr, now: Instant) -> bool {
        if self.policy.failures == 0 {
            return false;
        }
        let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        if addresses.len() >= TRACKED_MAX {
            let policy = self.policy;
            addresses.retain(|_, f| {
                now.saturating_duration_since(f.since) < policy.window
                    || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let entry = addresses.entry(address).or_insert(Failures {
            since: now,
            count: 0,
            locked_until: None,
        });
        if now.saturating_duration_since(entry.since) >= self.policy.window {
            entry.since = now;
            entry.count = 0;
        }
        entry.count += 1;
        let locks = entry.count >= self.policy.failures
            && entry.locked_until.is_none_or(|until| until <= now);
        if locks {
            entry.locked_until = Some(now + self.policy.cooldown);
            entry.since = now;
            entry.count = 0;
        }
        self.tracked.store(addresses.len(), Ordering::Relaxed);
        locks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_bucket_admits_its_burst_then_one_request_per_interval() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(
            RateLimit {
                rate: 10.0,
                burst: 3.0,
            },
            2,
            t0,
        );
        for _ in 0..3 {
            assert!(limiter.admit(0, t0).is_ok());
        }
        let wait = limiter.admit(0, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(
            limiter.admit(1, t0).is_ok(),
            "another key has its own bucket"
        );
        assert!(limiter.admit(0, t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.admit(0, t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn a_batch_pays_for_its_items_and_the_key_waits_off_the_debt() {
        let t0 = Instant::now();
        let limit = RateLimit {
            rate: 5.0,
            burst: 5.0,
        };
        let limiter = RateLimiter::new(limit, 1, t0);
        assert!(limiter.admit(0, t0).is_ok());
        limiter.charge(0, 19, t0); // a batch of 20: 5 - 20 = -15 tokens
        let wait = limiter.admit(0, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 16.0 / 5.0).abs() < 1e-9, "{wait:?}");
        assert!(limiter.admit(0, t0 + Duration::from_secs_f64(3.2)).is_ok());
    }

    #[test]
    fn rekeyed_buckets_keep_their_debt_and_new_ones_start_full() {
        let t0 = Instant::now();
        let limit = RateLimit {
            rate: 1.0,
            burst: 2.0,
        };
        let limiter = RateLimiter::new(limit, 2, t0);
        limiter.admit(1, t0).unwrap();
        limiter.charge(1, 5, t0);
        // Old bucket 1 is now bucket 0; bucket 1 is a new key.
        let rekeyed = limiter.rekeyed(2, |i| (i == 0).then_some(1), t0);
        assert!(rekeyed.admit(0, t0).is_err(), "the debt stays");
        assert!(rekeyed.admit(1, t0).is_ok() && rekeyed.admit(1, t0).is_ok());
        assert!(rekeyed.admit(1, t0).is_err());
    }

    #[test]
    fn ten_invalid_keys_in_a_minute_lock_that_address_only_for_the_cooldown() {
        let t0 = Instant::now();
        let lockout = Lockout::new(LockoutPolicy::default());
        assert_eq!(lockout.locked(A, t0), None);
        for i in 0..9 {
            assert!(!lockout.failed(A, t0 + Duration::from_secs(i)));
        }
        assert_eq!(lockout.locked(A, t0 + Duration::from_secs(9)), None);
        assert!(lockout.failed(A, t0 + Duration::from_secs(9)));
        let left = lockout.locked(A, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(left, Duration::from_secs(299));
        assert_eq!(lockout.locked(B, t0 + Duration::from_secs(10)), None);
        assert_eq!(lockout.locked(A, t0 + Duration::from_secs(309)), None);
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_lock() {
        let t0 = Instant::now();
        let lockout = Lockout::new(LockoutPolicy::default());
        for i in 0..100u64 {
            assert!(!lockout.failed(A, t0 + Duration::from_secs(7 * i)));
        }
        let off = Lockout::new(LockoutPolicy {
            failures: 0,
            ..LockoutPolicy::default()
        });
        assert!((0..50).all(|_| !off.failed(A, t0)));
        assert_eq!(off.locked(A, t0), None);
    }

    proptest! {
        /// Over any stretch of time a key gets at most burst + rate × seconds requests.
        #[test]
        fn admitted_never_exceed_burst_plus_rate_times_time(
            rate in 0.5f64..50.0, burst in 1.0f64..20.0,
            gaps in proptest::collection::vec(0u64..200, 1..300),
        ) {
            let t0 = Instant::now();
            let limiter = RateLimiter::new(RateLimit { rate, burst }, 1, t0);
            let mut now = t0;
            let mut admitted = 0.0;
            for gap in gaps {
                now += Duration::from_millis(gap);
                if limiter.admit(0, now).is_ok() {
                    admitted += 1.0;
                }
            }
            let allowed = burst + rate * (now - t0).as_secs_f64();
            prop_assert!(admitted <= allowed + 1e-9, "{} > {}", admitted, allowed);
        }
    }
}
