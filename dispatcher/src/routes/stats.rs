//! `/v1/stats`: live figures for dashboards. A user sees their own tasks and nodes; an admin
//! sees the whole platform (`scope` says which).

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::stats::{first_id_at, NodeState};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, Role};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(overview).service(node_outcomes);
}

/// Tasks issued before the window by at most this much are still counted when they end in it
/// (a task's timeout is at most 120 s, plus its queue time).
const LATE_FINISH_SLACK_MIN: i64 = 15;

/// Query of the stats endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    /// Minutes to look back, 1–1440 (default 30).
    pub minutes: Option<u32>,
}

fn window(query: &WindowQuery) -> ApiResult<i64> {
    let minutes = query.minutes.unwrap_or(30);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::invalid_field(
            "minutes",
            "must be between 1 and 1440",
        ));
    }
    Ok(i64::from(minutes))
}

fn scope(user: &AuthUser) -> Option<uuid::Uuid> {
    (user.role != Role::Admin).then_some(user.account_id)
}

/// The platform at a glance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// `account` (the caller's tasks and nodes) or `all` (admins).
    pub scope: &'static str,
    pub window_minutes: i64,
    pub generated_at: DateTime<Utc>,
    /// Tasks not ended yet.
    pub live: LiveTasks,
    /// One entry per minute of the window, oldest first, the current minute last.
    pub minutes: Vec<Minute>,
    /// Issue → assignment of the tasks assigned in the window, ms (null without samples).
    pub queue_wait_ms: QueueWait,
    /// Assignments per minute over the window.
    pub dispatch_per_minute: f64,
    pub nodes: NodeCounts,
    /// What the connected nodes offer.
    pub capacity: Capacity,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveTasks {
    pub queued: i64,
    pub assigned: i64,
    pub running: i64,
}

/// Task events in one minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct Minute {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    pub issued: i64,
    pub assigned: i64,
    pub succeeded: i64,
    /// Failed or timed out.
    pub failed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueWait {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub samples: i64,
}

/// Nodes by state: `connected` = `busy` + `idle`; `stale` holds a session but has not been
/// heard from within three heartbeats; `offline` said goodbye; `disabled` was deleted.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct NodeCounts {
    pub total: i64,
    pub connected: i64,
    pub busy: i64,
    pub idle: i64,
    pub stale: i64,
    pub offline: i64,
    pub disabled: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub cpus: i64,
    pub memory_mb: i64,
    /// Tasks the connected nodes run at once at most.
    pub slots: i64,
    pub running_tasks: i64,
}

pub(super) fn count_nodes(states: &[NodeState]) -> (NodeCounts, Capacity) {
    let mut counts = NodeCounts::default();
    let mut capacity = Capacity::default();
    for node in states {
        counts.total += 1;
        if node.disabled {
            counts.disabled += 1;
        } else if node.has_session && node.fresh {
            counts.connected += 1;
            if node.running_tasks > 0 {
                counts.busy += 1;
            } else {
                counts.idle += 1;
            }
            let offered = |field: &str| {
                node.resources
                    .as_ref()
                    .and_then(|resources| resources.get(field))
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0)
            };
            capacity.cpus += offered("cpus");
            capacity.memory_mb += offered("memoryMb");
            capacity.slots += offered("maxConcurrency");
            capacity.running_tasks += node.running_tasks;
        } else if node.has_session {
            counts.stale += 1;
        } else {
            counts.offline += 1;
        }
    }
    (counts, capacity)
}

/// Every minute of the window, zeros where nothing happened.
fn fill_minutes(
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    rows: Vec<db::stats::MinuteRow>,
) -> Vec<Minute> {
    let by_minute: std::collections::HashMap<_, _> =
        rows.into_iter().map(|row| (row.minute, row)).collect();
    let mut minutes = Vec::new();
    let mut at = start;
    while at <= now {
        let row = by_minute.get(&at);
        minutes.push(Minute {
            minute: at,
            issued: row.map_or(0, |r| r.issued),
            assigned: row.map_or(0, |r| r.assigned),
            succeeded: row.map_or(0, |r| r.succeeded),
            failed: row.map_or(0, |r| r.failed),
        });
        at += TimeDelta::minutes(1);
    }
    minutes
}

/// Tasks per minute, queue wait, dispatch rate, nodes and capacity, over the last `minutes`.
#[utoipa::path(tag = "stats", security(("bearer" = [])), params(WindowQuery),
    responses((status = 200, body = Overview), (status = 400, body = crate::error::Problem),
              (status = 401, description = "NEEDS_LOGIN")))]
#[get("/stats/overview")]
pub async fn overview(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<WindowQuery>,
) -> ApiResult<HttpResponse> {
    let minutes = window(&query)?;
    let now = Utc::now();
    let this_minute = now
        .duration_trunc(TimeDelta::minutes(1))
        .map_err(|error| anyhow::anyhow!("while truncating the time: {error}"))?;
    let start = this_minute - TimeDelta::minutes(minutes - 1);
    let first_id = first_id_at(start - TimeDelta::minutes(LATE_FINISH_SLACK_MIN));
    let account = scope(&user);
    let mut conn = state.pool.acquire().await?;
    let rows = db::stats::minutes(&mut conn, account, first_id, start).await?;
    let wait = db::stats::queue_wait(&mut conn, account, first_id, start).await?;
    let live = db::stats::live_tasks(&mut conn, account).await?;
    let states =
        db::stats::node_states(&mut conn, account, state.dispatch.connected_window_s()).await?;
    drop(conn);
    let minutes_list = fill_minutes(start, now, rows);
    let assigned: i64 = minutes_list.iter().map(|m| m.assigned).sum();
    let (nodes, capacity) = count_nodes(&states);
    Ok(HttpResponse::Ok().json(Overview {
        scope: if account.is_some() { "account" } else { "all" },
        window_minutes: minutes,
        generated_at: now,
        live: LiveTasks {
            queued: live.queued,
            assigned: live.assigned,
            running: live.running,
        },
        dispatch_per_minute: assigned as f64 / minutes as f64,
        minutes: minutes_list,
        queue_wait_ms: QueueWait {
            p50: wait.p50,
            p95: wait.p95,
            samples: wait.samples,
        },
        nodes,
        capacity,
    }))
}

/// Tasks a node ended in the window.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeOutcome {
    pub hash: String,
    pub succeeded: i64,
    /// Failed or timed out.
    pub failed: i64,
    /// `failed / (succeeded + failed)`.
    pub failure_rate: f64,
}

/// Recent outcomes per node (the caller's nodes; admins: all), whoever's tasks they ran.
/// Nodes that ended no task in the window are not listed.
#[utoipa::path(tag = "stats", security(("bearer" = [])), params(WindowQuery),
    responses((status = 200, body = [NodeOutcome]), (status = 400, body = crate::error::Problem)))]
#[get("/stats/nodes")]
pub async fn node_outcomes(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<WindowQuery>,
) -> ApiResult<HttpResponse> {
    let minutes = window(&query)?;
    let first_id = first_id_at(Utc::now() - TimeDelta::minutes(minutes));
    let mut conn = state.pool.acquire().await?;
    let rows = db::stats::node_outcomes(&mut conn, scope(&user), first_id).await?;
    let list: Vec<NodeOutcome> = rows
        .into_iter()
        .map(|row| NodeOutcome {
            hash: canopy_shared::format_id(row.node_id),
            succeeded: row.succeeded,
            failed: row.failed,
            failure_rate: row.failed as f64 / (row.succeeded + row.failed).max(1) as f64,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}
