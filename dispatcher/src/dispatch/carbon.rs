//! The carbon intensity of one connected node: what its worker reports (a static value, or a
//! trace's points with the forecast ahead) or, for a node that names only its zone, the feed this
//! dispatcher polls for that zone (`feeds.rs`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use canopy_shared::carbon::{Forecast, IntensityPoint};
use canopy_shared::protocol::Energy;

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Deferrable tasks this replica holds per greener window (by the window's start), so the next
/// one is seated after them (`policy::defer`). Per replica: each counts what it placed.
#[derive(Debug, Default)]
pub struct Bookings {
    windows: Mutex<BTreeMap<i64, u32>>,
}

impl Bookings {
    /// Tasks held for the window starting at `window`.
    pub fn count(&self, window: i64) -> u32 {
        self.windows
            .lock()
            .map(|windows| windows.get(&window).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// One more task held for `window`; windows that began more than a day before `now` are
    /// forgotten.
    pub fn book(&self, window: i64, now: i64) {
        if let Ok(mut windows) = self.windows.lock() {
            *windows.entry(window).or_insert(0) += 1;
            let kept = windows.split_off(&(now - 24 * 3600));
            *windows = kept;
        }
    }
}

/// A node's energy as this dispatcher knows it.
#[derive(Debug, Clone, Default)]
pub struct NodeEnergy {
    /// The last report, without its forecast (which lives in `forecast`).
    reported: Option<Energy>,
    forecast: Forecast,
    /// The worker sent its own intensity (a feed does not override it).
    own: bool,
}

impl NodeEnergy {
    /// From `hello` or an `energy` message.
    pub fn from_report(energy: Option<Energy>) -> NodeEnergy {
        let mut energy = energy;
        let (forecast, own) = match energy.as_mut() {
            Some(report) if !report.forecast.is_empty() => {
                (Forecast::new(std::mem::take(&mut report.forecast)), true)
            }
            Some(Energy {
                carbon_intensity: Some(intensity),
                ..
            }) => (Forecast::constant(*intensity), true),
            _ => (Forecast::default(), false),
        };
        NodeEnergy {
            reported: energy,
            forecast,
            own,
        }
    }

    /// The zone the node named, if any.
    pub fn zone(&self) -> Option<&str> {
        self.reported.as_ref()?.zone.as_deref()
    }

    /// A polled feed for the node's zone; the node's own report wins.
    pub fn set_feed(&mut self, points: &[IntensityPoint]) {
        if !self.own {
            self.forecast = Forecast::new(points.to_vec());
        }
    }

    /// Intensity at `now`, gCO₂e/kWh, if known.
    pub fn intensity_at(&self, now: i64) -> Option<u32> {
        self.forecast.intensity_at(now)
    }

    pub fn forecast(&self) -> &Forecast {
        &self.forecast
    }

    /// What the node offers as energy at `now`, for the matching predicate: the report with the
    /// current intensity and no forecast (offers are copied on every scheduling pass).
    pub fn offered(&self, now: i64) -> Option<Energy> {
        let intensity = self.intensity_at(now);
        match &self.reported {
            Some(report) => Some(Energy {
                carbon_intensity: intensity,
                forecast: Vec::new(),
                ..report.clone()
            }),
            None => intensity.map(|intensity| Energy {
                renewable: false,
                carbon_intensity: Some(intensity),
                zone: None,
                renewable_only: false,
                renewable_threshold: None,
                forecast: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(intensity: Option<u32>, forecast: &[(i64, u32)]) -> Energy {
        Energy {
            renewable: false,
            carbon_intensity: intensity,
            zone: Some("GB-13".into()),
            renewable_only: false,
            renewable_threshold: None,
            forecast: forecast
                .iter()
                .map(|&(at, intensity)| IntensityPoint { at, intensity })
                .collect(),
        }
    }

    #[test]
    fn a_forecast_beats_a_static_value_and_a_feed_fills_only_the_silent() {
        let traced = NodeEnergy::from_report(Some(energy(Some(500), &[(0, 10), (60, 20)])));
        assert_eq!(traced.intensity_at(30), Some(10));
        assert_eq!(traced.intensity_at(90), Some(20));
        let mut fixed = NodeEnergy::from_report(Some(energy(Some(70), &[])));
        fixed.set_feed(&[IntensityPoint {
            at: 0,
            intensity: 1,
        }]);
        assert_eq!(fixed.intensity_at(1_000_000), Some(70));
        let mut zoned = NodeEnergy::from_report(Some(energy(None, &[])));
        assert_eq!(zoned.intensity_at(10), None);
        assert_eq!(zoned.zone(), Some("GB-13"));
        zoned.set_feed(&[IntensityPoint {
            at: 0,
            intensity: 33,
        }]);
        assert_eq!(zoned.intensity_at(10), Some(33));
        let offered = zoned.offered(10);
        assert_eq!(offered.as_ref().and_then(|e| e.carbon_intensity), Some(33));
        assert!(offered.is_some_and(|e| e.forecast.is_empty()));
        assert_eq!(NodeEnergy::from_report(None).offered(0), None);
    }
}
