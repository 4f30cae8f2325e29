//! `POST /delete {Name}`: the function is deleted (soft, like `DELETE /v1/function/{id}`) and its
//! name is free again.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::Caller;
use super::{body, FacadeError};
use crate::db;
use crate::extract::JSON_BODY_LIMIT;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct DeleteRequest {
    name: String,
}

/// 200 `{"Deleted": name}`; 404 when the account has no such function.
#[post("/delete")]
#[tracing::instrument(skip_all, fields(account.id = %caller.account_id))]
pub async fn delete(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FacadeError> {
    let request: DeleteRequest = body::read(&req, payload, JSON_BODY_LIMIT).await?;
    let mut tx = state.pool.begin().await?;
    let function = db::serverledge::find_function(&mut tx, caller.account_id, &request.name)
        .await?
        .ok_or_else(|| FacadeError::unknown_function(&request.name))?;
    db::serverledge::delete_function(&mut tx, function.function_id).await?;
    db::functions::soft_delete(&mut tx, caller.account_id, function.function_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "Deleted": request.name })))
}
