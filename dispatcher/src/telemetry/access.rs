//! The access line: one INFO event per request, `METHOD path status [CODE] duration`, for people
//! watching the log (on by default with `--log-format short`, and with `RUST_LOG=info`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::Error;

use crate::error::ApiError;

/// The target of the access events, for filters (`RUST_LOG=info,canopy_dispatcher::access=off`).
pub const TARGET: &str = "canopy_dispatcher::access";

/// Middleware: times the request and logs one line when its response head is ready. Costs a
/// disabled-callsite check per request when the line is filtered out.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return next.call(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.path().to_owned();
    let outcome = next.call(request).await;
    let (status, error) = match &outcome {
        Ok(response) => (response.status(), response.response().error()),
        Err(error) => (error.as_response_error().status_code(), Some(error)),
    };
    // A problem's code says more than its status (`401 NEEDS_LOGIN`).
    let code = error
        .and_then(|error| error.as_error::<ApiError>())
        .map_or("", ApiError::code);
    log_line(&method, &path, status, code, started);
    outcome
}

/// The access line of one request (also written for WebSocket upgrades, which bypass the
/// middleware).
pub fn log_line(method: &Method, path: &str, status: StatusCode, code: &str, started: Instant) {
    let separator = if code.is_empty() { "" } else { " " };
    tracing::info!(
        target: TARGET,
        "{method} {path} {}{separator}{code} {}",
        status.as_u16(),
        human_duration(started.elapsed().as_micros())
    );
}

/// `850µs`, `12.3ms`, `4.20s`: short and still precise where it matters.
fn human_duration(micros: u128) -> String {
    match micros {
        0..=999 => format!("{micros}µs"),
        1_000..=999_999 => format!("{:.1}ms", micros as f64 / 1e3),
        _ => format!("{:.2}s", micros as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_in_the_fitting_unit() {
        assert_eq!(human_duration(850), "850µs");
        assert_eq!(human_duration(12_345), "12.3ms");
        assert_eq!(human_duration(4_200_000), "4.20s");
    }
}
