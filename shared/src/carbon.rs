//! Grid carbon intensity over time: the points of a trace or forecast (what a worker reports and
//! the dispatcher reads), reading a value at an instant, and parsing the trace files volunteers
//! have (`carbon/trace.rs`).

mod trace;

use serde::{Deserialize, Serialize};

pub use trace::{parse_trace, TraceError, MAX_TRACE_POINTS};

/// How long the last point of a trace holds when the trace says nothing more: the UK Carbon
/// Intensity API's half hour.
pub const DEFAULT_STEP_S: i64 = 30 * 60;

/// Grid carbon intensity from `at` (Unix seconds) until the next point, gCO₂e/kWh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntensityPoint {
    pub at: i64,
    pub intensity: u32,
}

/// A step function of carbon intensity: each point holds until the next one; the last holds one
/// step (the spacing of the last two points, or `DEFAULT_STEP_S`). A static intensity is one point
/// that holds forever.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forecast {
    points: Vec<IntensityPoint>,
    /// How long the last point holds, seconds.
    last_holds_s: i64,
}

impl Forecast {
    /// A forecast from points in any order; of two points at the same instant the later wins.
    pub fn new(mut points: Vec<IntensityPoint>) -> Forecast {
        points.sort_by_key(|point| point.at);
        points.reverse();
        points.dedup_by_key(|point| point.at);
        points.reverse();
        let last_holds_s = match points.as_slice() {
            [.., before, last] => (last.at - before.at).max(1),
            _ => DEFAULT_STEP_S,
        };
        Forecast {
            points,
            last_holds_s,
        }
    }

    /// The same intensity at every instant (a volunteer's `--carbon-intensity`).
    pub fn constant(intensity: u32) -> Forecast {
        Forecast {
            points: vec![IntensityPoint {
                at: i64::MIN / 4,
                intensity,
            }],
            last_holds_s: i64::MAX / 2,
        }
    }

    pub fn points(&self) -> &[IntensityPoint] {
        &self.points
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The intensity at `t` (Unix seconds), `None` outside the trace.
    pub fn intensity_at(&self, t: i64) -> Option<u32> {
        let index = self.points.partition_point(|point| point.at <= t);
        let point = self.points.get(index.checked_sub(1)?)?;
        if index == self.points.len() && t >= point.at.saturating_add(self.last_holds_s) {
            return None;
        }
        Some(point.intensity)
    }

    /// Instants in `(after, until]` where the intensity may change.
    pub fn changes_between(&self, after: i64, until: i64) -> impl Iterator<Item = i64> + '_ {
        self.points
            .iter()
            .map(|point| point.at)
            .filter(move |at| *at > after && *at <= until)
    }

    /// The points that cover `[from, from + horizon_s)`: what a worker sends as its forecast.
    pub fn window(&self, from: i64, horizon_s: i64) -> Vec<IntensityPoint> {
        let start = self.points.partition_point(|point| point.at <= from);
        let first = start.saturating_sub(1);
        let end = from.saturating_add(horizon_s);
        self.points[first..]
            .iter()
            .take_while(|point| point.at < end)
            .copied()
            .collect()
    }

    /// The same instants with each intensity mapped (e.g. a threshold applied).
    pub fn map_intensity(&self, map: impl Fn(u32) -> u32) -> Forecast {
        Forecast {
            points: self
                .points
                .iter()
                .map(|point| IntensityPoint {
                    at: point.at,
                    intensity: map(point.intensity),
                })
                .collect(),
            last_holds_s: self.last_holds_s,
        }
    }

    /// The trace moved by `by_s` seconds (a recorded day replayed from now on).
    pub fn shifted(&self, by_s: i64) -> Forecast {
        Forecast {
            points: self
                .points
                .iter()
                .map(|point| IntensityPoint {
                    at: point.at.saturating_add(by_s),
                    intensity: point.intensity,
                })
                .collect(),
            last_holds_s: self.last_holds_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forecast(points: &[(i64, u32)]) -> Forecast {
        Forecast::new(
            points
                .iter()
                .map(|&(at, intensity)| IntensityPoint { at, intensity })
                .collect(),
        )
    }

    #[test]
    fn a_point_holds_until_the_next_and_the_last_for_one_step() {
        let trace = forecast(&[(1800, 200), (0, 100), (3600, 50)]);
        assert_eq!(trace.intensity_at(-1), None);
        assert_eq!(trace.intensity_at(0), Some(100));
        assert_eq!(trace.intensity_at(1799), Some(100));
        assert_eq!(trace.intensity_at(1800), Some(200));
        assert_eq!(trace.intensity_at(5399), Some(50));
        assert_eq!(
            trace.intensity_at(5400),
            None,
            "the last point holds one step"
        );
        assert_eq!(
            trace.changes_between(0, 3600).collect::<Vec<_>>(),
            [1800, 3600]
        );
    }

    #[test]
    fn a_constant_holds_at_every_instant() {
        let constant = Forecast::constant(42);
        for t in [i64::MIN / 8, 0, 1_700_000_000, i64::MAX / 8] {
            assert_eq!(constant.intensity_at(t), Some(42));
        }
    }

    #[test]
    fn the_window_starts_with_the_point_in_force() {
        let trace = forecast(&[(0, 1), (10, 2), (20, 3), (30, 4)]);
        let at = |points: Vec<IntensityPoint>| points.iter().map(|p| p.at).collect::<Vec<_>>();
        assert_eq!(at(trace.window(15, 10)), [10, 20]);
        assert_eq!(at(trace.window(-5, 100)), [0, 10, 20, 30]);
        assert_eq!(at(trace.shifted(100).window(115, 1)), [110]);
    }

    #[test]
    fn the_later_of_two_points_at_one_instant_wins() {
        let trace = forecast(&[(0, 1), (0, 2)]);
        assert_eq!(trace.points().len(), 1);
        assert_eq!(trace.intensity_at(0), Some(2));
    }

    #[test]
    fn points_have_a_stable_wire_form() {
        let json = serde_json::to_value(IntensityPoint {
            at: 7,
            intensity: 120,
        })
        .ok();
        assert_eq!(json, Some(serde_json::json!({"at": 7, "intensity": 120})));
    }
}
