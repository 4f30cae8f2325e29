//! `GET /v1/task/{id}/attempts`: every attempt of a task, the given-up ones (a worker fault, a
//! lost node, an expired lease) and the current one.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::not_found;
use crate::db;
use crate::db::attempts::AttemptRow;
use crate::db::tasks::TaskRow;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::routes::path_id;
use crate::state::AppState;

/// One attempt of a task.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    /// `given_up` for an attempt that was re-queued; the task's status for the current one.
    pub state: String,
    pub node_id: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why a given-up attempt ended, or the current attempt's error message.
    pub reason: Option<String>,
}

impl From<AttemptRow> for AttemptView {
    fn from(row: AttemptRow) -> Self {
        AttemptView {
            attempt: row.attempt,
            state: "given_up".to_owned(),
            node_id: row.node_id.map(canopy_shared::format_id),
            assigned_at: row.assigned_at,
            started_at: row.started_at,
            ended_at: Some(row.ended_at),
            reason: row.reason,
        }
    }
}

fn current(row: TaskRow) -> AttemptView {
    AttemptView {
        attempt: row.attempt,
        state: row.status.to_string(),
        node_id: row.node_id.map(canopy_shared::format_id),
        assigned_at: row.assigned_at,
        started_at: row.started_at,
        ended_at: row.finished_at,
        reason: row.error_message,
    }
}

/// The task's attempts, oldest first; the last one is the current attempt.
#[utoipa::path(tag = "task", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = [AttemptView]), (status = 404, description = "TASK_NOT_FOUND")))]
#[get("/task/{id}/attempts")]
pub async fn list_attempts(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "TASK_NOT_FOUND", "task")?;
    // Never older than what a `Prefer: wait` caller on this replica was just told.
    state.completions.written(id).await;
    let mut conn = state.pool.acquire().await?;
    let task = db::tasks::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let mut attempts: Vec<AttemptView> = db::attempts::past(&mut conn, id)
        .await?
        .into_iter()
        .filter(|past| past.attempt < task.attempt)
        .map(AttemptView::from)
        .collect();
    attempts.push(current(task));
    Ok(HttpResponse::Ok().json(attempts))
}
