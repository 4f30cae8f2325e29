//! `POST /v1/task/{functionId}?…`: one execution of a function with the caller's body and query.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};

use super::{replay, MAX_WAIT_S};
use crate::db;
use crate::db::tasks::NewTask;
use crate::dispatch::Dispatch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{read_body, AuthUser};
use crate::routes::path_id;
use crate::state::AppState;

/// Request headers passed on to the function; credentials and hop-by-hop headers never are.
fn allowed_header(name: &str) -> bool {
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

/// Creates a task: 201 `{"id"}`. With `Prefer: wait=N` (N ≤ 60) the response *is* the function's
/// response when it finishes in time, else 202 `{"id"}`. A paused function is 409
/// `FUNCTION_PAUSED`; one without a successful build is 409 `NO_RUNNER`.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("functionId" = String, Path)),
    request_body(content = Vec<u8>, description = "any body; its content type is kept", content_type = "*/*"),
    responses((status = 201, description = "`{\"id\"}`"), (status = 202, description = "`Prefer: wait` ran out: `{\"id\"}`"),
              (status = 404, description = "FUNCTION_NOT_FOUND"), (status = 409, description = "FUNCTION_PAUSED or NO_RUNNER"),
              (status = 413, description = "PAYLOAD_TOO_LARGE")))]
#[post("/task/{functionId}")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id, task.id = tracing::field::Empty))]
pub async fn create_task(
    req: HttpRequest,
    payload: web::Payload,
    user: AuthUser,
    state: web::Data<AppState>,
    dispatch: web::Data<Arc<Dispatch>>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let function_id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let body = read_body(&req, payload.into_inner(), state.dispatch.task_body_limit).await?;
    let mut conn = state.pool.acquire().await?;
    let function = db::functions::find_live(&mut conn, user.account_id, function_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "FUNCTION_NOT_FOUND",
                format!("no function with id {:?}", path.as_str()),
            )
        })?;
    if function.paused {
        return Err(ApiError::conflict(
            "FUNCTION_PAUSED",
            "the function is paused; unpause it with togglePause",
        ));
    }
    let build_id = function
        .current_build_id
        .ok_or_else(|| ApiError::conflict("NO_RUNNER", "the function has no successful build yet; upload its code with POST /v1/build/{functionId}"))?;

    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(name, _)| allowed_header(name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let id = canopy_shared::new_id();
    let task_id = canopy_shared::format_id(id);
    tracing::Span::current().record("task.id", tracing::field::display(&task_id));
    let task = NewTask {
        id,
        account_id: user.account_id,
        function_id,
        build_id,
        lang: &function.lang,
        timeout_s: function.timeout_s,
        cpu_count: function.cpu_count,
        mem_size_mb: function.mem_size_mb,
        network_latency_ms: function.network_latency_ms,
        privileged: function.privileged,
        method: req.method().as_str(),
        query: req.query_string(),
        headers: serde_json::to_value(&headers).unwrap_or_default(),
        content_type,
        body: &body,
    };
    db::tasks::insert(&mut conn, &task).await?;
    let wait = preferred_wait(&req);
    let finished = wait.map(|_| dispatch.completions.subscribe(id));
    dispatch.wake();

    if let (Some(seconds), Some(finished)) = (wait, finished) {
        let done = tokio::time::timeout(Duration::from_secs(seconds), finished)
            .await
            .is_ok_and(|result| result.is_ok());
        if done {
            if let Some(output) = db::tasks::output(&mut conn, user.account_id, id).await? {
                let mut response = replay(&task_id, output);
                response.headers_mut().insert(
                    header::HeaderName::from_static("preference-applied"),
                    header::HeaderValue::from_str(&format!("wait={seconds}"))
                        .map_err(anyhow::Error::new)?,
                );
                return Ok(response);
            }
        }
        dispatch.completions.forget_abandoned(id);
        return Ok(HttpResponse::Accepted()
            .insert_header((header::LOCATION, format!("/v1/task/{task_id}")))
            .insert_header((header::RETRY_AFTER, "1"))
            .json(serde_json::json!({ "id": task_id })));
    }
    Ok(crate::routes::created(format!("/v1/task/{task_id}"), id))
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
}
