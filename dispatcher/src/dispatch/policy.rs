//! Where a task runs and when, as pure functions: the ranking of the workers that could take a
//! task (warm, then greener, then nearer for a task in a hurry, then less loaded) and the decision
//! to hold a deferrable task for a greener window before its deadline. No clock and no I/O:
//! callers pass `now`, so placement at submit, the queued path and the carbon simulation
//! (`bench/carbon`) all run this same code.
//!
//! It sits in `dispatch/` (this replica's live view of its workers) rather than beside
//! `tasks/placement.rs` because it knows nothing of tasks or the database: it orders offers.

use std::cmp::Reverse;

use canopy_shared::carbon::Forecast;

/// What ranking knows of one worker that fits the task now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offer {
    /// The worker holds a container of the task's function version warm.
    pub warm: bool,
    /// Grid carbon intensity at the worker now, gCO₂e/kWh; `None` when it reports none.
    pub intensity: Option<u32>,
    /// Measured WebSocket round trip, ms; `None` until the first pong.
    pub latency_ms: Option<u32>,
    /// Tasks it can take now: more means less loaded.
    pub credits: u32,
}

/// Sort key of an offer, smaller is better.
pub type RankKey = (Reverse<bool>, u32, u32, Reverse<u32>);

/// The sort key, best first: warm (a cold start costs seconds of CPU, more than a greener grid
/// saves on a short task, and the caller waits for it), then the lowest carbon intensity (unknown
/// after every known one), then, for a task in a hurry, the lowest round trip (unmeasured last),
/// then the most credits.
pub fn rank(offer: &Offer, in_a_hurry: bool) -> RankKey {
    let distance = if in_a_hurry {
        offer.latency_ms.unwrap_or(u32::MAX)
    } else {
        0
    };
    (
        Reverse(offer.warm),
        offer.intensity.unwrap_or(u32::MAX),
        distance,
        Reverse(offer.credits),
    )
}

/// Indexes of `offers`, best first (ties keep their order).
pub fn order(offers: &[Offer], in_a_hurry: bool) -> Vec<usize> {
    let mut indexes: Vec<usize> = (0..offers.len()).collect();
    indexes.sort_by_key(|&index| rank(&offers[index], in_a_hurry));
    indexes
}

/// A deferrable task asking when it may start. Times are Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeferralRequest {
    pub now: i64,
    /// The task must have finished by then.
    pub deadline: i64,
    /// The longest the task can run (its function's timeout), seconds.
    pub run_s: i64,
    /// Margin kept before the deadline on top of the run (queueing, a retry), seconds.
    pub slack_s: i64,
    /// Hold the task only for a window at least this much greener than now, percent.
    pub min_gain_percent: u32,
}

impl DeferralRequest {
    /// The last instant the task may start and still meet its deadline with the margin.
    pub fn latest_start(&self) -> i64 {
        self.deadline
            .saturating_sub(self.run_s)
            .saturating_sub(self.slack_s)
    }
}

/// What to do with a deferrable task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Run it now: no forecast, no greener window before the latest start, or no time left.
    RunNow,
    /// Hold it until `until`, when the greenest fitting worker is forecast at `expected`
    /// gCO₂e/kWh against `current` now.
    Wait {
        until: i64,
        expected: u32,
        current: u32,
    },
}

/// Whether to hold a task for a greener window. `forecasts` are those of the workers that could
/// run it; at each instant the greenest of them counts. The deadline always wins: a window later
/// than the latest start is never chosen, and a task with no time to spare runs now.
pub fn defer(request: &DeferralRequest, forecasts: &[&Forecast]) -> Deferral {
    let now = request.now;
    let latest_start = request.latest_start();
    if latest_start <= now {
        return Deferral::RunNow;
    }
    let greenest = |t: i64| {
        forecasts
            .iter()
            .filter_map(|forecast| forecast.intensity_at(t))
            .min()
    };
    let Some(current) = greenest(now) else {
        return Deferral::RunNow;
    };
    let mut changes: Vec<i64> = forecasts
        .iter()
        .flat_map(|forecast| forecast.changes_between(now, latest_start))
        .collect();
    changes.sort_unstable();
    changes.dedup();
    let mut best = (now, current);
    for t in changes {
        if let Some(intensity) = greenest(t) {
            if intensity < best.1 {
                best = (t, intensity);
            }
        }
    }
    let (until, expected) = best;
    let gain = u64::from(request.min_gain_percent.min(100));
    let greener_enough = u64::from(expected) * 100 <= u64::from(current) * (100 - gain);
    if until > now && greener_enough {
        Deferral::Wait {
            until,
            expected,
            current,
        }
    } else {
        Deferral::RunNow
    }
}

#[cfg(test)]
mod tests {
    use canopy_shared::carbon::IntensityPoint;

    use super::*;

    fn offer(warm: bool, intensity: Option<u32>, latency_ms: Option<u32>, credits: u32) -> Offer {
        Offer {
            warm,
            intensity,
            latency_ms,
            credits,
        }
    }

    #[test]
    fn warm_beats_green() {
        let offers = [
            offer(false, Some(10), Some(1), 8),
            offer(true, Some(400), Some(90), 1),
        ];
        assert_eq!(order(&offers, false), [1, 0]);
        assert_eq!(order(&offers, true), [1, 0]);
    }

    #[test]
    fn greener_comes_next_and_unknown_intensity_ranks_last() {
        let offers = [
            offer(false, None, Some(1), 9),
            offer(false, Some(300), Some(50), 1),
            offer(false, Some(40), Some(80), 1),
            offer(false, Some(0), None, 1),
        ];
        assert_eq!(order(&offers, false), [3, 2, 1, 0]);
        assert_eq!(order(&offers, true), [3, 2, 1, 0], "carbon before latency");
    }

    #[test]
    fn latency_in_a_hurry_then_credits_break_ties() {
        let offers = [
            offer(false, Some(100), Some(40), 9),
            offer(false, Some(100), Some(3), 1),
            offer(false, Some(100), None, 5),
        ];
        assert_eq!(order(&offers, false), [0, 2, 1], "most credits");
        assert_eq!(order(&offers, true), [1, 0, 2], "nearest, unmeasured last");
    }

    const NOW: i64 = 1_000_000;

    fn trace(points: &[(i64, u32)]) -> Forecast {
        Forecast::new(
            points
                .iter()
                .map(|&(offset, intensity)| IntensityPoint {
                    at: NOW + offset,
                    intensity,
                })
                .collect(),
        )
    }

    fn request(deadline_in: i64) -> DeferralRequest {
        DeferralRequest {
            now: NOW,
            deadline: NOW + deadline_in,
            run_s: 120,
            slack_s: 60,
            min_gain_percent: 10,
        }
    }

    #[test]
    fn a_task_waits_for_the_greenest_window_before_its_latest_start() {
        let dirty_then_clean = trace(&[(0, 300), (1800, 200), (3600, 50), (5400, 20)]);
        assert_eq!(
            defer(&request(4 * 3600), &[&dirty_then_clean]),
            Deferral::Wait {
                until: NOW + 5400,
                expected: 20,
                current: 300
            }
        );
        // Latest start is 3600 + 1 s: the 20 g window is out of reach, the 50 g one is not.
        assert_eq!(
            defer(&request(3600 + 181), &[&dirty_then_clean]),
            Deferral::Wait {
                until: NOW + 3600,
                expected: 50,
                current: 300
            }
        );
    }

    #[test]
    fn the_deadline_always_wins() {
        let later_clean = trace(&[(0, 300), (3600, 10)]);
        assert_eq!(defer(&request(3600), &[&later_clean]), Deferral::RunNow);
        assert_eq!(defer(&request(180), &[&later_clean]), Deferral::RunNow);
        assert_eq!(defer(&request(-5), &[&later_clean]), Deferral::RunNow);
    }

    #[test]
    fn the_greenest_worker_counts_at_each_instant() {
        let dirty = trace(&[(0, 400), (1800, 10)]);
        let clean_now = Forecast::constant(30);
        assert_eq!(
            defer(&request(3 * 3600), &[&dirty, &clean_now]),
            Deferral::Wait {
                until: NOW + 1800,
                expected: 10,
                current: 30
            }
        );
        let cleanest_now = Forecast::constant(5);
        assert_eq!(
            defer(&request(3 * 3600), &[&dirty, &cleanest_now]),
            Deferral::RunNow
        );
    }

    #[test]
    fn small_gains_and_missing_forecasts_run_now() {
        let flat = trace(&[(0, 100), (1800, 95)]);
        assert_eq!(defer(&request(3 * 3600), &[&flat]), Deferral::RunNow);
        assert_eq!(defer(&request(3 * 3600), &[]), Deferral::RunNow);
        let future_only = trace(&[(600, 10)]);
        assert_eq!(
            defer(&request(3 * 3600), &[&future_only]),
            Deferral::RunNow,
            "no intensity known now to compare with"
        );
    }
}
