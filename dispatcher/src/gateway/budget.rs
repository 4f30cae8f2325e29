//! Per-connection message budget: a worker that floods the gateway is cut off, alone.

use std::time::Instant;

/// A token bucket over a worker's messages: `rate` per second, bursts up to ten seconds' worth.
pub(super) struct MessageBudget {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl MessageBudget {
    pub(super) fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        MessageBudget {
            tokens: rate * 10.0,
            rate,
            last: Instant::now(),
        }
    }

    /// Spends one message; false when the budget is spent (a flood).
    pub(super) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
            .min(self.rate * 10.0);
        self.last = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_budget_allows_bursts_and_then_refuses() {
        let mut budget = MessageBudget::new(10);
        assert!(
            (0..100).all(|_| budget.take()),
            "ten seconds' worth at once is fine"
        );
        assert!(!budget.take(), "then it runs dry");
    }
}
