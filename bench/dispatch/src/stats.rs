//! Latency samples and their summary: nearest-rank percentiles, mean, max, in milliseconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A latency distribution, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Summarises samples (any order; sorted in place). Empty input gives all zeros.
    pub fn from_samples(samples: &mut [Duration]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        Latency {
            count: samples.len(),
            mean: ms(total) / samples.len() as f64,
            p50: ms(percentile(samples, 50.0)),
            p90: ms(percentile(samples, 90.0)),
            p99: ms(percentile(samples, 99.0)),
            max: ms(samples[samples.len() - 1]),
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty samples: the smallest sample such that at
/// least `pct`% of the samples are ≤ it.
pub fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    debug_assert!(!sorted.is_empty());
    let n = sorted.len();
    let rank = ((pct / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_micros(*v)).collect()
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let sorted = micros(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sorted, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&sorted, 90.0), Duration::from_micros(90));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&sorted, 100.0), Duration::from_micros(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_micros(1));
    }

    #[test]
    fn small_sets_round_the_rank_up() {
        let sorted = micros(&[10, 20, 30]);
        assert_eq!(percentile(&sorted, 50.0), Duration::from_micros(20));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_micros(30));
        let one = micros(&[7]);
        assert_eq!(percentile(&one, 99.0), Duration::from_micros(7));
    }

    #[test]
    fn summary_sorts_and_reports_milliseconds() {
        let mut samples = micros(&[3000, 1000, 2000, 4000]);
        let latency = Latency::from_samples(&mut samples);
        assert_eq!(latency.count, 4);
        assert!((latency.mean - 2.5).abs() < 1e-9);
        assert!((latency.p50 - 2.0).abs() < 1e-9);
        assert!((latency.p99 - 4.0).abs() < 1e-9);
        assert!((latency.max - 4.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_is_all_zero() {
        assert_eq!(Latency::from_samples(&mut []), Latency::default());
    }
}
