//! The node's grid carbon intensity, as the volunteer configures it: a static value
//! (`--carbon-intensity`), a trace file with its forecast (`--carbon-trace`, optionally replayed
//! from now on), or only a zone whose feed the dispatcher polls (`--carbon-zone`); and
//! GreenCloud's rule (`--renewable-only` under `--renewable-threshold`). Reported in `hello` and,
//! when it changes, in `energy` messages.

use std::path::PathBuf;

use canopy_shared::carbon::{parse_trace, Forecast};
use canopy_shared::protocol::Energy;
use clap::Args;
use serde::Deserialize;

use crate::config::ConfigError;

/// How far ahead the forecast sent to the dispatcher reaches, seconds (the 48 h of grid
/// forecasts).
pub const FORECAST_HORIZON_S: i64 = 48 * 3600;
/// Highest intensity or threshold accepted, gCO₂e/kWh (the dispatcher refuses more).
const MAX_INTENSITY: u32 = 5_000;

/// Carbon flags (each also a `CANOPY_WORKER_…` variable).
#[derive(Debug, Clone, Default, Args)]
pub struct CarbonOverrides {
    /// Grid carbon intensity of this node, gCO₂e/kWh, when it does not change (e.g. your
    /// supplier's figure).
    #[arg(long, env = "CANOPY_WORKER_CARBON_INTENSITY")]
    pub carbon_intensity: Option<u32>,
    /// Grid zone of this node (e.g. `GB-13`); the dispatcher fills in its intensity when it
    /// polls a feed for the zone.
    #[arg(long, env = "CANOPY_WORKER_CARBON_ZONE")]
    pub carbon_zone: Option<String>,
    /// Trace file (CSV or JSON: UK Carbon Intensity API, Electricity Maps, Carbon Aware SDK) of
    /// this node's grid intensity; its future points are the forecast.
    #[arg(long, env = "CANOPY_WORKER_CARBON_TRACE")]
    pub carbon_trace: Option<PathBuf>,
    /// Replay the trace from now on (its first point becomes the current half hour), for
    /// recorded traces and demos.
    #[arg(long, env = "CANOPY_WORKER_CARBON_TRACE_REPLAY", num_args = 0..=1, default_missing_value = "true")]
    pub carbon_trace_replay: Option<bool>,
    /// Take tasks only while the grid is under --renewable-threshold (GreenCloud's rule).
    #[arg(long, env = "CANOPY_WORKER_RENEWABLE_ONLY", num_args = 0..=1, default_missing_value = "true")]
    pub renewable_only: Option<bool>,
    /// gCO₂e/kWh under which this node counts as running on clean power (default: 100).
    #[arg(long, env = "CANOPY_WORKER_RENEWABLE_THRESHOLD")]
    pub renewable_threshold: Option<u32>,
}

/// The `[carbon]` table of the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarbonFile {
    pub intensity: Option<u32>,
    pub zone: Option<String>,
    pub trace: Option<PathBuf>,
    pub trace_replay: Option<bool>,
    pub renewable_only: Option<bool>,
    pub renewable_threshold: Option<u32>,
}

/// Where the node's intensity comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CarbonSource {
    /// Not configured (or only a zone: the dispatcher's feed).
    #[default]
    Unknown,
    Static(u32),
    Trace(Forecast),
}

/// The node's carbon settings, validated (the trace is read at start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarbonConfig {
    pub source: CarbonSource,
    pub zone: Option<String>,
    pub renewable_only: bool,
    pub renewable_threshold: Option<u32>,
}

impl CarbonConfig {
    /// Defaults ← `[carbon]` ← flags; reads and checks the trace; `now` anchors a replay.
    pub fn resolve(
        file: Option<CarbonFile>,
        flags: &CarbonOverrides,
        now: i64,
    ) -> Result<CarbonConfig, ConfigError> {
        let file = file.unwrap_or_default();
        let intensity = flags.carbon_intensity.or(file.intensity);
        let trace = flags.carbon_trace.clone().or(file.trace);
        let replay = flags
            .carbon_trace_replay
            .or(file.trace_replay)
            .unwrap_or(false);
        let threshold = flags.renewable_threshold.or(file.renewable_threshold);
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if intensity.is_some_and(|g| g > MAX_INTENSITY)
            || threshold.is_some_and(|g| g > MAX_INTENSITY)
        {
            return invalid(format!(
                "carbon intensity and renewable threshold must be at most {MAX_INTENSITY} gCO2e/kWh"
            ));
        }
        let source = match (intensity, trace) {
            (Some(_), Some(_)) => {
                return invalid("give --carbon-intensity or --carbon-trace, not both".into())
            }
            (Some(g), None) => CarbonSource::Static(g),
            (None, Some(path)) => CarbonSource::Trace(read_trace(&path, replay, now)?),
            (None, None) => CarbonSource::Unknown,
        };
        let zone = flags.carbon_zone.clone().or(file.zone);
        if zone.as_ref().is_some_and(|zone| {
            zone.is_empty()
                || zone.len() > 64
                || !zone
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        }) {
            return invalid(
                "the carbon zone must be 1 to 64 letters, digits, '-', '_' or '.'".into(),
            );
        }
        Ok(CarbonConfig {
            source,
            zone,
            renewable_only: flags
                .renewable_only
                .or(file.renewable_only)
                .unwrap_or(false),
            renewable_threshold: threshold,
        })
    }

    /// What the node reports at `now`; `None` when nothing is configured.
    pub fn energy(&self, now: i64) -> Option<Energy> {
        if self == &CarbonConfig::default() {
            return None;
        }
        let (carbon_intensity, forecast) = match &self.source {
            CarbonSource::Unknown => (None, Vec::new()),
            CarbonSource::Static(g) => (Some(*g), Vec::new()),
            CarbonSource::Trace(trace) => (
                trace.intensity_at(now),
                trace.window(now, FORECAST_HORIZON_S),
            ),
        };
        Some(Energy {
            renewable: self.renewable_only,
            carbon_intensity,
            zone: self.zone.clone(),
            renewable_only: self.renewable_only,
            renewable_threshold: self.renewable_threshold,
            forecast,
        })
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads a trace file; with `replay`, shifts it so its first point is the half hour of `now`.
fn read_trace(path: &PathBuf, replay: bool, now: i64) -> Result<Forecast, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let points = parse_trace(&text).map_err(|error| {
        ConfigError::Invalid(format!("carbon trace {}: {error}", path.display()))
    })?;
    let trace = Forecast::new(points);
    let first = trace.points().first().map(|point| point.at).unwrap_or(now);
    Ok(if replay {
        trace.shifted(now - now.rem_euclid(1800) - first)
    } else {
        trace
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn trace_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write");
        file
    }

    #[test]
    fn a_static_intensity_is_reported_without_a_forecast() {
        let flags = CarbonOverrides {
            carbon_intensity: Some(120),
            ..CarbonOverrides::default()
        };
        let config = CarbonConfig::resolve(None, &flags, NOW).expect("valid");
        let energy = config.energy(NOW).expect("configured");
        assert_eq!(energy.carbon_intensity, Some(120));
        assert!(energy.forecast.is_empty());
        assert_eq!(CarbonConfig::default().energy(NOW), None);
    }

    #[test]
    fn a_replayed_trace_starts_now_and_forecasts_ahead() {
        let file = trace_file("from,forecast\n2023-03-14T00:00Z,300\n2023-03-14T00:30Z,40\n");
        let flags = CarbonOverrides {
            carbon_trace: Some(file.path().to_owned()),
            carbon_trace_replay: Some(true),
            renewable_only: Some(true),
            renewable_threshold: Some(50),
            ..CarbonOverrides::default()
        };
        let config = CarbonConfig::resolve(None, &flags, NOW).expect("valid");
        let energy = config.energy(NOW).expect("configured");
        assert_eq!(energy.carbon_intensity, Some(300));
        assert_eq!(energy.forecast.len(), 2);
        assert!(energy.renewable_only);
        let later = config.energy(NOW - NOW.rem_euclid(1800) + 1800);
        assert_eq!(later.and_then(|e| e.carbon_intensity), Some(40));
    }

    #[test]
    fn bad_carbon_settings_are_refused_with_the_reason() {
        let file = trace_file("when,forecast\n2023-03-14T00:00Z,300\n");
        let flags = CarbonOverrides {
            carbon_trace: Some(file.path().to_owned()),
            ..CarbonOverrides::default()
        };
        let error = CarbonConfig::resolve(None, &flags, NOW).expect_err("bad header");
        assert!(error.to_string().contains("no time column"), "{error}");
        let both = CarbonOverrides {
            carbon_trace: Some(file.path().to_owned()),
            carbon_intensity: Some(5),
            ..CarbonOverrides::default()
        };
        assert!(CarbonConfig::resolve(None, &both, NOW).is_err());
        let zone = CarbonOverrides {
            carbon_zone: Some("GB 13".into()),
            ..CarbonOverrides::default()
        };
        assert!(CarbonConfig::resolve(None, &zone, NOW).is_err());
        let missing = CarbonOverrides {
            carbon_trace: Some("/nonexistent/trace.csv".into()),
            ..CarbonOverrides::default()
        };
        assert!(matches!(
            CarbonConfig::resolve(None, &missing, NOW),
            Err(ConfigError::Read { .. })
        ));
    }
}
