//! Trace files: timestamps and carbon intensity in the shapes volunteers find them.
//!
//! - JSON of the UK Carbon Intensity API (`{"data":[{"from","to","intensity":{"forecast",
//!   "actual"}}]}`, national or one region's `{"data":{"data":[…]}}`), of Electricity Maps
//!   (`{"history"|"forecast"|"data":[{"datetime","carbonIntensity"}]}`) or of the Carbon Aware SDK
//!   (`[{"time","rating"}]`, `[{"forecastData":[{"timestamp","value"}]}]`): every object with a
//!   time and an intensity is a point, wherever it sits;
//! - CSV with a header naming a time column (`from`, `datetime`, `time`, `timestamp`,
//!   `Datetime (UTC)`) and an intensity column (`actual`, `forecast`, `intensity`,
//!   `carbon_intensity`, `carbonIntensity`, `rating`, `value`, or a header containing
//!   "carbon intensity"); `actual` is used where present, else `forecast`.
//!
//! Times are RFC 3339 (seconds optional, `Z` or an offset) or `YYYY-MM-DD HH:MM[:SS]` in UTC.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

use super::IntensityPoint;

/// Most points a trace may have (a year of half hours is 17,520).
pub const MAX_TRACE_POINTS: usize = 100_000;

/// Why a trace could not be read; names the line (CSV) or the point (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceError {
    Empty,
    Json(String),
    Header(String),
    Row { line: usize, message: String },
    Point { index: usize, message: String },
    TooLong,
}

impl std::fmt::Display for TraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceError::Empty => write!(f, "the trace has no points"),
            TraceError::Json(message) => write!(f, "not valid JSON: {message}"),
            TraceError::Header(message) => write!(f, "CSV header: {message}"),
            TraceError::Row { line, message } => write!(f, "line {line}: {message}"),
            TraceError::Point { index, message } => write!(f, "point {index}: {message}"),
            TraceError::TooLong => write!(f, "more than {MAX_TRACE_POINTS} points"),
        }
    }
}

impl std::error::Error for TraceError {}

const TIME_KEYS: [&str; 6] = [
    "from",
    "datetime",
    "time",
    "timestamp",
    "zone_datetime",
    "datetime (utc)",
];
const INTENSITY_KEYS: [&str; 7] = [
    "actual",
    "forecast",
    "intensity",
    "carbon_intensity",
    "carbonintensity",
    "rating",
    "value",
];

/// The points of a trace file (CSV or JSON, told apart by the first character), sorted by time.
pub fn parse_trace(text: &str) -> Result<Vec<IntensityPoint>, TraceError> {
    let text = text.trim_start_matches('\u{feff}').trim();
    let mut points = match text.chars().next() {
        None => return Err(TraceError::Empty),
        Some('{' | '[') => parse_json(text)?,
        Some(_) => parse_csv(text)?,
    };
    if points.is_empty() {
        return Err(TraceError::Empty);
    }
    if points.len() > MAX_TRACE_POINTS {
        return Err(TraceError::TooLong);
    }
    points.sort_by_key(|point| point.at);
    Ok(points)
}

/// Unix seconds of an RFC 3339 time (seconds optional) or a UTC `YYYY-MM-DD HH:MM[:SS]`.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('"');
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(at.timestamp());
        }
    }
    let naive = text.trim_end_matches(['Z', 'z']);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(naive, format).ok())
    .map(|at| at.and_utc().timestamp())
}

/// A non-negative intensity, rounded to whole grams.
fn intensity_of(value: f64) -> Option<u32> {
    (value.is_finite() && (0.0..=100_000.0).contains(&value)).then(|| value.round() as u32)
}

fn parse_json(text: &str) -> Result<Vec<IntensityPoint>, TraceError> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| TraceError::Json(error.to_string()))?;
    let mut points = Vec::new();
    collect(&value, &mut points)?;
    Ok(points)
}

/// Walks the document; an object with a time key is a point (and must have an intensity).
fn collect(value: &Value, points: &mut Vec<IntensityPoint>) -> Result<(), TraceError> {
    if points.len() > MAX_TRACE_POINTS {
        return Err(TraceError::TooLong);
    }
    match value {
        Value::Array(items) => items.iter().try_for_each(|item| collect(item, points)),
        Value::Object(map) => {
            let time = TIME_KEYS
                .iter()
                .find_map(|key| map.get(*key).and_then(Value::as_str));
            let Some(time) = time else {
                return map.values().try_for_each(|item| collect(item, points));
            };
            let index = points.len();
            let at = parse_time(time).ok_or_else(|| TraceError::Point {
                index,
                message: format!("time {time:?} is not RFC 3339"),
            })?;
            let intensity = json_intensity(map).ok_or_else(|| TraceError::Point {
                index,
                message: "no intensity (intensity.actual/forecast, carbonIntensity, rating or value) of 0 to 100000".to_owned(),
            })?;
            points.push(IntensityPoint { at, intensity });
            Ok(())
        }
        _ => Ok(()),
    }
}

fn json_intensity(map: &serde_json::Map<String, Value>) -> Option<u32> {
    if let Some(Value::Object(inner)) = map.get("intensity") {
        let value = inner
            .get("actual")
            .and_then(Value::as_f64)
            .or_else(|| inner.get("forecast").and_then(Value::as_f64))?;
        return intensity_of(value);
    }
    ["carbonIntensity", "intensity", "rating", "value"]
        .iter()
        .find_map(|key| map.get(*key).and_then(Value::as_f64))
        .and_then(intensity_of)
}

fn parse_csv(text: &str) -> Result<Vec<IntensityPoint>, TraceError> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or(TraceError::Empty)?;
    let names: Vec<String> = split(header)
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    let position = |wanted: &str| names.iter().position(|name| name == wanted);
    let time = TIME_KEYS
        .iter()
        .find_map(|key| position(key))
        .ok_or_else(|| {
            TraceError::Header(format!(
                "no time column (one of {}) in {header:?}",
                TIME_KEYS.join(", ")
            ))
        })?;
    let actual = position("actual");
    let intensity = INTENSITY_KEYS
        .iter()
        .skip(1)
        .find_map(|key| position(key))
        .or_else(|| {
            names
                .iter()
                .position(|name| name.contains("carbon intensity"))
        })
        .or(actual)
        .ok_or_else(|| {
            TraceError::Header(format!(
                "no intensity column (one of {}) in {header:?}",
                INTENSITY_KEYS.join(", ")
            ))
        })?;
    let mut points = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = index + 1;
        let row_error = |message: String| TraceError::Row {
            line: line_number,
            message,
        };
        let fields = split(line);
        let field = |column: usize| fields.get(column).map(String::as_str).unwrap_or("");
        let at = parse_time(field(time))
            .ok_or_else(|| row_error(format!("time {:?} is not RFC 3339", field(time))))?;
        let chosen = actual
            .map(field)
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| field(intensity));
        let value = chosen
            .parse::<f64>()
            .ok()
            .and_then(intensity_of)
            .ok_or_else(|| {
                row_error(format!(
                    "intensity {chosen:?} is not a number from 0 to 100000"
                ))
            })?;
        points.push(IntensityPoint {
            at,
            intensity: value,
        });
        if points.len() > MAX_TRACE_POINTS {
            return Err(TraceError::TooLong);
        }
    }
    Ok(points)
}

/// The fields of a CSV line (no quoted commas in these files; quotes are trimmed).
fn split(line: &str) -> Vec<String> {
    line.split(',')
        .map(|field| field.trim().trim_matches('"').trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests;
