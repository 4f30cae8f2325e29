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
    /// Intensity where the task would run now (the greenest worker with room); `None`: the
    /// greenest worker's, busy or not.
    pub now_intensity: Option<u32>,
}

impl DeferralRequest {
    /// The last instant the task may start and still meet its deadline with the margin.
    pub fn latest_start(&self) -> i64 {
        self.deadline
            .saturating_sub(self.run_s)
            .saturating_sub(self.slack_s)
    }
}

/// A worker that could run the task: its forecast and how many tasks it runs at once.
#[derive(Debug, Clone, Copy)]
pub struct NodeForecast<'a> {
    pub forecast: &'a Forecast,
    pub slots: u32,
}

/// What to do with a deferrable task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Run it now: no forecast, no greener window with room before the latest start, or no
    /// time left.
    RunNow,
    /// Hold it until `until`, inside the window that starts at `window` (book it there), when a
    /// worker is forecast at `expected` gCO₂e/kWh against the greenest `current` now.
    Wait {
        until: i64,
        window: i64,
        expected: u32,
        current: u32,
    },
}

/// Longest window counted when the forecasts say nothing after a change, seconds.
const LAST_WINDOW_S: i64 = 1800;

/// Whether to hold a task for a greener window, and until when. A window is the time between two
/// changes of the workers' forecasts; in it each worker can start `slots × window / run_s` tasks
/// (the timeout as the run, so this errs on the side of room). Tasks already held for a window
/// (`booked`) fill its greenest workers first, in rounds of their slots, so a burst of deferrable
/// tasks spreads over workers, rounds and windows instead of all waiting for the same minute.
/// The deadline always wins: no start later than the latest start is chosen, and a task with no
/// time to spare runs now.
pub fn defer(
    request: &DeferralRequest,
    nodes: &[NodeForecast<'_>],
    booked: &dyn Fn(i64) -> u32,
) -> Deferral {
    let now = request.now;
    let latest_start = request.latest_start();
    if latest_start <= now {
        return Deferral::RunNow;
    }
    let greenest_now = || {
        nodes
            .iter()
            .filter_map(|node| node.forecast.intensity_at(now))
            .min()
    };
    let Some(current) = request.now_intensity.or_else(greenest_now) else {
        return Deferral::RunNow;
    };
    let run_s = request.run_s.max(1);
    let mut changes: Vec<i64> = nodes
        .iter()
        .flat_map(|node| {
            node.forecast
                .changes_between(now, latest_start.saturating_add(2 * LAST_WINDOW_S))
        })
        .collect();
    changes.sort_unstable();
    changes.dedup();
    // (start, window, intensity)
    let mut best: Option<(i64, i64, u32)> = None;
    for (index, &window) in changes.iter().enumerate() {
        if window > latest_start {
            break;
        }
        let length = changes
            .get(index + 1)
            .map_or(LAST_WINDOW_S, |next| next - window);
        let Some((intensity, round)) = seat(nodes, window, length / run_s, booked(window)) else {
            continue;
        };
        let start = window.saturating_add(i64::from(round).saturating_mul(run_s));
        if start <= latest_start && best.is_none_or(|(_, _, greenest)| intensity < greenest) {
            best = Some((start, window, intensity));
        }
    }
    let Some((until, window, expected)) = best else {
        return Deferral::RunNow;
    };
    let gain = u64::from(request.min_gain_percent.min(100));
    if u64::from(expected) * 100 <= u64::from(current) * (100 - gain) {
        Deferral::Wait {
            until,
            window,
            expected,
            current,
        }
    } else {
        Deferral::RunNow
    }
}

/// Where the next task held for the window starting at `at` would run: the intensity of the
/// greenest worker with room left after `booked` tasks, and the round (of that worker's slots)
/// it starts in. `None` when the window is full.
fn seat(nodes: &[NodeForecast<'_>], at: i64, rounds: i64, booked: u32) -> Option<(u32, u32)> {
    let rounds = u32::try_from(rounds.max(1)).unwrap_or(u32::MAX);
    let mut levels: Vec<(u32, u32)> = nodes
        .iter()
        .filter_map(|node| Some((node.forecast.intensity_at(at)?, node.slots.max(1))))
        .collect();
    levels.sort_unstable();
    let mut before = 0u32;
    for (intensity, slots) in levels {
        let room = slots.saturating_mul(rounds);
        if booked < before.saturating_add(room) {
            return Some((intensity, (booked - before) / slots));
        }
        before = before.saturating_add(room);
    }
    None
}

#[cfg(test)]
mod tests;
