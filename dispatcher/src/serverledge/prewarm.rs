//! `POST /prewarm {Function, Instances, ForceImagePull}` → `{"Prewarmed": N}`: the task core's
//! prewarm (`POST /v1/function/{id}/prewarm`). `Instances: 0` only checks the function (images
//! are local to the workers, so there is nothing to pull); `ForceImagePull` is accepted and
//! ignored for the same reason.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::Caller;
use super::{body, FacadeError};
use crate::db;
use crate::extract::JSON_BODY_LIMIT;
use crate::state::AppState;
use crate::tasks;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct PrewarmRequest {
    function: String,
    #[serde(default)]
    instances: i64,
    #[serde(default, rename = "forceimagepull")]
    _force_image_pull: bool,
}

/// 200 `{"Prewarmed": N}` (N may be less than asked); 404 for an unknown function; 400 for a
/// negative `Instances`.
#[post("/prewarm")]
#[tracing::instrument(skip_all, fields(account.id = %caller.account_id))]
pub async fn prewarm(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FacadeError> {
    let request: PrewarmRequest = body::read(&req, payload, JSON_BODY_LIMIT).await?;
    if request.instances < 0 {
        return Err(FacadeError::bad_request(
            "INVALID_INSTANCES",
            "Invalid request body: Instances must be >= 0",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let function = db::serverledge::find_function(&mut conn, caller.account_id, &request.function)
        .await?
        .ok_or_else(|| FacadeError::unknown_function(&request.function))?;
    drop(conn);
    let instances = u32::try_from(request.instances).unwrap_or(u32::MAX);
    let prewarmed =
        tasks::prewarm(&state, caller.account_id, function.function_id, instances).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "Prewarmed": prewarmed })))
}
