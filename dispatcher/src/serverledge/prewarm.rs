//! `POST /prewarm {Function, Instances, ForceImagePull}` → `{"Prewarmed": N}`.
//!
//! Canopy's workers keep a container warm after a task of the function ran on them, but the
//! dispatcher cannot yet ask a worker to start one ahead of need (the warm-pool issue). Until then
//! N is 0: fewer than asked, as Serverledge answers when resources are short, and said so in a
//! `Warning` header.

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::Caller;
use super::{body, FacadeError};
use crate::db;
use crate::extract::JSON_BODY_LIMIT;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct PrewarmRequest {
    function: String,
    #[serde(default)]
    instances: i64,
    #[serde(default, rename = "forceimagepull")]
    _force_image_pull: bool,
}

/// 200 `{"Prewarmed": N}`; 404 for an unknown function; 400 for a negative `Instances`.
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
    db::serverledge::find_function(&mut conn, caller.account_id, &request.function)
        .await?
        .ok_or_else(|| FacadeError::unknown_function(&request.function))?;
    let mut response = HttpResponse::Ok();
    if request.instances > 0 {
        response.insert_header((
            header::WARNING,
            r#"299 canopy "workers start containers on first use; prewarming is not available yet""#,
        ));
    }
    Ok(response.json(serde_json::json!({ "Prewarmed": 0 })))
}
