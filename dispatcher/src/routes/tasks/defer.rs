//! `Prefer: defer=N` on task creation: the task must finish within N seconds, and the dispatcher
//! may hold it meanwhile for a window when its workers' grids are forecast greener.

use actix_web::HttpRequest;

use crate::error::{ApiError, ApiResult};

/// Longest deferral, seconds: the two days grid forecasts reach (the UK Carbon Intensity API's
/// 48 h).
pub const MAX_DEFER_S: u64 = 48 * 3600;

/// The `defer` preference in seconds, if the request has one; 400 `INVALID_PREFER_DEFER` when it
/// is not a whole number of seconds from 1 to `MAX_DEFER_S`.
pub(super) fn preferred_defer(req: &HttpRequest) -> ApiResult<Option<u64>> {
    let preference = req
        .headers()
        .get_all("prefer")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .find(|preference| {
            let name = preference.split('=').next().unwrap_or("");
            name.trim().eq_ignore_ascii_case("defer")
        });
    let Some(preference) = preference else {
        return Ok(None);
    };
    let value = preference
        .split_once('=')
        .map(|(_, value)| value.trim().trim_matches('"'))
        .unwrap_or("");
    match value.parse::<u64>() {
        Ok(seconds) if (1..=MAX_DEFER_S).contains(&seconds) => Ok(Some(seconds)),
        _ => Err(ApiError::bad_request(
            "INVALID_PREFER_DEFER",
            format!(
                "Prefer: defer must be a whole number of seconds from 1 to {MAX_DEFER_S} (the task must finish within it), not {value:?}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defer_of(prefer: Option<&str>) -> Result<Option<u64>, &'static str> {
        let mut req = actix_web::test::TestRequest::default();
        if let Some(prefer) = prefer {
            req = req.insert_header(("Prefer", prefer));
        }
        preferred_defer(&req.to_http_request()).map_err(|error| error.code())
    }

    #[test]
    fn defer_is_read_beside_other_preferences() {
        assert_eq!(defer_of(None), Ok(None));
        assert_eq!(defer_of(Some("wait=5")), Ok(None));
        assert_eq!(defer_of(Some("respond-async, defer=3600")), Ok(Some(3600)));
        assert_eq!(defer_of(Some("Defer=\"60\", wait=1")), Ok(Some(60)));
    }

    #[test]
    fn a_bad_defer_is_refused() {
        for bad in [
            "defer",
            "defer=",
            "defer=0",
            "defer=-5",
            "defer=1.5",
            "defer=tomorrow",
            "defer=172801",
        ] {
            assert_eq!(defer_of(Some(bad)), Err("INVALID_PREFER_DEFER"), "{bad}");
        }
    }
}
