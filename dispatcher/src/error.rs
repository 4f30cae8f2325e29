//! The API's one error type, rendered as `application/problem+json` (RFC 9457) with a stable `code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

pub use canopy_shared::api::{FieldError, Problem};

/// An error an endpoint answers with. Build it with the constructors, which fix status and code.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_s: Option<u64>,
    #[source]
    cause: Option<anyhow::Error>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_s: None,
            cause: None,
        }
    }

    /// 400 `VALIDATION_FAILED` listing every bad field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        ApiError {
            errors,
            ..Self::new(StatusCode::BAD_REQUEST, "VALIDATION_FAILED", detail)
        }
    }

    /// 400 `VALIDATION_FAILED` for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 400 with a specific code, for malformed requests that are not about one field.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: the caller is not (or no longer) authenticated.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 404 for a resource that does not exist or belongs to another account.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 409: the request conflicts with the resource's current state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422: well-formed, but not acceptable in this state.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 413 for a body over the endpoint's cap.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than the {limit_bytes}-byte limit"),
        )
    }

    /// 429 with a `Retry-After` header.
    pub fn too_many_requests(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_s: u64,
    ) -> Self {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
        }
    }

    /// 502: the function's execution failed without a response.
    pub fn bad_gateway(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, code, detail)
    }

    /// 504: the function did not answer in time.
    pub fn gateway_timeout(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, code, detail)
    }

    /// 500 whose cause is logged once and never shown to the caller.
    pub fn internal(cause: anyhow::Error) -> Self {
        ApiError {
            cause: Some(cause),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the server failed to handle this request",
            )
        }
    }

    /// 503 when a dependency (the database) is unreachable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", detail)
    }

    /// 408: the request's body did not arrive in time.
    pub fn request_timeout(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, code, detail)
    }

    /// 503 with a specific code and `Retry-After`: a bounded resource is busy.
    pub fn busy(code: &'static str, detail: impl Into<String>, retry_after_s: u64) -> Self {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }

    /// Names the field (of the request, or of a quota) the error is about.
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// Adds a `Retry-After` header (seconds) to any error.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error.cause = ?cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(seconds) = self.retry_after_s {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

/// Named constraints whose violation is the caller's fault (mostly a conflict), not a server fault.
fn conflict_for_constraint(constraint: &str) -> Option<ApiError> {
    match constraint {
        "accounts_email_key" => Some(ApiError::conflict(
            "EMAIL_TAKEN",
            "an account with this email already exists",
        )),
        "nodes_pkey" => Some(ApiError::conflict(
            "NODE_EXISTS",
            "a node with this id is already registered",
        )),
        "pools_name_key" => Some(ApiError::conflict(
            "POOL_EXISTS",
            "a pool with this name already exists",
        )),
        "pool_members_account_id_fkey" => Some(ApiError::invalid_field(
            "members",
            "names an account that does not exist",
        )),
        "tags_account_name_key" => Some(ApiError::conflict(
            "TAG_EXISTS",
            "you already have a tag with this name",
        )),
        _ => None,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db_error) = &error {
            if let Some(conflict) = db_error.constraint().and_then(conflict_for_constraint) {
                return conflict;
            }
        }
        if matches!(
            error,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
        ) {
            tracing::warn!(error = %error, "database unavailable");
            return ApiError::unavailable("the database is unavailable; try again shortly");
        }
        ApiError::internal(anyhow::Error::new(error).context("while querying the database"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::internal(error)
    }
}

/// Result of an endpoint handler.
pub type ApiResult<T> = Result<T, ApiError>;
