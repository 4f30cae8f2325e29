//! Capped exponential backoff with jitter for reconnecting to the dispatcher.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `initial` up to `max`, each drawn at random between half and all of
/// the current step (so a fleet of workers does not reconnect in lockstep).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// A backoff starting at `initial` and never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            step: initial,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step.min(self.max);
        self.step = step.saturating_mul(2).min(self.max);
        let low = step / 2;
        let jitter = rand::thread_rng().gen_range(0..=(step - low).as_millis() as u64);
        low + Duration::from_millis(jitter)
    }

    /// Starts over after a successful connection.
    pub fn reset(&mut self) {
        self.step = self.initial;
    }
}

impl Default for Backoff {
    /// 0.5 s → 30 s.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(500));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        assert!(
            delays[19] >= Duration::from_secs(15),
            "late delays sit near the cap"
        );
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(500));
    }

    #[test]
    fn delays_are_jittered() {
        let samples: std::collections::HashSet<Duration> = (0..50)
            .map(|_| Backoff::new(Duration::from_secs(8), Duration::from_secs(8)).next_delay())
            .collect();
        assert!(samples.len() > 5, "50 draws of an 8 s step should differ");
        assert!(samples
            .iter()
            .all(|d| *d >= Duration::from_secs(4) && *d <= Duration::from_secs(8)));
    }
}
