//! `POST /v1/function/{id}/prewarm`: containers of the function's current version started on
//! workers ahead of its tasks (the Serverledge facade's `/prewarm` calls the same operation).

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::function_id;
use crate::error::ApiResult;
use crate::extract::{AuthUser, ValidJson};
use crate::state::AppState;
use crate::tasks;

/// Body of a prewarm request.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrewarmRequest {
    /// Containers to start, spread over the workers that may run the function (0–32).
    #[validate(range(max = 32, message = "must be between 0 and 32"))]
    pub instances: u32,
}

/// How many containers are warm.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prewarmed {
    /// Fewer than asked when no worker, or not enough resources, could take them.
    pub prewarmed: u32,
}

/// Starts warm containers of the function's current build on connected workers that may run
/// it; answers once they have (at most about 20 s).
#[utoipa::path(tag = "function", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = PrewarmRequest,
    responses((status = 200, body = Prewarmed), (status = 400, body = crate::error::Problem),
              (status = 404, description = "FUNCTION_NOT_FOUND"), (status = 409, description = "FUNCTION_PAUSED or NO_RUNNER")))]
#[post("/function/{id}/prewarm")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id))]
pub async fn prewarm_function(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<PrewarmRequest>,
) -> ApiResult<HttpResponse> {
    let id = function_id(&path)?;
    let prewarmed = tasks::prewarm(&state, user.account_id, id, body.0.instances).await?;
    Ok(HttpResponse::Ok().json(Prewarmed { prewarmed }))
}
