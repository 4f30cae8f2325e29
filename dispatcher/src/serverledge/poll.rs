//! `GET /poll/{reqId}`: the report of an async invocation once it ended; 404 until then.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};

use super::auth::Caller;
use super::{report, task_of_request, FacadeError};
use crate::db;
use crate::state::AppState;

fn not_found() -> FacadeError {
    FacadeError::new(
        StatusCode::NOT_FOUND,
        "RESULT_NOT_FOUND",
        "Results not found",
    )
}

/// 200 with the report (`Success: false` with `Error` when the invocation failed or was
/// dropped); 404 while it runs, and for ids that are not this account's invocations.
#[get("/poll/{reqId}")]
#[tracing::instrument(skip_all, fields(account.id = %caller.account_id))]
pub async fn poll(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, FacadeError> {
    let task = task_of_request(&path).ok_or_else(not_found)?;
    state.completions.written(task).await;
    let mut conn = state.pool.acquire().await?;
    let outcome = db::serverledge::outcome(&mut conn, caller.account_id, task, true)
        .await?
        .filter(|outcome| outcome.status.is_final())
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(report::build(&outcome, None)))
}
