//! `GET /gc/{token}/result`: the result of a public call, readable with its token alone for
//! `--public-result-ttl-s` (GreenCloud: 5 minutes), then only with its owner's access token.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{cors, Public};
use crate::auth::secret;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::replay;
use crate::state::AppState;
use crate::tasks;

/// Longest `?wait=` honoured, seconds.
const MAX_WAIT_S: u64 = 60;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PublicResultQuery {
    /// Seconds to wait for the task to finish (≤ 60) before answering 404 `RESULT_PENDING`.
    pub wait: Option<u64>,
}

fn not_found() -> ApiError {
    ApiError::not_found("RESULT_NOT_FOUND", "no public call has this result id")
}

/// The function's response replayed (status, content type, body). 404 `RESULT_PENDING` with
/// `Retry-After` while it runs (GreenCloud's 404, with its own code); 401 `RESULT_EXPIRED` once
/// the token alone no longer suffices.
#[utoipa::path(get, path = "/gc/{id}/result", tag = "public",
    params(("id" = String, Path, description = "the token `POST /gc/{endpoint}` returned"), PublicResultQuery),
    responses((status = 200, description = "the function's response"),
              (status = 401, description = "RESULT_EXPIRED: the owner's access token is needed now"),
              (status = 404, description = "RESULT_NOT_FOUND or RESULT_PENDING")))]
#[get("/gc/{id}/result")]
pub async fn public_result(
    req: HttpRequest,
    state: web::Data<AppState>,
    public: web::Data<Public>,
    path: web::Path<String>,
    query: web::Query<PublicResultQuery>,
) -> HttpResponse {
    let mut origins = Vec::new();
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_S));
    let outcome = read(&req, &state, &public, &path, wait, &mut origins).await;
    let mut response = outcome.unwrap_or_else(|error| error.error_response());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    cors(&mut response, &origins, origin);
    response
}

async fn read(
    req: &HttpRequest,
    state: &AppState,
    public: &Public,
    token: &str,
    wait: Duration,
    origins: &mut Vec<String>,
) -> ApiResult<HttpResponse> {
    let well_formed = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(not_found());
    }
    let mut conn = state.pool.acquire().await?;
    let call = db::endpoints::find_call(&mut conn, &secret::digest(&token.to_ascii_lowercase()))
        .await?
        .ok_or_else(not_found)?;
    drop(conn);
    origins.clone_from(&call.origins);
    if call.age_s > public.settings.result_ttl_s as f64 {
        let caller = AuthUser::extract(req).await.map_err(|_| {
            ApiError::unauthorized(
                "RESULT_EXPIRED",
                format!(
                    "a public result is readable without an access token for {} s; its owner can still read it with one",
                    public.settings.result_ttl_s
                ),
            )
        })?;
        if caller.account_id != call.account_id {
            return Err(not_found());
        }
    }
    let output = tasks::wait(state, call.account_id, call.task_id, wait, false)
        .await?
        .ok_or_else(not_found)?;
    if !output.status.is_final() {
        return Err(ApiError::not_found(
            "RESULT_PENDING",
            "the call has not finished yet; try again shortly",
        )
        .with_retry_after(1));
    }
    Ok(replay(&canopy_shared::format_id(call.task_id), output))
}
