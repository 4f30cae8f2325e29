//! `POST /gc/{id}`: a public call, checked in order of cost (client rate, then the endpoint's
//! rules, the endpoint's rate, the daily limit) before the task core sees it. `GET /gc/{id}`
//! shows a page whose button makes the call, so a refresh never starts a task. `OPTIONS` answers
//! CORS preflights.

use std::net::IpAddr;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, post, route, web, HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;

use super::limiter::Refused;
use super::{cors, policy, Public};
use crate::auth::secret;
use crate::db;
use crate::db::endpoints::Gate;
use crate::error::{ApiError, ApiResult};
use crate::extract::read_body;
use crate::routes::{allowed_header, path_id};
use crate::state::AppState;
use crate::tasks::{self, Request, Submission, TaskError};

pub(super) fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("ENDPOINT_NOT_FOUND", format!("no endpoint with id {raw:?}"))
}

fn client_of(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|addr| addr.ip())
}

fn origin_of(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Client { retry_after_s } => ApiError::too_many_requests(
                "RATE_LIMITED",
                "too many public calls from this address; slow down",
                retry_after_s,
            ),
            Refused::Endpoint { retry_after_s } => ApiError::too_many_requests(
                "RATE_LIMITED",
                "this endpoint is receiving too many calls; try again shortly",
                retry_after_s,
            ),
        }
    }
}

/// The endpoint's own rules: the address allow-list, the origin, the time window, the pause.
fn admit(gate: &Gate, req: &HttpRequest) -> ApiResult<()> {
    if !policy::address_allowed(&gate.ips, client_of(req)) {
        return Err(ApiError::forbidden(
            "IP_NOT_ALLOWED",
            "this endpoint does not accept calls from your address",
        ));
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !policy::origin_allowed(&gate.origins, origin_of(req), host) {
        return Err(ApiError::forbidden(
            "ORIGIN_NOT_ALLOWED",
            "this endpoint accepts calls only from the origins its owner listed",
        ));
    }
    let window = (
        gate.time_from.as_deref(),
        gate.time_to.as_deref(),
        gate.local_minutes,
    );
    if let (Some(from), Some(to), Some(now)) = window {
        let (from, to) = (policy::parse_clock(from), policy::parse_clock(to));
        let now = u16::try_from(now).unwrap_or(0);
        if let (Some(from), Some(to)) = (from, to) {
            if !policy::in_window(now, from, to) {
                let wait_s = u64::from(policy::minutes_until_open(now, from, to)) * 60;
                return Err(ApiError::forbidden(
                    "OUTSIDE_TIME_LIMIT",
                    "this endpoint accepts calls only in its daily time window",
                )
                .with_retry_after(wait_s.max(1)));
            }
        }
    }
    if gate.paused {
        return Err(ApiError::busy(
            "FUNCTION_PAUSED",
            "the function behind this endpoint is paused",
            60,
        ));
    }
    Ok(())
}

/// A task-core refusal as a public caller sees it (nothing about the owner's account).
fn public_error(raw: &str, error: TaskError) -> ApiError {
    match error {
        TaskError::FunctionNotFound(_) => not_found(raw),
        TaskError::FunctionPaused => ApiError::busy(
            "FUNCTION_PAUSED",
            "the function behind this endpoint is paused",
            60,
        ),
        TaskError::NoRunner => ApiError::busy(
            "NO_RUNNER",
            "the function behind this endpoint has not been deployed yet",
            60,
        ),
        TaskError::BuildFailed(_) => ApiError::conflict(
            "BUILD_FAILED",
            "the function behind this endpoint failed to build",
        ),
        other => ApiError::from(other),
    }
}

/// Calls a public endpoint: 201 `{id}`, where `id` is the token for `GET /gc/{id}/result`.
/// 403 `IP_NOT_ALLOWED` / `ORIGIN_NOT_ALLOWED` / `OUTSIDE_TIME_LIMIT` (with `Retry-After`), 429
/// `RATE_LIMITED` or `DAILY_LIMIT_REACHED` with `Retry-After`, 503 `FUNCTION_PAUSED` / `NO_RUNNER`.
#[utoipa::path(post, path = "/gc/{id}", tag = "public",
    params(("id" = String, Path, description = "the endpoint's id")),
    request_body(content = Vec<u8>, description = "any body; its content type is kept", content_type = "*/*"),
    responses((status = 201, description = "`{\"id\"}`: the result token"),
              (status = 303, description = "a browser form: see the result"),
              (status = 403, description = "IP_NOT_ALLOWED, ORIGIN_NOT_ALLOWED or OUTSIDE_TIME_LIMIT"),
              (status = 404, description = "ENDPOINT_NOT_FOUND"),
              (status = 429, description = "RATE_LIMITED or DAILY_LIMIT_REACHED"),
              (status = 503, description = "FUNCTION_PAUSED or NO_RUNNER")))]
#[post("/gc/{id}")]
#[tracing::instrument(skip_all, fields(endpoint.id = %path.as_str(), task.id = tracing::field::Empty))]
pub async fn call_endpoint(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    public: web::Data<Public>,
    path: web::Path<String>,
) -> HttpResponse {
    let mut origins = Vec::new();
    let outcome = call(&req, payload, &state, &public, &path, &mut origins).await;
    let mut response = outcome.unwrap_or_else(|error| error.error_response());
    cors(&mut response, &origins, origin_of(&req));
    response
}

async fn call(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    public: &Public,
    raw: &str,
    origins: &mut Vec<String>,
) -> ApiResult<HttpResponse> {
    public.limiter.client(client_of(req))?;
    let id = path_id(raw, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let mut conn = state.pool.acquire().await?;
    let gate = db::endpoints::gate(&mut conn, id)
        .await?
        .filter(|gate| !gate.deleted)
        .ok_or_else(|| not_found(raw))?;
    origins.clone_from(&gate.origins);
    admit(&gate, req)?;
    public.limiter.endpoint(id)?;
    drop(conn);
    let body = read_body(req, payload.into_inner(), state.dispatch.task_body_limit).await?;
    let mut conn = state.pool.acquire().await?;
    let day = db::endpoints::count_call(&mut conn, id, gate.daily_limit)
        .await?
        .map_err(|seconds| {
            ApiError::too_many_requests(
                "DAILY_LIMIT_REACHED",
                format!(
                    "this endpoint's daily limit of {} calls is reached",
                    gate.daily_limit
                ),
                u64::try_from(seconds).unwrap_or(1),
            )
        })?;
    // No connection is held across the submission: the group commit needs one.
    drop(conn);
    let submission = submission(req, public, &gate, body.to_vec());
    let submitted = tasks::submit(state, submission).await;
    let mut conn = state.pool.acquire().await?;
    let submitted = match submitted {
        Ok(submitted) => submitted,
        Err(error) => {
            db::endpoints::uncount_call(&mut conn, id, day).await?;
            return Err(public_error(raw, error));
        }
    };
    tracing::Span::current().record(
        "task.id",
        tracing::field::display(canopy_shared::format_id(submitted.id)),
    );
    let token = secret::random_hex(16);
    db::endpoints::record_call(&mut conn, &secret::digest(&token), id, submitted.id).await?;
    let result = format!("/gc/{token}/result");
    if is_browser_form(req) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("{result}?wait=30")))
            .finish());
    }
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, result))
        .json(serde_json::json!({ "id": token })))
}

fn submission(req: &HttpRequest, public: &Public, gate: &Gate, body: Vec<u8>) -> Submission {
    let headers = req
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
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let queue_s = i64::try_from(public.settings.queue_s).unwrap_or(i64::MAX);
    Submission {
        account_id: gate.account_id,
        function_id: gate.function_id,
        request: Request {
            method: "POST".to_owned(),
            query: req.query_string().to_owned(),
            headers,
            content_type,
            body,
        },
        idempotency: None,
        priority: 0,
        deadline: Utc::now().checked_add_signed(chrono::Duration::seconds(queue_s)),
        defer_until: None,
    }
}

/// A POST from the endpoint's own page (a form, from a browser that wants HTML back).
fn is_browser_form(req: &HttpRequest) -> bool {
    let header_has = |name: header::HeaderName, needle: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains(needle))
    };
    header_has(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        && header_has(header::ACCEPT, "text/html")
}

/// The endpoint's page: a button that makes one call. Loading (or reloading) it starts nothing.
#[utoipa::path(get, path = "/gc/{id}", tag = "public", params(("id" = String, Path)),
    responses((status = 200, description = "an HTML page with a button that POSTs the call"),
              (status = 404, description = "ENDPOINT_NOT_FOUND")))]
#[get("/gc/{id}")]
pub async fn endpoint_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
    let mut conn = state.pool.acquire().await?;
    db::endpoints::gate(&mut conn, id)
        .await?
        .filter(|gate| !gate.deleted)
        .ok_or_else(|| not_found(&path))?;
    let action = match req.query_string() {
        "" => format!("/gc/{}", canopy_shared::format_id(id)),
        query => format!("/gc/{}?{query}", canopy_shared::format_id(id)),
    };
    let page = include_str!("page.html").replace("{action}", &escape_html(&action));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(page))
}

fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// CORS preflight: the listed origins (or any, when none is listed) may POST.
#[route("/gc/{id}", method = "OPTIONS")]
pub async fn preflight(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let outcome = async {
        let id = path_id(&path, "ENDPOINT_NOT_FOUND", "endpoint")?;
        let mut conn = state.pool.acquire().await?;
        let gate = db::endpoints::gate(&mut conn, id)
            .await?
            .filter(|gate| !gate.deleted)
            .ok_or_else(|| not_found(&path))?;
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !policy::origin_allowed(&gate.origins, origin_of(&req), host) {
            return Err(ApiError::forbidden(
                "ORIGIN_NOT_ALLOWED",
                "this endpoint accepts calls only from the origins its owner listed",
            ));
        }
        Ok::<_, ApiError>(gate.origins)
    }
    .await;
    match outcome {
        Err(error) => error.error_response(),
        Ok(origins) => {
            let mut response = HttpResponse::NoContent().finish();
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, GET"),
            );
            if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            cors(&mut response, &origins, origin_of(&req));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_the_caller_controls() {
        assert_eq!(
            escape_html("/gc/x?a=\"><script>"),
            "/gc/x?a=&quot;&gt;&lt;script&gt;"
        );
    }
}
