//! `POST /v1/task/{functionId}?…`: one execution of a function with the caller's body and query.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::{replay, MAX_WAIT_S};
use crate::db::tasks::TaskOutput;
use crate::error::{ApiError, ApiResult};
use crate::extract::{read_body, AuthUser};
use crate::routes::path_id;
use crate::state::AppState;
use crate::tasks::{self, IdempotencyKey, Request, Submission, Submitted};

/// Request headers passed on to the function; credentials and hop-by-hop headers never are.
pub(crate) fn allowed_header(name: &str) -> bool {
    matches!(
        name,
        "accept" | "accept-language" | "content-type" | "user-agent"
    ) || (name.starts_with("x-")
        && !name.starts_with("x-canopy-")
        && !name.starts_with("x-forwarded-"))
}

/// `Prefer: wait=N` (RFC 7240), capped at 60 s.
fn preferred_wait(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get_all("prefer")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| {
            let (name, value) = preference.trim().split_once('=')?;
            (name.trim().eq_ignore_ascii_case("wait"))
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .map(|seconds| seconds.min(MAX_WAIT_S))
}

/// `Idempotency-Key`: 1–255 printable ASCII characters.
fn idempotency_key(req: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 255);
    key.map(|key| Some(key.to_owned())).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
    })
}

/// What makes two task requests the same for an idempotency key.
fn request_hash(
    function_id: uuid::Uuid,
    req: &HttpRequest,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in [
        function_id.as_bytes().as_slice(),
        req.method().as_str().as_bytes(),
        req.query_string().as_bytes(),
        content_type.unwrap_or("").as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// Creates a task: 201 `{"id"}`. With `Prefer: wait=N` (N ≤ 60) the response *is* the function's
/// response when it finishes in time, else 202 `{"id"}`. A paused function is 409
/// `FUNCTION_PAUSED`; one without a successful build is 409 `NO_RUNNER`. With `Idempotency-Key`,
/// the same request within 24 h returns the first task (`Idempotent-Replayed: true`); the same key
/// with a different request is 422 `IDEMPOTENCY_KEY_REUSED`. With `Prefer: defer=N` (1 s to 48 h)
/// the task must finish within N seconds and may be held for a greener window meanwhile (400
/// `INVALID_PREFER_DEFER` for a bad N).
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("functionId" = String, Path)),
    request_body(content = Vec<u8>, description = "any body; its content type is kept", content_type = "*/*"),
    responses((status = 201, description = "`{\"id\"}`"), (status = 202, description = "`Prefer: wait` ran out: `{\"id\"}`"),
              (status = 400, description = "INVALID_PREFER_DEFER"), (status = 404, description = "FUNCTION_NOT_FOUND"), (status = 409, description = "FUNCTION_PAUSED or NO_RUNNER"),
              (status = 413, description = "PAYLOAD_TOO_LARGE"), (status = 422, description = "IDEMPOTENCY_KEY_REUSED")))]
#[post("/task/{functionId}")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id, task.id = tracing::field::Empty))]
pub async fn create_task(
    req: HttpRequest,
    payload: web::Payload,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let function_id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let key = idempotency_key(&req)?;
    let defer = super::defer::preferred_defer(&req)?;
    let body = read_body(&req, payload.into_inner(), state.dispatch.task_body_limit).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let idempotency = key.map(|key| IdempotencyKey {
        request_hash: request_hash(function_id, &req, content_type, &body),
        key,
    });
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(name, _)| allowed_header(name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let submission = Submission {
        account_id: user.account_id,
        function_id,
        request: Request {
            method: req.method().as_str().to_owned(),
            query: req.query_string().to_owned(),
            headers,
            content_type: content_type.map(str::to_owned),
            body: body.to_vec(),
        },
        idempotency,
        priority: 0,
        deadline: None,
        defer_until: defer.map(|seconds| {
            chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0))
        }),
    };
    let wait = preferred_wait(&req);
    let (submitted, output) = match wait {
        None => (tasks::submit(&state, submission).await?, None),
        Some(seconds) => {
            tasks::submit_and_wait(&state, submission, Duration::from_secs(seconds)).await?
        }
    };
    tracing::Span::current().record(
        "task.id",
        tracing::field::display(canopy_shared::format_id(submitted.id)),
    );
    respond(submitted, wait.map(|seconds| (seconds, output)))
}

/// 201 `{"id"}`, or with `Prefer: wait` the function's response (202 `{"id"}` if it is late).
fn respond(
    submitted: Submitted,
    waited: Option<(u64, Option<TaskOutput>)>,
) -> ApiResult<HttpResponse> {
    let id = submitted.id;
    let task_id = canopy_shared::format_id(id);
    let mut response = match waited {
        None => crate::routes::created(format!("/v1/task/{task_id}"), id),
        Some((seconds, output)) => match output {
            Some(output) if output.status.is_final() => {
                let mut response = replay(&task_id, output);
                response.headers_mut().insert(
                    header::HeaderName::from_static("preference-applied"),
                    header::HeaderValue::from_str(&format!("wait={seconds}"))
                        .map_err(anyhow::Error::new)?,
                );
                response
            }
            _ => HttpResponse::Accepted()
                .insert_header((header::LOCATION, format!("/v1/task/{task_id}")))
                .insert_header((header::RETRY_AFTER, "1"))
                .json(serde_json::json!({ "id": task_id })),
        },
    };
    if submitted.replayed {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_headers_reach_the_function() {
        for allowed in ["content-type", "accept", "x-request-id", "user-agent"] {
            assert!(allowed_header(allowed), "{allowed}");
        }
        for refused in [
            "authorization",
            "cookie",
            "host",
            "x-canopy-task",
            "x-forwarded-for",
            "connection",
        ] {
            assert!(!allowed_header(refused), "{refused}");
        }
    }

    #[test]
    fn prefer_wait_is_read_and_capped() {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Prefer", "respond-async, wait=5"))
            .to_http_request();
        assert_eq!(preferred_wait(&req), Some(5));
        let req = actix_web::test::TestRequest::default()
            .insert_header(("Prefer", "wait=600"))
            .to_http_request();
        assert_eq!(preferred_wait(&req), Some(60));
        let req = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(preferred_wait(&req), None);
    }

    #[test]
    fn requests_differing_in_query_or_body_hash_differently() {
        let id = canopy_shared::new_id();
        let a = actix_web::test::TestRequest::post()
            .uri("/v1/task/x?a=1")
            .to_http_request();
        let b = actix_web::test::TestRequest::post()
            .uri("/v1/task/x?a=2")
            .to_http_request();
        assert_eq!(
            request_hash(id, &a, None, b"x"),
            request_hash(id, &a, None, b"x")
        );
        assert_ne!(
            request_hash(id, &a, None, b"x"),
            request_hash(id, &b, None, b"x")
        );
        assert_ne!(
            request_hash(id, &a, None, b"x"),
            request_hash(id, &a, None, b"y")
        );
        assert_ne!(
            request_hash(id, &a, Some("text/plain"), b"x"),
            request_hash(id, &a, None, b"x")
        );
    }
}
