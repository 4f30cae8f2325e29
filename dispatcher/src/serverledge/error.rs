//! The facade's errors: Serverledge answers failures with a status and a `text/plain` body, and
//! clients match on those. The stable code goes in `X-Canopy-Error-Code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;
use crate::quotas::QuotaError;
use crate::tasks::TaskError;

pub const CODE_HEADER: &str = "x-canopy-error-code";

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FacadeError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Extra response header (e.g. `WWW-Authenticate`, `Retry-After`).
    header: Option<(header::HeaderName, String)>,
}

impl FacadeError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        FacadeError {
            status,
            code,
            message: message.into(),
            header: None,
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.header = Some((name, value.into()));
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Serverledge's 404 for a function that does not exist (for this account).
    pub fn unknown_function(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "FUNCTION_NOT_FOUND",
            format!("Unknown function: {name}"),
        )
    }

    /// Serverledge's 503, for a failure that is not the caller's (logged with its cause).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "serverledge facade request failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "Service unavailable; try again",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<sqlx::Error> for FacadeError {
    fn from(error: sqlx::Error) -> Self {
        FacadeError::unavailable(error)
    }
}

impl From<QuotaError> for FacadeError {
    fn from(error: QuotaError) -> Self {
        match error {
            QuotaError::Exceeded(exceeded) => TaskError::QuotaExceeded(exceeded).into(),
            QuotaError::Database(error) => error.into(),
        }
    }
}

/// Errors of shared code (body reading, auth) keep their status and code.
impl From<ApiError> for FacadeError {
    fn from(error: ApiError) -> Self {
        if error.code() == "INTERNAL" {
            return FacadeError::unavailable(&error);
        }
        let facade = FacadeError::new(error.status(), error.code(), error.detail().to_owned());
        match error.retry_after_s() {
            Some(seconds) => facade.with_header(header::RETRY_AFTER, seconds.to_string()),
            None => facade,
        }
    }
}

impl From<TaskError> for FacadeError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::FunctionNotFound(_) | TaskError::TaskNotFound(_) => FacadeError::new(
                StatusCode::NOT_FOUND,
                "FUNCTION_NOT_FOUND",
                "Function unknown",
            ),
            TaskError::FunctionPaused => FacadeError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FUNCTION_PAUSED",
                "Function is paused",
            ),
            TaskError::NoRunner => FacadeError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NO_RUNNER",
                "Function has no successful build",
            ),
            TaskError::BuildFailed(_) => FacadeError::new(
                StatusCode::CONFLICT,
                "BUILD_FAILED",
                "Function's current build failed to compile",
            ),
            TaskError::FunctionChanged => FacadeError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "FUNCTION_CHANGED",
                "Function changed while the request was submitted; try again",
            ),
            TaskError::QuotaExceeded(exceeded) => FacadeError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "NO_QUOTA_AVAILABLE",
                exceeded.to_string(),
            )
            .with_header(header::RETRY_AFTER, exceeded.retry_after_s().to_string()),
            other => FacadeError::unavailable(other),
        }
    }
}

impl ResponseError for FacadeError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .insert_header((CODE_HEADER, self.code));
        if let Some((name, value)) = &self.header {
            response.insert_header((name.clone(), value.clone()));
        }
        response.body(self.message.clone())
    }
}
