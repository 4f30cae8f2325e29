//! Task history: the filters of `GET /v1/task/list` (status, since, until), the CSV export
//! `GET /v1/task/{functionId}/csv` (GreenCloud's draft), and retention of finished tasks.

mod csv;
mod retention;
mod settings;

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use retention::run_once as retention_run_once;
pub use settings::HistorySettings;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tasks::TaskStatus;

/// Registers the export inside the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(csv::export_csv);
}

/// Starts the retention loop (when a retention is set); it stops with `shutdown`.
pub fn spawn(state: &Arc<AppState>, settings: HistorySettings, shutdown: &CancellationToken) {
    if settings.retention_days > 0 {
        tokio::spawn(retention::run(
            Arc::clone(state),
            settings,
            shutdown.clone(),
        ));
    }
}

/// A time bound: Unix seconds, RFC 3339, or a date (`2026-12-03`, midnight UTC).
pub fn parse_instant(field: &str, text: &str) -> ApiResult<DateTime<Utc>> {
    let parsed = text
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|at| at.to_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc())
        });
    parsed.ok_or_else(|| {
        ApiError::invalid_field(
            field,
            "must be Unix seconds, an RFC 3339 time or a date YYYY-MM-DD",
        )
    })
}

/// `status`: a lifecycle state (`succeeded`, …) or the function's HTTP status (`200`).
pub fn parse_status(text: &str) -> ApiResult<(Option<String>, Option<i32>)> {
    if let Some(state) = TaskStatus::ALL.iter().find(|state| state.as_str() == text) {
        return Ok((Some(state.as_str().to_owned()), None));
    }
    match text.parse::<i32>() {
        Ok(code) if (100..=599).contains(&code) => Ok((None, Some(code))),
        _ => Err(ApiError::invalid_field(
            "status",
            "must be a state (queued, assigned, running, succeeded, failed, timed_out, cancelled) or an HTTP status",
        )),
    }
}

/// The OpenAPI paths of this module.
#[derive(OpenApi)]
#[openapi(paths(csv::export_csv))]
pub struct HistoryDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_take_unix_seconds_rfc3339_or_a_date() {
        let expected = "2026-12-03T00:00:00Z".parse::<DateTime<Utc>>().ok();
        assert_eq!(parse_instant("since", "1796256000").ok(), expected);
        assert_eq!(
            parse_instant("since", "2026-12-03T01:00:00+01:00").ok(),
            expected
        );
        assert_eq!(parse_instant("since", "2026-12-03").ok(), expected);
        assert!(parse_instant("since", "yesterday").is_err());
    }

    #[test]
    fn status_is_a_state_or_an_http_code() {
        assert_eq!(
            parse_status("timed_out").ok(),
            Some((Some("timed_out".to_owned()), None))
        );
        assert_eq!(parse_status("404").ok(), Some((None, Some(404))));
        assert!(parse_status("done").is_err());
        assert!(parse_status("42").is_err());
    }
}
