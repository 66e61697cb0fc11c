//! Reconnect delays: exponential backoff, capped, with optional jitter.

use crate::core::config::Backoff;

/// The delay before reconnect attempt `attempt` (1 for the first retry), in ms.
/// With jitter the delay is drawn uniformly from the upper half of the exponential step
/// ("equal jitter"), so clients that dropped together spread out but never retry at once.
/// `random` is a number in `[0, 1)`.
pub fn delay(config: &Backoff, attempt: u32, random: f64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(64) as i32;
    let step = (config.initial_delay as f64 * config.factor.powi(exponent))
        .min(config.max_delay as f64)
        .max(0.0);
    let delay = if config.jitter {
        step / 2.0 + step / 2.0 * random.clamp(0.0, 1.0)
    } else {
        step
    };
    delay.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jitter: bool) -> Backoff {
        Backoff {
            initial_delay: 250,
            max_delay: 30_000,
            factor: 2.0,
            jitter,
        }
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let c = config(false);
        let delays: Vec<u64> = (1..=10).map(|a| delay(&c, a, 0.5)).collect();
        assert_eq!(&delays[..4], &[250, 500, 1000, 2000]);
        assert_eq!(delays[9], 30_000);
        assert_eq!(delay(&c, u32::MAX, 0.5), 30_000);
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_step() {
        let c = config(true);
        assert_eq!(delay(&c, 3, 0.0), 500);
        assert_eq!(delay(&c, 3, 0.999_999), 1000);
        assert_eq!(delay(&c, 3, 0.5), 750);
    }
}
