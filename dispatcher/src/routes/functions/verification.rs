//! `GET|PUT /v1/function/{id}/verification`: k-of-n result verification of the function's tasks
//! (docs/security.md). Tasks already issued keep the quorum they were issued with.

use actix_web::{get, put, web, HttpResponse};
use canopy_shared::api::function::Verification;

use super::{function_id, not_found};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;

/// The function's quorum (0: off) and most runs per task.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Verification), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[get("/function/{id}/verification")]
pub async fn get_verification(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    let (quorum, runs) = db::votes::of_function(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let to_u32 = |value: i16| u32::try_from(value).unwrap_or(0);
    Ok(HttpResponse::Ok().json(Verification {
        quorum: to_u32(quorum),
        max_runs: to_u32(runs),
    }))
}

/// Sets the quorum: each task runs on nodes of `quorum` different owners and its result is the
/// answer they agree on; `maxRuns` (default twice the quorum) bounds the runs. Answers the
/// stored setting.
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)), request_body = Verification,
    responses((status = 200, body = Verification), (status = 400, body = crate::error::Problem),
              (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[put("/function/{id}/verification")]
pub async fn set_verification(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<Verification>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let verification = body
        .0
        .normalized()
        .map_err(|(field, message)| ApiError::invalid_field(field, message))?;
    // Both are at most 10 once normalized.
    let to_i16 = |value: u32| i16::try_from(value).unwrap_or(i16::MAX);
    let mut conn = state.pool.acquire().await?;
    let stored = db::votes::set_for_function(
        &mut conn,
        user.account_id,
        id,
        to_i16(verification.quorum),
        to_i16(verification.max_runs),
    )
    .await?;
    if !stored {
        return Err(not_found(&path));
    }
    Ok(HttpResponse::Ok().json(verification))
}
