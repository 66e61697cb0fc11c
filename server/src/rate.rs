//! Rate limits: a token bucket per connection (messages, operations), and refused `hello`s
//! counted per IP address over a minute (so tokens cannot be guessed at speed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `per_second` on average, in bursts of up to twice that.
#[derive(Debug, Clone)]
pub struct Bucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            capacity: per_second * 2.0,
            tokens: per_second * 2.0,
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens if there are enough (refilled for the time since the last take).
    pub fn take(&mut self, n: usize) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.last = now;
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// Each client id's message and operation buckets, kept between its connections, so a
/// reconnect does not refill them (issue 29: reconnecting got 37,643 pongs/s through a
/// limit of 500 messages/s per connection).
#[derive(Debug, Default)]
pub struct Paces {
    by_client: Mutex<HashMap<String, (Bucket, Bucket, Instant)>>,
}

impl Paces {
    /// The buckets `client` left at its last connection, or full new ones.
    pub fn take(&self, client: &str, messages: u32, ops: u32) -> (Bucket, Bucket) {
        let mut by_client = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        by_client
            .remove(client)
            .map(|(m, o, _)| (m, o))
            .unwrap_or_else(|| (Bucket::new(messages), Bucket::new(ops)))
    }

    /// Keeps `client`'s buckets for its next connection (those unused for a minute are
    /// dropped once many are kept: by then they are full again anyway).
    pub fn give_back(&self, client: &str, buckets: (Bucket, Bucket)) {
        let mut by_client = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        if by_client.len() > 100_000 {
            by_client.retain(|_, (_, _, at)| at.elapsed() < WINDOW);
        }
        by_client.insert(client.to_owned(), (buckets.0, buckets.1, Instant::now()));
    }
}

/// Refused `hello`s per IP address in the current minute.
#[derive(Debug, Default)]
pub struct AuthFailures {
    by_ip: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);

/// How long an address past its refusals waits for each answer (a `hello`, `/metrics`):
/// guesses slow down to the connections it may hold, and a right token still gets in.
pub const PENALTY: Duration = Duration::from_secs(1);

impl AuthFailures {
    /// Whether `ip` has used up its `per_minute` refusals.
    pub fn blocked(&self, ip: IpAddr, per_minute: u32) -> bool {
        let by_ip = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        by_ip
            .get(&ip)
            .is_some_and(|(start, count)| start.elapsed() < WINDOW && *count >= per_minute)
    }

    /// Whether `ip` has used up its refusals; if so, waits [`PENALTY`] first (every answer
    /// to such an address is slow, right token or not).
    pub async fn pace(&self, ip: IpAddr, per_minute: u32) -> bool {
        let blocked = self.blocked(ip, per_minute);
        if blocked {
            tokio::time::sleep(PENALTY).await;
        }
        blocked
    }

    /// Counts one refusal for `ip`.
    pub fn record(&self, ip: IpAddr) {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        if by_ip.len() > 100_000 {
            by_ip.retain(|_, (start, _)| start.elapsed() < WINDOW);
        }
        let entry = by_ip.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_of_twice_the_rate_then_refuses() {
        let mut bucket = Bucket::new(10);
        assert!(bucket.take(20));
        assert!(!bucket.take(5));
    }

    #[test]
    fn failures_block_an_ip_after_the_limit() {
        let failures = AuthFailures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!failures.blocked(ip, 3));
            failures.record(ip);
        }
        assert!(failures.blocked(ip, 3));
        assert!(!failures.blocked("10.0.0.2".parse().unwrap(), 3));
    }
}
