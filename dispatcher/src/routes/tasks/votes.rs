//! `GET /v1/task/{id}/votes`: the runs of a task under k-of-n verification and their answers.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::not_found;
use crate::db;
use crate::db::votes::VoteRow;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::routes::path_id;
use crate::state::AppState;

/// A task's verification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VotesView {
    /// Agreeing answers needed (0: the task is not verified).
    pub quorum: i16,
    pub max_runs: i16,
    pub votes: Vec<VoteView>,
}

/// One run's answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoteView {
    pub attempt: i32,
    pub node_id: String,
    /// sha256 of the answer (status, response, error), hex: equal digests agree.
    pub digest: String,
    pub status: String,
    pub response_status: Option<i32>,
    pub error_kind: Option<String>,
    /// Whether it matched the accepted answer; `null` until the task is decided (and when no
    /// answer reached the quorum).
    pub agreed: Option<bool>,
    pub voted_at: DateTime<Utc>,
}

impl From<VoteRow> for VoteView {
    fn from(row: VoteRow) -> Self {
        VoteView {
            attempt: row.attempt,
            node_id: canopy_shared::format_id(row.node_id),
            digest: hex::encode(row.digest),
            status: row.status,
            response_status: row.response_status,
            error_kind: row.error_kind,
            agreed: row.agreed,
            voted_at: row.voted_at,
        }
    }
}

/// The task's quorum and votes, oldest first.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = VotesView), (status = 404, description = "TASK_NOT_FOUND")))]
#[get("/task/{id}/votes")]
pub async fn list_votes(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    state.completions.written(id).await;
    let mut conn = state.pool.acquire().await?;
    db::tasks::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let ((quorum, max_runs), votes) = db::votes::of_task(&mut conn, id).await?;
    Ok(HttpResponse::Ok().json(VotesView {
        quorum,
        max_runs,
        votes: votes.into_iter().map(VoteView::from).collect(),
    }))
}
